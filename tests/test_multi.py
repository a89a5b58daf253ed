"""`align dpo` under several processes (issue 9), on the CPU: real two-process runs through
`accelerate launch` (gloo), one writer, all processes stopping when one fails, resume; the
ready-made accelerate configs; the cloud job script's metadata and --help; Unsloth refused."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from align.train import distributed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCELERATE_CONFIGS = REPO_ROOT / "scripts" / "accelerate"
JOB_SCRIPT = REPO_ROOT / "scripts" / "hf_job_dpo.py"
# A hung run would otherwise hang the suite; a healthy two-process run takes well under this.
LAUNCH_TIMEOUT = 300
# The reference regex of PEP 723 (https://peps.python.org/pep-0723/#reference-implementation).
PEP723_REGEX = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(
    cwd: Path, *args: str, env: dict | None = None
) -> tuple[subprocess.CompletedProcess, float]:
    """`accelerate launch --config_file cpu-2proc.yaml -m align.cli dpo ARGS` in ``cwd``:
    (result, seconds)."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ACCELERATE_CONFIGS / "cpu-2proc.yaml"),
        "--main_process_port", str(free_port()),
        "-m", "align.cli", "dpo", *args,
    ]  # fmt: skip
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TQDM_DISABLE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": str(REPO_ROOT),
        **(env or {}),
    }
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
        check=False,
    )
    return done, time.monotonic() - started


def dpo_args(tiny_base, sft_adapter, tiny_pairs, out: Path, *extra: str) -> list[str]:
    """The tiny_dpo_config fixture's settings as `align dpo` flags."""
    return [
        "--base-model", str(tiny_base), "--adapter", str(sft_adapter),
        "--pairs", str(tiny_pairs), "--output-dir", str(out),
        "--batch-size", "1", "--grad-accum", "1", "--max-length", "768",
        "--report-to", "none", "--logging-steps", "1", "--optim", "adamw_torch",
        "--eval-steps", "100", "--max-eval-pairs", "2", "--fast-path", "off",
        *extra,
    ]  # fmt: skip


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --- real two-process runs ----------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_write_one_run_folder_that_loads(
    tiny_base, sft_adapter, tiny_pairs, tmp_path
):
    out = tmp_path / "dpo"
    args = dpo_args(tiny_base, sft_adapter, tiny_pairs, out, "--max-steps", "2")
    done, _ = launch(tmp_path, *args, "--save-steps", "1", "--precompute-ref-log-probs")
    assert done.returncode == 0, done.stderr[-4000:]
    # Exactly one run folder, nothing partial or left over beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dpo"]
    files = files_under(out)
    assert files.count("manifest.json") == 1 and "metrics.json" in files
    assert "adapter_model.safetensors" in files and "adapter_config.json" in files
    assert not [f for f in files if f.startswith(("checkpoint-", "ref/")) or ".tmp" in f]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["global_step"] == 2
    metrics = json.loads((out / "metrics.json").read_text())["final"]
    # The reference log-probs were precomputed on two shards and put back in order: before the
    # first update the policy still equals the reference on every eval pair.
    assert metrics["reference_check"]["reference_is_sft_policy"] is True
    assert metrics["speed"]["precompute_ref_log_probs"] is True

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), out)
    assert list(model.peft_config) == ["default"]


@pytest.mark.slow
def test_a_rank_failing_at_start_stops_every_rank_and_leaves_nothing(
    tiny_base, sft_adapter, tiny_pairs, tmp_path
):
    out = tmp_path / "dpo"
    args = dpo_args(tiny_base, sft_adapter, tiny_pairs, out, "--max-steps", "2")
    done, seconds = launch(tmp_path, *args, env={distributed.FAIL_RANK_ENV: "1"})
    assert done.returncode != 0
    assert "injected failure on rank 1" in done.stderr
    # Rank 0 did not wait for rank 1: it stopped at the same check, naming it.
    assert "process 1 failed while starting" in done.stderr
    assert seconds < 120
    assert not out.exists() and not (tmp_path / "dpo.partial").exists()


