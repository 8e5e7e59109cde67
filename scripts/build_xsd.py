"""Write xsd/<form id>.xsd for every registered form from its declarations."""

from __future__ import annotations

from pathlib import Path

from msedocs.forms import REGISTRY
from msedocs.forms.journals import JOURNALS
from msedocs.forms.session import PROTOCOL
from msedocs.forms.xsd import build_journal_xsd, build_session_xsd, build_xsd

XSD_DIR = Path(__file__).resolve().parent.parent / "xsd"

if __name__ == "__main__":
    for form_id, spec in REGISTRY.items():
        path = XSD_DIR / f"{form_id}.xsd"
        path.write_bytes(build_xsd(spec))
        print(f"wrote {path.relative_to(XSD_DIR.parent)}")
    path = XSD_DIR / f"{PROTOCOL.id}.xsd"
    path.write_bytes(build_session_xsd(PROTOCOL))
    print(f"wrote {path.relative_to(XSD_DIR.parent)}")
    for form_id, journal in JOURNALS.items():
        path = XSD_DIR / f"{form_id}.xsd"
        path.write_bytes(build_journal_xsd(journal))
        print(f"wrote {path.relative_to(XSD_DIR.parent)}")
