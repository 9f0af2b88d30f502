"""The checks a question can declare, by name. Each is one small class."""
from .base import Check, CheckContext, Verdict
from .gradcheck import GradCheck
from .numeric import NumericCheck, StabilityCheck
from .symbolic import SymbolicCheck

CHECKS: dict[str, type[Check]] = {c.name: c for c in (SymbolicCheck, NumericCheck, GradCheck, StabilityCheck)}

__all__ = ["CHECKS", "Check", "CheckContext", "Verdict"]
