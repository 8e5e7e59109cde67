"""Codes the СЭМД «Направление на МСЭ» (edition 6) carries, shared by the generator and the mapping.

What the official package (``MSEDOCS_SEMD_DIR``: ``121.sch`` and the XSD) fixes, msedocs takes
from it; what it leaves to the НСИ directories, msedocs reads as documented below, and an operator
can change that reading without touching the code (:func:`reading`, ``MSEDOCS_NSI_CODES``).

Fixed by the package (checked against ``121.sch``):

- every code system (OID) below: ``121.sch`` requires each at the place msedocs reads or writes
  it, and accepts a few older OIDs beside some of them (:data:`PURPOSE_SYSTEMS`,
  :data:`FIELD_SYSTEMS`, which the mapping accepts too);
- the observation codes of directory 1.2.643.5.1.13.13.99.2.166 and where they stand: 4059-4062
  and 7012 in SCOPORG (4060, 4061 and 7012 a BL, 4062 a TS, each exactly once), 4102/4103 in
  SOCANAM, 4108 in VITALPARAM, 4109 in STATECUR, 4111-4113 and 12132 in RECTREAT, 12485 (TS),
  12480 (CD of directory 1.2.643.5.1.13.13.99.2.970) and 12481 (CD of directory
  1.2.643.5.1.13.13.99.2.991) in CONSENT;
- two codes of directory 1.2.643.5.1.13.13.99.2.991 (12481, how the citizen is informed): rule
  У3-40 requires a telecom when the code is ``1`` and an address when it is ``2``
  (:data:`CONSENT_CHANNEL_CODES`).

Not fixed by the package (it names the directories, requires a non-empty displayName, and no
more), so msedocs' reading, overridable by a JSON file named in ``MSEDOCS_NSI_CODES``
(:class:`NsiReading`; ``msedocs referrals nsi-codes`` prints the reading in force):

- ``consent_form`` (observation 12480, directory 1.2.643.5.1.13.13.99.2.970, the form of the
  examination the citizen agreed to): ``1`` without personal presence (order 692n point 4:
  depersonalised), ``2`` with personal presence. A code outside the reading is refused, and so is
  a document whose displayName for the code says the opposite («без личного присутствия»,
  «заочно» / «с личным присутствием», «очно»): a wrong reading would leave personal data open,
  or close it needlessly;
- ``purposes`` (directory 1.2.643.5.1.13.13.99.2.315): codes to
  :class:`msedocs.model.enums.ReferralPurpose` (:data:`PURPOSE_CODES`); an unknown code is refused;
- ``fields`` of directory 1.2.643.5.1.13.13.99.2.166: ``special_route`` ``7012`` (a BL read as
  «работник организации отдельной отрасли промышленности с особо опасными условиями труда или
  житель отдельной территории», order 692n point 9 paragraph 2: the other federal body's
  bureau), ``palliative`` ``4061`` (a BL: needs palliative care, the 3-working-day term of
  appendix 2 point 4), ``cannot_attend`` ``4060`` (a BL: cannot come to the bureau).

The file, every key optional::

    {"consent_form": {"1": "in_absentia", "2": "in_person"},
     "purposes": {"1": "examination", "2": "reexamination", "...": "..."},
     "fields": {"special_route": "7012", "palliative": "4061", "cannot_attend": "4060"}}

``msedocs fixtures generate --format semd`` writes msedocs' default reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from msedocs.errors import InputError

ROOT_TEMPLATE = "1.2.643.5.1.13.13.14.34.9.6"
DOC_KINDS = "1.2.643.5.1.13.13.11.1522"
FIELDS = "1.2.643.5.1.13.13.99.2.166"  # Кодируемые поля CDA документов
FIELD_SYSTEMS = (FIELDS, "1.2.643.5.1.13.2.1.1.1504.41", "1.2.643.5.1.13.13.11.1380")  # 121.sch accepts each
SECTIONS = "1.2.643.5.1.13.13.11.1379"
SNILS = "1.2.643.100.3"
ICD10 = "1.2.643.5.1.13.13.11.1005"
GENDER = "1.2.643.5.1.13.13.11.1040"
REGIONS = "1.2.643.5.1.13.13.99.2.206"
ID_DOC_KINDS = "1.2.643.5.1.13.13.99.2.48"
POLICY_KINDS = "1.2.643.5.1.13.13.11.1035"
POSITIONS = "1.2.643.5.1.13.13.11.1002"
ADDRESS_KINDS = "1.2.643.5.1.13.13.11.1504"
CONFIDENTIALITY = "1.2.643.5.1.13.13.99.2.285"
SERVICE_KINDS = "1.2.643.5.1.13.13.99.2.726"
PURPOSES = "1.2.643.5.1.13.13.99.2.315"
PURPOSE_SYSTEMS = (PURPOSES, "1.2.643.5.1.13.2.1.1.218")  # 121.sch У3-2 accepts either
PLACES = "1.2.643.5.1.13.13.99.2.314"
BUREAUS = "1.2.643.5.1.13.13.99.2.856"
FIRST_OR_REPEAT = "1.2.643.5.1.13.13.99.2.147"
CARE_CONDITIONS = "1.2.643.5.1.13.13.11.1007"
DIAGNOSIS_KINDS = "1.2.643.5.1.13.13.11.1077"
DIAGNOSIS_ACTS = "1.2.643.5.1.13.13.99.2.795"
VITAL_PARAMS = "1.2.643.5.1.13.13.99.2.262"
BODY_TYPES = "1.2.643.5.1.13.13.11.1492"
CONSENT_FORM = "1.2.643.5.1.13.13.99.2.970"
CONSENT_CHANNELS = "1.2.643.5.1.13.13.99.2.991"
GUARDIAN_KINDS = "1.2.643.5.1.13.13.99.2.313"

#: Observation codes (directory 1.2.643.5.1.13.13.99.2.166) and what msedocs reads from them.
VK_PROTOCOL = "4059"  # номер и дата протокола врачебной комиссии
CANNOT_ATTEND = "4060"  # default of NsiReading.fields["cannot_attend"] (BL)
PALLIATIVE = "4061"  # default of NsiReading.fields["palliative"] (BL)
SPECIAL_ROUTE = "7012"  # default of NsiReading.fields["special_route"] (BL)
ISSUED_ON = "4062"  # дата выдачи направления (TS)
ANAMNESIS_DISEASE = "4102"
ANAMNESIS_LIFE = "4103"
BODY_TYPE = "4108"
CONDITION = "4109"
REHAB_MEDICAL = "4111"
REHAB_RECONSTRUCTIVE = "4112"
REHAB_PROSTHETICS = "4113"
REHAB_SPA = "12132"
CONSENT_DATE = "12485"
CONSENT_FORM_FIELD = "12480"
CONSENT_CHANNEL = "12481"

#: Directory 1.2.643.5.1.13.13.99.2.991 as rule У3-40 of 121.sch fixes it.
CONSENT_CHANNEL_CODES = {"1": "electronic (a telecom is required)", "2": "by post (an address is required)"}

#: The purpose codes msedocs writes and, by default, reads (directory 1.2.643.5.1.13.13.99.2.315).
PURPOSE_CODES: dict[str, tuple[str, str]] = {
    "1": ("examination", "Установление инвалидности"),
    "2": ("reexamination", "Переосвидетельствование"),
    "3": ("change_cause", "Изменение причины инвалидности"),
    "4": ("rehab_programme", "Разработка (коррекция) индивидуальной программы реабилитации или абилитации"),
    "5": ("onset_time", "Определение времени наступления инвалидности"),
    "6": ("work_capacity_loss", "Определение степени утраты профессиональной трудоспособности в процентах"),
}

IN_ABSENTIA = "1"
IN_PERSON = "2"
ENV = "MSEDOCS_NSI_CODES"
FORMS = ("in_absentia", "in_person")
FIELD_NAMES = ("special_route", "palliative", "cannot_attend")


@dataclass(frozen=True)
class NsiReading:
    """What msedocs reads from codes the package leaves to НСИ (see the module's docstring)."""

    consent_form: dict[str, str] = field(default_factory=lambda: {IN_ABSENTIA: "in_absentia", IN_PERSON: "in_person"})
    purposes: dict[str, str] = field(default_factory=lambda: {k: v[0] for k, v in PURPOSE_CODES.items()})
    fields: dict[str, str] = field(default_factory=lambda: {"special_route": SPECIAL_ROUTE, "palliative": PALLIATIVE,
                                                            "cannot_attend": CANNOT_ATTEND})  # fmt: skip
    source: str = "msedocs' default reading"

    def form(self, code: str | None, display: str | None, where: str) -> bool:
        """True when the document asks for an examination without personal presence (point 4)."""
        meaning = self.consent_form.get(code or "")
        if meaning is None:
            raise InputError(f"{where}: the form of the examination (12480, directory {CONSENT_FORM}) has code "
                             f"{(code or '')[:20]!r}, which the reading in force ({self.source}) does not know; "
                             f"set it in {ENV}")  # fmt: skip
        said = display_form(display)
        if said is not None and said != meaning:
            raise InputError(f"{where}: the form of the examination has code {code!r} named «{(display or '')[:80]}» "
                             f"in the document, but the reading in force ({self.source}) takes that code as "
                             f"{meaning}: check {ENV} against НСИ {CONSENT_FORM}")  # fmt: skip
        return meaning == "in_absentia"

    def purpose(self, code: str, where: str) -> str:
        try:
            return self.purposes[code]
        except KeyError:
            raise InputError(f"{where}: purpose code {code[:20]!r} (directory {PURPOSES}) is not in the reading in "
                             f"force ({self.source}); set it in {ENV}") from None  # fmt: skip

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "consent_form": self.consent_form, "purposes": self.purposes,
                "fields": self.fields}  # fmt: skip


