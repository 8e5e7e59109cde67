"""Every form for every fixture it applies to, checked with independent tools:
xmllint for the XML, poppler (pdftotext, pdffonts, pdfdetach) for the PDF, python-docx for
the DOCX. Labels and values come from the form's data dict, the one source of truth."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import docx
import pytest
from lxml import etree
from pyhanko.pdf_utils.reader import PdfFileReader

from msedocs.contract import Document, Item
from msedocs.forms import REGISTRY
from msedocs.pipeline import render_form
from tests.conftest import ROOT, case, case_form_pairs, rendered, require_tool

PAIRS = case_form_pairs()
IDS = [f"{c}:{f}" for c, f in PAIRS]


def norm(text: str) -> str:
    text = re.sub(r"Страница \d+ из \d+", " ", text)
    text = re.sub(r"-\s*", "", text)  # a hyphenated word may be broken at the end of a line
    return re.sub(r"\s+", " ", text).strip()


def walk(items: Sequence[Item]):
    """Every item the paper form prints (an item kept for the XML only is not on paper)."""
    for item in items:
        if item.printed:
            yield item
            yield from walk(item.children)


def expected_labels(data: Document) -> list[str]:
    out = []
    for item in walk(data.items):
        if item.no:
            out.append(norm(f"{item.no}. {item.label}"))
    return out


def expected_values(data: Document) -> list[str]:
    out = []
    for item in walk(data.header + data.items):
        if item.kind in ("text", "date", "int") and item.display:
            out.append(norm(item.display))
        for opt in item.options:
            out.append(norm(opt.label))
        for row in item.table.rows if item.table else ():
            out.extend(norm(cell.display) for cell in row.cells if cell.display)
    return out


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([require_tool("pdftotext"), "-raw", str(path), "-"], capture_output=True, check=True)
    return norm(out.stdout.decode())


def docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return norm("\n".join(parts))


def test_every_fixture_has_forms():
    assert len({c for c, _ in PAIRS}) >= 8
    assert {f for _, f in PAIRS} >= {"by-act", "by-conclusion", "by-referral", "by-referral-slip"}


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_xml_validates_with_lxml_and_xmllint(case_name, form_id, tmp_path):
    xml = rendered(case_name, form_id)["xml"]
    root = etree.fromstring(xml)
    assert root.get("formId") == form_id
    assert root.get("caseId") == case(case_name).case_id
    schema = etree.XMLSchema(etree.parse(str(ROOT / "xsd" / f"{form_id}.xsd")))
    schema.assertValid(root.getroottree())
    path = tmp_path / f"{form_id}.xml"
    path.write_bytes(xml)
    result = subprocess.run(
        [require_tool("xmllint"), "--noout", "--schema", str(ROOT / "xsd" / f"{form_id}.xsd"), str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_xml_carries_the_case_values(case_name, form_id):
    root = etree.fromstring(rendered(case_name, form_id)["xml"])
    ns = {"f": REGISTRY[form_id].namespace}
    c = case(case_name)
    assert root.findtext(".//f:patientName", namespaces=ns) == c.patient.name.full
    has_id_item = any(i.key == "idNumber" for i in REGISTRY[form_id].all_items())
    if c.patient.id_number and has_id_item:  # the MPR conclusion (appendix 8) has no such item
        assert root.findtext(".//f:idNumber", namespaces=ns) == c.patient.id_number


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_pdf_text_has_every_item_and_value(case_name, form_id, tmp_path):
    data = REGISTRY[form_id].data(case(case_name))
    text = pdf_text(rendered(case_name, form_id)["pdf"], tmp_path)
    assert norm(data.title).upper() in text.upper()
    missing = [label for label in expected_labels(data) if label not in text]
    assert not missing, f"labels missing from the PDF: {missing[:5]}"
    missing = [v for v in expected_values(data) if v not in text]
    assert not missing, f"values missing from the PDF: {missing[:5]}"
    raw = subprocess.run(
        [require_tool("pdftotext"), "-", "-"],
        input=rendered(case_name, form_id)["pdf"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert re.search(r"Страница 1 из \d+", raw)


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_pdf_fonts_embedded_and_xml_attached(case_name, form_id, tmp_path):
    out = rendered(case_name, form_id)
    path = tmp_path / "doc.pdf"
    path.write_bytes(out["pdf"])
    fonts = subprocess.run([require_tool("pdffonts"), str(path)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows, "no fonts in the PDF"
    for row in rows:
        assert "Form-Serif" in row, f"a font that is not the bundled one: {row}"
        assert row.split()[-5] == "yes", f"font not embedded: {row}"
    subprocess.run([require_tool("pdfdetach"), "-saveall", "-o", str(tmp_path), str(path)], check=True)
    attached = tmp_path / f"{form_id}.xml"
    assert attached.read_bytes() == out["xml"]
    meta = subprocess.run(
        [require_tool("pdfinfo"), "-meta", str(path)], capture_output=True, text=True
    ).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, "no PDF/A-3b claim in the XMP"
    catalog = PdfFileReader(io.BytesIO(out["pdf"])).root
    (filespec,) = [f.get_object() for f in catalog["/AF"]]  # one associated file, listed once
    assert filespec["/AFRelationship"] == "/Data"
    assert filespec["/F"] == f"{form_id}.xml"


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_docx_has_every_item_and_value(case_name, form_id):
    data = REGISTRY[form_id].data(case(case_name))
    text = docx_text(rendered(case_name, form_id)["docx"])
    missing = [label for label in expected_labels(data) if label not in text]
    assert not missing, f"labels missing from the DOCX: {missing[:5]}"
    missing = [v for v in expected_values(data) if v not in text]
    assert not missing, f"values missing from the DOCX: {missing[:5]}"
    assert "{{" not in text and "{%" not in text


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_chosen_options_are_underlined_in_docx(case_name, form_id):
    data = REGISTRY[form_id].data(case(case_name))
    document = docx.Document(io.BytesIO(rendered(case_name, form_id)["docx"]))
    underlined = {norm(r.text) for p in document.paragraphs for r in p.runs if r.underline}
    plain = {norm(r.text) for p in document.paragraphs for r in p.runs if not r.underline}
    for item in walk(data.items):
        for opt in item.options:
            label = norm(opt.label + (f" ФК {opt.detail}" if opt.detail else ""))
            if opt.selected:
                assert label in underlined, f"{item.no}: chosen {label!r} not underlined"
            elif item.kind == "choice":
                assert label in plain, f"{item.no}: option {label!r} missing or underlined"


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_chosen_options_are_underlined_in_html(case_name, form_id):
    from generators.pdf import render_html

    data = REGISTRY[form_id].data(case(case_name))
    html = etree.HTML(render_html(data))
    chosen = {norm("".join(u.itertext())) for u in html.iter("u")}
    for item in walk(data.items):
        for opt in item.options:
            if opt.selected:
                label = norm(opt.label + (f" ФК {opt.detail}" if opt.detail else ""))
                assert label in chosen, f"{item.no}: chosen {label!r} not underlined"


def test_referral_pdf_carries_the_slip_after_the_cut_line(tmp_path):
    name = next(c for c, f in PAIRS if f == "by-referral-slip")
    text = pdf_text(rendered(name, "by-referral")["pdf"], tmp_path)
    assert "Линия отреза" in text
    referral_end = text.index("Линия отреза")
    assert "ОТРЫВНОЙ ТАЛОН" in text[referral_end:].upper()
    assert "31. Цель направления на МСЭ" in text[:referral_end]


def test_dates_print_as_on_paper(tmp_path):
    text = pdf_text(rendered("adult_first_group_ii", "by-act")["pdf"], tmp_path)
    assert "«26» мая 1978 г." in text


def test_an_item_for_the_exchange_only_is_in_the_xml_not_on_paper(tmp_path):
    """The IPMRA (appendix 8) has no identification number: the XML carries it, PDF and DOCX don't."""
    name = "adult_first_group_ii"
    out = rendered(name, "by-ipmra")
    ns = {"f": REGISTRY["by-ipmra"].namespace}
    id_number = case(name).patient.id_number
    assert etree.fromstring(out["xml"]).findtext(".//f:idNumber", namespaces=ns) == id_number
    for text in (pdf_text(out["pdf"], tmp_path), docx_text(out["docx"])):
        assert "Идентификационный номер" not in text and id_number not in text
        assert "1. Фамилия, собственное имя, отчество" in text and "2. Дата рождения" in text


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS, ids=IDS)
def test_docx_signature_block_is_the_pdfs(case_name, form_id):
    """Title, signature line and name, each with its caption where the form prints captions, a
    row per signer, «М.П.» under a sealing signer on paper; electronic: neither line nor seal."""
    data = REGISTRY[form_id].data(case(case_name))
    sheets = [data, *([data.slip] if data.slip else [])]
    signers = [s for d in sheets for s in d.signatures]
    lines = [(s, i) for s in signers for i in range(len(s.names))]
    seals = sum(1 for s in signers if s.seal)
    for paper in (True, False):
        document = docx.Document(io.BytesIO(render_form(case(case_name), REGISTRY[form_id], ("docx",),
                                                        paper=paper)[0].content))  # fmt: skip
        rows = [[c.text for c in r.cells] for t in document.tables for r in t.rows if len(r.cells) == 3]
        signed = [r for r in rows if not r[1].startswith("М.П.")]
        assert len(signed) == len(lines)
        for row, (s, i) in zip(signed, lines, strict=True):
            if s.name_first:  # «(инициалы, фамилия) (подпись)», as appendix 11 prints them
                row = [row[0], row[2], row[1]]
            caption = "\n(инициалы, фамилия)" if s.captions else "\n"
            assert row[0] == (s.title if i == 0 else "")
            assert row[2] == s.names[i] + caption or (not s.names[i].strip() and row[2].endswith(caption))
            line = ("_______________\n(подпись)" if s.captions else "_______________\n") if paper else "\n"
            assert row[1] == line
        assert sum(1 for r in rows if r[1].startswith("М.П.")) == (seals if paper else 0)


def test_ipmra_signature_lines_bare_as_appendix_8(tmp_path):
    """Appendix 8 prints the physician's two lines without captions; the act prints them."""
    for form_id, name, captioned in (("by-ipmra", "adult_first_group_ii", False),
                                     ("by-act", "adult_first_group_ii", True)):  # fmt: skip
        text = pdf_text(rendered(name, form_id)["pdf"], tmp_path)
        assert ("(подпись)" in text) is captioned and ("(инициалы, фамилия)" in text) is captioned
