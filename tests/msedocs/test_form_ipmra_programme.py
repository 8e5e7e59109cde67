"""The IPMRA (appendix 8) and the additional examination programme (appendix 9):
items in the statute's order, tables built from the case, options chosen as recorded."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from msedocs.contract import Document, Item
from msedocs.errors import InputError
from msedocs.forms import REGISTRY
from msedocs.forms.exam_programme import EXAM_PROGRAMME
from msedocs.forms.ipmra import DEVICES_WORDING, IPMRA, BasicActivity, IpmraFunction
from msedocs.forms.spec import format_date
from msedocs.model import Case, load_case
from msedocs.model.enums import ImpairmentKind
from msedocs.model.rehab import RehabMethod

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "fixtures" / "cases"
IPMRA_CASES = ("adult_first_group_ii", "child_with_representative", "reexamination_missed_period")
PROGRAMME_CASES = ("refused_additional_exam",)


def _raw(name: str) -> dict[str, Any]:
    return json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))


def _load(source: Any) -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_case(source)


def _case(name: str) -> Case:
    return _load(CASES / f"{name}.json")


def walk(items: Sequence[Item]) -> Iterator[Item]:
    for item in items:
        yield item
        yield from walk(item.children)


def by_key(data: Document, key: str) -> Item:
    return next(i for i in walk(data.header + data.items) if i.key == key)


def chosen(item: Item) -> list[str]:
    return [o.value for o in item.options if o.selected]


# --- registry and applicability ---------------------------------------------------------


def test_registered_with_their_sources():
    assert REGISTRY["by-ipmra"] is IPMRA
    assert REGISTRY["by-exam-programme"] is EXAM_PROGRAMME
    assert IPMRA.source.lines == "1719-1872"
    assert EXAM_PROGRAMME.source.lines == "1873-1923"


@pytest.mark.parametrize("path", sorted(CASES.glob("*.json")), ids=lambda p: p.stem)
def test_applies_exactly_when_the_case_has_the_part(path):
    try:
        case = _load(path)
    except InputError:
        pytest.skip("fixture of another form that does not load yet")
    assert IPMRA.applies_to(case) == (case.ipmra is not None)
    assert EXAM_PROGRAMME.applies_to(case) == (case.exam_programme is not None)


def test_fixtures_carry_the_parts():
    for name in IPMRA_CASES:
        assert _case(name).ipmra is not None, name
    for name in PROGRAMME_CASES:
        assert _case(name).exam_programme is not None, name


# --- IPMRA ------------------------------------------------------------------------------


def test_ipmra_items_in_the_statute_order():
    data = IPMRA.data(_case("adult_first_group_ii"))
    numbers = [i.no for i in walk(data.items) if i.no]
    assert numbers == ["1", "2", "3", "4", "4.1", "4.2", "5", "6", "7", "8", "9", "10", "11", "12"]
    diagnosis = by_key(data, "diagnosis")
    assert [c.no for c in diagnosis.children] == ["4.1", "4.2"]
    assert diagnosis.children[1].label == "сопутствующие заболевания"
    assert data.items[-1].key == "fillDate"
    assert data.title == "Индивидуальная программа медицинской реабилитации, абилитации пациента"


@pytest.mark.parametrize("name", IPMRA_CASES)
def test_ipmra_values_come_from_the_case(name):
    case = _case(name)
    assert case.ipmra is not None
    p = case.ipmra
    data = IPMRA.data(case)
    assert by_key(data, "patientName").display == case.patient.name.full
    assert by_key(data, "birthDate").display == format_date(case.patient.birth_date)
    assert by_key(data, "mainDisease").display == p.main_disease
    assert by_key(data, "concomitantDisease").display == (p.concomitant_disease or "")
    assert by_key(data, "fillDate").display == format_date(p.fill_date)
    status = by_key(data, "disabilityStatus").display
    if p.status is None:
        assert status == ""
    else:
        assert status == (p.status.group or p.status.degree).label  # type: ignore[union-attr]
    (sig,) = data.signatures
    assert sig.names == (p.physician.initials,)
    assert sig.title == "Врач-специалист, ответственный за составление данной программы"
    assert not sig.seal


@pytest.mark.parametrize("name", IPMRA_CASES)
def test_ipmra_function_table_has_all_13_rows_with_before_and_after(name):
    case = _case(name)
    assert case.ipmra is not None
    item = by_key(IPMRA.data(case), "impairments")
    assert item.table
    assert [c.key for c in item.table.columns] == ["function", "before", "after", "dynamics"]
    assert "до медицинской реабилитации" in item.table.columns[1].label
    assert "после медицинской реабилитации" in item.table.columns[2].label
    assert [r.cell("function").value for r in item.table.rows] == [k.value for k in ImpairmentKind]
    assert item.table.rows[2].cell("function").display.startswith("нарушения сенсорных функций (зрения, слуха")
    recorded = {a.kind.value: a for a in case.ipmra.impairments}
    for row in item.table.rows:
        a = recorded.get(row.cell("function").value)
        assert row.cell("before").value == (a.before.value if a and a.before else None)
        assert row.cell("after").display == (a.after.label if a and a.after else "")
        assert row.cell("dynamics").display == ((a.dynamics or "") if a else "")


@pytest.mark.parametrize("name", IPMRA_CASES)
def test_ipmra_activity_table_has_the_5_basic_categories(name):
    case = _case(name)
    assert case.ipmra is not None
    item = by_key(IPMRA.data(case), "activityLimits")
    assert [c.key for c in item.table.columns] == ["category", "fcBefore", "fcAfter", "effectiveness"]
    assert [r.cell("category").display for r in item.table.rows] == [b.label for b in BasicActivity]
    recorded = {a.category.value: a for a in case.ipmra.activities}
    for row in item.table.rows:
        a = recorded.get(row.cell("category").value)
        assert row.cell("fcBefore").value == (a.fc_before if a else None)
        assert row.cell("fcAfter").value == (a.fc_after if a else None)


def test_ipmra_measures_table_rows_1_to_11_6():
    case = _case("adult_first_group_ii")
    assert case.ipmra is not None
    item = by_key(IPMRA.data(case), "measures")
    numbers = [r.cell("number").display for r in item.table.rows]
    assert numbers == [str(i) for i in range(1, 12)] + [f"11.{i}" for i in range(1, 7)]
    assert [c.label for c in item.table.columns] == [
        "№ п/п",
        "Методы медицинской реабилитации, медицинской абилитации",
        "Дата назначения",
        "Дата выполнения",
    ]
    rows = {r.cell("number").display: r for r in item.table.rows}
    assert rows["1"].cell("method").display == "Психотерапия, психокоррекция"
    assert rows["1"].cell("prescribed").value is None
    assert rows["11"].cell("method").display == DEVICES_WORDING
    for m in case.ipmra.measures:
        row = rows[m.method.value]
        assert row.cell("method").display.startswith(m.method.label)
        if m.detail:
            assert row.cell("method").display.endswith(m.detail)
        assert row.cell("prescribed").display == format_date(m.prescribed)
        assert row.cell("done").value == (m.done.isoformat() if m.done else None)
    for i, d in enumerate(case.ipmra.devices, start=1):
        assert rows[f"11.{i}"].cell("method").display == d.name
        assert rows[f"11.{i}"].cell("done").display == format_date(d.done)
    assert rows["11.6"].cell("method").display == ""
    assert [m.value for m in RehabMethod] == [str(i) for i in range(1, 11)]


def test_ipmra_chosen_options():
    data = IPMRA.data(_case("adult_first_group_ii"))
    assert chosen(by_key(data, "rehabPotential")) == ["medium"]
    assert [o.label for o in by_key(data, "rehabPotential").options] == [
        "высокий",
        "средний",
        "низкий",
        "крайне низкий",
    ]
    goals = by_key(data, "goals")
    assert [c.value for c in goals.children] == ["partial", None, "partial"]
    assert goals.sep == "; "
    (part,) = goals.children[0].parts  # the goal's wording over «(полностью, частично)»
    assert part.heading.startswith("восстановление или развитие") and part.brackets and part.selected
    assert [o.label for o in part.options] == ["полностью", "частично"]
    assert not goals.children[1].parts[0].selected
    assert goals.children[2].suffix == "(нужное подчеркнуть)."
    fulfilment = by_key(data, "fulfilment")
    assert chosen(fulfilment) == ["partial"]
    assert [o.label for o in fulfilment.options] == [
        "выполнена в полном объеме",
        "выполнена частично",
        "не выполнена",
    ]
    reasons = by_key(data, "nonFulfilmentReasons")
    assert chosen(reasons) == ["refusal"] and reasons.other
    assert chosen(by_key(data, "continuation")) == ["needs"]
    assert chosen(by_key(data, "settings")) == ["outpatient", "vkk_tssr"]


def test_ipmra_child_has_a_degree_and_no_reason():
    data = IPMRA.data(_case("child_with_representative"))
    assert by_key(data, "disabilityStatus").display == "вторая степень утраты здоровья"
    assert chosen(by_key(data, "fulfilment")) == ["full"]
    assert chosen(by_key(data, "nonFulfilmentReasons")) == [] and by_key(data, "nonFulfilmentReasons").other is None
    assert chosen(by_key(data, "settings")) == ["outpatient", "inpatient"]
    assert [c.value for c in by_key(data, "goals").children] == ["partial", "full", "partial"]


def test_ipmra_html_tables_have_before_after_headers_and_column_numbers():
    from generators.pdf import render_html

    html = etree.HTML(render_html(IPMRA.data(_case("adult_first_group_ii"))))
    tables = html.findall(".//table")
    assert len(tables) == 3
    for table in tables[:2]:
        heads = [" ".join("".join(th.itertext()).split()) for th in table.iter("th")]
        assert "до медицинской реабилитации, медицинской абилитации" in heads
        assert "после медицинской реабилитации, медицинской абилитации" in heads
    number_row = tables[2].findall(".//thead/tr")[1]
    assert ["".join(th.itertext()) for th in number_row] == ["1", "2", "3", "4"]
    assert len(tables[0].findall(".//tbody/tr")) == 13
    assert len(tables[1].findall(".//tbody/tr")) == 5
    assert len(tables[2].findall(".//tbody/tr")) == 17


# --- the IPMRA model --------------------------------------------------------------------


def _with_ipmra(**changes: Any) -> dict[str, Any]:
    d = _raw("adult_first_group_ii")
    d["ipmra"].update(changes)
    return d


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"activities": [{"category": "work", "fc_before": 2}]}, "not a basic category"),
        ({"impairments": [{"kind": "1.4"}, {"kind": "1.4"}]}, "given twice"),
        ({"measures": [{"method": "2", "prescribed": "2026-06-15", "done": "2026-06-01"}]}, "before the date"),
        ({"measures": [{"method": "10"}]}, "needs a detail"),
        ({"fulfilment": "full"}, "fulfilled in full"),
        ({"potential": "excellent"}, "is not one of"),
        ({"activities": [{"category": "mobility", "fc_before": 5}]}, "fc_before"),
        ({"devices": [{"name": f"изделие {i}"} for i in range(7)]}, "devices"),
        ({"extra_field": 1}, "unknown field"),
    ],
)
def test_ipmra_model_rejects_bad_input(changes, fragment):
    with pytest.raises(InputError) as err:
        _load(_with_ipmra(**changes))
    assert fragment in str(err.value) + " ".join(f"{p.path} {p.message}" for p in err.value.problems)


def test_ipmra_is_frozen():
    case = _case("adult_first_group_ii")
    assert case.ipmra is not None
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        case.ipmra.potential = None  # type: ignore[misc]


def test_ipmra_function_wording_follows_the_kinds():
    assert [f.value for f in IpmraFunction] == [k.value for k in ImpairmentKind]


# --- additional examination programme -----------------------------------------------------


def test_programme_items_in_the_statute_order():
    data = EXAM_PROGRAMME.data(_case("refused_additional_exam"))
    numbers = [i.no for i in walk(data.items) if i.no]
    assert numbers == ["1", "2", "3", "4", "5", "6", "7", "8"]
    keys = [i.key for i in data.items]
    assert keys[:2] == ["organisation", "organisationAddress"]
    assert keys[-1] == "date"
    assert [h.key for h in data.header] == ["commissionName", "number"]


def test_programme_values_come_from_the_case():
    case = _case("refused_additional_exam")
    p = case.exam_programme
    assert p is not None
    data = EXAM_PROGRAMME.data(case)
    assert by_key(data, "commissionName").display == case.commission.name
    assert by_key(data, "number").display == p.number
    assert by_key(data, "organisation").display == p.addressee.name
    assert by_key(data, "organisationAddress").display == str(p.addressee.address)
    assert by_key(data, "idNumber").display == case.patient.id_number
    assert by_key(data, "purpose").display == p.purpose
    assert by_key(data, "diagnosis").display == p.diagnosis
    assert by_key(data, "date").display == format_date(p.date)
    assert by_key(data, "registrationAddress").display == str(case.patient.addresses.registration)


def test_programme_signed_by_the_chairman_with_the_seal_on_paper_only():
    from generators.pdf import render_html

    case = _case("refused_additional_exam")
    data = EXAM_PROGRAMME.data(case)
    (sig,) = data.signatures
    assert sig.title == "Председатель МРЭК"
    assert sig.names == (case.commission.chairman.initials,)
    assert sig.seal and sig.seal_footnote == 1
    assert data.footnotes[0].startswith("1 Печать проставляется при оформлении программы")
    assert "М.П." in render_html(data, paper=True)
    assert "М.П." not in render_html(data, paper=False)


def test_programme_number_printed_in_the_title():
    from generators.pdf import render_html

    data = EXAM_PROGRAMME.data(_case("refused_additional_exam"))
    html = etree.HTML(render_html(data))
    (h1,) = html.findall(".//h1")
    text = " ".join("".join(h1.itertext()).split())
    assert text == f"{data.title} № {by_key(data, 'number').display}"


def test_programme_diagnosis_is_optional():
    d = _raw("refused_additional_exam")
    del d["exam_programme"]["diagnosis"]
    data = EXAM_PROGRAMME.data(_load(d))
    assert by_key(data, "diagnosis").value is None


# --- print layout and schema annotations (audit against appendices 8 and 9) ---------------


def _layout_lines(pdf: bytes) -> list[str]:
    import subprocess

    from tests.conftest import require_tool

    out = subprocess.run([require_tool("pdftotext"), "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode().splitlines()


@pytest.mark.parametrize("name", IPMRA_CASES)
def test_ipmra_pdf_prints_each_measure_date_on_one_line(name):
    from generators.pdf import html_to_pdf, render_html

    data = IPMRA.data(_case(name))
    lines = _layout_lines(html_to_pdf(render_html(data)))
    table = by_key(data, "measures").table
    assert table is not None
    dates = {row.cell(key).display for row in table.rows for key in ("prescribed", "done")} - {""}
    assert dates
    broken = [d for d in sorted(dates) if not any(d in line for line in lines)]
    assert not broken, f"dates broken across lines in the measures table: {broken}"


def test_ipmra_pdf_signer_title_on_two_lines_as_in_the_statute():
    from generators.pdf import html_to_pdf, render_html

    lines = [
        " ".join(line.split()) for line in _layout_lines(html_to_pdf(render_html(IPMRA.data(_case(IPMRA_CASES[0])))))
    ]
    i = next(i for i, line in enumerate(lines) if line.startswith("Врач-специалист"))
    assert lines[i].startswith("Врач-специалист, ответственный")
    assert lines[i + 1].startswith("за составление данной программы")


def _xsd_docs(form_id: str) -> dict[str, str]:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    tree = etree.parse(str(ROOT / "xsd" / f"{form_id}.xsd"))
    return {
        el.get("name"): "".join(el.findtext(f"{xs}annotation/{xs}documentation") or "")
        for el in tree.iter(f"{xs}element")
        if el.get("name")
    }


@pytest.mark.parametrize("spec", [IPMRA, EXAM_PROGRAMME], ids=lambda s: s.id)
def test_xsd_annotates_every_numbered_item_with_its_number_and_wording(spec):
    docs = _xsd_docs(spec.id)
    numbered = [i for i in spec.all_items() if i.no]
    assert numbered
    for item in numbered:
        assert docs[item.key].startswith(f"{item.no}. {item.label}"), item.key


def test_programme_xsd_says_where_the_number_and_the_address_stand():
    docs = _xsd_docs(EXAM_PROGRAMME.id)
    assert docs["number"].startswith("№ ")
    assert f"«{EXAM_PROGRAMME.title} № ...»" in docs["number"]
    assert docs["organisationAddress"].startswith("Адрес организации здравоохранения (иной организации)")
    assert "пункту 1" in docs["organisationAddress"]


def test_programme_number_is_in_the_title_line_in_pdf_and_docx(tmp_path):
    """Appendix 9 prints «ПРОГРАММА … КОМИССИИ № ___»: the number in the title, in both formats."""
    import io
    import subprocess

    import docx

    from msedocs.pipeline import render_form
    from tests.conftest import require_tool

    case = _case("refused_additional_exam")
    number = case.exam_programme.number
    pdf, document = render_form(case, EXAM_PROGRAMME, ("pdf", "docx"))
    paragraphs = [p.text for p in docx.Document(io.BytesIO(document.content)).paragraphs]
    title = EXAM_PROGRAMME.title.upper()
    assert f"{title} № {number}" in paragraphs
    assert f"№ {number}" not in paragraphs  # not again on a line of its own
    (tmp_path / "p.pdf").write_bytes(pdf.content)
    text = subprocess.run([require_tool("pdftotext"), str(tmp_path / "p.pdf"), "-"], capture_output=True,
                          check=True).stdout.decode()  # fmt: skip
    # pdftotext joins «МЕДИКО-» at a line end to the next word: compare without hyphens
    assert f"{title} № {number}".replace("-", "") in " ".join(text.split()).replace("-", "")
