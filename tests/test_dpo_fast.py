"""The fast DPO path (align/train/fast_dpo.py, default on CUDA) computes what the plain path
computes: same loss, metrics and gradients on a batch, per-pair values independent of which
pairs share a batch, a reference-log-prob cache that is hit only for the same data and
weights, and rewards exactly 0 before training. Run on the CPU with the tiny toy LFM2."""

import pytest
import torch

from align.train import fast_dpo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- pure helpers --------------------------------------------------------------------------------


def test_length_grouped_order_is_a_deterministic_permutation_with_full_batches_first():
    lengths = [(i * 37) % 101 + 200 for i in range(203)]
    order = fast_dpo.length_grouped_order(lengths, batch_size=8, seed=3, megabatch=4)
    assert sorted(order) == list(range(203))
    assert order == fast_dpo.length_grouped_order(lengths, batch_size=8, seed=3, megabatch=4)
    assert order != fast_dpo.length_grouped_order(lengths, 8, seed=3, epoch=1, megabatch=4)
    batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    spread = [max(lengths[j] for j in b) - min(lengths[j] for j in b) for b in batches[:-1]]
    assert sum(spread) / len(spread) < 30  # random batches would spread ~90


def test_length_grouped_order_puts_the_largest_batch_first():
    # so memory is sized (and an out-of-memory shows) at step 1, not mid-epoch
    lengths = [(i * 37) % 101 + 200 for i in range(203)]
    for epoch in range(3):
        order = fast_dpo.length_grouped_order(lengths, 8, seed=5, epoch=epoch, megabatch=4)
        batches = [order[i : i + 8] for i in range(0, 200, 8)]
        size = [(max(lengths[j] for j in b), sum(lengths[j] for j in b)) for b in batches]
        assert size[0] == max(size)
        assert size[0][0] == max(lengths)


def test_sub_batch_plan_covers_every_row_once_and_cuts_padding():
    lengths = [450, 300, 310, 460, 120, 125, 305, 455]
    groups = fast_dpo.plan_sub_batches(lengths, max_groups=4, overhead_tokens=64)
    assert sorted(i for g in groups for i in g) == list(range(8))
    assert 1 < len(groups) <= 4
    padded = sum(len(g) * max(lengths[i] for i in g) for g in groups)
    assert padded < len(lengths) * max(lengths) * 0.8
    assert fast_dpo.plan_sub_batches([100] * 6) == [list(range(6))]


def test_grad_accumulation_is_folded_only_for_per_pair_losses():
    assert fast_dpo.folded_batch(2, 4, ["sigmoid"]) == (8, 1)
    assert fast_dpo.folded_batch(2, 4, ["sigmoid", "sft"]) == (2, 4)
    assert fast_dpo.folded_batch(32, 4, ["ipo"]) == (32, 4)


# --- equivalence on the tiny model ---------------------------------------------------------------


def _loss_and_metrics(trainer, rows):
    examples = [trainer.train_dataset[i] for i in rows]
    inputs = trainer._prepare_inputs(trainer.data_collator(examples))
    trainer.model.train()
    trainer.model.zero_grad()
    trainer._metrics["train"].clear()
    loss = trainer.compute_loss(trainer.model, inputs)
    loss.backward()
    grads = {
        name: p.grad.detach().clone()
        for name, p in trainer.model.named_parameters()
        if p.grad is not None
    }
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items() if k != "num_tokens"}
    return loss.item(), metrics, grads


def _assert_same_gradient(grad, expected):
    """Equal up to float32 rounding: the same sums over other rows in another order, which
    near-zero entries show as large relative differences, so the absolute tolerance is scaled
    to the tensor's largest entry (with the prompt run once, the worst entry was 4e-6 of it,
    and 5e-8 with the toy in float64, whose norms still run in float32)."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(grad, expected, rtol=1e-3, atol=1e-5 * scale)


def _fused_forward(forward, batch, labels):
    """The fused-head call TRL's ``_compute_loss`` makes, on a collated batch."""
    return forward(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        labels=labels,
        use_cache=False,
        fused_lm_head=True,
    )


