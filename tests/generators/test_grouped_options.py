"""Options the statute prints under headings, and the IPMRA's two-level table heads.

MPR conclusion (appendix 8 to the Instruction) items 11.1, 11.2, 14 and IPMRA (appendix 8 to
the resolution) item 8 print their options grouped: «основное (...); дополнительное
образование; ...», «пенсионер: по возрасту, ...», «<goal> (полностью, частично); ...»; so do
the referral (appendix 10) «Место освидетельствования: ...; на выездном заседании (...)» and
«... выполнена (полностью, частично), не выполнена», and IPMRA item 12 «в амбулаторных
(стационарных) условиях, на дому, ...». The statute's wording below is copied from seed 004
(lines 4810-4818, 4844-4846, 1814-1817, 1941-1943, 2023, 1857-1858) and checked against the PDF
(pdftotext), the HTML behind it and the DOCX (python-docx), with the chosen option(s)
underlined, the heading over them too, and nothing else in the item.
"""

from __future__ import annotations

import io
import json
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn
from lxml import etree

from generators import docx as docx_gen
from generators.pdf import render_html
from msedocs.contract import Document, HeaderCell, Item
from msedocs.forms import REGISTRY
from msedocs.forms.ipmra import AFTER, BEFORE, DEGREE_HEAD, DYNAMICS_HEAD, EFFECT_HEAD, FC_HEAD
from msedocs.forms.spec import Column, ItemDef, OptionGroup, table_head
from msedocs.model import load_case
from msedocs.model.mpr import PensionStatus
from tests.conftest import CASES_DIR, case, rendered
from tests.generators.test_outputs import norm, pdf_text

MPR = "by-mpr-conclusion"
IPMRA = "by-ipmra"

# the statute's wording of each item, from its number to «(нужное подчеркнуть ...)»
STATUTE = {
    "11.1": "11.1. уровень образования (нужное подчеркнуть, другое указать) полученного (получаемого): "
    "основное (общее базовое образование, общее среднее образование, профессионально-техническое, "
    "среднее специальное, высшее образование); дополнительное образование; специальное образование",
    "11.2": "11.2. вид освоенной (осваиваемой) образовательной программы: основного образования "
    "(общего среднего, профессионально-технического, среднего специального, высшего, послевузовского); "
    "дополнительного образования; специального образования: на уровне общего среднего образования; "
    "на уровне общего среднего образования для лиц с интеллектуальной недостаточностью (нужное подчеркнуть)",
    "14": "14. Отношение к пенсионированию: не является пенсионером; пенсионер: по возрасту, "
    "за особые условия труда, за выслугу лет, по инвалидности, другие причины досрочного "
    "пенсионирования (нужное подчеркнуть, другое указать)",
    "8": "8. Цель медицинской реабилитации, медицинской абилитации: восстановление или развитие "
    "нарушенных функций органов и систем организма пациента (полностью, частично); компенсация "
    "нарушенных либо утраченных, либо несформированных функций органов и систем организма пациента "
    "с помощью лекарственных средств, технических средств социальной реабилитации (далее – ТССР) "
    "(полностью, частично); снижение степени или устранение ограничения категорий жизнедеятельности "
    "пациента (полностью, частично) (нужное подчеркнуть).",
}
# group headings (and lone options at the top level) in the statute's order
HEADINGS = {
    "11.1": ["основное (", "); дополнительное образование", "; специальное образование"],
    "11.2": ["основного образования (", "); дополнительного образования", "; специального образования:"],
    "14": ["не является пенсионером;", "пенсионер:"],
    "8": ["восстановление или развитие", "); компенсация нарушенных", "); снижение степени"],
}
RESTORATION = "восстановление или развитие нарушенных функций органов и систем организма пациента"
COMPENSATION = (
    "компенсация нарушенных либо утраченных, либо несформированных функций органов и систем организма "
    "пациента с помощью лекарственных средств, технических средств социальной реабилитации (далее – ТССР)"
)
LIMITATION = "снижение степени или устранение ограничения категорий жизнедеятельности пациента"

