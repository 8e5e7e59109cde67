"""DOCX templates (``templates/<id>/form.docx``) built from the document declarations.

Each template is a plain Word document a clerk can open: one paragraph per item in the
form's order holding a docxtpl tag (``{{r rt['i3'] }}``), tables with their statutory
column headers and a ``{%tr for %}`` row, the signature block and the footnotes; a journal's
is a landscape table with one templated row, the session protocol's a table of category rows
per act. :func:`build` reads only what a declaration declares (the protocols below, which
``msedocs.forms``' FormSpec, JournalSpec and SessionSpec satisfy): no form is special-cased
by its id. ``scripts/build_docx_templates.py`` writes them for every registered document; a
form without a committed template gets one built on the fly (``msedocs.pipeline``).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

from msedocs.contract import HeaderCell

from .common import footnote_parts

FONT = "Liberation Serif"


class ItemDecl(Protocol):
    """What the builder reads of a form's item (``msedocs.forms.spec.ItemDef``)."""

    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def printed(self) -> bool: ...
    @property
    def table(self) -> bool: ...
    @property
    def enum(self) -> object:
        """The option list of a choice (a table with one is printed as its options), or None."""
    @property
    def columns(self) -> Sequence[object]: ...
    @property
    def column_numbers(self) -> bool: ...
    @property
    def total(self) -> object:
        """How a table's total is computed, or None when the table has none."""
    @property
    def total_label(self) -> str: ...
    @property
    def inline(self) -> bool: ...
    @property
    def children(self) -> Sequence[ItemDecl]: ...
    @property
    def head(self) -> tuple[tuple[HeaderCell, ...], ...]:
        """The table head as printed: one row of headings, or two under a spanning heading."""


class SessionDecl(Protocol):
    """What the builder reads of any document; all it reads of the session protocol
    (``msedocs.forms.session.SessionSpec``)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def footnotes(self) -> Sequence[str]: ...


class FormDecl(SessionDecl, Protocol):
    """What the builder reads of a form (``msedocs.forms.spec.FormSpec``)."""

    @property
    def header(self) -> Sequence[ItemDecl]: ...
    @property
    def items(self) -> Sequence[ItemDecl]: ...
    @property
    def title_item(self) -> str | None: ...
    @property
    def note(self) -> str:
        """A line printed above the title (the slip's «Подлежит возврату …»)."""
    @property
    def title_as_printed(self) -> bool:
        """The title as declared, before the header's captions (not in capitals after them)."""
    @property
    def tear_off(self) -> FormDecl | None:
        """A form printed on the same sheet after «Линия отреза», its data in ``Document.slip``."""


class ColumnDecl(Protocol):
    @property
    def label(self) -> str: ...


class JournalDecl(SessionDecl, Protocol):
    """What the builder reads of a journal (``msedocs.forms.journals.JournalSpec``)."""

    @property
    def columns(self) -> Sequence[ColumnDecl]: ...


def build(spec: FormDecl | JournalDecl | SessionDecl) -> bytes:
    """The template of any declared document, by its kind: form, journal or protocol."""
    if spec.kind == "form":
        return build_form(spec)  # type: ignore[arg-type]
    if spec.kind == "journal":
        return build_journal(spec)  # type: ignore[arg-type]
    if spec.kind == "protocol":
        return build_session(spec)
    raise ValueError(f"{spec.id}: no DOCX template for a document of kind {spec.kind!r}")


def write(spec: FormDecl | JournalDecl | SessionDecl, root: Path) -> Path:
    """``root/<id>/form.docx``."""
    path = root / spec.id / "form.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build(spec))
    return path


def _para(doc: Any, text: str, *, align: Any = None, bold: bool = False, size: float | None = None) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.space_after = Pt(2)
    if align is not None:
        p.alignment = align
    run = p.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)


def _is_caption(item: ItemDecl) -> bool:
    return item.label[:1].islower()