@pytest.fixture(scope="module")
def trainers(tiny_dpo_config, tmp_path_factory):
    from align.train.dpo import build_dpo_trainer

    tmp = tmp_path_factory.mktemp("fast")
    plain_config = tiny_dpo_config(tmp, batch_size=4, fast_path="off")
    # Up to 4 sub-batches (the default is 1), so that the equivalence test covers the split.
    fast_config = tiny_dpo_config(tmp, batch_size=4, fast_path="on", fast_lora="on", sub_batches=4)
    torch.manual_seed(0)
    plain, _, names, _ = build_dpo_trainer(plain_config, tmp / "plain", "transformers")
    fast, _, _, _ = build_dpo_trainer(fast_config, tmp / "fast", "transformers")
    return plain, fast, names, fast_config, tmp


def test_fast_path_settings_on_cpu(trainers):
    plain, fast, _, _, _ = trainers
    assert plain.align_speed["fast_path"] is False
    assert plain.align_speed["precompute_ref_log_probs"] is False
    assert fast.align_speed["fast_path"] is True
    assert fast.align_speed["precompute_ref_log_probs"] is True
    assert fast.align_speed["gradient_checkpointing"] is False  # no GPU: never needed
    assert fast.align_speed["fast_lora"] > 0  # LoRA Linear layers routed through _lora_forward
    assert fast.align_speed["sub_batches"] == fast._sub_batch_forward(fast.model).max_groups == 4
    assert "ref_chosen_logps" in fast.train_dataset.column_names
    # batches padded to the length multiple (16 on CUDA), so shapes repeat across batches
    multiple = fast.align_speed["length_multiple"]
    assert multiple == 8
    batch = fast.data_collator([fast.train_dataset[i] for i in range(3)])
    assert batch["input_ids"].shape[1] % multiple == 0
    assert plain.data_collator.pad_to_multiple_of is None
    assert fast.align_cache_hits == [("train", False)] + [
        (name, False) for name in sorted(fast.eval_dataset)
    ]


@pytest.fixture
def policy_moved_off_the_reference(trainers):
    """The trainable adapter of both trainers moved by the same small step (and put back after),
    so rewards are clearly non-zero: at policy == reference they are 0 up to rounding, and a
    metric like reward accuracy (chosen > rejected) would compare rounding noise."""
    plain, fast, _, _, _ = trainers
    saved = []
    generator = torch.Generator().manual_seed(0)
    for model in (plain.model, fast.model):
        params = {n: p for n, p in model.named_parameters() if ".default." in n}
        saved.append({n: p.detach().clone() for n, p in params.items()})
        generator.manual_seed(0)
        with torch.no_grad():
            for name in sorted(params):
                step = torch.randn(params[name].shape, generator=generator) * 0.02
                params[name].add_(step.to(params[name].dtype))
    yield
    for model, state in zip((plain.model, fast.model), saved, strict=True):
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in state:
                    param.copy_(state[name])


def test_same_loss_metrics_and_gradients_as_the_plain_path(
    trainers, policy_moved_off_the_reference, monkeypatch
):
    plain, fast, _, _, _ = trainers
    rows = [0, 3, 1, 4]  # mixed lengths, so sub-batches and padding differ
    monkeypatch.setattr(fast_dpo, "SUB_BATCH_OVERHEAD_TOKENS", 0)  # split as much as allowed
    loss_p, metrics_p, grads_p = _loss_and_metrics(plain, rows)
    loss_f, metrics_f, grads_f = _loss_and_metrics(fast, rows)
    assert abs(metrics_p["rewards/margins"]) > 1e-3  # the policy is off the reference
    # summed log-probs of about -2,000 on this model move in float32 steps of 2.4e-4, so the
    # same sums in another order (other rows, the prompt run once) differ by a step or two:
    # times beta (0.1), a few 1e-5 in the loss
    assert loss_f == pytest.approx(loss_p, abs=5e-5)
    assert metrics_f.keys() == metrics_p.keys()
    for key in metrics_p:
        assert metrics_f[key] == pytest.approx(metrics_p[key], rel=1e-4, abs=1e-4), key
    trained = [n for n in grads_p if ".default." in n]
    assert trained and set(trained) <= set(grads_f)
    for name in trained:
        _assert_same_gradient(grads_f[name], grads_p[name])


