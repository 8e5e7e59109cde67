"""Заключение кабинета медико-профессиональной реабилитации: appendix 8 to the Instruction
(items 1-19 with their sub-items), signed by the head and a specialist of the MPR office."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from ..model.case import Case, PersonName, Representative
from ..model.enums import Labelled
from ..model.mpr import (
    EducationLevel,
    EducationProgramme,
    EmploymentWay,
    MprConclusion,
    MprDisability,
    MprPurpose,
    OfficeStaff,
    PensionStatus,
    SpecialConditionsArea,
    TrainingLevel,
    WorkConditionsSource,
)
from . import common as c
from .spec import FormSpec, ItemDef, OptionGroup, Signer, address_limit, by_source, name_limit, text_limit

CHILD_14_18 = (
    "ребенка с особенностями психофизического развития в возрасте от 14 до 18 лет, направленного "
    "на консультацию государственной организацией здравоохранения"
)
FUNCTIONS_PARTICIPATION = (
    "оценка участия нарушенных функций (с их указанием) в выполнении профессиональной деятельности "
    "(основного состава работ) с указанием объема и времени участия в выполнении основного состава работ"
)


# Options the statute prints under a heading (items 11.1, 11.2, 14)
BASIC_EDUCATION = (  # 11.1 «основное (...)»
    EducationLevel.GENERAL_BASIC,
    EducationLevel.GENERAL_SECONDARY,
    EducationLevel.VOCATIONAL,
    EducationLevel.SECONDARY_SPECIAL,
    EducationLevel.HIGHER,
)
BASIC_PROGRAMMES = (  # 11.2 «основного образования (...)»
    EducationProgramme.GENERAL_SECONDARY,
    EducationProgramme.VOCATIONAL,
    EducationProgramme.SECONDARY_SPECIAL,
    EducationProgramme.HIGHER,
    EducationProgramme.POSTGRADUATE,
)
SPECIAL_PROGRAMMES = (  # 11.2 «специального образования: ...; ...»
    EducationProgramme.SPECIAL_SECONDARY,
    EducationProgramme.SPECIAL_INTELLECTUAL,
)
PENSIONER = tuple(m for m in PensionStatus if m is not PensionStatus.NOT_PENSIONER)  # 14 «пенсионер: ...»
# 9 «Инвалидом не является; инвалид I, II, III группы; ребенок-инвалид: первая, вторая, третья,
# четвертая степень утраты здоровья»: the groups and degrees worded as the statute prints them
DISABLED_ADULT = (MprDisability.GROUP_I, MprDisability.GROUP_II, MprDisability.GROUP_III)
DISABLED_CHILD = (MprDisability.CHILD_1, MprDisability.CHILD_2, MprDisability.CHILD_3, MprDisability.CHILD_4)
DISABILITY_LABELS = {
    "group_I": "инвалид I",
    "group_II": "II",
    "group_III": "III группы",
    "child_1": "первая",
    "child_2": "вторая",
    "child_3": "третья",
    "child_4": "четвертая степень утраты здоровья",
}


def _m(*attrs: str) -> Callable[[Case], Any]:
    """A getter along ``case.mpr.a.b`` that gives None where an optional part is missing."""
    return c.path("mpr", *attrs)


#: Readers of the MPR conclusion's parts, by field name (:func:`.common.field`).
_adult, _child, _fitness = (partial(_m, part) for part in ("adult", "child", "training_fitness"))


def _purpose(no: str, key: str, member: MprPurpose) -> ItemDef:
    """Items 8.1-8.4: one phrase of :class:`MprPurpose` each, underlined when it is a purpose, «;» after it."""

    def getter(case: Case) -> Labelled | None:
        purposes = case.mpr.purposes if case.mpr else []
        return member if member.value in {p.value for p in purposes} else None

    return c.choice(no, key, "", getter, (member,), end=";")


def _age(case: Case) -> int | None:
    if case.mpr is None:
        return None
    b, d = case.patient.birth_date, case.mpr.date
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def _child_representative(case: Case) -> Representative | None:
    """Items 6 and 7 hold the legal representative's addresses of a child of 14 to 18 only:
    for anyone else they stay empty rather than call the representative a child's."""
    age = _age(case)
    return case.representative if age is not None and 14 <= age < 18 else None


def _phones(case: Case) -> list[str]:
    phones = list(case.patient.contacts.phones)
    if case.representative is not None:
        phones += [p for p in case.representative.contacts.phones if p not in phones]
    return phones


