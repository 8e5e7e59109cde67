"""Выписка из акта медико-социальной экспертизы гражданина: order 692n, appendix 2 points 5-7.

Issued to a citizen NOT recognised as disabled after an MSE without access to personal data
(a Russian case). Two variants, chosen by the renderers' ``paper`` flag:

- electronic (``paper=False``): to the citizen's account on the state portal, signed with the
  qualified electronic signature of the head of the bureau or an official authorised by him;
- paper (``paper=True``): certified with the bureau's seal (М.П.) and sent by registered mail.

``render`` picks the variant of the case's ``delivery.channel`` by default (``paper_for``;
``--variant paper|electronic`` overrides, and a signed document is always electronic).

The bureau is ``case.commission`` (its chairman is the head of the bureau); the extract's
number and date are ``case.extract``; the date of the MSE is the date of the decision.

The form itself is approved by order 160n of 28 March 2025 (692n, appendix 2, footnote 9); its
text is not among the sources, so the items follow what 692n and the issue require.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.case import Case, Commission, Examination
from ..model.enums import Jurisdiction, ReferralPurpose, Sex
from ..model.ru import Extract
from .spec import FormSpec, ItemDef, Signer, Source, address_limit, name_limit, text_limit

#: The purposes of the MSE in the Russian wording of the extract (the enum holds the Belarusian one).
PURPOSE_WORDING: dict[ReferralPurpose, str] = {
    ReferralPurpose.EXAMINATION: "освидетельствование гражданина",
    ReferralPurpose.REEXAMINATION: "переосвидетельствование гражданина",
    ReferralPurpose.CHANGE_CAUSE: "изменение причины инвалидности",
    ReferralPurpose.REHAB_PROGRAMME: (
        "разработка (коррекция) индивидуальной программы реабилитации или абилитации инвалида (ребенка-инвалида)"
    ),
    ReferralPurpose.ONSET_TIME: "определение времени наступления инвалидности",
    ReferralPurpose.WORK_CAPACITY_LOSS: ("определение степени утраты профессиональной трудоспособности в процентах"),
}

#: Order 692n, appendix 2 point 7, addressed to the citizen.
APPEAL = (
    "Гражданин (его законный или уполномоченный представитель) может обжаловать решение бюро, "
    "принятое на основе поступившего из медицинской организации направления на медико-социальную "
    "экспертизу, по которому был ограничен доступ к персональным данным, в главное бюро по адресу "
    "регистрации по месту жительства (месту пребывания), адресу фактического проживания в месячный "
    "срок со дня получения решения на основании заявления, поданного в бюро по адресу регистрации "
    "по месту жительства (месту пребывания), адресу фактического проживания, либо в главное бюро по "
    "адресу регистрации по месту жительства (месту пребывания), адресу фактического проживания "
    "в письменной форме на бумажном носителе или в электронном виде с использованием федеральной "
    "государственной информационной системы «Единый портал государственных и муниципальных услуг "
    "(функций)». Заявление об обжаловании решения бюро, поданное гражданином (его законным или "
    "уполномоченным представителем) в форме электронного документа с использованием единого портала, "
    "должно быть подписано электронной подписью в соответствии с Федеральным законом от 6 апреля "
    "2011 г. № 63-ФЗ «Об электронной подписи»."
)

#: The statement printed instead of the seal on the electronic variant (appendix 2 points 5-6).
ESIGN_STATEMENT = (
    "Документ подписан усиленной квалифицированной электронной подписью руководителя бюро "
    "(уполномоченного им должностного лица)"
)

BUREAU_HEAD = "Руководитель бюро (уполномоченное должностное лицо)"


def _purposes(case: Case) -> str | None:
    e = case.examination
    if e is None:
        return None
    out = [PURPOSE_WORDING.get(p, p.label) for p in e.purposes]
    if e.purpose_other:
        out.append(e.purpose_other)
    return ", ".join(out)


def _decision(case: Case) -> str | None:
    if case.decision is None or case.decision.recognised:
        return None
    return "гражданка не признана инвалидом" if case.patient.sex is Sex.FEMALE else "гражданин не признан инвалидом"


def applies(case: Case) -> bool:
    """A Russian case whose decision is: not recognised as disabled, with the act the extract is
    drawn from (``examination``: act number and date, purpose) and the extract's number and date."""
    return (
        case.decision is not None
        and not case.decision.recognised
        and case.examination is not None
        and case.extract is not None
    )


