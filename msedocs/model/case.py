"""The case aggregate: everything the statutory forms say about one MSE case.

One :class:`Case` per JSON document. Its parts follow the paper forms; the eight
categories of personal data of order 692n (appendix 1 point 6) live in their own
sub-models, each marked with ``pd_category`` in the JSON Schema, so that a
depersonalised view can replace them without touching the forms:

1. full name                    → ``patient.name``
2. addresses                    → ``patient.addresses``
3. contacts                     → ``patient.contacts``
4. СНИЛС                        → ``patient.insurance.snils``
5. ОМС policy                   → ``patient.insurance.oms_policy``
6. identity document            → ``patient.identity_document``
7. the representative           → ``representative``
8. previous MSE specialists     → ``previous_experts``
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from . import identifiers as ids
from . import ru
from .enums import (
    AdditionalExamResult,
    CentralPurpose,
    ConclusionReview,
    ConsultationResult,
    DisabilityGroup,
    ExaminationKind,
    ExaminationOutcome,
    ExaminationPlace,
    ExaminationPresence,
    HealthLossDegree,
    ImpairmentDegree,
    ImpairmentKind,
    InformationSource,
    Jurisdiction,
    LifeActivity,
    Prognosis,
    ProgrammeFormed,
    ProgrammeFulfilment,
    ReferralKind,
    ReferralPurpose,
    SectionFulfilment,
    Sex,
    Supplement,
)
from .mpr import MprConclusion, PastDecision
from .parts import ADDRESS_SEP as ADDRESS_SEP
from .parts import NAME_SEP as NAME_SEP
from .parts import POSTCODE_DIGITS as POSTCODE_DIGITS
from .parts import Address, DisabilityStatus, Line, Number, Organisation, Part, PersonName, Text
from .parts import Name as Name
from .rehab import ExamProgramme, Ipmra
from .ru import Delivery, Extract

#: A phone number, or (in a depersonalised case only) an identifier of order 692n.
_TOKEN = ids.PD_TOKEN_PATTERN.pattern[1:-1]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=rf"^(\+?[\d\s()\-]{{5,20}}|{_TOKEN})$")]


def _pd(category: int) -> dict[str, Any]:
    return {"pd_category": category}


class Addresses(Part):
    registration: Address = Field(description="Адрес регистрации по месту жительства")
    actual: Address | None = Field(
        None, description="Адрес фактического места жительства или пребывания (если отличается)"
    )


class Contacts(Part):
    phones: list[Phone] = Field(default_factory=list, max_length=5)
    email: Annotated[
        str, StringConstraints(pattern=rf"^([^@\s]+@[^@\s]+\.[^@\s]+|{_TOKEN})$")
    ] | None = None


class IdentityDocument(Part):
    kind: Line = Field(description="Наименование документа, удостоверяющего личность")
    series: Annotated[str, StringConstraints(max_length=10)] | None = None
    number: Number
    issuer: Line = Field(description="Наименование (код) органа, выдавшего документ")
    issue_date: dt.date | None = Field(None, description="Дата выдачи; required unless the case is depersonalised")


#: Insurance's numbers by field: personal-data category, error code, what the message names, check.
_INSURANCE_NUMBERS: dict[str, tuple[int, str, str, Callable[[str], str | None]]] = {
    "snils": (4, "snils", "СНИЛС ", ids.snils_error),
    "oms_policy": (5, "oms", "ОМС policy number ", ids.oms_error),
}


class Insurance(Part):
    """Russian case: СНИЛС (category 4) and the ОМС single policy number (category 5)."""

    snils: str | None = Field(None, json_schema_extra=_pd(4), description="СНИЛС, XXX-XXX-XXX YY")
    oms_policy: str | None = Field(None, json_schema_extra=_pd(5), description="Единый номер полиса ОМС")

    @field_validator("snils", "oms_policy")
    @classmethod
    def _number(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Each number checked by its own rule, unless it is a vault token of its category."""
        category, code, what, error = _INSURANCE_NUMBERS[info.field_name or ""]
        if v is not None and not ids.is_pd_token(v, category) and (err := error(v)):
            raise PydanticCustomError(code, what + err)
        return v


