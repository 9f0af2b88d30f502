"""The kinds of input a question is graded at, in one place.

``ordinary`` decides whether a formula is right. The others probe a formula that
is already right where careless float64 code breaks: gates saturated
(|pre-activation| 8…30, or up to 1000) and the stability case of the homework,
forget gates ≈ 1 and input gates ≈ 0 over T = 1,000 steps. Every task and
expression problem draws its ranges and words from here, so that a change of
range changes the wording with it.
"""
from __future__ import annotations

from typing import Mapping

REGIMES = ("ordinary", "saturated", "stability", "extreme")
DECIDING = "ordinary"           # the regime whose cases decide right or wrong

SATURATED_SHIFT = (8.0, 30.0)   # |bias shift| of saturated gates
EXTREME_SHIFT = (200.0, 1000.0)
SHIFTS = {"saturated": SATURATED_SHIFT, "extreme": EXTREME_SHIFT}
STABILITY_T = 1000
# σ(15) = 1 - 3.1e-7, so ∏f over 1,000 steps stays within 1e-3 of 1 (σ(10) would give 0.956).
FORGET_BIAS, INPUT_BIAS = 15.0, -15.0

PHRASES: Mapping[str, str] = {
    "ordinary": "at ordinary inputs",
    "saturated": "when the gates saturate (|pre-activation| 8…30)",
    "stability": "with forget gates ≈ 1 and input gates ≈ 0 (T = 1000)",
    "extreme": "with gates saturated up to |pre-activation| 1000",
}

# What a case label adds after its sizes ("T = 5, n = 3" + note).
NOTES: Mapping[str, str] = {
    "ordinary": "",
    "saturated": ", gates saturated (|pre-activation| 8…30)",
    "stability": ", forget gates ≈ 1 and input gates ≈ 0",
    "extreme": ", gates saturated up to |pre-activation| 1000",
}


def phrase(regime: str, overrides: Mapping[str, str] | None = None) -> str:
    """How a message names a regime; a task may word its own (an RNN has no gates)."""
    return (overrides or {}).get(regime) or PHRASES.get(regime, regime)


def note(regime: str) -> str:
    return NOTES.get(regime, f", {regime}")


def deciding(regimes) -> bool:
    """Whether a check over ``regimes`` decides right or wrong (it sees ordinary inputs)."""
    return DECIDING in tuple(regimes)
