"""Write xsd/<id>.xsd for every registered document (forms, journals, the protocol) from its declaration."""

from __future__ import annotations

from pathlib import Path

from msedocs.forms.xsd import write_schemas

XSD_DIR = Path(__file__).resolve().parent.parent / "xsd"

if __name__ == "__main__":
    for path in write_schemas(XSD_DIR):
        print(f"wrote {path.relative_to(XSD_DIR.parent)}")