class Patient(Part):
    name: PersonName = Field(json_schema_extra=_pd(1))
    id_number: str | None = Field(None, description="Идентификационный номер (Республика Беларусь), 14 знаков")
    birth_date: dt.date
    sex: Sex
    addresses: Addresses = Field(json_schema_extra=_pd(2))
    contacts: Contacts = Field(default_factory=Contacts, json_schema_extra=_pd(3))
    insurance: Insurance = Field(default_factory=Insurance)
    identity_document: IdentityDocument | None = Field(None, json_schema_extra=_pd(6))
    marital_status: Line | None = None
    family_composition: Text | None = Field(None, description="Состав семьи (для детей до 18 лет)")
    education: Line | None = None
    workplace: Text | None = Field(None, description="Место работы (учебы), адрес организации")
    occupation: Text | None = Field(
        None, description="Кем работает пациент на момент направления; «не работает», если не работает"
    )
    training_profession: Line | None = None

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if err := ids.by_id_format_error(v):
            raise PydanticCustomError("by_id", "identification number " + err)
        if (err := ids.by_id_check_error(v)) and isinstance(info.context, dict):
            info.context.setdefault("warnings", []).append(("patient.id_number", err))
        return v


class Representative(Part):
    """Законный представитель: personal data category 7 as a whole."""

    name: PersonName
    addresses: Addresses
    contacts: Contacts = Field(default_factory=Contacts)
    identity_document: IdentityDocument | None = None
    basis: Line | None = Field(None, description="Основание полномочий (мать, опекун...)")


class Commission(Part):
    """The MREK (or, for Russian cases, the bureau) that examines the patient."""

    name: Line
    address: Address
    central: bool = Field(False, description="Центральная МРЭК")
    chairman: PersonName
    members: list[PersonName] = Field(default_factory=list, max_length=10)


class Vkk(Part):
    """The health organisation's medical advisory commission that signs the referral."""

    chairman: PersonName
    members: list[PersonName] = Field(default_factory=list, max_length=10)


class Diagnosis(Part):
    icd10: list[str] = Field(min_length=1, max_length=10, description="Коды по МКБ-10")
    main: Text = Field(description="Основное(ые) заболевание(я)")
    concomitant: Text | None = Field(None, description="Сопутствующее(ие) заболевание(я)")

    @field_validator("icd10")
    @classmethod
    def _icd(cls, codes: list[str]) -> list[str]:
        for i, code in enumerate(codes):
            if err := ids.icd10_error(code):
                raise PydanticCustomError("icd10", "[{i}] " + err, {"i": i})
        return codes


class Impairment(Part):
    kind: ImpairmentKind
    degree: ImpairmentDegree
    note: Line | None = None


class ActivityLimit(Part):
    category: LifeActivity
    fc: int = Field(ge=0, le=4, description="Функциональный класс ФК 0-4")


class IncapacityPeriod(Part):
    """Referral table 22: one period of temporary incapacity."""

    start: dt.date
    end: dt.date
    days: int = Field(ge=1, le=366)
    diagnosis: Line


class Hospitalisation(Part):
    """Referral table 23."""

    start: dt.date
    end: dt.date
    place: Line
    diagnosis: Line


class Referral(Part):
    """Направление на МСЭ (appendix 10), as drawn up by the VKK."""

    number: Number | None = None
    vkk_decision_date: dt.date
    date: dt.date
    place: ExaminationPlace
    place_other: Line | None = None
    status_before: DisabilityStatus = Field(default_factory=DisabilityStatus)
    kinds: list[ReferralKind] = Field(min_length=1, max_length=3)
    information_sources: list[InformationSource] = Field(default_factory=list, max_length=3)
    information_documents: Line | None = None
    anamnesis: Text
    incapacity: list[IncapacityPeriod] = Field(default_factory=list, max_length=100)
    hospitalisations: list[Hospitalisation] = Field(default_factory=list, max_length=100)
    rehab_results: Text | None = None
    ipmra_fulfilment: ProgrammeFulfilment | None = None
    condition: Text
    diagnostics: Text
    diagnosis: Diagnosis
    impairments: list[Impairment] = Field(default_factory=list, max_length=13)
    activity_limits: list[ActivityLimit] = Field(default_factory=list, max_length=8)
    activity_other: Line | None = None
    prognosis: Prognosis | None = None
    purposes: list[ReferralPurpose] = Field(min_length=1, max_length=7)
    purpose_other: Line | None = None
    vkk: Vkk


class Protocol(Part):
    date: dt.date
    number: Number


class Sheet(Part):
    """A numbered document: a sick-leave sheet, a disability certificate."""

    series: Annotated[str, StringConstraints(max_length=10)] | None = None
    number: Number


class Certificate(Sheet):
    """A disability certificate issued: what the certificates journal records (appendix 6)."""

    issued_on: dt.date | None = Field(None, description="Дата выдачи удостоверения инвалида")
    recipient_note: Line | None = Field(
        None,
        description="Примечание: фамилия, инициалы получателя, номер и дата доверенности; выдан дубликат",
    )


