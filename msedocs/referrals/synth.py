"""Synthetic СЭМД referrals (form 088/у, CDA edition 6) that pass the official XSD and schematron.

`msedocs fixtures generate --format semd --count N --out DIR` writes them. Every person,
number and address is invented: СНИЛС and ОМС numbers are computed to pass their checks
(``msedocs.model.identifiers``), passports, phones and FIAS GUIDs are random, streets are
named «Тестовая», «Учебная»…, organisations are «… № N» of no real place. Free text mentions
the citizen's own name (inflected: «со слов Соколовой Е. В.»), phone and address, as real
referrals do, so that depersonalisation has something to find. The same seed gives the same
documents.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from msedocs.model.identifiers import oms_check_digit, snils_check_number

from . import codes as C

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {
    None: HL7,
    "xsi": XSI,
    "identity": "urn:hl7-ru:identity",
    "address": "urn:hl7-ru:address",
    "medService": "urn:hl7-ru:medService",
    "fias": "urn:hl7-ru:fias",
    "PII": "urn:hl7-ru:PII",
}
MO_OID = "1.2.643.5.1.13.13.12.2.54.5401"  # the referring organisation's OID (of an invented one)
MIS = "100.1.1"

MALE = (["Соколов", "Воробьёв", "Ершов", "Фёдоров", "Королёв", "Медведев", "Лебедев", "Ковалёв"],
        ["Алексей", "Пётр", "Семён", "Артём", "Игорь", "Дмитрий", "Николай"],
        ["Алексеевич", "Петрович", "Семёнович", "Артёмович", "Игоревич", "Николаевич"])  # fmt: skip
FEMALE = (["Соколова", "Воробьёва", "Ершова", "Фёдорова", "Королёва", "Медведева", "Лебедева", "Ковалёва"],
          ["Алёна", "Дарья", "Ксения", "Софья", "Елена", "Ирина", "Наталья"],
          ["Алексеевна", "Петровна", "Семёновна", "Артёмовна", "Игоревна", "Николаевна"])  # fmt: skip
#: (code of the subject, its name, city, postcode prefix, phone area)
REGIONS = [
    ("54", "Новосибирская область", "г. Новосибирск", "630", "383"),
    ("55", "Омская область", "г. Омск", "644", "3812"),
    ("57", "Орловская область", "г. Орёл", "302", "4862"),
    ("66", "Свердловская область", "г. Екатеринбург", "620", "343"),
    ("77", "г. Москва", "г. Москва", "101", "495"),
    ("16", "Республика Татарстан", "г. Казань", "420", "843"),
]
STREETS = ["Тестовая", "Учебная", "Примерная", "Образцовая", "Модельная", "Пробная"]
#: (ICD-10, diagnosis, specialisation it calls for)
DIAGNOSES = [
    ("M05.8", "Ревматоидный артрит серопозитивный, поздняя стадия, активность I степени"),
    ("I69.3", "Последствия инфаркта мозга: правосторонний гемипарез умеренной степени"),
    ("G35", "Рассеянный склероз, вторично-прогрессирующее течение"),
    ("C50.4", "Злокачественное новообразование верхненаружного квадранта левой молочной железы, после лечения"),
    ("F20.0", "Параноидная шизофрения, непрерывный тип течения"),
    ("H40.1", "Первичная открытоугольная глаукома, далеко зашедшая стадия обоих глаз"),
    ("E10.7", "Сахарный диабет 1 типа с множественными осложнениями"),
    ("S78.1", "Травматическая ампутация бедра на уровне средней трети"),
    ("G80.1", "Детский церебральный паралич, спастическая диплегия"),
    ("J44.1", "Хроническая обструктивная болезнь легких с обострением, дыхательная недостаточность II степени"),
]


@dataclass
class Person:
    last: str
    first: str
    middle: str | None
    sex: str  # male / female


@dataclass
class Address:
    region: tuple[str, str, str, str, str]
    postcode: str
    line: str
    aoguid: str
    houseguid: str


@dataclass
class Guardian:
    person: Person
    snils: str
    address: Address
    phone: str
    passport: tuple[str, str, str, dt.date]
    authority: tuple[str, str, dt.date]  # the document giving the authority: number, issuer, date
    kind: str  # code of the kind of representative (1 parent, 2 guardian…)


@dataclass
class SyntheticReferral:
    """What the generator decided; :func:`to_cda` writes it as a СЭМД document."""

    doc_id: str
    number: str
    date: dt.date
    vk_date: dt.date
    patient: Person
    birth_date: dt.date
    snils: str
    oms: str
    passport: tuple[str, str, str, dt.date]  # series, number, issuer, issue date
    registration: Address
    actual: Address | None
    phone: str
    email: str | None
    guardian: Guardian | None
    organisation: str
    org_address: Address
    org_phone: str
    doctor: Person
    doctor_snils: str
    chairman: Person
    chairman_snils: str
    icd10: str
    diagnosis: str
    purpose: str
    first_time: bool
    in_absentia: bool
    special_route: bool
    palliative: bool
    anamnesis: str
    life: str
    condition: str
    rehab: list[str] = field(default_factory=list)


def snils(rng: random.Random) -> str:
    while True:
        digits = f"{rng.randrange(2_000_000, 999_999_999):09d}"
        if len(set(digits)) > 2:
            break
    check = snils_check_number(digits)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {check:02d}"


def oms(rng: random.Random, region: str, birth: dt.date) -> str:
    first15 = f"{region}{rng.randrange(10)}{birth:%d%m%Y}{rng.randrange(10_000):04d}"
    return first15 + str(oms_check_digit(first15))


def _person(rng: random.Random, sex: str | None = None) -> Person:
    sex = sex or rng.choice(["male", "female"])
    last, first, middle = MALE if sex == "male" else FEMALE
    return Person(rng.choice(last), rng.choice(first), rng.choice(middle), sex)


def _address(rng: random.Random, region=None) -> Address:
    region = region or rng.choice(REGIONS)
    postcode = region[3] + f"{rng.randrange(1000):03d}"
    house = f"ул. {rng.choice(STREETS)}, д. {rng.randrange(1, 120)}, кв. {rng.randrange(1, 300)}"
    line = f"{region[1]}, {region[2]}, {house}"
    if region[1] == region[2]:
        line = line.split(", ", 1)[1]
    return Address(region, postcode, line, str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                   str(uuid.UUID(int=rng.getrandbits(128), version=4)))  # fmt: skip


def _phone(rng: random.Random, area: str) -> str:
    rest = f"{rng.randrange(10 ** (10 - len(area))):0{10 - len(area)}d}"
    return f"+7 ({area}) {rest[:-4]}-{rest[-4:-2]}-{rest[-2:]}"


def _genitive(p: Person) -> str:
    """«Соколовой Е. В.», «Соколова А. П.»: the surname in the genitive with initials."""
    last = p.last
    if p.sex == "female":
        last = last[:-1] + "ой" if last.endswith("а") else last
    else:
        last = last + "а" if last[-1] not in "аяоеиыу" else last
    return f"{last} {p.first[0]}. {p.middle[0] + '.' if p.middle else ''}".strip()


def generate(rng: random.Random, today: dt.date | None = None) -> SyntheticReferral:
    today = today or dt.date(2026, 10, 1)
    child = rng.random() < 0.15
    age = rng.randrange(3, 17) if child else rng.randrange(19, 85)
    birth = today - dt.timedelta(days=age * 365 + rng.randrange(300))
    patient = _person(rng)
    reg = _address(rng)
    actual = _address(rng, reg.region) if rng.random() < 0.3 else None
    phone = _phone(rng, reg.region[4])
    guardian = None
    if child or rng.random() < 0.1:
        g = _person(rng)
        guardian = Guardian(g, snils(rng), reg, _phone(rng, reg.region[4]), _passport(rng, today), (
            f"{rng.randrange(100, 999)}-р", "Управление социальной защиты населения", today - dt.timedelta(days=400)),
            "1" if child else "2")  # fmt: skip
    icd, dx = rng.choice(DIAGNOSES)
    date = today - dt.timedelta(days=rng.randrange(1, 20))
    org_no = rng.randrange(1, 40)
    number = f"{rng.randrange(1, 99999):05d}"
    mention = rng.random()
    who = _genitive(patient)
    anamnesis = (f"Со слов {who}: болеет с {birth.year + max(age - 6, 1)} г., лечение амбулаторно и в стационаре, "
                 f"последняя госпитализация в {date.year} г.")  # fmt: skip
    if mention < 0.5:
        anamnesis += f" Для связи: {phone}."
    works = "Не работает." if child or age > 65 else "Работает по специальности."
    life = f"Проживает по адресу: {reg.line}. {works}"
    return SyntheticReferral(
        doc_id=f"{rng.randrange(10**9, 10**10)}",
        number=number,
        date=date,
        vk_date=date - dt.timedelta(days=1),
        patient=patient,
        birth_date=birth,
        snils=snils(rng),
        oms=oms(rng, reg.region[0], birth),
        passport=_passport(rng, today),
        registration=reg,
        actual=actual,
        phone=phone,
        email=(f"user{rng.randrange(10**6)}@example.org" if rng.random() < 0.6 else None),
        guardian=guardian,
        organisation=f"ГБУЗ «Городская поликлиника № {org_no}»",
        org_address=_address(rng, reg.region),
        org_phone=_phone(rng, reg.region[4]),
        doctor=_person(rng),
        doctor_snils=snils(rng),
        chairman=_person(rng),
        chairman_snils=snils(rng),
        icd10=icd,
        diagnosis=dx,
        purpose=rng.choice(["1", "1", "1", "2", "4"]),
        first_time=rng.random() < 0.6,
        in_absentia=rng.random() < 0.85,
        special_route=rng.random() < 0.05,
        palliative=rng.random() < 0.05,
        anamnesis=anamnesis,
        life=life,
        condition=f"Состояние средней тяжести. {dx}. Жалобы {who.split()[0]} на слабость, ограничение движений.",
        rehab=["Медикаментозная терапия по основному заболеванию", "Не нуждается", "Не нуждается",
               "Санаторно-курортное лечение не показано"],
    )  # fmt: skip


def _passport(rng: random.Random, today: dt.date) -> tuple[str, str, str, dt.date]:
    return (f"{rng.randrange(1, 99):02d} {rng.randrange(0, 25):02d}", f"{rng.randrange(10**6):06d}",
            "ГУ МВД России по субъекту", today - dt.timedelta(days=rng.randrange(400, 6000)))  # fmt: skip


# -- CDA ----------------------------------------------------------------------------------------


def _q(tag: str) -> str:
    if ":" in tag:
        prefix, local = tag.split(":", 1)
        return f"{{{NS[prefix]}}}{local}"
    return f"{{{HL7}}}{tag}"


def el(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.Element(_q(tag), nsmap=NS) if parent is None else etree.SubElement(parent, _q(tag))
    for k, v in attrs.items():
        if k == "xsi_type":
            node.set(f"{{{XSI}}}type", v)
        else:
            node.set(k.rstrip("_"), v)
    if text is not None:
        node.text = text
    return node


def code(parent, tag: str, value: str, system: str, name: str, display: str, version: str = "1.1", **kw):
    return el(parent, tag, code=value, codeSystem=system, codeSystemName=name, codeSystemVersion=version,
              displayName=display, **kw)  # fmt: skip


def field_code(parent, value: str, display: str):
    return code(parent, "code", value, C.FIELDS, "Кодируемые поля CDA документов", display)


def ts(d: dt.date, time: bool = False) -> str:
    return d.strftime("%Y%m%d") + ("1000+0300" if time else "")


def _addr(parent, a: Address, kind: str | None = "1", tag: str = "addr"):
    node = el(parent, tag)
    if kind is not None:
        code(node, "address:Type", kind, C.ADDRESS_KINDS, "Тип адреса пациента",
             {"1": "Адрес регистрации", "2": "Адрес фактического проживания (пребывания)", "3": "Адрес"}[kind],
             xsi_type="CD")  # fmt: skip
    el(node, "streetAddressLine", a.line)
    code(node, "address:stateCode", a.region[0], C.REGIONS, "Субъекты Российской Федерации", a.region[1],
         xsi_type="CD")  # fmt: skip
    el(node, "postalCode", a.postcode)
    fias = el(node, "fias:Address")
    el(fias, "fias:AOGUID", a.aoguid)
    el(fias, "fias:HOUSEGUID", a.houseguid)
    return node


def _name(parent, p: Person, tag: str = "name"):
    node = el(parent, tag)
    el(node, "family", p.last)
    el(node, "given", p.first)
    if p.middle:
        el(node, "identity:Patronymic", p.middle, xsi_type="ST")
    return node


def _identity_doc(parent, passport, tag: str = "identity:IdentityDoc"):
    node = el(parent, tag)
    code(node, "identity:IdentityCardType", "1", C.ID_DOC_KINDS, "Документы, удостоверяющие личность",
         "Паспорт гражданина Российской Федерации", xsi_type="CD")  # fmt: skip
    el(node, "identity:Series", passport[0].replace(" ", ""), xsi_type="ST")
    el(node, "identity:Number", passport[1], xsi_type="ST")
    el(node, "identity:IssueOrgName", passport[2], xsi_type="ST")
    el(node, "identity:IssueOrgCode", "540-001", xsi_type="ST")
    el(node, "identity:IssueDate", value=ts(passport[3]), xsi_type="TS")
    return node


def _organisation(parent, r: SyntheticReferral, tag: str, *, props: bool = False, telecom: bool = True):
    org = el(parent, tag)
    if tag != "representedCustodianOrganization" and tag != "representedOrganization":
        pass
    el(org, "id", root=MO_OID)
    if props:
        p = el(org, "identity:Props")
        el(p, "identity:Ogrn", "1025401234567", xsi_type="ST")
    el(org, "name", r.organisation)
    if telecom:
        el(org, "telecom", value=f"tel:{_digits(r.org_phone)}")
    _addr(org, r.org_address, kind=None)
    return org


def _digits(phone: str) -> str:
    return "+" + "".join(ch for ch in phone if ch.isdigit())


def _assigned(parent, p: Person, snils_: str, tag: str, position: tuple[str, str], r: SyntheticReferral):
    node = el(parent, tag)
    el(node, "id", root=f"{MO_OID}.{MIS}.70", extension=f"{abs(hash(p.last)) % 10000 + 1}")
    el(node, "id", root=C.SNILS, extension=snils_)
    code(node, "code", position[0], C.POSITIONS, "Должности медицинских и фармацевтических работников", position[1])
    person = el(node, "assignedPerson")
    _name(person, p)
    org = el(node, "representedOrganization", classCode="ORG")
    el(org, "id", root=MO_OID)
    el(org, "name", r.organisation)
    _addr(org, r.org_address, kind=None)
    return node


def _section(body, sec_code: str, title: str, text: str):
    comp = el(body, "component")
    sec = el(comp, "section")
    code(sec, "code", sec_code, C.SECTIONS, "Секции CDA документов", title)
    el(sec, "title", title)
    t = el(sec, "text")
    para = el(t, "paragraph")
    para.text = text
    return sec


def _obs(parent, field: str, label: str, value_type: str, value: str | None = None, *, entry: bool = True, **vattrs):
    holder = el(parent, "entry") if entry else parent
    obs = el(holder, "observation", classCode="OBS", moodCode="EVN")
    field_code(obs, field, label)
    if value_type == "ST":
        el(obs, "value", value, xsi_type="ST")
    elif value_type in ("BL", "TS"):
        el(obs, "value", value=value or "", xsi_type=value_type)
    elif value_type == "CD":
        code(obs, "value", value or "", vattrs.pop("system"), vattrs.pop("system_name"), vattrs.pop("display"),
             xsi_type="CD")  # fmt: skip
    return obs


def to_cda(r: SyntheticReferral) -> bytes:
    """The referral as a СЭМД document (UTF-8 bytes)."""
    doc = el(None, "ClinicalDocument")
    el(doc, "realmCode", code="RU")
    el(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_MT000040")
    el(doc, "templateId", root=C.ROOT_TEMPLATE)
    el(doc, "id", root=f"{MO_OID}.{MIS}.51", extension=r.doc_id)
    code(doc, "code", "34", C.DOC_KINDS, "Система электронных медицинских документов",
         "Направление на медико-социальную экспертизу")  # fmt: skip
    el(doc, "title", "Направление на медико-социальную экспертизу")
    el(doc, "effectiveTime", value=ts(r.date, True))
    code(doc, "confidentialityCode", "N", C.CONFIDENTIALITY, "Уровень конфиденциальности медицинского документа",
         "Обычный")  # fmt: skip
    el(doc, "languageCode", code="ru-RU")
    el(doc, "setId", root=f"{MO_OID}.{MIS}.50", extension=r.doc_id)
    el(doc, "versionNumber", value="1")

    role = el(el(doc, "recordTarget"), "patientRole")
    el(role, "id", root=f"{MO_OID}.{MIS}.10", extension=f"P{r.doc_id}")
    el(role, "id", root=C.SNILS, extension=r.snils)
    _identity_doc(role, r.passport)
    pol = el(role, "identity:InsurancePolicy")
    code(pol, "identity:InsurancePolicyType", "3", C.POLICY_KINDS, "Виды полиса ОМС",
         "Полис ОМС единого образца", xsi_type="CD")  # fmt: skip
    el(pol, "identity:Number", r.oms, xsi_type="ST")
    _addr(role, r.registration, "1")
    if r.actual is not None:
        _addr(role, r.actual, "2")
    el(role, "telecom", value=f"tel:{_digits(r.phone)}")
    if r.email:
        el(role, "telecom", value=f"mailto:{r.email}")
    patient = el(role, "patient")
    _name(patient, r.patient)
    code(patient, "administrativeGenderCode", "1" if r.patient.sex == "male" else "2", C.GENDER, "Пол пациента",
         "Мужской" if r.patient.sex == "male" else "Женский")  # fmt: skip
    el(patient, "birthTime", value=ts(r.birth_date))
    if r.guardian is not None:
        g = r.guardian
        gnode = el(patient, "guardian", classCode="GUARD")
        el(gnode, "id", root=C.SNILS, extension=g.snils)
        _identity_doc(gnode, g.passport)
        auth = el(gnode, "identity:AuthorityDoc")
        code(auth, "identity:IdentityCardType", g.kind, C.GUARDIAN_KINDS, "Документы, подтверждающие полномочия",
             "Документ, подтверждающий полномочия законного представителя", xsi_type="CD")  # fmt: skip
        el(auth, "identity:Series", nullFlavor="NA", xsi_type="ST")
        el(auth, "identity:Number", g.authority[0], xsi_type="ST")
        el(auth, "identity:IssueOrgName", g.authority[1], xsi_type="ST")
        el(auth, "identity:IssueDate", value=ts(g.authority[2]), xsi_type="TS")
        _addr(gnode, g.address, "1")
        el(gnode, "telecom", value=f"tel:{_digits(g.phone)}")
        _name(el(gnode, "guardianPerson"), g.person)
    _organisation(role, r, "providerOrganization", props=True)

    author = el(doc, "author")
    el(author, "time", nullFlavor="NI")
    _assigned(author, r.doctor, r.doctor_snils, "assignedAuthor", ("109", "врач-терапевт участковый"), r)
    cust = el(el(doc, "custodian"), "assignedCustodian")
    _organisation(cust, r, "representedCustodianOrganization", telecom=False)
    recipient = el(el(el(doc, "informationRecipient"), "intendedRecipient"), "receivedOrganization")
    el(recipient, "id", root="1.2.643.5.1.13")
    el(recipient, "name", "Министерство здравоохранения Российской Федерации")
    legal = el(doc, "legalAuthenticator")
    el(legal, "time", nullFlavor="NI")
    el(legal, "signatureCode", nullFlavor="NI")
    _assigned(legal, r.chairman, r.chairman_snils, "assignedEntity", ("72", "председатель врачебной комиссии"), r)

    event = el(el(doc, "documentationOf"), "serviceEvent")
    code(event, "code", "1", C.SERVICE_KINDS, "Виды медицинских услуг", "Направление на медико-социальную экспертизу")
    period = el(event, "effectiveTime")
    el(period, "low", value=ts(r.vk_date, True))
    el(period, "high", value=ts(r.date, True))
    performer = el(event, "performer", typeCode="PPRF")
    _assigned(performer, r.doctor, r.doctor_snils, "assignedEntity", ("109", "врач-терапевт участковый"), r)

    body = el(el(doc, "component"), "structuredBody")
    _scoporg(body, r)
    _section(body, "WORK", "Сведения о трудовой деятельности", "Сведения о трудовой деятельности отсутствуют.")
    _section(body, "EDU", "Сведения о получении образования", "Сведения об образовании отсутствуют.")
    soc = _section(body, "SOCANAM", "Анамнез", f"{r.anamnesis} {r.life}")
    _obs(soc, C.ANAMNESIS_DISEASE, "Анамнез заболевания", "ST", r.anamnesis)
    _obs(soc, C.ANAMNESIS_LIFE, "Анамнез жизни", "ST", r.life)
    _vital(body, r)
    state = _section(body, "STATECUR", "Объективизированная оценка состояния больного", r.condition)
    _obs(state, C.CONDITION, "Состояние здоровья", "ST", r.condition)
    _dgn(body, r)
    _section(body, "SCORES", "Оценки состояния", "Оценка ограничений жизнедеятельности по данным направления.")
    _regime(body, r)
    _consent(body, r)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _scoporg(body, r: SyntheticReferral) -> None:
    purpose = C.PURPOSE_CODES[r.purpose][1]
    sec = _section(body, "SCOPORG", "Направление на медико-социальную экспертизу",
                   f"Протокол ВК № {r.number} от {r.vk_date:%d.%m.%Y}. Цель: {purpose}.")  # fmt: skip
    act = el(el(sec, "entry"), "act", classCode="ACT", moodCode="RQO")
    code(act, "code", "34", C.DOC_KINDS, "Система электронных медицинских документов",
         "Направление на медико-социальную экспертизу")  # fmt: skip
    el(act, "statusCode", code="active")
    ent = el(el(act, "performer"), "assignedEntity")
    el(ent, "id", nullFlavor="NI")
    _organisation(ent, r, "representedOrganization")

    def rel(field: str, display: str, vtype: str, value: str | None = None, **kw):
        er = el(act, "entryRelationship", typeCode="SUBJ", inversionInd="true")
        return _obs(er, field, display, vtype, value, entry=False, **kw)

    er = el(act, "entryRelationship", typeCode="SUBJ", inversionInd="true")
    obs = el(er, "observation", classCode="OBS", moodCode="EVN")
    first = ("1", "Первично") if r.first_time else ("2", "Повторно")
    code(obs, "code", first[0], C.FIRST_OR_REPEAT, "Порядок направления на МСЭ", first[1])
    er = el(act, "entryRelationship", typeCode="SUBJ", inversionInd="true")
    obs = el(er, "observation", classCode="OBS", moodCode="EVN")
    code(obs, "code", "1", C.CARE_CONDITIONS, "Условия оказания медицинской помощи", "Амбулаторно")
    vk = el(act, "entryRelationship", typeCode="SUBJ", inversionInd="true")
    o = el(vk, "observation", classCode="OBS", moodCode="EVN")
    field_code(o, C.VK_PROTOCOL, "Протокол врачебной комиссии")
    el(o, "effectiveTime", value=ts(r.vk_date))
    el(o, "value", r.number, xsi_type="ST")
    rel(C.CANNOT_ATTEND, "Гражданин по состоянию здоровья не может явиться в бюро", "BL", "false")
    rel(C.PALLIATIVE, "Нуждается в оказании паллиативной медицинской помощи", "BL", str(r.palliative).lower())
    rel(C.SPECIAL_ROUTE, "Направление в главное бюро иного федерального органа исполнительной власти", "BL",
        str(r.special_route).lower())  # fmt: skip
    rel(C.ISSUED_ON, "Дата выдачи направления", "TS", ts(r.date))
    obs = el(el(sec, "entry"), "observation", classCode="OBS", moodCode="EVN")
    code(obs, "code", r.purpose, C.PURPOSES, "Цели направления на медико-социальную экспертизу", purpose)
    loc = el(el(sec, "entry"), "act", classCode="ACT", moodCode="EVN")
    code(loc, "code", "1", C.BUREAUS, "Бюро медико-социальной экспертизы", "Бюро по месту жительства")
    part = el(loc, "participant", typeCode="LOC")
    prole = el(part, "participantRole")
    el(prole, "id", root="1.2.643.5.1.13.13.99.2.856", extension="1")
    props = el(prole, "identity:Props")
    el(props, "identity:Ogrn", "1045504012345", xsi_type="ST")
    _addr(prole, r.org_address, kind=None)
    obs = el(el(sec, "entry"), "observation", classCode="OBS", moodCode="EVN")
    code(obs, "code", "1", C.PLACES, "Место проведения медико-социальной экспертизы", "В бюро")


def _vital(body, r: SyntheticReferral) -> None:
    sec = _section(body, "VITALPARAM", "Витальные параметры", "Рост 170 см, вес 72 кг, ИМТ 24,9.")
    for no, (param, name, val, unit) in enumerate(
        [("50", "Рост", "170", "cm"), ("51", "Масса тела", "72", "kg"), ("45", "Индекс массы тела", "24.9", "kg/m2")]
    ):
        org = el(el(sec, "entry"), "organizer", classCode="CLUSTER", moodCode="EVN")
        el(org, "statusCode", code="completed")
        el(org, "effectiveTime", value=ts(r.vk_date, True))
        obs = el(el(org, "component", typeCode="COMP"), "observation", classCode="OBS", moodCode="EVN")
        code(obs, "code", param, C.VITAL_PARAMS, "Витальные параметры", name)
        el(obs, "value", value=val, unit=unit, xsi_type="PQ")
        del no
    _obs(sec, C.BODY_TYPE, "Телосложение", "CD", "1", system=C.BODY_TYPES, system_name="Типы телосложения",
         display="Нормостеническое")  # fmt: skip


def _dgn(body, r: SyntheticReferral) -> None:
    sec = _section(body, "DGN", "Диагнозы", f"{r.icd10} {r.diagnosis}")
    act = el(el(sec, "entry"), "act", classCode="ACT", moodCode="EVN")
    code(act, "code", "1", C.DIAGNOSIS_ACTS, "Виды диагнозов", "Клинический диагноз")
    er = el(act, "entryRelationship", typeCode="COMP")
    obs = el(er, "observation", classCode="OBS", moodCode="EVN")
    code(obs, "code", "1", C.DIAGNOSIS_KINDS, "Виды нозологических единиц диагноза", "Основное заболевание")
    el(obs, "text", r.diagnosis)
    el(obs, "statusCode", code="completed")
    code(obs, "value", r.icd10, C.ICD10, "МКБ-10", r.diagnosis, xsi_type="CD")


def _regime(body, r: SyntheticReferral) -> None:
    comp = el(body, "component")
    sec = el(comp, "section")
    code(sec, "code", "REGIME", C.SECTIONS, "Секции CDA документов", "Рекомендации")
    el(sec, "title", "Рекомендации")
    treat = el(el(sec, "component"), "section")
    code(treat, "code", "RECTREAT", C.SECTIONS, "Секции CDA документов", "Рекомендованное лечение")
    el(treat, "title", "Рекомендованное лечение")
    el(el(treat, "text"), "paragraph").text = "; ".join(r.rehab)
    for no, display, value in zip(
        (C.REHAB_MEDICAL, C.REHAB_RECONSTRUCTIVE, C.REHAB_PROSTHETICS, C.REHAB_SPA),
        ("Рекомендуемые мероприятия по медицинской реабилитации",
         "Рекомендуемые мероприятия по реконструктивной хирургии",
         "Рекомендуемые мероприятия по протезированию и ортезированию", "Санаторно-курортное лечение"),
        r.rehab, strict=True,
    ):  # fmt: skip
        _obs(treat, no, display, "ST", value)
    other = el(el(sec, "component"), "section")
    code(other, "code", "RECOTHER", C.SECTIONS, "Секции CDA документов", "Прочие рекомендации")
    el(other, "title", "Прочие рекомендации")
    el(el(other, "text"), "paragraph").text = "Рекомендаций нет."


def _consent(body, r: SyntheticReferral) -> None:
    form = ("1", "Без личного присутствия") if r.in_absentia else ("2", "С личным присутствием")
    sec = _section(body, "CONSENT", "Согласие на проведение медико-социальной экспертизы",
                   f"Согласие гражданина получено {r.vk_date:%d.%m.%Y}: {form[1].lower()}.")  # fmt: skip
    _obs(sec, C.CONSENT_DATE, "Дата согласия", "TS", ts(r.vk_date))
    _obs(sec, C.CONSENT_FORM_FIELD, "Форма проведения медико-социальной экспертизы", "CD", form[0],
         system=C.CONSENT_FORM, system_name="Формы проведения МСЭ", display=form[1])  # fmt: skip
    _obs(sec, C.CONSENT_CHANNEL, "Способ информирования", "CD", "1", system=C.CONSENT_CHANNELS,
         system_name="Способы информирования", display="Единый портал государственных услуг")  # fmt: skip


def write(count: int, seed: int, out: Path) -> list[Path]:
    """``count`` documents ``referral-0001.xml`` … into the folder ``out``."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(1, count + 1):
        path = out / f"referral-{i:04d}.xml"
        path.write_bytes(to_cda(generate(rng)))
        paths.append(path)
    return paths
