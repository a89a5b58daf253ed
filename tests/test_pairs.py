"""Preference pairs: the closed loop, determinism, the split by gold group, and the mix."""

import gc
import random
import re
from collections import Counter

import pytest

from align.checks.detectors import finding_codes, score_response
from align.commands import cyclic_gc_paused, run_pairs
from align.data import perturb as perturb_module
from align.data.gold import GoldRecord, load_gold
from align.data.pairs import PairConfig, build_pairs, split_of, write_pairs
from align.data.perturb import PERTURBATIONS, REQUIRED_PERTURBATIONS, Draws, perturb
from align.protocol.schema import Response

SYSTEM = {"role": "system", "content": "You are a pediatric disaster-triage assistant."}


def crush_record(record_id="crush-5y", group=None, color="RED"):
    text = Response(
        triage=color,
        rationale=(
            "Not walking, breathing at 36/min, within the JumpSTART band of 15-45/min, pulse "
            "present and alert: JumpSTART gives YELLOW, but uncontrolled bleeding makes this "
            "child RED. Normal RR for a 5-year-old: 20-28/min."
        ),
        actions=[
            "Apply a tourniquet high on the thigh and write the time on it.",
            "Press hard on the other bleeding points.",
            "Once IV/IO access is in, fluid bolus 20 mL/kg x 18 kg = 360 mL of 0.9% saline.",
        ],
        do_not=[
            "Loosen or remove the tourniquet once it is on.",
            "Release the slab before fluids are running.",
            "Give food or drink.",
        ],
        reassess=["Bleeding soaks through the dressing.", "Breathing rises above 45/min."],
    ).render()
    data = {
        "id": record_id,
        "messages": [
            SYSTEM,
            {"role": "user", "content": "5-year-old, leg crushed, bleeding."},
            {"role": "assistant", "content": text},
        ],
        "scenario": {
            "age_years": 5,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 36,
            "peripheral_pulse": True,
            "avpu": "A",
            "weight_kg": 18,
            "hazards": ["crush", "bleeding"],
        },
        "expected_triage": color,
    }
    if group:
        data["group"] = group
    return GoldRecord("gold.jsonl", 1, data)


def reference_record():
    text = Response(
        triage=None,
        key_points="Normal RR for a toddler: 22-37/min; normal heart rate 98-140/min.",
        rationale="",
        actions=["Count breaths for a full 30 seconds and double it."],
        do_not=["Judge a toddler by adult numbers."],
        reassess=["The child tires or the rate keeps climbing."],
    ).render()
    return GoldRecord(
        "gold.jsonl",
        2,
        {
            "id": "vitals-toddler",
            "messages": [
                SYSTEM,
                {"role": "user", "content": "Normal vitals for a toddler?"},
                {"role": "assistant", "content": text},
            ],
            "scenario": {"age_years": 2},
        },
    )


def test_closed_loop_holds_for_every_perturbation():
    pair_set = build_pairs([crush_record(), reference_record()], PairConfig(eval_fraction=0))
    assert pair_set.closed, pair_set.violations
    for name in PERTURBATIONS:
        stats = pair_set.loop[name]
        assert stats["pairs"] > 0, name
        assert stats["rejected_exact"] == stats["pairs"] == stats["chosen_clean"], name


def test_each_rejected_shows_exactly_the_intended_finding():
    record = crush_record()
    for name, perturbation in PERTURBATIONS.items():
        for rejected, _ in perturb(record, name, Draws("test:1"), 5):
            found = finding_codes(score_response(rejected, record.scenario, record.expected_triage))
            assert found == {perturbation.intended_code}, (name, found)


def test_a_chosen_response_with_a_finding_breaks_the_loop():
    bad = crush_record()
    bad.data["messages"][-1]["content"] = bad.response.replace("Do NOT:", "Notes:")
    pair_set = build_pairs([bad], PairConfig(eval_fraction=0))
    assert not pair_set.closed
    chosen = [v for v in pair_set.violations if v.side == "chosen"]
    assert chosen and all("missing_do_not" in v.found for v in chosen)


