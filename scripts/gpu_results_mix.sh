#!/usr/bin/env bash
# Issue 8, replicate and pair-mix check (docs/RESULTS.md): a second base pretrained 150 steps
# (whose SFT model calls most YELLOW children RED) through scripts/gpu_results.sh, plus DPO from
# the same SFT adapter on pairs rebuilt with `align pairs --under-share` (default 2/3). At the
# default count of 3 wrong-color variants per record every other colour is already used, so
# these pairs are byte-identical to the default ones: the runs measure DPO + eval determinism.
# One device call:
#   device run, carry [".whl/all"]:  bash scripts/gpu_results_mix.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/results-out}
STEPS=${STEPS:-150}
SHARES=${SHARES:-"0.33 0"}
RUN=runs/mix/steps-$STEPS
source scripts/gpu_env.sh
mkdir -p "$OUT"
# The main tarball leaves out this script's extra runs (they travel in mix-extra.tar.gz).
RUN=$RUN TAR=mix-steps-$STEPS.tar.gz BASE_PARTS=0 TAR_EXCLUDE='*-under-*' \
  BASE_ARGS="--steps $STEPS --warmup-steps $((STEPS / 10)) ${MIX_BASE_ARGS:-}" \
  bash scripts/gpu_results.sh >"$OUT/mix-steps-$STEPS.log" 2>&1 &
main=$!
until [ -f "$RUN/sft/manifest.json" ] || ! kill -0 $main 2>/dev/null; do sleep 2; done
[ -f "$RUN/sft/manifest.json" ] || { tail -n 20 "$OUT/mix-steps-$STEPS.log"; exit 1; }
pids=()
for share in $SHARES; do
  (
    set -e
    name=dpo-under-$share
    $PY -m align.cli pairs --under-share "$share" --out "$RUN/pairs-under-$share" --overwrite
    $PY -m align.cli dpo --config configs/results-dpo.toml --base-model "$RUN/base" \
      --adapter "$RUN/sft" --pairs "$RUN/pairs-under-$share" --ref-cache-dir "$RUN/ref-logps" \
      --output-dir "$RUN/$name" ${TRAIN_ARGS:-} ${DPO_ARGS:-}
    until [ -f "$RUN/eval/sft/report.json" ]; do kill -0 $main 2>/dev/null || exit 1; sleep 2; done
    $PY -m align.cli eval --base-model "$RUN/base" --adapter "$RUN/$name" --dtype float32 \
      --heldout-draws 4 --max-new-tokens 512 ${EVAL_ARGS:---batch-size 128} \
      --baseline "$RUN/eval/sft/report.json" --out "$RUN/eval/$name"
  ) >"$RUN/logs/dpo-under-$share.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
wait $main || status=1
tar czf "$OUT/mix-extra.tar.gz" --exclude='checkpoint-*' --exclude='*.partial' \
  "$RUN"/dpo-under-* "$RUN"/eval/dpo-under-* "$RUN"/logs/dpo-under-*
tail -n 3 "$OUT/mix-steps-$STEPS.log" "$RUN"/logs/dpo-under-*.log
exit $status