@pytest.mark.slow
def test_a_rank_failing_mid_training_stops_all_and_the_run_resumes(
    tiny_base, sft_adapter, tiny_pairs, tmp_path
):
    """Rank 1 dies as step 4 begins: the launcher stops rank 0 (blocked in the gradient
    all-reduce), nothing reaches the final path, and --resume continues from checkpoint-2 with
    the fast path's reference cache written once, by the main process."""
    out, cache = tmp_path / "dpo", tmp_path / "ref-cache"
    args = dpo_args(tiny_base, sft_adapter, tiny_pairs, out, "--max-steps", "4")
    args += ["--save-steps", "2", "--fast-path", "on", "--ref-cache-dir", str(cache)]
    env = {distributed.FAIL_RANK_ENV: "1", distributed.FAIL_STEP_ENV: "4"}
    done, _ = launch(tmp_path, *args, env=env)
    assert done.returncode != 0
    assert "injected failure on rank 1 at step 4" in done.stderr
    assert not out.exists()
    partial = tmp_path / "dpo.partial"
    assert (partial / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (partial / "manifest.json").exists()
    # One cache entry per dataset (train + one per eval perturbation), no temporary files.
    assert sorted(p.suffix for p in cache.iterdir()) == [".json"] * 3

    done, _ = launch(tmp_path, *args, "--resume")
    assert done.returncode == 0, done.stderr[-4000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dpo", "ref-cache"]
    assert json.loads((out / "manifest.json").read_text())["global_step"] == 4
    history = json.loads((out / "metrics.json").read_text())["log_history"]
    assert max(entry.get("step", 0) for entry in history) == 4
    assert len(list(cache.iterdir())) == 3


# --- failing together, without a model ----------------------------------------------------------


def _check_all_worker(rank: int, port: int, results) -> None:
    import torch.distributed as dist

    os.environ.update(RANK=str(rank), WORLD_SIZE="2")
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
        timeout=distributed.TIMEOUT,
    )  # fmt: skip
    try:
        error = ValueError("disk full") if rank == 1 else None
        distributed.check_all(error, "writing")
        results.put((rank, "passed"))
    except Exception as caught:
        results.put((rank, f"{type(caught).__name__}: {caught}"))
    finally:
        dist.destroy_process_group()


def test_check_all_stops_the_healthy_process_with_the_failed_ones_error():
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    results = context.Queue()
    port = free_port()
    workers = [
        context.Process(target=_check_all_worker, args=(rank, port, results)) for rank in (0, 1)
    ]
    for worker in workers:
        worker.start()
    outcome = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert outcome[1] == "ValueError: disk full"
    assert outcome[0].startswith("RunError: process 1 failed while writing")
    assert "disk full" in outcome[0]


def test_one_process_is_main_and_checks_alone(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.is_main() and not distributed.several()
    distributed.check_all(None, "nothing")
    assert distributed.gather([1, 2]) == [1, 2] and distributed.main_value("x") == "x"
    with pytest.raises(KeyError):
        distributed.check_all(KeyError("own"), "something")


# --- Unsloth ------------------------------------------------------------------------------------


def test_unsloth_under_several_processes_is_refused_and_auto_picks_transformers(monkeypatch):
    from align.train.loading import LoadError, resolve_backend

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(LoadError, match="--backend unsloth: not supported under several"):
        resolve_backend("unsloth")
    assert resolve_backend("auto") == "transformers"


def test_align_dpo_unsloth_under_a_launcher_exits_2_with_the_message(run_align, tmp_path):
    env_keys = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)  # run_align passes the environment on
    try:
        result = run_align("dpo", "--adapter", str(tmp_path), "--backend", "unsloth")
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    assert result.returncode == 2
    assert "not supported under several processes" in result.stderr
    assert not list(tmp_path.glob("checkpoints*"))


# --- the accelerate configs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"), [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("cpu-2proc", "MULTI_GPU")]
)
def test_accelerate_configs_load_with_accelerates_own_reader(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ACCELERATE_CONFIGS / f"{name}.yaml"))
    assert config.distributed_type.value == kind
    assert config.num_processes == 2 and config.num_machines == 1
    if name == "fsdp":
        fsdp = config.fsdp_config
        assert fsdp["fsdp_use_orig_params"] is True  # PEFT: frozen base + trainable LoRA
        assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
        assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == "Lfm2DecoderLayer"
        import transformers

        assert hasattr(transformers.models.lfm2.modeling_lfm2, "Lfm2DecoderLayer")


