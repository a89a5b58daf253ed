"""``wrong_dose``: doses as absolute amounts, per kg or both, checked against the child's
weight and age, the caps, the route and concentration, and drugs a child must not have.

The pieces, in the order a line is read: ``drugs`` (the vocabulary of drugs.toml compiled),
``quantities`` (amounts, per-kg doses, weights, concentrations, numbers in words),
``reading`` (which drug each figure belongs to, and which figures are doses to give) and
``checking`` (each dose judged against the child; what the rule is is told there).
"""

from align.checks.doses.checking import (
    IV_FOR_ANAPHYLAXIS,
    line_totals,
    line_wrong_doses,
    stated_totals,
)
from align.checks.doses.drugs import DRUGS
from align.checks.doses.quantities import with_digits
from align.checks.doses.reading import drug_heading, has_dose_statement

__all__ = [
    "DRUGS",
    "IV_FOR_ANAPHYLAXIS",
    "drug_heading",
    "has_dose_statement",
    "line_totals",
    "line_wrong_doses",
    "stated_totals",
    "with_digits",
]
