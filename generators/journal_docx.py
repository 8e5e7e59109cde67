"""Journal DOCX: the register's docxtpl template filled with every entry."""

from __future__ import annotations

import copy
import io
from typing import Any

from docxtpl import DocxTemplate

from .common import TEMPLATES_DIR, GeneratorError, display_rows


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
