"""The load rule: what one open, undecided referral weighs on its bureau.

A bureau's load is the sum of :func:`default_effort` over its referrals not yet decided; the
bureau chosen is the eligible one with the least ``load / capacity``. The default weights, in
«referral units»:

- 2 for every referral (registration, examination of the documents, the decision);
- +1 for a referral examined in 3 working days (palliative care, primary prosthetics: appendix 2
  point 4 of the order): its deadline takes the place of other work;
- +1 for a specialisation whose examination takes longer (psychiatry, oncology);
- unstructured referrals (point 5): +1, the documents are read by hand.

Another rule is any function ``(RoutingAttributes) -> int`` (at least 1), given to
:class:`~msedocs.routing.router.Router` or named by ``MSEDOCS_EFFORT_RULE=module:function``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

from msedocs.errors import InputError
from msedocs.referrals.model import RoutingAttributes

EffortRule = Callable[[RoutingAttributes], int]
LONGER = {"psychiatry", "oncology"}


def default_effort(attrs: RoutingAttributes) -> int:
    weight = 2
    if attrs.palliative:
        weight += 1
    if attrs.specialisation in LONGER:
        weight += 1
    if not attrs.structured:
        weight += 1
    return weight


def unit_effort(attrs: RoutingAttributes) -> int:
    """Every referral weighs 1: load is the number of open referrals."""
    return 1


def configured() -> EffortRule:
    spec = os.environ.get("MSEDOCS_EFFORT_RULE")
    if not spec:
        return default_effort
    module, _, name = spec.partition(":")
    try:
        rule = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"MSEDOCS_EFFORT_RULE={spec}: cannot load ({exc})") from None
    return rule  # type: ignore[no-any-return]
