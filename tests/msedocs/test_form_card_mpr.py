"""The MREK patient card (appendix 12) and the MPR office conclusion (appendix 8 to the Instruction)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from msedocs.contract import Document, Item
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


def _walk(items: Sequence[Item]) -> Iterator[Item]:
    for item in items:
        yield item
        yield from _walk(item.children)


def _numbers(data: Document, top: bool = False) -> list[str]:
    items = data.items if top else list(_walk(data.items))
    return [i.no for i in items if i.no]


def _item(data: Document, no: str) -> Item:
    return next(i for i in _walk(data.items) if i.no == no)


def _chosen(item: Item) -> list[str]:
    return [o.value for o in item.options if o.selected]


def test_both_forms_registered():
    assert REGISTRY["by-card"] is CARD
    assert REGISTRY["by-mpr-conclusion"] is MPR_CONCLUSION
    assert CARD.signers == ()
    assert [s.role for s in MPR_CONCLUSION.signers] == ["mpr_head", "mpr_specialist"]


# --- the card ------------------------------------------------------------------------


def test_card_items_in_order():
    data = CARD.data(_case("occupational_disease_percentages"))
    assert _numbers(data, top=True) == [str(n) for n in range(1, 9)]
    assert data.items[0].key == "patientName"
    assert _item(data, "4").footnote == 1
    assert data.footnotes == ("1 Заполняется при наличии законного представителя.",)


def test_card_results_one_row_per_past_decision_then_the_current_one():
    case = _case("occupational_disease_percentages")
    rows = _item(CARD.data(case), "8").table.rows
    assert len(rows) == len(case.history) + 1
    assert [r.cell("no").value for r in rows] == list(range(1, len(rows) + 1))
    dates = [r.cell("date").value for r in rows]
    assert dates == sorted(dates)
    assert dates[-1] == case.decision.date.isoformat()
    assert rows[-1].cell("commission").display == case.commission.name
    assert rows[-1].cell("certificate").display == "серия МИ № 1187307"
    assert "III группа" in rows[-1].cell("conclusion").display
    assert rows[3].cell("certificate").display == "серия МИ № 0874215 (дубликат)"
    assert rows[0].cell("date").display == format_date(dt.date(2019, 5, 21))


def test_card_rows_sorted_by_date_whatever_the_input_order():
    case = _case("occupational_disease_percentages")
    shuffled = case.model_copy(update={"history": list(reversed(case.history))})
    dates = [r.cell("date").value for r in _item(CARD.data(shuffled), "8").table.rows]
    assert dates == sorted(dates)


def test_card_current_decision_not_repeated_when_already_in_history():
    case = _case("in_absentia")
    assert case.decision is not None
    same = PastDecision(date=case.decision.date, commission=case.commission.name, conclusion="то же решение")
    dup = case.model_copy(update={"history": [*case.history, same]})
    assert len(_item(CARD.data(dup), "8").table.rows) == len(case.history) + 1


def test_card_review_noted_and_not_recognised_worded():
    rows = _item(CARD.data(_case("central_mrek_cancelled")), "8").table.rows
    assert rows[0].cell("conclusion").display == "инвалидом не признан"
    assert rows[-1].cell("note").display.endswith("№ 771: отменяется")
    case = _case("not_recognised")
    rows = _item(CARD.data(case), "8").table.rows
    # «признан(а)» printed in the form matching the patient's sex
    assert (
        rows[-1].cell("conclusion").display
        == {"male": "инвалидом не признан", "female": "инвалидом не признана"}[case.patient.sex.value]
    )


def test_card_applies_with_a_decision_or_a_history():
    assert CARD.applies_to(_case("in_absentia"))
    referral_only = _case("referral_only")
    assert referral_only.decision is None
    assert not CARD.applies_to(referral_only)
    past = PastDecision(date=dt.date(2020, 1, 10), commission="МРЭК", conclusion="инвалидом не признан")
    assert CARD.applies_to(referral_only.model_copy(update={"history": [past]}))


def test_card_representative_only_when_there_is_one():
    assert _item(CARD.data(_case("in_absentia")), "4").display == ""
    child = _case("child_with_representative")
    assert child.representative is not None
    assert _item(CARD.data(child), "4").display == child.representative.name.full


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
    assert data.items[0].key == "patientName"


def test_mpr_header_and_signers():
    case = _case("occupational_disease_percentages")
    data = MPR_CONCLUSION.data(case)
    issue = next(h for h in data.header if h.key == "issue")
    assert [c.display for c in issue.children] == [format_date(dt.date(2026, 7, 20)), "212"]
    assert [s.names for s in data.signatures] == [("А.П. Гарэцкая",), ("І.А. Мацкевіч",)]
    age = _item(data, "3").children[1]
    assert age.value == 61


def test_mpr_chosen_options():
    data = MPR_CONCLUSION.data(_case("occupational_disease_percentages"))
    assert _chosen(_item(data, "8.1")) == []
    assert _chosen(_item(data, "8.2")) == ["work"]
    assert _chosen(_item(data, "8.3")) == ["loss_percent"]
    assert _chosen(_item(data, "8.4")) == ["ipra_correction"]
    assert _chosen(_item(data, "8.6")) == ["employment"]
    assert _item(data, "8.6").other.startswith("сохранение занятости")
    assert _chosen(_item(data, "9")) == ["group_III"]
    assert _item(data, "10").display == "50"
    assert _chosen(_item(data, "11.1")) == ["vocational"]
    assert _chosen(_item(data, "14")) == ["special_conditions"]
    basis = _item(data, "15.2").children[0]
    assert _chosen(basis) == ["certification", "sanitary"]
    where = _item(data, "15.8").children[0]
    assert _chosen(where) == ["employer"]
    assert [c.display for c in _item(data, "17").children] == ["1", "2"]

    other = MPR_CONCLUSION.data(_case("not_recognised"))
    assert _chosen(_item(other, "9")) == ["not_disabled"]
    assert _chosen(_item(other, "14")) == ["not_pensioner"]
    assert _item(other, "18").display == ""


def test_mpr_applies_only_with_mpr_data():
    assert MPR_CONCLUSION.applies_to(_case("not_recognised"))
    assert not MPR_CONCLUSION.applies_to(_case("in_absentia"))


def test_mpr_child_of_14_to_18_with_representative():
    d = json.loads((CASES / "occupational_disease_percentages.json").read_text(encoding="utf-8"))
    child = json.loads((CASES / "child_with_representative.json").read_text(encoding="utf-8"))
    child["patient"]["birth_date"] = "2011-03-14"  # fifteen on the date of the consultation
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
    assert _item(data, "2").display == case.representative.name.full
    assert _item(data, "3").children[1].value == 15
    assert _item(data, "6").display == str(case.representative.addresses.registration)
    assert _item(data, "7").display == str(
        case.representative.addresses.actual or case.representative.addresses.registration
    )
    assert _chosen(_item(data, "8.5")) == ["vocational", "secondary_special"]
    assert _item(data, "8.5").other == "швея, оператор ЭВМ"
    assert _chosen(_item(data, "9")) == ["child_2"]
    assert _item(data, "16.1").display == "работа с компьютером"
    assert _item(data, "19.2").display == "обычный"


def test_mpr_pension_options_exclusive():
    d = json.loads((CASES / "not_recognised.json").read_text(encoding="utf-8"))
    d["mpr"]["pension"] = ["not_pensioner", "age"]
    from msedocs.errors import InputError

    with pytest.raises(InputError, match="pension"):
        load_case(d)


# --- the wording as printed (HTML, DOCX) and annotated (XSD) -----------------------------

STATUTE_9 = (
    "9. Инвалидом не является; инвалид I, II, III группы; ребенок-инвалид: первая, вторая, третья, "
    "четвертая степень утраты здоровья (нужное подчеркнуть)."
)


def _html(spec: Any, case: Case) -> Any:
    from lxml import etree

    from generators.pdf import render_html

    return etree.HTML(render_html(spec.data(case)))


def _html_item(root: Any, start: str) -> Any:
    return next(d for d in root.iter("div") if "item" in d.get("class", "") and "".join(d.itertext()).startswith(start))


def _docx_paragraph(spec: Any, case: Case, start: str) -> Any:
    import io

    import docx

    from generators.docx import render

    doc = docx.Document(io.BytesIO(render(spec.data(case))))
    return next(p for p in doc.paragraphs if p.text.startswith(start))


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def test_mpr_item_9_worded_as_the_statute_with_the_group_underlined():
    case = _case("occupational_disease_percentages")
    div = _html_item(_html(MPR_CONCLUSION, case), "9. ")
    assert _text(div) == STATUTE_9
    assert [u.text for u in div.iter("u")] == ["III группы"]
    p = _docx_paragraph(MPR_CONCLUSION, case, "9. ")
    assert p.text == STATUTE_9
    assert [r.text for r in p.runs if r.underline] == ["III группы"]


def test_mpr_item_9_child_degree_underlines_heading_and_degree():
    d = json.loads((CASES / "not_recognised.json").read_text(encoding="utf-8"))
    d["mpr"]["disability"] = "child_2"
    div = _html_item(_html(MPR_CONCLUSION, load_case(d)), "9. ")
    assert _text(div) == STATUTE_9
    assert [u.text for u in div.iter("u")] == ["ребенок-инвалид", "вторая"]


def test_mpr_punctuation_as_the_statute_prints_it():
    case = _case("occupational_disease_percentages")
    root = _html(MPR_CONCLUSION, case)
    # 17: «... ФК _____; способность к трудовой деятельности ФК ____»
    assert "(профессиональному) ФК 1; способность к трудовой деятельности ФК 2" in _text(_html_item(root, "17. "))
    # 15.8: «у нанимателя или при содействии ...»
    employment = _html_item(root, "у нанимателя")
    assert _text(employment).startswith("у нанимателя или при содействии территориального отделения занятости")
    assert [u.text for u in employment.iter("u")] == ["у нанимателя"]
    # 11.4, 15.6.1, 15.7.3: «(указать): ___»; 15.2, 15.4: «иных сведений (нужное подчеркнуть):»
    assert "(нужное подчеркнуть, указать): горные машины" in _text(_html_item(root, "11.4. "))
    assert "(нужное подчеркнуть, указать): машинист" in _text(_html_item(root, "присвоенная (осваиваемая)"))
    assert "трудового процесса (указать): общая и локальная вибрация" in _text(_html_item(root, "15.6.1. "))
    assert _text(_html_item(root, "15.7.3. ")).endswith("подготовки (указать): не нуждается")
    bases = [d for d in root.iter("div") if _text(d).startswith("выполняется на основании")]
    assert len(bases) == 2 and all(_text(b).endswith("иных сведений (нужное подчеркнуть):") for b in bases)
    p = _docx_paragraph(MPR_CONCLUSION, case, "17. ")
    assert p.text.endswith("ФК 1; способность к трудовой деятельности ФК 2")


def test_mpr_title_on_two_lines():
    h1 = next(_html(MPR_CONCLUSION, _case("not_recognised")).iter("h1"))
    assert [t.strip() for t in h1.itertext()] == ["Заключение", "кабинета медико-профессиональной реабилитации"]


def test_mpr_child_addresses_empty_for_an_adult_with_a_representative():
    d = json.loads((CASES / "not_recognised.json").read_text(encoding="utf-8"))
    child = json.loads((CASES / "child_with_representative.json").read_text(encoding="utf-8"))
    d["representative"] = child["representative"]
    case = load_case(d)
    assert case.representative is not None
    data = MPR_CONCLUSION.data(case)
    assert _item(data, "2").display == case.representative.name.full
    assert _item(data, "6").display == "" and _item(data, "7").display == ""
    root = _html(MPR_CONCLUSION, case)
    assert _html_item(root, "6. ").find(".//span[@class='blank']") is not None


def _xsd_doc(form_id: str, name: str) -> str:
    from lxml import etree

    xs = "{http://www.w3.org/2001/XMLSchema}"
    tree = etree.parse(str(ROOT / "xsd" / f"{form_id}.xsd"))
    el = next(e for e in tree.iter(f"{xs}element") if e.get("name") == name)
    return el.find(f"{xs}annotation/{xs}documentation").text


def test_xsd_annotations_carry_item_and_wording():
    disability = _xsd_doc("by-mpr-conclusion", "disability")
    assert disability.startswith("9.") and disability.endswith(STATUTE_9.removeprefix("9. "))
    assert _xsd_doc("by-mpr-conclusion", "phones") == "Контактные номера телефонов (пункт 7)"
    assert _xsd_doc("by-card", "phones") == "Контактные номера телефонов (пункт 6)"
    assert _xsd_doc("by-card", "results") == "8. Результаты медико-социальной экспертизы"


def test_card_results_table_has_its_columns_and_one_row_per_decision_in_pdf_and_docx():
    import io

    import docx

    from generators.docx import render

    case = _case("occupational_disease_percentages")
    rows = len(case.history) + 1
    root = _html(CARD, case)
    table = next(root.iter("table"))
    head = [_text(th) for th in table.iter("th")]
    assert head == [
        "№ п/п",
        "Дата решения медико-реабилитационной экспертной комиссии (далее – МРЭК)",
        "Наименование МРЭК, проводившей медико-социальную экспертизу",
        "Заключение МРЭК",
        "Серия, номер удостоверения инвалида (дубликата удостоверения инвалида)",
        "Примечание",
    ]
    body = table.find("tbody").findall("tr")
    assert len(body) == rows
    assert [_text(tr.find("td")) for tr in body] == [str(n) for n in range(1, rows + 1)]
    assert [c.get("style") for c in table.iter("col")][0] == "width: 6%"
    t = docx.Document(io.BytesIO(render(CARD.data(case)))).tables[0]
    assert [c.text for c in t.rows[0].cells] == head
    assert len(t.rows) == 1 + rows
    assert t.rows[-1].cells[1].text == "«24» июля 2026 г."
