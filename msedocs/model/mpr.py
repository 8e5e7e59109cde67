"""Parts of the case for two forms of resolution No. 77:

- the MREK patient card (appendix 12): :class:`PastDecision`, one row of its table
  «Результаты медико-социальной экспертизы» per earlier decision (``Case.history``);
- the conclusion of the office of medical-professional rehabilitation (MPR), appendix 8
  to the Instruction: :class:`MprConclusion` (``Case.mpr``) with exactly what that form records.

The patient's name, dates and addresses come from the rest of the case; this module holds
only what these two forms add. It imports nothing from :mod:`.case` (which imports it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from .enums import Labelled
from .text import FREE_TEXT, CheckedModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000), FREE_TEXT]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _Part(CheckedModel):
    """Same rules as :class:`msedocs.model.case.Part`: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --- the MREK patient card, appendix 12 -------------------------------------------------


class Certificate(_Part):
    """Серия, номер удостоверения инвалида (дубликата удостоверения инвалида)."""

    series: Annotated[str, StringConstraints(max_length=10)] | None = None
    number: Number
    duplicate: bool = Field(False, description="Выдан дубликат удостоверения инвалида")

    def __str__(self) -> str:
        text = " ".join(x for x in (f"серия {self.series}" if self.series else "", f"№ {self.number}") if x)
        return text + (" (дубликат)" if self.duplicate else "")


class PastDecision(_Part):
    """One earlier MSE decision: a row of the card's table «Результаты медико-социальной экспертизы»."""

    date: dt.date = Field(description="Дата решения МРЭК")
    commission: Line = Field(description="Наименование МРЭК, проводившей медико-социальную экспертизу")
    conclusion: Text = Field(description="Заключение МРЭК")
    certificate: Certificate | None = None
    note: Line | None = Field(None, description="Примечание")


# --- the MPR office conclusion, appendix 8 to the Instruction ---------------------------


class MprPurpose(Labelled):
    """Items 8.1-8.4: purposes of the referral to the professional consultation."""

    LEARNING = "learning", "оценка категории жизнедеятельности: способность к обучению"
    WORK = "work", "оценка категории жизнедеятельности: способность к трудовой деятельности"
    LOSS_PERCENT = "loss_percent", "оценка степени утраты профессиональной трудоспособности в процентах"
    IPRA_CORRECTION = (
        "ipra_correction",
        "коррекция индивидуальной программы реабилитации, абилитации инвалида, ребенка-инвалида "
        "в части профессиональной и трудовой реабилитации",
    )


class TrainingLevel(Labelled):
    """Item 8.5: levels of the fitness for professional training assessed."""

    VOCATIONAL = "vocational", "профессионально-технического образования"
    SECONDARY_SPECIAL = "secondary_special", "среднего специального образования"
    HIGHER = "higher", "высшего образования"
    ADDITIONAL = "additional", "дополнительного образования (профессиональной подготовки)"


class SpecialConditionsArea(Labelled):
    """Item 8.6: what the special conditions are needed for."""

    TRAINING = "training", "для профессионального обучения"
    PREPARATION = "preparation", "профессиональной подготовки"
    EMPLOYMENT = "employment", "организации занятости"
    WORKPLACES = "workplaces", "создания специализированных рабочих мест"


class MprDisability(Labelled):
    """Item 9."""

    NOT_DISABLED = "not_disabled", "Инвалидом не является"
    GROUP_I = "group_I", "инвалид I группы"
    GROUP_II = "group_II", "инвалид II группы"
    GROUP_III = "group_III", "инвалид III группы"
    CHILD_1 = "child_1", "ребенок-инвалид: первая степень утраты здоровья"
    CHILD_2 = "child_2", "ребенок-инвалид: вторая степень утраты здоровья"
    CHILD_3 = "child_3", "ребенок-инвалид: третья степень утраты здоровья"
    CHILD_4 = "child_4", "ребенок-инвалид: четвертая степень утраты здоровья"


