"""Journal DOCX: the register's docxtpl template filled with every entry, written as a stream.

docxtpl fills the template (the header, the statute's column headings and the first entry,
in the row the template styles). The other entries are that row again with their own cell
texts, written straight into ``word/document.xml`` inside the output zip: no tree of the
whole table is built, so a journal of any length takes the memory of one row (docxtpl's
post-processing alone costs about a millisecond a row).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

from docxtpl import DocxTemplate
from lxml import etree

from msedocs.contract import Journal

from .common import TEMPLATES_DIR, GeneratorError, display_rows

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
DOCUMENT = "word/document.xml"
ROWS_MARK = "msedocs-rows"
#: Characters XML 1.0 does not allow in text.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_journal(data: Journal) -> bytes:
    """A journal's DOCX in memory (see :func:`write`)."""
    out = io.BytesIO()
    write(data, out)
    return out.getvalue()


def write(data: Journal, target: Path | BinaryIO) -> None:
    """A journal's DOCX written to ``target``, the entries streamed row by row."""
    form_id = data.form_id
    path = TEMPLATES_DIR / form_id / "form.docx"
    if not path.is_file():
        raise GeneratorError(f"{form_id}: no DOCX template at {path}")
    rows = display_rows(data)
    first = next(rows, None)
    doc = DocxTemplate(str(path))
    try:
        doc.render({"data": data, "rows": [first] if first is not None else []}, autoescape=True)
    except Exception as exc:  # docxtpl raises jinja2 and lxml errors alike
        raise GeneratorError(f"{form_id}: DOCX template failed: {exc}") from exc
    filled = io.BytesIO()
    doc.save(filled)
    with zipfile.ZipFile(filled) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != DOCUMENT or first is None:
                dst.writestr(info, src.read(info))
                continue
            head, row_parts, tail = _split(src.read(info), [c.width for c in data.columns])
            with dst.open(DOCUMENT, "w") as part:
                part.write(head)
                for cells in _with_first(first, rows):
                    part.write(_row(row_parts, cells))
                part.write(tail)


def _with_first(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def _split(document: bytes, widths: list[float]) -> tuple[bytes, list[str], bytes]:
    """The document before the entries, the entry row cut around its cell texts, the rest;
    the table's columns sized as the journal declares (``widths``, in proportion)."""
    root = etree.fromstring(document)
    body = root.find(f"{W}body")
    tables = body.findall(f"{W}tbl") if body is not None else []
    if body is None or not tables:
        raise GeneratorError("journal DOCX template: no table")
    _size_columns(body, tables[-1], widths)
    model = tables[-1].findall(f"{W}tr")[-1]
    texts = [cell.find(f".//{W}t") for cell in model.findall(f"{W}tc")]
    if any(t is None for t in texts):
        raise GeneratorError("journal DOCX template: every cell of the entry row needs a text run")
    for i, t in enumerate(texts):
        assert t is not None
        t.text = f"\x7f{i}\x7f"  # a mark no cell text holds (DEL is filtered from cells)
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    row = etree.tostring(model, encoding="unicode")
    row = re.sub(r' xmlns(:\w+)?="[^"]*"', "", row)  # declared on the document's root already
    pieces = re.split("\x7f\\d+\x7f", row)
    tables[-1].replace(model, etree.Comment(ROWS_MARK))
    whole = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    head, tail = whole.split(f"<!--{ROWS_MARK}-->".encode(), 1)
    return head, pieces, tail


def _size_columns(body: etree._Element, table: etree._Element, widths: list[float]) -> None:
    """Columns in proportion to ``widths`` across the section's text width, fixed so that
    Word and LibreOffice keep them (the same declaration sizes the PDF's columns)."""
    size, margins = body.find(f"{W}sectPr/{W}pgSz"), body.find(f"{W}sectPr/{W}pgMar")
    if size is None or margins is None:
        raise GeneratorError("journal DOCX template: no page size or margins")
    text = int(size.get(f"{W}w", "0")) - int(margins.get(f"{W}left", "0")) - int(margins.get(f"{W}right", "0"))
    twips = [round(text * w / sum(widths)) for w in widths]
    twips[-1] += text - sum(twips)
    props = table.find(f"{W}tblPr")
    grid = table.find(f"{W}tblGrid")
    if props is None or grid is None or len(grid) != len(widths):
        raise GeneratorError(f"journal DOCX template: the table needs a grid of {len(widths)} columns")
    for name, attrs in (("tblW", {"w": str(text), "type": "dxa"}), ("tblLayout", {"type": "fixed"})):
        el = props.find(f"{W}{name}")
        if el is None:  # in the schema's order: before the cell margins and the look, if any
            el = etree.Element(f"{W}{name}")
            after = [c for c in props if etree.QName(c).localname in ("tblCellMar", "tblLook", "tblCaption")]
            after[0].addprevious(el) if after else props.append(el)
        for k, v in attrs.items():
            el.set(f"{W}{k}", v)
    for col, tw in zip(grid, twips, strict=True):
        col.set(f"{W}w", str(tw))
    for row in table.findall(f"{W}tr"):
        for cell, tw in zip(row.findall(f"{W}tc"), twips, strict=False):
            width = cell.find(f"{W}tcPr/{W}tcW")
            if width is not None:
                width.set(f"{W}w", str(tw))
                width.set(f"{W}type", "dxa")


def _row(pieces: list[str], cells: list[str]) -> bytes:
    if len(cells) != len(pieces) - 1:
        raise GeneratorError(f"journal DOCX: {len(cells)} cells for {len(pieces) - 1} columns")
    out = [pieces[0]]
    for cell, piece in zip(cells, pieces[1:], strict=True):
        out.append(escape(ILLEGAL.sub("", cell.replace("\x7f", ""))))
        out.append(piece)
    return "".join(out).encode()
