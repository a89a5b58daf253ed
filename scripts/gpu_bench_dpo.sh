#!/usr/bin/env bash
# DPO speed benchmark on the GPU machine (issue 7), from the project root, with the wheels of
# shared/gpu/fetch-wheels.sh repacked into .whl/all (bitsandbytes without its other CUDA builds,
# unsloth without its studio front end: trl + datasets + bitsandbytes + unsloth fit one call):
#   device run, carry [".whl/all"]:  bash scripts/gpu_bench_dpo.sh [bench_dpo.py options]
set -uo pipefail
OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
GPU_CHECK="trl, unsloth_zoo, bitsandbytes" source scripts/gpu_env.sh
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
python3 scripts/bench_dpo.py --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.log"
