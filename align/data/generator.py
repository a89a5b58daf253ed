"""Structured gold-record generator: scenario families expanded into consistent records.

``generate_gold(seed)`` builds about 450 gold records (DESIGN.md "Records") from six scenario
families:

- ``jumpstart``: every JumpSTART path (ages 3 months to 8.9 years, RR boundaries 14/15/45/46)
  crossed with disaster settings and their hazards;
- ``start``: every START path (ages 9-17), RR 30 in band vs 31, capillary refill 2 vs > 2 s;
- ``vitals``: reference questions on PALS normal ranges and the hypotension rule, every band;
- ``dosing``: Broselow zone or age estimate -> fluid bolus, IM epinephrine, D10;
- ``twopatient``: which of two children is treated first (the triage line is that child's);
- ``pfa``: psychological first aid for uninjured, walking, distressed children (GREEN).

Nothing clinical is hard-coded twice: colors come from the protocol engine
(``triage(scenario).triage``), ranges from ``canonical_range``, doses from ``dosing.py`` and the
Do NOT lists from ``contraindications_for(hazards)``. Wording is drawn from several phrasings
per sentence by ``random.Random(f"{seed}:{family}:{k}:{variant}")``, so the output depends on
the seed only (never on ``hash()`` or dict order) and records are returned sorted by id.

Records sharing a scenario core (family, path, age, hazards) share a ``group`` so the pair
splitter keeps near-copies on one side of the train/eval split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from align.protocol.colors import LABELS
from align.protocol.dosing import (
    DOSE_RULES,
    apls_weight_kg,
    broselow_zone,
    format_amount,
    total_dose,
)
from align.protocol.hazards import contraindications_for
from align.protocol.schema import Response
from align.protocol.triage import triage
from align.protocol.vitals import (
    age_band_label,
    canonical_band,
    canonical_range,
    hypotension_threshold,
)

SYSTEM_PROMPT = (
    "You are a pediatric disaster-triage assistant for first responders working offline. "
    "Use JumpSTART for children under 9 and START from 9 years up, PALS age-specific vital "
    "signs, and weight-based dosing. Answer in this order: the TRIAGE line, Rationale, "
    "numbered Immediate Actions, a Do NOT list, and Reassess triggers. You support trained "
    "responders; you do not replace clinical judgement."
)

DEFAULT_SEED = 3407
MIN_CHARS = 1100  # whole conversation: system + user + assistant
MAX_CHARS = 2200
FAMILIES = ("jumpstart", "start", "vitals", "dosing", "twopatient", "pfa")

JUMPSTART_PATHS = (
    "walks",
    "airway",
    "nopulse",
    "rescue_red",
    "rescue_black",
    "rr_low",
    "rr_high",
    "no_pulse",
    "avpu_u",
    "pain_bad",
    "pain_ok",
    "alert",
)
START_PATHS = (
    "walks",
    "airway",
    "apneic",
    "rr_high",
    "rr30",
    "no_radial",
    "cap_refill",
    "no_commands",
    "yellow",
)
APNEIC_PATHS = ("airway", "nopulse", "rescue_red", "rescue_black", "apneic")
BLACK_PATHS = ("nopulse", "rescue_black", "apneic")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, family: str, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, family, *parts)))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _age_words(age: float) -> str:
    """``4-month-old``, ``18-month-old``, ``6-year-old`` (what the detectors read as an age)."""
    if age < 28 / 365:
        days = round(age * 365)
        return f"{days // 7}-week-old" if days >= 7 and days % 7 == 0 else f"{days}-day-old"
    if age < 1 or (age < 2 and age != int(age)):
        return f"{round(age * 12)}-month-old"
    return f"{int(age)}-year-old"


def _article(words: str) -> str:
    number = words.split("-")[0]
    return "an" if number.startswith("8") or number in ("11", "18") else "a"


def _with_article(words: str) -> str:
    return f"{_article(words)} {words}"


def _age_slug(age: float) -> str:
    if age < 28 / 365:
        return f"{round(age * 365)}d"
    if age < 1 or (age < 2 and age != int(age)):
        return f"{round(age * 12)}m"
    if age != int(age):
        return f"{age:g}y".replace(".", "p")
    return f"{int(age)}y"


def _estimate_weight(age: float, rng: random.Random) -> int:
    return max(3, round(apls_weight_kg(age) * rng.uniform(0.9, 1.12)))


# Share of patients whose prompt gives the weight (a scale, a length tape, a parent's word).
# The others are dosed on the APLS age estimate, and the answer says it is one: a model can
# only be held to a weight it was told (DESIGN.md "Gold records").
WEIGHT_STATED_SHARE = 0.6
WEIGHT_ESTIMATE_NOTES = (" (estimated from age)", " (age-based estimate)", " (APLS estimate)")
WEIGHT_PHRASES = (
    "{w} kg on the length tape",
    "weighs {w} kg",
    "weight {w} kg",
    "{his} parent says {he} is {w} kg",
    "the tape reads {w} kg",
)


def _dose(key: str, per_kg: float, weight: float) -> tuple[str, str, bool, str]:
    """(per-kg, total, capped, uncapped total) formatted as a responder writes them."""
    rule = DOSE_RULES[key]
    total = total_dose(rule, per_kg, weight)
    raw = per_kg * weight
    return format_amount(per_kg), format_amount(total), total < raw - 1e-9, format_amount(raw)


def _bolus_per_kg(age: float) -> int:
    return 10 if age < 28 / 365 else 20


def _d10_per_kg(age: float) -> float:
    return 2.5 if age <= 0.5 else 5


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Child:
    age: float
    sex: str  # "boy" | "girl"
    weight: int
    # Empty when the prompt states the weight; else how the answer marks its age estimate.
    weight_note: str = ""

    @property
    def infant(self) -> bool:
        return self.age < 1

    @property
    def weight_stated(self) -> bool:
        return not self.weight_note

    def noun(self, with_age: bool = True) -> str:
        """``baby``, ``boy``, ``girl``; ``teenage boy`` where no age is written beside it."""
        if self.infant:
            return "baby"
        if self.age >= 13 and not with_age:
            return f"teenage {self.sex}"
        return self.sex

    def words(self) -> dict[str, str]:
        he, him, his, self_ = (
            ("he", "him", "his", "himself")
            if self.sex == "boy"
            else ("she", "her", "her", "herself")
        )
        age = _age_words(self.age)
        epi = _dose("epinephrine_im", 0.01, self.weight)
        d10 = _d10_per_kg(self.age)
        return {
            "he": he,
            "him": him,
            "his": his,
            "He": _cap(he),
            "His": _cap(his),
            "himself": self_,
            "age": age,
            "a_age": _with_article(age),
            "kid": self.noun(),
            "w": str(self.weight),
            "w_note": self.weight_note,
            "pulse": "brachial" if self.infant else "radial",
            "bolus_k": str(_bolus_per_kg(self.age)),
            "bolus": _dose("fluid_bolus", _bolus_per_kg(self.age), self.weight)[1],
            "epi": epi[1],
            "d10_k": format_amount(d10),
            "d10": _dose("d10", d10, self.weight)[1],
            "years": f"{int(self.age)}" if self.age >= 1 else "under 1",
        }


def _field_child(age: float, rng: random.Random, weight_rng: random.Random) -> Child:
    """A patient: the prompt states the weight (``WEIGHT_STATED_SHARE``), or the answer
    estimates it from age. ``rng`` draws the same values either way, so the decision drawn
    from ``weight_rng`` leaves the rest of the scenario as it was."""
    sex = rng.choice(("boy", "girl"))
    stated_weight = _estimate_weight(age, rng)
    if weight_rng.random() < WEIGHT_STATED_SHARE:
        return Child(age, sex, stated_weight)
    note = weight_rng.choice(WEIGHT_ESTIMATE_NOTES)
    return Child(age, sex, round(apls_weight_kg(age)), weight_note=note)


def _weight_phrase(child: Child, words: dict, rng: random.Random) -> list[str]:
    """The observation that states the weight, when the prompt gives one."""
    return [_fill(rng.choice(WEIGHT_PHRASES), words)] if child.weight_stated else []


def _fill(template: str, words: dict[str, str]) -> str:
    return template.format(**words)


@dataclass
class Draft:
    """A response under construction: required items plus optional ones to trim or add."""

    triage: str | None
    rationale: list[str]
    actions: list[tuple[int, str]]  # (display order, text), most important first
    do_not: list[str]
    reassess: list[str]
    key_points: str | None = None
    spare_actions: list[tuple[int, str]] = field(default_factory=list)
    spare_do_not: list[str] = field(default_factory=list)
    spare_reassess: list[str] = field(default_factory=list)
    min_rationale: int = 1

    def render(self) -> str:
        ordered = sorted(enumerate(self.actions), key=lambda item: (item[1][0], item[0]))
        return Response(
            rationale=" ".join(self.rationale),
            actions=[text for _, (_, text) in ordered],
            do_not=[_cap(text) for text in self.do_not],
            reassess=[_cap(text) for text in self.reassess],
            triage=self.triage,
            key_points=self.key_points,
        ).render()


def _fit(draft: Draft, user: str) -> str:
    """Trim or extend the draft so the conversation is MIN_CHARS..MAX_CHARS long and the
    lists keep 3-6 actions, 2-5 Do NOT items and 2-4 reassess triggers. Trimming spares the
    normal-range quote as long as it can; extending takes spare items that still fit."""
    fixed = len(SYSTEM_PROMPT) + len(user)

    def total() -> int:
        return fixed + len(draft.render())

    def optional_sentence() -> int | None:
        """The last rationale sentence that may go, sparing the normal-range quote."""
        spare = [
            i
            for i in range(draft.min_rationale, len(draft.rationale))
            if "normal" not in draft.rationale[i]
        ]
        return spare[-1] if spare else None

    del draft.actions[6:], draft.do_not[5:], draft.reassess[4:]
    while total() > MAX_CHARS:
        if optional_sentence() is not None:
            draft.rationale.pop(optional_sentence())
        elif len(draft.actions) > 3 and len(draft.actions) >= len(draft.do_not) + 1:
            draft.actions.pop()
        elif len(draft.do_not) > 2:
            draft.do_not.pop()
        elif len(draft.reassess) > 2:
            draft.reassess.pop()
        elif len(draft.actions) > 3:
            draft.actions.pop()
        elif len(draft.rationale) > draft.min_rationale:
            draft.rationale.pop()
        else:
            raise ValueError(f"cannot fit conversation into {MAX_CHARS} characters: {user!r}")
    sources = [
        (draft.actions, draft.spare_actions, 6),
        (draft.reassess, draft.spare_reassess, 4),
        (draft.do_not, draft.spare_do_not, 5),
    ]
    while total() < MIN_CHARS and sources:
        items, spare, most = sources[0]
        if not spare or len(items) >= most:
            sources.pop(0)
            continue
        items.append(spare.pop(0))
        if total() > MAX_CHARS:  # too long to fit: take it back and try the next list
            items.pop()
            sources.pop(0)
    if total() < MIN_CHARS:
        raise ValueError(f"conversation shorter than {MIN_CHARS} characters: {user!r}")
    return draft.render()


# Topic tags share the hand-authored vocabulary: hyphens, and these names for families.
_TOPIC_NAMES = {
    "jumpstart": "jumpstart-path",
    "start": "start-path",
    "twopatient": "two-patient",
    "pfa": "psychological-first-aid",
    "smoke_inhalation": "smoke",
}


def _topic(tag: str) -> str:
    return _TOPIC_NAMES.get(tag, tag).replace("_", "-")


def _record(
    family: str,
    number: int,
    group: str,
    user: str,
    response: str,
    scenario: dict,
    expected: str | None,
    topics: list[str],
) -> dict:
    record = {
        "id": f"gen-{family}-{number:03d}",
        "group": f"gen-{family}-{group}",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
            {"role": "assistant", "content": response},
        ],
        "scenario": scenario,
    }
    if expected is not None:
        record["expected_triage"] = expected
    record["topics"] = list(dict.fromkeys(_topic(t) for t in topics))
    record["source"] = "generated"
    return record


# --------------------------------------------------------------------------------------------
# Disaster settings and hazards
# --------------------------------------------------------------------------------------------

SETTINGS = {
    "earthquake": {
        "scenes": (
            "the collapsed school wing after the earthquake",
            "an apartment block brought down by the quake",
            "the market hall that fell in the aftershock",
            "a collapsed house on the hillside after the earthquake",
        ),
        "walking": ((), ("bleeding",)),
        "down": (("crush",), ("crush", "bleeding"), ("crush", "fracture")),
        "trauma": True,
    },
    "flood": {
        "scenes": (
            "the flooded river crossing",
            "a street flooded when the levee broke",
            "the flood evacuation point by the bridge",
            "the campsite hit by the flash flood",
        ),
        "walking": (("hypothermia",),),
        "down": (("drowning",), ("drowning", "hypothermia")),
        "trauma": False,
    },
    "fire": {
        "scenes": (
            "a house fire on the edge of town",
            "the burning apartment building",
            "a fire in the holiday cabins",
            "the row of terraced houses on fire",
        ),
        "walking": (("burn",), ("smoke_inhalation",)),
        "down": (("burn", "smoke_inhalation"), ("smoke_inhalation",), ("burn",)),
        "trauma": False,
    },
    "chemical": {
        "scenes": (
            "the chemical spill at the rail yard",
            "a tanker crash spilling chemicals",
            "the pool-chemical store spill at the leisure centre",
            "a burst drum at the fertiliser depot",
        ),
        "walking": (("chemical",),),
        "down": (("chemical",),),
        "trauma": False,
    },
    "fall": {
        "scenes": (
            "a balcony collapse at the evacuation centre",
            "the stairwell of the damaged shelter building",
            "a broken footbridge over the dry canal",
            "a playground frame that gave way at the camp",
        ),
        "walking": (("fracture",), ("head_injury",)),
        "down": (("spinal",), ("spinal", "head_injury"), ("head_injury", "fracture")),
        "trauma": True,
    },
    "bus": {
        "scenes": (
            "a school bus rollover on the highway",
            "the bus crash at the junction",
            "a minibus collision with children on board",
            "a coach overturned on the bridge approach",
        ),
        "walking": (("bleeding",), ("fracture",)),
        "down": (("bleeding", "fracture"), ("head_injury", "bleeding"), ("spinal", "bleeding")),
        "trauma": True,
    },
    "stings": {
        "scenes": (
            "a wasp swarm at the emergency shelter",
            "bees swarming near the shelter tents",
            "a hornet nest disturbed at the evacuation camp",
            "the temporary shelter after a mass-sting incident",
        ),
        "walking": ((),),
        "down": (("anaphylaxis",),),
        "trauma": False,
    },
}
SETTING_NAMES = tuple(SETTINGS)

# (text for the user message, limb word used by actions)
INJURY_DOWN = {
    "crush": (
        ("legs pinned under a concrete slab for about two hours", "leg"),
        ("trapped from the waist down under a fallen beam since the main shock", "leg"),
        ("one leg caught under collapsed masonry for over an hour", "leg"),
        ("an arm trapped under a fallen wall for about three hours", "arm"),
    ),
    # Bleeding that pressure holds: uncontrolled major bleeding is the policy's override to
    # RED (docs/TRIAGE_POLICY.md), which these steps-only families do not describe.
    "bleeding": (
        ("a deep gash on the thigh, oozing under a pressure bandage", "leg"),
        ("a bleeding cut on the forearm that slows when pressed", "arm"),
        ("blood on the trouser leg from a deep cut, now wrapped tight", "leg"),
    ),
    "fracture": (
        ("a lower leg bent at the wrong angle", "leg"),
        ("a swollen, deformed forearm", "arm"),
        ("an obviously broken upper arm", "arm"),
    ),
    "burn": (
        ("burns on the arm and chest", "arm"),
        ("blistered burns to both hands", "arm"),
        ("burns across one forearm and the neck", "arm"),
    ),
    "smoke_inhalation": (
        ("soot around the nose and mouth", ""),
        ("carried out of a smoke-filled room", ""),
        ("smelling strongly of smoke, soot in the nostrils", ""),
    ),
    "drowning": (
        ("pulled out of the floodwater after going under", ""),
        ("found face-down in shallow floodwater", ""),
        ("swept off a car roof and under the water", ""),
    ),
    "hypothermia": (
        ("soaked and very cold to the touch", ""),
        ("pale, cold skin after a long time in the water", ""),
        ("wet clothes, cold hands and feet", ""),
    ),
    "chemical": (
        ("clothes soaked with the spilled chemical", ""),
        ("skin and clothes covered in residue from the spill", ""),
        ("splashed with an unknown chemical, skin reddened", ""),
    ),
    "spinal": (
        ("fell about four metres onto {his} back", ""),
        ("found at the foot of the stairs after a long fall", ""),
        ("landed head-first after a fall from height", ""),
    ),
    "head_injury": (
        ("a large swelling on the forehead", ""),
        ("hit {his} head on a concrete edge", ""),
        ("a scalp wound and a lump above one ear", ""),
    ),
    "anaphylaxis": (
        ("stung many times, lips and eyelids swelling", ""),
        ("hives everywhere after the stings, face puffing up", ""),
        # No airway sign here (tongue or throat swelling, stridor, a hoarse voice): those are
        # the policy's airway_threat override (docs/TRIAGE_POLICY.md), RED whatever the steps.
        ("hives and swollen eyelids after multiple stings", ""),
    ),
}
# Where a setting changes how an injury happened.
INJURY_DOWN_IN_SETTING = {
    ("bus", "spinal"): (
        ("thrown against the roof as the bus rolled", ""),
        ("found twisted between the seats, neck at an odd angle", ""),
        ("thrown from a window onto the verge", ""),
    ),
    ("bus", "head_injury"): (
        ("hit {his} head hard on a seat frame", ""),
        ("a large swelling on the forehead", ""),
        ("a scalp wound from the broken window", ""),
    ),
}
INJURY_WALKING = {
    "bleeding": (
        ("small cuts on both arms", "arm"),
        ("a grazed knee and a bleeding scrape on the elbow", "arm"),
    ),
    "hypothermia": (("wet through and shivering", ""), ("cold and shaking in soaked clothes", "")),
    "burn": (
        ("a blistered burn on the back of one hand", "arm"),
        ("a red, painful burn on the forearm", "arm"),
    ),
    "smoke_inhalation": (
        ("coughing a little, soot on the face", ""),
        ("smelling of smoke, with a slight cough", ""),
    ),
    "chemical": (
        ("splashes of the chemical on {his} trousers, skin stinging", ""),
        ("chemical residue on {his} arms and clothes", ""),
    ),
    "fracture": (
        ("holding a painful, swollen wrist", "arm"),
        ("cradling a sore, swollen forearm", "arm"),
    ),
    "head_injury": (("a bump on the forehead", ""), ("a small scalp cut from a falling tile", "")),
    "earthquake": (
        ("only scrapes and dust on the face", ""),
        ("no obvious injury, covered in dust and frightened", ""),
    ),
    "stings": (
        ("a few stings on the arms, no face swelling and no trouble breathing", ""),
        ("two stings on one hand, no swelling of the lips or face", ""),
    ),
}

# Hazard actions: (display order, templates). Order 0 = airway, breathing and major bleeding,
# 1 = other life-saving care, 2 = the rest. Actions are listed most important first (trimming
# drops from the end) and displayed by order.
HAZARD_ACTIONS_DOWN = {
    "crush": (
        (
            1,
            (
                "Before the load is lifted, get IV or IO access and give a fluid bolus "
                "{bolus_k} mL/kg x {w} kg{w_note} = {bolus} mL of 0.9% saline.",
                "Start fluids while {he} is still trapped: 0.9% saline {bolus_k} mL/kg x {w} kg{w_note} = "
                "{bolus} mL IV/IO, ahead of extraction.",
                "Get an IV or IO line in and run a fluid bolus of {bolus_k} mL/kg x {w} kg{w_note} = {bolus} "
                "mL before anyone lifts the weight.",
            ),
        ),
        (
            2,
            (
                "Plan the extraction with the team and have a monitor ready: potassium surges when "
                "the weight comes off.",
                "Expect a dangerous rise in potassium at extraction; watch the pulse rhythm closely "
                "as {he} comes out.",
            ),
        ),
        (
            2,
            (
                "Splint the crushed {limb} as it lies, with padding.",
                "Pad and support the crushed {limb} in the position found.",
            ),
        ),
    ),
    "bleeding": (
        (
            0,
            (
                "Press hard on the bleeding wound; if the {limb} keeps bleeding, apply a tourniquet "
                "above it and write the time on it.",
                "Control the bleeding with firm direct pressure, and a tourniquet high on the {limb} "
                "if pressure fails; note the time.",
                "Pack and press the wound; for {limb} bleeding that will not stop, a tourniquet goes "
                "on and stays on.",
            ),
        ),
    ),
    "fracture": (
        (
            2,
            (
                "Splint the {limb} in the position found, then check pulse, colour and feeling "
                "beyond the injury.",
                "Support the injured {limb} with a splint as it lies and check the circulation "
                "below it.",
            ),
        ),
    ),
    "burn": (
        (
            2,
            (
                "Cool the burned skin with cool running water for 20 minutes, then cover it loosely "
                "with cling film or a clean, dry dressing.",
                "Run cool tap water over the burn for 20 minutes and keep the rest of {him} covered "
                "and warm.",
                "Cool only the burn, 20 minutes under running water, and wrap the rest of {him} "
                "against chilling.",
            ),
        ),
    ),
    "smoke_inhalation": (
        (
            0,
            (
                "Move {him} into clean air and give high-flow oxygen if you carry it.",
                "Get {him} away from the smoke into fresh air; oxygen at high flow if available.",
            ),
        ),
        (
            2,
            (
                "Watch the airway closely: soot in the mouth, a hoarse voice or stridor mean "
                "swelling may follow.",
                "Look in the mouth and listen to the voice: soot, hoarseness or stridor warn of "
                "airway swelling.",
            ),
        ),
    ),
    "drowning": (
        (
            2,
            (
                "Expect vomiting: if it comes, turn {him} onto {his} side and clear the mouth.",
                "Be ready for vomiting; roll {him} onto {his} side and clear the mouth if it "
                "happens.",
            ),
        ),
        (
            2,
            (
                "Give oxygen if available; water swallowed or inhaled does not need to come out "
                "first.",
            ),
        ),
    ),
    "hypothermia": (
        (
            2,
            (
                "Get the wet clothes off, dry {him} and wrap {him} in blankets with the head "
                "covered.",
                "Strip the wet clothing, dry {him} and insulate {him} from the ground and wind.",
            ),
        ),
        (
            2,
            (
                "Handle {him} gently and keep {him} horizontal while warming.",
                "Warm packs go on the chest, armpits and groin; handle {him} gently.",
            ),
        ),
    ),
    "chemical": (
        (
            1,
            (
                "Cut the contaminated clothes off and bag them, brush off any dry powder, then "
                "rinse the skin with plenty of running water.",
                "Decontaminate now: cut the clothing off, then a long rinse with lukewarm running "
                "water.",
                "Start decontamination in the first minutes: clothing cut off and bagged, skin "
                "rinsed with plenty of water.",
            ),
        ),
        (
            0,
            (
                "Protect yourself first: gloves on and stay upwind of the spill.",
                "Gloves on and approach from upwind before you touch {him}.",
            ),
        ),
    ),
    "spinal": (
        (
            0,
            (
                "Hold {his} head and neck in line with your hands until a collar or other "
                "restriction is on.",
                "Keep manual in-line stabilisation of the head and neck throughout.",
            ),
        ),
    ),
    "head_injury": (
        (
            2,
            (
                "Check AVPU and the pupils every 5 minutes and keep a helper with {him} "
                "throughout.",
                "Keep someone with {him} at all times and recheck responsiveness and pupils every "
                "5 minutes.",
            ),
        ),
    ),
    "anaphylaxis": (
        (
            1,
            (
                "Epinephrine 1 mg/mL IM 0.01 mg/kg x {w} kg{w_note} = {epi} mg into the outer thigh; "
                "repeat after 5-15 minutes if there is no improvement.",
                "Give IM epinephrine (1 mg/mL) into the outer mid-thigh: 0.01 mg/kg x {w} kg{w_note} = "
                "{epi} mg.",
                "Inject epinephrine 1 mg/mL intramuscularly, 0.01 mg/kg x {w} kg{w_note} = {epi} mg, in "
                "the front-outer thigh.",
            ),
        ),
        (
            2,
            (
                "Lay {him} flat with the legs raised; if breathing is the main problem {he} may "
                "half-sit, but never stand.",
                "Keep {him} lying down with the legs up, or half-sitting if breathing is hard.",
            ),
        ),
        (2, ("Scrape away any stingers still in the skin.",)),
    ),
}
HAZARD_ACTIONS_WALKING = {
    "bleeding": (
        (
            2,
            (
                "Clean and cover the small wounds.",
                "Press the scrapes clean and cover them with dressings.",
            ),
        ),
    ),
    "hypothermia": (
        (
            2,
            (
                "Swap the wet clothes for dry ones and wrap {him} in a blanket.",
                "Get {him} out of the wet clothes and into a blanket, out of the wind.",
            ),
        ),
    ),
    "burn": (
        (
            2,
            (
                "Cool the burn under cool running water for 20 minutes, then cover it with "
                "cling film.",
                "Hold the burned hand or arm under cool running water for 20 minutes.",
            ),
        ),
    ),
    "smoke_inhalation": (
        (
            2,
            (
                "Keep {him} in fresh air and listen for a hoarse voice or noisy breathing.",
                "Move {him} upwind of the smoke and check the mouth for soot.",
            ),
        ),
    ),
    "chemical": (
        (
            1,
            (
                "Cut off the splashed clothing and rinse the skin with plenty of running water.",
                "Decontaminate first: clothes off, then a long rinse with running water.",
            ),
        ),
    ),
    "fracture": (
        (
            2,
            (
                "Splint the sore {limb} and support it in a sling.",
                "Put the injured {limb} in a splint and sling.",
            ),
        ),
    ),
    "head_injury": (
        (2, ("Keep a named adult with {him} and recheck how alert {he} is every 15 minutes.",)),
    ),
}

HAZARD_REASSESS = {
    "crush": (
        "the weight comes off: watch for collapse or a slow, irregular pulse",
        "{he} is freed: the first minutes after release are the most dangerous",
    ),
    "bleeding": (
        "blood soaks through the dressing or past the tourniquet",
        "bleeding starts again anywhere",
    ),
    "fracture": ("the hand or foot beyond the injury turns pale, cold or numb",),
    "burn": ("{he} starts shivering or feels cold to touch", "the burned area swells tight"),
    "smoke_inhalation": (
        "a hoarse voice, stridor or drooling appears",
        "coughing or breathlessness gets worse",
    ),
    "drowning": ("cough, fast breathing or blue lips develop over the next hours",),
    "hypothermia": ("shivering stops or {he} becomes drowsy",),
    "chemical": ("coughing, wheeze or eye pain worsens after rinsing",),
    "spinal": ("new weakness, numbness or loss of movement in the limbs",),
    "head_injury": ("{he} vomits repeatedly, gets drowsier, or the pupils become unequal",),
    "anaphylaxis": (
        "wheeze, swelling or faintness comes back after the first dose",
        "{he} becomes pale, floppy or faint",
    ),
}


def _hazard_do_not(
    hazards: tuple[str, ...], rng: random.Random, skip: tuple[str, ...] = ()
) -> list[str]:
    """One prohibition wording per contraindication the hazards call for (always-wrong ones
    only where their own hazards are present), shuffled."""
    wanted = set(hazards)
    items = []
    for rule in contraindications_for(hazards):
        if rule.key in skip or not wanted.intersection(rule.hazards):
            continue
        items.append(rng.choice(rule.prohibitions))
    rng.shuffle(items)
    return items


def _hazard_actions(hazards, table, words, rng, limbs) -> list[tuple[int, str]]:
    found = []
    for hazard in hazards:
        limb = limbs.get(hazard) or "limb"
        for order, templates in table.get(hazard, ()):
            found.append((order, _fill(rng.choice(templates), {**words, "limb": limb})))
    return found


def _injury_text(hazards, walking, words, rng, setting) -> tuple[str, dict[str, str]]:
    """What the user says about the injuries, and the limb each hazard involves."""
    table = INJURY_WALKING if walking else INJURY_DOWN
    if not hazards:
        text, _ = rng.choice(INJURY_WALKING[setting])
        return _fill(text, words), {}
    parts, limbs = [], {}
    for hazard in hazards:
        options = table[hazard]
        if not walking:
            options = INJURY_DOWN_IN_SETTING.get((setting, hazard), options)
        text, limb = rng.choice(options)
        parts.append(_fill(text, words))
        limbs[hazard] = limb
    if len(parts) == 2:
        return rng.choice(("{} and {}", "{}; also {}")).format(*parts), limbs
    return _join(parts), limbs


# --------------------------------------------------------------------------------------------
# Observations as a user writes them
# --------------------------------------------------------------------------------------------

CLINICAL = {
    "walk_no": ("not walking", "can't stand", "non-ambulatory", "unable to walk"),
    "walk_yes": ("walking", "walked over on {his} own", "up and walking", "ambulatory"),
    "rr": (
        "RR {rr}",
        "resp rate {rr}/min",
        "breathing {rr}/min",
        "{rr} breaths per minute",
        "respirations {rr}",
    ),
    "pulse_yes": ("{pulse} pulse present", "good {pulse} pulse", "{pulse} pulse palpable"),
    "pulse_no": ("no {pulse} pulse", "{pulse} pulse absent", "can't feel a {pulse} pulse"),
    "A": ("alert", "awake and alert", "A on AVPU"),
    "V": ("responds to voice only", "V on AVPU", "opens eyes to voice"),
    "P_ok": (
        "responds to pain only, pulls away from it",
        "P on AVPU, withdraws from pain",
        "only reacts to a pinch, and localises it",
    ),
    "P_bad": (
        "responds to pain only with posturing",
        "P on AVPU, abnormal extension to pain",
        "to a pinch only stiffens and arches, no withdrawal",
    ),
    "U": ("unresponsive", "U on AVPU", "no response to voice or pain"),
    "apnea": ("not breathing", "apneic", "no breathing"),
    "airway_yes": (
        "started breathing after airway repositioning",
        "breathing once I repositioned the airway",
    ),
    "airway_no": ("still apneic after repositioning", "no breaths after opening the airway"),
    "rescue_yes": (
        "5 rescue breaths given, now breathing on {his} own",
        "after 5 rescue breaths {he} is breathing",
    ),
    "rescue_no": ("gave 5 rescue breaths, still nothing", "no breathing after 5 rescue breaths"),
    "cap": ("cap refill {cap} s", "capillary refill {cap} s", "refill {cap} sec"),
    "cmd_yes": ("follows commands", "squeezes my hand when asked", "obeys simple commands"),
    "cmd_no": (
        "can't follow commands",
        "doesn't follow simple commands",
        "doesn't respond to 'squeeze my hand'",
    ),
}
PLAIN = {
    "walk_no": ("{he} can't get up", "{he} can't walk"),
    "walk_yes": ("{he} walked over here by {himself}", "{he} is walking about"),
    "rr": (
        "{he}'s breathing {rr} times a minute, I counted",
        "I counted {rr} breaths in a minute",
        "{his} breathing is {rr} a minute",
    ),
    "pulse_yes": (
        "I can feel a pulse in {his} {pulse_place}",
        "there's a pulse at {his} {pulse_place}",
    ),
    "pulse_no": (
        "I can't find a pulse at {his} {pulse_place}",
        "no pulse that I can feel in {his} {pulse_place}",
    ),
    "A": ("{he}'s awake and {awake_doing}", "{he} is awake and looking at me"),
    "V": (
        "{he} only opens {his} eyes when I shout {his} name",
        "{he} only stirs when I call {him}",
    ),
    "P_ok": (
        "{he} only reacts when I pinch {him}, and pulls away",
        "nothing to my voice, but {he} pushes my hand away when I pinch",
    ),
    "P_bad": (
        "when I pinch {him} {he} goes stiff and arches, no pulling away",
        "a pinch only makes {his} arms go rigid",
    ),
    "U": (
        "{he} doesn't react at all, even when I pinch {him}",
        "no reaction to my voice or a pinch",
    ),
    "apnea": ("{he} wasn't breathing", "{he} had stopped breathing"),
    "airway_yes": (
        "when I moved {his} head and jaw {he} started breathing",
        "{he} began breathing once I opened the airway",
    ),
    "airway_no": ("opening the airway didn't help", "still no breaths after I opened the airway"),
    "rescue_yes": (
        "I gave 5 breaths and now {he}'s breathing by {himself}",
        "after 5 rescue breaths {he} started breathing",
    ),
    "rescue_no": ("I gave 5 breaths and nothing", "5 rescue breaths and still no breathing"),
    "cap": (
        "when I press {his} nail it takes {cap} {sec} to pink up",
        "capillary refill is {cap} {sec}",
    ),
    "cmd_yes": ("{he} does what I ask", "{he} squeezes my hand when I ask"),
    "cmd_no": ("{he} can't do what I ask", "{he} won't squeeze my hand when asked"),
}


def _observation_phrases(scenario: dict, words: dict, rng: random.Random, plain: bool) -> list[str]:
    """The scenario's observations as phrases; the apneic chain stays in order, the rest is
    shuffled so a model cannot learn one observation order."""
    table = PLAIN if plain else CLINICAL
    extra = {
        **words,
        "pulse_place": "upper arm" if words["pulse"] == "brachial" else "wrist",
        "awake_doing": "crying" if float(scenario["age_years"]) < 3 else "talking",
        "rr": str(scenario.get("resp_rate", "")),
        "cap": str(scenario.get("cap_refill_s")),
        "sec": "second" if scenario.get("cap_refill_s") == 1 else "seconds",
    }

    def say(key: str) -> str:
        return _fill(rng.choice(table[key]), extra)

    head, rest = [], []
    if "ambulatory" in scenario:
        head.append(say("walk_yes" if scenario["ambulatory"] else "walk_no"))
    if scenario.get("breathing") is False:
        chain = [
            say("apnea"),
            say("airway_yes" if scenario["breathing_after_airway"] else "airway_no"),
        ]
        if "peripheral_pulse" in scenario:
            chain.append(say("pulse_yes" if scenario["peripheral_pulse"] else "pulse_no"))
        if "breathing_after_rescue_breaths" in scenario:
            chain.append(
                say("rescue_yes" if scenario["breathing_after_rescue_breaths"] else "rescue_no")
            )
        return head + chain
    if "resp_rate" in scenario:
        rest.append(say("rr"))
    for key in ("peripheral_pulse", "radial_pulse"):
        if key in scenario:
            rest.append(say("pulse_yes" if scenario[key] else "pulse_no"))
    if "cap_refill_s" in scenario:
        rest.append(say("cap"))
    if "avpu" in scenario:
        avpu = scenario["avpu"]
        if avpu == "P":
            avpu = "P_ok" if scenario.get("pain_response") == "appropriate" else "P_bad"
        rest.append(say(avpu))
    if "follows_commands" in scenario:
        rest.append(say("cmd_yes" if scenario["follows_commands"] else "cmd_no"))
    rng.shuffle(rest)
    if head and rng.random() < 0.3:
        rest.insert(rng.randrange(len(rest) + 1), head.pop())
    return head + rest


def _user_age(child: Child, rng: random.Random) -> str:
    if child.infant:
        months = round(child.age * 12)
        return rng.choice((f"{months} months old", f"{months}-month-old", f"about {months} months"))
    if child.age < 2 and child.age != int(child.age):
        return f"{round(child.age * 12)} months"
    years = int(child.age)
    return rng.choice(
        (
            f"{years} years old",
            f"approx {years} yrs",
            f"{years} y/o",
            f"aged {years}",
            f"about {years}",
        )
    )


QUESTIONS = (
    "Triage?",
    "What colour?",
    "What tag and what do I do first?",
    "How do I triage {him}?",
    "Category and immediate steps?",
    "What do I do?",
    "Which tag, and what now?",
    "Help me sort {him}.",
)


def _patient_user(
    child: Child, scenario: dict, scene: str, injury: str, rng: random.Random, words: dict
) -> str:
    style = rng.choice(("radio", "note", "worried", "checklist", "volunteer"))
    plain = style in ("worried", "volunteer") and rng.random() < 0.7
    obs = _observation_phrases(scenario, words, rng, plain) + _weight_phrase(child, words, rng)
    question = _fill(rng.choice(QUESTIONS), words)
    kid = child.noun()
    if style in ("radio", "checklist"):
        kid = child.noun(with_age=False)
    if style == "radio":
        call = rng.choice(
            ("Medic 3 to triage", "Team 2", "Rescue 5 here", "Unit 4", "Sector B lead")
        )
        if rng.random() < 0.5:
            return (
                f"{call}, {scene}: {kid}, {_user_age(child, rng)}, {injury}. "
                f"{_cap(', '.join(obs))}. {question}"
            )
        return (
            f"{call}: {scene}. {_cap(kid)}, {_user_age(child, rng)}, {injury}. "
            f"{_cap(', '.join(obs))}. {question}"
        )
    if style == "note":
        return (
            f"{_cap(_with_article(words['age']))} {kid} at {scene}: {injury}. "
            f"Findings: {', '.join(obs)}. {question}"
        )
    if style == "checklist":
        lines = "\n".join(f"- {item}" for item in obs)
        opener = rng.choice(("Triage check at", "Primary triage,", "Sorting at", "Checklist from"))
        return f"{opener} {scene}: {kid}, {_user_age(child, rng)}, {injury}.\n{lines}\n{question}"
    if style == "worried":
        opener = rng.choice(
            (
                "Please help, I'm at",
                "I need help fast, we're at",
                "Quick, I'm a first aider at",
                "Help please, at",
            )
        )
        if rng.random() < 0.5:
            return (
                f"{opener} {scene} with a {kid}, {_user_age(child, rng)}: {injury}. "
                f"{_cap('; '.join(obs))}. {question}"
            )
        return (
            f"{opener} {scene}. There's a {kid}, {_user_age(child, rng)}, {injury}. "
            f"{_cap('; '.join(obs))}. {question}"
        )
    opener = rng.choice(("I'm volunteering at", "Our team is working", "I'm on the search team at"))
    return (
        f"{opener} {scene} with {_with_article(words['age'])} {kid}: {injury}. "
        f"{_cap(', '.join(obs))}. {question}"
    )


# --------------------------------------------------------------------------------------------
# Rationale, actions and triggers for one patient
# --------------------------------------------------------------------------------------------


def _rr_unit(rng: random.Random) -> str:
    return rng.choice(("/min", " breaths per minute", " breaths a minute"))


def _normal_rr_sentence(child: Child, rr: float | None, words: dict, rng: random.Random) -> str:
    low, high = canonical_range(child.age, "rr")
    unit = _rr_unit(rng)
    if rr is None:
        return _fill(
            rng.choice(
                (
                    "Once breathing is steady, the target is the normal RR for {a_age}: "
                    f"{low}-{high}{unit}.",
                    f"For later monitoring, the normal RR for {{a_age}} is {low}-{high}{unit}.",
                    f"Normal RR for {{a_age}}: {low}-{high}{unit}, which is the goal as {{he}} "
                    "recovers.",
                )
            ),
            words,
        )
    rr_text = f"{rr:g}"
    if rr < low:
        relation = rng.choice(("below", "under", "short of"))
    elif rr > high:
        relation = rng.choice(("above", "over", "higher than"))
    else:
        relation = rng.choice(("within", "inside", "in"))
    return _fill(
        rng.choice(
            (
                f"For comparison, the normal RR for {{a_age}} is {low}-{high}{unit}, and {{he}} is at "
                f"{rr_text}.",
                f"{{His}} rate of {rr_text}/min is {relation} the normal RR for {{a_age}} "
                f"({low}-{high}/min).",
                f"Normal RR for {{a_age}}: {low}-{high}{unit}; {{he}} is breathing {rr_text}.",
                f"A rate of {rr_text} sits {relation} the normal RR for {{a_age}}, {low}-{high}{unit}.",
            )
        ),
        words,
    )


def _normal_hr_sentence(child: Child, words: dict, rng: random.Random) -> str:
    low, high = canonical_range(child.age, "hr")
    unit = rng.choice(("/min", " beats per minute", " bpm"))
    return _fill(
        rng.choice(
            (
                f"When you can count a pulse, compare it with the normal heart rate for {{a_age}}: "
                f"{low}-{high}{unit}.",
                f"Normal heart rate for {{a_age}}: {low}-{high}{unit}; a faster rate at rest is an "
                "early shock sign.",
                f"Keep in mind the normal heart rate for {{a_age}}, {low}-{high}{unit}.",
            )
        ),
        words,
    )


JS_RATIONALE = {
    "walks": (
        "{He} walked to the collection point on {his} own, which makes {him} GREEN (Minor) at "
        "the first JumpSTART step.",
        "JumpSTART first asks whether the child can walk; this {age} walked, so the tag is "
        "GREEN (Minor).",
        "A child who is walking is sorted GREEN (Minor) at the first step of JumpSTART, before "
        "breathing is even counted.",
    ),
    "airway": (
        "{He} was not breathing but started once the airway was opened, and JumpSTART tags that "
        "RED (Immediate).",
        "Apnea that resolves with airway positioning is an Immediate (RED) finding in JumpSTART: "
        "the airway has to be held open now.",
        "Breathing came back only after the airway was repositioned; JumpSTART sends that child "
        "straight to RED (Immediate).",
    ),
    "nopulse": (
        "Not breathing after the airway was opened and no peripheral pulse: JumpSTART tags "
        "this child BLACK (Deceased/Expectant), and no rescue breaths are given.",
        "With apnea after repositioning and no palpable pulse, JumpSTART stops at BLACK "
        "(Deceased/Expectant); the 5-breath trial is only for children who still have a pulse.",
        "JumpSTART gives rescue breaths only when a pulse is present; with no breathing after "
        "airway opening and no pulse, the tag is BLACK (Deceased/Expectant).",
    ),
    "rescue_red": (
        "{He} was apneic after repositioning but had a pulse, so JumpSTART calls for 5 rescue "
        "breaths; breathing came back, which makes {him} RED (Immediate).",
        "JumpSTART gives a child with a pulse a ventilatory trial before any BLACK tag; {he} "
        "responded to the 5 breaths, so the tag is RED (Immediate).",
        "Apneic with a palpable pulse, then breathing after 5 rescue breaths: that is the "
        "JumpSTART route to RED (Immediate).",
    ),
    "rescue_black": (
        "There is a pulse, but {he} stayed apneic through the 5 rescue breaths, so JumpSTART "
        "tags {him} BLACK (Deceased/Expectant).",
        "The ventilatory trial has been done: no spontaneous breaths after 5 rescue breaths, "
        "which is BLACK (Deceased/Expectant) in JumpSTART.",
        "JumpSTART tried 5 rescue breaths because a pulse was present; with no breathing after "
        "them, the tag is BLACK (Deceased/Expectant).",
    ),
    "rr_low": (
        "A rate of {rr}/min is below the JumpSTART band of 15-45/min, so the tag is RED "
        "(Immediate).",
        "JumpSTART treats any rate under 15/min as Immediate; {rr}{unit} is too slow, so RED.",
        "{He} is breathing, but at {rr}/min, under the JumpSTART lower limit of 15/min: RED "
        "(Immediate).",
    ),
    "rr_high": (
        "A rate of {rr}/min is above the JumpSTART band of 15-45/min, so the tag is RED "
        "(Immediate).",
        "JumpSTART sends any child breathing faster than 45/min to RED (Immediate); {he} is at "
        "{rr}{unit}.",
        "{He} is breathing {rr}/min, over the JumpSTART upper limit of 45/min: RED (Immediate).",
    ),
    "no_pulse": (
        "Breathing at {rr}/min is inside the JumpSTART band of 15-45/min, but with no palpable "
        "{pulse} pulse the child is RED (Immediate).",
        "JumpSTART judges perfusion by the peripheral pulse; an absent {pulse} pulse makes "
        "{him} RED (Immediate) even though {his} rate of {rr} passes.",
        "{His} rate of {rr}/min passes the JumpSTART band of 15-45/min, then the pulse check "
        "fails: no {pulse} pulse, so RED (Immediate).",
    ),
    "avpu_u": (
        "Rate {rr}/min is in the JumpSTART band and a pulse is present, but {he} is "
        "unresponsive (U on AVPU), which is RED (Immediate).",
        "{He} passes the breathing and pulse steps, then fails the mental status step: "
        "unresponsive to voice and pain means RED (Immediate).",
        "Breathing {rr}/min with a {pulse} pulse, yet no response to voice or pain: JumpSTART "
        "tags U on AVPU as RED (Immediate).",
    ),
    "pain_bad": (
        "{He} responds only to pain, and the response is inappropriate (posturing, no "
        "localising), which JumpSTART tags RED (Immediate).",
        "Breathing in band and a pulse present, but the only response to pain is abnormal "
        "posturing: P with an inappropriate response is RED (Immediate).",
        "JumpSTART's last step is AVPU: an inappropriate response to pain puts {him} in RED "
        "(Immediate).",
    ),
    "pain_ok": (
        "{He} responds only to pain but pulls away appropriately; with breathing in band and a "
        "pulse present, JumpSTART tags YELLOW (Delayed).",
        "Rate {rr}/min in band, {pulse} pulse present and an appropriate response to pain: "
        "that is YELLOW (Delayed) in JumpSTART.",
        "P on AVPU with an appropriate (withdrawing, localising) response does not make {him} "
        "RED; {he} is YELLOW (Delayed).",
    ),
    "alert": (
        "Breathing in band, pulse present and {avpu_text}: every JumpSTART check is passed, so "
        "the tag is YELLOW (Delayed).",
        "{He} cannot walk but breathes {rr}/min inside the JumpSTART band, has a {pulse} pulse "
        "and is {avpu_text}: YELLOW (Delayed).",
        "Rate {rr}{unit} within the JumpSTART band of 15-45/min, a palpable {pulse} pulse and "
        "{avpu_text} make {him} YELLOW (Delayed).",
    ),
}

ST_RATIONALE = {
    "walks": (
        "{He} is walking, and START sorts every walking patient GREEN (Minor) at the first step.",
        "At {years} START applies, and its first question is walking: {he} walks, so GREEN "
        "(Minor).",
        "Walking patients are GREEN (Minor) under START before anything else is measured.",
    ),
    "airway": (
        "Not breathing until the airway was repositioned, then breathing: START tags that RED "
        "(Immediate).",
        "START repositions the airway of a patient who is not breathing; {he} started "
        "breathing, so RED (Immediate).",
        "Breathing that returns only with airway positioning is RED (Immediate) in START.",
    ),
    "apneic": (
        "Still not breathing after the airway was repositioned: START tags BLACK "
        "(Deceased/Expectant), and unlike JumpSTART it gives no rescue breaths.",
        "START has no ventilatory trial: apneic after one airway repositioning means BLACK "
        "(Deceased/Expectant).",
        "At {years} START applies, and a patient who stays apneic after airway positioning is "
        "BLACK (Deceased/Expectant).",
    ),
    "rr_high": (
        "A rate of {rr}/min is over the START cut-off of 30/min, so the tag is RED (Immediate).",
        "START tags RED (Immediate) above 30 breaths a minute; {he} is at {rr}{unit}.",
        "{He} breathes {rr}/min, more than the START limit of 30/min: RED (Immediate).",
    ),
    "rr30": (
        "A rate of exactly 30/min does not exceed the START cut-off of 30/min, so the check "
        "moves on; radial pulse present and {he} follows commands: YELLOW (Delayed).",
        "START only tags RED above 30/min, and 30 itself is in band; with a radial pulse and "
        "commands followed, {he} is YELLOW (Delayed).",
        "RR 30/min sits on the START cut-off, not over it, so perfusion and mental status "
        "decide: both pass, YELLOW (Delayed).",
    ),
    "no_radial": (
        "Rate {rr}/min is within the START limit of 30/min, but there is no radial pulse, so "
        "RED (Immediate).",
        "START checks perfusion next: an absent radial pulse tags {him} RED (Immediate).",
        "{He} passes the breathing step at {rr}/min and fails perfusion with no radial pulse: "
        "RED (Immediate).",
    ),
    "cap_refill": (
        "The radial pulse is there, but capillary refill of {cap} s is longer than the START "
        "limit of 2 s, so RED (Immediate).",
        "START counts capillary refill over 2 seconds as poor perfusion; {his} refill is {cap} "
        "s, so RED (Immediate).",
        "Breathing passes at {rr}/min, then refill takes {cap} s, over 2 s: START tags RED "
        "(Immediate).",
    ),
    "no_commands": (
        "Breathing and perfusion pass, but {he} cannot follow simple commands, so START tags "
        "RED (Immediate).",
        "START's last step is mental status: not obeying a simple command means RED (Immediate).",
        "Rate {rr}/min and a radial pulse pass, yet {he} does not follow commands: RED "
        "(Immediate).",
    ),
    "yellow": (
        "Breathing {rr}/min (not over 30), a radial pulse and commands followed: START gives "
        "YELLOW (Delayed).",
        "{He} cannot walk but passes every other START check, so the tag is YELLOW (Delayed).",
        "Rate {rr}{unit} within the START cut-off, good perfusion and {he} obeys commands: "
        "YELLOW (Delayed).",
    ),
}

BOUNDARY_NOTES = {
    14: "At 14/min {he} is one breath short of the band's lower edge, so it counts as too slow.",
    15: "15/min is the lower edge of the JumpSTART band and counts as inside it.",
    45: "45/min is the upper edge of the JumpSTART band and still counts as inside it.",
    46: "At 46/min {he} is just past the upper edge of 45/min, which is enough for RED.",
    30: "The START cut-off is strictly over 30/min, so 30 itself passes.",
    31: "31/min is one breath over the START cut-off, which is enough for RED.",
}

TAG_ACTIONS = {
    "GREEN": (
        "Send {him} to the GREEN (Minor) area with a named adult.",
        "Direct {him} to the Minor treatment area and ask a helper to stay with {him}.",
        "Move {him} to the GREEN collection point, keeping siblings together.",
    ),
    "RED": (
        "Tag RED and move {him} first for treatment and transport.",
        "Tag RED: {he} goes first to the treatment area.",
        "RED tag; {he} is first in line for evacuation.",
    ),
    "YELLOW": (
        "Tag YELLOW and move {him} to the Delayed area.",
        "Place {him} in the YELLOW (Delayed) area with someone watching.",
        "YELLOW tag; {he} can wait for treatment, but not unwatched.",
    ),
    "BLACK": (
        "Tag {him} BLACK and move to the next child.",
        "Apply a BLACK tag and continue the sweep.",
        "BLACK tag, then on to the next patient.",
    ),
}

TRAPPED_TAG_ACTIONS = {
    "RED": (
        "Tag RED: {he} is first for extraction and treatment.",
        "RED tag; {he} comes out first once fluids are running.",
    ),
    "YELLOW": (
        "Tag YELLOW and keep a helper with {him} until extraction.",
        "YELLOW tag; someone stays with {him} while the team plans extraction.",
    ),
}

PATH_ACTIONS = {
    "walks": (
        (
            4,
            (
                "Do a head-to-toe secondary check once the RED children are handled: children walk "
                "with injuries they do not mention.",
                "Give {him} a secondary assessment soon; walking does not rule out internal injury.",
                "Recheck {him} in the GREEN area: every walking child still needs secondary "
                "triage.",
            ),
        ),
        (
            4,
            (
                "Note {his} name, age and where {he} was found for family reunification.",
                "Write down who {he} came with and where {he} was found, so families can be "
                "reunited.",
            ),
        ),
    ),
    "airway": (
        (
            0,
            (
                "Keep the airway open with {airway_move} and watch the chest rise.",
                "Hold the airway open with {airway_move}; once {he} is breathing, do not let the "
                "position slip.",
            ),
        ),
        (0, ("Give oxygen if it is available.", "Add oxygen as soon as you have it.")),
        (
            4,
            (
                "Hand the airway to a helper who stays with {him} while you continue triage.",
                "Ask a bystander to keep holding the airway so you can continue the sweep.",
            ),
        ),
    ),
    "black": (
        (
            4,
            (
                "Note the time and where {he} lies, and report it to the team leader.",
                "Record the time, location and findings for the team leader.",
            ),
        ),
        (
            4,
            (
                "If more help arrives, a clinician can recheck {him}; your task now is the children "
                "who can still be saved.",
                "Return to {him} when resources allow; primary triage moves on.",
            ),
        ),
        (4, ("Cover {him} with dignity if it does not slow the sweep.",)),
    ),
    "rescue_red": (
        (
            0,
            (
                "Keep the airway open and support breathing with a bag-valve-mask if the breaths "
                "are weak.",
                "Keep supporting the breathing: bag-valve-mask breaths if {his} own stay shallow.",
            ),
        ),
        (0, ("Give oxygen if available.", "Add oxygen as soon as it is at hand.")),
        (4, ("Keep a helper at {his} head; breathing that restarted can stop again.",)),
    ),
    "rr_low": (
        (
            0,
            (
                "Open the airway and assist breathing with a bag-valve-mask if each breath is too "
                "shallow or too slow.",
                "Support ventilation: bag-valve-mask breaths in time with {his} own if the rate "
                "stays slow.",
            ),
        ),
        (0, ("Give oxygen if it is available.",)),
        (0, ("Look for a cause you can fix: blood, vomit or debris in the mouth.",)),
    ),
    "rr_high": (
        (
            0,
            (
                "Give oxygen if available and let {him} keep the position {he} finds easiest.",
                "Oxygen if you have it, and keep {him} calm in the position {he} chooses.",
            ),
        ),
        (
            0,
            (
                "Look and listen for a cause: wheeze, stridor, a chest wound, one side not moving.",
                "Check the chest: both sides moving, any wound, wheeze or stridor.",
            ),
        ),
    ),
    "perfusion": (
        (
            1,
            (
                "Get IV or IO access and give a fluid bolus {bolus_k} mL/kg x {w} kg{w_note} = {bolus} mL of "
                "0.9% saline, then reassess.",
                "Fluid bolus {bolus_k} mL/kg x {w} kg{w_note} = {bolus} mL (0.9% saline or Ringer's "
                "lactate) IV or IO, then recheck the pulse.",
                "Once a line is in, give {bolus_k} mL/kg x {w} kg{w_note} = {bolus} mL of warmed "
                "crystalloid as a bolus.",
            ),
        ),
        (2, ("Keep {him} flat and warm.", "Lay {him} flat and keep {him} covered and warm.")),
    ),
    "neuro": (
        (
            0,
            (
                "Protect the airway with {airway_move}, and turn {him} onto {his} side if {he} "
                "vomits{spine_clause}.",
                "Guard the airway with {airway_move} and be ready to turn {him} on {his} side"
                "{spine_clause} if {he} vomits.",
            ),
        ),
        (
            1,
            (
                "Check the blood glucose if you carry a meter; if it is low, give D10 {d10_k} mL/kg "
                "x {w} kg{w_note} = {d10} mL IV/IO.",
                "If a glucose meter is at hand, check it; for a low reading, D10 {d10_k} mL/kg x "
                "{w} kg{w_note} = {d10} mL.",
            ),
        ),
        (2, ("Check the pupils and watch for seizures.",)),
    ),
    "yellow": (
        (
            2,
            (
                "Keep {him} warm and still; nothing to eat or drink until a clinician has seen "
                "{him}.",
                "Keep {him} covered and still; nil by mouth for now.",
            ),
        ),
        (
            4,
            (
                "Recheck breathing, pulse and responsiveness whenever you pass and before "
                "transport.",
            ),
        ),
    ),
}

PATH_REASSESS = {
    "walks": (
        "{he} stops walking, or new pain or a limp appears",
        "breathing becomes fast or laboured",
        "{he} becomes drowsy or confused",
    ),
    "airway": (
        "breathing stops again or becomes noisy",
        "the {pulse} pulse weakens",
        "{he} becomes less responsive",
    ),
    "black": (
        "more responders or equipment arrive: a clinician rechecks {him}",
        "any breath or movement is seen",
    ),
    "rescue_red": (
        "{his} own breathing slows or stops",
        "the {pulse} pulse is lost",
        "the lips turn blue again",
    ),
    "rr_low": (
        "the rate drops further or pauses appear",
        "{he} becomes less responsive",
        "the lips or face turn blue",
    ),
    "rr_high": (
        "the rate keeps rising, or {he} tires and the rate falls",
        "the lips turn blue or {he} can no longer cry or speak",
        "{he} becomes less responsive",
    ),
    "perfusion": (
        "the {pulse} pulse does not come back after the bolus",
        "{he} becomes less responsive",
        "the skin turns more mottled or cold",
    ),
    "neuro": (
        "breathing becomes irregular or slow",
        "a seizure starts",
        "the pupils become unequal",
    ),
    "yellow_js": (
        "breathing leaves the JumpSTART band of 15-45/min",
        "the {pulse} pulse weakens or disappears",
        "responsiveness falls to P or U on AVPU",
        "{he} has waited 15 minutes since the last check",
    ),
    "yellow_st": (
        "breathing rises above 30/min",
        "the radial pulse goes or capillary refill passes 2 seconds",
        "{he} stops following commands",
        "{he} has waited 15 minutes since the last check",
    ),
}

GENERAL_DO_NOT = {
    "GREEN": (
        "assume {he} is uninjured because {he} can walk",
        "let {him} wander off alone or leave with an adult nobody has identified",
    ),
    "RED": (
        "delay transport to finish a full head-to-toe survey",
        "leave {him} without someone watching the airway",
        "spend time on minor wounds before airway, breathing and bleeding",
    ),
    "YELLOW": (
        "leave {him} unchecked in the Delayed area",
        "give food or drink before a clinician has assessed {him}",
    ),
    "nopulse": (
        "give rescue breaths to a child with no pulse during primary triage",
        "start CPR while other children are still waiting to be sorted",
    ),
    "rescue_black": (
        "keep ventilating beyond the 5-breath trial during primary triage",
        "start CPR while other children are still waiting to be sorted",
    ),
    "apneic": (
        "start rescue breaths or CPR during START primary triage",
        "hold up the sweep: other patients are still unsorted",
    ),
    "rescue_red": ("tag a child who has a pulse BLACK before trying the 5 rescue breaths",),
    "no_pulse": (
        "decide the JumpSTART perfusion step on capillary refill: the peripheral pulse decides",
    ),
    "infant": (
        "wait for an infant to pass the walking step: infants go straight to the breathing check",
    ),
}

AVPU_TEXT = {"A": "alert", "V": "responding to voice"}


def _path_group(proto: str, path: str) -> str:
    """Which action/reassess pool a path uses."""
    if path in BLACK_PATHS:
        return "black"
    return {
        "walks": "walks",
        "airway": "airway",
        "rescue_red": "rescue_red",
        "rr_low": "rr_low",
        "rr_high": "rr_high",
        "no_pulse": "perfusion",
        "no_radial": "perfusion",
        "cap_refill": "perfusion",
        "avpu_u": "neuro",
        "pain_bad": "neuro",
        "no_commands": "neuro",
    }.get(path, "yellow")


def _patient_draft(
    child: Child,
    scenario: dict,
    proto: str,
    path: str,
    color: str,
    hazards: tuple[str, ...],
    limbs: dict[str, str],
    trauma: bool,
    rng: random.Random,
    words: dict,
) -> Draft:
    """Everything a response about one patient says, before trimming to length."""
    rr = scenario.get("resp_rate")
    spinal = "spinal" in hazards
    words = {
        **words,
        "rr": f"{rr:g}" if rr is not None else "",
        "unit": _rr_unit(rng),
        "cap": f"{scenario.get('cap_refill_s', 0):g}",
        "avpu_text": AVPU_TEXT.get(scenario.get("avpu", "A"), "alert"),
        "airway_move": (
            "a jaw thrust"
            if trauma or spinal
            else "the head in a neutral position and the chin supported"
        ),
        "spine_clause": ", keeping head, neck and body in line" if spinal else "",
    }
    table = JS_RATIONALE if proto == "jumpstart" else ST_RATIONALE
    rationale = [_fill(rng.choice(table[path]), words)]
    if (
        rr is not None
        and int(rr) in BOUNDARY_NOTES
        and rr == int(rr)
        and path != "rr30"
        and (
            (proto == "jumpstart" and rr in (14, 15, 45, 46))
            or (proto == "start" and rr in (30, 31))
        )
    ):
        rationale.append(_fill(BOUNDARY_NOTES[int(rr)], words))
    if color != "BLACK" and rng.random() < 0.92:
        if rr is not None and rng.random() < 0.8:
            rationale.append(_normal_rr_sentence(child, rr, words, rng))
        elif rng.random() < 0.5 and path in APNEIC_PATHS:
            rationale.append(_normal_rr_sentence(child, None, words, rng))
        else:
            rationale.append(_normal_hr_sentence(child, words, rng))
    if color == "GREEN" and rng.random() < 0.6:
        rationale.append(
            rng.choice(
                (
                    "Walking does not rule out serious injury, so a secondary check is still owed.",
                    "The tag is provisional: walking children can hide injuries.",
                )
            )
        )
    if color == "YELLOW" and rng.random() < 0.5:
        rationale.append(
            rng.choice(
                (
                    "Delayed still means a serious injury that needs close watching.",
                    "YELLOW can change quickly in a child, so recheck often.",
                )
            )
        )
    if proto == "start" and rng.random() < 0.35:
        rationale.append(
            _fill(
                rng.choice(
                    (
                        "At {years} {he} is triaged with START, the tool from 9 years up.",
                        "START rather than JumpSTART applies at {years} years.",
                    )
                ),
                words,
            )
        )

    group = _path_group(proto, path)
    actions: list[tuple[int, str]] = []
    spare: list[tuple[int, str]] = []
    pool = list(PATH_ACTIONS.get(group, ()))
    trapped = "crush" in hazards
    if group == "perfusion" and trapped:
        # The crush fluids come from the hazard; a trapped child cannot be laid flat.
        pool = [item for item in pool if item[0] != 1 and item[0] != 2]
        pool.append((2, ("Keep {him} warm and insulated from the ground.",)))
    if group == "rr_high" and (spinal or trapped or "anaphylaxis" in hazards):
        # No free choice of position with a spine injury, entrapment or anaphylaxis.
        pool = [
            (0, ("Give oxygen if it is available.", "Add oxygen as soon as you have it.")),
            *pool[1:],
        ]
    for order, templates in pool:
        actions.append((order, _fill(rng.choice(templates), words)))
    walking = color == "GREEN"
    if color != "BLACK":
        hazard_table = HAZARD_ACTIONS_WALKING if walking else HAZARD_ACTIONS_DOWN
        hazard_items = _hazard_actions(hazards, hazard_table, words, rng, limbs)
        if "drowning" in hazards and path in ("airway", "rescue_red", "rr_low"):
            hazard_items.append(
                (
                    0,
                    "Keep breaths going if {his} own weaken; water in the airway "
                    "does not need to come out first.".format(**words),
                )
            )
        if any("vomits" in text for _, text in actions):  # the airway step covers vomiting
            hazard_items = [item for item in hazard_items if "vomiting" not in item[1]]
        # Life-saving hazard care first, the rest is spare if space runs out.
        hazard_items.sort(key=lambda item: item[0])
        actions = (
            [item for item in actions if item[0] <= 1]
            + hazard_items
            + [item for item in actions if item[0] > 1]
        )
    tag_table = TRAPPED_TAG_ACTIONS if trapped and color in TRAPPED_TAG_ACTIONS else TAG_ACTIONS
    tag = (3, _fill(rng.choice(tag_table[color]), words))
    actions.insert(min(2, len(actions)), tag)
    if group == "yellow" and rng.random() < 0.5:
        spare.append((4, _fill("Record the findings and the time on the tag.", words)))
    skip = ("delay_breaths_drowning",) if color == "BLACK" else ()
    if path not in APNEIC_PATHS:  # only a child who needed breaths risks being given up cold
        skip += ("stop_resuscitation_cold",)
    do_not = [
        _fill(text, words)
        for text in _hazard_do_not(hazards if color != "BLACK" else (), rng, skip=skip)
    ]
    general_key = path if path in GENERAL_DO_NOT else color
    general = [_fill(text, words) for text in GENERAL_DO_NOT[general_key]]
    if child.infant and proto == "jumpstart" and color != "BLACK":
        general.append(_fill(GENERAL_DO_NOT["infant"][0], words))
    if general_key != color and color in GENERAL_DO_NOT:
        general.extend(_fill(text, words) for text in GENERAL_DO_NOT[color])
    rng.shuffle(general)
    n_hazard = min(len(do_not), rng.randint(1, 3))
    need_general = max(1 if rng.random() < 0.7 else 0, 2 - n_hazard)
    chosen_do_not = do_not[:n_hazard] + general[:need_general]
    spare_do_not = do_not[n_hazard:] + general[need_general:]

    reassess_key = group
    if group == "yellow":
        reassess_key = "yellow_js" if proto == "jumpstart" else "yellow_st"
    path_triggers = [_fill(text, words) for text in PATH_REASSESS[reassess_key]]
    rng.shuffle(path_triggers)
    hazard_triggers = []
    if color != "BLACK":
        for hazard in hazards:
            hazard_triggers.append(_fill(rng.choice(HAZARD_REASSESS[hazard]), words))
    rng.shuffle(hazard_triggers)
    n_path = rng.randint(1, 2) if hazard_triggers else 2
    reassess = path_triggers[:n_path] + hazard_triggers[:2]
    if len(reassess) < 2:
        reassess = path_triggers[:2]
    spare_reassess = path_triggers[n_path:] + hazard_triggers[2:]
    return Draft(
        triage=color,
        rationale=rationale,
        actions=actions,
        do_not=chosen_do_not,
        reassess=reassess[:4],
        spare_actions=spare,
        spare_do_not=spare_do_not,
        spare_reassess=spare_reassess,
    )


# --------------------------------------------------------------------------------------------
# Scenario builders
# --------------------------------------------------------------------------------------------


def _in_band_rr(age: float, rng: random.Random) -> int:
    if age < 1:
        return rng.randint(30, 44)
    if age < 3:
        return rng.randint(24, 40)
    return rng.randint(18, 38)


def _jumpstart_scenario(path: str, age: float, rng: random.Random, rr: int | None) -> dict:
    scenario: dict = {"age_years": age, "protocol": "jumpstart"}
    if age >= 1:
        scenario["ambulatory"] = path == "walks"
    if path == "walks":
        low, high = canonical_range(age, "rr")
        scenario["resp_rate"] = rr or rng.randint(low, high)
        scenario["avpu"] = "A"
        return scenario
    if path in APNEIC_PATHS:
        scenario["breathing"] = False
        scenario["breathing_after_airway"] = path == "airway"
        if path != "airway":
            scenario["peripheral_pulse"] = path != "nopulse"
        if path in ("rescue_red", "rescue_black"):
            scenario["breathing_after_rescue_breaths"] = path == "rescue_red"
        return scenario
    scenario["breathing"] = True
    if rr is None:
        if path == "rr_low":
            rr = rng.choice((8, 10, 12, 14))
        elif path == "rr_high":
            rr = rng.choice((58, 60, 64, 68)) if age < 1 else rng.choice((46, 50, 52, 56, 60))
        else:
            rr = _in_band_rr(age, rng)
    scenario["resp_rate"] = rr
    scenario["peripheral_pulse"] = path != "no_pulse"
    if path == "avpu_u":
        scenario["avpu"] = "U"
    elif path in ("pain_bad", "pain_ok"):
        scenario["avpu"] = "P"
        scenario["pain_response"] = "inappropriate" if path == "pain_bad" else "appropriate"
    elif path == "alert":
        scenario["avpu"] = rng.choice(("A", "A", "V"))
    elif rng.random() < 0.6:
        scenario["avpu"] = rng.choice(("A", "V")) if path != "no_pulse" else "V"
    return scenario


def _start_scenario(path: str, age: float, rng: random.Random, rr: int | None) -> dict:
    scenario: dict = {"age_years": age, "protocol": "start", "ambulatory": path == "walks"}
    if path == "walks":
        scenario["resp_rate"] = rr or rng.randint(*canonical_range(age, "rr"))
        scenario["follows_commands"] = True
        return scenario
    if path in ("airway", "apneic"):
        scenario["breathing"] = False
        scenario["breathing_after_airway"] = path == "airway"
        return scenario
    scenario["breathing"] = True
    if rr is None:
        rr = (
            30
            if path == "rr30"
            else (rng.choice((31, 34, 36, 40)) if path == "rr_high" else rng.randint(14, 28))
        )
    scenario["resp_rate"] = rr
    if path == "rr_high":
        if rng.random() < 0.5:
            scenario["radial_pulse"] = True
        return scenario
    scenario["radial_pulse"] = path != "no_radial"
    if path == "cap_refill":
        scenario["cap_refill_s"] = rng.choice((3, 4, 5))
    elif path in ("yellow", "rr30", "no_commands") and rng.random() < 0.6:
        scenario["cap_refill_s"] = rng.choice((1, 2, 2))
    scenario["follows_commands"] = path != "no_commands"
    return scenario


# Share of scenario cores that get a second, differently worded record (same group).
VARIANT_SHARE = {"jumpstart": 0.7, "start": 0.45}

JS_AGES = (0.25, 0.33, 0.5, 0.58, 0.75, 0.83, 1.5, 2, 3, 4, 5, 6, 7, 8, 8.9)
JS_WALK_AGES = (1.5, 2, 3, 4, 5, 6, 7, 8, 8.9)
ST_AGES = (9, 10, 11, 12, 13, 14, 15, 16, 17)


def _cores_patient(family: str, paths: tuple[str, ...]) -> list[dict]:
    cores = [{"path": path, "setting": setting} for path in paths for setting in SETTING_NAMES]
    if family == "jumpstart":
        cores += [{"path": "rr_low", "setting": s, "rr": 14} for s in ("bus", "fire")]
        cores += [{"path": "rr_high", "setting": s, "rr": 46} for s in ("earthquake", "chemical")]
        cores += [
            {"path": p, "setting": s, "rr": 15} for p, s in (("alert", "fall"), ("no_pulse", "bus"))
        ]
        cores += [
            {"path": p, "setting": s, "rr": 45}
            for p, s in (("pain_ok", "flood"), ("avpu_u", "earthquake"))
        ]
    else:
        cores += [{"path": "rr_high", "setting": s, "rr": 31} for s in ("bus", "fire", "flood")]
        cores += [{"path": "yellow", "setting": s, "cap": 2} for s in ("fall", "earthquake")]
    return cores


def _patient_family(seed: int, family: str) -> list[dict]:
    proto = "jumpstart" if family == "jumpstart" else "start"
    paths = JUMPSTART_PATHS if proto == "jumpstart" else START_PATHS
    records = []
    for k, core in enumerate(_cores_patient(family, paths)):
        rng = _rng(seed, family, k)
        path, setting = core["path"], core["setting"]
        info = SETTINGS[setting]
        walking = path == "walks"
        rr = core.get("rr")
        if proto == "jumpstart":
            ages = JS_WALK_AGES if walking else JS_AGES
            if rr == 46:
                ages = tuple(a for a in ages if a >= 1)
            if rr == 15:
                ages = tuple(a for a in ages if a >= 3)
        else:
            ages = ST_AGES
        age = rng.choice(ages)
        hazards = tuple(rng.choice(info["walking"] if walking else info["down"]))
        if path in BLACK_PATHS and "hypothermia" in hazards:
            hazards = tuple(h for h in hazards if h != "hypothermia")  # cold: not dead till warm
        builder = _jumpstart_scenario if proto == "jumpstart" else _start_scenario
        scenario = builder(path, age, rng, rr)
        if "cap" in core:
            scenario["cap_refill_s"] = core["cap"]
        child = _field_child(age, rng, _rng(seed, family, k, "weight"))
        if child.weight_stated:
            scenario["weight_kg"] = child.weight
        scenario["hazards"] = list(hazards)
        color = triage(scenario).triage
        group = f"{path}-{setting}-{_age_slug(age)}-{'-'.join(hazards) or 'none'}"
        topics = [proto, path, setting, *hazards]
        n_variants = 2 if rng.random() < VARIANT_SHARE[family] else 1
        for variant in range(n_variants):
            vrng = _rng(seed, family, k, variant)
            words = child.words()
            injury, limbs = _injury_text(hazards, walking, words, vrng, setting)
            scene = vrng.choice(info["scenes"])
            user = _patient_user(child, scenario, scene, injury, vrng, words)
            draft = _patient_draft(
                child, scenario, proto, path, color, hazards, limbs, info["trauma"], vrng, words
            )
            response = _fit(draft, user)
            records.append((group, user, response, dict(scenario), color, topics))
    return [
        _record(family, n, group, user, response, scenario, color, list(topics))
        for n, (group, user, response, scenario, color, topics) in enumerate(records, 1)
    ]


# --------------------------------------------------------------------------------------------
# Vital-sign reference questions (no patient: Key points instead of a triage line)
# --------------------------------------------------------------------------------------------

VITAL_AGES = {
    "newborn": (1 / 365, 2 / 365, 3 / 365),
    "neonate": (7 / 365, 14 / 365, 21 / 365),
    "infant": (2 / 12, 4 / 12, 6 / 12, 9 / 12, 11 / 12),
    "toddler": (1, 1.5, 2),
    "preschool": (3, 4, 5),
    "school-age": (6, 7, 8, 9),
    "preadolescent": (10, 11),
    "adolescent": (12, 13, 14, 15, 16, 17),
}
VITAL_CORES_PER_BAND = {
    "newborn": 5,
    "neonate": 4,
    "infant": 7,
    "toddler": 7,
    "preschool": 7,
    "school-age": 7,
    "preadolescent": 6,
    "adolescent": 7,
}
VITAL_KINDS = ("rr", "hr", "sbp", "all", "hypo")
BAND_WORD = {
    "newborn": "newborn",
    "neonate": "neonate",
    "infant": "infant",
    "toddler": "toddler",
    "preschool": "preschooler",
    "school-age": "school-age child",
    "preadolescent": "preadolescent",
    "adolescent": "adolescent",
}

VITAL_QUESTIONS = {
    "rr": (
        "What is a normal respiratory rate for {who}?",
        "Quick one: normal breathing rate for {who}?",
        "How fast should {who} breathe at rest?",
        "Remind me of the PALS respiratory rate range for {who}.",
    ),
    "hr": (
        "What heart rate is normal for {who}?",
        "Normal pulse range for {who}, please.",
        "What pulse rate should worry me in {who}?",
        "PALS heart rate for {who}?",
    ),
    "sbp": (
        "What systolic blood pressure is normal for {who}?",
        "Normal BP for {who}? We have a small cuff at the shelter.",
        "What systolic should I expect in {who}?",
    ),
    "hypo": (
        "At what systolic pressure is {who} hypotensive?",
        "What's the PALS hypotension cut-off for {who}?",
        "When is the blood pressure too low in {who}?",
    ),
    "all": (
        "Give me the PALS vitals for {who}: RR, HR and systolic BP.",
        "Normal vital signs for {who}?",
        "I'm setting up the paediatric corner of the shelter. Vital sign ranges for {who}?",
        "Offline and no chart: what are the normal vitals for {who}?",
    ),
}


def _hypotension_sentence(age: float, who: str, rng: random.Random) -> str:
    threshold = hypotension_threshold(age)
    if age < 28 / 365:
        return rng.choice(
            (
                f"Hypotension in a term newborn is a systolic below {threshold} mmHg.",
                f"PALS treats a systolic under {threshold} mmHg as hypotension at this age.",
            )
        )
    if age < 1:
        return rng.choice(
            (
                f"In infants, hypotension is a systolic below {threshold} mmHg.",
                f"PALS calls a systolic under {threshold} mmHg hypotension in the first year.",
            )
        )
    if age <= 10:
        years = int(age)
        return rng.choice(
            (
                f"From 1 to 10 years PALS defines hypotension as a systolic below 70 + 2 x age in "
                f"years: for {who} that is below 70 + 2 x {years} = {threshold} mmHg.",
                f"Hypotension cut-off (PALS, ages 1-10): 70 + (2 x age in years), so {who} is "
                f"hypotensive below {threshold} mmHg.",
                f"The PALS hypotension line is 70 + 2 x age in years; at {years} years that is "
                f"{threshold} mmHg.",
            )
        ).replace("at 1 years", "at 1 year")
    return rng.choice(
        (
            f"Over 10 years, hypotension is a systolic below {threshold} mmHg.",
            f"From age 11, PALS sets the hypotension line at a systolic of {threshold} mmHg.",
            f"Above 10 years the PALS cut-off is fixed: systolic under {threshold} mmHg is "
            "hypotension.",
        )
    )


def _vitals_key_points(age: float, kind: str, rng: random.Random) -> tuple[str, str]:
    """Key points text and the phrase used for the child (band word or exact age)."""
    band = age_band_label(age)
    exact = _with_article(_age_words(age))
    word = BAND_WORD[band]
    who = exact if rng.random() < 0.6 else f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
    short = exact if who == exact else who
    rr, hr, sbp = (canonical_range(age, v) for v in ("rr", "hr", "sbp"))
    asleep = canonical_band(age, "hr").ranges["hr"][1]
    rr_unit = _rr_unit(rng)
    hr_unit = rng.choice(("/min", " beats per minute", " bpm"))
    rr_s = rng.choice(
        (
            f"Normal RR for {short}: {rr[0]}-{rr[1]}{rr_unit}.",
            f"The normal respiratory rate for {short} is {rr[0]}-{rr[1]}{rr_unit}.",
            f"Breathing: normal RR for {short} is {rr[0]}-{rr[1]}{rr_unit} at rest.",
        )
    )
    hr_s = rng.choice(
        (
            f"Normal heart rate for {short}: {hr[0]}-{hr[1]}{hr_unit} awake.",
            f"The normal heart rate for {short} is {hr[0]}-{hr[1]}{hr_unit} awake and "
            f"{asleep[0]}-{asleep[1]}{hr_unit} asleep.",
            f"Pulse: the normal heart rate for {short} is {hr[0]}-{hr[1]}{hr_unit} while awake.",
        )
    )
    sbp_s = rng.choice(
        (
            f"Normal systolic BP for {short}: {sbp[0]}-{sbp[1]} mmHg.",
            f"A normal systolic blood pressure for {short} is {sbp[0]}-{sbp[1]} mmHg.",
            f"Blood pressure: normal systolic for {short} is {sbp[0]}-{sbp[1]} mmHg.",
        )
    )
    hypo_s = _hypotension_sentence(age, short, rng)
    first = {
        "rr": [rr_s],
        "hr": [hr_s],
        "sbp": [sbp_s, hypo_s],
        "hypo": [hypo_s, sbp_s],
        "all": [],
    }[kind]
    rest = [s for s in (rr_s, hr_s, sbp_s, hypo_s) if s not in first]
    if kind != "all":
        rng.shuffle(rest)
    sentences = first + rest
    if rng.random() < 0.5:
        sentences.append(
            rng.choice(
                (
                    "These are the PALS 2015 values; older charts differ by a few breaths or beats.",
                    "Values are from the PALS 2015 chart; other published tables differ slightly.",
                )
            )
        )
    return " ".join(sentences), who


VITAL_ACTIONS = (
    (
        0,
        (
            "Count breaths for a full 30 seconds and double it; in an infant count a full minute, "
            "because the rhythm is irregular.",
            "Count the breathing for 30 seconds (a whole minute under 1 year) rather than "
            "guessing.",
        ),
    ),
    (
        0,
        (
            "Measure while the child is calm if you can: crying, fever and pain push both rates "
            "up.",
            "Take the rates at rest; fear, crying and fever all raise them.",
            "Let a parent hold the child while you count; a calm child gives truer numbers.",
        ),
    ),
    (
        1,
        (
            "Use the triage cut-offs for sorting (JumpSTART 15-45/min under 9 years, START over "
            "30/min from 9 up); the age ranges guide monitoring and handover.",
            "Sorting uses the protocol cut-offs, not these ranges: JumpSTART 15-45/min below 9 "
            "years, START over 30/min from 9.",
        ),
    ),
    (
        1,
        (
            "Treat a rising heart rate, slow capillary refill and cool hands as shock before the "
            "blood pressure falls.",
            "Act on a climbing pulse and refill over 2 seconds; a low BP is a late sign in "
            "children.",
        ),
    ),
    (
        2,
        (
            "Use a cuff whose bladder covers most of the upper arm; a cuff that is too small reads "
            "falsely high.",
            "Pick a cuff that fits the arm: too small reads high, too large reads low.",
            "If no cuff fits, judge circulation by pulse strength, skin colour and refill instead.",
        ),
    ),
    (
        2,
        (
            "Write each set of vitals with the time on the tag, so trends can be seen.",
            "Record every reading with the time; the trend matters more than one number.",
        ),
    ),
)
VITAL_DO_NOT = (
    "use adult vital-sign ranges for a child",
    "wait for the blood pressure to drop before treating shock: children hold their BP until late",
    "tag a child from these ranges alone: the JumpSTART or START cut-offs decide the color",
    "count for only 10 seconds and multiply",
    "treat a single reading as final; repeat it",
)
VITAL_REASSESS = (
    "a rate stays outside the age range once the child has settled",
    "the systolic falls below {threshold} mmHg",
    "the heart rate climbs while the BP still holds",
    "breathing becomes slow, irregular, or has pauses",
    "capillary refill lengthens beyond 2 seconds",
)


def _vitals_family(seed: int, family: str = "vitals") -> list[dict]:
    records = []
    k = 0
    for band, n_cores in VITAL_CORES_PER_BAND.items():
        for i in range(n_cores):
            rng = _rng(seed, family, k)
            k += 1
            ages = VITAL_AGES[band]
            age = ages[i % len(ages)]
            # The kind moves on by one every round through the ages: no (age, kind) repeats.
            kind = VITAL_KINDS[(i % len(ages) + i // len(ages) + len(band)) % len(VITAL_KINDS)]
            n_variants = 2 if rng.random() < 0.2 else 1
            group = f"{band}-{_age_slug(age)}-{kind}"
            templates = VITAL_QUESTIONS[kind]
            first_template = rng.randrange(len(templates))
            for variant in range(n_variants):
                vrng = _rng(seed, family, k - 1, variant)
                key_points, who = _vitals_key_points(age, kind, vrng)
                # Variants of one core never share a question template.
                template = templates[(first_template + variant) % len(templates)]
                question = template.format(who=who)
                if vrng.random() < 0.4:
                    question = (
                        vrng.choice(
                            (
                                "Field reference question. ",
                                "No patient yet, just checking. ",
                                "Before the next shift: ",
                            )
                        )
                        + question
                    )
                actions = [(order, vrng.choice(texts)) for order, texts in VITAL_ACTIONS]
                vrng.shuffle(actions)
                actions.sort(key=lambda item: item[0])  # keep counting advice first
                do_not = list(VITAL_DO_NOT)
                vrng.shuffle(do_not)
                threshold = hypotension_threshold(age)
                reassess = [t.format(threshold=threshold) for t in VITAL_REASSESS]
                vrng.shuffle(reassess)
                draft = Draft(
                    triage=None,
                    rationale=[],
                    key_points=key_points,
                    actions=actions[:4],
                    spare_actions=actions[4:],
                    do_not=do_not[:3],
                    spare_do_not=do_not[3:],
                    reassess=reassess[:3],
                    spare_reassess=reassess[3:],
                    min_rationale=0,
                )
                response = _fit(draft, question)
                records.append(
                    (group, question, response, {"age_years": age}, ["vitals", band, kind])
                )
    return [
        _record(family, n, group, user, response, scenario, None, topics)
        for n, (group, user, response, scenario, topics) in enumerate(records, 1)
    ]


# --------------------------------------------------------------------------------------------
# Weight-based dosing and Broselow zones (reference questions)
# --------------------------------------------------------------------------------------------

DOSING_AGES = (
    2 / 365,
    14 / 365,
    0.25,
    0.5,
    0.75,
    1,
    1.5,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
)
DOSING_KINDS = ("weight", "estimate", "weight", "estimate")


def _apls_formula(age: float) -> str:
    if age < 1:
        return f"0.5 x {round(age * 12)} months + 4"
    if age <= 5:
        return f"2 x {int(age)} + 8"
    return f"3 x {int(age)} + 7"


def _dose_lines(
    age: float, weight: int, drugs: tuple[str, ...], rng: random.Random
) -> list[tuple[int, str]]:
    w = str(weight)
    lines = []
    if "bolus" in drugs:
        per_kg = _bolus_per_kg(age)
        _, total, _, _ = _dose("fluid_bolus", per_kg, weight)
        lines.append(
            (
                1,
                rng.choice(
                    (
                        f"Fluid bolus {per_kg} mL/kg x {w} kg = {total} mL of 0.9% saline IV/IO, then "
                        "reassess.",
                        f"For shock: 0.9% saline {per_kg} mL/kg x {w} kg = {total} mL as a bolus, "
                        "reassessing after it.",
                        f"Isotonic crystalloid bolus {per_kg} mL/kg x {w} kg = {total} mL, warmed if you "
                        "can.",
                    )
                ),
            )
        )
    if "epi" in drugs:
        _, total, capped, raw = _dose("epinephrine_im", 0.01, weight)
        if capped:
            lines.append(
                (
                    1,
                    rng.choice(
                        (
                            f"Epinephrine 1 mg/mL IM 0.01 mg/kg x {w} kg = {total} mg, the maximum single "
                            f"IM dose (the weight alone would give {raw}).",
                            f"IM epinephrine (1 mg/mL) into the outer thigh: 0.01 mg/kg x {w} kg = {total} "
                            f"mg, capped at the maximum ({raw} uncapped).",
                        )
                    ),
                )
            )
        else:
            lines.append(
                (
                    1,
                    rng.choice(
                        (
                            f"Epinephrine 1 mg/mL IM 0.01 mg/kg x {w} kg = {total} mg ({total} mL) into "
                            "the outer thigh.",
                            f"For anaphylaxis: IM epinephrine 1 mg/mL, 0.01 mg/kg x {w} kg = {total} mg, "
                            "repeat after 5-15 minutes if needed.",
                            f"Give epinephrine 1 mg/mL intramuscularly, 0.01 mg/kg x {w} kg = {total} mg, "
                            "in the mid-outer thigh.",
                        )
                    ),
                )
            )
    if "d10" in drugs:
        per_kg = _d10_per_kg(age)
        _, total, _, _ = _dose("d10", per_kg, weight)
        grams_per_kg = per_kg / 10
        _, grams, _, _ = _dose("dextrose_g", grams_per_kg, weight)
        lines.append(
            (
                1,
                rng.choice(
                    (
                        f"For low glucose: D10 {format_amount(per_kg)} mL/kg x {w} kg = {total} mL IV/IO.",
                        f"Dextrose {format_amount(grams_per_kg)} g/kg x {w} kg = {grams} g, given as D10 "
                        f"{format_amount(per_kg)} mL/kg x {w} kg = {total} mL.",
                        f"Hypoglycaemia: D10 {format_amount(per_kg)} mL/kg x {w} kg = {total} mL slowly "
                        "IV or IO.",
                    )
                ),
            )
        )
    return lines


DOSING_QUESTIONS = {
    "weight": (
        "{A_age} {kid} weighs {w} kg. Which Broselow zone, and what doses for {drugs}?",
        "Broselow check: {w} kg, {age}. Zone and {drugs} doses?",
        "We weighed {him} on the shelter scale: {w} kg, {age}. Doses for {drugs}?",
        "Dosing question for {a_w} kg {kid} ({age}): {drugs}?",
    ),
    "estimate": (
        "No scale and no tape. {A_age} {kid}: estimated weight and {drugs} doses?",
        "Tape lost in the flood. How do I dose {drugs} for {a_age}?",
        "{A_age}, weight unknown. Give me a weight estimate and the {drugs} doses.",
    ),
}
NEWBORN_DOSING_QUESTIONS = (
    "Newborn at the shelter, {w} kg. What are the doses for {drugs}?",
    "{A_age} baby, {w} kg: doses for {drugs}?",
    "What doses of {drugs} for {a_w} kg newborn?",
)
DRUG_WORDS = {"bolus": "a fluid bolus", "epi": "IM epinephrine", "d10": "dextrose"}


def _dosing_draft(
    age: float, weight: int, kind: str, drugs: tuple[str, ...], words: dict, rng: random.Random
) -> Draft:
    zone = broselow_zone(weight)
    points = []
    if kind == "estimate":
        points.append(
            rng.choice(
                (
                    f"With no scale or tape, the APLS estimate for {words['a_age']} is "
                    f"{_apls_formula(age)} = {weight} kg.",
                    f"APLS age formula: {_apls_formula(age)} = {weight} kg for {words['a_age']}; a "
                    "measured weight or a length tape always wins over it.",
                )
            )
        )
    if zone is None:
        points.append(
            rng.choice(
                (
                    f"At {weight} kg {words['he']} is beyond the Broselow tape, which ends at 36 kg, so "
                    "dose on the measured weight with adult maximums.",
                    f"{weight} kg is off the end of the Broselow tape (36 kg); use the weight itself "
                    "and respect the adult ceilings.",
                )
            )
        )
    else:
        points.append(
            rng.choice(
                (
                    f"{weight} kg falls in the Broselow {zone.color} zone ({zone.min_kg:g}-"
                    f"{zone.max_kg:g} kg).",
                    f"On the tape that is the {zone.color} zone, {zone.min_kg:g}-{zone.max_kg:g} kg.",
                    f"Broselow {zone.color} zone ({zone.min_kg:g}-{zone.max_kg:g} kg) matches "
                    f"{weight} kg.",
                )
            )
        )
    if "epi" in drugs:
        cap = "0.3 mg" if weight < 30 else "0.5 mg"
        points.append(
            rng.choice(
                (
                    f"The single IM epinephrine dose never exceeds {cap} at this weight.",
                    f"IM epinephrine tops out at {cap} per dose for this weight.",
                )
            )
        )
    if age < 28 / 365 and "d10" in drugs:
        points.append("In a newborn, dextrose is given as D10 only.")
    actions = _dose_lines(age, weight, drugs, rng)
    actions.insert(
        0,
        (
            0,
            rng.choice(
                (
                    "Confirm the weight first: a measured weight beats the tape, and the tape beats an age "
                    "formula.",
                    "Check which weight you are using and write it on the tag before drawing anything up.",
                )
            ),
        ),
    )
    spare = [
        (
            2,
            rng.choice(
                (
                    "Write every drug, dose and time on the triage tag.",
                    "Record each dose and the time it was given on the tag.",
                )
            ),
        ),
        (2, "Have a second person check each calculation before it is given."),
    ]
    if len(actions) < 3:
        actions.append(spare.pop(0))
    do_not = []
    if "epi" in drugs:
        do_not.append(
            rng.choice(
                (
                    "use the 0.1 mg/mL cardiac-arrest epinephrine for an IM dose: that is a tenfold "
                    "error",
                    "give epinephrine IV in the field for anaphylaxis; IM into the outer thigh is the "
                    "route",
                )
            )
        )
    if "bolus" in drugs:
        do_not.append("give a second bolus without reassessing first")
    if "d10" in drugs:
        do_not.append(
            "use D25 or stronger dextrose in a newborn: D10 only"
            if age < 28 / 365
            else "push concentrated dextrose through a small peripheral vein"
        )
    general = [
        "rely on an age formula when a measured weight or a tape is available",
        "round a child's dose up to the adult amount",
    ]
    rng.shuffle(general)
    do_not += general
    reassess = []
    if "bolus" in drugs:
        reassess.append(
            rng.choice(
                (
                    "perfusion is still poor after the bolus (weak pulse, refill over 2 seconds)",
                    "the pulse stays weak or fast after the bolus",
                )
            )
        )
        reassess.append("crackles, a rising breathing rate or a swollen liver appear after fluids")
    if "epi" in drugs:
        reassess.append(
            "symptoms persist or return 5-15 minutes after epinephrine: repeat the same dose"
        )
    if "d10" in drugs:
        reassess.append("the glucose is still low 15 minutes after dextrose")
    reassess.append("the real weight turns out different from the one used: recalculate")
    return Draft(
        triage=None,
        rationale=[],
        key_points=" ".join(points),
        actions=actions,
        do_not=do_not[:3],
        spare_do_not=do_not[3:],
        reassess=reassess[:3],
        spare_reassess=reassess[3:],
        spare_actions=spare,
        min_rationale=0,
    )


def _dosing_family(seed: int, family: str = "dosing") -> list[dict]:
    records = []
    drug_sets = (
        ("bolus",),
        ("epi",),
        ("d10",),
        ("bolus", "epi"),
        ("bolus", "d10"),
        ("epi", "d10"),
        ("bolus", "epi", "d10"),
    )
    k = 0
    for i, age in enumerate(DOSING_AGES):
        for j in range(2):
            rng = _rng(seed, family, k)
            k += 1
            newborn = age < 28 / 365
            kind = "weight" if age >= 13 or newborn else DOSING_KINDS[(i + j) % len(DOSING_KINDS)]
            if newborn:
                drugs = (("bolus", "d10"), ("d10",))[j]
            else:
                drugs = drug_sets[(3 * i + j) % len(drug_sets)]
            weight = (
                round(apls_weight_kg(age)) if kind == "estimate" else _estimate_weight(age, rng)
            )
            if age >= 16 and j == 1:
                weight = rng.choice((52, 55, 58, 61))  # above 50 kg the IM epinephrine cap bites
                drugs = ("epi",) if "epi" not in drugs else drugs
            child = Child(age, rng.choice(("boy", "girl")), weight)
            group = f"{kind}-{_age_slug(age)}-{weight}kg-{'-'.join(drugs)}"
            n_variants = 2 if rng.random() < 0.25 else 1
            templates = NEWBORN_DOSING_QUESTIONS if newborn else DOSING_QUESTIONS[kind]
            first_template = rng.randrange(len(templates))
            for variant in range(n_variants):
                vrng = _rng(seed, family, k - 1, variant)
                words = child.words()
                words["A_age"] = _cap(words["a_age"])
                words["a_w"] = f"{_article(str(weight))} {weight}"
                words["drugs"] = _join([DRUG_WORDS[d] for d in drugs])
                # Variants of one core never share a question template.
                template = templates[(first_template + variant) % len(templates)]
                question = template.format(**words)
                draft = _dosing_draft(age, weight, kind, drugs, words, vrng)
                response = _fit(draft, question)
                records.append(
                    (
                        group,
                        question,
                        response,
                        {"age_years": age}
                        if kind == "estimate"
                        else {"age_years": age, "weight_kg": weight},
                        ["dosing", kind, *drugs],
                    )
                )
    return [
        _record(family, n, group, user, response, scenario, None, topics)
        for n, (group, user, response, scenario, topics) in enumerate(records, 1)
    ]


# --------------------------------------------------------------------------------------------
# Two patients: which child is treated first
# --------------------------------------------------------------------------------------------

# (first child's protocol and path, second child's protocol and path); first outranks second.
TWO_PATIENT_PAIRS = (
    (("jumpstart", "rr_high"), ("jumpstart", "alert")),
    (("jumpstart", "no_pulse"), ("jumpstart", "walks")),
    (("jumpstart", "airway"), ("jumpstart", "nopulse")),
    (("jumpstart", "rescue_red"), ("jumpstart", "rescue_black")),
    (("jumpstart", "avpu_u"), ("jumpstart", "pain_ok")),
    (("jumpstart", "alert"), ("jumpstart", "walks")),
    (("jumpstart", "pain_bad"), ("jumpstart", "walks")),
    (("jumpstart", "rr_low"), ("jumpstart", "alert")),
    (("jumpstart", "pain_ok"), ("jumpstart", "nopulse")),
    (("jumpstart", "rescue_red"), ("jumpstart", "walks")),
    (("start", "no_radial"), ("jumpstart", "alert")),
    (("jumpstart", "rr_high"), ("start", "yellow")),
    (("start", "cap_refill"), ("jumpstart", "walks")),
    (("start", "yellow"), ("jumpstart", "nopulse")),
    (("start", "rr_high"), ("start", "walks")),
    (("start", "no_commands"), ("start", "yellow")),
    (("jumpstart", "no_pulse"), ("start", "apneic")),
    (("start", "airway"), ("jumpstart", "pain_ok")),
)
TWO_PATIENT_SETTINGS = ("earthquake", "bus", "fire", "flood", "fall", "chemical", "stings")

REASONS = {
    "walks": "walking",
    "airway": "breathing only once the airway was opened",
    "nopulse": "apneic after airway opening with no pulse",
    "rescue_red": "breathing again after 5 rescue breaths",
    "rescue_black": "still apneic after 5 rescue breaths despite a pulse",
    "apneic": "still apneic after the airway was repositioned",
    "rr_low": "breathing only {rr}/min, under 15",
    "rr_high_jumpstart": "breathing {rr}/min, over 45",
    "rr_high_start": "breathing {rr}/min, over 30",
    "no_pulse": "no {pulse} pulse",
    "no_radial": "no radial pulse",
    "cap_refill": "capillary refill of {cap} s",
    "avpu_u": "unresponsive to voice and pain",
    "pain_bad": "posturing to pain",
    "pain_ok": "withdrawing from pain, with breathing in band and a pulse",
    "alert": "{avpu_text}, with breathing in band and a pulse",
    "no_commands": "not following simple commands",
    "yellow": "breathing {rr}/min with a radial pulse and following commands",
    "rr30": "breathing 30/min with a radial pulse and following commands",
}
SECOND_ACTIONS = {
    "GREEN": (
        "Send the {age2} to the GREEN area with a helper; {he2} gets a secondary check later.",
        "Point the walking {age2} to the GREEN collection point with an adult.",
    ),
    "YELLOW": (
        "Tag the {age2} YELLOW and come back within 15 minutes, sooner if {he2} changes.",
        "YELLOW tag on the {age2}; recheck {him2} as soon as the first child is stable.",
    ),
    "BLACK": (
        "Tag the {age2} BLACK and commit your hands to the child who can be saved.",
        "The {age2} gets a BLACK tag; no resources go there during this sweep.",
    ),
}


def _reason(proto: str, path: str, scenario: dict, words: dict) -> str:
    key = f"rr_high_{proto}" if path == "rr_high" else path
    extra = {
        **words,
        "rr": f"{scenario.get('resp_rate', 0):g}",
        "cap": f"{scenario.get('cap_refill_s', 0):g}",
        "avpu_text": AVPU_TEXT.get(scenario.get("avpu", "A"), "alert"),
    }
    return REASONS[key].format(**extra)


def _observation_only(scenario: dict) -> dict:
    return {k: v for k, v in scenario.items() if k not in ("weight_kg", "hazards")}


def _pick_age(proto: str, path: str, rng: random.Random, avoid: float | None = None) -> float:
    ages = ST_AGES if proto == "start" else JS_WALK_AGES if path == "walks" else JS_AGES
    choices = [a for a in ages if avoid is None or abs(a - avoid) >= 1]
    return rng.choice(choices)


def _twopatient_family(seed: int, family: str = "twopatient") -> list[dict]:
    records = []
    k = 0
    for pair_index, ((proto1, path1), (proto2, path2)) in enumerate(TWO_PATIENT_PAIRS):
        for j in range(2):
            rng = _rng(seed, family, k)
            k += 1
            setting = TWO_PATIENT_SETTINGS[(pair_index + 3 * j) % len(TWO_PATIENT_SETTINGS)]
            info = SETTINGS[setting]
            age1 = _pick_age(proto1, path1, rng)
            age2 = _pick_age(proto2, path2, rng, avoid=age1)
            builder1 = _jumpstart_scenario if proto1 == "jumpstart" else _start_scenario
            builder2 = _jumpstart_scenario if proto2 == "jumpstart" else _start_scenario
            walking1 = path1 == "walks"
            hazards = tuple(rng.choice(info["walking"] if walking1 else info["down"]))
            if path1 in BLACK_PATHS and "hypothermia" in hazards:
                hazards = tuple(h for h in hazards if h != "hypothermia")
            scenario = builder1(path1, age1, rng, None)
            second = builder2(path2, age2, rng, None)
            child1 = _field_child(age1, rng, _rng(seed, family, k - 1, "weight"))
            child2 = Child(age2, rng.choice(("boy", "girl")), _estimate_weight(age2, rng))
            if child1.weight_stated:  # the child treated first is the one any dose is for
                scenario["weight_kg"] = child1.weight
            scenario["hazards"] = list(hazards)
            scenario["second_patient"] = _observation_only(second)
            color1 = triage(scenario).triage
            color2 = triage(second).triage
            group = (
                f"{path1}-{proto1}-vs-{path2}-{proto2}-{setting}-{_age_slug(age1)}-"
                f"{'-'.join(hazards) or 'none'}"
            )
            n_variants = 2 if rng.random() < 0.4 else 1
            for variant in range(n_variants):
                vrng = _rng(seed, family, k - 1, variant)
                words1 = child1.words()
                words2 = child2.words()
                injury1, limbs = _injury_text(hazards, walking1, words1, vrng, setting)
                hazards2 = tuple(vrng.choice(info["walking"] if path2 == "walks" else info["down"]))
                injury2, _ = _injury_text(hazards2, path2 == "walks", words2, vrng, setting)
                scene = vrng.choice(info["scenes"])
                user = _two_patient_user(
                    child1, scenario, injury1, child2, second, injury2, scene, vrng, words1, words2
                )
                draft = _patient_draft(
                    child1,
                    scenario,
                    proto1,
                    path1,
                    color1,
                    hazards,
                    limbs,
                    info["trauma"],
                    vrng,
                    words1,
                )
                _add_second_patient(
                    draft,
                    child1,
                    child2,
                    scenario,
                    second,
                    proto1,
                    path1,
                    proto2,
                    path2,
                    color1,
                    color2,
                    words1,
                    words2,
                    vrng,
                )
                response = _fit(draft, user)
                records.append(
                    (
                        group,
                        user,
                        response,
                        scenario,
                        color1,
                        ["twopatient", f"{proto1}:{path1}", f"{proto2}:{path2}", setting, *hazards],
                    )
                )
    return [
        _record(family, n, group, user, response, scenario, color, topics)
        for n, (group, user, response, scenario, color, topics) in enumerate(records, 1)
    ]


def _two_patient_user(
    child1, scenario1, injury1, child2, scenario2, injury2, scene, rng, words1, words2
) -> str:
    def describe(child, scenario, injury, words, weight_phrase: list[str]):
        obs = _observation_phrases(scenario, words, rng, plain=False) + weight_phrase
        return f"{_with_article(words['age'])} {child.noun()}, {injury}: {', '.join(obs)}"

    first = describe(child1, scenario1, injury1, words1, _weight_phrase(child1, words1, rng))
    second = describe(child2, scenario2, injury2, words2, [])
    pair = [first, second]
    rng.shuffle(pair)
    opener = rng.choice(
        (
            f"Two children at {scene} and only me.",
            f"I'm alone at {scene} with two kids.",
            f"{_cap(scene)}: two casualties, one responder.",
            f"Two children in front of me at {scene}.",
        )
    )
    question = rng.choice(
        (
            "Who do I treat first?",
            "Which one first, and what do I do?",
            "Who gets me first?",
            "Which child takes priority?",
        )
    )
    if rng.random() < 0.5:
        return f"{opener} First, {pair[0]}. Second, {pair[1]}. {question}"
    return f"{opener}\nA: {_cap(pair[0])}.\nB: {_cap(pair[1])}.\n{question}"


def _add_second_patient(
    draft,
    child1,
    child2,
    scenario1,
    scenario2,
    proto1,
    path1,
    proto2,
    path2,
    color1,
    color2,
    words1,
    words2,
    rng,
) -> None:
    """Rewrite a one-patient draft into the two-patient answer: who first, and why."""
    age1, age2 = words1["age"], words2["age"]
    reason1 = _reason(proto1, path1, scenario1, words1)
    reason2 = _reason(proto2, path2, scenario2, words2)
    label1, label2 = LABELS[color1], LABELS[color2]
    opening = rng.choice(
        (
            f"Treat the {age1} first: {reason1}, which is {color1} ({label1}) under {_proto(proto1)}.",
            f"The {age1} comes first because {words1['he']} is {color1} ({label1}): {reason1}.",
            f"{_proto(proto1)} makes the {age1} {color1} ({label1}), {reason1}, so {words1['he']} "
            "gets your hands first.",
        )
    )
    second = rng.choice(
        (
            f"The {age2} is {color2} ({label2}): {reason2}.",
            f"By {_proto(proto2)} the {age2} ({reason2}) is {color2} ({label2}).",
            f"The {age2}, {reason2}, is {color2} ({label2}) and ranks below.",
        )
    )
    normal = [s for s in draft.rationale[1:] if "normal" in s][:1]
    draft.rationale = [opening, second, *normal]
    draft.min_rationale = 2
    words = {**words2, "age2": age2, "he2": words2["he"], "him2": words2["him"]}
    action = (4, rng.choice(SECOND_ACTIONS[color2]).format(**words))
    draft.actions.insert(1, action)
    draft.do_not.insert(
        0,
        rng.choice(
            (
                f"stop for the {color2} child before the {color1} child's life threats are handled",
                f"split your attention: finish the {age1}'s life-saving steps before turning to the "
                f"{age2}",
            )
        ),
    )


def _proto(proto: str) -> str:
    return "JumpSTART" if proto == "jumpstart" else "START"


# --------------------------------------------------------------------------------------------
# Psychological first aid: uninjured, walking, distressed children (GREEN)
# --------------------------------------------------------------------------------------------

PFA_PRESENTATIONS = {  # what the child does, written after "he" / "she"
    "clinging": (
        "is crying and shaking and won't let go of my arm",
        "is sobbing and clinging to whoever is nearest",
    ),
    "withdrawn": (
        "is very quiet and withdrawn, but answers when spoken to softly",
        "sits silently in a corner and answers in single words",
    ),
    "separated": (
        "keeps asking for {his} mum, who has not been found",
        "was separated from {his} family and asks for them over and over",
    ),
    "startle": (
        "jumps and screams every time a siren goes past",
        "startles at every loud noise and covers {his} ears",
    ),
    "hiding": (
        "is hiding under a table and won't come out",
        "is curled up behind the supply boxes, refusing to move",
    ),
    "guilt": (
        "keeps saying it is {his} fault",
        "is convinced {he} caused what happened and keeps apologising",
    ),
    "angry": (
        "is angry and trying to go back in to find the family dog",
        "is shouting at the rescuers and wants to go back for {his} things",
    ),
}
PFA_SPECIFIC = {
    "clinging": "Let {him} hold on; stay close and keep your voice slow and low.",
    "withdrawn": "Sit beside {him} quietly; a calm presence helps even if {he} does not talk.",
    "separated": (
        "Tell {him} honestly that people are searching for {his} family, and that "
        "someone will stay with {him} until then."
    ),
    "startle": "Move {him} away from the road and the sirens, to the quietest corner available.",
    "hiding": (
        "Do not drag {him} out; sit nearby at {his} level and invite {him} to come when ready."
    ),
    "guilt": "Tell {him} plainly that what happened is not {his} fault.",
    "angry": (
        "Explain calmly and firmly why going back is not safe, and give {him} a job that "
        "helps here."
    ),
}
PFA_ACTIONS = (
    (
        0,
        (
            "Get down to {his} eye level, give your name, and tell {him} in a few plain words that "
            "grown-ups are here to help.",
            "Kneel to {his} level, introduce yourself and speak slowly in short sentences.",
            "Crouch down, say who you are, and keep your voice calm and quiet.",
        ),
    ),
    (
        1,
        (
            "Keep {him} with a familiar adult or siblings; if there is nobody, assign one named "
            "helper to stay.",
            "Keep {him} with anyone {he} knows; otherwise one named helper stays with {him}.",
        ),
    ),
    (
        2,
        (
            "Offer a blanket and a drink of water.",
            "Wrap {him} in a blanket and offer water and a snack.",
        ),
    ),
    (
        2,
        (
            "Give simple choices and a small task, such as holding a torch, to restore some "
            "control.",
            "Let {him} make small choices and give {him} a simple job to do.",
        ),
    ),
    (
        2,
        (
            "Listen if {he} wants to talk; answer questions honestly, simply, and without "
            "frightening detail.",
            "Let {him} talk if {he} wants to and answer honestly in simple words.",
        ),
    ),
    (
        3,
        (
            "Register {his} name, description and where {he} was found, for family reunification.",
            "Write down {his} name, who {he} came with and where, so {his} family can find {him}.",
        ),
    ),
    (
        3,
        (
            "Do a quick head-to-toe check for injuries {he} may not mention.",
            "Check {him} over head to toe: frightened children often hide pain.",
        ),
    ),
)
PFA_DO_NOT = (
    "leave {him} alone or hand {him} to an adult whose identity has not been checked",
    "promise that family members are safe before you know",
    "press {him} to describe what happened",
    "brush the fear aside with 'you're fine' or 'big kids don't cry'",
    "separate {him} from siblings or a familiar adult",
    "let {him} watch injured people being treated",
)
PFA_REASSESS = (
    "{he} stops responding to you, or stares without reacting for long periods",
    "a hidden injury shows: limp, pain, bleeding, vomiting or drowsiness",
    "breathing stays fast after {he} has calmed",
    "no caregiver has been found within an hour: hand over to the child-protection lead",
)
PFA_AGES = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)


def _pfa_family(seed: int, family: str = "pfa") -> list[dict]:
    records = []
    k = 0
    presentations = tuple(PFA_PRESENTATIONS)
    for i, presentation in enumerate(presentations):
        for j in range(4):
            rng = _rng(seed, family, k)
            k += 1
            setting = SETTING_NAMES[(i + 2 * j) % len(SETTING_NAMES)]
            ages = PFA_AGES if presentation != "angry" else PFA_AGES[5:]
            age = ages[(3 * i + 5 * j) % len(ages)]
            proto = "jumpstart" if age < 9 else "start"
            child = Child(age, rng.choice(("boy", "girl")), _estimate_weight(age, rng))
            scenario: dict = {"age_years": age, "protocol": proto, "ambulatory": True}
            if rng.random() < 0.5:
                low, high = canonical_range(age, "rr")
                scenario["resp_rate"] = rng.randint(low, high + 6)
            if proto == "start" and rng.random() < 0.5:
                scenario["follows_commands"] = True
            scenario["hazards"] = []  # no dose is given, so no weight is stated or needed
            color = triage(scenario).triage
            group = f"{presentation}-{setting}-{_age_slug(age)}"
            n_variants = 2 if rng.random() < 0.45 else 1
            for variant in range(n_variants):
                vrng = _rng(seed, family, k - 1, variant)
                words = child.words()
                scene = vrng.choice(SETTINGS[setting]["scenes"])
                user = _pfa_user(child, scenario, presentation, scene, vrng, words)
                draft = _pfa_draft(child, scenario, proto, presentation, color, vrng, words)
                response = _fit(draft, user)
                records.append(
                    (group, user, response, scenario, color, ["pfa", presentation, setting])
                )
    return [
        _record(family, n, group, user, response, scenario, color, topics)
        for n, (group, user, response, scenario, color, topics) in enumerate(records, 1)
    ]


def _pfa_user(child, scenario, presentation, scene, rng, words) -> str:
    state = _fill(rng.choice(PFA_PRESENTATIONS[presentation]), words)
    kid = child.noun()
    extra = ""
    if "resp_rate" in scenario:
        extra = rng.choice(
            (
                f" Breathing {scenario['resp_rate']}/min.",
                f" I counted {scenario['resp_rate']} breaths a minute.",
            )
        )
    he = words["he"]
    style = rng.randrange(4)
    if style == 0:
        return (
            f"At {scene}. {_cap(_with_article(words['age']))} {kid} walked in with a "
            f"neighbour, not hurt as far as I can see; {he} {state}.{extra} What should I "
            "do?"
        )
    if style == 1:
        return (
            f"Uninjured {child.noun(with_age=False)}, {_user_age(child, rng)}, at {scene}: "
            f"{he} {state}.{extra} How do I help {words['him']}?"
        )
    if style == 2:
        return (
            f"GREEN area at {scene}: walking {child.noun(with_age=False)}, "
            f"{_user_age(child, rng)}, no injuries found. {_cap(he)} {state}.{extra} "
            "Advice?"
        )
    return (
        f"I'm a volunteer at {scene}. There's {_with_article(words['age'])} {kid} here who "
        f"walked out on {words['his']} own, no injuries I can see, but {he} {state}."
        f"{extra} What do I do?"
    )


def _pfa_draft(child, scenario, proto, presentation, color, rng, words) -> Draft:
    rationale = [
        _fill(
            rng.choice(
                (
                    "{He} walked in unaided and has no injury on a first look, so {proto} sorts {him} GREEN "
                    "(Minor); what {he} needs now is psychological first aid.",
                    "Walking and uninjured means GREEN (Minor) under {proto}; the job now is calm, safety "
                    "and reconnection with family.",
                    "{proto} tags a walking child GREEN (Minor), and nothing found so far changes that; "
                    "{his} distress is a normal reaction to a frightening event.",
                )
            ),
            {**words, "proto": _proto(proto)},
        )
    ]
    rr = scenario.get("resp_rate")
    if rr is not None and rng.random() < 0.7:
        rationale.append(_normal_rr_sentence(child, rr, words, rng))
    else:
        low, high = canonical_range(child.age, "hr")
        rationale.append(
            _fill(
                rng.choice(
                    (
                        f"Fear alone can push the pulse past the normal heart rate for {{a_age}} "
                        f"({low}-{high}/min), so recount once {{he}} has settled.",
                        f"Normal heart rate for {{a_age}}: {low}-{high}/min; a racing pulse from fear should "
                        "settle within minutes.",
                    )
                ),
                words,
            )
        )
    if rng.random() < 0.5:
        rationale.append(
            rng.choice(
                (
                    "A secondary check still follows, because frightened children under-report pain.",
                    "Most distress settles with calm adults nearby, routine and reunion with family.",
                )
            )
        )
    actions = [(order, _fill(rng.choice(texts), words)) for order, texts in PFA_ACTIONS]
    specific = (0, _fill(PFA_SPECIFIC[presentation], words))
    first, rest = actions[0], actions[1:]
    rng.shuffle(rest)
    important = [item for item in rest if item[0] == 3]
    others = [item for item in rest if item[0] != 3]
    ordered = [first, specific, *important[:1], *others, *important[1:]]
    tag = (
        1,
        _fill(
            rng.choice(
                (
                    "Tag {him} GREEN and settle {him} in a calm corner of the Minor area, away from the "
                    "rescue.",
                    "GREEN tag; take {him} somewhere quiet in the Minor area, out of sight of injured "
                    "people.",
                    "Tag GREEN and move {him} away from the noise and sight of the rescue.",
                )
            ),
            words,
        ),
    )
    ordered.insert(2, tag)
    do_not = [_fill(text, words) for text in PFA_DO_NOT]
    if presentation == "hiding":
        do_not = [d for d in do_not if "watch" not in d]
    rng.shuffle(do_not)
    reassess = [_fill(text, words) for text in PFA_REASSESS]
    if child.age >= 10:
        reassess.append(_fill("{he} talks about wanting to hurt {himself}", words))
    rng.shuffle(reassess)
    return Draft(
        triage=color,
        rationale=rationale,
        actions=ordered[:5],
        spare_actions=ordered[5:],
        do_not=do_not[:3],
        spare_do_not=do_not[3:],
        reassess=reassess[:3],
        spare_reassess=reassess[3:],
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _jumpstart_family(seed: int) -> list[dict]:
    return _patient_family(seed, "jumpstart")


def _start_family(seed: int) -> list[dict]:
    return _patient_family(seed, "start")


FAMILY_BUILDERS = {
    "jumpstart": _jumpstart_family,
    "start": _start_family,
    "vitals": _vitals_family,
    "dosing": _dosing_family,
    "twopatient": _twopatient_family,
    "pfa": _pfa_family,
}


def generate_gold(seed: int = DEFAULT_SEED) -> list[dict]:
    """Every generated gold record for ``seed``, sorted by id (deterministic)."""
    records = []
    for family in FAMILIES:
        records.extend(FAMILY_BUILDERS[family](seed))
    return sorted(records, key=lambda record: record["id"])


# --------------------------------------------------------------------------------------------
# Held-out evaluation prompts (no gold response: the detectors judge what a model writes)
# --------------------------------------------------------------------------------------------


def patient_case(seed: int, proto: str, path: str, age: float, setting: str, k: int) -> dict:
    """One patient prompt on a given protocol path, age and setting, worded like the gold
    records; the record carries the scenario and the protocol's color, not a response."""
    rng = _rng(seed, f"heldout-{proto}", k)
    walking = path == "walks"
    info = SETTINGS[setting]
    hazards = tuple(rng.choice(info["walking"] if walking else info["down"]))
    if path in BLACK_PATHS and "hypothermia" in hazards:
        hazards = tuple(h for h in hazards if h != "hypothermia")
    builder = _jumpstart_scenario if proto == "jumpstart" else _start_scenario
    scenario = builder(path, age, rng, None)
    child = _field_child(age, rng, _rng(seed, f"heldout-{proto}", k, "weight"))
    if child.weight_stated:
        scenario["weight_kg"] = child.weight
    scenario["hazards"] = list(hazards)
    words = child.words()
    injury, _ = _injury_text(hazards, walking, words, rng, setting)
    user = _patient_user(child, scenario, rng.choice(info["scenes"]), injury, rng, words)
    return {
        "id": f"heldout-{proto}-{path}-{_age_slug(age)}-{setting}",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ],
        "scenario": scenario,
        "expected_triage": triage(scenario).triage,
        "topics": [proto, path, setting, *hazards],
        "source": "heldout",
    }
