"""What a Russian case (order 692n) needs beyond the common case parts.

- :class:`Delivery`: how the citizen receives the extract from the MSE act: to the personal
  account on the state portal («Госуслуги»), or on paper by registered mail to a postal
  address (appendix 2 point 6). The postal address is personal data category 2.
- :class:`Extract`: the number and date of the extract from the act (form ``ru-extract``).
- The Russian passport is not a separate part: it is ``patient.identity_document`` (personal
  data category 6, one place for it), checked for a Russian case by :func:`passport_problems`
  (series 4 digits, number 6 digits) and printed by :func:`format_passport` as ``46 03 123456``.

СНИЛС and the ОМС policy live in ``patient.insurance`` with their checks in
:mod:`msedocs.model.identifiers`. The rules across parts for a Russian case are
:func:`rule_problems`, called from :func:`msedocs.model.case.rule_problems`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from .text import CheckedModel

if TYPE_CHECKING:
    from .case import Case, IdentityDocument

PASSPORT_SERIES = re.compile(r"^\d{2} ?\d{2}$")
PASSPORT_NUMBER = re.compile(r"^\d{6}$")


class _Part(CheckedModel):
    """Same rules as :class:`msedocs.model.case.Part` (kept here to avoid an import cycle)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class PostalAddress(_Part):
    """A postal address for registered mail: the 6-digit index is required."""

    postcode: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] = Field(description="Почтовый индекс, 6 цифр")
    line: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

    def __str__(self) -> str:
        return f"{self.postcode}, {self.line}"


class Delivery(_Part):
    """The citizen's choice of how to receive the extract (order 692n, appendix 2 point 6)."""

    channel: Literal["portal", "paper"] = Field(
        description="portal: личный кабинет на едином портале; paper: заказное почтовое отправление"
    )
    postal_address: PostalAddress | None = Field(
        None,
        json_schema_extra={"pd_category": 2},
        description="Почтовый адрес для заказного почтового отправления (обязателен для paper)",
    )


class Extract(_Part):
    """Выписка из акта медико-социальной экспертизы гражданина: its number and date."""

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    date: dt.date


def format_passport(series: str, number: str) -> str:
    """«46 03 123456»: the series as two pairs of digits, then the number."""
    digits = series.replace(" ", "")
    return f"{digits[:2]} {digits[2:]} {number}"


def is_ru_passport(kind: str) -> bool:
    text = kind.lower()
    return "паспорт" in text and ("российской федерации" in text or re.search(r"\bрф\b", text) is not None)


def passport_problems(doc: IdentityDocument, path: str) -> list[tuple[str, str]]:
    """A Russian citizen's passport: series 4 digits (region, year of the blank), number 6 digits."""
    problems: list[tuple[str, str]] = []
    if doc.series is None or not PASSPORT_SERIES.match(doc.series):
        got = "none" if doc.series is None else f"{len(doc.series)} characters"  # never the value: personal data
        problems.append((f"{path}.series", f"a passport series is 4 digits, printed «46 03» (got {got})"))
    if not PASSPORT_NUMBER.match(doc.number):
        problems.append((f"{path}.number", f"a passport number is 6 digits (got {len(doc.number)} characters)"))
    return problems


def rule_problems(case: Case) -> list[tuple[str, str]]:
    """Rules of a Russian case and of the extract, each as (JSON path, message)."""
    from .enums import Jurisdiction

    problems: list[tuple[str, str]] = []
    russian = case.jurisdiction == Jurisdiction.RU
    d = case.decision
    if not russian:
        for field in ("extract", "delivery"):
            if getattr(case, field) is not None:
                problems.append((field, "is for a Russian case (jurisdiction RU) only"))
        return problems
    p = case.patient
    if p.insurance.snils is None:
        problems.append(("patient.insurance.snils", "is required for a Russian case (СНИЛС, XXX-XXX-XXX YY)"))
    if p.identity_document is not None and is_ru_passport(p.identity_document.kind):
        problems.extend(passport_problems(p.identity_document, "patient.identity_document"))
    if case.delivery is not None and case.delivery.channel == "paper" and case.delivery.postal_address is None:
        problems.append(
            (
                "delivery.postal_address",
                "is required when the extract goes on paper by registered mail (channel 'paper')",
            )
        )
    may_go_by_mail = case.delivery is not None and (
        case.delivery.channel == "paper" or case.delivery.postal_address is not None
    )
    if may_go_by_mail and case.commission.address.postcode is None:
        problems.append(
            (
                "commission.address.postcode",
                "is required when the extract may go by registered mail (channel 'paper', or a postal address "
                "for the fall-back): the bureau's postcode is the sender's on the envelope",
            )
        )
    not_recognised = d is not None and not d.recognised
    if not_recognised:
        why = "a citizen not recognised as disabled receives an extract from the act (order 692n, appendix 2 point 6)"
        if case.extract is None:
            problems.append(("extract", f"is required: {why}"))
        if case.examination is None:
            problems.append(
                (
                    "examination",
                    "is required: the extract is drawn up from the act of the MSE (its number and date) "
                    "(order 692n, appendix 2 points 5-6)",
                )
            )
        if case.delivery is None:
            problems.append(("delivery", f"is required (channel 'portal' or 'paper'): {why}"))
    elif case.extract is not None:
        problems.append(("extract", "an extract from the act is issued only to a citizen not recognised as disabled"))
    if case.extract is not None and d is not None and case.extract.date < d.date:
        problems.append(
            (
                "extract.date",
                f"{case.extract.date.isoformat()} is before decision.date ({d.date.isoformat()})",
            )
        )
    return problems
