"""Направление на медико-социальную экспертизу: appendix 10, before the cut line (items 1-31).

The tear-off slip printed after the cut line is its own form (:mod:`.slip`); its data
travels in this form's ``slip`` (``Document.slip``) so that the PDF and DOCX templates print it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.case import Addresses, Case, IdentityDocument, Patient, Referral
from ..model.enums import (
    ExaminationPlace,
    InformationSource,
    Labelled,
    Prognosis,
    ProgrammeFulfilment,
    ReferralKind,
    ReferralPurpose,
    reworded,
)
from ..model.mpr import MprDisability
from . import common as c
from .slip import SLIP
from .spec import Column, FormSpec, ItemDef, OptionGroup, Signer, address_limit, by_source, list_limit, name_limit

#: Table 22: the heading over its two date columns.
DATES = "Дата (число, месяц, год)"


#: Item 14: the patient's disability status when referred: the list of MPR item 9
#: (:class:`MprDisability`), in lower case, a child's degree named ``degree_N`` in the XML.
DisabilityStatusBefore = reworded(
    "DisabilityStatusBefore",
    MprDisability,
    {MprDisability.NOT_DISABLED: "инвалидом не является"},
    values={f"child_{n}": f"degree_{n}" for n in range(1, 5)},
)


#: Item 31: the purposes printed on the referral, members of :class:`ReferralPurpose` in print
#: order (a purpose not printed here goes to «другое указать»).
PRINTED_PURPOSES: tuple[ReferralPurpose, ...] = (
    ReferralPurpose.EXTEND_TREATMENT,
    ReferralPurpose.EXAMINATION,
    ReferralPurpose.REEXAMINATION,
    ReferralPurpose.CHANGE_CAUSE,
    ReferralPurpose.REHAB_PROGRAMME,
    ReferralPurpose.WORK_CAPACITY_LOSS,
)
_PRINTED_PURPOSES = {m.value for m in PRINTED_PURPOSES}

# «на выездном заседании (по месту регистрации ..., в организации здравоохранения ..., в учреждении
# уголовно-исполнительной системы ...)»: the three places of a visiting session under their heading
_VISITING = (
    ExaminationPlace.VISITING_HOME,
    ExaminationPlace.HEALTH_ORGANISATION,
    ExaminationPlace.PENAL_INSTITUTION,
)


def status_before(case: Case) -> Labelled:
    s = case.referral.status_before
    if s.group is not None:
        return DisabilityStatusBefore(f"group_{s.group.value}")
    if s.degree is not None:
        return DisabilityStatusBefore(f"degree_{s.degree.value}")
    return DisabilityStatusBefore("not_disabled")


def _purposes(case: Case) -> list[ReferralPurpose]:
    return [p for p in case.referral.purposes if p.value in _PRINTED_PURPOSES]


def _purpose_other(case: Case) -> list[str]:
    """«другое указать»: purposes not printed on the referral, then the free text."""
    r = case.referral
    out = [p.label for p in r.purposes if p.value not in _PRINTED_PURPOSES]
    return out + ([r.purpose_other] if r.purpose_other else [])


def identity_document(
    no: str,
    key: str,
    label: str,
    get: Callable[[Case], IdentityDocument | None],
    footnote: int | None = None,
    label_end: str = "",
) -> ItemDef:
    """«Документ, удостоверяющий личность ... ___ серия ___ № ___ наименование (код) органа,
    выдавшего документ ___, дата выдачи ___»: the kind of document (паспорт, вид на жительство)
    on the blank after the label, then its series and number."""

    def blank(key: str, label: str, attr: str, **kw: Any) -> ItemDef:
        return c.part_blank(key, label, get, IdentityDocument, attr, **kw)

    return c.inline(
        no, key, label,
        blank("kind", "", "kind", doc="(наименование документа)"),
        blank("series", "серия", "series"),
        blank("number", "№", "number"),
        blank("issuer", "наименование (код) органа, выдавшего документ", "issuer", end=","),
        ItemDef("", "issueDate", "дата выдачи", "date", get=c.part_getter(get, "issue_date")),
        footnote=footnote, label_end=label_end,
    )


def _patient(attr: str) -> Callable[[Case], Any]:
    return lambda case: getattr(case.patient, attr)


def _referral(attr: str) -> Callable[[Case], Any]:
    return lambda case: getattr(case.referral, attr)


def _rep(get: Callable[[Any], Any]) -> Callable[[Case], Any]:
    return lambda case: get(case.representative) if case.representative is not None else None


def _representative(no: str, key: str, label: str, get: Callable[[Any], Any], max_length: int) -> ItemDef:
    """An item of the legal representative's (footnote 1: filled in when the patient has one)."""
    return ItemDef(no, key, label, get=_rep(get), footnote=1, max_length=max_length)


def _actual(addresses: Addresses) -> Any:
    return addresses.actual or addresses.registration


def _incapacity_total(case: Case) -> str:
    periods = case.referral.incapacity
    return str(sum(p.days for p in periods)) if periods else ""


