"""Индивидуальная программа медицинской реабилитации, абилитации пациента: appendix 8 to
resolution No. 77 (items 1-12, two assessment tables and the measures table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..model.case import Case
from ..model.enums import ImpairmentDegree, ImpairmentKind, LifeActivity, ProgrammeFulfilment, reworded
from ..model.rehab import (
    BASIC_ACTIVITIES,
    ContinuationNeed,
    GoalExtent,
    NonFulfilmentReason,
    RehabMethod,
    RehabPotential,
    RehabSetting,
)
from . import common as c
from .spec import Column, FormSpec, ItemDef, OptionGroup, Signer, by_source

#: Table 5: the 13 function groups as the IPMRA words them: :class:`ImpairmentKind`'s, two of
#: them with the functions they cover in brackets.
IpmraFunction = reworded(
    "IpmraFunction",
    ImpairmentKind,
    {
        ImpairmentKind.SENSORY: ImpairmentKind.SENSORY.label
        + " (зрения, слуха, обоняния, осязания, тактильной, болевой, температурной, вибрационной и других "
        "видов чувствительности)",
        ImpairmentKind.STATODYNAMIC: ImpairmentKind.STATODYNAMIC.label
        + " (движения головы, туловища, конечностей, опоры и ходьбы, статики, координации движений, "
        "вестибулярной функции)",
    },
)


#: Table 6: the five basic categories in the IPMRA's order, each worded as :class:`LifeActivity`
#: words it, with a capital letter (a row heading of the table).
BasicActivity = reworded(
    "BasicActivity",
    LifeActivity,
    {a.value: a.label[0].upper() + a.label[1:] for a in BASIC_ACTIVITIES},
    members=BASIC_ACTIVITIES,
)


assert [m.value for m in IpmraFunction] == [k.value for k in ImpairmentKind]

BEFORE = "до медицинской реабилитации, медицинской абилитации"
AFTER = "после медицинской реабилитации, медицинской абилитации"
DEGREE_HEAD = "Степень выраженности нарушений функций органов и систем организма"
DYNAMICS_HEAD = (
    "Динамическая оценка степени выраженности нарушений (развития) функций органов и систем организма пациента"
)
FC_HEAD = "Функциональный класс"
EFFECT_HEAD = "Оценка эффективности медицинской реабилитации, медицинской абилитации"
DEVICES_WORDING = (
    "ТССР, изделия медицинского назначения, предоставляемые государственными организациями "
    "здравоохранения в соответствии с индивидуальной программой реабилитации, абилитации инвалида, "
    "индивидуальной программой реабилитации, абилитации ребенка-инвалида или заключением "
    "врачебно-консультационной комиссии государственной организации здравоохранения (далее – ВКК):"
)
DEVICE_ROWS = 6

GOALS = (
    (
        "restoration",
        "восстановление или развитие нарушенных функций органов и систем организма пациента",
    ),
    (
        "compensation",
        "компенсация нарушенных либо утраченных, либо несформированных функций органов и систем "
        "организма пациента с помощью лекарственных средств, технических средств социальной "
        "реабилитации (далее – ТССР)",
    ),
    (
        "limitation",
        "снижение степени или устранение ограничения категорий жизнедеятельности пациента",
    ),
)


def _get(attr: str) -> Callable[[Case], Any]:
    return lambda case: getattr(case.ipmra, attr) if case.ipmra else None


def _status(case: Case) -> str | None:
    status = case.ipmra.status if case.ipmra else None
    if status is None:
        return None
    if status.group is not None:
        return status.group.label
    if status.degree is not None:
        return status.degree.label
    return None


def _impairment_rows(case: Case) -> list[dict[str, Any]]:
    """All 13 printed rows, each with what the programme records for it."""
    if case.ipmra is None:
        return []
    by_kind = {r.kind.value: r for r in case.ipmra.impairments}
    return [{"function": f, "assessment": by_kind.get(f.value)} for f in IpmraFunction]


def _activity_rows(case: Case) -> list[dict[str, Any]]:
    """All 5 printed rows, each with what the programme records for it."""
    if case.ipmra is None:
        return []
    by_cat = {r.category.value: r for r in case.ipmra.activities}
    return [{"category": b, "assessment": by_cat.get(b.value)} for b in BasicActivity]


def _measure_rows(case: Case) -> list[dict[str, Any]]:
    """Rows 1-10 (methods), 11 (the devices heading) and 11.1-11.6 (devices), as printed."""
    if case.ipmra is None:
        return []
    by_method = {m.method: m for m in case.ipmra.measures}
    rows: list[dict[str, Any]] = []
    for method in RehabMethod:
        m = by_method.get(method)
        text = method.label + (f": {m.detail}" if m and m.detail else "")
        rows.append({"no": method.value, "method": text, "prescribed": m and m.prescribed, "done": m and m.done})
    rows.append({"no": "11", "method": DEVICES_WORDING, "prescribed": None, "done": None})
    devices = list(case.ipmra.devices)
    for i in range(DEVICE_ROWS):
        d = devices[i] if i < len(devices) else None
        rows.append(
            {
                "no": f"11.{i + 1}",
                "method": d.name if d else None,
                "prescribed": d.prescribed if d else None,
                "done": d.done if d else None,
            }
        )
    return rows


def _cell(row: dict[str, Any], attr: str) -> Any:
    a = row["assessment"]
    return getattr(a, attr) if a is not None else None


def _goal(key: str, wording: str, last: bool) -> ItemDef:
    """One goal of item 8: the goal's wording over its extent «(полностью, частично)»; the goal
    is underlined with the extent chosen, as one underlines on paper."""
    return c.choice(
        "", key, "",
        lambda k: getattr(k.ipmra.goals, key) if k.ipmra else None, GoalExtent,
        groups=(OptionGroup(wording, tuple(GoalExtent), brackets=True),),
        suffix=c.UNDERLINE + "." if last else "",
    )


# Item 12 prints «в амбулаторных (стационарных) условиях, на дому, ...»: the two settings share
# «условиях» and stand apart by a space, not the comma between the other options. No heading of
# their own: a group only for its separator; the enum's labels («в амбулаторных», «(стационарных)
# условиях») are the statute's words in print order, each underlined when chosen.
SETTING_CONDITIONS = OptionGroup("", (RehabSetting.OUTPATIENT, RehabSetting.INPATIENT), sep=" ")

IPMRA = FormSpec(
    id="by-ipmra",
    title="Индивидуальная программа медицинской реабилитации, абилитации пациента",
    xml_root="ipmra",
    source=by_source("appendix 8 to the resolution", "1719-1872"),
    items=(
        c.patient_name("1"),
        replace(
            c.id_number(""),
            printed=False,
            doc="(не входит в форму приложения 8: идентифицирует пациента при электронном обмене, "
            "на бумажной форме не печатается)",
        ),
        c.birth_date("2"),
        ItemDef(
            "3",
            "disabilityStatus",
            "Группа инвалидности (степень утраты здоровья) (указать)",
            get=_status,
        ),
        c.group(
            "4", "diagnosis", "Клинико-функциональный диагноз",
            c.field("4.1", "mainDisease", "основное(ые) заболевание(я)", _get),
            c.field("4.2", "concomitantDisease", "сопутствующие заболевания", _get),
        ),
        ItemDef(
            "5",
            "impairments",
            "Нарушения функций органов и систем организма пациента",
            "records",
            get=_impairment_rows,
            max_rows=len(IpmraFunction),
            columns=(
                Column(
                    "function",
                    "Нарушения функций органов и систем организма",
                    "enum",
                    IpmraFunction,
                    lambda r: r["function"],
                ),
                Column("before", BEFORE, "enum", ImpairmentDegree, lambda r: _cell(r, "before"), DEGREE_HEAD),
                Column("after", AFTER, "enum", ImpairmentDegree, lambda r: _cell(r, "after"), DEGREE_HEAD),
                Column("dynamics", DYNAMICS_HEAD, get=lambda r: _cell(r, "dynamics")),
            ),
        ),
        ItemDef(
            "6",
            "activityLimits",
            "Ограничения жизнедеятельности",
            "records",
            get=_activity_rows,
            max_rows=len(BasicActivity),
            columns=(
                Column(
                    "category",
                    "Базовые категории жизнедеятельности",
                    "enum",
                    BasicActivity,
                    lambda r: r["category"],
                ),
                Column("fcBefore", BEFORE, "int", get=lambda r: _cell(r, "fc_before"), group=FC_HEAD),
                Column("fcAfter", AFTER, "int", get=lambda r: _cell(r, "fc_after"), group=FC_HEAD),
                Column("effectiveness", EFFECT_HEAD, get=lambda r: _cell(r, "effectiveness")),
            ),
        ),
        c.choice(
            "7", "rehabPotential", "Реабилитационный потенциал",
            _get("potential"), RehabPotential, suffix=c.UNDERLINE + ".",
        ),
        ItemDef(
            "8",
            "goals",
            "Цель медицинской реабилитации, медицинской абилитации:",
            "group",
            inline=True,
            sep="; ",
            children=tuple(_goal(key, wording, i == len(GOALS) - 1) for i, (key, wording) in enumerate(GOALS)),
        ),
        ItemDef(
            "9",
            "measures",
            "Мероприятия медицинской реабилитации, медицинской абилитации (нужное указать)",
            "records",
            get=_measure_rows,
            max_rows=len(RehabMethod) + 1 + DEVICE_ROWS,
            column_numbers=True,
            columns=(
                Column("number", "№ п/п", get=lambda r: r["no"]),
                Column(
                    "method",
                    "Методы медицинской реабилитации, медицинской абилитации",
                    get=lambda r: r["method"],
                ),
                Column("prescribed", "Дата назначения", "date", get=lambda r: r["prescribed"]),
                Column("done", "Дата выполнения", "date", get=lambda r: r["done"]),
            ),
        ),
        c.choice(
            "10", "fulfilment",
            "Полнота выполнения индивидуальной программы медицинской реабилитации, абилитации пациента",
            _get("fulfilment"), ProgrammeFulfilment, labels={"full": "выполнена в полном объеме"},
            suffix=c.UNDERLINE + ".",
        ),
        c.choice_or_other(
            "11", "nonFulfilmentReasons",
            "Причины невыполнения индивидуальной программы медицинской реабилитации, абилитации пациента",
            _get("non_fulfilment_reason"), NonFulfilmentReason, _get("non_fulfilment_other"),
        ),
        c.inline(
            "12", "finalRecommendations", "Заключительные рекомендации –",
            c.choice(
                "", "continuation", "",
                _get("continuation"), ContinuationNeed,
                suffix="в продолжении медицинской реабилитации, медицинской абилитации",
            ),
            c.choice_or_other(
                "", "settings", "",
                _get("settings"), RehabSetting, _get("recommendations_other"), multi=True, groups=(SETTING_CONDITIONS,),
            ),
        ),
        ItemDef("", "fillDate", "Дата заполнения", "date", get=_get("fill_date"), required=True),
    ),
    signers=(
        Signer(
            "physician",
            "Врач-специалист, ответственный за составление данной программы",
            lambda k: [k.ipmra.physician] if k.ipmra else [],
            captions=False,  # appendix 8 prints two bare lines (lines 1867-1868)
        ),
    ),
    applies=lambda k: k.ipmra is not None,
)

__all__ = ["IPMRA", "BasicActivity", "IpmraFunction"]