# (case, form, item) -> what is underlined in the item, in print order: the heading over the
# chosen option, then the option; a lone option alone
UNDERLINED = {
    ("occupational_disease_percentages", MPR, "11.1"): ["основное", "профессионально-техническое"],
    ("occupational_disease_percentages", MPR, "11.2"): ["основного образования", "профессионально-технического"],
    ("occupational_disease_percentages", MPR, "14"): ["пенсионер", "за особые условия труда"],
    ("not_recognised", MPR, "11.1"): ["основное", "высшее образование"],
    ("not_recognised", MPR, "11.2"): ["основного образования", "высшего"],
    ("not_recognised", MPR, "14"): ["не является пенсионером"],
    ("adult_first_group_ii", IPMRA, "8"): [RESTORATION, "частично", LIMITATION, "частично"],
    ("child_with_representative", IPMRA, "8"): [
        RESTORATION,
        "частично",
        COMPENSATION,
        "полностью",
        LIMITATION,
        "частично",
    ],
}
CASES = sorted({(c, f) for c, f, _ in UNDERLINED})


ITEMS = {MPR: ["11.1", "11.2", "14"], IPMRA: ["8"]}
# every heading of the item is a run of its own, underlined only over a chosen option
HEADING_RUNS = {
    "11.1": ["основное"],
    "11.2": ["основного образования", "специального образования"],
    "14": ["пенсионер"],
    "8": [RESTORATION, COMPENSATION, LIMITATION],
}


def _item_div(html: str, no: str) -> etree._Element:
    return _div_at(html, f"{no}. ")


def _div_at(html: str, start: str) -> etree._Element:
    """The one item (div) of the HTML whose text starts so."""
    tree = etree.HTML(html)
    (div,) = [d for d in tree.iter("div") if norm("".join(d.itertext())).startswith(norm(start))]
    return div


def _docx_paragraph(content: bytes, no: str) -> Any:
    return _para_at(content, f"{no}. ")


def _para_at(content: bytes, start: str) -> Any:
    """The one paragraph of the DOCX whose text starts so."""
    document = docx.Document(io.BytesIO(content))
    (para,) = [p for p in document.paragraphs if p.text.startswith(start)]
    return para


def _underlined_html(div: etree._Element) -> list[str]:
    return [" ".join("".join(u.itertext()).split()) for u in div.iter("u")]


def _in_order(text: str, fragments: list[str]) -> bool:
    at = [text.find(norm(f)) for f in fragments]
    return -1 not in at and at == sorted(at)


@pytest.mark.parametrize(("case_name", "form_id"), CASES, ids=[f"{c}:{f}" for c, f in CASES])
def test_mpr_ipmra_pdf_prints_the_statute_grouping_word_for_word(case_name, form_id, tmp_path):
    text = pdf_text(rendered(case_name, form_id)["pdf"], tmp_path)
    for no in ITEMS[form_id]:
        assert norm(STATUTE[no]) in text, f"{no}: the PDF does not print the statute's wording"
        start = text.index(norm(STATUTE[no]))
        item_text = text[start : start + len(norm(STATUTE[no]))]
        assert _in_order(item_text, HEADINGS[no]), f"{no}: headings out of the statute's order"


@pytest.mark.parametrize(("case_name", "form_id"), CASES, ids=[f"{c}:{f}" for c, f in CASES])
def test_mpr_ipmra_docx_prints_the_statute_grouping_word_for_word(case_name, form_id):
    content = rendered(case_name, form_id)["docx"]
    for no in ITEMS[form_id]:
        text = norm(_docx_paragraph(content, no).text)
        assert text.startswith(norm(STATUTE[no])), f"{no}: the DOCX does not print the statute's wording"
        assert _in_order(text, HEADINGS[no]), f"{no}: headings out of the statute's order"