def _staff(get: Callable[[MprConclusion], OfficeStaff]) -> Callable[[Case], list[PersonName]]:
    def names(case: Case) -> list[PersonName]:
        if case.mpr is None:
            return []
        s = get(case.mpr)
        return [PersonName(last=s.last, first=s.first, middle=s.middle)]

    return names


def _work_assessment(no: str, key: str, label: str, attr: str, where: str) -> ItemDef:
    """Items 15.2 and 15.4: the basis of the assessment, then three sub-items."""
    return c.group(
        no, key, label,
        c.choice(
            "", "basis", "выполняется на основании",
            _m("adult", attr, "sources"), WorkConditionsSource, multi=True, colon=False,
            suffix=c.UNDERLINE + ":",
        ),
        ItemDef(
            f"{no}.1",
            "overallClass",
            f"общая оценка класса условий труда{where} (указать)",
            get=_m("adult", attr, "overall_class"),
        ),
        ItemDef(
            f"{no}.2",
            "factorsClass",
            "оценка класса условий труда по факторам производственной среды, тяжести "
            f"и напряженности трудового процесса{where} (указать)",
            get=_m("adult", attr, "factors_class"),
        ),
        ItemDef(
            f"{no}.3",
            "functionsParticipation",
            FUNCTIONS_PARTICIPATION,
            get=_m("adult", attr, "functions_participation"),
        ),
    )


