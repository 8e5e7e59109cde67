"""Closed lists of the "нужное подчеркнуть" items, named as in the statute.

Each enum's value is the machine value used in JSON and XML; :func:`label` gives the
statute's wording printed on the form. The order of members is the order on the form.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class Labelled(StrEnum):
    """A StrEnum whose members carry the statute's wording."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Labelled:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label or value
        return obj

    @classmethod
    def options(cls) -> list[tuple[str, str]]:
        """(value, wording) in the order of the paper form."""
        return [(m.value, m.label) for m in cls]


def reworded(
    name: str,
    base: type[Labelled],
    wording: Mapping[str, str] | None = None,
    *,
    members: Iterable[Labelled] | None = None,
    values: Mapping[str, str] | None = None,
) -> type[Labelled]:
    """A form's own list of a statutory option list: ``base``'s members (or those of ``members``,
    in that order), each worded as ``base`` words it unless ``wording`` (by value) words it
    otherwise, and named in the XML by its value unless ``values`` renames it. Only what
    differs is declared, so no wording is copied from the model into a form."""
    wording, values = wording or {}, values or {}
    chosen = list(members) if members is not None else list(base)
    functional: Any = Labelled  # Enum's functional API, which the type stubs do not describe for a subclass
    made: type[Labelled] = functional(
        name,
        [(m.name, (values.get(m.value, m.value), wording.get(m.value, m.label))) for m in chosen],
        module=sys._getframe(1).f_globals["__name__"],  # the declaring form's module, as class syntax gives
    )
    return made


class Sex(Labelled):
    MALE = "male", "мужской"
    FEMALE = "female", "женский"


class ExaminationPlace(Labelled):
    """Act item 4, referral header: where the patient is examined."""

    MREK = "mrek", "по месту нахождения МРЭК"
    VISITING_HOME = (
        "visiting_home",
        "на выездном заседании (по месту регистрации (месту жительства или месту пребывания) пациента)",
    )
    HEALTH_ORGANISATION = (
        "health_organisation",
        "в организации здравоохранения, оказывающей пациенту медицинскую помощь в амбулаторных (стационарных) условиях",
    )
    PENAL_INSTITUTION = (
        "penal_institution",
        "в учреждении уголовно-исполнительной системы Министерства внутренних дел",
    )


class ExaminationKind(Labelled):
    """Act item 5, conclusion item 6: first or repeated examination."""

    FIRST = "first", "первичное"
    REPEATED = "repeated", "повторное"


class ExaminationPresence(Labelled):
    IN_PERSON = "in_person", "очное"
    IN_ABSENTIA = "in_absentia", "заочное"


class ReferralPurpose(Labelled):
    """Act item 6 / referral item 31: purpose of the referral to MSE."""

    EXTEND_TREATMENT = (
        "extend_treatment",
        "продление лечения в периоде временной нетрудоспособности",
    )
    EXAMINATION = "examination", "освидетельствование пациента"
    REEXAMINATION = (
        "reexamination",
        "переосвидетельствование пациента (по окончанию срока инвалидности, ранее установленного срока)",
    )
    CHANGE_CAUSE = "change_cause", "изменение причины инвалидности"
    REHAB_PROGRAMME = (
        "rehab_programme",
        "формирование (коррекция) индивидуальной программы реабилитации, абилитации инвалида, "
        "индивидуальной программы реабилитации, абилитации ребенка-инвалида, программы реабилитации "
        "потерпевшего в результате несчастного случая на производстве или профессионального заболевания",
    )
    ONSET_TIME = (
        "onset_time",
        "определение времени наступления инвалидности (установления категории «ребенок-инвалид»)",
    )
    WORK_CAPACITY_LOSS = (
        "work_capacity_loss",
        "определение степени утраты профессиональной (общей) трудоспособности в процентах",
    )


class CentralPurpose(Labelled):
    """Act item 7: purpose of the examination by the central MREK."""

    CONSULTATION = "consultation", "консультация МРЭК"
    APPEAL = "appeal", "обжалование решения первичной МРЭК"
    CORRECTION = "correction", "устранение выявленных нарушений"


class ReferralKind(Labelled):
    """Referral item 15."""

    FIRST = "first", "первично"
    REPEATED = "repeated", "повторно"
    TEMPORARY_INCAPACITY = "temporary_incapacity", "в периоде временной нетрудоспособности"


class InformationSource(Labelled):
    """Referral item 20: items 15-18 filled from."""

    PATIENT = "patient", "со слов пациента, направляемого на МСЭ"
    REPRESENTATIVE = "representative", "со слов законного представителя пациента"
    DOCUMENTS = "documents", "на основании предъявленных документов"


class ProgrammeFulfilment(Labelled):
    """Referral item 24, act item 25.2: a rehabilitation programme fulfilled."""

    FULL = "full", "выполнена полностью"
    PARTIAL = "partial", "выполнена частично"
    NOT_DONE = "not_done", "не выполнена"


class SectionFulfilment(Labelled):
    """Act item 25.1: a section of the IPRA fulfilled."""

    FULL = "full", "полностью"
    PARTIAL = "partial", "частично"
    NOT_DONE = "not_done", "не выполнен"


class AdditionalExamResult(Labelled):
    """Act item 26: the additional examination programme."""

    DONE = "done", "выполнена"
    NOT_DONE = "not_done", "не выполнена"
    REFUSED = "refused", "отказ от выполнения"


