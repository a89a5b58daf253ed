#!/usr/bin/env bash
# Issue 8, the CPU half (docs/RESULTS.md), on the dev machine after scripts/gpu_results.sh:
#   bash scripts/results_local.sh /work/.device/N      # the folder the device call's files came to
# Unpacks the tarball(s), rebuilds the base weights from their 15 MiB parts, merges the DPO
# adapter and exports GGUF Q4_K_M (verified against the HF model), evaluates the merged model
# (transformers, float32) and the Q4_K_M file (llama.cpp) on the same 370 cases with the same
# greedy decoding as the GPU evals, and writes the tables and curves (scripts/results_report.py).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:?usage: results_local.sh FOLDER_WITH_THE_DEVICE_FILES}
ALIGN=.venv/bin/align
RUN=runs/results
for tarball in "$FILES"/*.tar.gz; do tar xzf "$tarball"; done
cat "$FILES"/base.safetensors.part-* >"$RUN/base/model.safetensors"
export TQDM_DISABLE=1 TOKENIZERS_PARALLELISM=false
$ALIGN export --adapter "$RUN/dpo" --base-model "$RUN/base" --quants Q4_K_M --overwrite \
  --output-dir "$RUN/export" --name small-lfm2-dpo --max-new-tokens 512
$ALIGN eval --base-model "$RUN/export/merged" --dtype float32 --heldout-draws 4 \
  --max-new-tokens 512 --batch-size 16 --baseline "$RUN/eval/dpo/report.json" \
  --out "$RUN/eval/merged-cpu"
$ALIGN eval --gguf "$RUN/export/small-lfm2-dpo-Q4_K_M.gguf" --heldout-draws 4 \
  --max-new-tokens 512 --baseline "$RUN/eval/merged-cpu/report.json" --out "$RUN/eval/q4km"
.venv/bin/python scripts/results_report.py
