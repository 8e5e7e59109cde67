"""Программа дополнительного обследования пациента МРЭК: appendix 9 to resolution No. 77
(items 1-8, the date, the chairman's signature and the seal place on paper)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.case import Case
from ..model.rehab import ExamProgramme
from . import common as c
from .spec import FormSpec, ItemDef, Signer, by_source


def _get(attr: str) -> Callable[[Case], Any]:
    return lambda case: getattr(case.exam_programme, attr) if case.exam_programme else None


EXAM_PROGRAMME = FormSpec(
    id="by-exam-programme",
    title="Программа дополнительного обследования пациента медико-реабилитационной экспертной комиссии",
    xml_root="additionalExamProgramme",
    source=by_source("appendix 9 to the resolution", "1873-1923"),
    header=(
        c.commission_name(),
        c.field(
            "",
            "number",
            "№",
            _get,
            ExamProgramme,
            required=True,
            doc="(номер программы: печатается в заголовке «Программа дополнительного обследования пациента "
            "медико-реабилитационной экспертной комиссии № ...»)",
        ),
    ),
    items=(
        *c.organisation(
            ("organisation", "organisationAddress"),
            (
                "Наименование организации здравоохранения (иной организации), в которую направляется настоящая "
                "программа",
                "Адрес организации здравоохранения (иной организации)",
            ),
            lambda k: k.exam_programme.addressee if k.exam_programme else None,
            no="1",
            address_doc="(к пункту 1, без номера пункта)",
        ),
        *c.patient_items(2),
        c.field(
            "7", "purpose",
            "Цель направления (указываются необходимые дополнительные обследования, сведения, документы "
            "и иные данные, которые должны быть представлены для вынесения решения "
            "медико-реабилитационной экспертной комиссии (далее – МРЭК)",
            _get, required=True,
        ),  # fmt: skip
        c.field(
            "8", "diagnosis",
            "Клинико-функциональный диагноз (заполняется при направлении программы дополнительного "
            "обследования в организацию здравоохранения)",
            _get,
        ),  # fmt: skip
        ItemDef("", "date", "Дата", "date", get=_get("date"), required=True),
    ),
    signers=(Signer("chairman", "Председатель МРЭК", lambda k: [k.commission.chairman], seal=True, seal_footnote=1),),
    footnotes=(
        "1 Печать проставляется при оформлении программы дополнительного обследования пациента на бумажном носителе.",
    ),
    applies=lambda k: k.exam_programme is not None,
    title_item="number",
)
