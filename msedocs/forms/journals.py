"""The four registers of the Instruction on examination (appendices 4-7): journals.

A journal is not one case's document: each case contributes zero or more entries (an
examined patient, a card lent out, a certificate issued, an MPR consultation), and the
journal lists every entry of a period in date order under the statute's numbered columns.

Entries are extracted from each case as soon as it is read, as tuples of plain strings
(dates in ISO form). The journal (:class:`msedocs.contract.Journal`) takes its rows as any
re-iterable sequence with a length (:class:`~msedocs.contract.Rows`): a list for a short
journal, or a spool on disk (``msedocs.journal``) for a year of a busy commission, so rows never
need to sit in memory.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .. import contract
from ..contract import Journal, JournalRow, Rows, format_date
from ..model.case import Case
from ..model.enums import Jurisdiction, ProgrammeFormed, ReferralPurpose
from ..model.mpr import MprPurpose
from . import common as c
from .spec import Declared, Signer, Source, by_source, display_text, heading

MKB_FOOTNOTE = (
    "1 Международная статистическая классификация болезней и проблем, связанных со здоровьем, десятого пересмотра."
)


#: The signer of a register: the commission's chairman.
CHAIRMAN = Signer("chairman", "Председатель МРЭК", lambda case: [case.commission.chairman])


@dataclass(frozen=True)
class JournalColumn:
    """A numbered column: the statute's heading, the XML name, how to read it from an entry."""

    key: str
    label: str
    get: Callable[[Case, Any], Any]
    type: Literal["text", "date"] = "text"
    #: Millimetres of the landscape page's 272 mm text width (PDF and DOCX alike, in proportion),
    #: sized by content: bench/fit_journal_widths.py fits them to generated cases.
    width: float = 20.0


@dataclass(frozen=True)
class Entry:
    """One row to be: its date, its place among the rows of that date, its cells."""

    date: dt.date
    order: tuple[str, str]
    values: tuple[str | None, ...]


def natural_key(text: str) -> str:
    """A sort key that orders numbers by value («2026-9» before «2026-10») as plain strings do."""
    return re.sub(r"\d+", lambda m: m.group().zfill(12), text)


#: A journal's row (:data:`msedocs.contract.JournalRow`).
Row = JournalRow


def numbered(entries: Iterable[Entry], start: dt.date, end: dt.date) -> list[Row]:
    """Entries of [start, end] in date order (stable), numbered from 1: rows held in memory."""
    chosen = sorted((e for e in entries if start <= e.date <= end), key=lambda e: e.order)
    return [(str(i), *e.values) for i, e in enumerate(chosen, start=1)]


@dataclass(frozen=True)
class JournalSpec(Declared):
    """One register: its columns (column 1, «№ п/п», is numbered by the journal itself)."""

    id: str
    title: str
    xml_root: str
    source: Source
    columns: tuple[JournalColumn, ...]
    records: Callable[[Case], Iterable[Any]]
    date_of: Callable[[Case, Any], dt.date | None]
    #: How entries of the same date are ordered (a string key); by default the case id.
    tie_of: Callable[[Case, Any], str] | None = None
    footnotes: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("xml", "pdf", "docx")
    #: The width of column 1, «№ п/п», in millimetres like the columns' own.
    number_width: float = 9.0
    #: Who signs the journal when it is signed (``--sign``): the commission's chairman.
    signers: tuple[Signer, ...] = (CHAIRMAN,)

    @property
    def kind(self) -> Literal["journal"]:
        return "journal"

    def entries(self, case: Case) -> list[Entry]:
        """The entries one case contributes (Belarusian registers: Belarusian cases only)."""
        if case.jurisdiction != Jurisdiction.BY:
            return []
        out = []
        for record in self.records(case):
            when = self.date_of(case, record)
            if when is None:
                continue
            values = tuple(_cell(col, col.get(case, record)) for col in self.columns)
            tie = self.tie_of(case, record) if self.tie_of else case.case_id
            out.append(Entry(when, (when.isoformat(), tie), values))
        return out

    def data(self, rows: Rows, commission: str, start: dt.date, end: dt.date) -> Journal:
        """The journal over numbered rows (see :func:`numbered`) of [start, end]."""
        return Journal(
            heading(self),
            commission=commission,
            start=start.isoformat(),
            end=end.isoformat(),
            started=format_date(start),
            finished=format_date(end),
            columns=(
                contract.JournalColumn(1, "no", "№ п/п", "int", self.number_width),
                *(
                    contract.JournalColumn(i, col.key, col.label, col.type, col.width)
                    for i, col in enumerate(self.columns, start=2)
                ),
            ),
            rows=rows,
            footnotes=self.footnotes,
        )