MPR_CONCLUSION = FormSpec(
    id="by-mpr-conclusion",
    title="Заключение кабинета медико-профессиональной реабилитации",
    xml_root="mprConclusion",
    source=by_source("appendix 8 to the Instruction", "4743-end"),
    header=(
        c.commission_name(),
        c.dated_number(
            "issue", "(дата и номер заключения, под заголовком)", _m("date"), _m("number"),
            text_limit(MprConclusion, "number"),
        ),
        c.field(
            "", "sentTo",
            "Заключение кабинета медико-профессиональной реабилитации (далее – МПР) направлено "
            "(указывается наименование медико-реабилитационной экспертной комиссии или государственной "
            "организации здравоохранения, направившей пациента на консультацию)",
            _m, MprConclusion, required=True,
        ),  # fmt: skip
    ),
    items=(
        c.patient_name("1"),
        ItemDef(
            "2",
            "representativeName",
            "Фамилия, собственное имя, отчество (если таковое имеется) законного представителя пациента",
            get=lambda k: k.representative.name if k.representative else None,
            max_length=name_limit(),
        ),
        c.inline(
            "3", "birthDateAge", "Дата рождения / возраст (лет)",
            ItemDef(
                "",
                "birthDate",
                "",
                "date",
                get=lambda k: k.patient.birth_date,
                required=True,
                doc="(дата рождения)",
            ),
            ItemDef("", "age", "/", "int", get=_age, doc="(возраст, лет, на дату заключения)"),
        ),
        replace(c.registration_address("4"), label="Адрес регистрации пациента по месту жительства пациента"),
        c.actual_address("5"),
        ItemDef(
            "6",
            "representativeRegistrationAddress",
            f"Адрес регистрации по месту жительства законного представителя {CHILD_14_18}",
            get=lambda k: r.addresses.registration if (r := _child_representative(k)) else None,
            max_length=address_limit(),
        ),
        ItemDef(
            "7",
            "representativeActualAddress",
            f"Адрес фактического места жительства или пребывания законного {CHILD_14_18}",
            get=lambda k: (r.addresses.actual or r.addresses.registration) if (r := _child_representative(k)) else None,
            max_length=address_limit(),
        ),
        replace(c.phones(_phones), doc="(пункт 7)"),
        ItemDef(
            "8",
            "purposes",
            "Цель направления на профессиональную консультацию пациента, инвалида, ребенка-инвалида, "
            "ребенка с особенностями психофизического развития в возрасте от 14 до 18 лет "
            "(нужное подчеркнуть, другое указать)",
            "group",
            children=(
                _purpose("8.1", "learningAbility", MprPurpose.LEARNING),
                _purpose("8.2", "workAbility", MprPurpose.WORK),
                _purpose("8.3", "lossPercent", MprPurpose.LOSS_PERCENT),
                _purpose("8.4", "ipraCorrection", MprPurpose.IPRA_CORRECTION),
                c.choice(
                    "8.5", "trainingFitness", "оценка годности к профессиональному обучению на уровне",
                    _m("training_levels"), TrainingLevel, multi=True, other=_m("training_specialities"),
                    suffix="с учетом осваиваемых специальностей и присваиваемых квалификаций", end=";",
                ),
                c.choice(
                    "8.6", "specialConditions", "оценка нуждаемости в создании специальных условий",
                    _m("special_conditions"), SpecialConditionsArea, multi=True, other=_m("special_conditions_details"),
                ),
                # «(нужное подчеркнуть, другое указать)» of item 8: the other purpose on the blank
                # lines after 8.6, under no caption of our own
                ItemDef("", "other", "", get=_m("purpose_other"), doc="(пункт 8: другое указать)"),
            ),
        ),
        c.choice(
            "9", "disability", "",
            _m("disability"), MprDisability, labels=DISABILITY_LABELS,
            groups=(OptionGroup("", DISABLED_ADULT), OptionGroup("ребенок-инвалид", DISABLED_CHILD)), sep="; ",
            suffix=c.UNDERLINE, end=".",
        ),
        ItemDef(
            "10",
            "lossPercent",
            "Степень утраты профессиональной трудоспособности в процентах (указать)",
            "int",
            get=_m("loss_percent"),
        ),
        c.group(
            "11", "education", "Сведения об образовании",
            c.choice(
                "11.1", "level", "уровень образования (нужное подчеркнуть, другое указать) полученного (получаемого)",
                _m("education_levels"), EducationLevel, multi=True, other=_m("education_level_other"),
                groups=(OptionGroup("основное", BASIC_EDUCATION, brackets=True),), sep="; ", end=";",
            ),
            c.choice(
                "11.2", "programme", "вид освоенной (осваиваемой) образовательной программы",
                _m("education_programmes"), EducationProgramme, multi=True, suffix=c.UNDERLINE,
                groups=(
                    OptionGroup("основного образования", BASIC_PROGRAMMES, brackets=True),
                    OptionGroup("специального образования", SPECIAL_PROGRAMMES, sep="; "),
                ),
                sep="; ", end=";",
            ),
            ItemDef(
                "11.3",
                "specialConditionsUse",
                "сведения об использовании рекомендаций по организации специальных условий при освоении "
                "содержания образовательных программ (для детей с учетом психолого-педагогической "
                "характеристики из центра коррекционно-развивающего обучения и реабилитации) "
                "(при использовании указать)",
                get=_m("special_education_conditions"),
            ),
            c.field(
                "11.4", "specialities",
                "полученная(ые) (получаемая) специальность(и) (нужное подчеркнуть, указать):",
                _m,
            ),
            c.field(
                "", "qualifications",
                "присвоенная (осваиваемая) квалификация(и) (нужное подчеркнуть, указать):",
                _m, doc="(пункт 11.4)",
            ),
        ),
        c.group(
            "12", "workplace", "Место работы (учебы)",
            ItemDef("12.1", "organisation", "наименование организации (указать)", get=_m("workplace")),
            c.field(
                "12.2", "notWorking",
                "если не работает, вносится запись «не работает» с указанием продолжительности "
                "незанятости трудом (указывается(ются) период (периоды) незанятости трудом)",
                _m,
            ),
            c.group(
                "12.3", "specialConditions", "организованы специальные условия (указать)",
                ItemDef("", "learning", "для обучения", get=_m("special_conditions_learning")),
                ItemDef("", "work", "для трудовой занятости", get=_m("special_conditions_work")),
            ),
        ),
        c.group(
            "13", "career", "Данные профессионального маршрута",
            ItemDef(
                "13.1",
                "moves",
                "сведения о профессиональных перемещениях в период трудовой деятельности с указанием "
                "должности(ей) служащего, профессии(й) рабочего, продолжительности периодов занятости "
                "(указать)",
                get=_m("career"),
            ),
            c.field("13.2", "totalService", "общий трудовой стаж (указать)", _m, MprConclusion),
        ),
        c.choice_or_other(
            "14", "pension", "Отношение к пенсионированию",
            _m("pension"), PensionStatus, _m("pension_other"), multi=True,
            groups=(OptionGroup("пенсионер", PENSIONER),), sep="; ",
        ),
        c.group(
            "15", "adultResults", "Результаты профессиональной консультации пациента",
            c.field("15.1", "mainProfessions", "основная(ые) профессия(и) (указать)", _adult),
            _work_assessment(
                "15.2",
                "mainConditions",
                "оценка условий труда по основной(ым) профессии(ям)",
                "main_conditions",
                "",
            ),
            c.field("15.3", "mainFitness", "оценка годности по основной(ым) профессии(ям)", _adult),
            _work_assessment(
                "15.4",
                "jobConditions",
                "оценка условий труда по профессии рабочего, должности служащего по месту занятости",
                "job_conditions",
                " на рабочем месте",
            ),
            c.field("15.5", "continuedEmployment", "оценка годности к продолжению занятости", _adult),
            c.group(
                "15.6", "labourRequirements", "требования к условиям и характеру труда",
                c.field(
                    "15.6.1", "contraindicated",
                    "противопоказанные факторы производственной среды, тяжести и напряженности "
                    "трудового процесса (указать):",
                    _adult,
                ),
                c.field(
                    "15.6.2", "indicated",
                    "показанные условия труда по показателям вредности и опасности факторов "
                    "производственной среды и трудового процесса (указать)",
                    _adult,
                ),
            ),
            c.group(
                "15.7", "rehabMeasures", "мероприятия профессиональной и трудовой реабилитации",
                c.field(
                    "15.7.1", "training",
                    "профессиональное обучение, переобучение с указанием уровня образования, "
                    "наименования рекомендуемых к освоению квалификаций",
                    _adult,
                ),
                c.field(
                    "15.7.2", "preparation",
                    "профессиональная подготовка, переподготовка с указанием организационной формы "
                    "подготовки, наименования рекомендованных к освоению квалификаций",
                    _adult,
                ),
                c.field(
                    "15.7.3", "trainingConditions",
                    "нуждаемость в создании специальных условий для обучения и профессиональной "
                    "подготовки (указать):",
                    _adult,
                ),
            ),
            c.group(
                "15.8",
                "employment",
                "рекомендации к трудовой занятости по профессии рабочего, должности служащего с учетом "
                "профессиональных намерений и профессиональных возможностей",
                c.choice_or_other(
                    "", "where", "",
                    _m("adult", "employment"), EmploymentWay, _m("adult", "employment_other"), multi=True, sep=" или ",
                    doc="(пункт 15.8)",
                ),
                c.field("", "workingTime", "режим рабочего времени (указать)", _adult),
                c.field(
                    "", "workNorms",
                    "нормы труда, объемы выполняемой работы (оказываемых услуг) (указать)",
                    _adult,
                ),
                c.field("15.8.1", "adaptation", "трудовая адаптация с указанием периода (указать)", _adult),
                c.field(
                    "15.8.2", "specialWorkplace",
                    "организация специализированного рабочего места, в том числе в надомных условиях (указать)",
                    _adult,
                ),
            ),
        ),
        c.group(
            "16",
            "childResults",
            "Результаты профессиональной консультации ребенка-инвалида в возрасте от 14 до 18 лет, " + CHILD_14_18,
            c.field("16.1", "intentions", "профессиональные намерения, интересы, склонности (указать)", _child),
            c.field(
                "16.2", "specialities",
                "перечень показанных к освоению специальностей, квалификаций на уровне профессионального "
                "образования, профессиональной подготовки (указать)",
                _child,
            ),
            c.field(
                "16.3", "conditions",
                "нуждаемость в создании специальных условий для получения профессионального образования, "
                "профессиональной подготовки (указать в случае нуждаемости)",
                _child,
            ),
        ),
        c.inline(
            "17",
            "preliminaryLimits",
            "Предварительная оценка ограничений категорий жизнедеятельности пациента на дату консультации "
            "с указанием функционального класса (далее – ФК) (указать):",
            ItemDef(
                "",
                "learningFc",
                "способность к обучению (профессиональному) ФК",
                "int",
                get=_m("fc_learning"),
                xsd_type="c:FunctionalClass",
            ),
            ItemDef(
                "",
                "workFc",
                "способность к трудовой деятельности ФК",
                "int",
                get=_m("fc_work"),
                xsd_type="c:FunctionalClass",
            ),
            sep="; ",
        ),
        ItemDef(
            "18",
            "preliminaryLossPercent",
            "Предварительная оценка степени утраты профессиональной трудоспособности в процентах",
            "int",
            get=_m("preliminary_loss_percent"),
        ),
        c.group(
            "19",
            "trainingFitnessChild",
            "Заключение о годности к обучению (профессиональному), профессиональной подготовке детей "
            "с особенностями психофизического развития в возрасте от 14 до 18 лет с указанием",
            c.field(
                "19.1", "specialities",
                "рекомендуемых к обучению специальностей, освоению квалификаций",
                _fitness,
            ),
            c.field("19.2", "regime", "режима и условий обучения", _fitness),
        ),
    ),
    signers=(
        Signer("mpr_head", "Заведующий кабинетом МПР", _staff(lambda m: m.head)),
        Signer("mpr_specialist", "Специалист кабинета МПР", _staff(lambda m: m.specialist)),
    ),
    applies=lambda k: k.mpr is not None,
)
