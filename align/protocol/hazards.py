"""Scenario hazards and the actions each one forbids (facts file section 6).

A ``Contraindication`` carries:
- ``pattern``: recognises the forbidden action in a clause of free text;
- ``prohibitions``: ways a gold response words it in its Do NOT list;
- ``instructions``: ways a wrong response words it as an action (the perturbation inserts
  one; the tests check that ``pattern`` recognises every one of them);
- ``keywords``: words the pattern cannot match without (a cheap gate before the regex);
- ``verbs``: for a few costly patterns, a second such gate (the pattern cannot match without
  one of these either).
``always`` marks actions that are wrong in every scenario this toolkit covers, so they are
checked even where a record names no hazards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

HAZARDS = (
    "bleeding",
    "crush",
    "burn",
    "smoke_inhalation",
    "spinal",
    "drowning",
    "hypothermia",
    "chemical",
    "anaphylaxis",
    "head_injury",
    "fracture",
)


@dataclass(frozen=True)
class Contraindication:
    key: str
    hazards: tuple[str, ...]
    pattern: re.Pattern
    prohibitions: tuple[str, ...]
    instructions: tuple[str, ...]
    always: bool = False
    # Words of which ``pattern`` cannot match without one (lower case): a substring test on
    # them skips the regex for the many clauses that name no forbidden action.
    keywords: tuple[str, ...] = ()
    # The same, a second gate: words the pattern cannot match without either ("water" is
    # named in many clauses that give nothing by mouth).
    verbs: tuple[str, ...] = ()


def _rx(text: str) -> re.Pattern:
    return re.compile(text, re.IGNORECASE)


_CHILD = r"(?:him|her|them|the (?:child|boy|girl|baby|infant|toddler|teen))"
_GAP = r"[^.;\n]{0,40}?"
# A gap that does not cross a comma or a word that keeps something in place.
_KEEP_GAP = r"(?:(?!\b(?:but|leave|leaving|except|not|unless)\b)[^.;\n,])"

CONTRAINDICATIONS = (
    Contraindication(
        "remove_tourniquet",
        ("bleeding", "crush"),
        _rx(
            rf"\b(?:remove|loosen|release|take off|undo|ease)\w*\b{_GAP}\btourniquet"
            # "leave the tourniquet on until a surgeon removes it" defers the removal
            r"|\btourniquet\b(?:(?!\b(?:until|only)\b)[^.;\n]){0,30}?"
            r"\b(?:loosen|remov|releas|take (?:it )?off)"
        ),
        (
            "loosen or remove the tourniquet once it is on; write the time on it instead",
            "take a tourniquet off in the field, even if the child complains of pain",
            "release the tourniquet to check the bleeding",
        ),
        (
            "Loosen the tourniquet every 10 minutes to let blood back into the limb.",
            "Remove the tourniquet once the bleeding seems to have stopped.",
            "Release the tourniquet briefly to check whether the bleeding has slowed.",
        ),
        always=True,
        keywords=("tourniquet",),
    ),
    Contraindication(
        "release_compression_early",
        ("crush",),
        _rx(
            r"\b(?:lift|release|remove|pull|free)\w*\b[^.;\n]{0,40}?"
            r"\b(?:slab|rubble|beam|debris|weight|compression|wall|concrete|load|free)\b"
            r"[^.;\n]{0,40}?\b(?:immediately|right away|at once|straight away|before (?:any |the )?"
            r"(?:iv|io|fluids?|access))"
            r"|\b(?:immediately|right away|at once)\b[^.;\n]{0,15}?\b(?:lift|release|remove|pull)"
            r"\w*\b[^.;\n]{0,30}?\b(?:slab|rubble|beam|debris|weight|compression|wall)"
        ),
        (
            "release a prolonged compression before IV/IO access and fluids are running",
            "lift the weight off before fluids are going in: release can stop the heart",
        ),
        (
            "Lift the slab off the leg immediately, before IV access is ready.",
            "Pull the child free right away, before any fluids are started.",
        ),
        keywords=(
            "slab",
            "rubble",
            "beam",
            "debris",
            "weight",
            "compression",
            "wall",
            "concrete",
            "load",
            "free",
        ),
        verbs=("lift", "release", "remove", "pull", "free"),
    ),
    Contraindication(
        "straighten_limb",
        ("crush", "fracture"),
        _rx(
            r"\b(?:straighten|realign)\w*\b[^.;\n]{0,30}?\b(?:limb|leg|arm|knee|elbow)"
            r"\b(?:[^.;\n]{0,20}?\bstraight)?"
        ),
        ("straighten a crushed or deformed limb; splint it as found", "try to realign the limb"),
        (
            "Straighten the injured leg before splinting it.",
            "Realign the deformed arm so it lies flat.",
        ),
        keywords=("straighten", "realign"),
    ),
    Contraindication(
        "ice_on_burn",
        ("burn",),
        _rx(r"\bic(?:e|ed|y)\b(?! ?cream)"),
        ("put ice or iced water on the burn", "use ice packs: they deepen the injury"),
        (
            "Put ice packs on the burn to take the heat out quickly.",
            "Cool the burn with iced water.",
        ),
        keywords=("ice", "iced", "icy"),
    ),
    Contraindication(
        "home_remedy_on_burn",
        ("burn",),
        _rx(r"\b(?:butter|toothpaste|oil|grease|ointment|creams?|lotion)\b"),
        (
            "apply butter, oil, creams or toothpaste to the burn",
            "put home remedies such as toothpaste or oil on the burn",
        ),
        (
            "Spread butter or oil over the burn to soothe it.",
            "Apply toothpaste to the burned skin.",
        ),
        keywords=("butter", "toothpaste", "oil", "grease", "ointment", "cream", "lotion"),
    ),
    Contraindication(
        "burst_blisters",
        ("burn",),
        _rx(r"\b(?:burst|pop|break|drain|lance|prick)\w*\b[^.;\n]{0,25}?\bblisters?"),
        ("burst or drain blisters", "break blisters open"),
        (
            "Pop the blisters so the burn can dry out.",
            "Drain the large blisters with a clean needle.",
        ),
        keywords=("blister",),
    ),
    Contraindication(
        "peel_stuck_clothing",
        ("burn",),
        _rx(
            r"\b(?:peel|pull|rip|tear)\w*\b[^.;\n]{0,35}?\b(?:stuck|melted|adher\w*)"
            r"|\b(?:stuck|melted|adher\w*)\b[^.;\n]{0,35}?\b(?:peel|pull|rip|tear)\w*\b"
            r"[^.;\n]{0,10}?\boff"
            # "remove clothing stuck to the burn", not "remove her shirt but leave what is stuck"
            rf"|\bremov\w*\b{_KEEP_GAP}{{0,20}}?\b(?:cloth\w*|fabric|shirt|garments?|material"
            rf"|anything|everything)\b{_KEEP_GAP}{{0,20}}?\b(?:stuck|melted|adher\w*)"
            r"|\bremov\w*\b[^.;\n,]{0,15}?\b(?:stuck|melted|adher\w*) (?:cloth|fabric|material)"
        ),
        (
            "peel off clothing that is stuck to the burn; cut around it",
            "pull melted fabric away from the skin",
        ),
        (
            "Peel off any clothing that is stuck to the burn.",
            "Pull the melted fabric off the skin before cooling.",
        ),
        keywords=("stuck", "melted", "adher"),
    ),
    Contraindication(
        "cool_whole_child",
        ("burn",),
        _rx(
            r"\b(?:cool|immerse|submerge|soak|douse)\w*\b[^.;\n]{0,25}?"
            r"\b(?:whole|entire) (?:child|body)|\bice bath\b"
            rf"|\b(?:immerse|submerge)\w* {_CHILD}"
        ),
        (
            "cool the whole child: cool the burn, keep the child warm",
            "immerse the child in cold water",
        ),
        (
            "Immerse the child in a bath of cold water to cool the whole body.",
            "Soak the whole body with cold water for 20 minutes.",
        ),
        keywords=("whole", "entire", "ice bath", "immers", "submerg"),
    ),
    Contraindication(
        "head_tilt_spinal",
        ("spinal",),
        _rx(r"\bhead[- ]tilt"),
        (
            "use a head-tilt chin-lift; open the airway with a jaw thrust",
            "tilt the head back to open the airway",
        ),
        (
            "Open the airway with a head-tilt chin-lift.",
            "Use a head-tilt chin-lift to open the airway before checking breathing.",
        ),
        keywords=("tilt",),  # not "head": every match holds "tilt"
    ),
    Contraindication(
        "move_unstabilised",
        ("spinal",),
        _rx(
            rf"\b(?:sit|stand) {_CHILD} up\b|\b(?:help|have|let|get|ask) {_CHILD}"
            r" (?:to )?(?:stand|walk|sit up|get up)|\bwalk " + _CHILD + r" (?:out|to)"
            r"|\bcarry " + _CHILD + r" (?:out )?in your arms"
        ),
        (
            "move or log-roll the child without manual in-line stabilisation",
            "let the child sit up or walk",
        ),
        (
            "Sit the child up so they can breathe more easily and look around.",
            "Help the child stand and walk to the treatment area.",
        ),
        keywords=("sit ", "stand", "walk", "get up", "carry"),  # "sit ": not "position"
    ),
    Contraindication(
        "abdominal_thrusts_drowning",
        ("drowning",),
        _rx(r"\babdominal thrusts?\b|\bheimlich"),
        (
            "give abdominal thrusts (Heimlich) to get water out",
            "use the Heimlich manoeuvre, which wastes time and causes vomiting",
        ),
        (
            "Give abdominal thrusts to push the water out of the lungs.",
            "Do the Heimlich manoeuvre first to clear the water.",
        ),
        keywords=("abdominal", "heimlich"),
    ),
    Contraindication(
        "drain_water",
        ("drowning",),
        _rx(
            r"\b(?:drain|pump|squeeze|press|push)\w*\b[^.;\n]{0,25}?\bwater\b"
            r"[^.;\n]{0,15}?\b(?:out|from)"
            rf"|\b(?:turn|hold|hang) {_CHILD} upside[- ]down"
        ),
        (
            "try to drain or pump water out of the lungs",
            "hold the child upside down to empty water",
        ),
        (
            "Hold the child upside down to drain the water from the lungs.",
            "Press on the stomach to pump the water out first.",
        ),
        keywords=("water", "upside"),
    ),
    Contraindication(
        "delay_breaths_drowning",
        ("drowning",),
        _rx(
            r"\b(?:delay(?!ed\b)\w*|wait\w*|hold off|postpone\w*|put off)\b[^.;\n]{0,60}?"
            r"\b(?:breaths?|ventilation|breathing for)"
        ),
        (
            "delay rescue breaths: the arrest is from lack of oxygen",
            "wait to ventilate until the water is out",
        ),
        (
            "Wait until the airway is completely dry before giving any breaths.",
            "Hold off on rescue breaths until help arrives.",
        ),
        keywords=("breath", "ventilat"),
        verbs=("delay", "wait", "hold off", "postpone", "put off"),
    ),
    Contraindication(
        "stop_resuscitation_cold",
        ("hypothermia",),
        _rx(
            r"\b(?:stop|cease|end|discontinue|abandon)\w*\b[^.;\n]{0,25}?"
            r"\b(?:cpr|resuscitation|compressions)\b[^.;\n]{0,40}?"
            r"\b(?:after \d+|if (?:there is )?no (?:response|pulse)|cold|before (?:re)?warm)"
        ),
        (
            "stop resuscitation of a cold-water drowning victim before rewarming",
            "declare a cold child dead before they are warm",
        ),
        (
            "Stop CPR after 10 minutes if there is no response.",
            "Stop resuscitation if the child is still cold and pulseless after a few cycles.",
        ),
        keywords=("cpr", "resuscitation", "compressions"),
    ),
    Contraindication(
        "rub_limbs_cold",
        ("hypothermia",),
        _rx(
            r"\b(?:rub(?:s|bing|bed)?|massag\w*|chaf\w*)\b[^.;\n]{0,25}?\b(?:limbs?|arms?|legs?|hands|feet|skin)"
        ),
        ("rub or massage cold limbs", "chafe the skin to warm it"),
        (
            "Rub the arms and legs hard to get the circulation going.",
            "Massage the cold hands and feet to warm them.",
        ),
        keywords=("rub", "massag", "chaf"),
    ),
    Contraindication(
        "induce_vomiting",
        ("chemical",),
        _rx(
            r"\binduc\w*\b[^.;\n]{0,15}?\bvomit|\bipecac\b"
            r"|\bfingers? down (?:the |his |her )?throat"
            rf"|\bmake {_CHILD} (?:vomit|throw up|be sick)"
        ),
        ("induce vomiting (no ipecac, no fingers down the throat)", "make the child vomit"),
        (
            "Induce vomiting to get the chemical out of the stomach.",
            "Make the child throw up with a finger down the throat.",
        ),
        always=True,
        keywords=("vomit", "ipecac", "throat", "throw up", "be sick"),
        verbs=("induc", "ipecac", "finger", "make"),
    ),
    Contraindication(
        "give_by_mouth",
        ("chemical", "smoke_inhalation", "head_injury", "crush"),
        _rx(
            r"\b(?:give|offer)\b[^.;\n]{0,25}?\b(?:water|milk|juice|a drink|something to"
            r" (?:drink|eat)|food|anything (?:to eat|to drink|by mouth)|fluids? by mouth|sips?)"
            r"\b(?! ?(?:bolus|iv|io))"
            rf"|\blet {_CHILD} (?:drink|eat|sip|have (?:some |a )?(?:water|milk|juice|drink))\b"
        ),
        ("give food or drink", "give anything by mouth"),
        ("Give the child sips of water to calm them.", "Offer milk or juice to settle the child."),
        # " eat" and "by mouth", not "eat" and "fluid": every match holds them, and "heart",
        # "breathing" and "IV fluids" fill the vital-sign lines
        keywords=(
            "water",
            "milk",
            "juice",
            "drink",
            "something to",
            "food",
            "anything",
            "by mouth",
            "sip",
            " eat",
        ),
        verbs=("give", "offer", "let"),
    ),
    Contraindication(
        "neutralise_chemical",
        ("chemical",),
        _rx(r"\bneutrali[sz]\w*"),
        (
            "try to neutralise an acid or alkali: the reaction burns",
            "pour vinegar or baking soda on the skin to neutralise it",
        ),
        (
            "Neutralise the chemical on the skin with vinegar or baking soda.",
            "Pour a weak acid on the alkali burn to neutralise it.",
        ),
        keywords=("neutrali",),
    ),
    Contraindication(
        "clothing_over_head",
        ("chemical",),
        _rx(
            r"\b(?:pull|take|lift|remove)\w*\b[^.;\n]{0,35}?"
            r"\bover (?:the (?:child'?s |baby'?s )?|his |her |their )head"
        ),
        (
            "pull contaminated clothing over the head; cut it off",
            "drag contaminated clothes over the face",
        ),
        (
            "Pull the contaminated shirt off over the child's head.",
            "Take the wet sweater off over her head.",
        ),
        keywords=("head",),
    ),
    Contraindication(
        "delay_decontamination",
        ("chemical",),
        _rx(
            r"\b(?:wait\w*|delay(?!ed\b)\w*|postpone\w*|hold off|put off)\b[^.;\n]{0,40}?"
            r"\b(?:decontaminat|wash|rins|flush|shower)\w*"
        ),
        (
            "delay decontamination: clothing off and water on within minutes",
            "wait for a hazmat team before rinsing",
        ),
        (
            "Wait for the hazmat team before washing the child.",
            "Delay decontamination until the child is at the hospital.",
        ),
        keywords=("decontaminat", "wash", "rins", "flush", "shower"),
    ),
    Contraindication(
        "epinephrine_iv_field",
        ("anaphylaxis",),
        _rx(
            r"\b(?:epinephrine|adrenaline)\b(?:[^.;\n,]|(?<=\d)\.(?=\d)){0,30}?"
            r"\b(?:iv|intravenous\w*)\b"
            r"|\b(?:iv|intravenous)\s+(?:push\s+)?(?:epinephrine|adrenaline)\b"
        ),
        (
            "give epinephrine IV in the field; IM into the outer thigh is the route",
            "push intravenous epinephrine for anaphylaxis",
        ),
        (
            "Give the epinephrine IV push for a faster effect.",
            "Draw up adrenaline and give it intravenously.",
        ),
        keywords=("epinephrine", "adrenaline"),
    ),
    Contraindication(
        "stand_anaphylaxis",
        ("anaphylaxis",),
        _rx(
            rf"\b(?:sit|stand) {_CHILD} up\b|\b(?:help|have|let|get|ask) {_CHILD}"
            r" (?:to )?(?:stand|walk|get up)"
        ),
        (
            "stand the child up or let them walk: sudden collapse can follow",
            "sit a floppy child upright",
        ),
        (
            "Stand the child up to check whether they feel dizzy.",
            "Have the child walk to the ambulance.",
        ),
        keywords=("sit ", "stand", "walk", "get up"),  # "sit ": not "position"
    ),
    Contraindication(
        "leave_unobserved",
        ("head_injury",),
        _rx(
            rf"\b(?:leave|let) {_CHILD}[^.;\n]{{0,20}}?\b(?:alone|unattended|unobserved"
            # sleep under watch ("let him sleep but wake him every 15 minutes") is observed
            r"|sleep(?![^.;\n]{0,40}?\b(?:check|wake|watch|observ|monitor)))"
        ),
        ("leave the child alone or unobserved", "let a drowsy child sleep unwatched"),
        (
            "Leave the child alone to rest in a quiet corner.",
            "Let the child sleep it off unattended.",
        ),
        keywords=("alone", "unattended", "unobserved", "sleep"),
    ),
)

BY_KEY = {c.key: c for c in CONTRAINDICATIONS}


def contraindications_for(hazards: list[str] | tuple[str, ...] | None) -> tuple:
    """What the scenario's hazards forbid; with no hazards, the always-wrong actions."""
    return _contraindications_for(frozenset(hazards or ()))


@lru_cache(maxsize=1024)  # the detectors ask once per new line; few hazard sets exist
def _contraindications_for(wanted: frozenset[str]) -> tuple:
    return tuple(c for c in CONTRAINDICATIONS if c.always or wanted.intersection(c.hazards))