def _cell(col: JournalColumn, raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if col.type == "date":
        return raw.isoformat() if isinstance(raw, dt.date) else str(raw)
    return display_text(raw) if not isinstance(raw, str) else raw


# --- shared column readers ------------------------------------------------------------------


def _surname_initials(case: Case, _: Any) -> str:
    name = case.patient.name
    ini = "".join(f"{p[0]}." for p in (name.first, name.middle) if p)
    return f"{name.last} {ini}"


def _id(case: Case, _: Any) -> str | None:
    return case.patient.id_number


def _birth(case: Case, _: Any) -> dt.date:
    return case.patient.birth_date


def _address(case: Case, _: Any) -> str:
    a = case.patient.addresses
    return str(a.actual or a.registration)


def _referring(case: Case, _: Any) -> str:
    return case.referring_organisation.name


def _act(case: Case, _: Any) -> str | None:
    e = case.examination
    return f"№ {e.act_number} от {e.act_date.strftime('%d.%m.%Y')}" if e else None


def _group(case: Case, _: Any) -> str | None:
    d = case.decision
    if d is None or not d.recognised:
        return None
    return d.group.label if d.group else (d.degree.label if d.degree else None)


#: The patient's columns several registers print, each worded once: key -> heading, reader, type.
PATIENT_COLUMNS: dict[str, tuple[str, Callable[[Case, Any], Any], Literal["text", "date"]]] = {
    "patient": ("Фамилия, инициалы пациента", _surname_initials, "text"),
    "idNumber": ("Идентификационный номер пациента", _id, "text"),
    "birthDate": ("Дата рождения", _birth, "date"),
    "address": ("Адрес места жительства или пребывания", _address, "text"),
}


def patient_columns(**widths: float) -> tuple[JournalColumn, ...]:
    """The :data:`PATIENT_COLUMNS` a register prints, by key in its order, each as wide as given."""
    return tuple(JournalColumn(key, *PATIENT_COLUMNS[key], width=width) for key, width in widths.items())


# --- appendix 4: protocols of the commission's sessions ------------------------------------


def _age_under_18(case: Case, on: dt.date) -> bool:
    b = case.patient.birth_date
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day)) < 18


#: A register row names the programmes by the Instruction's own abbreviations (seed lines
#: 2645-2649: «ИПРА инвалида» for a disabled adult's or child's, «ПРП» for an injured worker's),
#: where the referral (item 31) and the act spell them out.
PROGRAMME_WORDING: dict[ProgrammeFormed, str] = {
    ProgrammeFormed.IPRA_ADULT: "ИПРА инвалида",
    ProgrammeFormed.IPRA_CHILD: "ИПРА инвалида",
    ProgrammeFormed.PRP: "ПРП",
}
#: A purpose whose statutory wording carries an explanation in brackets is named in a row without it.
REGISTER_PURPOSE: dict[ReferralPurpose, str] = {
    ReferralPurpose.REEXAMINATION: "переосвидетельствование пациента",
}


def _programme_purpose(case: Case, on: dt.date) -> str:
    """«формирование (коррекция)» of the programme(s) the decision formed, in the statute's order;
    without them, the patient's by age (a disabled child's or an adult's)."""
    formed = set(case.decision.programmes_formed) if case.decision else set()
    if not formed:
        formed = {ProgrammeFormed.IPRA_CHILD if _age_under_18(case, on) else ProgrammeFormed.IPRA_ADULT}
    named = dict.fromkeys(PROGRAMME_WORDING[p] for p in ProgrammeFormed if p in formed)
    return "формирование (коррекция) " + ", ".join(named)


def _purpose(case: Case, _: Any) -> str:
    """The purposes of the referral, each chosen one once, then its «другое» (free text) when given."""
    e = case.examination
    source = e if e else case.referral
    on = e.act_date if e else case.referral.date
    parts = [
        _programme_purpose(case, on) if p == ReferralPurpose.REHAB_PROGRAMME else REGISTER_PURPOSE.get(p, p.label)
        for p in source.purposes
    ] + ([source.purpose_other] if source.purpose_other else [])
    return "; ".join(parts)


def _diagnosis(case: Case, _: Any) -> str:
    d = case.examination.diagnosis if case.examination else case.referral.diagnosis
    return f"{', '.join(d.icd10)} {d.main}"


def _before(case: Case, _: Any) -> str:
    d, e = case.decision, case.examination
    status = d.status_before if d and d.status_before else case.referral.status_before
    parts = [status.group.label if status.group else (status.degree.label if status.degree else "не является")]
    if e and (e.incapacity_continuous_days or e.incapacity_interrupted_days):
        continuous, interrupted = e.incapacity_continuous_days or 0, e.incapacity_interrupted_days or 0
        parts.append(f"ВН непрерывно {continuous} дн., с перерывами {interrupted} дн.")
    return "; ".join(parts)