@pytest.mark.parametrize(("case_name", "form_id", "no"), list(UNDERLINED), ids=["-".join(k) for k in UNDERLINED])
def test_mpr_ipmra_chosen_option_and_its_heading_underlined_in_html(case_name, form_id, no):
    div = _item_div(render_html(REGISTRY[form_id].data(case(case_name))), no)
    assert [" ".join("".join(u.itertext()).split()) for u in div.iter("u")] == UNDERLINED[case_name, form_id, no]


@pytest.mark.parametrize(("case_name", "form_id", "no"), list(UNDERLINED), ids=["-".join(k) for k in UNDERLINED])
def test_mpr_ipmra_chosen_option_and_its_heading_underlined_in_docx(case_name, form_id, no):
    para = _docx_paragraph(rendered(case_name, form_id)["docx"], no)
    assert [r.text for r in para.runs if r.underline] == UNDERLINED[case_name, form_id, no]
    runs = {r.text for r in para.runs}
    assert set(HEADING_RUNS[no]) <= runs, f"{no}: a heading is not a run of its own"


def _mpr_variant(**changes: Any) -> dict[str, Any]:
    d = json.loads((CASES_DIR / "occupational_disease_percentages.json").read_text(encoding="utf-8"))
    d["mpr"].update(changes)
    return REGISTRY[MPR].data(load_case(d))


def test_mpr_lone_option_underlined_without_any_heading_and_second_group():
    """«дополнительное образование» stands alone; «специального образования:» heads its own group."""
    data = _mpr_variant(
        education_levels=["higher", "additional"],
        education_programmes=["special_intellectual"],
        pension=["age", "disability"],
    )
    expected = {
        "11.1": ["основное", "высшее образование", "дополнительное образование"],
        "11.2": [
            "специального образования",
            "на уровне общего среднего образования для лиц с интеллектуальной недостаточностью",
        ],
        "14": ["пенсионер", "по возрасту", "по инвалидности"],
    }
    html = render_html(data)
    content = docx_gen.render(data)
    for no, underlined in expected.items():
        assert [" ".join("".join(u.itertext()).split()) for u in _item_div(html, no).iter("u")] == underlined
        para = _docx_paragraph(content, no)
        assert [r.text for r in para.runs if r.underline] == underlined
        assert norm(para.text).startswith(norm(STATUTE[no]))


def test_mpr_grouping_leaves_xml_values_flat():
    """The headings are print only: the XML keeps the chosen enum values as before."""
    root = etree.fromstring(rendered("occupational_disease_percentages", MPR)["xml"])
    ns = {"f": REGISTRY[MPR].namespace}
    assert root.xpath("//f:education/f:level/f:option/text()", namespaces=ns) == ["vocational"]
    assert root.xpath("//f:education/f:programme/f:option/text()", namespaces=ns) == ["vocational"]
    assert root.xpath("//f:pension/f:option/text()", namespaces=ns) == ["special_conditions"]


def test_option_groups_must_follow_the_enum_order():
    members = (PensionStatus.AGE, PensionStatus.LONG_SERVICE)  # «за особые условия труда» skipped
    with pytest.raises(ValueError, match="consecutive"):
        ItemDef("14", "pension", "x", "choice", enum=PensionStatus, groups=(OptionGroup("пенсионер", members),))
    with pytest.raises(ValueError, match="two groups"):
        ItemDef(
            "14", "pension", "x", "choice", enum=PensionStatus,
            groups=(OptionGroup("a", (PensionStatus.AGE,)), OptionGroup("b", (PensionStatus.AGE,))),
        )  # fmt: skip


def test_table_head_spans_sub_columns():
    cols = (Column("a", "A"), Column("b", "B1", group="B"), Column("c", "B2", group="B"), Column("d", "D"))
    top, sub = table_head(cols)
    assert [(h.text, h.colspan, h.rowspan) for h in top] == [("A", 1, 2), ("B", 2, 1), ("D", 1, 2)]
    assert [(h.text, h.col) for h in sub] == [("B1", 1), ("B2", 2)]
    assert table_head(cols[:1]) == ((HeaderCell("A", col=0, colspan=1, rowspan=1),),)


