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

from align.checks.text import Terms, Token, is_negated, language, reaches, word_set, words
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
_NEGATING = frozenset(("without", "not", "never", "no", "don't", "instead"))
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
    unless_anywhere: bool
    antecedents: Terms
    not_followed_by: frozenset[str]
    # Word sets a clause must meet, each of them, for the form to match (a key word of its
    # after, context, antecedent, verb and object terms): set tests skip the many clauses
    # that cannot name the action before any matching.
    needs: tuple[frozenset[str], ...] = ()

    def possible(self, present: frozenset[str]) -> bool:
        """Whether a clause of the words ``present`` may name the action in this form."""
        # a loop, not all() over a generator: the test runs for every candidate form
        for needed in self.needs:  # noqa: SIM110
            if needed.isdisjoint(present):
                return False
        return True

    def spans(
        self, clause: str, tokens: tuple[Token, ...], given: str = ""
    ) -> list[tuple[int, int]]:
        """(first word, end word) of each mention of the action in ``clause``. ``given``: a
        word a heading above the line names, one of the verbs here ("**Epinephrine**" over
        "- 0.3 mg IV push"): the objects alone then name the action."""
        objects = self.objects.spans(tokens)
        if not objects:
            return []
        if not self.verbs or given in self.verbs.first_words:
            found = objects
        else:
            found = self._verb_object_spans(clause, tokens, objects)
        return [span for span in found if self._fits(clause, tokens, span)]

    def _verb_object_spans(self, clause, tokens, objects) -> list[tuple[int, int]]:
        auxiliaries = language().auxiliaries
        gap = _LOOSE_GAP if self.loose else self.gap
        found = []
        for verb_start, verb_end in self.verbs.spans(tokens):
            for object_start, object_end in objects:
                if verb_end <= object_start <= verb_end + gap:  # "loosen the TQ"
                    between = range(verb_end, object_start)
                    # "get it off him without dragging it over his face": the gap may not
                    # hold a negation of what follows
                    if reaches(clause, tokens, verb_end, object_start, self.loose) and not any(
                        tokens[k][0] in self.gap_stops or tokens[k][0] in _NEGATING for k in between
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
        if end < len(tokens) and tokens[end][0] in self.not_followed_by:
            return False  # "ask him to stand still"
        if self.antecedents and not self.antecedents.spans(tokens, 0, start):
            return False  # "it" stands for none of the objects
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
        return not (self.unless and self._has_unless(clause, tokens, end))

    def _has_unless(self, clause: str, tokens: tuple[Token, ...], end: int) -> bool:
        """An ``unless`` term after the action (anywhere in the clause with
        ``unless_anywhere``) that is itself not negated ("lift him out as one unit", not
        "roll him without in-line stabilisation")."""
        return any(
            not is_negated(clause, tokens[first][1], tokens[last - 1][2])
            for first, last in self.unless.spans(tokens, 0 if self.unless_anywhere else end)
        )

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
    # Words a text must hold for any form to match (the key words of the objects).
    words: frozenset[str] = frozenset()

    def possible(self, present: frozenset[str]) -> bool:
        """Whether text of the words ``present`` may name the action (in any of its forms)."""
        if self.words.isdisjoint(present):  # most texts: one set test
            return False
        return any(form.possible(present) for form in self.forms)

    def mentions(self, clause: str, given: str = "") -> list[tuple[int, int]]:
        """(start, end) offsets in ``clause`` of each mention of the action, negated or not;
        ``given``: a verb a heading above names (Form.spans)."""
        present = (word_set(clause) | {given}) if given else word_set(clause)
        forms = [form for form in self.forms if form.possible(present)]
        if not forms:
            return []
        tokens = words(clause)
        spans = sorted({span for form in forms for span in form.spans(clause, tokens, given)})
        return [(tokens[start][1], tokens[end - 1][2]) for start, end in spans]


def _form(table: dict, slots: dict) -> Form:
    objects = Terms(table["objects"], "noun", slots)
    verbs = Terms(table.get("verbs", ()), "verb", slots)
    after = Terms(table.get("after", ()), "", slots)
    context = Terms(table.get("context", ()), "", slots)
    antecedents = Terms(table.get("antecedents", ()), "noun", slots)
    # the likely rarest first: the test stops at the first set the clause misses
    needs = tuple(
        terms.key_words for terms in (after, context, antecedents, verbs, objects) if terms
    )
    return Form(
        objects=objects,
        verbs=verbs,
        after=after,
        context=context,
        unless=Terms(table.get("unless", ()), "verb", slots),
        gap_stops=frozenset(table.get("gap_stops", ())),
        gap=table.get("gap", 4),
        either_order=table.get("either_order", False),
        loose=table.get("loose", False),
        reverse_across_comma=table.get("reverse_across_comma", False),
        context_anywhere=table.get("context_anywhere", False),
        unless_anywhere=table.get("unless_anywhere", False),
        antecedents=antecedents,
        not_followed_by=_word_list(table.get("not_followed_by", ()), slots),
        needs=needs,
    )


def _word_list(entries, slots: dict) -> frozenset[str]:
    """Single words, where "{slot}" stands for every entry of that slot ("{body_parts}")."""
    found = set()
    for entry in entries:
        name = entry[1:-1] if entry.startswith("{") and entry.endswith("}") else None
        found.update(slots[name] if name else (entry,))
    return frozenset(found)


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
        words=frozenset().union(*(form.objects.key_words for form in forms)),
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
