"""An incoming referral to MSE: the parts of the case model a referral carries, plus how it came in.

A referral is not yet a case: no bureau examines it yet. :class:`IncomingReferral` holds the
case model's own parts (``patient``, ``representative``, ``previous_experts``,
``referring_organisation``, ``referral``) as :class:`msedocs.model.case.Case` defines them, and
:meth:`IncomingReferral.to_case` makes the :class:`~msedocs.model.case.Case` once a bureau
(``commission``) takes it. Routing attributes (:class:`RoutingAttributes`) are derived from it
*before* depersonalisation and carry no personal data.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from msedocs.model.case import (
    Case,
    Commission,
    Organisation,
    Part,
    Patient,
    PreviousExpert,
    Referral,
    Representative,
)
from msedocs.model.enums import Jurisdiction

Source = Literal["semd", "case-json"]


class IncomingReferral(Part):
    """A structured referral as received (СЭМД 088/у or a case JSON)."""

    external_id: str = Field(max_length=200, description="The document's id (СЭМД: ClinicalDocument/id) or case_id")
    source: Source
    in_absentia: bool = Field(description="Сведения о проведении МСЭ без личного присутствия (order 692n point 4)")
    special_route: bool = Field(False, description="Order 692n point 9 paragraph 2: the other federal body's bureau")
    palliative: bool = False
    patient: Patient
    representative: Representative | None = None
    previous_experts: list[PreviousExpert] = Field(default_factory=list, max_length=20)
    referring_organisation: Organisation
    referral: Referral

    @classmethod
    def from_case(cls, case: Case) -> IncomingReferral:
        """The referral a case JSON carries (without personal presence unless its examination says so)."""
        return cls.model_validate({
            "external_id": case.case_id, "source": "case-json",
            "in_absentia": case.examination is None or case.examination.presence.value == "in_absentia",
            "patient": case.patient, "representative": case.representative,
            "previous_experts": case.previous_experts, "referring_organisation": case.referring_organisation,
            "referral": case.referral})  # fmt: skip

    def to_case(self, case_id: str, commission: Commission, *, depersonalised: bool = False) -> Case:
        return Case.model_validate(
            {
                "case_id": case_id,
                "jurisdiction": Jurisdiction.RU,
                "depersonalised": depersonalised,
                "patient": self.patient.model_dump(mode="json", exclude_none=True),
                "representative": self.representative.model_dump(mode="json", exclude_none=True)
                if self.representative
                else None,
                "previous_experts": [e.model_dump(mode="json", exclude_none=True) for e in self.previous_experts],
                "referring_organisation": self.referring_organisation.model_dump(mode="json", exclude_none=True),
                "commission": commission.model_dump(mode="json", exclude_none=True),
                "referral": self.referral.model_dump(mode="json", exclude_none=True),
            }
        )


AgeGroup = Literal["child", "adult"]


class RoutingAttributes(Part):
    """What routing needs, derived before depersonalisation; no personal data.

    ``postal_area`` (the first three digits of the registration postcode) is kept on the platform
    for point 12 only (the bureau of the citizen's address): it is never shown to a bureau and
    plays no part in the load-based distribution (point 11: whatever the region)."""

    structured: bool = True
    in_absentia: bool = True
    special_route: bool = False
    palliative: bool = False
    specialisation: str = Field(description="general, psychiatry, ophthalmology, oncology, paediatrics …")
    age_group: AgeGroup
    icd10_chapter: str | None = None
    postal_area: str | None = None
    received_on: dt.date | None = None