def _number_and_date(
    number: Callable[[Case], Any], date: Callable[[Case], Any], number_limit: int
) -> tuple[ItemDef, ItemDef]:
    """«№ ... от ...» of a document, both required; ``number_limit`` the number's model limit."""
    return (
        ItemDef("", "number", "№", get=number, required=True, max_length=number_limit),
        ItemDef("", "date", "от", "date", get=date, required=True),
    )


RU_EXTRACT = FormSpec(
    id="ru-extract",
    title="Выписка из акта медико-социальной экспертизы гражданина",
    xml_root="mseActExtract",
    source=Source("000_4cb582fc279a122e.txt", "appendix 2 points 5-7", "138-160"),
    header=(
        ItemDef(
            "",
            "bureauName",
            "наименование бюро медико-социальной экспертизы",
            get=lambda k: k.commission.name,
            required=True,
            max_length=text_limit(Commission, "name"),
        ),
        ItemDef(
            "", "bureauAddress", "адрес бюро", get=lambda k: str(k.commission.address), required=True,
            max_length=address_limit(),
        ),  # fmt: skip
        ItemDef(
            "",
            "extract",
            "",
            "group",
            inline=True,
            required=True,
            doc="Номер и дата выписки",
            children=_number_and_date(
                lambda k: k.extract.number if k.extract else None,
                lambda k: k.extract.date if k.extract else None,
                text_limit(Extract, "number"),
            ),
        ),
    ),
    items=(
        ItemDef(
            "1",
            "act",
            "Акт медико-социальной экспертизы гражданина",
            "group",
            inline=True,
            required=True,
            children=_number_and_date(
                lambda k: k.examination.act_number if k.examination else None,
                lambda k: k.examination.act_date if k.examination else None,
                text_limit(Examination, "act_number"),
            ),
        ),
        ItemDef(
            "2",
            "patientName",
            "Фамилия, имя, отчество (последнее при наличии) гражданина",
            get=lambda k: k.patient.name,
            required=True,
            max_length=name_limit(),
        ),
        ItemDef("3", "birthDate", "Дата рождения", "date", get=lambda k: k.patient.birth_date, required=True),
        ItemDef(
            "4",
            "registrationAddress",
            "Адрес регистрации по месту жительства (месту пребывания)",
            get=lambda k: k.patient.addresses.registration,
            required=True,
            max_length=address_limit(),
        ),
        ItemDef(
            "5",
            "actualAddress",
            "Адрес фактического проживания",
            get=lambda k: k.patient.addresses.actual or k.patient.addresses.registration,
            max_length=address_limit(),
        ),
        ItemDef(
            "6",
            "mseDate",
            "Дата проведения медико-социальной экспертизы",
            "date",
            get=lambda k: k.decision.date if k.decision else None,
            required=True,
        ),
        ItemDef("7", "msePurpose", "Цель проведения медико-социальной экспертизы", get=_purposes, required=True),
        ItemDef(
            "8",
            "decision",
            "Решение бюро медико-социальной экспертизы",
            get=_decision,
            required=True,
            doc="(гражданин не признан инвалидом)",
        ),
        ItemDef(
            "9",
            "appeal",
            "Порядок обжалования решения",
            get=lambda k: APPEAL,
            required=True,
            fixed=True,
            doc="(пункт 7 приложения № 2 к приказу Минтруда России от 9 декабря 2025 г. № 692н, "
            "с его последним абзацем об электронной подписи заявления)",
        ),
    ),
    signers=(Signer("bureau_head", BUREAU_HEAD, lambda k: [k.commission.chairman], seal=True),),
    applies=applies,
    paper_for=lambda k: None if k.delivery is None else k.delivery.channel == "paper",
    jurisdiction=Jurisdiction.RU,
    extra=lambda k: {
        "esign_statement": ESIGN_STATEMENT,
        "delivery": k.delivery.channel if k.delivery else None,
    },
)