# --- IPMRA tables: two-level heads in the DOCX as in the PDF and the statute ----------------


def _cell_text(cell: Any) -> str:
    return " ".join(cell.text.split())


@pytest.mark.parametrize("case_name", ["adult_first_group_ii", "child_with_representative"])
def test_ipmra_docx_tables_have_two_level_merged_heads(case_name):
    document = docx.Document(io.BytesIO(rendered(case_name, IPMRA)["docx"]))
    impairments, activities, measures, _signatures = document.tables
    for table, first, group, last in (
        (impairments, "Нарушения функций органов и систем организма", DEGREE_HEAD, DYNAMICS_HEAD),
        (activities, "Базовые категории жизнедеятельности", FC_HEAD, EFFECT_HEAD),
    ):
        # the spanning heading: one cell over columns 2-3 (gridSpan), the others over both rows (vMerge)
        top, below = table.rows[0]._tr.tc_lst, table.rows[1]._tr.tc_lst
        assert len(top) == 3 and len(below) == 4
        assert table.cell(0, 1)._tc is table.cell(0, 2)._tc is top[1]
        assert top[1].tcPr.find(qn("w:gridSpan")).get(qn("w:val")) == "2"
        for col, j in ((0, 0), (3, 2)):
            assert table.cell(0, col)._tc is table.cell(1, col)._tc is top[j]
            assert top[j].tcPr.find(qn("w:vMerge")).get(qn("w:val")) == "restart"
            assert below[col].tcPr.find(qn("w:vMerge")).get(qn("w:val")) is None  # "continue"
        assert [_cell_text(table.cell(0, j)) for j in range(4)] == [first, group, group, last]
        assert [_cell_text(table.cell(1, j)) for j in (1, 2)] == [BEFORE, AFTER]
        assert _cell_text(table.cell(2, 0)) != first  # data rows follow the two head rows
    assert [_cell_text(c) for c in impairments.rows[2].cells][0] == "нарушения психических функций"
    assert [_cell_text(c) for c in activities.rows[2].cells][0] == "Способность к самостоятельному передвижению"
    # the measures table: one row of headings, then the statute's column numbers
    assert [_cell_text(c) for c in measures.rows[1].cells] == ["1", "2", "3", "4"]
    assert _cell_text(measures.rows[2].cells[1]).startswith("Психотерапия, психокоррекция")


def test_ipmra_html_table_heads_span_as_declared():
    html = etree.HTML(render_html(REGISTRY[IPMRA].data(case("adult_first_group_ii"))))
    table = html.findall(".//table")[0]
    top, sub = table.findall(".//thead/tr")
    assert [(th.text, th.get("colspan"), th.get("rowspan")) for th in top] == [
        ("Нарушения функций органов и систем организма", None, "2"),
        (DEGREE_HEAD, "2", None),
        (DYNAMICS_HEAD, None, "2"),
    ]
    assert [th.text for th in sub] == [BEFORE, AFTER]


# --- the referral's place and programme fulfilment, IPMRA item 12 ---------------------------

