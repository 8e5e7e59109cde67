"""Заключение медико-реабилитационной экспертной комиссии: appendix 11 (items 1-21)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract import format_date
from ..model.case import Case, ConclusionDispatch, InsuranceCase
from ..model.enums import (
    ExaminationKind,
    ExaminationPresence,
    Labelled,
)
from . import common as c
from .spec import FormSpec, ItemDef, Signer, by_source, text_limit

ADULT_AGE = 18

INSURANCE_CASE_WORDING = (
    "страховой случай, его дата, документ, послуживший основанием для установления степени утраты "
    "профессиональной трудоспособности"
)


#: Item 6: «первичное, повторное, очное, заочное» — one of the first two and one of the last two
#: are underlined: the members of :class:`ExaminationKind` and :class:`ExaminationPresence`.
EXAMINATION_MODE: tuple[Labelled, ...] = (*ExaminationKind, *ExaminationPresence)


def _examination_mode(k: Case) -> list[Labelled]:
    e = k.examination
    return [] if e is None else [e.kind, e.presence]


def _dec(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", attr)


def _exam(attr: str) -> Callable[[Case], Any]:
    return c.path("examination", attr)


def _dispatch(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", "conclusion", attr)


def _labour(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", "labour", attr)


def _review(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", "review", attr)


def _wcl(attr: str) -> Callable[[Case], Any]:
    def get(k: Case) -> Any:
        w = k.decision.work_capacity_loss if k.decision else None
        return getattr(w, attr) if w is not None else None

    return get


def _adult(case: Case) -> bool | None:
    """True for a patient of eighteen or over at the decision, None without a decision."""
    age = case.age_at_decision
    return None if age is None else age >= ADULT_AGE


def _for_adult(attr: str) -> Callable[[Case], Any]:
    return lambda k: getattr(k.decision, attr) if _adult(k) is True else None


def _for_child(attr: str) -> Callable[[Case], Any]:
    return lambda k: getattr(k.decision, attr) if _adult(k) is False else None


def _insurance_case(index: int) -> Callable[[Case], InsuranceCase | None]:
    def get(k: Case) -> InsuranceCase | None:
        w = k.decision.work_capacity_loss if k.decision else None
        return w.cases[index] if w is not None and len(w.cases) > index else None

    return get


def insurance_case_text(ic: InsuranceCase | None) -> str | None:
    """One insurance case on the one blank the statute gives it: «40 %, несчастный случай …,
    «01» февраля 2024 г., акт …» (the degree in per cent, the case, its date, the document)."""
    if ic is None:
        return None
    return ", ".join(p for p in (f"{ic.percent} %", ic.case, format_date(ic.case_date), ic.document) if p)


def insurance_case_item(no: str, key: str, index: int) -> ItemDef:
    """Items 11.1-11.3: the statute's wording and one blank each, no sub-labels."""
    get = _insurance_case(index)
    return ItemDef(no, key, INSURANCE_CASE_WORDING, get=lambda k: insurance_case_text(get(k)))


CONCLUSION = FormSpec(
    id="by-conclusion",
    title="Заключение медико-реабилитационной экспертной комиссии",
    xml_root="conclusion",
    source=by_source("appendix 11", "2153-2242"),
    header=(
        c.commission_name(),
        c.dated_number(
            "issue", "(номер и дата заключения, под заголовком)", _dispatch("date"), _dispatch("number"),
            text_limit(ConclusionDispatch, "number"),
        ),  # fmt: skip
        c.inline(
            "", "sent", "Заключение медико-реабилитационной экспертной комиссии (далее – МРЭК) направлено",
            ItemDef("", "date", "", "date", get=_dispatch("sent_date"), doc="(дата направления)"),
            ItemDef(
                "", "addressee", "", get=_dispatch("sent_to"), caption="(наименование органа, организации)",
                max_length=text_limit(ConclusionDispatch, "sent_to"),
            ),
        ),
    ),
    items=(
        *c.patient_items(1),
        c.choice(
            "6", "examination", "Освидетельствование",
            _examination_mode, EXAMINATION_MODE, multi=True, suffix=c.UNDERLINE, end=".",
        ),
        c.inline(
            "7", "period", "Период медико-социальной экспертизы",
            ItemDef("", "from", "с", "date", get=_exam("start_date")),
            ItemDef("", "until", "по", "date", get=_dec("date")),
        ),
        c.sheet("8", "certificate", "Удостоверение инвалида", _dec("certificate_issued")),
        c.group(
            "9", "adultDisability", "Инвалидность у лиц старше восемнадцати лет",
            c.field("9.1", "group", "группа инвалидности (указать)", _for_adult),
            c.field("9.2", "cause", "причина инвалидности (указать)", _for_adult),
        ),
        c.group(
            "10", "childDisability", "Категория «ребенок-инвалид» в возрасте до восемнадцати лет",
            c.field("10.1", "degree", "степень утраты здоровья (указать)", _for_child),
            c.field("10.2", "cause", "причина инвалидности (указать)", _for_child),
        ),
        c.group(
            "11", "workCapacityLoss", "Степень утраты профессиональной (общей) трудоспособности в процентах",
            insurance_case_item("11.1", "case1", 0),
            insurance_case_item("11.2", "case2", 1),
            insurance_case_item("11.3", "case3", 2),
            ItemDef(
                "11.4",
                "totalPercent",
                "по совокупности от несчастного(ых) случая(ев) и (или) профессионального(ых) заболевания(ий)",
                "int",
                label_end=":",
                get=_wcl("total_percent"),
            ),
        ),
        c.supplements("12"),
        c.missed_period("13"),
        c.programmes_formed("14", colon=False, suffix=c.UNDERLINE, end="."),
        c.labour_requirements("15"),
        *c.constant_needs("16", "17"),
        c.onset_date("18"),
        c.validity("19", "validity", "Срок действия заключения МРЭК", _dec, "(подчеркнуть)", _dec("validity_other")),
        c.validity(
            "20",
            "workCapacityLossValidity",
            "Срок действия заключения МРЭК о степени утраты профессиональной (общей) трудоспособности в процентах",
            _wcl,
            "(подчеркнуть)",
        ),
        c.review("21", end="."),
    ),
    signers=(
        Signer(
            "chairman",
            "Председатель МРЭК",
            lambda k: [k.commission.chairman],
            seal=True,
            seal_footnote=1,
            name_first=True,
        ),
    ),
    footnotes=("1 Печать проставляется при оформлении заключения МРЭК на бумажном носителе.",),
    applies=lambda k: k.decision is not None and k.decision.conclusion is not None,
)
