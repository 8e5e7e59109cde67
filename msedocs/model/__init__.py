"""The case model: one validated :class:`Case` aggregate per case (see :mod:`.case`)."""

from .case import Case, PersonName, rule_problems
from .load import CaseWarning, load_case

__all__ = ["Case", "CaseWarning", "PersonName", "load_case", "rule_problems"]
