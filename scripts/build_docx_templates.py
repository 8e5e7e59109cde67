"""Write templates/<id>/form.docx for every registered document (forms, journals, the protocol)
from its declaration: ``generators.docx_template`` builds them; this is its entry point.
Run ``python scripts/build_docx_templates.py`` after changing a form's items."""

from __future__ import annotations

from pathlib import Path

from generators import docx_template
from msedocs.forms import DOCUMENTS

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

if __name__ == "__main__":
    for spec in DOCUMENTS.values():
        print(f"wrote {docx_template.write(spec, TEMPLATES).relative_to(TEMPLATES.parent)}")