class CardMovement(Part):
    """The MREK medical card lent out and returned (journal of card movements, appendix 5)."""

    requested_by: Line = Field(description="Наименование организации, запросившей медицинскую карту")
    handed_over: dt.date = Field(description="Дата передачи медицинской карты")
    returned: dt.date | None = Field(None, description="Дата возврата медицинской карты")
    note: Line | None = None


class Consultation(Part):
    result: ConsultationResult
    details: Text | None = None


class Examination(Part):
    """Акт освидетельствования (appendix 3 to the Instruction), items 1-29."""

    act_number: Number
    act_date: dt.date
    start_date: dt.date = Field(description="Дата начала МСЭ")
    protocol: Protocol
    place: ExaminationPlace
    place_other: Line | None = None
    kind: ExaminationKind
    presence: ExaminationPresence
    purposes: list[ReferralPurpose] = Field(min_length=1, max_length=7)
    purpose_other: Line | None = None
    central_purposes: list[CentralPurpose] = Field(default_factory=list, max_length=3)
    central_purpose_other: Line | None = None
    documents: list[Line] = Field(min_length=1, max_length=50)
    complaints: Text
    anamnesis: Text
    incapacity_continuous_days: int | None = Field(None, ge=0, le=366)
    incapacity_interrupted_days: int | None = Field(None, ge=0, le=366)
    sick_leave: Sheet | None = None
    medical_findings: Text
    diagnosis: Diagnosis
    impairments: list[Impairment] = Field(min_length=1, max_length=13)
    activity_limits: list[ActivityLimit] = Field(default_factory=list, max_length=8)
    activity_other: Line | None = None
    ipra_medical: SectionFulfilment | None = None
    ipra_professional: SectionFulfilment | None = None
    ipra_social: SectionFulfilment | None = None
    prp_fulfilment: ProgrammeFulfilment | None = None
    additional_exam: AdditionalExamResult | None = None
    consultation_central: Consultation | None = None
    consultation_rnpc: Consultation | None = None
    outcomes: list[ExaminationOutcome] = Field(min_length=1, max_length=5)
    outcome_other: Line | None = None
    prognosis: Prognosis | None = None


class InsuranceCase(Part):
    """One insurance case for the degree of loss of work capacity."""

    percent: int = Field(ge=10, le=100)
    case: Line = Field(description="Страховой случай")
    case_date: dt.date
    document: Line = Field(description="Документ, послуживший основанием")


class WorkCapacityLoss(Part):
    before: Text | None = Field(None, description="До освидетельствования (при переосвидетельствовании)")
    cases: list[InsuranceCase] = Field(min_length=1, max_length=3)
    total_percent: int | None = Field(None, ge=10, le=100, description="По совокупности случаев")
    valid_from: dt.date
    valid_until: dt.date | None = None
    no_term: bool = False
    term_text: Line | None = Field(None, description="На срок или без указания срока (пункт 33.4 акта)")


class Period(Part):
    start: dt.date
    end: dt.date


class LabourRequirements(Part):
    contraindicated: Text
    indicated: Text


class Justification(Part):
    """Act item 43."""

    impairments: Text
    limitations: Text
    syndromes: Text | None = Field(
        None, description="С учетом синдрома взаимного отягощения, синдрома социальной компенсации"
    )
    anatomical_defect: Text | None = None
    prognosis: Prognosis | None = None
    prognosis_other: Line | None = None


class Review(Part):
    """Act item 46 / conclusion item 21: an earlier conclusion reviewed by the central MREK."""

    commission: Line
    date: dt.date
    number: Number
    result: ConclusionReview


class ConclusionDispatch(Part):
    """Header of the MREK conclusion (appendix 11): its number and where it was sent."""

    number: Number
    date: dt.date
    sent_date: dt.date
    sent_to: Line