def test_reference_questions_get_no_triage_perturbations():
    record = reference_record()
    for name in ("wrong_triage_color", "missing_triage", "triage_not_first"):
        assert perturb(record, name, Draws("test:0"), 3) == []
    assert perturb(record, "wrong_vital_range", Draws("test:0"), 2)


def test_wrong_color_weights_under_triage_and_records_direction():
    variants = perturb(crush_record(color="YELLOW"), "wrong_triage_color", Draws("test:0"), 3)
    assert [d["direction"] for _, d in variants] == ["under", "over"]
    variants = perturb(crush_record(), "wrong_triage_color", Draws("test:0"), 3)
    assert [d["to"] for _, d in variants] == ["YELLOW", "BLACK", "GREEN"]
    assert all(d["direction"] == "under" for _, d in variants)


def test_under_share_zero_prefers_over_triage():
    variants = perturb(
        crush_record(color="YELLOW"), "wrong_triage_color", Draws("test:0"), 1, under_share=0
    )
    assert [d["direction"] for _, d in variants] == ["over"]


def test_contraindicated_action_uses_the_scenarios_own_hazards():
    record = crush_record()
    for _, detail in perturb(record, "contraindicated_action", Draws("test:3"), 5):
        assert detail["action"] in {
            "remove_tourniquet",
            "release_compression_early",
            "straighten_limb",
            "give_by_mouth",
        }


def test_pairs_are_deterministic_for_a_seed(tmp_path):
    records = [crush_record(f"crush-{i}") for i in range(6)] + [reference_record()]
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        write_pairs(build_pairs(records, PairConfig(seed=7)), out, [])
    for name in ("train.jsonl", "eval.jsonl", "summary.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    write_pairs(build_pairs(records, PairConfig(seed=8)), tmp_path / "c", [])
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (first / "train.jsonl").read_bytes()


def test_split_keeps_a_group_together_and_follows_the_fraction():
    records = [crush_record(f"crush-{i}", group=f"g{i // 3}") for i in range(60)]
    pair_set = build_pairs(records, PairConfig(eval_fraction=0.3, counts={"missing_do_not": 1}))
    split_by_gold = {p["gold_id"]: p["split"] for s in pair_set.splits.values() for p in s}
    for i in range(0, 60, 3):
        assert len({split_by_gold[f"crush-{i + k}"] for k in range(3)}) == 1
    share = sum(s == "eval" for s in split_by_gold.values()) / 60
    assert 0.1 < share < 0.5


def test_split_does_not_depend_on_other_records():
    assert split_of("crush-5y", 3407, 0.15) == split_of("crush-5y", 3407, 0.15)
    groups = [f"g{i}" for i in range(400)]
    assert 0.1 < sum(split_of(g, 3407, 0.15) == "eval" for g in groups) / 400 < 0.2


def test_counts_and_filter_select_the_mix():
    pair_set = build_pairs(
        [crush_record()],
        PairConfig(eval_fraction=0, counts={"wrong_triage_color": 1, "wrong_dose": 1}),
    )
    assert Counter(p["perturbation"] for p in pair_set.splits["train"]) == {
        "wrong_triage_color": 1,
        "wrong_dose": 1,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"counts": {"bogus": 1}},
        {"counts": {"wrong_dose": -1}},
        {"eval_fraction": 1.0},
        {"under_share": 2},
    ],
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        PairConfig(**bad)


def test_pair_records_carry_provenance():
    pair_set = build_pairs([crush_record()], PairConfig(eval_fraction=0))
    pair = pair_set.splits["train"][0]
    assert set(pair) == {
        "prompt",
        "chosen",
        "rejected",
        "gold_id",
        "perturbation",
        "detail",
        "split",
        "seed",
        "generator",
    }
    assert [m["role"] for m in pair["prompt"]] == ["system", "user"]
    assert pair["chosen"][0]["role"] == pair["rejected"][0]["role"] == "assistant"
    assert pair["generator"].startswith("align ")


def test_committed_gold_is_valid_and_closes_the_loop(in_repo):
    report = load_gold()
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert len(report.records) >= 460
    pair_set = build_pairs(report.records, PairConfig())
    assert pair_set.closed, pair_set.violations[:5]
    for name in REQUIRED_PERTURBATIONS:
        assert pair_set.loop[name]["pairs"] >= 100, name
    eval_golds = {p["gold_id"] for p in pair_set.splits["eval"]}
    train_golds = {p["gold_id"] for p in pair_set.splits["train"]}
    assert eval_golds and not eval_golds & train_golds