def display_form(display: str | None) -> str | None:
    """What a displayName says of the form of the examination, if it says it plainly."""
    text = " ".join((display or "").lower().replace("ё", "е").split())
    if not text:
        return None
    if "без личного" in text or "заочн" in text or "без присутств" in text:
        return "in_absentia"
    if "личн" in text or "очно" in text or "присутств" in text:
        return "in_person"
    return None


def load_reading(path: str | Path) -> NsiReading:
    """The reading in a JSON file (keys as in the module's docstring; each optional)."""
    from msedocs.model.enums import ReferralPurpose

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{ENV}={p}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise InputError(f"{ENV}={p}: not JSON ({exc})") from None
    if not isinstance(data, dict) or set(data) - {"consent_form", "purposes", "fields"}:
        raise InputError(f"{ENV}={p}: an object with consent_form, purposes and fields (each optional)")
    base = NsiReading()
    form = {str(k): str(v) for k, v in data.get("consent_form", base.consent_form).items()}
    if bad := {v for v in form.values()} - set(FORMS):
        raise InputError(f"{ENV}={p}: consent_form maps codes to in_absentia or in_person, not {sorted(bad)}")
    if "in_absentia" not in form.values():
        raise InputError(f"{ENV}={p}: consent_form names no code for in_absentia")
    purposes = {str(k): str(v) for k, v in data.get("purposes", base.purposes).items()}
    known = {m.value for m in ReferralPurpose}
    if bad := set(purposes.values()) - known:
        raise InputError(f"{ENV}={p}: purposes: {sorted(bad)} not among {sorted(known)}")
    fields = {**base.fields, **{str(k): str(v) for k, v in data.get("fields", {}).items()}}
    if bad := set(fields) - set(FIELD_NAMES):
        raise InputError(f"{ENV}={p}: fields: unknown {sorted(bad)} (known: {', '.join(FIELD_NAMES)})")
    if not all(v.isdigit() for v in fields.values()):
        raise InputError(f"{ENV}={p}: fields: codes of directory {FIELDS} are digits")
    return NsiReading(form, purposes, fields, f"{ENV}={p}")


@cache
def _reading(path: str | None) -> NsiReading:
    return load_reading(path) if path else NsiReading()


def reading() -> NsiReading:
    """The reading in force: ``MSEDOCS_NSI_CODES`` if set, else msedocs' default."""
    return _reading(os.environ.get(ENV) or None)
