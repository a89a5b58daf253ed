#!/usr/bin/env bash
# Issue 9: `align dpo` on one GPU against two (DDP, and FSDP), on the 2x H200 machine, from the
# project root, with the wheels of shared/gpu/fetch-wheels.sh repacked into .whl/all (as for
# scripts/gpu_bench_dpo.sh):
#   device run, kind nvidia-h200-x2, carry [".whl/all"]:  bash scripts/gpu_multi_bench.sh
# Writes $OUT/scaling.md (the table for docs/BENCHMARKS.md), $OUT/loss-curve.png and the runs'
# metrics. Model: the LFM2-1.2B shape with random weights and a random LoRA SFT adapter, pairs
# of realistic lengths (scripts/bench_dpo.py builds them).
#   Scaling: the same per-GPU batch (BATCH) on 1 GPU, then 2 GPUs (DDP, FSDP): tokens/s.
#   Loss curve: the same global batch (2 x BATCH) and seed, STEPS steps, 1 GPU against 2 GPUs
#   (DDP), the fast path (and its length grouping) off, so both draw the same pairs per step
#   (accelerate's seeded sampler, sharded; tests/test_multi.py checks it on the CPU).
# Environment: STEPS (50), BATCH (8 pairs per GPU), OUT, WORK, RUNS (the runs to make, default
# all: "one-gpu ddp fsdp loss-one-gpu loss-ddp").
set -uo pipefail
OUT=${OUT:-/tmp/multi-out}
WORK=${WORK:-/tmp/align-multi}
STEPS=${STEPS:-50}
BATCH=${BATCH:-8}
RUNS=" ${RUNS:-one-gpu ddp fsdp loss-one-gpu loss-ddp} "
mkdir -p "$OUT" "$WORK"
export NCCL_NVLS_ENABLE=0
GPU_CHECK="trl, bitsandbytes" source scripts/gpu_env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
nvidia-smi topo -m

python3 - "$WORK" <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, "scripts")
import bench_dpo as b

work = Path(sys.argv[1])
if not (work / "base" / "config.json").is_file():
    b.build_base(work / "base")
    b.build_adapter(work / "base", work / "sft")
    b.write_pairs(work / "pairs", b.realistic_lengths(), seed=0)
EOF

COMMON=(--base-model "$WORK/base" --adapter "$WORK/sft" --pairs "$WORK/pairs"
        --backend transformers --max-steps "$STEPS" --grad-accum 1 --seed 3407
        --logging-steps 1 --save-steps 100000 --eval-steps 100000 --max-eval-pairs 8
        --report-to none --overwrite --ref-cache-dir "$WORK/ref-cache")
DDP=(python3 -m accelerate.commands.launch --config_file scripts/accelerate/ddp.yaml)
FSDP=(python3 -m accelerate.commands.launch --config_file scripts/accelerate/fsdp.yaml)

run() {  # name, command...
  local name=$1; shift
  [[ $RUNS == *" $name "* ]] || return 0
  rm -f "$OUT/$name.log" "$OUT/$name.metrics.json"  # no earlier run's figures in this table
  echo "=== $name: $*"
  "$@" --output-dir "$WORK/$name" > "$OUT/$name.log" 2>&1
  echo "exit $? ($name)"; tail -3 "$OUT/$name.log"
  [ -f "$WORK/$name/metrics.json" ] && cp "$WORK/$name/metrics.json" "$OUT/$name.metrics.json"
}

# Scaling, same per-GPU batch (fast path on, its default on CUDA).
CUDA_VISIBLE_DEVICES=0 run one-gpu python3 -m align.cli dpo "${COMMON[@]}" --batch-size "$BATCH"
run ddp "${DDP[@]}" -m align.cli dpo "${COMMON[@]}" --batch-size "$BATCH"
# (bitsandbytes' 8-bit optimizer state cannot be gathered under FSDP: align refuses it)
run fsdp "${FSDP[@]}" -m align.cli dpo "${COMMON[@]}" --batch-size "$BATCH" --optim adamw_torch
# Loss curve, same global batch and seed, the same pairs in each step.
CUDA_VISIBLE_DEVICES=0 run loss-one-gpu python3 -m align.cli dpo "${COMMON[@]}" \
  --batch-size $((2 * BATCH)) --fast-path off
run loss-ddp "${DDP[@]}" -m align.cli dpo "${COMMON[@]}" --batch-size "$BATCH" --fast-path off

python3 - "$OUT" "$BATCH" <<'EOF'
import json
import sys
from pathlib import Path

out, batch = Path(sys.argv[1]), int(sys.argv[2])


def load(name):
    file = out / f"{name}.metrics.json"
    return json.loads(file.read_text()) if file.is_file() else None


def tokens_per_second(metrics):
    tokens = max(e.get("num_tokens", 0) for e in metrics["log_history"])
    return tokens / metrics["final"]["train_runtime"]


rows = ["| run | GPUs | pairs per GPU | global batch | tokens/s | vs 1 GPU |", "|---|---|---|---|---|---|"]
base = load("one-gpu")
for name, gpus in (("one-gpu", 1), ("ddp", 2), ("fsdp", 2)):
    metrics = load(name)
    if metrics is None:
        what = f"failed (see {name}.log)" if (out / f"{name}.log").is_file() else "not run"
        rows.append(f"| {name} | {gpus} | {batch} | {gpus * batch} | {what} | |")
        continue
    speed = tokens_per_second(metrics)
    ratio = f"{speed / tokens_per_second(base):.2f}x" if base else "-"
    rows.append(f"| {name} | {gpus} | {batch} | {gpus * batch} | {speed:,.0f} | {ratio} |")
(out / "scaling.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))

curves = {}
for name in ("loss-one-gpu", "loss-ddp"):
    metrics = load(name)
    if metrics:
        curves[name] = [(e["step"], e["loss"]) for e in metrics["log_history"] if "loss" in e]
if len(curves) == 2:
    a, b = (dict(c) for c in curves.values())
    steps = sorted(set(a) & set(b))
    gaps = [abs(a[s] - b[s]) for s in steps]
    print(f"loss curves: {len(steps)} common steps, largest |difference| {max(gaps):.4f}, "
          f"mean {sum(gaps) / len(gaps):.4f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in curves.items():
        ax.plot(*zip(*points), label=name.replace("loss-", ""), marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("DPO loss")
    ax.set_title(f"same global batch ({2 * batch} pairs) and seed: 1 GPU vs 2 GPUs (DDP)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss-curve.png", dpi=120)
EOF