def _items(doc: Any, items: Sequence[ItemDecl], data_expr: str, rt: str, key: str = "") -> None:
    for i, item in enumerate(items):
        k = f"{key}_{i}" if key else f"i{i}"
        if not item.printed:
            continue
        _para(doc, "{{r " + f"rt['{rt}{k}']" + " }}")
        if item.kind == "records" and item.table and item.enum is None:
            head = item.head
            n = len(head) + item.column_numbers  # rows of the table head
            table = doc.add_table(rows=n + 3, cols=len(item.columns))
            table.style = "Table Grid"
            rows_expr = f"{data_expr}{_path(k)}.table.rows"
            for r, cells in enumerate(head):  # merged cells where a heading spans sub-columns or both rows
                for h in cells:
                    cell = table.cell(r, h.col)
                    last = table.cell(r + h.rowspan - 1, h.col + h.colspan - 1)
                    if last._tc is not cell._tc:
                        cell = cell.merge(last)
                    cell.text = h.text
            for j in range(len(item.columns)):
                if item.column_numbers:
                    table.cell(n - 1, j).text = str(j + 1)
                table.rows[n + 1].cells[j].text = "{{ " + f"row.cells[{j}].display" + " }}"
            table.rows[n].cells[0].text = "{%tr for row in " + rows_expr + " %}"
            table.rows[n + 2].cells[0].text = "{%tr endfor %}"
            if item.total is not None:
                _para(doc, f"{item.total_label} " + "{{ " + f"{data_expr}{_path(k)}.table.total or ''" + " }}")
        if item.kind == "group" and not item.inline:
            _items(doc, item.children, data_expr, rt, k)


def _path(key: str) -> str:
    """'i3_1' -> ".items[3].children[1]": the item's attribute path in the filled-in form."""
    parts = key[1:].split("_")
    out = f".items[{parts[0]}]"
    for p in parts[1:]:
        out += f".children[{p}]"
    return out