def test_pair_lines_are_byte_identical_to_plain_json_lines():
    from align.data.io import dumps_line
    from align.data.pairs import pair_lines

    records = [crush_record(f"crush-{i}") for i in range(3)] + [reference_record()]
    pairs = build_pairs(records, PairConfig(eval_fraction=0)).splits["train"]
    assert pair_lines(pairs) == "".join(dumps_line(p) for p in pairs)


def test_committed_generated_gold_is_what_the_generator_writes(in_repo):
    from align.data.generator import generate_gold
    from align.data.io import dumps_line

    committed = (in_repo / "preference_data/gold/generated.jsonl").read_text(encoding="utf-8")
    assert committed == "".join(dumps_line(r) for r in generate_gold(3407))


def test_committed_pairs_are_what_align_pairs_writes(in_repo, tmp_path):
    from align.commands import run_pairs

    assert run_pairs(None, tmp_path, 3407, 0.15, None, None, 2 / 3) == 0
    for name in ("train.jsonl", "eval.jsonl", "summary.json"):
        committed = (in_repo / "preference_data/pairs" / name).read_bytes()
        assert (tmp_path / name).read_bytes() == committed, name


def test_pairs_warns_when_the_records_cannot_follow_under_share(capsys):
    from align.commands import warn_unmet_under_share

    records = [crush_record(f"crush-{i}", color="RED") for i in range(3)]
    pair_set = build_pairs(records, PairConfig(eval_fraction=0.0, under_share=0.0))
    warn_unmet_under_share(pair_set)  # RED can only be under-triaged: every pair is "under"
    assert "--under-share 0.00 asked, but 1.00" in capsys.readouterr().err
    pair_set = build_pairs(records, PairConfig(eval_fraction=0.0))
    warn_unmet_under_share(pair_set)  # nor the default 2/3, when every record is RED
    assert "warning" in capsys.readouterr().err
    yellow = [crush_record(f"y-{i}", color="YELLOW") for i in range(4)]
    counts = {**PairConfig().counts, "wrong_triage_color": 1}
    pair_set = build_pairs(yellow, PairConfig(eval_fraction=0.0, under_share=0.0, counts=counts))
    warn_unmet_under_share(pair_set)  # one variant each, and the share picks "over"
    assert capsys.readouterr().err == ""


def test_removing_lines_keeps_the_others_in_order():
    rng = random.Random(14)
    for _ in range(500):
        lines = [f"line {i}" for i in range(rng.randint(0, 12))]
        drop = {rng.randrange(0, 14) for _ in range(rng.randint(0, 5))}
        plain = "\n".join([line for i, line in enumerate(lines) if i not in drop])
        assert perturb_module._without(lines, drop) == plain


def test_wrong_vital_range_swaps_one_quoted_range_for_a_donor_of_its_vital_and_age():
    """Each variant replaces the numbers of one range the text quotes with another age band's
    range for the same vital, and says which. The perturbation reads each line as the
    detectors do (without its list marker); the oracle here, quoted_ranges, reads whole
    lines, so the test also fails if the two readings of a committed gold line ever differ."""
    from align.checks.vital_ranges import quoted_ranges

    made = 0
    for seed in (1, 2):
        for record in load_gold(None).records:
            ctx = perturb_module.Context(record, record.parsed, Draws(f"test:{seed}"), 5, 2 / 3)
            text = ctx.text
            quotes = [
                q
                for q in quoted_ranges(text, ctx.scenario.get("age_years"))
                if len(q.vitals) == 1 and q.age_years is not None
            ]
            for rejected, detail in perturb_module.wrong_vital_range(ctx):
                vital, age = detail["vital"], detail["age_years"]
                assert (detail["taken_from"], tuple(detail["to"])) in (
                    perturb_module.donor_ranges(age, vital)
                )
                swapped = [
                    q.span
                    for q in quotes
                    if (q.vitals[0], q.age_years, [q.low, q.high]) == (vital, age, detail["from"])
                    and rejected[: q.span[0]] == text[: q.span[0]]
                    and rejected.endswith(text[q.span[1] :])
                ]
                assert swapped, record.id
                start, end = swapped[0]
                middle = rejected[start : len(rejected) - (len(text) - end)]
                assert re.findall(r"\d+", middle) == [str(n) for n in detail["to"]], record.id
                made += 1
    assert made > 500


