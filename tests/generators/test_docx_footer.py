"""Every DOCX (each form, each journal, the session protocol) carries «Страница N из M» in its
footer as the PDFs do: Word fields PAGE and NUMPAGES, which Word and LibreOffice compute when
the document is laid out. Checked in the DOCX's XML with python-docx and, where LibreOffice is
installed, in the text of the PDF it lays the DOCX out into (pdftotext), page by page."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest

from msedocs.cli import main
from tests.conftest import CASES_DIR, case_form_pairs, rendered, require_tool

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
FORM_PAIRS = list({form_id: (c, form_id) for c, form_id in case_form_pairs()}.values())  # one case per form


def footer_fields(content: bytes) -> list[tuple[str, str]]:
    """The footer's text and fields in document order: ("text", t) and ("field", INSTR), for
    every section's primary footer (linked footers are the previous section's)."""
    document = docx.Document(io.BytesIO(content))
    assert document.sections, "no section"
    out: list[tuple[str, str]] = []
    for section in document.sections:
        footer = section.footer
        assert not footer.is_linked_to_previous or section is not document.sections[0], "the first section's footer"
        if footer.is_linked_to_previous:
            continue
        for p in footer.paragraphs:
            in_instr = False
            for el in p._p.iter():
                if el.tag == f"{W}fldSimple":
                    out.append(("field", el.get(f"{W}instr", "").split()[0]))
                elif el.tag == f"{W}fldChar" and el.get(f"{W}fldCharType") == "begin":
                    in_instr = True
                elif el.tag == f"{W}instrText" and in_instr and (el.text or "").strip():
                    out.append(("field", (el.text or "").split()[0]))
                    in_instr = False
                elif el.tag == f"{W}t" and el.text and not _in_field_result(el):
                    out.append(("text", el.text))
    return out


def _in_field_result(t) -> bool:
    """A text run between a field's ``separate`` and ``end`` (its cached result) is not footer text."""
    run = t.getparent()
    depth_result = False
    for el in run.itersiblings(preceding=True):
        char = el.find(f"{W}fldChar")
        if char is not None:
            kind = char.get(f"{W}fldCharType")
            depth_result = kind == "separate"
            break
    return depth_result


def assert_page_n_of_m(content: bytes) -> None:
    parts = footer_fields(content)
    flat = "".join(v if k == "text" else "{" + v + "}" for k, v in parts)
    assert re.sub(r"\s+", " ", flat).strip() == "Страница {PAGE} из {NUMPAGES}", flat


@pytest.mark.parametrize(("case_name", "form_id"), FORM_PAIRS, ids=[f for _, f in FORM_PAIRS])
def test_form_docx_footer_has_page_n_of_m(case_name, form_id):
    assert_page_n_of_m(rendered(case_name, form_id)["docx"])


@pytest.fixture(scope="module")
def journal_and_protocol(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("jp")
    folder = out / "cases.jsonl"  # generated cases of one commission: several pages of each journal
    assert main(["fixtures", "generate", "--count", "60", "--seed", "12", "--out", str(folder)]) == 0
    docs: dict[str, bytes] = {}
    for jid in ("by-journal-protocols", "by-journal-cards", "by-journal-certificates", "by-journal-mpr"):
        assert main(["journal", jid, "--cases", str(folder), "--from", "2000-01-01", "--to", "2026-12-31",
                     "--format", "docx", "--out", str(out / jid)]) == 0  # fmt: skip
        docs[jid] = (out / jid / f"{jid}.docx").read_bytes()
    session = out / "session"
    session.mkdir()
    shutil.copy(CASES_DIR / "adult_first_group_ii.json", session / "a.json")
    assert main(["protocol", "--cases", str(session), "--format", "docx",
                 "--out", str(out / "protocol")]) == 0  # fmt: skip
    docs["by-protocol"] = (out / "protocol" / "by-protocol.docx").read_bytes()
    return docs


@pytest.mark.parametrize(
    "doc_id", ["by-journal-protocols", "by-journal-cards", "by-journal-certificates", "by-journal-mpr", "by-protocol"]
)
def test_journal_and_protocol_docx_footer_has_page_n_of_m(journal_and_protocol, doc_id):
    assert_page_n_of_m(journal_and_protocol[doc_id])


def _soffice_pages(content: bytes, tmp_path: Path) -> list[str]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (the DOCX XML is checked above)")
    src = tmp_path / "doc.docx"
    src.write_bytes(content)
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
                   capture_output=True, check=True, timeout=240)  # fmt: skip
    text = subprocess.run([require_tool("pdftotext"), "-layout", str(tmp_path / "doc.pdf"), "-"],
                          capture_output=True, check=True).stdout.decode()  # fmt: skip
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


@pytest.mark.parametrize(("case_name", "form_id"), [("adult_first_group_ii", "by-act")])
def test_libreoffice_prints_page_n_of_m_on_every_page(case_name, form_id, tmp_path, journal_and_protocol):
    """The fields are computed by an independent layout engine: page k of M on page k."""
    for content in (rendered(case_name, form_id)["docx"], journal_and_protocol["by-journal-protocols"]):
        pages = _soffice_pages(content, tmp_path)
        assert len(pages) >= 1
        for n, page in enumerate(pages, 1):
            assert f"Страница {n} из {len(pages)}" in re.sub(r"\s+", " ", page), (n, page[-300:])
