"""Items several forms share, with the statute's wording, so each is declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract import format_date
from ..model.case import ActivityLimit, Case, Commission, Diagnosis, Examination, Impairment, Referral, Sheet
from ..model.enums import ImpairmentDegree, ImpairmentKind, Labelled, LifeActivity, Sex, Supplement
from .spec import Column, ItemDef, address_limit, list_limit, name_limit, text_limit

UNDERLINE = "(нужное подчеркнуть)"
UNDERLINE_OTHER = "(нужное подчеркнуть, другое указать)"

IMPAIRMENTS_WORDING = (
    "Нарушения функций органов и систем организма пациента в соответствии с классификацией основных "
    "видов нарушений функций органов и систем организма пациента, установленной приложением 2 "
    "к Инструкции о порядке освидетельствования (переосвидетельствования) пациентов (инвалидов) "
    "при проведении медико-социальной экспертизы, утвержденной постановлением Министерства "
    "здравоохранения Республики Беларусь от 9 июня 2021 г. № 77, с указанием степени выраженности нарушений"
)

FC_WORDING = "Ограничения категорий жизнедеятельности с указанием функционального класса"


class NoTerm(Labelled):
    """«без указания срока переосвидетельствования»: the one phrase of a validity item to underline
    (act items 41-42, conclusion items 19-20, slip item 14), printed in place whether chosen or not."""

    NO_TERM = "no_term", "без указания срока переосвидетельствования"


def no_term(get: Callable[[Case], Any]) -> Callable[[Case], NoTerm | None]:
    return lambda k: NoTerm.NO_TERM if get(k) else None


def path(*attrs: str) -> Callable[[Case], Any]:
    """A getter along ``case.a.b.c`` that gives None where an optional part is missing."""

    def getter(case: Case) -> Any:
        obj: Any = case
        for attr in attrs:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj

    return getter


def supplements(no: str) -> ItemDef:
    """Дополнение к экспертному решению (act item 34, conclusion item 12)."""
    return ItemDef(
        no,
        "supplements",
        "Дополнение к экспертному решению",
        "choice",
        get=path("decision", "supplements"),
        enum=Supplement,
        multi=True,
        suffix=UNDERLINE,
        end=".",
    )


def missed_period(no: str) -> ItemDef:
    """Установление инвалидности за пропущенный период с ... по ... (act item 38, conclusion item 13)."""
    return ItemDef(
        no,
        "missedPeriod",
        "Установление инвалидности за пропущенный период",
        "group",
        inline=True,
        children=(
            ItemDef("", "from", "с", "date", get=path("decision", "missed_period", "start")),
            ItemDef("", "until", "по", "date", get=path("decision", "missed_period", "end")),
        ),
    )


def commission_name(caption: str = "наименование медико-реабилитационной экспертной комиссии") -> ItemDef:
    """The commission's name on the line above the title, with its caption in brackets below."""
    return ItemDef(
        "", "commissionName", caption, get=lambda c: c.commission.name, required=True,
        max_length=text_limit(Commission, "name"),
    )  # fmt: skip


def dated_number(
    key: str, doc: str, date: Callable[[Case], Any], number: Callable[[Case], Any], number_limit: int
) -> ItemDef:
    """«от ___ № ___»: a document's date and number on one line under its title, both required
    (the act, the conclusion, the MPR conclusion); ``number_limit`` the number's model limit."""
    return ItemDef(
        "", key, "", "group", inline=True, required=True, doc=doc,
        children=(
            ItemDef("", "date", "от", "date", get=date, required=True),
            ItemDef("", "number", "№", get=number, required=True, max_length=number_limit),
        ),
    )  # fmt: skip


def patient_name(
    no: str, label: str = "Фамилия, собственное имя, отчество (если таковое имеется) пациента"
) -> ItemDef:
    return ItemDef(no, "patientName", label, get=lambda c: c.patient.name, required=True, max_length=name_limit())


def id_number(no: str) -> ItemDef:
    return ItemDef(
        no,
        "idNumber",
        "Идентификационный номер пациента",
        get=lambda c: c.patient.id_number,
        xsd_type="c:ByIdNumber",
    )


def birth_date(no: str) -> ItemDef:
    return ItemDef(no, "birthDate", "Дата рождения", "date", get=lambda c: c.patient.birth_date, required=True)


def sex(no: str) -> ItemDef:
    return ItemDef(
        no, "sex", "Пол", "choice", get=lambda c: c.patient.sex, enum=Sex, suffix=UNDERLINE, end=".", required=True
    )