class Decision(Part):
    """Решение МРЭК: act items 30-46, conclusion items 7-21, slip items 10-15."""

    date: dt.date
    recognised: bool
    status_before: DisabilityStatus | None = None
    group: DisabilityGroup | None = None
    degree: HealthLossDegree | None = None
    cause_before: Text | None = None
    cause: Line | None = None
    term_text: Line | None = Field(None, description="На срок или без указания срока (пункт 31.3 акта)")
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    no_term: bool = False
    validity_other: Line | None = None
    work_capacity_loss: WorkCapacityLoss | None = None
    supplements: list[Supplement] = Field(default_factory=lambda: [Supplement.NONE], max_length=4)
    onset_date: dt.date | None = None
    constant_help: Line | None = None
    constant_care: Line | None = None
    missed_period: Period | None = None
    programmes_formed: list[ProgrammeFormed] = Field(default_factory=list, max_length=3)
    programme_other: Line | None = None
    labour: LabourRequirements | None = None
    justification: Justification
    certificate_issued: Certificate | None = None
    certificate_withdrawn: Sheet | None = None
    review: Review | None = None
    ipmra_need: Line | None = Field(None, description="Нуждаемость в формировании ИПМРА (талон, п. 12)")
    technical_means: Line | None = Field(None, description="Нуждаемость в ТССР (талон, п. 13)")
    conclusion: ConclusionDispatch | None = None
    slip_sent_date: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Decision:
        if self.recognised and not (self.group or self.degree):
            raise PydanticCustomError("decision", "a patient recognised as disabled needs a group or a degree")
        if not self.recognised and (self.group or self.degree):
            raise PydanticCustomError("decision", "a group or degree is given but recognised is false")
        if self.recognised and not (self.no_term or self.valid_until or self.validity_other):
            raise PydanticCustomError(
                "decision", "give valid_until, no_term=true or validity_other for a recognised disability"
            )
        if self.no_term and self.valid_until:
            raise PydanticCustomError("decision", "valid_until and no_term=true exclude each other")
        return self


class PreviousExpert(Part):
    """Personal data category 8: specialists of an earlier MSE."""

    name: PersonName
    position: Line


class Case(Part):
    """One MSE case: the input of every form."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="MSE case")

    schema_version: Literal["1"] = "1"
    depersonalised: bool = Field(
        False,
        description="Order 692n: the eight categories of personal data hold identifiers (PD<category>-…), "
        "not values; set by msedocs.privacy for the bureau's copy of a referral",
    )
    case_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = Field(
        description="The case system's reference; carries no personal data"
    )
    jurisdiction: Jurisdiction = Jurisdiction.BY
    patient: Patient
    representative: Representative | None = Field(None, json_schema_extra=_pd(7))
    previous_experts: list[PreviousExpert] = Field(default_factory=list, max_length=20, json_schema_extra=_pd(8))
    referring_organisation: Organisation
    commission: Commission
    referral: Referral
    examination: Examination | None = None
    decision: Decision | None = None
    history: list[PastDecision] = Field(
        default_factory=list, max_length=50, description="Прежние решения МРЭК (медицинская карта, п. 8)"
    )
    mpr: MprConclusion | None = Field(None, description="Заключение кабинета МПР (прил. 8 к Инструкции)")
    ipmra: Ipmra | None = Field(None, description="ИПМРА пациента (приложение 8)")
    exam_programme: ExamProgramme | None = Field(
        None, description="Программа дополнительного обследования пациента МРЭК (приложение 9)"
    )
    card_movements: list[CardMovement] = Field(default_factory=list, max_length=100)
    extract: Extract | None = Field(
        None, description="Выписка из акта МСЭ (Russian case, not recognised as disabled): number and date"
    )
    delivery: Delivery | None = Field(
        None, description="How the citizen receives the extract: portal or paper by registered mail"
    )

    @property
    def age_at_decision(self) -> int | None:
        if self.decision is None:
            return None
        b, d = self.patient.birth_date, self.decision.date
        return d.year - b.year - ((d.month, d.day) < (b.month, b.day))

    @model_validator(mode="after")
    def _rules(self) -> Case:
        problems = rule_problems(self)
        if problems:
            raise PydanticCustomError(
                "case_rules",
                "; ".join(f"{path}: {msg}" for path, msg in problems),
                {"problems": problems},
            )
        return self


#: The earliest birth date accepted.
EARLIEST_BIRTH = dt.date(1900, 1, 1)
#: Dates that may lie ahead (the term of a disability); every other date of a case is an event
#: that has happened, so it is at the latest today (a day's grace for a clock in another time zone).
FORWARD_DATES = frozenset({"valid_from", "valid_until"})


def _dates(node: Any, path: str) -> list[tuple[str, dt.date]]:
    """Every date of the case with its JSON path, the forward-looking ones left out."""
    found: list[tuple[str, dt.date]] = []
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            if name not in FORWARD_DATES:
                found += _dates(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _dates(item, f"{path}[{i}]")
    elif isinstance(node, dt.date):
        found.append((path, node))
    return found


def _periods(case: Case) -> list[tuple[str, dt.date | None, str, dt.date | None]]:
    """(start path, start, end path, end) of every period of the case: the end is never before the start."""
    r, d = case.referral, case.decision
    periods: list[tuple[str, dt.date | None, str, dt.date | None]] = []
    rows: list[tuple[str, IncapacityPeriod | Hospitalisation]] = [
        *((f"referral.incapacity[{i}]", x) for i, x in enumerate(r.incapacity)),
        *((f"referral.hospitalisations[{i}]", x) for i, x in enumerate(r.hospitalisations)),
    ]
    periods += [(f"{path}.start", x.start, f"{path}.end", x.end) for path, x in rows]
    periods += [
        (f"card_movements[{i}].handed_over", m.handed_over, f"card_movements[{i}].returned", m.returned)
        for i, m in enumerate(case.card_movements)
    ]
    if d is not None:
        if m := d.missed_period:
            periods.append(("decision.missed_period.start", m.start, "decision.missed_period.end", m.end))
        periods.append(("decision.valid_from", d.valid_from, "decision.valid_until", d.valid_until))
        if w := d.work_capacity_loss:
            periods.append(
                (
                    "decision.work_capacity_loss.valid_from",
                    w.valid_from,
                    "decision.work_capacity_loss.valid_until",
                    w.valid_until,
                )
            )
        if c := d.conclusion:
            periods.append(("decision.conclusion.date", c.date, "decision.conclusion.sent_date", c.sent_date))
    return periods


def date_problems(case: Case, today: dt.date | None = None) -> list[tuple[str, str]]:
    """Birth from 1900 on, no event in the future, no period ending before it starts."""
    problems: list[tuple[str, str]] = []
    if case.patient.birth_date < EARLIEST_BIRTH:
        problems.append(("patient.birth_date", f"is before {EARLIEST_BIRTH.isoformat()}: a birth date from 1900 on"))
    latest = (today or dt.date.today()) + dt.timedelta(days=1)
    for path, value in _dates(case, ""):
        if value > latest:
            problems.append((path, f"{value.isoformat()} is in the future: a dated event is at the latest today"))
    for start_path, start, end_path, end in _periods(case):
        if start is not None and end is not None and end < start:
            problems.append((end_path, f"is before {start_path}: a period ends on or after its start"))
    return problems


def _identifier_problems(case: Case) -> list[tuple[str, str]]:
    """A depersonalised case (order 692n) may hold identifiers where the eight categories are, and
    may leave an identity document's date out; any other case holds neither."""
    problems: list[tuple[str, str]] = []
    docs = [("patient.identity_document", case.patient.identity_document)]
    if case.representative is not None:
        docs.append(("representative.identity_document", case.representative.identity_document))
    if not case.depersonalised:
        for path, doc in docs:
            if doc is not None and doc.issue_date is None:
                problems.append((f"{path}.issue_date", "is required"))
        for path, value in _strings(case, ""):
            if ids.PD_TOKEN_SEARCH.search(value):
                problems.append((path, "holds an identifier of order 692n, but the case is not depersonalised"))
    return problems


