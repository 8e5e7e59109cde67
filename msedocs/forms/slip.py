"""Отрывной талон к направлению на МСЭ: appendix 10, after the cut line (items 1-15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.case import Case, Decision, Examination, Organisation
from . import common as c
from .spec import FormSpec, ItemDef, Signer, address_limit, by_source, text_limit

#: Between the referring organisation's name and its address (header item «направлен»).
SENT_TO_SEP = ", "


def _dec(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", attr)


def _labour(attr: str) -> Callable[[Case], Any]:
    return c.path("decision", "labour", attr)


SLIP = FormSpec(
    id="by-referral-slip",
    title="Отрывной талон",
    xml_root="referralSlip",
    source=by_source("appendix 10 (tear-off slip)", "2079-2152"),
    note="Подлежит возврату в организацию здравоохранения, оказывающую пациенту медицинскую помощь в амбулаторных "
    "условиях",
    title_as_printed=True,
    header=(
        c.commission_name("наименование МРЭК"),
        ItemDef(
            "", "commissionAddress", "адрес МРЭК", get=lambda k: k.commission.address, required=True,
            max_length=address_limit(),
        ),  # fmt: skip
        ItemDef("", "sentDate", "Дата отправки отрывного талона", "date", get=_dec("slip_sent_date")),
        ItemDef(
            "",
            "sentTo",
            "Отрывной талон к направлению на МСЭ направлен (указывается наименование и адрес "
            "организации здравоохранения)",
            get=lambda k: f"{k.referring_organisation.name}{SENT_TO_SEP}{k.referring_organisation.address}",
            required=True,
            max_length=text_limit(Organisation, "name") + len(SENT_TO_SEP) + address_limit(),
        ),
    ),
    items=(
        *c.patient_items(1),
        c.inline(
            "6", "act", "Акт освидетельствования пациента МРЭК",
            ItemDef("", "date", "от", "date", get=lambda k: k.examination.act_date if k.examination else None),
            ItemDef(
                "", "number", "№", get=lambda k: k.examination.act_number if k.examination else None,
                max_length=text_limit(Examination, "act_number"),
            ),
        ),
        ItemDef(
            "7",
            "diagnosis",
            "Клинико-функциональный диагноз",
            "group",
            children=tuple(
                c.diagnosis_items(
                    "7",
                    lambda k: k.examination.diagnosis if k.examination else None,
                    "код основного(ых) заболевания(ий) по МКБ-10",
                    "7.2",
                    "7.3",
                )
            ),
        ),
        c.impairments("8", lambda k: k.examination.impairments if k.examination else None),
        c.activity_limits(
            "9",
            lambda k: k.examination.activity_limits if k.examination else None,
            lambda k: k.examination.activity_other if k.examination else None,
            label="Ограничения категорий жизнедеятельности с указанием функционального класса",
        ),
        ItemDef("10", "decision", "Решение МРЭК", get=c.decision_text),
        c.labour_requirements("11"),
        c.field(
            "12", "ipmraNeed",
            "заключение о нуждаемости в формировании индивидуальной программы медицинской реабилитации, "
            "абилитации пациента (указать)",
            _dec, Decision,
        ),  # fmt: skip
        c.field(
            "13", "technicalMeans",
            "заключение о нуждаемости в технических средствах социальной реабилитации (указать)",
            _dec, Decision,
        ),  # fmt: skip
        # underlined in place when there is no re-examination term, never repeated as a value
        c.validity("14", "validity", "Срок действия заключения МРЭК", _dec, "(указать)"),
        c.sheet("15", "certificateIssued", "Выдано удостоверение инвалида", _dec("certificate_issued")),
    ),
    signers=(Signer("chairman", "Председатель МРЭК", lambda k: [k.commission.chairman], seal=True, seal_footnote=3),),
    footnotes=(
        "3 Печать проставляется при оформлении направления на медико-социальную экспертизу на бумажном носителе.",
    ),
    applies=lambda k: k.examination is not None and k.decision is not None,
)
