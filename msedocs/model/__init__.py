"""The case model: one validated :class:`Case` aggregate per case (see :mod:`.case`)."""

from .case import Case, PersonName, rule_problems
from .load import BatchReader, CaseWarning, Loaded, count_cases, iter_cases, load_case

__all__ = [
    "BatchReader",
    "Case",
    "CaseWarning",
    "Loaded",
    "PersonName",
    "count_cases",
    "iter_cases",
    "load_case",
    "rule_problems",
]
