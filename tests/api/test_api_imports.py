"""The server process's rule: WeasyPrint and Typst are never imported there. The service selects a
request's forms with the pipeline's own rule (``msedocs.pipeline.select_forms``), so importing the
pipeline must not load its PDF generators; they load when a PDF is laid out, in a worker."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import CASES

PROBE = """
import json, sys
from msedocs.api import app, engine
loaded = engine.load(json.loads(sys.argv[1]))
forms = engine.select_forms(loaded.case, None)
before = [m for m in ("weasyprint", "typst") if m in sys.modules]
if sys.argv[2] == "render":
    from msedocs import pipeline
    pipeline.render(loaded.case, forms[0], "pdf")
after = [m for m in ("weasyprint", "typst") if m in sys.modules]
print(json.dumps({"forms": forms, "before": before, "after": after}))
"""


def probe(then: str) -> dict:
    case = (CASES / "adult_first_group_ii.json").read_text(encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PROBE, case, then], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_selecting_forms_in_the_server_process_loads_no_pdf_engine():
    seen = probe("nothing")
    assert seen["forms"] and all(isinstance(f, str) for f in seen["forms"])
    assert seen["before"] == [] and seen["after"] == []


def test_laying_out_a_pdf_loads_weasyprint_only_then():
    """The probe can see an engine load: rendering a PDF (a worker's job) brings WeasyPrint in."""
    seen = probe("render")
    assert seen["before"] == []
    assert "weasyprint" in seen["after"]