def test_fast_path_is_auto_on_cuda_on_either_backend_and_fast_lora_only_on_transformers():
    from types import SimpleNamespace

    assert fast_dpo.fast_path_enabled(SimpleNamespace(fast_path="on")) is True
    assert fast_dpo.fast_path_enabled(SimpleNamespace(fast_path="off")) is False
    auto = SimpleNamespace(fast_path="auto")
    assert fast_dpo.fast_path_enabled(auto) is torch.cuda.is_available()
    lora = SimpleNamespace(fast_lora="auto")
    assert fast_dpo.fast_lora_enabled(lora, "transformers", fast=True) is True
    assert fast_dpo.fast_lora_enabled(lora, "unsloth", fast=True) is False  # Unsloth's LoRA
    assert fast_dpo.fast_lora_enabled(lora, "transformers", fast=False) is False
    forced = SimpleNamespace(fast_lora="on")
    assert fast_dpo.fast_lora_enabled(forced, "unsloth", fast=True) is True
    assert (
        fast_dpo.fast_lora_enabled(SimpleNamespace(fast_lora="off"), "transformers", True) is False
    )
    flash = SimpleNamespace(flash_attention="auto")
    default = fast_dpo.FLASH_ATTENTION_BY_DEFAULT
    assert fast_dpo.flash_attention_enabled(flash, fast=True, cuda=True) is default
    assert fast_dpo.flash_attention_enabled(flash, fast=True, cuda=False) is False
    flash_on = SimpleNamespace(flash_attention="on")
    assert fast_dpo.flash_attention_enabled(flash_on, fast=True, cuda=False) is True
    assert fast_dpo.flash_attention_enabled(flash_on, fast=False, cuda=True) is False  # TRL's


@pytest.mark.parametrize(
    ("multiple", "sub_batches", "capped"),
    [
        (8, 4, False),
        (fast_dpo.CUDA_LENGTH_MULTIPLE, 4, False),
        (8, 1, False),
        (fast_dpo.CUDA_LENGTH_MULTIPLE, 1, True),
    ],
)
def test_per_pair_log_probs_do_not_depend_on_the_batch(trainers, multiple, sub_batches, capped):
    """Nor on how far each sub-batch is padded (multiples of 16 on CUDA, capped at the data's
    longest sequence) or into how many sub-batches a batch is split (``sub_batches``)."""
    _, fast, _, _, _ = trainers
    cap = fast_dpo.longest_sequence(fast.train_dataset, fast.args.max_length) if capped else None
    forward = fast_dpo.SubBatchForward(
        fast.model, max_groups=sub_batches, overhead_tokens=0, multiple=multiple, max_width=cap
    )

    def per_row(rows):
        examples = [fast.train_dataset[i] for i in rows]
        batch = fast._prepare_inputs(fast.data_collator(examples))
        labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
        with torch.no_grad():
            out = _fused_forward(forward, batch, labels)
        sums = out.log_probs.sum(dim=1)
        n = len(rows)
        return {r: (sums[i].item(), sums[n + i].item()) for i, r in enumerate(rows)}

    together = per_row([0, 1, 2, 3, 4, 5])
    apart = {**per_row([5, 2]), **per_row([4, 0, 3]), **per_row([1])}
    for row, (chosen, rejected) in together.items():
        assert apart[row][0] == pytest.approx(chosen, abs=1e-3)
        assert apart[row][1] == pytest.approx(rejected, abs=1e-3)