REFERRAL = "by-referral"
MREK = "по месту расположения медико-реабилитационной экспертной комиссии (далее – МРЭК)"
HEALTH_ORGANISATION = (
    "в организации здравоохранения, оказывающей пациенту медицинскую помощь в амбулаторных (стационарных) условиях"
)
VKK_TSSR = "в направлении на ВКК для определения нуждаемости в ТССР"
# seed 004, appendix 10 lines 1941-1943 and 2023; appendix 8 lines 1857-1858
WORDING = {
    "place": "Место освидетельствования: по месту расположения медико-реабилитационной экспертной комиссии "
    "(далее – МРЭК); на выездном заседании (по месту регистрации (месту жительства или пребывания), "
    "в организации здравоохранения, оказывающей пациенту медицинскую помощь в амбулаторных (стационарных) "
    "условиях, в учреждении уголовно-исполнительной системы Министерства внутренних дел) "
    "(нужное подчеркнуть, другое указать)",
    "ipmraFulfilment": "Индивидуальная программа медицинской реабилитации, абилитации пациента: "
    "выполнена (полностью, частично), не выполнена (нужное подчеркнуть).",
    "finalRecommendations": "12. Заключительные рекомендации – нуждается, не нуждается в продолжении "
    "медицинской реабилитации, медицинской абилитации в амбулаторных (стационарных) условиях, на дому, "
    "в направлении на ВКК для определения нуждаемости в ТССР (нужное подчеркнуть, другое указать)",
}
# where each item's paragraph starts (the first two have no number)
START = {
    "place": "Место освидетельствования:",
    "ipmraFulfilment": "Индивидуальная программа медицинской реабилитации, абилитации пациента:",
    "finalRecommendations": "12. ",
}
FORM_ITEMS = {REFERRAL: ["place", "ipmraFulfilment"], IPMRA: ["finalRecommendations"]}
# (case, form, item) -> what is underlined, in print order (the DOCX underlines an «другое указать» text too)
UNDERLINED_MORE = {
    ("adult_first_group_ii", REFERRAL, "place"): [MREK],
    ("in_absentia", REFERRAL, "place"): ["на выездном заседании", HEALTH_ORGANISATION],
    ("adult_first_group_ii", REFERRAL, "ipmraFulfilment"): ["выполнена", "частично"],
    ("child_with_representative", REFERRAL, "ipmraFulfilment"): ["выполнена", "полностью"],
    ("in_absentia", REFERRAL, "ipmraFulfilment"): ["не выполнена"],
    ("adult_first_group_ii", IPMRA, "finalRecommendations"): ["нуждается", "в амбулаторных", VKK_TSSR],
    ("child_with_representative", IPMRA, "finalRecommendations"): [
        "нуждается",
        "в амбулаторных",
        "(стационарных) условиях",
    ],
}
MORE_CASES = sorted({(c, f) for c, f, _ in UNDERLINED_MORE})


def _item(data: Document, key: str) -> Item:
    (item,) = [i for i in [*data.header, *data.items] if i.key == key]
    return item


def _other(data: Document, key: str) -> list[str]:
    """The «другое указать» text of an item (or of its choices), which the DOCX writes underlined."""
    item = _item(data, key)
    return [o for i in [item, *item.children] if (o := i.other)]


@pytest.mark.parametrize(("case_name", "form_id"), MORE_CASES, ids=[f"{c}:{f}" for c, f in MORE_CASES])
def test_referral_ipmra_pdf_prints_the_statute_wording(case_name, form_id, tmp_path):
    text = pdf_text(rendered(case_name, form_id)["pdf"], tmp_path)
    for key in FORM_ITEMS[form_id]:
        assert norm(WORDING[key]) in text, f"{key}: the PDF does not print the statute's wording"


@pytest.mark.parametrize(("case_name", "form_id"), MORE_CASES, ids=[f"{c}:{f}" for c, f in MORE_CASES])
def test_referral_ipmra_docx_prints_the_statute_wording(case_name, form_id):
    content = rendered(case_name, form_id)["docx"]
    data = REGISTRY[form_id].data(case(case_name))
    html = render_html(data)
    for key in FORM_ITEMS[form_id]:
        text = norm(_para_at(content, START[key]).text)
        assert text == norm(" ".join([WORDING[key], *_other(data, key)])), f"{key}: not the statute's wording"
        # one declaration, one wording: the PDF's HTML prints the item as the DOCX does
        assert norm("".join(_div_at(html, START[key]).itertext())) == text


