#!/usr/bin/env bash
# Issue 8, pretraining-budget sweep (docs/RESULTS.md): scripts/gpu_results.sh for bases
# pretrained 60, 150 and 400 steps (10% warmup) instead of 1,500, side by side on one GPU, so
# DPO is also measured where the SFT model still makes the errors it targets. One device call:
#   device run, carry [".whl/all"]:  bash scripts/gpu_results_sweep.sh
# $OUT gets one tarball per budget (adapters, reports, logs; no base weights).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/results-out}
STEPS=${STEPS:-"60 150 400"}
source scripts/gpu_env.sh
mkdir -p "$OUT"
pids=()
for steps in $STEPS; do
  RUN=runs/sweep/steps-$steps TAR=sweep-steps-$steps.tar.gz BASE_PARTS=0 \
    BASE_ARGS="--steps $steps --warmup-steps $((steps / 10)) ${SWEEP_BASE_ARGS:-}" \
    bash scripts/gpu_results.sh >"$OUT/sweep-steps-$steps.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
tail -n 4 "$OUT"/sweep-steps-*.log
exit $status