def test_log_probs_without_the_padding_mask_equal_those_with_it(trainers):
    """``flash_attention``: right-padded rows through causal layers (attention and LFM2's
    short convolution), so leaving the padding mask out changes no kept position's log-prob."""
    _, fast, _, _, _ = trainers
    examples = [fast.train_dataset[i] for i in range(6)]
    batch = fast._prepare_inputs(fast.data_collator(examples))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    lengths = batch["attention_mask"].sum(dim=1)
    assert lengths.min() < lengths.max()  # rows of different lengths: real padding

    def log_probs(padding_mask: bool):
        # multiples of 64: every row carries padding
        forward = fast_dpo.SubBatchForward(
            fast.model, max_groups=1, multiple=64, padding_mask=padding_mask
        )
        with torch.no_grad():
            return _fused_forward(forward, batch, labels).log_probs

    kept = labels[:, 1:] != -100
    with_mask, without = log_probs(True), log_probs(False)
    assert kept.any()
    torch.testing.assert_close(without[kept], with_mask[kept], rtol=1e-5, atol=1e-5)
    # the trainer's setting reaches its forward (default: the mask is passed)
    assert fast._sub_batch_forward(fast.model).padding_mask is True
    fast.align_flash_attention = True
    try:
        assert fast._sub_batch_forward(fast.model).padding_mask is False
    finally:
        del fast.align_flash_attention  # back to the class default for the other tests


@pytest.mark.parametrize("padding_mask", [True, False])
def test_attention_at_padded_widths_gives_the_same_log_probs_and_gradients(
    trainers, policy_moved_off_the_reference, monkeypatch, padding_mask
):
    """``ATTENTION_WIDTH_MULTIPLE`` (CUDA): queries, keys and values padded at the end inside
    each attention layer change no kept position's log-prob nor any gradient, with the padding
    mask (padded keys hidden in it) or without it (causal kernel); no NaN from padded rows."""
    _, fast, _, _, _ = trainers
    model = fast.model
    examples = [fast.train_dataset[i] for i in range(4)]
    batch = fast._prepare_inputs(fast.data_collator(examples))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    widths = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(query, key, value, *args, **kwargs):
        widths.append((query.shape[2], key.shape[2]))
        return sdpa(query, key, value, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)

    def run(multiple):
        fast_dpo.pad_attention_widths(model, multiple)
        widths.clear()
        model.zero_grad()
        forward = fast_dpo.SubBatchForward(
            model, max_groups=1, multiple=8, padding_mask=padding_mask
        )
        out = _fused_forward(forward, batch, labels)
        kept = labels[:, 1:] != -100
        out.log_probs[kept].sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out.log_probs[kept].detach(), grads, list(widths)

    try:
        marked = fast_dpo.pad_attention_widths(model, 64)
        assert marked == model.config.layer_types.count("full_attention")
        padded, padded_grads, padded_widths = run(64)
        plain, plain_grads, plain_widths = run(None)
    finally:
        fast_dpo.pad_attention_widths(model, None)
    assert plain_widths and all(w % 64 for w, _ in plain_widths)  # the test has real padding
    assert padded_widths and all(w == k and w % 64 == 0 for w, k in padded_widths)
    torch.testing.assert_close(padded, plain, rtol=1e-5, atol=1e-5)
    assert padded_grads.keys() == plain_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        assert torch.isfinite(padded_grads[name]).all(), name
        # the same sums in another order (padded keys add exact zeros): float32 rounding only
        torch.testing.assert_close(padded_grads[name], grad, rtol=1e-3, atol=1e-5)


def test_attention_widths_are_padded_on_cuda_unless_flash_attention_runs(
    trainers, tiny_dpo_config, tmp_path, monkeypatch
):
    from align.train.dpo import speed_settings

    _, fast, _, _, _ = trainers
    assert fast.align_speed["attention_multiple"] is None  # this CPU run: attention as it was
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    on_cuda = speed_settings(tiny_dpo_config(tmp_path, fast_path="on"), "transformers")
    assert on_cuda["attention_multiple"] == fast_dpo.ATTENTION_WIDTH_MULTIPLE
    assert fast_dpo.ATTENTION_WIDTH_MULTIPLE % fast_dpo.CUDA_LENGTH_MULTIPLE == 0
    flash = tiny_dpo_config(tmp_path, fast_path="on", flash_attention="on")
    assert speed_settings(flash, "transformers")["attention_multiple"] is None