def test_a_lines_text_as_the_detectors_read_it_is_found_where_it_stands():
    """wrong_vital_range and wrong_dose edit a line's content (without its list marker) at
    the offset _in_text gives: it must point at that content in the response."""
    odd = GoldRecord(
        "x.jsonl",
        1,
        {
            "id": "odd-markers",
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": "TRIAGE: RED (Immediate)  \n\n- - x\n1. 1. x  \n  a) a) a \t\n"
                    "(2)  normal RR 20-30/min \nRationale: plain",
                },
            ],
        },
    )
    checked = 0
    for record in [odd, *load_gold(None).records]:
        ctx = perturb_module.Context(record, record.parsed_response, Draws("test"), 1, 2 / 3)
        for index, line, _, content in ctx.parsed.line_rows:
            at = perturb_module._in_text(ctx, index, line, content)
            assert ctx.text[at : at + len(content)] == content, (record.id, line)
            assert ctx.text.count("\n", 0, at) == index, (record.id, line)
            checked += 1
    assert checked > 5000


def test_align_pairs_builds_with_the_cycle_collector_paused_then_restores_it(monkeypatch, tmp_path):
    seen = []
    real_build = build_pairs

    def recording_build(*args):
        seen.append(gc.isenabled())
        return real_build(*args)

    monkeypatch.setattr("align.data.pairs.build_pairs", recording_build)
    assert gc.isenabled()
    assert run_pairs(None, tmp_path / "pairs", 3407, 0.15, None, None, 2 / 3) == 0
    assert seen == [False]
    assert gc.isenabled()
    assert (tmp_path / "pairs" / "train.jsonl").exists()


def test_the_cycle_collector_pause_restores_the_state_it_found_even_on_error():
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller's choice to keep it off is kept
    finally:
        gc.enable()


def test_draws_depend_on_the_key_alone():
    first = Draws("3407:crush-1:wrong_dose")
    second = Draws("3407:crush-1:wrong_dose")
    numbers = [first.below(1000) for _ in range(30)]  # past the eight of one digest
    assert numbers == [second.below(1000) for _ in range(30)]
    assert numbers != [Draws("3407:crush-2:wrong_dose").below(1000) for _ in range(30)]


def test_draws_below_n_are_in_range_and_evenly_spread():
    draws = Draws("test:spread")
    counts = Counter(draws.below(6) for _ in range(60_000))
    assert set(counts) == set(range(6))
    assert all(abs(c - 10_000) < 500 for c in counts.values()), counts  # ~5 sigma
    assert Draws("test:one").below(1) == 0
    for n in (0, 2**64 + 1):  # nothing to draw from; past what one number can cover
        with pytest.raises(ValueError, match=r"1 <= n <= 2\*\*64"):
            draws.below(n)
    assert 0 <= draws.below(2**64) < 2**64


def test_draws_redraw_a_number_past_the_last_whole_multiple():
    """2**64 is not a multiple of 3: a number at or past 3 * (2**64 // 3) would favour a
    remainder, so it is drawn again."""
    draws = Draws("test:redraw")
    draws._numbers = [5, 2**64 - 1]  # popped from the end: the too-large one first
    assert draws.below(3) == 5 % 3
    assert draws._numbers == []


def test_draws_shuffle_is_a_permutation_and_reaches_every_order():
    orders = Counter()
    for k in range(3000):
        items = ["a", "b", "c"]
        Draws(f"test:shuffle:{k}").shuffle(items)
        orders["".join(items)] += 1
    assert len(orders) == 6 and all(400 < c < 600 for c in orders.values()), orders
    single = ["only"]
    draws = Draws("test:single")
    draws.shuffle(single)
    assert single == ["only"] and draws._blocks == 0  # nothing to draw: nothing hashed