@pytest.mark.parametrize(
    ("case_name", "form_id", "key"), list(UNDERLINED_MORE), ids=["-".join(k) for k in UNDERLINED_MORE]
)
def test_referral_ipmra_chosen_option_and_its_heading_underlined(case_name, form_id, key):
    data = REGISTRY[form_id].data(case(case_name))
    assert _underlined_html(_div_at(render_html(data), START[key])) == UNDERLINED_MORE[case_name, form_id, key]
    para = _para_at(rendered(case_name, form_id)["docx"], START[key])
    underlined = [r.text for r in para.runs if r.underline]
    assert underlined == UNDERLINED_MORE[case_name, form_id, key] + _other(data, key)


def _variant(name: str, form_id: str, part: str, **changes: Any) -> dict[str, Any]:
    d = json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    d[part].update(changes)
    return REGISTRY[form_id].data(load_case(d))


@pytest.mark.parametrize(
    ("changes", "underlined"),
    [
        (
            {"place": "visiting_home", "place_other": None},
            ["на выездном заседании", "по месту регистрации (месту жительства или пребывания)"],
        ),
        (
            {"place": "penal_institution", "place_other": None},
            ["на выездном заседании", "в учреждении уголовно-исполнительной системы Министерства внутренних дел"],
        ),
    ],
    ids=["visiting_home", "penal_institution"],
)
def test_referral_place_under_visiting_session_heading(changes, underlined):
    data = _variant("adult_first_group_ii", REFERRAL, "referral", **changes)
    assert _underlined_html(_div_at(render_html(data), START["place"])) == underlined
    para = _para_at(docx_gen.render(data), START["place"])
    assert [r.text for r in para.runs if r.underline] == underlined
    assert norm(para.text) == norm(WORDING["place"])


def test_ipmra_inpatient_setting_alone_underlined():
    data = _variant("adult_first_group_ii", IPMRA, "ipmra", continuation="not_needed", settings=["inpatient", "home"])
    underlined = ["не нуждается", "(стационарных) условиях", "на дому"]
    assert _underlined_html(_div_at(render_html(data), "12. ")) == underlined
    para = _para_at(docx_gen.render(data), "12. ")
    assert [r.text for r in para.runs if r.underline] == underlined
    assert norm(para.text) == norm(WORDING["finalRecommendations"])


def test_referral_ipmra_grouping_leaves_xml_values_flat():
    """The headings and the one-space separator are print only: the XML keeps the enum values."""
    ns = {"f": REGISTRY[REFERRAL].namespace}
    root = etree.fromstring(rendered("adult_first_group_ii", REFERRAL)["xml"])
    assert root.xpath("//f:place/f:option/text()", namespaces=ns) == ["mrek"]
    assert root.xpath("//f:ipmraFulfilment/f:option/text()", namespaces=ns) == ["partial"]
    root = etree.fromstring(rendered("in_absentia", REFERRAL)["xml"])
    assert root.xpath("//f:place/f:option/text()", namespaces=ns) == ["health_organisation"]
    assert root.xpath("//f:ipmraFulfilment/f:option/text()", namespaces=ns) == ["not_done"]
    ns = {"f": REGISTRY[IPMRA].namespace}
    root = etree.fromstring(rendered("child_with_representative", IPMRA)["xml"])
    assert root.xpath("//f:finalRecommendations/f:settings/f:option/text()", namespaces=ns) == [
        "outpatient",
        "inpatient",
    ]


def test_referral_ipmra_xsd_documents_the_statute_wording():
    """The XSD annotations come from the same declarations: the statute's wording, item by item."""
    docs = {}
    for form_id in (REFERRAL, IPMRA):
        for item in REGISTRY[form_id].all_items():
            docs[item.key] = item.documentation
    assert docs["place"] == WORDING["place"]
    assert docs["ipmraFulfilment"] == WORDING["ipmraFulfilment"]
    assert "в амбулаторных (стационарных) условиях, на дому, " in docs["settings"]