def _attention_case(width=13, lengths=(13, 9), seed=0):
    """(layer, query, key, value, boolean causal-and-padding mask) in float64: 2 rows, 4 query
    heads over 2 key/value heads (grouped-query attention, as LFM2's)."""
    from types import SimpleNamespace

    generator = torch.Generator().manual_seed(seed)

    def states(heads):
        shape = (len(lengths), heads, width, 8)
        return torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)

    positions = torch.arange(width)
    causal = positions[None, :] <= positions[:, None]
    real = positions[None, :] < torch.tensor(lengths)[:, None]
    mask = (causal[None] & real[:, None, :])[:, None]
    layer = SimpleNamespace(is_causal=True, num_key_value_groups=2, align_attention_multiple=16)
    return layer, states(4), states(2), states(2), mask


@pytest.mark.parametrize("mask_kind", ["boolean", "additive", "expanded", "none"])
def test_padded_width_attention_equals_attention_at_the_own_width(mask_kind):
    """Every position's output and the gradients of queries, keys and values are those of
    SDPA at the layer's own width, for each mask form transformers hands SDPA."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    layer, query, key, value, mask = _attention_case()
    if mask_kind == "additive":
        mask = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, -1e30)
    elif mask_kind == "expanded":  # one mask for every row, as a stride-0 view
        mask = mask[:1].expand(2, -1, -1, -1)
    elif mask_kind == "none":  # SDPA's causal kernel
        mask = None
    widths = []

    def attention(module, q, k, v, m, **kwargs):
        widths.append(q.shape[2])
        return sdpa_attention_forward(module, q, k, v, m, **kwargs)

    padded = fast_dpo.padded_width_attention(attention)
    out, weights = padded(layer, query, key, value, mask, dropout=0.0, scaling=0.3)
    grads = torch.autograd.grad(out.square().sum(), (query, key, value))
    expected, _ = sdpa_attention_forward(layer, query, key, value, mask, dropout=0.0, scaling=0.3)
    expected_grads = torch.autograd.grad(expected.square().sum(), (query, key, value))
    assert widths == [16] and weights is None
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "case",
    ["unmarked", "own width a multiple", "decoding", "dropout", "position bias", "row mask",
     "positional options", "bidirectional"],
)  # fmt: skip
def test_padded_width_attention_leaves_calls_it_cannot_pad_exactly_alone(case):
    layer, query, key, value, mask = _attention_case()
    kwargs, args = {"dropout": 0.0, "scaling": 0.3}, ()
    if case == "unmarked":
        layer.align_attention_multiple = None
    elif case == "own width a multiple":
        layer.align_attention_multiple = 13
    elif case == "decoding":  # one new query against the cached keys
        query = query[:, :, -1:]
        mask = mask[:, :, -1:]
    elif case == "dropout":
        kwargs["dropout"] = 0.1
    elif case == "position bias":
        kwargs["position_bias"] = torch.zeros(1, 4, 13, 13, dtype=torch.float64)
    elif case == "row mask":  # (batch, 1, 1, keys), broadcast over the queries
        mask = mask[:, :, -1:]
    elif case == "positional options":
        args, kwargs = (0.0, 0.3), {}
    elif case == "bidirectional":
        layer.is_causal = False
        mask = None
    seen = []

    def attention(module, q, k, v, m, *a, **kw):
        seen.append((q, k, v, m, a, kw))
        return q, None

    fast_dpo.padded_width_attention(attention)(layer, query, key, value, mask, *args, **kwargs)
    ((q, k, v, m, a, kw),) = seen
    assert q is query and k is key and v is value and m is mask
    assert a == args and kw == kwargs


def test_the_widest_batch_is_cut_to_the_longest_sequence_of_the_data(trainers):
    """Rounded up to 64 the widest batch would be wider than any sequence; it is cut at the
    data's longest sequence (one shape, less padding), and no batch is cut shorter than its
    own longest sequence."""
    _, fast, _, _, _ = trainers
    cap = fast_dpo.longest_sequence(fast.train_dataset, fast.args.max_length)
    assert fast.align_longest_sequence() == cap  # what the trainer caps at, computed once
    assert cap % 64 != 0  # the tiny data's longest pair (else this checks nothing)
    widths = []

    class Recording:
        def __call__(self, **kwargs):
            widths.append(kwargs["input_ids"].shape[1])
            return fast.model(**kwargs)

    data = fast.train_dataset
    longest_row = max(
        range(len(data)),
        key=lambda i: (
            len(data[i]["prompt_ids"])
            + max(len(data[i]["chosen_ids"]), len(data[i]["rejected_ids"]))
        ),
    )
    batch = fast._prepare_inputs(fast.data_collator([data[longest_row]]))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)

    def width_with(max_width: int) -> list[int]:
        widths.clear()
        forward = fast_dpo.SubBatchForward(
            Recording(), max_groups=1, multiple=64, max_width=max_width
        )
        with torch.no_grad():
            _fused_forward(forward, batch, labels)
        return widths

    assert width_with(cap) == [cap]
    # a row longer than the cap: rounded up as before (within the collator's width)
    assert width_with(cap - 5) == [min(batch["input_ids"].shape[1], -(-cap // 64) * 64)]


def test_cached_reference_equals_the_live_reference(trainers):
    plain, fast, _, _, _ = trainers
    data = fast.train_dataset
    for start in range(0, len(data), 2):
        rows = list(range(start, min(len(data), start + 2)))
        batch = plain._prepare_inputs(plain.data_collator([plain.train_dataset[i] for i in rows]))
        chosen, rejected = plain.compute_ref_log_probs(plain.model, batch)
        assert data["ref_chosen_logps"][start : start + 2] == pytest.approx(
            chosen.tolist(), abs=1e-3
        )
        assert data["ref_rejected_logps"][start : start + 2] == pytest.approx(
            rejected.tolist(), abs=1e-3
        )


def test_cache_is_reused_for_the_same_data_and_weights_only(trainers, tmp_path):
    from align.train.dpo import build_dpo_trainer

    _, fast, _, config, tmp = trainers
    again, _, _, _ = build_dpo_trainer(config, tmp / "again", "transformers")
    assert all(hit for _, hit in again.align_cache_hits)
    assert again.train_dataset["ref_chosen_logps"] == fast.train_dataset["ref_chosen_logps"]
    model = again.model
    before = fast_dpo.weights_digest(model)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if ".ref." in n).add_(1e-3)
    assert fast_dpo.weights_digest(model) != before


def test_rewards_are_exactly_zero_before_training_on_the_fast_path(trainers):
    from align.train.dpo import reference_check

    # the eval sets' reference log-probs were computed in the eval batches, so the policy's
    # evaluation repeats exactly the same arithmetic
    _, fast, names, _, _ = trainers
    check = reference_check(fast.evaluate(), names)
    assert check == {"max_abs_reward_before_training": 0.0, "reference_is_sft_policy": True}


# --- each pair's prompt computed once ------------------------------------------------------------


class _RowCounting:
    """The model, recording the rows and width of each call."""

    def __init__(self, model):
        self.model, self.shapes = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, **kwargs):
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        return self.model(**kwargs)


def _shared_and_separate(fast, rows, sharing, *, checkpointing=False, sub_batches=1):
    """Per-token outputs and LoRA gradients of the fused-head call on ``rows``, with each
    pair's prompt run once (``sharing``) and with chosen and rejected in their own rows."""
    model = fast.model
    batch = fast._prepare_inputs(fast.data_collator([fast.train_dataset[i] for i in rows]))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    results = []
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable({"use_reentrant": False})
    try:
        for prompt_sharing in (sharing, None):
            recorder = _RowCounting(model)
            forward = fast_dpo.SubBatchForward(
                recorder, max_groups=sub_batches, overhead_tokens=0, prompt_sharing=prompt_sharing
            )
            model.zero_grad()
            out = _fused_forward(forward, batch, labels)
            kept = labels[:, 1:] != -100
            (out.log_probs[kept].sum() + out.entropy[kept].sum()).backward()
            grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
            fields = {n: getattr(out, n) for n in fast_dpo.OUTPUT_FIELDS}
            results.append((fields, grads, recorder.shapes))
    finally:
        if checkpointing:
            model.gradient_checkpointing_disable()
    return labels, results