class EducationLevel(Labelled):
    """Item 11.1: «основное (...); дополнительное образование; специальное образование»."""

    GENERAL_BASIC = "general_basic", "общее базовое образование"
    GENERAL_SECONDARY = "general_secondary", "общее среднее образование"
    VOCATIONAL = "vocational", "профессионально-техническое"
    SECONDARY_SPECIAL = "secondary_special", "среднее специальное"
    HIGHER = "higher", "высшее образование"
    ADDITIONAL = "additional", "дополнительное образование"
    SPECIAL = "special", "специальное образование"


class EducationProgramme(Labelled):
    """Item 11.2: the kind of educational programme mastered (being mastered)."""

    GENERAL_SECONDARY = "general_secondary", "общего среднего"
    VOCATIONAL = "vocational", "профессионально-технического"
    SECONDARY_SPECIAL = "secondary_special", "среднего специального"
    HIGHER = "higher", "высшего"
    POSTGRADUATE = "postgraduate", "послевузовского"
    ADDITIONAL = "additional", "дополнительного образования"
    SPECIAL_SECONDARY = "special_secondary", "на уровне общего среднего образования"
    SPECIAL_INTELLECTUAL = (
        "special_intellectual",
        "на уровне общего среднего образования для лиц с интеллектуальной недостаточностью",
    )


class PensionStatus(Labelled):
    """Item 14: «не является пенсионером; пенсионер: по возрасту, ...»."""

    NOT_PENSIONER = "not_pensioner", "не является пенсионером"
    AGE = "age", "по возрасту"
    SPECIAL_CONDITIONS = "special_conditions", "за особые условия труда"
    LONG_SERVICE = "long_service", "за выслугу лет"
    DISABILITY = "disability", "по инвалидности"
    OTHER_EARLY = "other_early", "другие причины досрочного пенсионирования"


class WorkConditionsSource(Labelled):
    """Items 15.2 and 15.4: what the assessment of working conditions is based on."""

    NATURE = "nature", "сведений о характере и условиях труда"
    CERTIFICATION = "certification", "по материалам аттестации условий труда"
    HYGIENIC = "hygienic", "комплексной гигиенической оценке условий труда"
    SANITARY = "sanitary", "санитарно-гигиенической характеристики условий труда"
    OTHER = "other", "иных сведений"


class EmploymentWay(Labelled):
    """Item 15.8: where employment is recommended."""

    EMPLOYER = "employer", "у нанимателя"
    EMPLOYMENT_OFFICE = (
        "employment_office",
        "при содействии территориального отделения занятости населения – для незанятых трудом",
    )


class OfficeStaff(_Part):
    """The head or a specialist of the MPR office who signs the conclusion."""

    last: Name
    first: Name
    middle: Name | None = None


class WorkAssessment(_Part):
    """Items 15.2 (main profession) and 15.4 (the current job): assessment of working conditions."""

    sources: list[WorkConditionsSource] = Field(default_factory=list, max_length=5)
    overall_class: Line | None = Field(None, description="Общая оценка класса условий труда")
    factors_class: Text | None = Field(
        None,
        description="Оценка класса условий труда по факторам производственной среды, тяжести "
        "и напряженности трудового процесса",
    )
    functions_participation: Text | None = Field(
        None, description="Оценка участия нарушенных функций в выполнении основного состава работ"
    )


class AdultResults(_Part):
    """Item 15: results of the professional consultation of the patient."""

    main_professions: Line | None = None
    main_conditions: WorkAssessment | None = None
    main_fitness: Text | None = Field(None, description="15.3 оценка годности по основной(ым) профессии(ям)")
    job_conditions: WorkAssessment | None = None
    continued_employment: Text | None = Field(None, description="15.5 оценка годности к продолжению занятости")
    contraindicated: Text | None = None
    indicated: Text | None = None
    training: Text | None = Field(None, description="15.7.1 профессиональное обучение, переобучение")
    preparation: Text | None = Field(None, description="15.7.2 профессиональная подготовка, переподготовка")
    training_conditions: Text | None = Field(None, description="15.7.3 специальные условия для обучения")
    employment: list[EmploymentWay] = Field(default_factory=list, max_length=2)
    employment_other: Line | None = None
    working_time: Line | None = Field(None, description="Режим рабочего времени")
    work_norms: Text | None = Field(None, description="Нормы труда, объемы выполняемой работы")
    adaptation: Line | None = Field(None, description="15.8.1 трудовая адаптация с указанием периода")
    special_workplace: Text | None = Field(None, description="15.8.2 специализированное рабочее место")