def _body(
    doc: Any, spec: FormDecl, data_expr: str, rt: str, *, title_first: bool = False, footnotes: bool = True
) -> None:
    def captions() -> None:
        for i, h in enumerate(spec.header):
            if _is_caption(h):
                _para(doc, "{{r " + f"rt['{rt}h{i}']" + " }}", align=WD_ALIGN_PARAGRAPH.CENTER)
                _para(doc, f"({h.label})", align=WD_ALIGN_PARAGRAPH.CENTER, size=8)

    if not title_first:
        captions()
    in_title = [i for i, h in enumerate(spec.header) if h.key == spec.title_item]
    # the statute prints titles in capitals, the slip's «Отрывной талон» (after the cut line) not
    title = (spec.title if title_first else spec.title.upper()) + "".join(
        " {{r " + f"rt['{rt}h{i}']" + " }}" for i in in_title
    )
    _para(doc, title, align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    if title_first:
        captions()
    for i, h in enumerate(spec.header):
        if i in in_title:
            continue
        if not _is_caption(h):  # «№ … от …» under the title is centred, as the PDF's subtitle
            subtitle = h.kind == "group" and h.inline
            _para(doc, "{{r " + f"rt['{rt}h{i}']" + " }}", align=WD_ALIGN_PARAGRAPH.CENTER if subtitle else None)
    _items(doc, spec.items, data_expr, rt)
    _signatures(doc, rt)
    if footnotes:
        _footnotes(doc, spec.footnotes)


def _signatures(doc: Any, rt: str) -> None:
    """The signature block as the PDF lays it out: a borderless table of title, signature line
    and name, each line with its caption below, a row per signer (and «М.П.»), one row of the
    template repeated over ``sig['<prefix>']``; then the e-signature statement, if electronic."""
    table = doc.add_table(rows=3, cols=3)
    widths = (Mm(50), Mm(40), Mm(80))
    table.rows[0].cells[0].text = "{%tr for row in sig['" + rt + "'] %}"
    line = table.rows[1].cells
    for cell, width in zip(line, widths, strict=True):
        cell.width = width
    line[0].text = "{{ row.title }}"
    line[1].text = "{{r row.line }}"
    line[1].add_paragraph("{{ row.caption_line }}").runs[0].font.size = Pt(8)
    line[2].text = "{{r row.name }}"
    line[2].add_paragraph("{{ row.caption_name }}").runs[0].font.size = Pt(8)
    for cell in line[1:]:
        for p in cell.paragraphs:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    table.rows[2].cells[0].text = "{%tr endfor %}"
    _para(doc, "{{r " + f"rt['{rt}signatures']" + " }}")


def _footnotes(doc: Any, footnotes: Sequence[str]) -> None:
    """Each footnote with its mark in superscript, as the paper form prints it."""
    for f in footnotes:
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(2)
        for part, sup in zip(footnote_parts(f), (True, False), strict=True):
            if part:
                run = p.add_run(part)
                run.font.size = Pt(8)
                run.font.superscript = sup


def _document(size: float, sides: tuple[int, int], ends: tuple[int, int] | None, landscape: bool = False) -> Any:
    """A new document, A4 (landscape or portrait), margins in mm (left and right, top and bottom;
    python-docx's default where None), Liberation Serif at ``size`` pt, «Форма» top right."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    section.left_margin, section.right_margin = Mm(sides[0]), Mm(sides[1])
    if ends is not None:
        section.top_margin, section.bottom_margin = Mm(ends[0]), Mm(ends[1])
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(size)
    _para(doc, "Форма", align=WD_ALIGN_PARAGRAPH.RIGHT)
    return doc


def build_form(spec: FormDecl) -> bytes:
    """A form's template: its items in order, a tear-off form after the cut line if it has one."""
    doc = _document(11, (25, 15), (18, 20))
    if spec.note:
        _para(doc, spec.note, align=WD_ALIGN_PARAGRAPH.CENTER, size=9)
    slip = spec.tear_off
    _body(doc, spec, "data", "", title_first=spec.title_as_printed, footnotes=slip is None)
    if slip is not None:  # one sheet: the footnotes close it once, after the tear-off part
        _para(doc, "Линия отреза", align=WD_ALIGN_PARAGRAPH.CENTER, size=9)
        _para(doc, "-" * 100, align=WD_ALIGN_PARAGRAPH.CENTER, size=8)
        if slip.note:
            _para(doc, slip.note, align=WD_ALIGN_PARAGRAPH.CENTER, size=9)
        _body(doc, slip, "data.slip", "slip_", title_first=slip.title_as_printed, footnotes=False)
        _footnotes(doc, spec.footnotes)
    return _save(doc, spec.title)


def _save(doc: Any, title: str) -> bytes:
    _page_footer(doc)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title, "msedocs", "msedocs"
    props.created = props.modified = FIXED_TIME
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    return _reproducible(buffer.getvalue())


FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _reproducible(docx: bytes) -> bytes:
    """The same bytes for the same content: fixed member timestamps and order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist(), key=lambda n: (n != "[Content_Types].xml", n)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, src.read(name))
    return out.getvalue()


def _page_footer(doc: Any) -> None:
    """«Страница N из M» centred in every section's footer, as the PDFs print it: Word fields
    PAGE and NUMPAGES, computed by Word or LibreOffice when the document is laid out."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def run(p: Any, text: str = "") -> Any:
        r = p.add_run(text)
        r.font.size = Pt(9)
        r.font.name = FONT
        return r

    def field(p: Any, instr: str) -> None:
        for kind, text in (("begin", None), (None, f" {instr} \\* MERGEFORMAT "), ("separate", None), (None, "1"),
                           ("end", None)):  # fmt: skip
            r = run(p)
            if kind is not None:
                char = OxmlElement("w:fldChar")
                char.set(qn("w:fldCharType"), kind)
                r._r.append(char)
            elif text == "1":
                r.text = text  # the cached result, until the document is laid out
            else:
                instr_el = OxmlElement("w:instrText")
                instr_el.set(qn("xml:space"), "preserve")
                instr_el.text = text
                r._r.append(instr_el)

    for section in doc.sections:
        footer = section.footer
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run(p, "Страница ")
        field(p, "PAGE")
        run(p, " из ")
        field(p, "NUMPAGES")


def build_journal(spec: JournalDecl) -> bytes:
    """A landscape table: the statute's headings, the column numbers, one templated row."""
    doc = _document(8, (15, 10), (12, 14), landscape=True)
    _para(doc, "{{ data.commission }}", align=WD_ALIGN_PARAGRAPH.CENTER, size=10)
    _para(doc, "(наименование медико-реабилитационной экспертной комиссии)", align=WD_ALIGN_PARAGRAPH.CENTER, size=7)
    _para(doc, "ЖУРНАЛ", align=WD_ALIGN_PARAGRAPH.CENTER, bold=True, size=11)
    _para(doc, spec.title, align=WD_ALIGN_PARAGRAPH.CENTER, size=11)
    _para(doc, "Начат {{ data.started }}")
    _para(doc, "Окончен {{ data.finished }}")
    labels = ["№ п/п", *(col.label for col in spec.columns)]
    table = doc.add_table(rows=5, cols=len(labels))
    table.style = "Table Grid"
    for j, label in enumerate(labels):
        table.rows[0].cells[j].text = label
        table.rows[1].cells[j].text = str(j + 1)
        table.rows[3].cells[j].text = "{{ row[" + str(j) + "] }}"
    for header_row in (table.rows[0], table.rows[1]):
        _repeat_header(header_row)
    table.rows[2].cells[0].text = "{%tr for row in rows %}"
    table.rows[4].cells[0].text = "{%tr endfor %}"
    for f in spec.footnotes:
        _para(doc, f, size=7)
    return _save(doc, "Журнал " + spec.title)


def build_session(spec: SessionDecl) -> bytes:
    """The session protocol: one table, a block of category rows per act (nested row loops)."""
    doc = _document(10, (25, 15), None)
    _para(doc, "{{ data.commission }}", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "(наименование медико-реабилитационной экспертной комиссии)", align=WD_ALIGN_PARAGRAPH.CENTER, size=8)
    _para(doc, "ПРОТОКОЛ", align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(doc, spec.title, align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(doc, "№ {{ data.number }} от {{ data.date_display }}", align=WD_ALIGN_PARAGRAPH.CENTER)
    table = doc.add_table(rows=7, cols=3)
    table.style = "Table Grid"
    for j, label in enumerate(("Акт освидетельствования в МРЭК¹ (номер)", "Категория данных", "Данные")):
        table.rows[0].cells[j].text = label
        table.rows[1].cells[j].text = str(j + 1)
    _repeat_header(table.rows[0])
    _repeat_header(table.rows[1])
    table.rows[2].cells[0].text = "{%tr for act in data.acts %}"
    table.rows[3].cells[0].text = "{%tr for row in act.rows %}"
    table.rows[4].cells[0].text = "{{ act.act_number if loop.first else '' }}"
    table.rows[4].cells[1].text = "{{ row.label }}"
    table.rows[4].cells[2].text = "{{ row.value or '' }}"
    table.rows[5].cells[0].text = "{%tr endfor %}"
    table.rows[6].cells[0].text = "{%tr endfor %}"
    _para(doc, "{%p for s in data.signatures %}")
    _para(doc, "{{ s.title }}\t{% if paper %}_______________ {% endif %}{{ s.names | join(', ') }}")
    _para(doc, "{%p endfor %}")
    _footnotes(doc, spec.footnotes)
    return _save(doc, "Протокол " + spec.title)


def _repeat_header(row: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)