@pytest.mark.parametrize(("checkpointing", "sub_batches"), [(False, 1), (True, 1), (False, 3)])
def test_pairs_run_with_their_prompt_once_give_the_same_outputs_and_gradients(
    trainers, policy_moved_off_the_reference, checkpointing, sub_batches
):
    """``share_prompts``: chosen and rejected of a pair in one row (the prompt once, its last
    tokens repeated before the rejected completion for LFM2's short convolution) give every
    per-token output (log-probs, entropy, the logit statistics) and every LoRA gradient of the
    separate rows, with gradient checkpointing's recomputation too, and split by length."""
    _, fast, _, _, _ = trainers
    sharing = fast_dpo.share_prompts(fast.model)
    assert sharing.tail == fast.model.config.conv_L_cache == 3
    assert sharing.layers == fast.model.config.num_hidden_layers
    rows = [0, 3, 1, 4, 2, 5]  # mixed lengths
    labels, (shared, separate) = _shared_and_separate(
        fast, rows, sharing, checkpointing=checkpointing, sub_batches=sub_batches
    )
    (fields, grads, shapes), (fields_0, grads_0, shapes_0) = shared, separate
    # one row per pair instead of two, and fewer tokens in all
    assert sum(n for n, _ in shapes) == len(rows) and sum(n for n, _ in shapes_0) == 2 * len(rows)
    assert sum(n * w for n, w in shapes) < sum(n * w for n, w in shapes_0)
    if sub_batches > 1:
        assert len(shapes) > 1
    kept = labels[:, 1:] != -100
    for name, value in fields_0.items():
        if value is None:
            assert fields[name] is None, name
            continue
        assert fields[name].shape == value.shape, name
        torch.testing.assert_close(fields[name][kept], value[kept], rtol=1e-5, atol=1e-5)
        assert not fields[name][~kept].any(), name  # zeros where nothing is predicted
    assert fields_0["entropy"] is not None  # the metrics' fields are compared too
    trained = [n for n in grads_0 if ".default." in n]
    assert trained and grads.keys() == grads_0.keys()
    for name in trained:
        _assert_same_gradient(grads[name], grads_0[name])


