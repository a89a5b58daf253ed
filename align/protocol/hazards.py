"""Scenario hazards and the actions each one forbids (facts file section 6).

The actions, their wordings and the rules that find them in free text live in
align/checks/vocabulary/contraindications.toml. A ``Contraindication`` carries:
- ``forms``: the ways a clause can name the action (a verb and its object, an object that
  is the whole action, ...; the vocabulary file describes them);
- ``prohibitions``: ways a gold response words it in its Do NOT list;
- ``instructions``: ways a wrong response words it as an action (the perturbation inserts
  one; the tests check that every one of them is found);
- ``always``: the action is wrong in every scenario this toolkit covers, so it is checked
  even where a record names no hazards (removing a tourniquet, inducing vomiting).
Whether a mention is negated is decided apart (align.checks.text.is_negated).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from align.checks.text import Terms, Token, language, reaches, word_set, words
from align.checks.vocabulary import load

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

# How far "after" words may follow the action ("tip the head gently back").
_AFTER_REACH = 3
# How many words a loose form's verb may stand before its object ("wait for the hazmat team
# before washing the child").
_LOOSE_GAP = 10


@dataclass(frozen=True)
class Form:
    """One way a clause names an action (contraindications.toml, "An action is found ...")."""

    objects: Terms
    verbs: Terms
    after: Terms
    context: Terms
    unless: Terms
    gap_stops: frozenset[str]
    gap: int
    either_order: bool
    loose: bool
    reverse_across_comma: bool
    context_anywhere: bool

    def spans(self, clause: str, tokens: tuple[Token, ...]) -> list[tuple[int, int]]:
        """(first word, end word) of each mention of the action in ``clause``."""
        objects = self.objects.spans(tokens)
        if not objects:
            return []
        found = objects if not self.verbs else self._verb_object_spans(clause, tokens, objects)
        return [span for span in found if self._fits(clause, tokens, span)]

    def _verb_object_spans(self, clause, tokens, objects) -> list[tuple[int, int]]:
        auxiliaries = language().auxiliaries
        gap = _LOOSE_GAP if self.loose else self.gap
        found = []
        for verb_start, verb_end in self.verbs.spans(tokens):
            for object_start, object_end in objects:
                if verb_end <= object_start <= verb_end + gap:  # "loosen the TQ"
                    between = range(verb_end, object_start)
                    if reaches(clause, tokens, verb_end, object_start, self.loose) and not any(
                        tokens[k][0] in self.gap_stops for k in between
                    ):
                        found.append((verb_start, object_end))
                elif (  # "the tourniquet can be loosened", "IV epinephrine"
                    self.either_order
                    and object_end <= verb_start <= object_end + 3
                    and all(tokens[k][0] in auxiliaries for k in range(object_end, verb_start))
                    and (
                        self.reverse_across_comma
                        or reaches(clause, tokens, object_end, verb_start, loose=True)
                    )
                ):
                    found.append((object_start, verb_end))
        return found

    def _fits(self, clause: str, tokens: tuple[Token, ...], span: tuple[int, int]) -> bool:
        start, end = span
        if self.after and not any(
            self.after.end_at(tokens, k) is not None and reaches(clause, tokens, end, k, loose=True)
            for k in range(end, min(end + _AFTER_REACH + 1, len(tokens)))
        ):
            return False
        if self.context and not (
            self.context.spans(tokens)
            if self.context_anywhere
            else self._has_context(clause, tokens, start)
        ):
            return False
        return not (self.unless and self.unless.spans(tokens, end))

    def _has_context(self, clause: str, tokens: tuple[Token, ...], start: int) -> bool:
        """A context term from the action on, before a comma or a word that turns to
        something else ("remove her shirt but leave anything stuck to the skin")."""
        stops = language().context_stops
        for k in range(start, len(tokens)):
            if k > start and (
                tokens[k][0] in stops or not reaches(clause, tokens, k, k, loose=True)
            ):
                return False
            if self.context.end_at(tokens, k) is not None:
                return True
        return False


@dataclass(frozen=True)
class Contraindication:
    key: str
    hazards: tuple[str, ...]
    prohibitions: tuple[str, ...]
    instructions: tuple[str, ...]
    forms: tuple[Form, ...]
    always: bool = False
    # Words a clause must hold for any form to match (the first words of the objects): a
    # set test skips the many clauses that name no part of the action.
    words: frozenset[str] = frozenset()

    def mentions(self, clause: str) -> list[tuple[int, int]]:
        """(start, end) offsets in ``clause`` of each mention of the action, negated or not."""
        if self.words.isdisjoint(word_set(clause)):
            return []
        tokens = words(clause)
        spans = sorted({span for form in self.forms for span in form.spans(clause, tokens)})
        return [(tokens[start][1], tokens[end - 1][2]) for start, end in spans]


def _form(table: dict, slots: dict) -> Form:
    return Form(
        objects=Terms(table["objects"], "noun", slots),
        verbs=Terms(table.get("verbs", ()), "verb", slots),
        after=Terms(table.get("after", ())),
        context=Terms(table.get("context", ())),
        unless=Terms(table.get("unless", ()), "verb"),
        gap_stops=frozenset(table.get("gap_stops", ())),
        gap=table.get("gap", 4),
        either_order=table.get("either_order", False),
        loose=table.get("loose", False),
        reverse_across_comma=table.get("reverse_across_comma", False),
        context_anywhere=table.get("context_anywhere", False),
    )


def _contraindication(table: dict, slots: dict) -> Contraindication:
    unknown = set(table["hazards"]) - set(HAZARDS)
    if unknown:
        raise ValueError(f"contraindications.toml: {table['key']}: unknown hazards {unknown}")
    forms = tuple(_form(form, slots) for form in table["forms"])
    return Contraindication(
        key=table["key"],
        hazards=tuple(table["hazards"]),
        prohibitions=tuple(table["prohibitions"]),
        instructions=tuple(table["instructions"]),
        forms=forms,
        always=table.get("always", False),
        words=frozenset().union(*(form.objects.first_words for form in forms)),
    )


def _load() -> tuple[Contraindication, ...]:
    vocabulary = load("contraindications")
    return tuple(_contraindication(t, vocabulary["slots"]) for t in vocabulary["actions"])


CONTRAINDICATIONS = _load()
BY_KEY = {c.key: c for c in CONTRAINDICATIONS}


def contraindications_for(hazards: list[str] | tuple[str, ...] | None) -> tuple:
    """What the scenario's hazards forbid; with no hazards, the always-wrong actions."""
    return _contraindications_for(frozenset(hazards or ()))


@lru_cache(maxsize=1024)  # the detectors ask once per new line; few hazard sets exist
def _contraindications_for(wanted: frozenset[str]) -> tuple:
    return tuple(c for c in CONTRAINDICATIONS if c.always or wanted.intersection(c.hazards))
