"""``wrong_vital_range``: find quoted vital-sign norms and judge them against the child's age.

The quotes, read one sentence at a time:

- **A normal range**: a numeric range ("20-28", "20 to 28", "between 20 and 28", in words
  "twelve to twenty") with a trigger word before it in the sentence ("normal", "typical",
  "expected", "usually", "should breathe ...", or a group of children it is said of with no
  number between: "Teenagers breathe between 20 and 30") or said of it right after ("80-120
  is fine for her", "20-28 is normal"), unless the words after it compare the child's
  reading with the norm ("40-50, faster than normal"). The vital comes from the unit
  (breaths, beats/bpm, mmHg), else from a keyword between the trigger (or the previous
  range) and the range, else every vital the sentence names is a candidate and the quote
  passes if it fits one; a per-minute unit rules out the blood pressure. A non-vital unit
  (mL, minutes, kg, %) makes it no quote; so does a triage cut-off word just before it ("the
  JumpSTART band of 15-45/min"), an intervention ("compressions at 100-120/min"), a negation
  ("not 12-20") or an age it is part of ("ages 1-10"). A heart rate said to be asleep is
  judged against the asleep rows as well. A line that is only a vital and a range is a row
  of a reference table ("- Heart rate roughly 100-190 awake" under "Normal values at 3
  months:") and a quote too.
- **A hypotension threshold**: a sentence about hypotension (or one that calls the blood
  pressure low) with "below", "under", "<" and a systolic number ("hypotensive below 80
  mmHg"; the measure named nearest must be the pressure); in a written-out formula
  ("below 70 + 2 x 5 = 80") the result counts.
- **A lowest normal systolic pressure**: "nl SBP >100 at this age", "normal systolic for a
  3-year-old is above 76": it fits a hypotension threshold or a published range's low end.
- **A Markdown table row** whose first cell names a vital: a cell that is only a range is its
  norm ("| RR | 22 | 22–34 | ✅ |"), unless it carries a mark ("15–45 ✔") or is a triage
  band. A triage cut-off word before a range does not govern it when the child's reading and
  a trigger stand between ("JumpSTART: RR 26 (nl 30-60 for age)").

The age is the one the sentence names for the quote: an age right after it ("20-28 for a
preschooler"), else the nearest before it since the previous range ("normal RR for a
4-year-old is 20-28"), else the nearest anywhere in the sentence; "for her age" is the
patient's, and so is a sentence that names none. An age word ("toddler") that names the
patient's band means the patient; one for another band is judged across that band. A quote
fits when it matches what a published table gives for that age (align.protocol.vitals: each
end within a rounding slack of one table's range, the age within a small margin of the
band's edges). Markdown emphasis is read as blank ("below **70 mmHg**"). The words live in
vocabulary/vital_signs.toml.
"""

from align.checks.vital_ranges.judging import (
    fits,
    judged_ages,
    range_detail,
    wrong_quotes,
    wrong_ranges,
)
from align.checks.vital_ranges.quotes import (
    RangeQuote,
    line_quotes,
    quote_age,
    quoted_ranges,
    sentence_quotes,
)

__all__ = [
    "RangeQuote",
    "fits",
    "judged_ages",
    "line_quotes",
    "quote_age",
    "quoted_ranges",
    "range_detail",
    "sentence_quotes",
    "wrong_quotes",
    "wrong_ranges",
]