class ConsultationResult(Labelled):
    """Act item 27."""

    DONE = "done", "выполнена"
    NOT_DONE = "not_done", "не выполнена"


class ExaminationOutcome(Labelled):
    """Act item 28: results of the examination."""

    COMPLETED = "completed", "освидетельствование завершено"
    TO_CENTRAL = "to_central", "направлен(а) на консультацию в центральную МРЭК"
    TO_RNPC = "to_rnpc", "направлен(а) на консультацию в ГУ РНПЦ медэкспертизы и реабилитации"
    ADDITIONAL_PROGRAMME = (
        "additional_programme",
        "составлена программа дополнительного обследования пациента МРЭК",
    )
    NO_SHOW = "no_show", "отказ от явки на освидетельствование для завершения МСЭ"


class Prognosis(Labelled):
    """Referral item 30, act items 29 and 43.3: clinical and labour prognosis."""

    RELATIVELY_UNFAVOURABLE = "relatively_unfavourable", "относительно неблагоприятный"
    DOUBTFUL = "doubtful", "сомнительный"
    ABSOLUTELY_UNFAVOURABLE = "absolutely_unfavourable", "абсолютно неблагоприятный"


class Supplement(Labelled):
    """Act item 34, conclusion item 12: supplement to the expert decision (appendix 6)."""

    NONE = "none", "отсутствует"
    LOCOMOTOR = "locomotor", "инвалид с нарушением опорно-двигательного аппарата"
    VISION = "vision", "инвалид с нарушением зрения"
    HEARING = "hearing", "инвалид с нарушением слуха"


class ProgrammeFormed(Labelled):
    """Act item 39, conclusion item 14."""

    IPRA_ADULT = "ipra_adult", "индивидуальная программа реабилитации, абилитации инвалида"
    IPRA_CHILD = "ipra_child", "индивидуальная программа реабилитации, абилитации ребенка-инвалида"
    PRP = (
        "prp",
        "программа реабилитации потерпевшего в результате несчастного случая на производстве "
        "или профессионального заболевания",
    )


class ConclusionReview(Labelled):
    """Act item 46, conclusion item 21: an earlier conclusion confirmed or cancelled."""

    CONFIRMED = "confirmed", "подтверждается"
    CANCELLED = "cancelled", "отменяется"


class DisabilityGroup(Labelled):
    """Groups I-III, for patients of eighteen and over."""

    I = "I", "I группа"  # noqa: E741 - the statute's numbering
    II = "II", "II группа"
    III = "III", "III группа"


class HealthLossDegree(Labelled):
    """Degrees 1-4 of health loss, category «ребенок-инвалид», under eighteen."""

    D1 = "1", "первая степень утраты здоровья"
    D2 = "2", "вторая степень утраты здоровья"
    D3 = "3", "третья степень утраты здоровья"
    D4 = "4", "четвертая степень утраты здоровья"


class ImpairmentKind(Labelled):
    """The 13 kinds of function impairment, appendix 2 to the Instruction, item 1."""

    MENTAL = "1.1", "нарушения психических функций"
    VOICE_SPEECH = "1.2", "нарушения функций голоса и речи"
    SENSORY = "1.3", "нарушения сенсорных функций"
    STATODYNAMIC = "1.4", "нарушения статодинамической функции"
    HAND = "1.5", "нарушение функции хвата и удержания кисти, манипуляционной функции кисти"
    CIRCULATION = "1.6", "нарушения функций кровообращения"
    BREATHING = "1.7", "нарушения функций дыхания"
    DIGESTION = "1.8", "нарушения функций пищеварения"
    EXCRETION = "1.9", "нарушения функций выделения"
    HAEMATOPOIESIS = "1.10", "нарушения функций кроветворения"
    METABOLISM = "1.11", "нарушения функций обмена веществ и метаболизма"
    ENDOCRINE = "1.12", "нарушения функций внутренней секреции"
    IMMUNITY = "1.13", "нарушения функций иммунитета"


class ImpairmentDegree(Labelled):
    """The 6 degrees of impairment, appendix 2 to the Instruction, item 2."""

    NONE = "2.1", "отсутствуют или незначительные"
    MILD = "2.2", "легкие"
    MODERATE = "2.3", "умеренные"
    MARKED = "2.4", "выраженные"
    SEVERE = "2.5", "резко выраженные"
    TOTAL = "2.6", "полная утрата функции"


class LifeActivity(Labelled):
    """Life-activity categories assessed with a functional class (ФК 0-4)."""

    SELF_CARE = "self_care", "способность к самообслуживанию"
    MOBILITY = "mobility", "способность к самостоятельному передвижению"
    ORIENTATION = "orientation", "способность к ориентации"
    COMMUNICATION = "communication", "способность к общению"
    BEHAVIOUR = "behaviour", "способность контролировать свое поведение"
    LEARNING = "learning", "способность к обучению"
    WORK = "work", "способность к трудовой деятельности"
    AGE_ACTIVITY = "age_activity", "способность к ведущей возрастной деятельности"


class Jurisdiction(Labelled):
    BY = "BY", "Республика Беларусь"
    RU = "RU", "Российская Федерация"


def label(value: Labelled | None) -> str:
    """The statute's wording of an option, or an empty string."""
    return value.label if value is not None else ""