class ChildResults(_Part):
    """Item 16: results of the consultation of a child of 14 to 18."""

    intentions: Text | None = None
    specialities: Text | None = None
    conditions: Text | None = None


class TrainingFitness(_Part):
    """Item 19: fitness of a child of 14 to 18 for professional training."""

    specialities: Text | None = None
    regime: Text | None = None


class MprConclusion(_Part):
    """Заключение кабинета медико-профессиональной реабилитации (appendix 8 to the Instruction)."""

    number: Number
    date: dt.date
    sent_to: Line = Field(
        description="Наименование МРЭК или государственной организации здравоохранения, "
        "направившей пациента на консультацию"
    )
    purposes: list[MprPurpose] = Field(default_factory=list, max_length=4, description="Пункты 8.1-8.4")
    training_levels: list[TrainingLevel] = Field(default_factory=list, max_length=4, description="Пункт 8.5")
    training_specialities: Line | None = Field(
        None, description="8.5: осваиваемые специальности и присваиваемые квалификации"
    )
    special_conditions: list[SpecialConditionsArea] = Field(default_factory=list, max_length=4, description="Пункт 8.6")
    special_conditions_details: Text | None = None
    purpose_other: Line | None = Field(None, description="Пункт 8: другое")
    disability: MprDisability
    loss_percent: int | None = Field(
        None, ge=0, le=100, description="10. Степень утраты профессиональной трудоспособности в процентах"
    )
    education_levels: list[EducationLevel] = Field(default_factory=list, max_length=7)
    education_level_other: Line | None = None
    education_programmes: list[EducationProgramme] = Field(default_factory=list, max_length=8)
    special_education_conditions: Text | None = Field(None, description="Пункт 11.3")
    specialities: Line | None = Field(None, description="11.4 полученная(ые) (получаемая) специальность(и)")
    qualifications: Line | None = Field(None, description="11.4 присвоенная (осваиваемая) квалификация(и)")
    workplace: Text | None = Field(None, description="12.1 наименование организации")
    not_working: Text | None = Field(None, description="12.2 «не работает», периоды незанятости трудом")
    special_conditions_learning: Text | None = Field(None, description="12.3 для обучения")
    special_conditions_work: Text | None = Field(None, description="12.3 для трудовой занятости")
    career: Text | None = Field(None, description="13.1 профессиональные перемещения")
    total_service: Line | None = Field(None, description="13.2 общий трудовой стаж")
    pension: list[PensionStatus] = Field(default_factory=list, max_length=6)
    pension_other: Line | None = None
    adult: AdultResults | None = None
    child: ChildResults | None = None
    fc_learning: int | None = Field(None, ge=0, le=4, description="17: способность к обучению, ФК")
    fc_work: int | None = Field(None, ge=0, le=4, description="17: способность к трудовой деятельности, ФК")
    preliminary_loss_percent: int | None = Field(None, ge=0, le=100, description="Пункт 18")
    training_fitness: TrainingFitness | None = None
    head: OfficeStaff = Field(description="Заведующий кабинетом МПР")
    specialist: OfficeStaff = Field(description="Специалист кабинета МПР")

    @model_validator(mode="after")
    def _consistent(self) -> MprConclusion:
        if PensionStatus.NOT_PENSIONER in self.pension and len(self.pension) > 1:
            raise PydanticCustomError("mpr", "pension: «не является пенсионером» excludes the other options")
        return self