def _validity(case: Case, _: Any) -> str | None:
    d = case.decision
    if d is None or not d.recognised:
        return None
    if d.no_term:
        return "без указания срока переосвидетельствования"
    if d.valid_from and d.valid_until:
        return f"с {d.valid_from.strftime('%d.%m.%Y')} по {d.valid_until.strftime('%d.%m.%Y')}"
    if d.valid_until:  # no start date given: the term is still known
        return f"до {d.valid_until.strftime('%d.%m.%Y')}"
    return d.validity_other


def _labour(case: Case, _: Any) -> str | None:
    d = case.decision
    if d is None or d.labour is None:
        return None
    return f"противопоказано: {d.labour.contraindicated}; показано: {d.labour.indicated}"


def _missed(case: Case, _: Any) -> str | None:
    d = case.decision
    if d is None or d.missed_period is None:
        return None
    p = d.missed_period
    return f"с {p.start.strftime('%d.%m.%Y')} по {p.end.strftime('%d.%m.%Y')}"


PROTOCOLS = JournalSpec(
    id="by-journal-protocols",
    title="протоколов заседаний медико-реабилитационной экспертной комиссии",
    xml_root="protocolsJournal",
    source=by_source("appendix 4 to the Instruction", "4406-4527"),
    number_width=8,
    columns=(
        *patient_columns(patient=14, idNumber=21, birthDate=15, address=16),
        JournalColumn(
            "referredBy",
            "Наименование организации, направившей пациента на медико-социальную экспертизу",
            _referring,
            width=16,
        ),
        JournalColumn("purpose", "Цель направления", _purpose, width=15),
        JournalColumn(
            "diagnosis",
            "Клинико-функциональный диагноз, код по МКБ-10¹ основного(ых) заболевания(й)",
            _diagnosis,
            width=34,
        ),  # fmt: skip
        JournalColumn(
            "before",
            "Группа инвалидности (степень утраты здоровья), длительность временной нетрудоспособности "
            "до настоящего освидетельствования",
            _before,
            width=18,
        ),
        JournalColumn("decision", "Решение МРЭК²", lambda k, _: c.decision_text(k), width=17),
        JournalColumn("validity", "Срок действия заключения МРЭК", _validity, width=13),
        JournalColumn("labour", "Требования к характеру и условиям труда", _labour, width=40),
        JournalColumn(
            "technicalMeans", "ТССР³", lambda k, _: k.decision.technical_means if k.decision else None, width=16
        ),
        JournalColumn("missedPeriod", "Данные об инвалидности за пропущенное время", _missed, width=13),
        JournalColumn("note", "Примечание", lambda k, _: c.review_note(k), width=16),
    ),
    records=lambda k: [k.examination] if k.examination is not None else [],
    date_of=lambda k, e: e.protocol.date,
    # a session's rows as its protocol lists them: by protocol, then act number
    tie_of=lambda k, e: f"{natural_key(e.protocol.number)} {natural_key(e.act_number)} {k.case_id}",
    footnotes=(
        MKB_FOOTNOTE,
        "2 Медико-реабилитационная экспертная комиссия.",
        "3 Технические средства социальной реабилитации.",
    ),
)

# --- appendix 5: movements of the MREK medical cards ---------------------------------------


def _last_exam(case: Case, _: Any) -> str | None:
    e = case.examination
    return f"№ {e.act_number} от {e.act_date.strftime('%d.%m.%Y')}, {e.act_date.year} г." if e else None


CARDS = JournalSpec(
    id="by-journal-cards",
    title="учета движения медицинских карт пациентов медико-реабилитационной экспертной комиссии",
    xml_root="cardsJournal",
    source=by_source("appendix 5 to the Instruction", "4528-4599"),
    number_width=11,
    columns=(
        *patient_columns(patient=35, idNumber=33, birthDate=28),
        JournalColumn(
            "act", "Номер/дата акта освидетельствования, год последнего освидетельствования", _last_exam, width=35
        ),
        JournalColumn(
            "requestedBy",
            "Наименование организации, запросившей медицинскую карту пациента МРЭК¹",
            lambda k, m: m.requested_by,
            width=45,
        ),
        JournalColumn(
            "handedOver",
            "Число, месяц, год передачи медицинской карты пациента МРЭК",
            lambda k, m: m.handed_over,
            "date",
            width=30,
        ),  # fmt: skip
        JournalColumn(
            "returned",
            "Число, месяц, год возврата медицинской карты пациента МРЭК",
            lambda k, m: m.returned,
            "date",
            width=30,
        ),  # fmt: skip
        JournalColumn("note", "Примечание", lambda k, m: m.note, width=25),
    ),
    records=lambda k: k.card_movements,
    date_of=lambda k, m: m.handed_over,
    footnotes=("1 Медико-реабилитационная экспертная комиссия.",),
)

