"""Journal PDFs with Typst: fast, bounded memory, PDF/A-3b with the journal's XML attached.

WeasyPrint lays a 15-column table out at tens of milliseconds a row; Typst does it more
than ten times faster. Typst keeps layout memory for the whole document and for every
compile of its process, so a long journal is compiled in chunks of rows by worker
processes (``generators.typst_worker``) that are replaced after a few chunks. Chunks are
compiled twice, once to count their pages and once with "Страница N из M" right, and
merged with pikepdf, keeping the first chunk's PDF/A metadata, output intent and the
attached XML.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pikepdf
import typst

from .common import FONTS_DIR, TEMPLATES_DIR, GeneratorError, display_rows

CHUNK_ROWS = 200
#: Typst keeps every compile's layout cache for the life of the process (about 60 MB per
#: 200-row chunk), so a worker is replaced after this many chunks.
TASKS_PER_WORKER = 3
Progress = Callable[[int, int], None]


def _compile(workdir: str, chunk: str, offset: int, total: int, xml: str) -> bytes:
    try:
        return typst.compile(
            str(Path(workdir) / "journal.typ"),
            root=workdir,
            font_paths=[str(FONTS_DIR)],
            ignore_system_fonts=True,
            sys_inputs={"data": chunk, "offset": str(offset), "total": str(total), "xml": xml},
            pdf_standards="a-3b",
            pdf_tags=False,
        )
    except typst.TypstError as exc:
        raise GeneratorError(f"journal template failed: {exc}") from None


class _WorkerPool:
    """Up to ``size`` worker processes, each replaced after TASKS_PER_WORKER compiles."""

    def __init__(self, size: int) -> None:
        self.size = size

    def run(self, tasks: list[dict[str, Any]], tick: Callable[[], None]) -> list[int]:
        """Compile every task; the page count of each, in task order."""
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(tasks)):
            todo.put(i)
        pages: list[int] = [0] * len(tasks)
        errors: list[str] = []
        lock = threading.Lock()

        def slot() -> None:
            proc: subprocess.Popen[str] | None = None
            used = 0
            try:
                while not errors:
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        return
                    if proc is None or used >= TASKS_PER_WORKER:
                        _stop(proc)
                        proc, used = _start(), 0
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(tasks[i]) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    used += 1
                    reply: dict[str, Any] = json.loads(line) if line else {"ok": False, "error": "worker died"}
                    if not reply["ok"]:
                        errors.append(reply["error"])
                        return
                    pages[i] = reply["pages"]
                    with lock:
                        tick()
            finally:
                _stop(proc)

        threads = [threading.Thread(target=slot, daemon=True) for _ in range(min(self.size, len(tasks)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise GeneratorError(f"journal template failed: {errors[0]}")
        return pages


def _start() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "generators.typst_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=str(TEMPLATES_DIR.parent),
    )


def _stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is None:
        return
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


def _merge(parts: Sequence[Path], out: Path) -> bytes:
    """The chunks as one PDF. Sources are opened from their files, so qpdf reads page content
    from disk while writing instead of holding every chunk in memory."""
    sources = [pikepdf.open(p) for p in parts]
    try:
        merged = sources[0]
        for src in sources[1:]:
            merged.pages.extend(src.pages)
        merged.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    finally:
        for src in sources:
            src.close()
    return out.read_bytes()


def render(
    data: dict[str, Any],
    *,
    xml: bytes | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> bytes:
    """The journal as PDF/A-3b; ``xml`` (the journal's XML) attached to the first page's document."""
    rows = display_rows(data)
    chunks = [rows[i : i + chunk_rows] for i in range(0, len(rows), chunk_rows)] or [[]]
    workers = max(1, min(workers or os.cpu_count() or 1, 2, len(chunks)))
    steps = len(chunks) * (1 if len(chunks) == 1 else 2)
    done = 0
    with tempfile.TemporaryDirectory(prefix="msedocs-journal-") as workdir:
        shutil.copyfile(TEMPLATES_DIR / "journal.typ", Path(workdir) / "journal.typ")
        xml_name = ""
        if xml is not None:
            xml_name = f"{data['form_id']}.xml"
            (Path(workdir) / xml_name).write_bytes(xml)
        names = []
        for i, chunk in enumerate(chunks):
            name = f"chunk-{i:05d}.json"
            head = {k: data[k] for k in ("title", "commission", "started", "finished", "footnotes")}
            body = {
                **head,
                "columns": data["columns"],
                "rows": chunk,
                "first": i == 0,
                "last": i == len(chunks) - 1,
            }
            (Path(workdir) / name).write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
            names.append(name)
        attach = [xml_name if i == 0 else "" for i in range(len(chunks))]

        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, steps)

        if len(chunks) == 1:
            pdf = _compile(workdir, names[0], 0, 0, attach[0])
            tick()
            return pdf
        pool = _WorkerPool(workers)
        template = str(Path(workdir) / "journal.typ")

        def task(i: int, offset: int, total: int) -> dict[str, Any]:
            inputs = {"data": names[i], "offset": str(offset), "total": str(total), "xml": attach[i]}
            return {"root": workdir, "template": template, "inputs": inputs, "out": f"{workdir}/part-{i:05d}.pdf"}

        counts = pool.run([task(i, 0, 1) for i in range(len(chunks))], tick)
        total = sum(counts)
        offsets = [sum(counts[:i]) for i in range(len(counts))]
        pool.run([task(i, offsets[i], total) for i in range(len(chunks))], tick)
        parts = [Path(f"{workdir}/part-{i:05d}.pdf") for i in range(len(chunks))]
        return _merge(parts, Path(workdir) / "journal.pdf")
