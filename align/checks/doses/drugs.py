"""The dose vocabulary (align/checks/vocabulary/drugs.toml) compiled: each drug with its
names, routes, per-kg doses, caps, fixed doses and age rules, and the word patterns of
limits, containers, warnings and other patients."""

from __future__ import annotations

import re
from dataclasses import dataclass

from align.checks.vocabulary import load


def _phrase(word: str) -> str:
    """A vocabulary word as a pattern: a hyphen or space inside it may be either, or none."""
    return r"[-\s]?".join(re.escape(part) for part in re.split(r"[-\s]+", word.strip()))


def _words_pattern(words, prefix: str = "", suffix: str = "", plural: bool = False) -> re.Pattern:
    """Any of ``words`` as a whole word (longest first, ``plural``: with an "s" or "es" too),
    case-insensitive."""
    alternatives = "|".join(_phrase(w) for w in sorted(words, key=len, reverse=True))
    ending = r"(?:(?<=\w)e?s)?" if plural else ""
    return re.compile(rf"{prefix}(?<!\w)(?:{alternatives}){ending}(?!\w){suffix}", re.IGNORECASE)


def normal_name(name: str) -> str:
    return re.sub(r"[-\s]+", "", name.lower())


@dataclass(frozen=True)
class AgeRule:
    up_to_years: float | None
    per_kg: tuple[float, float]
    strengths: tuple[float, ...] | None  # allowed percent strengths (dextrose), None: any
    why: str


@dataclass(frozen=True)
class Route:
    key: str
    words: re.Pattern
    indication: str
    why: str
    per_kg: tuple[float, float]
    concentration: float  # mg/mL a volume is read in when none is stated
    caps: tuple[tuple[float | None, float], ...]  # (below this weight, max); None: any weight
    fixed: tuple[dict, ...]

    def cap(self, weight_kg: float) -> float | None:
        for below_kg, most in self.caps:
            if below_kg is None or weight_kg < below_kg:
                return most
        return None


@dataclass(frozen=True)
class Drug:
    key: str
    unit: str  # "mg", "g", "ml" or "" (known, not checked)
    tolerance: float
    rules: tuple[AgeRule, ...]
    routes: tuple[Route, ...]
    not_before: re.Pattern | None
    oral: re.Pattern | None
    forbidden_under_years: float | None
    forbidden_why: str

    def rule_for(self, age_years: float | None) -> AgeRule | None:
        """The rule for a child of this age; for an unknown age the widest one."""
        if not self.rules:
            return None
        if age_years is None:
            return AgeRule(
                None,
                (min(r.per_kg[0] for r in self.rules), max(r.per_kg[1] for r in self.rules)),
                None,
                self.rules[-1].why,
            )
        for rule in self.rules:
            if rule.up_to_years is None or age_years <= rule.up_to_years:
                return rule
        return self.rules[-1]


def _route(key: str, table: dict) -> Route:
    return Route(
        key,
        _words_pattern(table["words"]),
        table["indication"],
        table["why"],
        tuple(table["per_kg"]),
        table["concentration"],
        tuple((c.get("below_kg"), c["max"]) for c in table["caps"]),
        tuple(table.get("fixed", ())),
    )


def _drug(key: str, table: dict) -> Drug:
    forbidden = table.get("forbidden", {})
    return Drug(
        key,
        table.get("unit", ""),
        table.get("tolerance", 0.0),
        tuple(
            AgeRule(
                r.get("up_to_years"),
                tuple(r["per_kg"]),
                tuple(r["strengths"]) if "strengths" in r else None,
                r["why"],
            )
            for r in table.get("rules", ())
        ),
        tuple(_route(k, t) for k, t in table.get("routes", {}).items()),
        _words_pattern(table["not_before"], prefix=r"\s*") if "not_before" in table else None,
        _words_pattern(table["oral"]) if "oral" in table else None,
        forbidden.get("under_years"),
        forbidden.get("why", ""),
    )


VOCABULARY = load("drugs")
DEVICE_DOSES = VOCABULARY["device_doses"]
DRUGS = {key: _drug(key, table) for key, table in VOCABULARY["drugs"].items()}
DRUG_OF_NAME = {
    normal_name(name): key for key, table in VOCABULARY["drugs"].items() for name in table["names"]
}
# Names, also in the plural ("both EpiPens", "two boluses").
NAMES = _words_pattern(
    (name for table in VOCABULARY["drugs"].values() for name in table["names"]), plural=True
)
TOKEN = re.compile(r"[a-z0-9]+")
DIGIT = re.compile(r"\d")


def _name_tokens(names) -> frozenset[str]:
    """Words of which every match of the names holds one as a whole word: each name's last
    word of letters (its rarest: "normal saline" -> "saline", "iv fluid" -> "fluid"), its words
    run together ("autoinjector") and their plurals (a cheap test before the names' long
    pattern)."""
    tokens = set()
    for name in names:
        parts = TOKEN.findall(name.lower())
        lettered = [p for p in parts if not p.isdigit() and len(p) > 1] or parts
        for word in (lettered[-1], "".join(parts)):
            tokens.update((word, word + "s", word + "es"))
    return frozenset(tokens)


_ALL_NAMES = [n for t in VOCABULARY["drugs"].values() for n in t["names"]]
NAME_TOKENS = _name_tokens(_ALL_NAMES)
# Names of one plain word ("blood", "saline", "d10"): such a word in a line names the drug.
ONE_WORD_NAMES = frozenset(
    n.lower() + ending for n in _ALL_NAMES if n.isalnum() for ending in ("", "s", "es")
)


def may_name_a_drug(text: str) -> bool:
    return not NAME_TOKENS.isdisjoint(TOKEN.findall(text.lower()))


_WORDS = VOCABULARY["words"]
LIMIT_BEFORE = _words_pattern(
    _WORDS["limit_before"], suffix=r"[\s(:]*(?:(?:the|a|an|of|single|dose|each)\s+)*$"
)
LIMIT_NOT_AFTER = _words_pattern(_WORDS["limit_not_after"], suffix=r"\s*$")
LIMIT_AFTER = _words_pattern(_WORDS["limit_after"], prefix=r"^[\s(,]{0,3}")
CONTAINER_AFTER = _words_pattern(_WORDS["containers"], prefix=r"^\s*(?:[\w'%.]+\s+)?")
WARNINGS = _words_pattern(_WORDS["warnings"])
NOT_GIVEN = _words_pattern(_WORDS["not_given"])
UNJUDGED_ROUTES = _words_pattern(_WORDS["unjudged_routes"])
NOT_DOSED = _words_pattern(_WORDS["not_dosed"])
ARREST = _words_pattern(_WORDS["arrest"])
ANAPHYLAXIS = _words_pattern(_WORDS["anaphylaxis"])
THRESHOLD_BEFORE = _words_pattern(_WORDS["threshold_before"], suffix=r"\s*$")
THRESHOLD_AFTER = _words_pattern(_WORDS["threshold_after"], prefix=r"^\s*")
OTHER_PATIENT = _words_pattern(_WORDS["other_patient"])
FILLER = {normal_name(w) for w in _WORDS["filler"]}
ROUTE_COMPARED = _words_pattern(_WORDS["route_compared"], suffix=r"\s*$")
NEGATION_HEADING = re.compile(
    r"\b(?:avoid\w*|do not|don['’]?t|never|not|no|contraindicated)\b", re.IGNORECASE
)
NEWBORN_YEARS = 28 / 365