# --- appendix 6: disability certificates issued -------------------------------------------


def _cert_date(case: Case, cert: Any) -> dt.date | None:
    return cert.issued_on or (case.decision.date if case.decision else None)


def _cert_validity(case: Case, _: Any) -> str | None:
    d = case.decision
    if d is None:
        return None
    if d.no_term:
        return "бессрочно"
    return f"до {d.valid_until.strftime('%d.%m.%Y')}" if d.valid_until else d.validity_other


CERTIFICATES = JournalSpec(
    id="by-journal-certificates",
    title="учета выдачи удостоверений инвалидов",
    xml_root="certificatesJournal",
    source=by_source("appendix 6 to the Instruction", "4600-4683"),
    number_width=11,
    columns=(
        *patient_columns(patient=33, idNumber=30),
        JournalColumn("issuedOn", "Дата выдачи удостоверения инвалида", _cert_date, "date", width=26),
        JournalColumn(
            "act",
            "Акт освидетельствования в медико-реабилитационной экспертной комиссии (номер, дата)",
            _act,
            width=33,
        ),  # fmt: skip
        JournalColumn("group", "Группа инвалидности (степень утраты здоровья)", _group, width=28),
        JournalColumn(
            "certificate",
            "Серия, номер удостоверения инвалида",
            lambda k, s: " ".join(x for x in (s.series, s.number) if x),
            width=23,
        ),  # fmt: skip
        JournalColumn("validUntil", "Срок действия удостоверения инвалида", _cert_validity, width=23),
        JournalColumn("signature", "Подпись получателя", lambda k, s: None, width=23),
        JournalColumn(
            "note",
            "Примечание (фамилия, инициалы получателя удостоверения инвалида, номер и дата доверенности; "
            "выдан дубликат удостоверения инвалида)",
            lambda k, s: s.recipient_note,
            width=42,
        ),
    ),
    records=lambda k: [k.decision.certificate_issued] if k.decision and k.decision.certificate_issued else [],
    date_of=_cert_date,
)

# --- appendix 7: consultative conclusions of the MPR office --------------------------------


#: Item 8.4's programme, by the Instruction's abbreviation (a disabled adult's or child's alike).
MPR_PROGRAMME = "коррекция ИПРА инвалида в части профессиональной и трудовой реабилитации"


def _mpr_purpose(case: Case, mpr: Any) -> str | None:
    parts = [MPR_PROGRAMME if p == MprPurpose.IPRA_CORRECTION else p.label for p in mpr.purposes]
    return "; ".join(parts + ([mpr.purpose_other] if mpr.purpose_other else [])) or None


def _mpr_conclusion(case: Case, mpr: Any) -> str:
    parts = [f"№ {mpr.number} от {mpr.date.strftime('%d.%m.%Y')}"]
    if mpr.adult is not None:
        parts += [x for x in (mpr.adult.main_fitness, mpr.adult.indicated and f"показано: {mpr.adult.indicated}") if x]
    if mpr.loss_percent is not None:
        parts.append(f"степень утраты трудоспособности {mpr.loss_percent}%")
    return "; ".join(parts)


MPR = JournalSpec(
    id="by-journal-mpr",
    title="учета консультативных заключений кабинета медико-профессиональной реабилитации",
    xml_root="mprJournal",
    source=by_source("appendix 7 to the Instruction", "4684-4742"),
    number_width=8,
    columns=(
        *patient_columns(patient=13, birthDate=16, address=17),
        JournalColumn(  # who sent the patient to the MPR office (the conclusion's heading), not to MSE
            "referredBy", "Наименование направившей организации здравоохранения", lambda k, m: m.sent_to, width=23
        ),
        JournalColumn("purpose", "Цель направления", _mpr_purpose, width=47),
        JournalColumn("additional", "Дополнительная информация", lambda k, m: m.special_conditions_details, width=15),
        JournalColumn("diagnosis", "Клинико-функциональный диагноз", _diagnosis, width=80),
        JournalColumn("conclusion", "Консультативное заключение", _mpr_conclusion, width=41),
        JournalColumn("note", "Примечание", lambda k, m: None, width=12),
    ),
    records=lambda k: [k.mpr] if k.mpr is not None else [],
    date_of=lambda k, m: m.date,
)