def test_shared_rows_hide_the_chosen_completion_and_the_repeats_from_the_rejected_tokens():
    """The mask and positions of one packed row, worked by hand: prompt of 4, chosen of 2,
    tail of 3, rejected of 3, padded to 16."""
    input_ids = torch.tensor([[1, 2, 3, 4, 10, 11, 0, 0], [1, 2, 3, 4, 20, 21, 22, 0]])
    mask = (input_ids != 0).long()
    labels = torch.where(torch.arange(8) >= 4, input_ids, -100).masked_fill(mask == 0, -100)
    assert fast_dpo.shared_prompt_lengths(input_ids, mask, labels, 3) == ([4], [2], [3])
    batch = fast_dpo.shared_prompt_batch(input_ids, labels, [0], [4], [2], [3], 3, 16)
    assert batch["input_ids"][0, :12].tolist() == [1, 2, 3, 4, 10, 11, 2, 3, 4, 20, 21, 22]
    assert batch["position_ids"][0, :12].tolist() == [0, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6]
    assert batch["labels"][0, :12].tolist() == [-100] * 4 + [10, 11] + [-100] * 3 + [20, 21, 22]
    assert batch["copies"].tolist() == [6, 7, 8] and batch["sources"].tolist() == [1, 2, 3]
    visible = batch["attention_mask"][0, 0]
    seen = {q: visible[q].nonzero().flatten().tolist() for q in range(16)}
    assert seen[3] == [0, 1, 2, 3]  # the prompt: causal
    assert seen[5] == [0, 1, 2, 3, 4, 5]  # chosen: the prompt and itself
    assert seen[6] == [0, 1]  # the repeat of prompt token 1 sees the prompt up to it
    assert seen[8] == [0, 1, 2, 3]  # the last repeat: the whole prompt
    assert seen[11] == [0, 1, 2, 3, 9, 10, 11]  # rejected: the prompt and itself
    assert all(seen[q] == [q] for q in range(12, 16))  # padding sees itself alone
    # outputs back in the batch's layout: the rejected row's first completion token is
    # predicted at the last repeat (position 8 of the packed row)
    value = torch.arange(15, dtype=torch.float32)[None] + 100
    back = fast_dpo.unshare_outputs(value, batch, 8)
    assert back.tolist() == [
        [0, 0, 0, 103, 104, 0, 0],
        [0, 0, 0, 108, 109, 110, 0],
    ]


