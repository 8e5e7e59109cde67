"""Items several forms share, with the statute's wording, so each is declared once; and the
constructors the forms declare their items with (:func:`choice`, :func:`choice_or_other`,
:func:`group`, :func:`inline`, :func:`field`), so that the shape of an item kind is written once."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from ..contract import format_date
from ..model.case import (
    ActivityLimit,
    Case,
    Commission,
    Decision,
    Diagnosis,
    DisabilityStatus,
    Examination,
    Impairment,
    Organisation,
    Referral,
    Review,
    Sheet,
)
from ..model.enums import (
    ConclusionReview,
    ImpairmentDegree,
    ImpairmentKind,
    Labelled,
    LifeActivity,
    ProgrammeFormed,
    Sex,
    Supplement,
)
from .spec import Column, ItemDef, Options, address_limit, list_limit, name_limit, text_limit

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


def choice(no: str, key: str, label: str, get: Callable[[Case], Any], enum: Options, **kw: Any) -> ItemDef:
    """A "нужное подчеркнуть" item: ``enum``'s options printed, the chosen ones (``get``) underlined."""
    return ItemDef(no, key, label, "choice", get=get, enum=enum, **kw)


def choice_or_other(
    no: str, key: str, label: str, get: Callable[[Case], Any], enum: Options, other: Callable[[Case], Any], **kw: Any
) -> ItemDef:
    """A choice «(нужное подчеркнуть, другое указать)»: an option underlined, or ``other`` written out."""
    return choice(no, key, label, get, enum, other=other, suffix=UNDERLINE_OTHER, **kw)


def group(no: str, key: str, label: str, *children: ItemDef, **kw: Any) -> ItemDef:
    """Items under one numbered heading (``children``: items 9.1 and 9.2 under item 9)."""
    return ItemDef(no, key, label, "group", children=children, **kw)


def inline(no: str, key: str, label: str, *children: ItemDef, **kw: Any) -> ItemDef:
    """Blanks printed on one line after the label («с ___ по ___», «серия ___ № ___»)."""
    return group(no, key, label, *children, inline=True, **kw)


def supplements(no: str) -> ItemDef:
    """Дополнение к экспертному решению (act item 34, conclusion item 12)."""
    return choice(
        no, "supplements", "Дополнение к экспертному решению",
        path("decision", "supplements"), Supplement, multi=True, suffix=UNDERLINE, end=".",
    )


def missed_period(no: str) -> ItemDef:
    """Установление инвалидности за пропущенный период с ... по ... (act item 38, conclusion item 13)."""
    return inline(
        no, "missedPeriod", "Установление инвалидности за пропущенный период",
        ItemDef("", "from", "с", "date", get=path("decision", "missed_period", "start")),
        ItemDef("", "until", "по", "date", get=path("decision", "missed_period", "end")),
    )


def _decision(*attrs: str) -> Callable[[Case], Any]:
    return path("decision", *attrs)


def labour_requirements(no: str) -> ItemDef:
    """Требования к характеру и условиям труда инвалида (act item 40, conclusion item 15, slip item 11)."""
    return group(
        no, "labourRequirements", "Требования к характеру и условиям труда инвалида",
        ItemDef(
            f"{no}.1",
            "contraindicated",
            "противопоказанные факторы производственной среды, тяжести и напряженности трудового "
            "процесса, виды работ (указать)",
            get=_decision("labour", "contraindicated"),
        ),
        ItemDef(
            f"{no}.2",
            "indicated",
            "показанные условия труда и режим рабочего времени (указать)",
            get=_decision("labour", "indicated"),
        ),
    )


def onset_date(no: str) -> ItemDef:
    """Время наступления инвалидности (act item 35, conclusion item 18)."""
    return ItemDef(
        no,
        "onsetDate",
        "Время наступления инвалидности (для целей назначения пенсии по возрасту со снижением "
        "общеустановленного пенсионного возраста родителям детей-инвалидов (инвалидов с детства)",
        "date",
        get=_decision("onset_date"),
    )


def constant_needs(help_no: str, care_no: str) -> tuple[ItemDef, ItemDef]:
    """Нуждаемость в постоянной помощи, в постоянном уходе (act items 36-37, conclusion items 16-17)."""
    return (
        ItemDef(help_no, "constantHelp", "Нуждаемость в постоянной помощи", get=_decision("constant_help")),
        ItemDef(care_no, "constantCare", "Нуждаемость в постоянном уходе", get=_decision("constant_care")),
    )


