"""The DOCX of a template's second and later documents (generators.docx._Prepared: the body
rendered alone, the other parts kept from the first document) against docxtpl's whole path:
every fixture case's every form, paper and electronic, part by part the same contents."""

from __future__ import annotations

import io
import zipfile

import pytest

from generators import docx as docx_gen
from msedocs.forms import get_form
from tests.conftest import case, case_form_pairs

PAIRS = case_form_pairs()


def parts(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        assert package.testzip() is None
        return {name: package.read(name) for name in package.namelist()}


@pytest.mark.parametrize("paper", [True, False], ids=["paper", "electronic"])
@pytest.mark.parametrize(("case_name", "form_id"), PAIRS)
def test_prepared_body_same_as_docxtpl_whole(case_name, form_id, paper, monkeypatch):
    data = get_form(form_id).data(case(case_name))
    monkeypatch.setattr(docx_gen, "_prepared", {})
    whole = docx_gen.render(data, paper=paper)  # the template's first document: docxtpl whole
    (kept,) = docx_gen._prepared.values()
    assert isinstance(kept, docx_gen._Prepared)  # every committed template's other parts are tag-free
    prepared = docx_gen.render(data, paper=paper)
    assert parts(prepared) == parts(whole)
    assert b"{{" not in parts(prepared)["word/document.xml"]  # its tags rendered


def test_a_tagged_part_besides_the_body_keeps_docxtpl_whole(monkeypatch):
    """A template whose footer holds a tag (here split across runs, as Word leaves them) is
    rendered by docxtpl whole every time."""
    data = get_form("by-act").data(case(PAIRS[0][0]))
    template = (docx_gen.TEMPLATES_DIR / "by-act" / "form.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "word/footer1.xml":
                tag = b"<w:r><w:t>{</w:t></w:r><w:r><w:t>{ data.form_id }}</w:t></w:r>"
                body = body.replace(b"</w:p>", tag + b"</w:p>", 1)
            target.writestr(info, body)
    monkeypatch.setattr(docx_gen, "_prepared", {})
    first = docx_gen.render(data, template=out.getvalue())
    assert isinstance(next(iter(docx_gen._prepared.values())), docx_gen._Whole)
    assert b"by-act" in parts(first)["word/footer1.xml"]
    assert parts(docx_gen.render(data, template=out.getvalue())) == parts(first)


@pytest.mark.parametrize(("case_name", "form_id"), PAIRS)
def test_listing_pass_skipped_only_where_it_changes_nothing(case_name, form_id, monkeypatch):
    """Our template skips docxtpl's ``resolve_listing`` when no text holds a tab, bell, line feed
    or form feed: every fixture's DOCX is the same as with docxtpl's pass run."""
    from docxtpl import DocxTemplate

    data = get_form(form_id).data(case(case_name))
    skipped = parts(docx_gen.render(data, paper=False))
    monkeypatch.setattr(docx_gen, "_prepared", {})
    monkeypatch.setattr(docx_gen._Template, "resolve_listing", DocxTemplate.resolve_listing)
    assert parts(docx_gen.render(data, paper=False)) == skipped


def test_listing_characters_in_text_are_still_resolved():
    from docxtpl import DocxTemplate

    listing = '<w:p><w:pPr/><w:r><w:rPr/><w:t xml:space="preserve">a\tb\nc</w:t></w:r></w:p>'
    resolved = docx_gen._Template(None).resolve_listing(listing)
    assert resolved == DocxTemplate.resolve_listing(None, listing)
    assert "<w:tab/>" in resolved and "<w:br/>" in resolved
    plain = '<w:p><w:r><w:t xml:space="preserve">a b</w:t></w:r><w:r><w:tab/></w:r></w:p>\n'
    assert docx_gen._Template(None).resolve_listing(plain) is plain  # a line feed between elements is no text
