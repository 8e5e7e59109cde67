"""Медицинская карта пациента МРЭК: appendix 12 to the resolution (items 1-8).

Item 8 is the table of MSE results: one row per past decision (``case.history``, in date
order), then the current decision as the last row when the case has one. The card is
not signed. It is a Belarusian MREK document, so it applies to Belarusian cases only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from ..contract import format_date
from ..model.case import Case, Decision
from ..model.mpr import Certificate, PastDecision
from . import common as c
from .spec import Column, FormSpec, ItemDef, by_source, list_limit, name_limit


@dataclass(frozen=True)
class ResultRow:
    """One row of the table of item 8."""

    no: int
    date: date
    commission: str
    conclusion: str
    certificate: str | None
    note: str | None


def decision_conclusion(d: Decision) -> str:
    """«Заключение МРЭК» for the current decision, in the words of the act."""
    if not d.recognised:
        return "инвалидом не признан(а)"
    if d.group is not None:
        parts = [f"признан(а) инвалидом, {d.group.label}"]
    else:
        assert d.degree is not None
        parts = [f"установлена категория «ребенок-инвалид», {d.degree.label}"]
    if d.cause:
        parts.append(f"причина инвалидности: {d.cause}")
    if d.no_term:
        parts.append("без указания срока переосвидетельствования")
    elif d.valid_until:
        start = f"с {format_date(d.valid_from)} " if d.valid_from else ""
        parts.append(f"срок {start}по {format_date(d.valid_until)}")
    elif d.validity_other:
        parts.append(d.validity_other)
    if d.work_capacity_loss and d.work_capacity_loss.total_percent:
        parts.append(f"степень утраты профессиональной трудоспособности {d.work_capacity_loss.total_percent} %")
    return "; ".join(parts)


def _certificate(sheet: Certificate | None) -> str | None:
    return str(sheet) if sheet else None


def results(case: Case) -> list[ResultRow]:
    """Rows of item 8: past decisions by date, then the current decision."""
    past: list[PastDecision] = sorted(case.history, key=lambda h: h.date)
    rows = [ResultRow(0, h.date, h.commission, h.conclusion, _certificate(h.certificate), h.note) for h in past]
    d = case.decision
    if d is not None and not any(h.date == d.date and h.commission == case.commission.name for h in past):
        sheet = d.certificate_issued
        cert = str(Certificate(series=sheet.series, number=sheet.number)) if sheet else None
        rows.append(ResultRow(0, d.date, case.commission.name, decision_conclusion(d), cert, c.review_note(case)))
    return [replace(r, no=i) for i, r in enumerate(rows, start=1)]


CARD = FormSpec(
    id="by-card",
    title="Медицинская карта пациента медико-реабилитационной экспертной комиссии",
    xml_root="patientCard",
    source=by_source("appendix 12", "2243-2301"),
    header=(c.commission_name(),),
    items=(
        c.patient_name("1"),
        c.id_number("2"),
        c.birth_date("3"),
        ItemDef(
            "4",
            "representativeName",
            "Фамилия, собственное имя, отчество (если таковое имеется) законного представителя пациента",
            get=lambda k: k.representative.name if k.representative else None,
            footnote=1,
            max_length=name_limit(),
        ),
        replace(c.registration_address("5"), label="Адрес регистрации пациента по месту жительства"),
        c.actual_address("6"),
        replace(c.phones(lambda k: k.patient.contacts.phones), doc="(пункт 6)"),
        ItemDef(
            "7",
            "workplace",
            "Место работы (учебы), адрес места нахождения организации",
            get=lambda k: k.patient.workplace,
        ),
        ItemDef(
            "8",
            "results",
            "Результаты медико-социальной экспертизы",
            "records",
            get=results,
            max_rows=list_limit(Case, "history") + 1,  # the past decisions, then the current one
            columns=(
                Column("no", "№ п/п", "int", get=lambda r: r.no),
                Column(
                    "date",
                    "Дата решения медико-реабилитационной экспертной комиссии (далее – МРЭК)",
                    "date",
                    get=lambda r: r.date,
                ),
                Column(
                    "commission",
                    "Наименование МРЭК, проводившей медико-социальную экспертизу",
                    get=lambda r: r.commission,
                ),
                Column("conclusion", "Заключение МРЭК", get=lambda r: r.conclusion),
                Column(
                    "certificate",
                    "Серия, номер удостоверения инвалида (дубликата удостоверения инвалида)",
                    get=lambda r: r.certificate,
                ),
                Column("note", "Примечание", get=lambda r: r.note),
            ),
        ),
    ),
    footnotes=("1 Заполняется при наличии законного представителя.",),
    applies=lambda k: k.decision is not None or bool(k.history),
)
