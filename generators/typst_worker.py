"""A Typst compile worker: a separate process that the journal renderer drives over pipes.

Typst keeps every compile's layout cache for the life of its process, so the renderer
runs compiles here and replaces the process after a few of them. It is a program of its
own (``python -m generators.typst_worker``) rather than a multiprocessing child, so it
never re-imports the caller's main module and never inherits its threads.

Protocol: one JSON object per line on stdin, ``{"root", "template", "inputs", "out"}``;
one JSON line back per task, ``{"ok": true, "pages": N}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typst

from .common import FONTS_DIR


def page_count(pdf: bytes) -> int:
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def main() -> None:
    for line in sys.stdin:
        task = json.loads(line)
        try:
            pdf = typst.compile(
                task["template"],
                root=task["root"],
                font_paths=[str(FONTS_DIR)],
                ignore_system_fonts=True,
                sys_inputs=task["inputs"],
                pdf_standards="a-3b",
                pdf_tags=False,
            )
            Path(task["out"]).write_bytes(pdf)
            reply: dict[str, object] = {"ok": True, "pages": page_count(pdf)}
        except Exception as exc:  # reported to the parent, which raises GeneratorError
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
