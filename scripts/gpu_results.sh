#!/usr/bin/env bash
# Issue 8, the GPU half (docs/RESULTS.md): pretrain the small LFM2 from scratch, then `align sft`,
# `align dpo` (full mix, and the ablation on the three required perturbations) and `align eval`
# of the SFT adapter and both DPO adapters, all in one device call of about 7 minutes:
#   device run, carry [".whl/all"] (scripts/gpu_pack_wheels.sh):  bash scripts/gpu_results.sh
# Everything lands in runs/results/; $OUT gets the bf16 base in 15 MiB parts plus one tarball
# (adapters, reports, logs, losses), refreshed after every stage, so a call cut short still
# returns what finished. scripts/results_local.sh does the CPU half (GGUF export and eval).
# Knobs: RUN (run folder), BASE_PARTS=0 (keep the base weights out of $OUT), TAR (tarball
# name); for a quick CPU rehearsal (docs/RESULTS.md "Reproduce"): DEVICE, BASE_ARGS,
# TRAIN_ARGS, DPO_ARGS, EVAL_ARGS, PY. scripts/gpu_results_sweep.sh runs it for weaker bases.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/results-out}
RUN=${RUN:-runs/results}
BASE_PARTS=${BASE_PARTS:-1}
TAR=${TAR:-results.tar.gz}
DEVICE=${DEVICE:-cuda}
DRAWS=${DRAWS:-4}
BASE_ARGS=${BASE_ARGS:-}
TRAIN_ARGS=${TRAIN_ARGS:-}
DPO_ARGS=${DPO_ARGS:-}
EVAL_ARGS=${EVAL_ARGS:-"--batch-size 128"}
REQUIRED=wrong_triage_color,missing_do_not,wrong_vital_range
source scripts/gpu_env.sh
ALIGN="$PY -m align.cli"
rm -rf "$RUN" && mkdir -p "$RUN/logs" "$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
pack() {  # everything small: adapters, reports, logs, losses (not the base weights)
  tar czf "$OUT/$TAR.tmp" --exclude='checkpoint-*' --exclude='*.partial' \
    --exclude='base/model.safetensors' --exclude='ref-logps' --exclude="${TAR_EXCLUDE:-/}" "$RUN"
  mv "$OUT/$TAR.tmp" "$OUT/$TAR"
}
eval_run() {  # name, then align eval options
  local name=$1; shift
  $ALIGN eval --base-model "$RUN/base" --dtype float32 --heldout-draws "$DRAWS" \
    --max-new-tokens 512 $EVAL_ARGS --out "$RUN/eval/$name" "$@" >"$RUN/logs/eval-$name.log" 2>&1
}

stamp "1/4 pretrain the base"
$PY -m align.train.small_base --out "$RUN/base" --device "$DEVICE" --heldout-draws "$DRAWS" \
  $BASE_ARGS 2>&1 | tee "$RUN/logs/base.log"
[ "$BASE_PARTS" = 1 ] && split -b 15M -d "$RUN/base/model.safetensors" "$OUT/base.safetensors.part-"
pack

stamp "2/4 align sft"
$ALIGN sft --config configs/results-sft.toml --base-model "$RUN/base" --output-dir "$RUN/sft" \
  $TRAIN_ARGS 2>&1 | tee "$RUN/logs/sft.log"
pack

stamp "3/4 align dpo (full mix, required three) and align eval of the SFT adapter, side by side"
DPO="$ALIGN dpo --config configs/results-dpo.toml --base-model $RUN/base --adapter $RUN/sft"
DPO="$DPO --ref-cache-dir $RUN/ref-logps $TRAIN_ARGS $DPO_ARGS"
$DPO --output-dir "$RUN/dpo" >"$RUN/logs/dpo.log" 2>&1 &
full=$!
$DPO --perturbations "$REQUIRED" --output-dir "$RUN/dpo-required" \
  >"$RUN/logs/dpo-required.log" 2>&1 &
required=$!
eval_run sft --adapter "$RUN/sft" &
sft_eval=$!
status=0
for job in $full $required $sft_eval; do wait "$job" || status=1; done
pack
tail -n 3 "$RUN"/logs/dpo*.log "$RUN/logs/eval-sft.log"
[ $status -eq 0 ] || { stamp "a stage-3 job failed (logs in the tarball)"; exit 1; }

stamp "4/4 align eval of both DPO adapters (SFT report as baseline), side by side"
eval_run dpo --adapter "$RUN/dpo" --baseline "$RUN/eval/sft/report.json" &
a=$!
eval_run dpo-required --adapter "$RUN/dpo-required" --baseline "$RUN/eval/sft/report.json" &
b=$!
wait $a || status=1
wait $b || status=1
pack
tail -n 3 "$RUN"/logs/eval-dpo*.log
stamp "done (status $status)"
exit $status
