"""Акт освидетельствования пациента МРЭК: appendix 3 to the Instruction (items 1-46)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..model.case import (
    Case,
    Decision,
    Examination,
    Organisation,
    Protocol,
    WorkCapacityLoss,
)
from ..model.enums import (
    AdditionalExamResult,
    CentralPurpose,
    ConsultationResult,
    ExaminationKind,
    ExaminationOutcome,
    ExaminationPlace,
    ExaminationPresence,
    Labelled,
    Prognosis,
    ProgrammeFormed,
    ProgrammeFulfilment,
    ReferralPurpose,
    SectionFulfilment,
    reworded,
)
from . import common as c
from .spec import (
    Column,
    FormSpec,
    ItemDef,
    OptionGroup,
    Signer,
    by_source,
    joined_limit,
    list_limit,
    name_limit,
    text_limit,
)

#: Act item 6: the purposes as the act words them. The act's list differs from referral item 31
#: (:class:`ReferralPurpose`): it words the programme option as «коррекция ...», adds the
#: pension-age wording to the onset option and has no work-capacity option. Values are those of
#: :class:`ReferralPurpose`, so the case's ``examination.purposes`` maps onto it; a purpose the
#: act does not list goes to «другое».
ActPurpose = reworded(
    "ActPurpose",
    ReferralPurpose,
    {
        ReferralPurpose.REHAB_PROGRAMME: (
            "коррекция индивидуальной программы реабилитации инвалида (программы реабилитации потерпевшего "
            "в результате несчастного случая на производстве или профессионального заболевания)"
        ),
        ReferralPurpose.ONSET_TIME: ReferralPurpose.ONSET_TIME.label
        + " по запросам управлений (отделов) по труду, занятости и социальной защите городских, районных "
        "исполнительных комитетов, управлений (отделов) социальной защиты местных администраций районов "
        "в городах для назначения пенсии по возрасту со снижением общеустановленного пенсионного возраста "
        "родителям детей-инвалидов (инвалидов с детства)",
    },
    members=[p for p in ReferralPurpose if p != ReferralPurpose.WORK_CAPACITY_LOSS],
)


UNDERLINE_INDICATE = "(нужное указать, подчеркнуть)"
NO_TERM = "без указания срока переосвидетельствования"
SYNDROMES_WORDING = "с учетом синдрома взаимного отягощения, синдрома социальной компенсации (указать)"


_path = c.path


def _ex(*attrs: str) -> Callable[[Case], Any]:
    return _path("examination", *attrs)


def _dec(*attrs: str) -> Callable[[Case], Any]:
    return _path("decision", *attrs)


def _wcl(*attrs: str) -> Callable[[Case], Any]:
    return _path("decision", "work_capacity_loss", *attrs)


def _act_purposes(case: Case) -> list[Labelled] | None:
    purposes = _ex("purposes")(case)
    if purposes is None:
        return None
    listed = {m.value for m in ActPurpose}
    return [ActPurpose(p.value) for p in purposes if p.value in listed]


def _purpose_other(case: Case) -> str | None:
    """«другое указать» of item 6: purposes the act does not list, then the free text."""
    listed = {m.value for m in ActPurpose}
    unlisted = [p.label for p in (_ex("purposes")(case) or []) if p.value not in listed]
    parts = [*unlisted, _ex("purpose_other")(case)]
    return ", ".join(p for p in parts if p) or None


def _status_after(case: Case) -> str | None:
    """Item 31.2: the status the decision gives, or «инвалидом не признан(а)»."""
    d = case.decision
    return c.status_text(d) if d is None or d.recognised else c.NOT_RECOGNISED


def _diagnosis_items() -> tuple[ItemDef, ItemDef]:
    """Item 21 (top level) and item 22 (a group of 22.1 and 22.2) from the shared diagnosis items."""
    icd, main, concomitant = c.diagnosis_items(
        "21",
        _ex("diagnosis"),
        "Код основного(ых) заболевания(ий) по Международной статистической классификации болезней "
        "и проблем, связанных со здоровьем, десятого пересмотра (далее – МКБ-10)",
        "22.1",
        "22.2",
    )
    return (
        replace(icd, no="21"),
        c.group(
            "22", "diagnosis", "Клинико-функциональный диагноз",
            main,
            replace(concomitant, label="сопутствующие заболевания"),
        ),
    )


def _term(no: str, read: c.Reader, model: type[Decision | WorkCapacityLoss]) -> ItemDef:
    """Items 31.3 and 33.4: the term of the decision (of its work-capacity loss) in words."""
    label = "на срок или без указания срока переосвидетельствования (указать)"
    return ItemDef(no, "term", label, get=read("term_text"), max_length=text_limit(model, "term_text"))


def _section(key: str, label: str, attr: str) -> ItemDef:
    return c.choice("", key, label, _ex(attr), SectionFulfilment, suffix=c.UNDERLINE, end=";")


def _consultation(key: str, label: str, attr: str) -> ItemDef:
    result, details = _ex(attr, "result"), _ex(attr, "details")
    return c.choice("", key, label, result, ConsultationResult, other=details, suffix="(результаты указать)")


_ICD, _DIAGNOSIS = _diagnosis_items()

ACT = FormSpec(
    id="by-act",
    title="Акт освидетельствования пациента медико-реабилитационной экспертной комиссии",
    xml_root="examinationAct",
    source=by_source("appendix 3 to the Instruction (act of examination)", "4164-4405"),
    header=(
        c.commission_name("наименование МРЭК"),
        c.dated_number(
            "act", "(дата и номер акта, под заголовком)", _ex("act_date"), _ex("act_number"),
            text_limit(Examination, "act_number"),
        ),  # fmt: skip
    ),
    items=(
        ItemDef(
            "1",
            "referringOrganisation",
            "Наименование организации здравоохранения, направившей пациента на МСЭ",
            get=_path("referring_organisation", "name"),
            required=True,
            max_length=text_limit(Organisation, "name"),
        ),
        ItemDef("2", "startDate", "Дата начала МСЭ", "date", get=_ex("start_date"), required=True),
        c.inline(
            "3", "protocol", "Протокол заседания МРЭК",
            ItemDef("", "date", "", "date", get=_ex("protocol", "date"), doc="(дата заседания)"),
            ItemDef("", "number", "№", get=_ex("protocol", "number"), max_length=text_limit(Protocol, "number")),
        ),
        c.choice_or_other(
            "4", "place", "Место освидетельствования пациента",
            _ex("place"), ExaminationPlace, _ex("place_other"),
        ),
        c.inline(
            "5", "examinationType", "Освидетельствование:",
            c.choice("", "kind", "", _ex("kind"), ExaminationKind, doc="(первичное, повторное)"),
            c.choice(
                "", "presence", "",
                _ex("presence"), ExaminationPresence, suffix=c.UNDERLINE, doc="(очное, заочное)",
            ),
            sep="; ", end=".",
        ),
        c.choice_or_other(
            "6", "purposes", "Цель направления на МСЭ",
            _act_purposes, ActPurpose, _purpose_other, multi=True,
        ),
        c.choice_or_other(
            "7", "centralPurposes", "Цель освидетельствования центральной МРЭК",
            _ex("central_purposes"), CentralPurpose, _ex("central_purpose_other"), multi=True,
        ),
        ItemDef(
            "8",
            "documents",
            "Перечень документов, представленных в МРЭК",
            get=_ex("documents"),
            max_length=joined_limit(Examination, "documents"),
        ),
        c.patient_name("9"),
        c.id_number("10"),
        c.birth_date("11"),
        c.sex("12"),
        ItemDef(
            "13",
            "representativeName",
            "Фамилия, собственное имя, отчество (если таковое имеется) законного представителя пациента",
            get=_path("representative", "name"),
            footnote=1,
            max_length=name_limit(),
        ),
        c.registration_address("14"),
        c.actual_address("15"),
        c.phones(_path("patient", "contacts", "phones")),
        c.field("16", "complaints", "Жалобы пациента", _ex),
        c.anamnesis("17", _ex),
        c.inline(
            "18", "incapacityDuration", "Длительность временной нетрудоспособности за последние 12 месяцев:",
            ItemDef(
                "",
                "continuousDays",
                "непрерывно:",
                "int",
                get=_ex("incapacity_continuous_days"),
                suffix="дней",
            ),
            ItemDef(
                "",
                "interruptedDays",
                "с перерывами:",
                "int",
                get=_ex("incapacity_interrupted_days"),
                suffix="дней",
            ),
            sep=", ", end=".",
        ),
        c.sheet("19", "sickLeave", "Листок нетрудоспособности", _ex("sick_leave")),
        c.field("20", "medicalFindings", "Данные медицинского осмотра пациента", _ex),
        _ICD,
        _DIAGNOSIS,
        c.impairments("23", _ex("impairments"), label=c.IMPAIRMENTS_WORDING + " (указать)"),
        c.activity_limits(
            "24",
            _ex("activity_limits"),
            _ex("activity_other"),
            label=c.FC_WORDING + " (далее – ФК)",
            no_fc=frozenset({"age_activity"}),
        ),
        c.group(
            "25", "rehabResults", "Результаты выполнения",
            c.group(
                "25.1",
                "ipra",
                "индивидуальной программы реабилитации, абилитации инвалида, индивидуальной программы "
                "реабилитации, абилитации ребенка-инвалида",
                _section("medical", "раздел медицинской реабилитации выполнен", "ipra_medical"),
                _section(
                    "professional",
                    "раздел профессиональной и трудовой реабилитации выполнен",
                    "ipra_professional",
                ),
                _section("social", "раздел социальной реабилитации выполнен", "ipra_social"),
                footnote=2,
            ),
            c.choice(
                "25.2", "prp",
                "программы реабилитации потерпевшего в результате несчастного случая на производстве "
                "или профессионального заболевания",
                _ex("prp_fulfilment"), ProgrammeFulfilment, labels={"partial": "частично"}, suffix=c.UNDERLINE, end=".",
            ),
        ),
        c.choice(
            "26", "additionalExam", "Результаты выполнения программы дополнительного обследования пациента МРЭК",
            _ex("additional_exam"), AdditionalExamResult, suffix="(подчеркнуть)", end=".",
        ),
        c.group(
            "27", "consultations", "Результаты выполнения консультации",
            _consultation("centralMrek", "центральной МРЭК", "consultation_central"),
            _consultation("rnpc", "ГУ РНПЦ медэкспертизы и реабилитации", "consultation_rnpc"),
        ),
        ItemDef(
            "28",
            "outcomes",
            "Результаты освидетельствования",
            "choice",
            get=_ex("outcomes"),
            enum=ExaminationOutcome,
            multi=True,
            groups=(
                OptionGroup(
                    "освидетельствование не завершено",
                    (
                        ExaminationOutcome.TO_CENTRAL,
                        ExaminationOutcome.TO_RNPC,
                        ExaminationOutcome.ADDITIONAL_PROGRAMME,
                        ExaminationOutcome.NO_SHOW,
                    ),
                    brackets=True,
                ),
            ),
            # the statute's wording as printed, its unbalanced bracket included
            labels={
                "to_central": "направлен(а) на консультацию (в центральную МРЭК",
                "to_rnpc": "в ГУ РНПЦ медэкспертизы и реабилитации",
            },
            sep="; ",
            other=_ex("outcome_other"),
            suffix="(нужное подчеркнуть другое указать)",
        ),
        c.choice(
            "29", "prognosis", "Клинико-трудовой прогноз",
            _ex("prognosis"), Prognosis, suffix="(подчеркнуть, если является критерием установления инвалидности)",
            end=".",
        ),
        c.inline(
            "30", "decision", "Решение МРЭК",
            ItemDef("", "date", "от", "date", get=_dec("date")),
            footnote=3, label_end=":",
        ),
        c.group(
            "31", "disabilityStatus", "Группа инвалидности, степень утраты здоровья (указать)",
            ItemDef(
                "31.1",
                "before",
                "до освидетельствования",
                get=lambda k: c.status_text(_dec("status_before")(k)),
                footnote=3,
                label_end=":",
            ),
            ItemDef("31.2", "after", "после освидетельствования", get=_status_after, label_end=":"),
            _term("31.3", _dec, Decision),
        ),
        c.group(
            "32", "disabilityCause", "Причина инвалидности (указать)",
            ItemDef("32.1", "before", "до освидетельствования", get=_dec("cause_before"), footnote=4),
            ItemDef("32.2", "after", "после освидетельствования", get=_dec("cause")),
            colon=False,
        ),
        c.group(
            "33",
            "workCapacityLoss",
            "Степень утраты профессиональной (общей) трудоспособности в процентах (указываются все страховые "
            "и (или) иные случаи, даты наступления страховых и (или) иных случаев, документы, послужившие "
            "основанием для установления степени утраты профессиональной (общей) трудоспособности)",
            c.field("33.1", "before", "до освидетельствования", _wcl, footnote=4),
            ItemDef(
                "33.2",
                "after",
                "после освидетельствования",
                "records",
                get=_wcl("cases"),
                max_rows=list_limit(WorkCapacityLoss, "cases"),
                table=False,
                columns=(
                    Column("percent", "степень утраты трудоспособности, %", "int", get=lambda r: r.percent),
                    Column("case", "страховой и (или) иной случай", get=lambda r: r.case),
                    Column("caseDate", "дата наступления", "date", get=lambda r: r.case_date),
                    Column(
                        "document",
                        "документ, послуживший основанием для установления степени утраты "
                        "профессиональной (общей) трудоспособности",
                        get=lambda r: r.document,
                    ),
                ),
            ),
            ItemDef(
                "33.3",
                "total",
                "по совокупности несчастного(ых) случая(ев) и (или) профессионального(ых) заболевания(й) "
                "(после освидетельствования)",
                "int",
                get=_wcl("total_percent"),
            ),
            _term("33.4", _wcl, WorkCapacityLoss),
        ),
        c.supplements("34"),
        c.onset_date("35"),
        *c.constant_needs("36", "37"),
        c.missed_period("38"),
        c.programmes_formed(
            "39",
            # «…абилитации инвалида; индивидуальная …, программа …»: the statute's separators
            sep="; ",
            groups=(OptionGroup("", (ProgrammeFormed.IPRA_CHILD, ProgrammeFormed.PRP)),),
            other=_dec("programme_other"),
            suffix=c.UNDERLINE_OTHER,
        ),
        c.labour_requirements("40"),
        # items 41 and 42: «..., без указания срока переосвидетельствования (нужное указать, подчеркнуть).»
        c.validity("41", "validity", "Срок действия заключения МРЭК", _dec, UNDERLINE_INDICATE),
        c.validity(
            "42",
            "workCapacityValidity",
            "Срок действия заключения МРЭК о степени утраты профессиональной (общей) трудоспособности",
            _wcl,
            UNDERLINE_INDICATE,
        ),
        c.group(
            "43", "justification", "Обоснование принятого решения МРЭК",
            c.group(
                "43.1", "basis", "решение МРЭК вынесено на основании имеющихся у пациента",
                ItemDef(
                    "",
                    "impairments",
                    "стойких нарушений функций органов и систем организма с указанием степени "
                    "выраженности (указать)",
                    get=_dec("justification", "impairments"),
                ),
                ItemDef(
                    "",
                    "limitations",
                    "ограничений жизнедеятельности (с указанием степени ограничения)",
                    get=_dec("justification", "limitations"),
                ),
                ItemDef(
                    "",
                    "syndromes",
                    SYNDROMES_WORDING,
                    get=_dec("justification", "syndromes"),
                    end=";",
                ),
            ),
            ItemDef(
                "43.2",
                "anatomicalDefect",
                "в связи с наличием анатомического дефекта (указать)",
                get=_dec("justification", "anatomical_defect"),
            ),
            c.choice_or_other(
                "43.3", "prognosis", "в связи с клинико-трудовым прогнозом",
                _dec("justification", "prognosis"), Prognosis, _dec("justification", "prognosis_other"),
            ),
        ),
        c.sheet("44", "certificateIssued", "Выдано удостоверение инвалида", _dec("certificate_issued")),
        c.sheet("45", "certificateWithdrawn", "Изъято удостоверение инвалида", _dec("certificate_withdrawn")),
        c.review("46"),
    ),
    signers=(
        Signer("chairman", "Председатель МРЭК", lambda k: [k.commission.chairman], seal=True),
        Signer("member", "Члены МРЭК:", lambda k: list(k.commission.members)),
    ),
    footnotes=(
        "1 Заполняется при наличии законного представителя пациента.",
        "2 Заполняется при переосвидетельствовании.",
        "3 Указывается число, месяц, год завершения МСЭ.",
        "4 Заполняется при переосвидетельствовании.",
    ),
    applies=lambda k: k.examination is not None and k.decision is not None,
)
