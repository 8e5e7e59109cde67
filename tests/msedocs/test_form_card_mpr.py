"""The MREK patient card (appendix 12) and the MPR office conclusion (appendix 8 to the Instruction)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msedocs.forms import REGISTRY
from msedocs.forms.card import CARD
from msedocs.forms.mpr_conclusion import MPR_CONCLUSION
from msedocs.forms.spec import format_date
from msedocs.model import Case, load_case
from msedocs.model.mpr import PastDecision

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "fixtures" / "cases"


def _case(name: str) -> Case:
    return load_case(CASES / f"{name}.json")


def _walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _walk(item["children"])


def _numbers(data: dict[str, Any], top: bool = False) -> list[str]:
    items = data["items"] if top else list(_walk(data["items"]))
    return [i["no"] for i in items if i["no"]]


def _item(data: dict[str, Any], no: str) -> dict[str, Any]:
    return next(i for i in _walk(data["items"]) if i["no"] == no)


def _chosen(item: dict[str, Any]) -> list[str]:
    return [o["value"] for o in item["options"] if o["selected"]]


def test_both_forms_registered():
    assert REGISTRY["by-card"] is CARD
    assert REGISTRY["by-mpr-conclusion"] is MPR_CONCLUSION
    assert CARD.signers == ()
    assert [s.role for s in MPR_CONCLUSION.signers] == ["mpr_head", "mpr_specialist"]


# --- the card ------------------------------------------------------------------------


def test_card_items_in_order():
    data = CARD.data(_case("occupational_disease_percentages"))
    assert _numbers(data, top=True) == [str(n) for n in range(1, 9)]
    assert data["items"][0]["key"] == "patientName"
    assert _item(data, "4")["footnote"] == 1
    assert data["footnotes"] == ["1 Заполняется при наличии законного представителя."]


def test_card_results_one_row_per_past_decision_then_the_current_one():
    case = _case("occupational_disease_percentages")
    rows = _item(CARD.data(case), "8")["rows"]
    assert len(rows) == len(case.history) + 1
    assert [r["no"]["value"] for r in rows] == list(range(1, len(rows) + 1))
    dates = [r["date"]["value"] for r in rows]
    assert dates == sorted(dates)
    assert dates[-1] == case.decision.date.isoformat()
    assert rows[-1]["commission"]["display"] == case.commission.name
    assert rows[-1]["certificate"]["display"] == "серия МИ № 1187307"
    assert "III группа" in rows[-1]["conclusion"]["display"]
    assert rows[3]["certificate"]["display"] == "серия МИ № 0874215 (дубликат)"
    assert rows[0]["date"]["display"] == format_date(dt.date(2019, 5, 21))


def test_card_rows_sorted_by_date_whatever_the_input_order():
    case = _case("occupational_disease_percentages")
    shuffled = case.model_copy(update={"history": list(reversed(case.history))})
    dates = [r["date"]["value"] for r in _item(CARD.data(shuffled), "8")["rows"]]
    assert dates == sorted(dates)


def test_card_current_decision_not_repeated_when_already_in_history():
    case = _case("in_absentia")
    assert case.decision is not None
    same = PastDecision(date=case.decision.date, commission=case.commission.name, conclusion="то же решение")
    dup = case.model_copy(update={"history": [*case.history, same]})
    assert len(_item(CARD.data(dup), "8")["rows"]) == len(case.history) + 1


def test_card_review_noted_and_not_recognised_worded():
    rows = _item(CARD.data(_case("central_mrek_cancelled")), "8")["rows"]
    assert rows[0]["conclusion"]["display"] == "инвалидом не признан"
    assert "отменяется" in rows[-1]["note"]["display"]
    rows = _item(CARD.data(_case("not_recognised")), "8")["rows"]
    assert rows[-1]["conclusion"]["display"] == "инвалидом не признан(а)"


def test_card_applies_with_a_decision_or_a_history():
    assert CARD.applies_to(_case("in_absentia"))
    referral_only = _case("referral_only")
    assert referral_only.decision is None
    assert not CARD.applies_to(referral_only)
    past = PastDecision(date=dt.date(2020, 1, 10), commission="МРЭК", conclusion="инвалидом не признан")
    assert CARD.applies_to(referral_only.model_copy(update={"history": [past]}))


def test_card_representative_only_when_there_is_one():
    assert _item(CARD.data(_case("in_absentia")), "4")["display"] == ""
    child = _case("child_with_representative")
    assert child.representative is not None
    assert _item(CARD.data(child), "4")["display"] == child.representative.name.full


# --- the MPR conclusion --------------------------------------------------------------

MPR_SUB_ITEMS = (
    "8.1", "8.2", "8.3", "8.4", "8.5", "8.6", "11.1", "11.2", "11.3", "11.4", "12.1", "12.2", "12.3",
    "13.1", "13.2", "15.1", "15.2", "15.2.1", "15.2.2", "15.2.3", "15.3", "15.4", "15.4.1", "15.4.2",
    "15.4.3", "15.5", "15.6", "15.6.1", "15.6.2", "15.7", "15.7.1", "15.7.2", "15.7.3", "15.8",
    "15.8.1", "15.8.2", "16.1", "16.2", "16.3", "19.1", "19.2",
)  # fmt: skip


def test_mpr_items_and_sub_items_in_order():
    data = MPR_CONCLUSION.data(_case("occupational_disease_percentages"))
    assert _numbers(data, top=True) == [str(n) for n in range(1, 20)]
    numbers = _numbers(data)
    assert [n for n in numbers if "." in n] == list(MPR_SUB_ITEMS)

    def key(no: str) -> tuple[int, ...]:
        return tuple(int(p) for p in no.split("."))

    assert numbers == sorted(numbers, key=key)
    assert data["items"][0]["key"] == "patientName"


def test_mpr_header_and_signers():
    case = _case("occupational_disease_percentages")
    data = MPR_CONCLUSION.data(case)
    issue = next(h for h in data["header"] if h["key"] == "issue")
    assert [c["display"] for c in issue["children"]] == [format_date(dt.date(2026, 7, 20)), "212"]
    assert [s["names"] for s in data["signatures"]] == [["А.П. Гарэцкая"], ["І.А. Мацкевіч"]]
    age = _item(data, "3")["children"][1]
    assert age["value"] == 61


def test_mpr_chosen_options():
    data = MPR_CONCLUSION.data(_case("occupational_disease_percentages"))
    assert _chosen(_item(data, "8.1")) == []
    assert _chosen(_item(data, "8.2")) == ["work"]
    assert _chosen(_item(data, "8.3")) == ["loss_percent"]
    assert _chosen(_item(data, "8.4")) == ["ipra_correction"]
    assert _chosen(_item(data, "8.6")) == ["employment"]
    assert _item(data, "8.6")["other"].startswith("сохранение занятости")
    assert _chosen(_item(data, "9")) == ["group_III"]
    assert _item(data, "10")["display"] == "50"
    assert _chosen(_item(data, "11.1")) == ["vocational"]
    assert _chosen(_item(data, "14")) == ["special_conditions"]
    basis = _item(data, "15.2")["children"][0]
    assert _chosen(basis) == ["certification", "sanitary"]
    where = _item(data, "15.8")["children"][0]
    assert _chosen(where) == ["employer"]
    assert [c["display"] for c in _item(data, "17")["children"]] == ["1", "2"]

    other = MPR_CONCLUSION.data(_case("not_recognised"))
    assert _chosen(_item(other, "9")) == ["not_disabled"]
    assert _chosen(_item(other, "14")) == ["not_pensioner"]
    assert _item(other, "18")["display"] == ""


def test_mpr_applies_only_with_mpr_data():
    assert MPR_CONCLUSION.applies_to(_case("not_recognised"))
    assert not MPR_CONCLUSION.applies_to(_case("in_absentia"))


def test_mpr_child_of_14_to_18_with_representative():
    d = json.loads((CASES / "occupational_disease_percentages.json").read_text(encoding="utf-8"))
    child = json.loads((CASES / "child_with_representative.json").read_text(encoding="utf-8"))
    child["mpr"] = {
        "number": "17",
        "date": child["referral"]["date"],
        "sent_to": child["referring_organisation"]["name"],
        "purposes": ["learning"],
        "training_levels": ["vocational", "secondary_special"],
        "training_specialities": "швея, оператор ЭВМ",
        "disability": "child_2",
        "child": {"intentions": "работа с компьютером", "specialities": "оператор ЭВМ"},
        "training_fitness": {"specialities": "оператор ЭВМ", "regime": "обычный"},
        "fc_learning": 1,
        "head": d["mpr"]["head"],
        "specialist": d["mpr"]["specialist"],
    }
    case = load_case(child)
    data = MPR_CONCLUSION.data(case)
    assert case.representative is not None
    assert _item(data, "2")["display"] == case.representative.name.full
    assert _item(data, "6")["display"] == str(case.representative.addresses.registration)
    assert _chosen(_item(data, "8.5")) == ["vocational", "secondary_special"]
    assert _item(data, "8.5")["other"] == "швея, оператор ЭВМ"
    assert _chosen(_item(data, "9")) == ["child_2"]
    assert _item(data, "16.1")["display"] == "работа с компьютером"
    assert _item(data, "19.2")["display"] == "обычный"


def test_mpr_pension_options_exclusive():
    d = json.loads((CASES / "not_recognised.json").read_text(encoding="utf-8"))
    d["mpr"]["pension"] = ["not_pensioner", "age"]
    from msedocs.errors import InputError

    with pytest.raises(InputError, match="pension"):
        load_case(d)
