"""The Typst engine (generators/typst_form.py, templates/form.typ) against WeasyPrint
(generators/pdf.py): every fixture case's every form, paper and electronic, in both engines.
Compared: the text (pdftotext, whitespace normalised), the items' order, the underlined options,
the page count (±1), the embedded XML (byte for byte), and «Страница N из M» on every page."""

from __future__ import annotations

import io
import re
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pikepdf
import pytest

from generators import pdf as weasy
from generators import typst_form
from generators import xml as xml_gen
from msedocs import pipeline
from msedocs.cli import main
from msedocs.contract import Document, Item
from msedocs.errors import InputError
from msedocs.forms import get_form
from tests.conftest import case, case_form_pairs, require_tool

PAIRS = case_form_pairs()


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text)  # line breaks fall differently: compare the characters


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def attached(pdf: bytes) -> dict[str, bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return {name: spec.get_file().read_bytes() for name, spec in doc.attachments.items()}


def pages(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def printed_numbers(data: Document) -> list[str]:
    """The printed items' numbers in order, the slip's after the form's."""
    out: list[str] = []

    def walk(items: tuple[Item, ...]) -> None:
        for it in items:
            if it.printed:
                if it.no:
                    out.append(f"{it.no}.")
                if not it.inline:
                    walk(it.children)

    walk(data.items)
    if data.slip is not None:
        out += printed_numbers(data.slip)
    return out


class _Underlined(HTMLParser):
    """The texts of WeasyPrint's HTML inside <u class="chosen">."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.texts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "u":
            self.depth += 1
            self.texts.append("")

    def handle_endtag(self, tag):
        if tag == "u":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.texts[-1] += data


def chosen_in_html(data: Document, paper: bool) -> list[str]:
    parser = _Underlined()
    parser.feed(weasy.render_html(data, paper=paper))
    return sorted(norm(t) for t in parser.texts if norm(t))


def chosen_in_typst(data: Document, paper: bool) -> list[str]:
    """What form.typ underlines as chosen: the runs it is handed with ``chosen`` (walked like the
    layout walks them), which must all be printed."""
    body = typst_form.document_json(data, paper=paper)
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("printed", True) is False:
                return
            for r in node.get("runs", ()):
                if r["chosen"] and norm(r["text"]):
                    found.append(norm(r["text"]))
            for key, value in node.items():
                if key not in ("runs", "layout"):
                    walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(body)
    return sorted(found)


def tokens(text: str) -> Counter[str]:
    """The text's words, numbers and punctuation marks, each with its count."""
    return Counter(re.findall(r"[^\W\d_]+|\d+|[^\w\s-]", text))  # hyphens aside: see the test


def head_texts(data: Document) -> list[str]:
    """The headings of every table of the document (and its column numbers)."""
    out: list[str] = []

    def walk(items: tuple[Item, ...]) -> None:
        for it in items:
            if it.table is not None:
                out.extend(h.text for row in it.table.head for h in row)
                out.extend(str(n) for n in range(1, len(it.table.columns) + 1))
            walk(it.children)

    walk(data.header + data.items)
    if data.slip is not None:
        out += head_texts(data.slip)
    return out


def positions(text: str, numbers: list[str]) -> list[int]:
    """Where each item number («4.») is found at a word's start, each after the previous one
    (-1: not found)."""
    at, out = 0, []
    for n in numbers:
        found = re.search(rf"\s{re.escape(n)}(?!\d)", text[at:])
        if found is None:
            out.append(-1)
            continue
        at += found.end()
        out.append(at)
    return out


@pytest.mark.parametrize("paper", [True, False], ids=["paper", "electronic"])
@pytest.mark.parametrize(("case_name", "form_id"), PAIRS)
def test_typst_and_weasyprint_agree(case_name, form_id, paper, tmp_path):
    data = get_form(form_id).data(case(case_name))
    xml = xml_gen.render(data)
    w_pdf = weasy.render(data, xml=xml, paper=paper)
    t_pdf = typst_form.render(data, xml=xml, paper=paper)
    w_text, t_text = pdf_text(w_pdf, tmp_path, "w.pdf"), pdf_text(t_pdf, tmp_path, "t.pdf")
    # the page footer «Страница N из M» on every page, M the page count
    w_pages, t_pages = pages(w_pdf), pages(t_pdf)
    assert abs(w_pages - t_pages) <= 1, (w_pages, t_pages)
    for n in range(1, t_pages + 1):
        assert f"Страница {n} из {t_pages}" in t_text
    # the same text, page footers aside: the same words, numbers and punctuation, as many times
    # each (pdftotext reads a table's wrapped cells and a superscript mark in an order of its own)
    strip = lambda text: re.sub(r"Страница \d+ из \d+", "", text)  # noqa: E731
    t_tokens, w_tokens = tokens(strip(t_text)), tokens(strip(w_text))
    if t_tokens != w_tokens:  # a table's head repeats on each page it runs over: pages break elsewhere
        # and pdftotext glues a word broken after its hyphen («медико-») to what it reads next
        # («врача-» at a line's end, then «эпилептолога»: «врачаэпилептолога» on that side, its two
        # halves on the other)
        heads, known = set(tokens(" ".join(head_texts(data)))), set(t_tokens) | set(w_tokens)
        differ = (t_tokens - w_tokens) + (w_tokens - t_tokens)
        splits = {x: [(x[:i], x[i:]) for i in range(1, len(x)) if x[:i] in known and x[i:] in known] for x in differ}
        halves = {half for pairs in splits.values() for pair in pairs for half in pair}
        odd = {x for x in differ if x not in heads and not splits[x] and x not in halves}
        assert not odd, (t_tokens - w_tokens, w_tokens - t_tokens)
    # every printed item, in the declared order, in both
    numbers = printed_numbers(data)
    for text in (w_text, t_text):
        found = positions(" " + " ".join(text.split()), numbers)
        assert -1 not in found and found == sorted(found), (numbers, found)
    # the same options underlined as chosen, each printed
    chosen = chosen_in_typst(data, paper)
    assert chosen == chosen_in_html(data, paper)
    # pdftotext drops a hyphen that ends a line; an option may run over a page break, the page's
    # footer read between its words
    flat = norm(strip(t_text)).replace("-", "")
    for text in chosen:
        assert text.replace("-", "") in flat
    # the same XML attached, byte for byte
    assert attached(t_pdf) == attached(w_pdf) == {f"{form_id}.xml": xml}


def test_typst_pdf_is_pdfa_3b_with_the_xml_as_data():
    data = get_form("by-act").data(case("adult_first_group_ii"))
    pdf = typst_form.render(data, xml=xml_gen.render(data))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta.pdfa_status == "3B"
        (spec,) = doc.Root.AF
        assert spec.AFRelationship == "/Data"
        fonts = {str(f.BaseFont).split("+")[-1] for p in doc.pages for f in p.Resources.Font.values()}
        assert fonts <= {"LiberationSerif", "LiberationSerif-Bold"}


def test_the_extract_reserves_its_stamps_room_as_a_named_destination():
    data = get_form("ru-extract").data(case("ru_not_recognised_portal"))
    pdf = typst_form.render(data, paper=False)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert not doc.Root.Names.get("/Dests").is_indirect  # signing.pades reads it as it is
        names = list(doc.Root.Names.Dests.Names)
        assert str(names[0]) == "esign-stamp"
        assert all("/Annots" not in p.obj for p in doc.pages)


def test_engine_is_chosen_per_call_by_setting_and_option(tmp_path, monkeypatch, capsys):
    source = case("adult_first_group_ii")
    typst_pdf = pipeline.render(source, "by-act", "pdf", engine="typst").content
    assert b"Typst" in typst_pdf
    assert b"Typst" not in pipeline.render(source, "by-act", "pdf").content
    monkeypatch.setenv(pipeline.ENGINE_SETTING, "typst")
    assert b"Typst" in pipeline.render_package(source, ("pdf",), ["by-act"])[0].content
    assert b"Typst" not in pipeline.render(source, "by-act", "pdf", engine="weasyprint").content
    with pytest.raises(InputError, match="unknown PDF engine"):
        pipeline.parse_engine("latex")
    monkeypatch.delenv(pipeline.ENGINE_SETTING)
    out = tmp_path / "out"
    from tests.conftest import CASES_DIR

    args = ["render", str(CASES_DIR / "adult_first_group_ii.json"), "--form", "by-act", "--format", "pdf"]
    assert main([*args, "--engine", "typst", "--out", str(out)]) == 0
    assert b"Typst" in (out / "by-act.pdf").read_bytes()
    assert main([*args, "--engine", "tex", "--out", str(tmp_path / "no")]) == 2
    assert "unknown PDF engine" in capsys.readouterr().err


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS)
def test_document_json_is_asdict(case_name, form_id):
    """form.typ reads what ``dataclasses.asdict`` gives of the document (typst_form converts it
    without asdict's deep copies)."""
    import json
    from dataclasses import asdict

    data = get_form(form_id).data(case(case_name))
    ours = typst_form.document_json(data, paper=False)
    reference = asdict(data)
    typst_form._complete(reference, data, False)
    assert json.dumps(ours, ensure_ascii=False) == json.dumps(reference, ensure_ascii=False)
