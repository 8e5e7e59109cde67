"""The СЭМД «Направление на МСЭ» mapped to the case model's parts (:class:`IncomingReferral`).

What is read (paths without the default namespace, as in the schematron):

========================================================  =========================================
recordTarget/patientRole/patient/name                      patient.name (family, given, Patronymic)
…/patient/administrativeGenderCode (1 male, 2 female)      patient.sex
…/patient/birthTime                                        patient.birth_date
patientRole/id[@root='1.2.643.100.3']                      patient.insurance.snils
patientRole/identity:InsurancePolicy/identity:Number       patient.insurance.oms_policy (16 digits)
patientRole/identity:IdentityDoc                           patient.identity_document
patientRole/addr (address:Type 1 / 2)                      patient.addresses.registration / actual
patientRole/telecom (tel: / mailto:)                       patient.contacts
patient/guardian                                           representative (name, addresses, phones,
                                                           passport, AuthorityDoc → basis)
patientRole/providerOrganization                           referring_organisation
legalAuthenticator (chairman of the VK)                    referral.vkk.chairman
SCOPORG: 4059 number and date of the VK protocol           referral.number, referral.vkk_decision_date
SCOPORG: 4062 date the referral was issued                 referral.date
SCOPORG: 1.2.643.5.1.13.13.99.2.147 (1 first, 2 repeated)  referral.kinds
SCOPORG: purpose (99.2.315 or 2.1.1.218)                  referral.purposes (codes.reading().purposes)
SCOPORG: 7012, 4061 (codes.reading().fields)               special_route, palliative
SOCANAM: 4102, 4103                                        referral.anamnesis
STATECUR: 4109                                             referral.condition
DGN: value (ICD-10) and text                               referral.diagnosis
RECTREAT: 4111-4113, 12132                                 referral.rehab_results
VITALPARAM (text)                                          referral.diagnostics
CONSENT: 12480 (codes.reading().consent_form)              in_absentia
========================================================  =========================================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree
from pydantic import ValidationError

from msedocs.errors import InputError, Problem

from . import codes as C
from .model import IncomingReferral

HL7 = "urn:hl7-org:v3"
NS = {"h": HL7, "identity": "urn:hl7-ru:identity", "address": "urn:hl7-ru:address", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}


def _text(node: Any, path: str) -> str | None:
    found = node.find(path, NS) if node is not None else None
    if found is None:
        return None
    text = " ".join("".join(found.itertext()).split())
    return text or None


def _attr(node: Any, path: str, attr: str) -> str | None:
    found = node.find(path, NS) if node is not None else None
    return found.get(attr) if found is not None else None


def _date(value: str | None) -> dt.date | None:
    if not value or len(value) < 8:
        return None
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _name(node: Any) -> dict[str, str] | None:
    if node is None:
        return None
    out = {"last": _text(node, "h:family"), "first": _text(node, "h:given")}
    if middle := _text(node, "identity:Patronymic"):
        out["middle"] = middle
    return out  # type: ignore[return-value]


def _address(node: Any) -> dict[str, str]:
    out = {"line": _text(node, "h:streetAddressLine") or ""}
    if (postcode := _text(node, "h:postalCode")) and postcode.isdigit() and len(postcode) == 6:
        out["postcode"] = postcode
    return out


def _addresses(role: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for addr in role.findall("h:addr", NS):
        kind = _attr(addr, "address:Type", "code") or "1"
        found.setdefault("actual" if kind == "2" else "registration", _address(addr))
    if "registration" not in found and "actual" in found:
        found["registration"] = found.pop("actual")
    return found


def _contacts(node: Any) -> dict[str, Any]:
    phones, email = [], None
    for tel in node.findall("h:telecom", NS):
        value = tel.get("value") or ""
        if value.startswith("tel:"):
            phones.append(value[4:])
        elif value.startswith("mailto:") and email is None:
            email = value[7:]
    out: dict[str, Any] = {"phones": phones[:5]}
    if email:
        out["email"] = email
    return out


def _identity_doc(node: Any, path: str = "identity:IdentityDoc") -> dict[str, Any] | None:
    doc = node.find(path, NS)
    if doc is None:
        return None
    series = _text(doc, "identity:Series")
    kind = _attr(doc, "identity:IdentityCardType", "displayName") or "документ, удостоверяющий личность"
    out: dict[str, Any] = {
        "kind": kind[0].lower() + kind[1:] if kind.startswith("Паспорт") else kind,
        "number": _text(doc, "identity:Number") or "",
        "issuer": _text(doc, "identity:IssueOrgName") or "не указан",
    }
    if series:
        out["series"] = f"{series[:2]} {series[2:]}" if len(series) == 4 and series.isdigit() else series
    if issued := _date(_attr(doc, "identity:IssueDate", "value")):
        out["issue_date"] = issued.isoformat()
    return out


def _obs_value(root: Any, section: str, field: str) -> Any:
    path = (f".//h:section[h:code/@code='{section}']//h:observation[h:code/@code='{field}']")
    found = root.xpath(path, namespaces=NS)
    return found[0].find("h:value", NS) if found else None


def _obs_text(root: Any, section: str, field: str) -> str | None:
    value = _obs_value(root, section, field)
    if value is None:
        return None
    return " ".join("".join(value.itertext()).split()) or None


def _obs_flag(root: Any, section: str, field: str) -> bool:
    value = _obs_value(root, section, field)
    return value is not None and value.get("value") == "true"


def to_referral(tree: etree._ElementTree, name: str = "document") -> IncomingReferral:
    """Map a СЭМД document that passed validation; raises :class:`InputError` (with the JSON
    paths of the case model) if what it holds does not make a valid referral."""
    root = tree.getroot()
    role: Any = root.find("h:recordTarget/h:patientRole", NS)
    patient: Any = role.find("h:patient", NS)
    sex = {"1": "male", "2": "female"}.get(_attr(patient, "h:administrativeGenderCode", "code") or "", "male")
    insurance: dict[str, str] = {}
    if snils := _attr(role, f"h:id[@root='{C.SNILS}']", "extension"):
        digits = "".join(ch for ch in snils if ch.isdigit())
        insurance["snils"] = f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}" if len(digits) == 11 else snils
    policy = _text(role, "identity:InsurancePolicy/identity:Number")
    if policy and len(policy) == 16 and policy.isdigit():
        insurance["oms_policy"] = policy
    data_patient: dict[str, Any] = {
        "name": _name(patient.find("h:name", NS)),
        "birth_date": (_date(_attr(patient, "h:birthTime", "value")) or dt.date(1900, 1, 1)).isoformat(),
        "sex": sex,
        "addresses": _addresses(role),
        "contacts": _contacts(role),
        "insurance": insurance,
    }
    if doc := _identity_doc(role):
        data_patient["identity_document"] = doc
    representative = None
    guardian = patient.find("h:guardian", NS)
    if guardian is not None:
        representative = {
            "name": _name(guardian.find("h:guardianPerson/h:name", NS)),
            "addresses": _addresses(guardian) or data_patient["addresses"],
            "contacts": _contacts(guardian),
            "basis": _attr(guardian, "identity:AuthorityDoc/identity:IdentityCardType", "displayName"),
        }
        if gdoc := _identity_doc(guardian):
            representative["identity_document"] = gdoc
    org = role.find("h:providerOrganization", NS)
    org_addr = org.find("h:addr", NS) if org is not None else None
    chairman = _name(root.find("h:legalAuthenticator/h:assignedEntity/h:assignedPerson/h:name", NS))
    vk = root.xpath(f".//h:observation[h:code/@code='{C.VK_PROTOCOL}']", namespaces=NS)
    vk_number = _text(vk[0], "h:value") if vk else None
    vk_date = _date(_attr(vk[0], "h:effectiveTime", "value")) if vk else None
    issued = _obs_value(root, "SCOPORG", C.ISSUED_ON)
    issued_on = _date(issued.get("value")) if issued is not None else None
    doc_date = _date(_attr(root, "h:effectiveTime", "value"))
    nsi = C.reading()
    first = root.xpath(f".//h:observation/h:code[@codeSystem='{C.FIRST_OR_REPEAT}']/@code", namespaces=NS)
    purposes = [c for system in C.PURPOSE_SYSTEMS
                for c in root.xpath(f".//h:observation/h:code[@codeSystem='{system}']/@code",
                                    namespaces=NS)]  # fmt: skip
    mapped = [nsi.purpose(p, name) for p in purposes] or ["examination"]
    dgn = root.xpath(".//h:section[h:code/@code='DGN']//h:observation[h:value]", namespaces=NS)
    icd = [v.get("code") for o in dgn for v in o.findall("h:value", NS) if v.get("code")]
    main = (_text(dgn[0], "h:text") or _attr(dgn[0], "h:value", "displayName")) if dgn else None
    anamnesis = " ".join(t for t in (_obs_text(root, "SOCANAM", C.ANAMNESIS_DISEASE),
                                     _obs_text(root, "SOCANAM", C.ANAMNESIS_LIFE)) if t)  # fmt: skip
    rehab = "; ".join(t for f in (C.REHAB_MEDICAL, C.REHAB_RECONSTRUCTIVE, C.REHAB_PROSTHETICS, C.REHAB_SPA)
                      if (t := _obs_text(root, "RECTREAT", f)))  # fmt: skip
    vital = root.xpath(".//h:section[h:code/@code='VITALPARAM']/h:text", namespaces=NS)
    form = _obs_value(root, "CONSENT", C.CONSENT_FORM_FIELD)
    data = {
        "external_id": (_attr(root, "h:id", "extension") or "")[:200],
        "source": "semd",
        "in_absentia": form is not None and nsi.form(form.get("code"), form.get("displayName"), name),
        "special_route": _obs_flag(root, "SCOPORG", nsi.fields["special_route"]),
        "palliative": _obs_flag(root, "SCOPORG", nsi.fields["palliative"]),
        "patient": data_patient,
        "representative": representative,
        "referring_organisation": {
            "name": _text(org, "h:name") or "",
            "address": _address(org_addr) if org_addr is not None else {"line": "не указан"},
        },
        "referral": {
            "number": vk_number,
            "vkk_decision_date": (vk_date or issued_on or doc_date or dt.date.today()).isoformat(),
            "date": (issued_on or doc_date or dt.date.today()).isoformat(),
            "place": "mrek",
            "kinds": ["first" if (first and first[0] == "1") else "repeated"],
            "information_sources": ["documents"],
            "information_documents": "направление на МСЭ (форма № 088/у), СЭМД",
            "anamnesis": anamnesis or "не указан",
            "rehab_results": rehab or None,
            "condition": _obs_text(root, "STATECUR", C.CONDITION) or "не указано",
            "diagnostics": (" ".join("".join(vital[0].itertext()).split()) if vital else "") or "не указано",
            "diagnosis": {"icd10": icd[:10] or ["R69"], "main": main or "не указан"},
            "purposes": list(dict.fromkeys(mapped)),
            "vkk": {"chairman": chairman or {"last": "не указан", "first": "не указан"}},
        },
    }
    try:
        return IncomingReferral.model_validate(_drop_none(data))
    except ValidationError as exc:
        problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise InputError(f"{name}: the referral does not map to the case model", problems) from None


def _drop_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_none(v) for v in node]
    return node