def validity(
    no: str,
    key: str,
    label: str,
    get: Callable[[str], Callable[[Case], Any]],
    suffix: str,
    other: Callable[[Case], Any] | None = None,
) -> ItemDef:
    """«с ___ по ___, без указания срока переосвидетельствования (...)»: the validity of a decision
    (act items 41-42, conclusion items 19-20, slip item 14), ``get(attr)`` reading ``valid_from``,
    ``valid_until`` and ``no_term`` of the decision or its work-capacity loss; the last option
    underlined in place when there is no re-examination term. With ``other``, the statute's
    «; другое (указать) ___» closes the item (conclusion item 19), else a full stop."""
    children: tuple[ItemDef, ...] = (
        ItemDef("", "from", "с", "date", get=get("valid_from")),
        ItemDef("", "until", "по", "date", get=get("valid_until"), end=","),
        choice("", "noTerm", "", no_term(get("no_term")), NoTerm, suffix=suffix, end=";" if other else ""),
    )  # fmt: skip
    if other is not None:
        children += (ItemDef("", "other", "другое (указать)", get=other),)
    return ItemDef(no, key, label, "group", inline=True, end="" if other else ".", children=children)


def review(no: str, end: str = "") -> ItemDef:
    """«Заключение (указать наименование МРЭК) от ___ № ___: подтверждается, отменяется» (act item 46,
    conclusion item 21): an earlier conclusion the central MREK reviewed."""
    get = partial(_decision, "review")
    return inline(
        no, "review", "Заключение",
        ItemDef(
            "", "commission", "(указать наименование МРЭК)", get=get("commission"),
            max_length=text_limit(Review, "commission"),
        ),
        ItemDef("", "date", "от", "date", get=get("date")),
        ItemDef("", "number", "№", get=get("number"), end=":", max_length=text_limit(Review, "number")),
        choice("", "result", "", get("result"), ConclusionReview, suffix=UNDERLINE),
        end=end,
    )  # fmt: skip


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
    return inline(
        "", key, "",
        ItemDef("", "date", "от", "date", get=date, required=True),
        ItemDef("", "number", "№", get=number, required=True, max_length=number_limit),
        required=True, doc=doc,
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
    return choice(no, "sex", "Пол", lambda c: c.patient.sex, Sex, suffix=UNDERLINE, end=".", required=True)


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


def patient_items(first: int) -> tuple[ItemDef, ...]:
    """The patient's name, identification number, birth date, registration and actual address:
    five items numbered from ``first`` (conclusion 1-5, slip 1-5, additional exam programme 2-6)."""
    items = (patient_name, id_number, birth_date, registration_address, actual_address)
    return tuple(item(str(first + i)) for i, item in enumerate(items))


def phones(get: Callable[[Case], Any], label: str = "Контактные номера телефонов") -> ItemDef:
    return ItemDef("", "phones", label, get=get)


def _assessment(no: str, key: str, label: str, get: Callable[[Case], Any], *columns: Column, **kw: Any) -> ItemDef:
    """An assessment of the examination or the referral (``key`` the field of both), printed as a
    list rather than a table, holding as many rows as either model does."""
    field_name = snake_case(key)
    rows = max(list_limit(Examination, field_name), list_limit(Referral, field_name))
    return ItemDef(no, key, label, "records", get=get, max_rows=rows, table=False, columns=columns, **kw)


def impairments(
    no: str, get: Callable[[Case], list[Impairment] | None], label: str = IMPAIRMENTS_WORDING
) -> ItemDef:
    return _assessment(
        no, "impairments", label, get,
        Column("kind", "Вид нарушения", "enum", ImpairmentKind, lambda r: r.kind),
        Column("degree", "Степень выраженности", "enum", ImpairmentDegree, lambda r: r.degree),
        Column("note", "Уточнение", "text", get=lambda r: r.note),
    )  # fmt: skip


def activity_limits(
    no: str,
    get: Callable[[Case], list[ActivityLimit] | None],
    other: Callable[[Case], Any],
    label: str = FC_WORDING,
    no_fc: frozenset[str] = frozenset(),
) -> ItemDef:
    """The ФК item: every category printed, the limited ones underlined with their class."""
    return _assessment(
        no, "activityLimits", label, get,
        Column("category", "Категория жизнедеятельности", "enum", LifeActivity, lambda r: r.category),
        Column("fc", "ФК", "int", get=lambda r: r.fc),
        other=other, enum=LifeActivity, no_fc=no_fc, suffix=UNDERLINE_OTHER,
    )  # fmt: skip


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


def snake_case(key: str) -> str:
    """The model's field name of an XML key: ``workNorms`` → ``work_norms``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


Reader = Callable[[str], Callable[[Case], Any]]


def field(no: str, key: str, label: str, read: Reader, model: type[Any] | None = None, **kw: Any) -> ItemDef:
    """An item whose value is the model field its key names (``workNorms``: ``work_norms``),
    read by ``read(field)``; with ``model``, a text whose maxLength is that field's limit."""
    attr = snake_case(key)
    return ItemDef(no, key, label, get=read(attr), max_length=text_limit(model, attr) if model else None, **kw)


def anamnesis(no: str, read: Reader, **kw: Any) -> ItemDef:
    """Анамнез заболевания (act item 17, referral item 21)."""
    return field(
        no,
        "anamnesis",
        "Анамнез заболевания (указывается начало, развитие, течение, частота и длительность обострений, "
        "декомпенсаций, кризов, пароксизмов, проведенные лечение и медицинская реабилитация, "
        "их эффективность)",
        read,
        **kw,
    )


def part_getter(get: Callable[[Case], Any], attr: str) -> Callable[[Case], Any]:
    """A getter of ``attr`` of the part ``get`` reads (None where the case has no such part)."""
    return lambda case: getattr(part, attr) if (part := get(case)) is not None else None


def part_blank(key: str, label: str, get: Callable[[Case], Any], model: type[Any], attr: str, **kw: Any) -> ItemDef:
    """A blank of an inline group: ``attr`` of the part ``get`` reads, its maxLength the limit
    of that field of ``model``."""
    return ItemDef("", key, label, get=part_getter(get, attr), max_length=text_limit(model, attr), **kw)


def sheet(no: str, key: str, label: str, get: Callable[[Case], Sheet | None]) -> ItemDef:
    """«серия ___ № ___»: a certificate or a sick-leave sheet."""
    return inline(
        no, key, label,
        part_blank("series", "серия", get, Sheet, "series"),
        part_blank("number", "№", get, Sheet, "number"),
    )


def organisation(
    keys: tuple[str, str], labels: tuple[str, str], get: Callable[[Case], Any], no: str = "", address_doc: str = ""
) -> tuple[ItemDef, ItemDef]:
    """An organisation's name and its address, each on a required blank of its own (the referring
    organisation over the referral, the addressee of the additional exam programme)."""
    name, address = (part_getter(get, attr) for attr in ("name", "address"))
    return (
        ItemDef(no, keys[0], labels[0], get=name, required=True, max_length=text_limit(Organisation, "name")),
        ItemDef("", keys[1], labels[1], get=address, required=True, max_length=address_limit(), doc=address_doc),
    )


def programmes_formed(no: str, **printed: Any) -> ItemDef:
    """«Сформирована» the programmes the decision forms (act item 39, conclusion item 14);
    ``printed``: how the form prints its options (separators, suffix, other)."""
    return choice(
        no, "programmesFormed", "Сформирована",
        _decision("programmes_formed"), ProgrammeFormed, multi=True, **printed,
    )


def person_initials(names: Any) -> str:
    return ", ".join(n.initials for n in names)


NOT_RECOGNISED = "инвалидом не признан(а)"
CHILD_CATEGORY = "категория «ребенок-инвалид», "


def status_text(status: DisabilityStatus | Decision | None, child: str = CHILD_CATEGORY) -> str | None:
    """A disability status in words: the group, or ``child`` and the degree of health loss;
    None for none. ``status`` is anything with a group and a degree (a status, a decision)."""
    if status is None:
        return None
    if status.group is not None:
        return status.group.label
    return f"{child}{status.degree.label}" if status.degree is not None else None


def decision_text(case: Case) -> str | None:
    """«Решение МРЭК» in words: recognised with the group or degree and cause, or not."""
    d = case.decision
    if d is None:
        return None
    if not d.recognised:
        return NOT_RECOGNISED
    return ", ".join(x for x in (f"признан(а) инвалидом: {status_text(d) or ''}", d.cause) if x)


def review_note(case: Case) -> str | None:
    """An earlier conclusion the central MREK reviewed in this decision, worded as the statute
    words the review (act item 46, conclusion item 21: «Заключение ... от ... № ...: подтверждается,
    отменяется»); the card's and the journals' «Примечание»."""
    r = case.decision.review if case.decision else None
    if r is None:
        return None
    return f"заключение {r.commission} от {format_date(r.date)} № {r.number}: {r.result.label}"
