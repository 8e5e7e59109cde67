"""The journal's bounded-memory concatenation: pages in order with their text, the first
part's catalog kept, inherited page attributes made explicit, a file qpdf and poppler
read without a repair, the same bytes for the same parts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from generators import pdf_concat
from tests.conftest import require_tool

XMP_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def make_part(path: Path, texts: list[str], *, inherit: bool = False, attach: str | None = None) -> Path:
    """A PDF of one page per text (Helvetica, FlateDecode contents); with ``inherit`` the
    pages take their MediaBox and Resources from the page tree, not from themselves."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))  # fmt: skip
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    for text in texts:
        content = pikepdf.Stream(pdf, f"BT /F1 24 Tf 72 300 Td ({text}) Tj ET".encode())
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 300, 400], Resources=resources,
                                  Contents=pdf.make_indirect(content))  # fmt: skip
        pdf.pages.append(pikepdf.Page(page))
    if inherit:
        pdf.Root.Pages.MediaBox = pikepdf.Array([0, 0, 200, 500])
        pdf.Root.Pages.Resources = resources
        for page in pdf.pages:
            del page.obj.MediaBox
            del page.obj.Resources
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta[XMP_TITLE] = f"part {path.stem}"
    if attach:
        pdf.attachments[attach] = pikepdf.AttachedFileSpec(pdf, b"<x/>", mime_type="application/xml")
    pdf.save(path, compress_streams=True)
    return path


@pytest.fixture
def parts(tmp_path) -> list[Path]:
    return [
        make_part(tmp_path / "a.pdf", ["Alpha1", "Alpha2"], attach="journal.xml"),
        make_part(tmp_path / "b.pdf", ["Bravo1"], inherit=True, attach="other.xml"),
        make_part(tmp_path / "c.pdf", ["Charlie1", "Charlie2", "Charlie3"]),
    ]


def page_texts(path: Path) -> list[str]:
    require_tool("pdftotext")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    assert text.stderr == ""
    return [page.strip() for page in text.stdout.split("\f")[:-1]]


def test_pages_in_order_with_their_text(parts, tmp_path):
    out = tmp_path / "out.pdf"
    assert pdf_concat.concatenate(parts, out) == 6
    assert page_texts(out) == ["Alpha1", "Alpha2", "Bravo1", "Charlie1", "Charlie2", "Charlie3"]
    require_tool("pdfinfo")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True)
    assert info.stderr == ""  # no "Syntax Error", no xref reconstruction
    assert "Pages:           6" in info.stdout


def xref_offsets(data: bytes) -> list[int]:
    """The in-use offsets of the file's (one, classic) cross-reference table, read strictly:
    20-byte entries (ISO 32000-1, 7.5.4) starting where ``startxref`` says."""
    start = int(data[data.rindex(b"startxref") :].split()[1])
    head, _, rest = data[start:].partition(b"\n")
    assert head == b"xref"
    subsection, _, rest = rest.partition(b"\n")
    first, count = map(int, subsection.split())
    assert first == 0
    entries = [rest[i * 20 : (i + 1) * 20] for i in range(count)]
    assert entries[0] == b"0000000000 65535 f\r\n"
    assert all(re.fullmatch(rb"\d{10} 00000 n\r\n", entry) for entry in entries[1:])
    assert rest[count * 20 :].startswith(b"trailer")
    return [int(entry[:10]) for entry in entries[1:]]


@pytest.mark.parametrize("batch", [3, 4096])  # entries are written in batches
def test_cross_reference_table_is_exact(parts, tmp_path, monkeypatch, batch):
    monkeypatch.setattr(pdf_concat, "XREF_BATCH", batch)
    out = tmp_path / "out.pdf"
    pdf_concat.concatenate(parts, out)
    data = out.read_bytes()
    offsets = xref_offsets(data)
    for num, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % num)
    # every object once: six pages, one font per part, no copy of a part's old page tree
    assert len(re.findall(rb"/Type /Page\b(?!s)", data)) == 6
    assert len(re.findall(rb"/BaseFont /Helvetica", data)) == 3
    assert len(re.findall(rb"/Type /Pages\b", data)) == 4


def test_qpdf_finds_nothing_to_repair(parts, tmp_path):
    out = tmp_path / "out.pdf"
    pdf_concat.concatenate(parts, out)
    job = pikepdf.Job(["qpdf", "--check", str(out)])
    job.run()
    assert job.exit_code == 0 and not job.has_warnings
    with pikepdf.open(out) as pdf:
        assert pdf.check_pdf_syntax() == []
        assert len(pdf.Root.Pages.Kids) == 3  # one node per part under the root
        assert [int(kid.Count) for kid in pdf.Root.Pages.Kids] == [2, 1, 3]


def test_inherited_attributes_are_made_explicit(parts, tmp_path):
    out = tmp_path / "out.pdf"
    pdf_concat.concatenate(parts, out)
    with pikepdf.open(out) as pdf:
        bravo = pdf.pages[2].obj
        assert "/MediaBox" in bravo and [int(x) for x in bravo.MediaBox] == [0, 0, 200, 500]
        assert "/F1" in bravo.Resources.Font
        assert [int(x) for x in pdf.pages[0].obj.MediaBox] == [0, 0, 300, 400]


def test_first_part_catalog_kept_and_edited(parts, tmp_path):
    out = tmp_path / "out.pdf"

    def edit(first: pikepdf.Pdf) -> None:
        with first.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta[XMP_TITLE] = "the whole"

    pdf_concat.concatenate(parts, out, edit_first=edit)
    with pikepdf.open(out) as pdf, pikepdf.open(parts[0]) as first:
        assert list(pdf.attachments) == ["journal.xml"]  # the first part's; the others' are not merged
        assert pdf.attachments["journal.xml"].get_file().read_bytes() == b"<x/>"
        assert pdf.open_metadata()[XMP_TITLE] == "the whole"
        assert bytes(pdf.trailer.ID[0]) == bytes(first.trailer.ID[0])
        assert bytes(pdf.trailer.ID[1]) != bytes(first.trailer.ID[1])
    assert b"the whole" not in parts[0].read_bytes()  # edited in memory only


def test_same_parts_same_bytes(parts, tmp_path):
    one, two = tmp_path / "one.pdf", tmp_path / "two.pdf"
    pdf_concat.concatenate(parts, one)
    pdf_concat.concatenate(parts, two)
    assert one.read_bytes() == two.read_bytes()
    pdf_concat.concatenate(parts[::-1], two)
    assert one.read_bytes() != two.read_bytes()


def test_no_parts_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no parts"):
        pdf_concat.concatenate([], tmp_path / "out.pdf")
    assert not (tmp_path / "out.pdf").exists()


def test_direct_document_information_becomes_an_object(parts, tmp_path):
    with pikepdf.open(parts[0], allow_overwriting_input=True) as first:
        first.trailer.Info = pikepdf.Dictionary(Title=pikepdf.String("direct info"))
        first.save(parts[0])
    out = tmp_path / "out.pdf"
    pdf_concat.concatenate(parts, out)
    assert re.search(rb"/Info \d+ 0 R", out.read_bytes()[-400:])
    with pikepdf.open(out) as pdf:
        assert str(pdf.docinfo.Title) == "direct info"