def test_under_fsdp_fast_lora_is_off_and_what_cannot_run_is_refused(monkeypatch):
    """align's LoRA forward reads the LoRA weights outside their layers' forward, where FSDP
    leaves them sharded: auto turns it off, on is refused; bitsandbytes' 8-bit optimizer
    state cannot be gathered for a checkpoint (a GPU run failed at its save): refused. Each
    refusal names the flag and what to use. Without FSDP nothing changes."""
    from types import SimpleNamespace

    from align.train import distributed, fast_dpo
    from align.train.config import ConfigError
    from align.train.dpo import check_sharding

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert distributed.sharded()
    auto = SimpleNamespace(fast_lora="auto")
    assert fast_dpo.fast_lora_enabled(auto, "transformers", True, distributed.sharded()) is False
    check_sharding(SimpleNamespace(optim="adamw_torch", fast_lora="auto", load_in_4bit=False))
    with pytest.raises(ConfigError, match=r"--optim adamw_8bit: .*use --optim adamw_torch"):
        check_sharding(SimpleNamespace(optim="adamw_8bit", fast_lora="auto"))
    with pytest.raises(ConfigError, match=r"--optim paged_adamw_8bit"):
        check_sharding(SimpleNamespace(optim="paged_adamw_8bit", fast_lora="off"))
    with pytest.raises(ConfigError, match=r"--fast-lora on: .*FSDP"):
        check_sharding(SimpleNamespace(optim="adamw_torch", fast_lora="on"))
    with pytest.raises(ConfigError, match=r"--load-in-4bit: .*FSDP"):
        check_sharding(SimpleNamespace(optim="adamw_torch", fast_lora="auto", load_in_4bit=True))
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "false")
    assert not distributed.sharded()
    assert fast_dpo.fast_lora_enabled(auto, "transformers", True, distributed.sharded()) is True
    check_sharding(SimpleNamespace(optim="adamw_8bit", fast_lora="on", load_in_4bit=True))


def fsdp_units(model, policy) -> list[list]:
    """The parameters each FSDP unit would flatten, as FSDP's auto wrap decides them: a module
    the policy picks (children first) takes every parameter under it that no unit below took;
    the root takes the rest."""
    taken: set[int] = set()
    units = []

    def visit(module):
        for child in module.children():
            visit(child)
        free = [p for p in module.parameters() if id(p) not in taken]
        numel = sum(p.numel() for p in free)
        if free and policy(module=module, recurse=False, nonwrapped_numel=numel):
            units.append(free)
            taken.update(id(p) for p in free)

    visit(model)
    rest = [p for p in model.parameters() if id(p) not in taken]
    return units + ([rest] if rest else [])


def test_under_fsdp_every_unit_flattens_weights_of_one_dtype(tiny_base, sft_adapter, monkeypatch):
    """The GPU run that found it (2026-11-29): FSDP refuses a unit with bfloat16 base weights
    and PEFT's float32 LoRA matrices ("Must flatten tensors with uniform dtype").
    wrap_for_training gives each such LoRA leaf (the trainable adapter and TRL's frozen
    "ref" copy) a unit of its own, the decoder layers theirs, and wraps the model before the
    Trainer's first evaluation, as the Trainer's FSDP convention has it (model = wrapped)."""
    from types import SimpleNamespace

    import torch
    from accelerate.utils import FullyShardedDataParallelPlugin
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

    from align.train.dpo import wrap_for_training
    from align.train.loading import load_adapter, load_base

    monkeypatch.setenv("WORLD_SIZE", "2")
    model, _ = load_base(str(tiny_base), dtype="bfloat16")
    model = load_adapter(model, str(sft_adapter), trainable=True)
    model.add_adapter("ref", model.peft_config["default"])  # as TRL does
    lora = {n: p.dtype for n, p in model.named_parameters() if "lora_" in n}
    assert set(lora.values()) == {torch.float32} and any(".ref." in n for n in lora)
    # accelerate's plugin as fsdp.yaml configures it (TRANSFORMER_BASED_WRAP, the LFM2 layer)
    plugin = SimpleNamespace(
        auto_wrap_policy=transformer_auto_wrap_policy,
        transformer_cls_names_to_wrap=["Lfm2DecoderLayer"],
    )
    plugin.set_auto_wrap_policy = functools.partial(
        FullyShardedDataParallelPlugin.set_auto_wrap_policy, plugin
    )
    wrapped = SimpleNamespace(name="the FSDP model")
    prepared = []
    accelerator = SimpleNamespace(
        state=SimpleNamespace(fsdp_plugin=plugin), prepare=lambda m: prepared.append(m) or wrapped
    )
    trainer = SimpleNamespace(is_fsdp_enabled=True, model=model, accelerator=accelerator)
    wrap_for_training(trainer)
    assert prepared == [model] and trainer.model is trainer.model_wrapped is wrapped
    units = fsdp_units(model, plugin.auto_wrap_policy)
    assert all(len({p.dtype for p in unit}) == 1 for unit in units)
    layers = [m for m in model.modules() if type(m).__name__ == "Lfm2DecoderLayer"]
    assert len(units) > len(layers) + len(lora)  # every LoRA matrix and layer, and the root
    # The config's policy alone mixes them in the decoder layers' units: what the GPU run hit.
    alone = functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={type(layers[0])})
    assert any(len({p.dtype for p in unit}) > 1 for unit in fsdp_units(model, alone))

    # FSDP 2 flattens nothing (and prepares the model with its optimizer): left to the Trainer
    fsdp2 = SimpleNamespace(state=SimpleNamespace(fsdp_plugin=SimpleNamespace(fsdp_version=2)))
    untouched = SimpleNamespace(is_fsdp_enabled=True, model=model, accelerator=fsdp2)
    wrap_for_training(untouched)
    assert not hasattr(untouched, "model_wrapped")


