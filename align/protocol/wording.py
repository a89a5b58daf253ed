"""The wording tools the response reader shares: phrase alternations for regexes, lower-case
words, phrase lookup among words, plain text without Markdown, sentences and list markers."""

from __future__ import annotations

import re
from functools import lru_cache

from align.checks.vocabulary import load

# The words of response layouts (decision forms and section titles).
LAYOUT = load("response_layout")


def alternatives(words) -> str:
    """A regex alternation of phrases, longest first, any run of spaces between words."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in ordered)


def word_alternatives(words) -> str:
    """The same, each phrase as whole words where it starts or ends with a letter."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        part = re.escape(word).replace(r"\ ", r"\s+")
        if word[0].isalnum():
            part = r"\b" + part
        if word[-1].isalnum():
            part += r"\b"
        parts.append(part)
    return "|".join(parts)


_WORD = re.compile(r"[a-z0-9ø]+(?:['’][a-z]+)*|=")


def words_of(text: str) -> list[str]:
    """The lower-case words of a text ("She's RED." -> ["she's", "red"])."""
    return _WORD.findall(text.lower())


class Phrases:
    """A vocabulary of phrases of one or more words, looked up among a text's words (set
    lookups: a regex alternation of a hundred phrases costs tens of microseconds a line)."""

    def __init__(self, phrases):
        self.by_length: dict[int, set[tuple[str, ...]]] = {}
        for phrase in phrases:
            key = tuple(words_of(phrase))
            self.by_length.setdefault(len(key), set()).add(key)

    def position_in(self, words: list[str]) -> int | None:
        """The index of the first word of the first phrase found, or None."""
        found = None
        for length, phrases in self.by_length.items():
            for start in range(len(words) - length + 1):
                if tuple(words[start : start + length]) in phrases:
                    found = start if found is None else min(found, start)
                    break
        return found

    def last_position_in(self, words: list[str]) -> int | None:
        """The index of the first word of the last phrase found, or None."""
        found = None
        for length, phrases in self.by_length.items():
            for start in range(len(words) - length, -1, -1):
                if tuple(words[start : start + length]) in phrases:
                    found = start if found is None else max(found, start)
                    break
        return found

    def found_in(self, words: list[str]) -> bool:
        return self.position_in(words) is not None


FULL_STOP = re.compile(r"(?<=[.!?])\s+")
ANY_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+\|\s+")
BRACKETED = re.compile(r"\([^)]*\)")
ITEM = re.compile(
    r"\s*(?:[-*•·‣◦–▪►➤✗✘❌✓✔☐→]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)]|\[[ xX✓✔]\])\s+(?P<text>.*)"
)
# Whitespace after a sentence end, before a capital or digit.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
# Markdown marks, and symbols other than the arrows, dashes and bullets that separate a
# decision or a title (emoji, variation selectors, pictographs): letters and digits of any
# script stay.
_MARKDOWN = re.compile(r"[*_`~#|\[\]]+")
_SYMBOLS = re.compile(r"[^\w\s\x00-\x7f→⇒➡–—•]")


@lru_cache(maxsize=65536)
def plain_text(line: str) -> str:
    """A line without Markdown marks, emoji and other symbols, its spaces collapsed: what the
    decision and heading rules read ("**Triage:** 🔴 RED" -> "Triage: RED")."""
    # a spaced bar parts the statements of a note ("RED | 1yo apnoeic | O2"); other bars are
    # Markdown
    line = _MARKDOWN.sub(" ", line.replace("’", "'").replace(" | ", "; "))
    if not line.isascii():
        line = _SYMBOLS.sub(" ", line)
    # Arrows and dashes separate a decision from its field; before anything they are marks.
    return " ".join(line.split()).lstrip("> →⇒➡-–—•=/")  # "🟢/🟡 Triage: ..." leaves a "/"


def split_sentences(text: str) -> list[str]:
    """The sentences of a line of text (a period, ! or ? then a capital or a digit)."""
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s.strip()]


def table_cells(line: str) -> list[str]:
    """The cells of a Markdown table row."""
    return line.strip().strip("|").split("|")