REFERRAL = FormSpec(
    id="by-referral",
    title="Направление на медико-социальную экспертизу",
    xml_root="referral",
    source=by_source("appendix 10", "1924-2078"),
    header=(
        *c.organisation(
            ("organisationName", "organisationAddress"),
            ("наименование организации здравоохранения", "адрес организации здравоохранения"),
            lambda k: k.referring_organisation,
        ),
        ItemDef(
            "",
            "vkkDecisionDate",
            "Решение врачебно-консультационной комиссии (далее – ВКК) о направлении на медико-социальную "
            "экспертизу (далее – МСЭ)",
            "date",
            label_end=":",
            get=lambda k: k.referral.vkk_decision_date,
            required=True,
        ),
        c.choice_or_other(
            "", "place", "Место освидетельствования",
            lambda k: k.referral.place, ExaminationPlace, lambda k: k.referral.place_other,
            labels={
                "mrek": "по месту расположения медико-реабилитационной экспертной комиссии (далее – МРЭК)",
                "visiting_home": "по месту регистрации (месту жительства или пребывания)",
            },
            groups=(OptionGroup("на выездном заседании", _VISITING, brackets=True),), sep="; ", required=True,
        ),
    ),
    items=(
        c.patient_name(
            "1",
            "Фамилия, собственное имя, отчество (если таковое имеется) пациента, направляемого "
            "на медико-социальную экспертизу",
        ),
        c.id_number("2"),
        c.birth_date("3"),
        c.sex("4"),
        c.field("5", "maritalStatus", "Семейное положение", _patient, Patient),
        c.field("6", "familyComposition", "Состав семьи (для детей до восемнадцати лет)", _patient),
        c.registration_address("7"),
        c.actual_address("8"),
        c.phones(lambda k: k.patient.contacts.phones),
        identity_document(
            "9",
            "identityDocument",
            "Документ, удостоверяющий личность пациента, направляемого на медико-социальную экспертизу",
            lambda k: k.patient.identity_document,
        ),
        _representative(
            "10", "representativeName",
            "Фамилия, собственное имя, отчество (если таковое имеется) законного представителя пациента, "
            "направляемого на МСЭ",
            lambda r: r.name, name_limit(),
        ),
        _representative(
            "11", "representativeRegistrationAddress",
            "Адрес регистрации по месту жительства законного представителя пациента",
            lambda r: r.addresses.registration, address_limit(),
        ),
        _representative(
            "12", "representativeActualAddress",
            "Адрес фактического места жительства или пребывания законного представителя пациента",
            lambda r: _actual(r.addresses), address_limit(),
        ),
        ItemDef(
            "",
            "representativePhones",
            "Контактные телефоны",
            get=_rep(lambda r: r.contacts.phones),
        ),
        identity_document(
            "13",
            "representativeIdentityDocument",
            "Документ, удостоверяющий личность законного представителя пациента",
            _rep(lambda r: r.identity_document),
            footnote=1,
            label_end=",",
        ),
        ItemDef(
            "14",
            "disabilityStatus",
            "",
            "choice",
            get=status_before,
            enum=DisabilityStatusBefore,
            # «Инвалидом не является; инвалид: I, II, III группы; ребенок-инвалид: первая, ...,
            # четвертая степень утраты здоровья (нужное подчеркнуть).»
            labels={
                "not_disabled": "Инвалидом не является",
                "group_I": "I",
                "group_II": "II",
                "group_III": "III группы",
                "degree_1": "первая",
                "degree_2": "вторая",
                "degree_3": "третья",
                "degree_4": "четвертая степень утраты здоровья",
            },
            groups=(
                OptionGroup(
                    "инвалид",
                    tuple(DisabilityStatusBefore(f"group_{g}") for g in ("I", "II", "III")),
                ),
                OptionGroup(
                    "ребенок-инвалид",
                    tuple(DisabilityStatusBefore(f"degree_{n}") for n in range(1, 5)),
                ),
            ),
            sep="; ",
            suffix=c.UNDERLINE,
            end=".",
        ),
        c.choice(
            "15", "referralKind", "Направляется",
            lambda k: k.referral.kinds, ReferralKind, multi=True, suffix=c.UNDERLINE, end=".", required=True,
        ),
        c.field("16", "education", "Образование", _patient, Patient),
        c.field("17", "workplace", "Место работы (учебы), адрес места нахождения организации", _patient),
        c.field(
            "18", "occupation",
            "Кем работает пациент на момент направления на МСЭ (указывается должность служащего (профессия "
            "рабочего), продолжительность работы; если не работает, вносится запись «не работает»)",
            _patient,
        ),  # fmt: skip
        c.field(
            "19", "trainingProfession",
            "Должность служащего (профессия рабочего), для получения которой проводится обучение",
            _patient, Patient,
        ),  # fmt: skip
        c.choice(
            "20", "informationSources", "Пункты 15–18 настоящего Направления заполнены",
            lambda k: k.referral.information_sources, InformationSource, multi=True, colon=False,
            other=lambda k: k.referral.information_documents, suffix="(указать)",
        ),
        c.anamnesis("21", _referral, required=True),
        ItemDef(
            "22",
            "temporaryIncapacity",
            "Частота и длительность временной нетрудоспособности (сведения за последние 2 года)",
            "records",
            get=lambda k: list(enumerate(k.referral.incapacity, start=1)),
            max_rows=list_limit(Referral, "incapacity"),
            footnote=2,
            columns=(
                Column("number", "№ п/п", "int", get=lambda r: r[0]),
                Column("start", "начала временной нетрудоспособности", "date", get=lambda r: r[1].start, group=DATES),
                Column("end", "окончания временной нетрудоспособности", "date", get=lambda r: r[1].end, group=DATES),
                Column("days", "Число дней временной нетрудоспособности", "int", get=lambda r: r[1].days),
                Column("diagnosis", "Диагноз", get=lambda r: r[1].diagnosis),
            ),
            total=_incapacity_total,
            total_label="Всего дней временной нетрудоспособности:",
        ),
        ItemDef(
            "23",
            "hospitalisations",
            "Сведения о госпитализации пациента (за последние 2 года)",
            "records",
            get=lambda k: k.referral.hospitalisations,
            max_rows=list_limit(Referral, "hospitalisations"),
            columns=(
                Column("start", "с", "date", get=lambda r: r.start, group="Период госпитализации"),
                Column("end", "по", "date", get=lambda r: r.end, group="Период госпитализации"),
                Column("place", "Место госпитализации", get=lambda r: r.place),
                Column("diagnosis", "Основной диагноз", get=lambda r: r.diagnosis),
            ),
        ),
        c.field(
            "24", "rehabResults",
            "Результаты проведенных мероприятий медицинской реабилитации, медицинской абилитации "
            "в соответствии с индивидуальной программой медицинской реабилитации, абилитации пациента "
            "(указать)",
            _referral,
        ),  # fmt: skip
        ItemDef(
            "",
            "ipmraFulfilment",
            "Индивидуальная программа медицинской реабилитации, абилитации пациента",
            "choice",
            get=lambda k: k.referral.ipmra_fulfilment,
            enum=ProgrammeFulfilment,
            # «выполнена (полностью, частично), не выполнена»: the extents under their heading
            labels={"full": "полностью", "partial": "частично"},
            groups=(OptionGroup("выполнена", (ProgrammeFulfilment.FULL, ProgrammeFulfilment.PARTIAL), brackets=True),),
            suffix=c.UNDERLINE,
            end=".",
        ),
        c.field(
            "25", "condition",
            "Состояние пациента при направлении на МСЭ (указываются жалобы, данные медицинского осмотра "
            "врачами-специалистами при наличии заболеваний со стойкими нарушениями функций органов и систем "
            "организма пациента, использование технических средств социальной реабилитации)",
            _referral, required=True,
        ),  # fmt: skip
        c.field(
            "26", "diagnostics",
            "Результаты медицинской диагностики пациента (указываются результаты лабораторных, "
            "рентгенологических, эндоскопических, ультразвуковых, функциональных, иных методов исследований)",
            _referral, required=True,
        ),  # fmt: skip
        ItemDef(
            "27",
            "diagnosis",
            "Клинико-функциональный диагноз пациента при направлении на МСЭ",
            "group",
            children=tuple(
                c.diagnosis_items(
                    "27",
                    lambda k: k.referral.diagnosis,
                    "код основного(ых) заболевания(ий) по Международной статистической классификации "
                    "болезней и проблем, связанных со здоровьем, десятого пересмотра (далее – МКБ-10)",
                    "27.2",
                    "27.3",
                )
            ),
        ),
        c.impairments("28", lambda k: k.referral.impairments),
        c.activity_limits(
            "29",
            lambda k: k.referral.activity_limits,
            lambda k: k.referral.activity_other,
            label="Предварительная оценка ограничений категорий жизнедеятельности пациента на момент "
            "направления на МСЭ с указанием функционального класса (далее – ФК)",
        ),
        c.choice(
            "30", "prognosis", "Предварительная оценка клинико-трудового прогноза",
            lambda k: k.referral.prognosis, Prognosis, suffix=c.UNDERLINE, end=".",
        ),
        c.choice_or_other(
            "31", "purposes", "Цель направления на МСЭ",
            _purposes, PRINTED_PURPOSES, _purpose_other, multi=True, required=True,
        ),
    ),
    signers=(
        Signer("vkk_chairman", "Председатель ВКК", lambda k: [k.referral.vkk.chairman], seal=True),
        Signer("vkk_member", "Члены ВКК:", lambda k: list(k.referral.vkk.members)),
    ),
    footnotes=(
        "1 Заполняется при наличии законного представителя пациента.",
        "2 Для работающего.",
        "3 Печать проставляется при оформлении направления на медико-социальную экспертизу на бумажном носителе.",
    ),
    applies=lambda k: True,
    tear_off=SLIP,
)