def test_under_ddp_the_model_is_wrapped_before_the_first_evaluation(monkeypatch):
    """DDP: the wrapper is made before the reference check's evaluation, kept beside the bare
    model (the Trainer's convention); one process: nothing is touched."""
    from types import SimpleNamespace

    from align.train.dpo import wrap_for_training

    bare, ddp = object(), object()
    accelerator = SimpleNamespace(prepare=lambda m: ddp if m is bare else None)
    trainer = SimpleNamespace(is_fsdp_enabled=False, model=bare, accelerator=accelerator)
    monkeypatch.setenv("WORLD_SIZE", "1")
    wrap_for_training(trainer)
    assert not hasattr(trainer, "model_wrapped")
    monkeypatch.setenv("WORLD_SIZE", "2")
    wrap_for_training(trainer)
    assert trainer.model is bare and trainer.model_wrapped is ddp


@pytest.mark.slow
def test_two_processes_train_as_one_on_the_same_global_batch(
    tiny_base, sft_adapter, tiny_pairs, tmp_path, run_align
):
    """Data parallelism is only data parallelism if the gradients are averaged: two processes
    at 1 pair each must log the same losses and gradient norms, step by step, as one process
    at 2 pairs (both draw the same pairs per step: accelerate's seeded sampler, sharded).
    Before wrap_for_training, the reference check's evaluation left the model without its
    DDP wrapper, and each process stepped on its own gradient (step 1's norm was that of
    one pair: 17.0 against 10.6)."""
    args = ("--max-steps", "3", "--max-eval-pairs", "2")
    one = tmp_path / "one"
    single = dpo_args(tiny_base, sft_adapter, tiny_pairs, one, *args)
    single[single.index("--batch-size") + 1] = "2"
    result = run_align("dpo", *single)
    assert result.returncode == 0, result.stderr[-4000:]
    two = tmp_path / "two"
    done, _ = launch(tmp_path, *dpo_args(tiny_base, sft_adapter, tiny_pairs, two, *args))
    assert done.returncode == 0, done.stderr[-4000:]

    def steps(folder):
        history = json.loads((folder / "metrics.json").read_text())["log_history"]
        return [v for e in history if "grad_norm" in e for v in (e["loss"], e["grad_norm"])]

    alone, together = steps(one), steps(two)  # loss and gradient norm of each step
    assert len(alone) == len(together) == 6
    assert together == pytest.approx(alone, rel=1e-3), (alone, together)


# --- the cloud job script -----------------------------------------------------------------------


def job_metadata() -> dict:
    import tomllib

    text = JOB_SCRIPT.read_text(encoding="utf-8")
    blocks = [m for m in re.finditer(PEP723_REGEX, text) if m.group("type") == "script"]
    assert len(blocks) == 1, "exactly one `# /// script` block"
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    return tomllib.loads(content)


def test_job_script_metadata_parses_and_installs_this_project():
    metadata = job_metadata()
    assert metadata["requires-python"]
    align = [d for d in metadata["dependencies"] if re.match(r"align(\[|$)", d)]
    assert align == ["align[train]"], metadata["dependencies"]
    # uv resolves a script's relative source path from the script's folder: this checkout.
    source = metadata["tool"]["uv"]["sources"]["align"]
    root = (JOB_SCRIPT.parent / source["path"]).resolve()
    assert root == REPO_ROOT
    import tomllib

    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["name"] == "align"


def test_job_script_runs_align_dpo_from_this_checkout_and_its_help_works():
    done = subprocess.run(
        [sys.executable, str(JOB_SCRIPT), "--help"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--publish-repo-id" in done.stdout and "--adapter" in done.stdout
    assert "--beta" in done.stdout  # align dpo's own options
    done = subprocess.run(
        [sys.executable, str(JOB_SCRIPT), "--where"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == REPO_ROOT / "align"
