"""DOCX renderer: docxtpl templates ``templates/<form id>/form.docx``, autoescaping on.

The templates hold the layout (paragraphs in the form's order, tables with their
header rows, signature lines); this module turns each item of the form's data dict into
a docxtpl RichText: the item's number and wording, its value on an underlined blank, and
for "нужное подчеркнуть" items every option with the chosen ones underlined.
The templates are built by ``scripts/build_docx_templates.py`` from the form registry.
"""

from __future__ import annotations

import io
from typing import Any

from docxtpl import DocxTemplate, RichText

from .common import TEMPLATES_DIR, GeneratorError, esign_statement

FONT = "Liberation Serif"
SIZE = 22  # half-points: 11 pt
BLANK = "\u00a0" * 24


def _add(rt: RichText, text: str, **fmt: Any) -> None:
    if text:
        rt.add(text, font=FONT, size=SIZE, **fmt)


def _value(rt: RichText, text: str) -> None:
    _add(rt, text if text else BLANK, underline=True)


def _options(rt: RichText, item: dict[str, Any]) -> None:
    """The options as the statute prints them (grouped under headings where it groups them):
    the item's runs, one run each, the chosen ones underlined."""
    for run in item["runs"]:
        _add(rt, run["text"], underline=bool(run["chosen"]))
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
    _add(rt, item.get("label_end", ""))
    kind = item["kind"]
    if kind == "choice" or (kind == "records" and "options" in item):
        _add(rt, (": " if item.get("colon", True) else " ") if item["label"] else "")
        _options(rt, item)
    elif kind == "records" and not item.get("table", True):
        _add(rt, " ")  # the statute's «(указать) ___»: the blank straight after the label
        rows = [" — ".join(c["display"] for c in row.values() if c["display"]) for row in item["rows"]]
        _value(rt, "; ".join(rows))
    elif kind in ("records", "group") and not item.get("inline"):
        _add(rt, ":" if item.get("colon", True) else "")
    elif kind == "group":
        for i, child in enumerate(item["children"]):
            sep = (" " if item["label"] or item["no"] else "") if i == 0 else item["sep"]
            if child["kind"] == "choice":
                _add(rt, sep + (child["label"] + ": " if child["label"] else ""))
                _options(rt, child)
            else:
                _add(rt, sep + (child["label"] + " " if child["label"] else ""))
                _value(rt, child["display"])
                _add(rt, " " + child["suffix"] if child.get("suffix") else "")
            _add(rt, child.get("end", ""))
        _add(rt, " " + item["suffix"] if item.get("suffix") else "")
        for child in item["children"]:  # the statute's caption under a blank, on the line below
            if child.get("caption"):
                rt.add("\n" + child["caption"], font=FONT, size=16)
    elif item.get("fixed"):
        _add(rt, ": " + item["display"])
    else:
        _add(rt, " ")
        _value(rt, item["display"])
        _add(rt, " " + item["suffix"] if item.get("suffix") else "")
    _add(rt, item.get("end", ""))
    return rt


def caption_value(item: dict[str, Any]) -> RichText:
    rt = RichText()
    _value(rt, item["display"])
    return rt


def signature_rows(data: dict[str, Any], paper: bool) -> list[dict[str, Any]]:
    """Rows of the signature table, as the PDF prints them: title, line, name with their
    captions on paper (the name alone when electronic), then «М.П.» under a sealing signer."""
    rows: list[dict[str, Any]] = []
    for s in data["signatures"]:
        for i, name in enumerate(s["names"]):
            rt = RichText()
            _value(rt, name)
            line = RichText()
            _add(line, "_______________" if paper else "")
            row = {
                "title": s["title"] if i == 0 else "",
                "line": line,
                "caption_line": "(подпись)" if paper and s["captions"] else "",
                "name": rt,
                "caption_name": "(инициалы, фамилия)" if s["captions"] else "",
            }
            if s.get("name_first"):  # «(инициалы, фамилия) (подпись)», as appendix 11 prints them
                row.update(line=rt, caption_line=row["caption_name"], name=line, caption_name=row["caption_line"])
            rows.append(row)
        if s["seal"] and paper:
            mark = RichText()
            _add(mark, "М.П.")
            if s.get("seal_footnote"):
                _add(mark, str(s["seal_footnote"]), superscript=True)
            rows.append({"title": "", "line": mark, "caption_line": "", "name": RichText(), "caption_name": ""})
    return rows


def signatures_text(data: dict[str, Any], paper: bool) -> RichText:
    """What follows the signature table: the e-signature statement of an electronic rendering."""
    rt = RichText()
    if not paper and data["signatures"]:
        _add(rt, esign_statement(data))
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


def has_template(form_id: str) -> bool:
    """Whether ``templates/<form id>/form.docx`` is there."""
    return (TEMPLATES_DIR / form_id / "form.docx").is_file()


def render(data: dict[str, Any], *, paper: bool = True, template: bytes | None = None) -> bytes:
    """The form's DOCX from ``templates/<form id>/form.docx`` (or from ``template``, one built
    by :mod:`.docx_template` for a form whose template is not in ``templates/``)."""
    form_id = data["form_id"]
    path = TEMPLATES_DIR / form_id / "form.docx"
    if template is None and not path.is_file():
        raise GeneratorError(f"{form_id}: no DOCX template at {path}")
    rt = rich_texts(data, paper)
    sig = {"": signature_rows(data, paper)}
    slip = data.get("extra", {}).get("slip")
    if slip:
        rt.update(rich_texts(slip, paper, prefix="slip_"))
        sig["slip_"] = signature_rows(slip, paper)
    doc = DocxTemplate(io.BytesIO(template) if template is not None else str(path))
    try:
        doc.render({"data": data, "rt": rt, "sig": sig, "paper": paper}, autoescape=True)
    except Exception as exc:  # docxtpl raises jinja2 and lxml errors alike
        raise GeneratorError(f"{form_id}: DOCX template failed: {exc}") from exc
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


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
