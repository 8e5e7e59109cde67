"""Codes the СЭМД «Направление на МСЭ» (edition 6) carries, shared by the generator and the mapping.

The code systems (OIDs) are the ones the official schematron ``121.sch`` requires. The codes
*within* a few НСИ directories are not in the schematron and no copy of those directories is
available here, so msedocs fixes its own reading of them, named below; check them against the
НСИ portal (nsi.rosminzdrav.ru) before production use:

- ``CONSENT_FORM`` (observation 12480, directory 1.2.643.5.1.13.13.99.2.970): the form of the
  examination the citizen agreed to; msedocs reads code ``1`` as *without personal presence*
  (заочно, order 692n point 4) and ``2`` as *with personal presence*.
- ``PURPOSES`` (directory 1.2.643.5.1.13.13.99.2.315, the purpose of the referral): msedocs maps
  its codes to :class:`msedocs.model.enums.ReferralPurpose` as listed in :data:`PURPOSE_CODES`.
- ``SPECIAL_ROUTE`` (observation 7012, a BL): msedocs reads it as «работник организации
  отдельной отрасли промышленности с особо опасными условиями труда или житель отдельной
  территории» (order 692n point 9 paragraph 2).
"""

from __future__ import annotations

ROOT_TEMPLATE = "1.2.643.5.1.13.13.14.34.9.6"
DOC_KINDS = "1.2.643.5.1.13.13.11.1522"
FIELDS = "1.2.643.5.1.13.13.99.2.166"  # Кодируемые поля CDA документов
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
CANNOT_ATTEND = "4060"  # не может явиться в бюро по состоянию здоровья (BL)
PALLIATIVE = "4061"  # нуждается в паллиативной медицинской помощи (BL)
SPECIAL_ROUTE = "7012"  # see the module docstring (BL)
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

#: The purpose codes msedocs writes and reads (directory 1.2.643.5.1.13.13.99.2.315).
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
