"""Rehabilitation documents of a case: the IPMRA (appendix 8) and the additional
examination programme of the MREK (appendix 9 to resolution No. 77).

Each model holds exactly what its paper form records beyond the patient's particulars
(name, birth date, identification number, addresses), which the forms read from
``case.patient``. The closed lists of these two forms live here, worded as on the form.

The parts shared with the case (:class:`~msedocs.model.parts.Part`, a person's name, an
organisation, a disability status) come from :mod:`.parts`; :mod:`.case` imports this module.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .enums import ImpairmentDegree, ImpairmentKind, Labelled, LifeActivity, ProgrammeFulfilment
from .parts import DisabilityStatus, Line, Number, Organisation, Part, PersonName, Text

#: The five basic categories of life activity of IPMRA item 6, in the form's order.
BASIC_ACTIVITIES = (
    LifeActivity.MOBILITY,
    LifeActivity.SELF_CARE,
    LifeActivity.COMMUNICATION,
    LifeActivity.ORIENTATION,
    LifeActivity.BEHAVIOUR,
)


class RehabPotential(Labelled):
    """IPMRA item 7: реабилитационный потенциал."""

    HIGH = "high", "высокий"
    MEDIUM = "medium", "средний"
    LOW = "low", "низкий"
    VERY_LOW = "very_low", "крайне низкий"


class GoalExtent(Labelled):
    """IPMRA item 8: each goal is reached «(полностью, частично)»."""

    FULL = "full", "полностью"
    PARTIAL = "partial", "частично"


class RehabMethod(Labelled):
    """IPMRA item 9, rows 1-10 of the measures table."""

    PSYCHOTHERAPY = "1", "Психотерапия, психокоррекция"
    EXERCISE_THERAPY = "2", "Лечебная физическая культура"
    PHYSIOTHERAPY = "3", "Физиотерапия"
    MASSAGE = "4", "Массаж"
    REFLEXOTHERAPY = "5", "Рефлексотерапия"
    ERGOTHERAPY = "6", "Эрготерапия"
    SURGERY_PROSTHETICS = "7", "Реконструктивная хирургия и протезирование"
    SPEECH_THERAPY = "8", "Логопедическая помощь"
    PATIENT_SCHOOL = "9", "«Школа» пациента"
    OTHER = "10", "Другие методы"


class NonFulfilmentReason(Labelled):
    """IPMRA item 11: the one printed reason; anything else goes to «другое»."""

    REFUSAL = "refusal", "отказ пациента"


class ContinuationNeed(Labelled):
    """IPMRA item 12: нуждается, не нуждается в продолжении медицинской реабилитации."""

    NEEDS = "needs", "нуждается"
    NOT_NEEDED = "not_needed", "не нуждается"


class RehabSetting(Labelled):
    """IPMRA item 12: where the rehabilitation continues, or the referral to the VKK."""

    OUTPATIENT = "outpatient", "в амбулаторных"
    INPATIENT = "inpatient", "(стационарных) условиях"
    HOME = "home", "на дому"
    VKK_TSSR = "vkk_tssr", "в направлении на ВКК для определения нуждаемости в ТССР"


class ImpairmentAssessment(Part):
    """IPMRA table 5: one function group, its degree before and after rehabilitation."""

    kind: ImpairmentKind
    before: ImpairmentDegree | None = Field(None, description="до медицинской реабилитации, абилитации")
    after: ImpairmentDegree | None = Field(None, description="после медицинской реабилитации, абилитации")
    dynamics: Line | None = Field(
        None, description="Динамическая оценка степени выраженности нарушений (развития) функций"
    )


class ActivityAssessment(Part):
    """IPMRA table 6: one basic category of life activity, its ФК before and after."""

    category: LifeActivity = Field(description="one of the five basic categories of item 6")
    fc_before: int | None = Field(None, ge=0, le=4, description="ФК до медицинской реабилитации")
    fc_after: int | None = Field(None, ge=0, le=4, description="ФК после медицинской реабилитации")
    effectiveness: Line | None = Field(
        None, description="Оценка эффективности медицинской реабилитации, медицинской абилитации"
    )

    @model_validator(mode="after")
    def _basic(self) -> ActivityAssessment:
        if self.category not in BASIC_ACTIVITIES:
            allowed = ", ".join(a.value for a in BASIC_ACTIVITIES)
            raise PydanticCustomError(
                "ipmra_category",
                "'{category}' is not a basic category of the IPMRA (one of: {allowed})",
                {"category": self.category.value, "allowed": allowed},
            )
        return self


class RehabGoals(Part):
    """IPMRA item 8: the goals chosen, each reached fully or partly; None = not a goal."""

    restoration: GoalExtent | None = Field(None, description="восстановление или развитие нарушенных функций")
    compensation: GoalExtent | None = Field(
        None, description="компенсация функций с помощью лекарственных средств, ТССР"
    )
    limitation: GoalExtent | None = Field(
        None, description="снижение степени или устранение ограничения категорий жизнедеятельности"
    )


def _dates_in_order(prescribed: dt.date | None, done: dt.date | None) -> None:
    if prescribed and done and done < prescribed:
        raise PydanticCustomError("ipmra_dates", "the date done is before the date prescribed")


class RehabMeasure(Part):
    """IPMRA item 9, rows 1-10: a method prescribed and when it was done."""

    method: RehabMethod
    detail: Line | None = Field(None, description="What exactly (required for «Другие методы»)")
    prescribed: dt.date | None = Field(None, description="Дата назначения")
    done: dt.date | None = Field(None, description="Дата выполнения")

    @model_validator(mode="after")
    def _check(self) -> RehabMeasure:
        if self.method is RehabMethod.OTHER and not self.detail:
            raise PydanticCustomError("ipmra_other", "«Другие методы» needs a detail naming the method")
        _dates_in_order(self.prescribed, self.done)
        return self


class DeviceMeasure(Part):
    """IPMRA item 9, rows 11.1-11.6: a ТССР or medical device provided."""

    name: Line
    prescribed: dt.date | None = Field(None, description="Дата назначения")
    done: dt.date | None = Field(None, description="Дата выполнения")

    @model_validator(mode="after")
    def _check(self) -> DeviceMeasure:
        _dates_in_order(self.prescribed, self.done)
        return self


class Ipmra(Part):
    """Индивидуальная программа медицинской реабилитации, абилитации пациента (appendix 8)."""

    fill_date: dt.date = Field(description="Дата заполнения")
    physician: PersonName = Field(description="Врач-специалист, ответственный за составление программы")
    status: DisabilityStatus | None = Field(None, description="Item 3: группа инвалидности (степень утраты здоровья)")
    main_disease: Text = Field(description="Item 4.1: основное(ые) заболевание(я)")
    concomitant_disease: Text | None = Field(None, description="Item 4.2: сопутствующие заболевания")
    impairments: list[ImpairmentAssessment] = Field(default_factory=list, max_length=13)
    activities: list[ActivityAssessment] = Field(default_factory=list, max_length=5)
    potential: RehabPotential | None = None
    goals: RehabGoals = Field(default_factory=RehabGoals)
    measures: list[RehabMeasure] = Field(default_factory=list, max_length=10)
    devices: list[DeviceMeasure] = Field(default_factory=list, max_length=6)
    fulfilment: ProgrammeFulfilment | None = Field(None, description="Item 10")
    non_fulfilment_reason: NonFulfilmentReason | None = Field(None, description="Item 11")
    non_fulfilment_other: Line | None = Field(None, description="Item 11, другое")
    continuation: ContinuationNeed | None = Field(None, description="Item 12")
    settings: list[RehabSetting] = Field(default_factory=list, max_length=4)
    recommendations_other: Text | None = Field(None, description="Item 12, другое")

    @model_validator(mode="after")
    def _unique_rows(self) -> Ipmra:
        for field, keys in (
            ("impairments", [r.kind for r in self.impairments]),
            ("activities", [r.category for r in self.activities]),
            ("measures", [r.method for r in self.measures]),
            ("settings", list(self.settings)),
        ):
            if len(keys) != len(set(keys)):
                raise PydanticCustomError("ipmra_rows", "{field}: a row is given twice", {"field": field})
        if self.fulfilment is ProgrammeFulfilment.FULL and (self.non_fulfilment_reason or self.non_fulfilment_other):
            raise PydanticCustomError(
                "ipmra_reason", "a reason for non-fulfilment is given but the programme is fulfilled in full"
            )
        return self


class ExamProgramme(Part):
    """Программа дополнительного обследования пациента МРЭК (appendix 9)."""

    number: Number = Field(description="№ программы")
    date: dt.date
    addressee: Organisation = Field(
        description="Item 1: организация здравоохранения (иная организация), в которую направляется"
    )
    purpose: Text = Field(
        min_length=1, description="Item 7: необходимые дополнительные обследования, сведения, документы"
    )
    diagnosis: Text | None = Field(
        None,
        description="Item 8: клинико-функциональный диагноз, только когда программа направляется "
        "в организацию здравоохранения",
    )
