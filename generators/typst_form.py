"""PDF renderer of the forms with Typst: the second engine beside WeasyPrint (generators.pdf).

One layout file, ``templates/form.typ``, lays out every form from its filled-in document
(:class:`msedocs.contract.Document`, handed over as JSON): the same A4 page, margins and bundled
Liberation Serif as ``form.css``, «Страница N из M» in the footer, PDF/A-3b with the form's XML
attached (relationship Data), as the journals already are (generators.journal_pdf). Nothing is
written to disk: the layout and the data go to the compiler in memory, and the compiler (its
fonts loaded once) is kept for the life of the process.

What the few forms with an HTML template of their own (``templates/<id>/form.html.j2``) change
in the shared layout is declared here as data (:data:`LAYOUT`: a table's column widths, the
width of the signers' titles, a title printed on two lines), not as a second template.
"""

from __future__ import annotations

import io
import json
from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any

import pikepdf
import typst

from msedocs.contract import Document, SessionProtocol

from .common import FONTS_DIR, TEMPLATES_DIR, GeneratorError, esign_statement, footnote_parts

#: Each form's departures from the shared layout, the same as its HTML template's: ``widths``
#: per records item (per cent of the text width), ``centre_first`` items whose first column
#: is centred, ``sig_title_mm`` the width of the signers' titles, ``title_lines`` the title as
#: printed line by line.
LAYOUT: dict[str, dict[str, Any]] = {
    "by-card": {"widths": {"results": [6, 16, 18, 30, 16, 14]}},
    "by-ipmra": {
        "widths": {"impairments": [40, 18, 18, 24], "activityLimits": [40, 18, 18, 24], "measures": [7, 49, 22, 22]},
        "centre_first": ["measures"],
        "sig_title_mm": 58,
    },
    "by-mpr-conclusion": {
        "title_lines": ["Заключение", "кабинета медико-профессиональной реабилитации"],
        "sig_title_mm": 52,
    },
}
DEFAULT_LAYOUT: dict[str, Any] = {"widths": {}, "centre_first": [], "sig_title_mm": 45, "title_lines": []}


@cache
def _compiler() -> typst.Compiler:
    """The compiler with the bundled fonts only (loaded once per process)."""
    return typst.Compiler(font_paths=[str(FONTS_DIR)], ignore_system_fonts=True)


@cache
def _layout_source() -> bytes:
    return (TEMPLATES_DIR / "form.typ").read_bytes()


def warm_up() -> None:
    """Load the fonts and the layout file (a worker process does it once, before its first form)."""
    _compiler()
    _layout_source()


def document_json(data: Document, *, paper: bool = True) -> dict[str, Any]:
    """What form.typ reads: the document's fields (as ``dataclasses.asdict`` gives them), and
    what the HTML templates compute with helpers: the e-signature statement, the footnotes'
    marks, the layout."""
    body: dict[str, Any] = _plain(data)
    _complete(body, data, paper)
    return body


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names; None for any other type."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


#: Values :func:`_plain` hands on as they are.
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for the contract's frozen dataclasses, without its deep copies of
    every leaf (a third of the time spent here): dataclasses become dicts, tuples lists (JSON
    writes both as arrays), dicts are walked; strings, numbers, None and booleans as they are."""
    kind: type = type(value)
    if kind in _LEAVES:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _complete(body: dict[str, Any], data: Document, paper: bool) -> None:
    body["paper"] = paper
    body["title"] = data.title
    body["form_id"] = data.form_id
    body["esign"] = esign_statement(data)
    body["footnote_parts"] = [list(footnote_parts(f)) for f in data.footnotes]
    body["layout"] = {**DEFAULT_LAYOUT, **LAYOUT.get(data.form_id, {})}
    body["extra"] = dict(data.extra)
    if data.slip is not None:
        _complete(body["slip"], data.slip, paper)


def render(data: Document | SessionProtocol, *, xml: bytes | None = None, paper: bool = True) -> bytes:
    """The form as PDF/A-3b laid out by Typst; ``xml`` (the same document's XML) is attached."""
    if not isinstance(data, Document):
        raise GeneratorError(f"{data.form_id}: the Typst engine renders forms; the session protocol is WeasyPrint's")
    inputs = {"data": json.dumps(document_json(data, paper=paper), ensure_ascii=False)}
    if xml is not None:
        inputs["xml"] = xml.decode("utf-8")
    try:
        compiled = _compiler().compile(
            _layout_source(), sys_inputs=inputs, pdf_standards="a-3b", pdf_tags=False, root=str(TEMPLATES_DIR)
        )
    except typst.TypstError as exc:
        raise GeneratorError(f"{data.form_id}: Typst layout failed: {exc}") from None
    if not isinstance(compiled, bytes):  # one PDF, not images of pages
        raise GeneratorError(f"{data.form_id}: Typst returned {type(compiled).__name__}, not a PDF")
    pdf = compiled
    if not paper and data.stamp_room is not None:
        pdf = _name_stamp_room(pdf, data.stamp_room.anchor)
    return pdf


def _name_stamp_room(pdf: bytes, anchor: str) -> bytes:
    """Typst links to the stamps' room (form.typ) with an explicit destination; signing finds the
    room by its name (``/Names /Dests``), as WeasyPrint writes an element's id: the link's
    destination becomes that named destination and the empty link goes."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            annots = page.obj.get("/Annots")
            if annots is None:
                continue
            links = [a for a in annots if a.get("/Subtype") == "/Link" and "/Dest" in a]
            if not links:
                continue
            dest = links[0].Dest
            kept = [a for a in annots if a not in links[:1]]
            if kept:
                page.obj.Annots = pikepdf.Array(kept)
            else:
                del page.obj["/Annots"]
            names = doc.Root.get("/Names")
            if names is None:
                doc.Root.Names = names = pikepdf.Dictionary()
            # direct, as WeasyPrint writes it (signing.pades reads the tree without resolving it)
            names.Dests = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String(anchor), dest]))
            out = io.BytesIO()
            doc.save(out)
            return out.getvalue()
    raise GeneratorError(f"the Typst layout left no link to the stamps' room «{anchor}»")