def registration_address(no: str, whose: str = "пациента") -> ItemDef:
    return ItemDef(
        no,
        "registrationAddress",
        f"Адрес регистрации по месту жительства {whose}",
        get=lambda c: c.patient.addresses.registration,
        required=True,
        max_length=address_limit(),
    )


def actual_address(no: str) -> ItemDef:
    return ItemDef(
        no,
        "actualAddress",
        "Адрес фактического места жительства или пребывания пациента",
        get=lambda c: c.patient.addresses.actual or c.patient.addresses.registration,
        max_length=address_limit(),
    )


def phones(get: Callable[[Case], Any], label: str = "Контактные номера телефонов") -> ItemDef:
    return ItemDef("", "phones", label, get=get)


def impairments(
    no: str, get: Callable[[Case], list[Impairment] | None], label: str = IMPAIRMENTS_WORDING
) -> ItemDef:
    return ItemDef(
        no,
        "impairments",
        label,
        "records",
        get=get,
        max_rows=max(list_limit(Examination, "impairments"), list_limit(Referral, "impairments")),
        table=False,
        columns=(
            Column("kind", "Вид нарушения", "enum", ImpairmentKind, lambda r: r.kind),
            Column("degree", "Степень выраженности", "enum", ImpairmentDegree, lambda r: r.degree),
            Column("note", "Уточнение", "text", get=lambda r: r.note),
        ),
    )


def activity_limits(
    no: str,
    get: Callable[[Case], list[ActivityLimit] | None],
    other: Callable[[Case], Any],
    label: str = FC_WORDING,
    no_fc: frozenset[str] = frozenset(),
) -> ItemDef:
    """The ФК item: every category printed, the limited ones underlined with their class."""
    return ItemDef(
        no,
        "activityLimits",
        label,
        "records",
        get=get,
        max_rows=max(list_limit(Examination, "activity_limits"), list_limit(Referral, "activity_limits")),
        table=False,
        other=other,
        enum=LifeActivity,
        no_fc=no_fc,
        suffix=UNDERLINE_OTHER,
        columns=(
            Column("category", "Категория жизнедеятельности", "enum", LifeActivity, lambda r: r.category),
            Column("fc", "ФК", "int", get=lambda r: r.fc),
        ),
    )


def diagnosis_items(
    no: str, get: Callable[[Case], Diagnosis | None], icd_label: str, main_no: str, conc_no: str
) -> list[ItemDef]:
    def part(attr: str) -> Callable[[Case], Any]:
        def getter(case: Case) -> Any:
            d = get(case)
            return getattr(d, attr) if d else None

        return getter

    return [
        ItemDef(f"{no}.1" if main_no else no, "icd10", icd_label, get=part("icd10"), xsd_type="c:Icd10List"),
        ItemDef(main_no, "mainDisease", "основное(ые) заболевание(я)", get=part("main")),
        ItemDef(conc_no, "concomitantDisease", "сопутствующее(ие) заболевание(я)", get=part("concomitant")),
    ]


def sheet(no: str, key: str, label: str, get: Callable[[Case], Sheet | None]) -> ItemDef:
    """«серия ___ № ___»: a certificate or a sick-leave sheet."""
    return ItemDef(
        no,
        key,
        label,
        "group",
        inline=True,
        children=(
            ItemDef(
                "", "series", "серия", get=lambda c: s.series if (s := get(c)) else None,
                max_length=text_limit(Sheet, "series"),
            ),
            ItemDef(
                "", "number", "№", get=lambda c: s.number if (s := get(c)) else None,
                max_length=text_limit(Sheet, "number"),
            ),  # fmt: skip
        ),
    )


def person_initials(names: Any) -> str:
    return ", ".join(n.initials for n in names)


def decision_text(case: Case) -> str | None:
    """«Решение МРЭК» in words: recognised with the group or degree and cause, or not."""
    d = case.decision
    if d is None:
        return None
    if not d.recognised:
        return "инвалидом не признан(а)"
    status = d.group.label if d.group else (f"категория «ребенок-инвалид», {d.degree.label}" if d.degree else "")
    return ", ".join(x for x in (f"признан(а) инвалидом: {status}", d.cause) if x)


def review_note(case: Case) -> str | None:
    """An earlier conclusion the central MREK reviewed in this decision, worded as the statute
    words the review (act item 46, conclusion item 21: «Заключение ... от ... № ...: подтверждается,
    отменяется»); the card's and the journals' «Примечание»."""
    r = case.decision.review if case.decision else None
    if r is None:
        return None
    return f"заключение {r.commission} от {format_date(r.date)} № {r.number}: {r.result.label}"
