"""A Typst compile worker: a separate process that the journal renderer drives over pipes.

Typst keeps every compile's layout cache for the life of its process, so the renderer
runs compiles here and replaces the process after each (``journal_pdf.TASKS_PER_WORKER``).
It is a program of its own (``python -m generators.typst_worker``) rather than a
multiprocessing child, so it never re-imports the caller's main module and never inherits
its threads.

The last task of a journal concatenates the numbered chunks into one PDF
(``generators.pdf_concat``: one chunk in memory at a time; the first chunk's catalog is
kept, so the PDF/A metadata, output intent and the attached XML).

Protocol: one JSON object per line on stdin, either ``{"root", "template", "inputs", "out"}``
(compile; with "overlay_onto": a PDF to lay the compiled pages over) or
``{"merge": [part, ...], "out", "pages"}``;
one JSON line back per task, ``{"ok": true, "pages": N}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pikepdf
import typst

from . import pdf_concat
from .common import FONTS_DIR


def page_count(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def compile_chunk(task: dict[str, Any]) -> int:
    """Compile ``template`` to ``out``; with ``overlay_onto`` (a PDF of as many pages) the
    compiled pages are laid over that PDF's pages instead, and the result written to ``out``."""
    pdf = typst.compile(
        task["template"],
        root=task["root"],
        font_paths=[str(FONTS_DIR)],
        ignore_system_fonts=True,
        sys_inputs=task["inputs"],
        pdf_standards="a-3b",
        pdf_tags=False,
    )
    if "overlay_onto" not in task:
        Path(task["out"]).write_bytes(pdf)
        return page_count(pdf)
    layer = Path(task["out"]).with_suffix(".layer.pdf")
    layer.write_bytes(pdf)
    try:
        pikepdf.Job(["qpdf", task["overlay_onto"], "--overlay", str(layer), "--", task["out"]]).run()
    finally:
        layer.unlink(missing_ok=True)
    with pikepdf.open(task["out"]) as doc:
        return len(doc.pages)


XMP_NPAGES = "{http://ns.adobe.com/xap/1.0/t/pg/}NPages"


def merge(parts: list[str], out: str, pages: int) -> int:
    """The parts as one PDF at ``out``, its XMP page count set to ``pages``."""

    def set_page_count(first: pikepdf.Pdf) -> None:
        with first.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta[XMP_NPAGES] = str(pages)

    return pdf_concat.concatenate(parts, out, edit_first=set_page_count)


def main() -> None:
    for line in sys.stdin:
        task = json.loads(line)
        try:
            if "merge" in task:
                pages = merge(task["merge"], task["out"], task["pages"])
            else:
                pages = compile_chunk(task)
            reply: dict[str, object] = {"ok": True, "pages": pages}
        except Exception as exc:  # reported to the parent, which raises GeneratorError
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