def _strings(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            found += _strings(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _strings(item, f"{path}[{i}]")
    elif isinstance(node, str):
        found.append((path, node))
    return found


def rule_problems(case: Case) -> list[tuple[str, str]]:
    """Rules across parts of the case, each as (JSON path, message)."""
    problems: list[tuple[str, str]] = []
    p, r, e, d = case.patient, case.referral, case.examination, case.decision
    chain: list[tuple[str, dt.date | None]] = [
        ("patient.birth_date", p.birth_date),
        ("referral.vkk_decision_date", r.vkk_decision_date),
        ("referral.date", r.date),
        ("examination.start_date", e.start_date if e else None),
        ("examination.act_date", e.act_date if e else None),
        ("decision.date", d.date if d else None),
    ]
    known = [(path, value) for path, value in chain if value is not None]
    for (p1, v1), (p2, v2) in zip(known, known[1:], strict=False):
        if v1 is not None and v2 is not None and v1 > v2:
            problems.append(
                (
                    p2,
                    f"{v2.isoformat()} is before {p1} ({v1.isoformat()}); dates must be in order: "
                    "birth ≤ referral ≤ examination ≤ decision",
                )
            )
    problems.extend(date_problems(case))
    if d is not None:
        age = case.age_at_decision or 0
        if d.group is not None and age < 18:
            problems.append(("decision.group", f"a disability group I-III is set only at 18 and over (age {age})"))
        if d.degree is not None and age >= 18:
            problems.append(("decision.degree", f"a degree of health loss 1-4 is set only under 18 (age {age})"))
    problems.extend(_identifier_problems(case))
    if case.jurisdiction == Jurisdiction.BY and p.id_number is None:
        problems.append(("patient.id_number", "is required for a Belarusian case"))
    problems.extend(ru.rule_problems(case))
    return problems