def test_rows_that_are_not_pairs_of_one_prompt_are_not_shared():
    input_ids = torch.tensor([[1, 2, 3, 4, 10, 0], [1, 2, 3, 4, 20, 21]])
    mask = (input_ids != 0).long()
    labels = torch.where(torch.arange(6) >= 4, input_ids, -100).masked_fill(mask == 0, -100)
    assert fast_dpo.shared_prompt_lengths(input_ids, mask, labels, 3) == ([4], [1], [2])
    other_prompt = input_ids.clone()
    other_prompt[1, 2] = 9
    assert fast_dpo.shared_prompt_lengths(other_prompt, mask, labels, 3) is None
    assert fast_dpo.shared_prompt_lengths(input_ids, mask, labels, 5) is None  # prompt too short
    assert fast_dpo.shared_prompt_lengths(input_ids[:1], mask[:1], labels[:1], 3) is None
    left_padded = torch.tensor([[0, 1, 2, 3, 4, 10], [1, 2, 3, 4, 20, 21]])
    left_mask = (left_padded != 0).long()
    left_labels = torch.where(torch.arange(6) >= 4, left_padded, -100)
    assert fast_dpo.shared_prompt_lengths(left_padded, left_mask, left_labels, 3) is None


def test_prompt_sharing_stops_the_run_when_the_layers_hooks_do_not_all_run(trainers):
    """A backend that does not pass the keyword down to the decoder layers would give wrong
    values (and redoing the call on one process would desynchronise DDP): a clear error."""
    _, fast, _, _, _ = trainers
    fast_dpo.share_prompts(fast.model)  # the hooks are there, but one layer too few
    sharing = fast_dpo.PromptSharing(tail=3, layers=fast.model.config.num_hidden_layers + 1)
    with pytest.raises(RuntimeError, match="--share-prompts off"):
        _shared_and_separate(fast, [0, 3], sharing)


def test_prompts_are_shared_only_under_sdpa_attention(trainers):
    """Eager attention adds a boolean mask to the scores and flash attention ignores it, so
    the shared rows' mask would not hide the chosen completion from the rejected tokens."""
    _, fast, _, _, _ = trainers
    model = fast.model
    assert model.config._attn_implementation == "sdpa"
    try:
        model.set_attn_implementation("eager")
        assert fast_dpo.share_prompts(model) is None
    finally:
        model.set_attn_implementation("sdpa")
    assert fast_dpo.share_prompts(model) is not None


def test_prompt_sharing_is_on_with_the_fast_path_and_off_with_flash_attention(
    trainers, tiny_dpo_config, tmp_path
):
    from align.train.dpo import speed_settings

    plain, fast, _, _, _ = trainers
    assert fast.align_speed["share_prompts"] == 3  # the toy LFM2's convolution: 3 repeats
    assert fast._sub_batch_forward(fast.model).prompt_sharing is fast.align_prompt_sharing
    assert plain.align_speed["share_prompts"] is False
    for values, expected in [
        ({"fast_path": "on"}, fast_dpo.SHARE_PROMPTS_BY_DEFAULT),
        ({"fast_path": "on", "share_prompts": "off"}, False),
        ({"fast_path": "on", "share_prompts": "on"}, True),
        ({"fast_path": "on", "share_prompts": "on", "flash_attention": "on"}, False),
        ({"fast_path": "off", "share_prompts": "on"}, False),
    ]:
        config = tiny_dpo_config(tmp_path, **values)
        assert speed_settings(config, "transformers")["share_prompts"] is expected, values
    assert fast_dpo.share_prompts(torch.nn.Linear(2, 2)) is None  # not a model it knows
