"""DOCX renderer: docxtpl templates ``templates/<form id>/form.docx``, autoescaping on.

The templates hold the layout (paragraphs in the form's order, tables with their
header rows, signature lines); this module turns each item of the form's data dict into
a docxtpl RichText: the item's number and wording, its value on an underlined blank, and
for "нужное подчеркнуть" items every option with the chosen ones underlined.
The templates are built by ``scripts/build_docx_templates.py`` from the form registry.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from docxtpl import DocxTemplate, RichText

from .common import TEMPLATES_DIR, GeneratorError, display_rows

FONT = "Liberation Serif"
SIZE = 22  # half-points: 11 pt
BLANK = "\u00a0" * 24


def _add(rt: RichText, text: str, **fmt: Any) -> None:
    if text:
        rt.add(text, font=FONT, size=SIZE, **fmt)


def _value(rt: RichText, text: str) -> None:
    _add(rt, text if text else BLANK, underline=True)


def _options(rt: RichText, item: dict[str, Any]) -> None:
    for i, opt in enumerate(item["options"]):
        label = opt["label"]
        if item["kind"] == "records":  # ФК item: the class beside the category
            label += f" ФК {opt['detail']}" if opt["selected"] else " ФК __"
        _add(rt, label, underline=bool(opt["selected"]))
        if i < len(item["options"]) - 1:
            _add(rt, ", ")
    if item.get("suffix"):
        _add(rt, " " + item["suffix"])
    if item.get("other"):
        _add(rt, " ")
        _value(rt, item["other"])


def item_text(item: dict[str, Any]) -> RichText:
    """One item as the paper form prints it."""
    rt = RichText()
    if item["no"]:
        _add(rt, f"{item['no']}. ")
    _add(rt, item["label"])
    if item.get("footnote"):
        _add(rt, str(item["footnote"]), superscript=True)
    kind = item["kind"]
    if kind == "choice" or (kind == "records" and "options" in item):
        _add(rt, ": " if item["label"] else "")
        _options(rt, item)
    elif kind == "records" and not item.get("table", True):
        _add(rt, ": ")
        rows = [" — ".join(c["display"] for c in row.values() if c["display"]) for row in item["rows"]]
        _value(rt, "; ".join(rows))
    elif kind in ("records", "group") and not item.get("inline"):
        _add(rt, ":")
    elif kind == "group":
        for child in item["children"]:
            if child["kind"] == "choice":
                _add(rt, " " + (child["label"] + ": " if child["label"] else ""))
                _options(rt, child)
            else:
                _add(rt, " " + (child["label"] + " " if child["label"] else ""))
                _value(rt, child["display"])
    else:
        _add(rt, " ")
        _value(rt, item["display"])
    return rt


def caption_value(item: dict[str, Any]) -> RichText:
    rt = RichText()
    _value(rt, item["display"])
    return rt


def signatures_text(data: dict[str, Any], paper: bool) -> RichText:
    rt = RichText()
    for s in data["signatures"]:
        for i, name in enumerate(s["names"]):
            _add(rt, (s["title"] if i == 0 else "") + "\t")
            if paper:
                _add(rt, "_______________ ")
            _value(rt, name)
            _add(rt, "\n")
        if s["seal"] and paper:
            _add(rt, "\tМ.П.")
            if s.get("seal_footnote"):
                _add(rt, str(s["seal_footnote"]), superscript=True)
            _add(rt, "\n")
    if not paper and data["signatures"]:  # a form may word it itself (ru-extract: a qualified electronic signature)
        _add(rt, (data.get("extra") or {}).get("esign_statement") or "Документ подписан электронной подписью")
        _add(rt, ".")
    return rt


def rich_texts(data: dict[str, Any], paper: bool, prefix: str = "") -> dict[str, RichText]:
    """RichText per item, keyed as the template refers to them: h<i>, i<i>, i<i>_<j>..."""
    out: dict[str, RichText] = {}

    def walk(items: list[dict[str, Any]], key: str) -> None:
        for i, item in enumerate(items):
            k = f"{key}_{i}" if key else f"i{i}"
            out[prefix + k] = item_text(item)
            if item["kind"] == "group" and not item.get("inline"):
                walk(item["children"], k)

    for i, h in enumerate(data["header"]):
        out[f"{prefix}h{i}"] = caption_value(h) if h["label"][:1].islower() else item_text(h)
    walk(data["items"], "")
    out[prefix + "signatures"] = signatures_text(data, paper)
    return out


def render(data: dict[str, Any], *, paper: bool = True) -> bytes:
    form_id = data["form_id"]
    path = TEMPLATES_DIR / form_id / "form.docx"
    if not path.is_file():
        raise GeneratorError(f"{form_id}: no DOCX template at {path}")
    rt = rich_texts(data, paper)
    slip = data.get("extra", {}).get("slip")
    if slip:
        rt.update(rich_texts(slip, paper, prefix="slip_"))
    doc = DocxTemplate(str(path))
    try:
        doc.render({"data": data, "rt": rt, "paper": paper}, autoescape=True)
    except Exception as exc:  # docxtpl raises jinja2 and lxml errors alike
        raise GeneratorError(f"{form_id}: DOCX template failed: {exc}") from exc
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def render_journal(data: dict[str, Any]) -> bytes:
    """A journal's DOCX. docxtpl fills the template (header, the statute's column headings, the
    first entry in the row the template styles); the other entries are copies of that row made
    with lxml, since docxtpl's post-processing costs about a millisecond a row."""
    form_id = data["form_id"]
    path = TEMPLATES_DIR / form_id / "form.docx"
    if not path.is_file():
        raise GeneratorError(f"{form_id}: no DOCX template at {path}")
    rows = display_rows(data)
    doc = DocxTemplate(str(path))
    try:
        doc.render({"data": data, "rows": rows[:1]}, autoescape=True)
    except Exception as exc:
        raise GeneratorError(f"{form_id}: DOCX template failed: {exc}") from exc
    if len(rows) > 1:
        _append_rows(doc.docx.tables[-1]._tbl, rows[1:])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _append_rows(tbl: Any, rows: list[list[str]]) -> None:
    """Copies of the table's last row (the first entry, as the template styled it), one per entry."""
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    model = tbl.findall(f"{w}tr")[-1]
    if any(cell.find(f".//{w}t") is None for cell in model.findall(f"{w}tc")):
        raise GeneratorError("journal DOCX template: every cell of the entry row needs a text run")
    for row in rows:
        clone = copy.deepcopy(model)
        for cell, value in zip(clone.findall(f"{w}tc"), row, strict=True):
            cell.find(f".//{w}t").text = value
        tbl.append(clone)


def render_protocol(data: dict[str, Any], *, paper: bool = True) -> bytes:
    """The session protocol's DOCX from its docxtpl template."""
    path = TEMPLATES_DIR / data["form_id"] / "form.docx"
    doc = DocxTemplate(str(path))
    try:
        doc.render({"data": data, "paper": paper}, autoescape=True)
    except Exception as exc:
        raise GeneratorError(f"{data['form_id']}: DOCX template failed: {exc}") from exc
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
