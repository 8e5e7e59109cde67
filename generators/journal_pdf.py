"""Journal PDFs with Typst: fast, bounded memory, PDF/A-3b with the journal's XML attached.

WeasyPrint lays a 15-column table out at tens of milliseconds a row; Typst does it more
than ten times faster. Typst keeps layout memory for the whole document and for every
compile of its process, so a long journal is compiled in chunks of rows by worker
processes (``generators.typst_worker``) that are replaced after each chunk. Chunks are
compiled once, without page numbers; then, chunk by chunk, "Страница N из M" is compiled
as pages of its own (journal_footer.typ, the same page layout) and laid over the chunk's
pages by qpdf (pikepdf's QPDFJob; its overlay holds about 70 KB a page, so it is done per
chunk, never over the whole journal). A worker then concatenates the numbered chunks
(``generators.pdf_concat``, one chunk in memory at a time, where qpdf's merge holds 2 to 4
times the whole PDF), keeping the first chunk's PDF/A metadata, output intent and the
attached XML.
Rows reach the workers as chunk files written while the rows are read, so the calling
process never holds the journal.
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
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict, Unpack

import typst

from msedocs.contract import Journal

from .common import FONTS_DIR, TEMPLATES_DIR, GeneratorError, display_rows

CHUNK_ROWS = 200
TEMPLATE_FILES = ("journal.typ", "journal_page.typ", "journal_footer.typ")
#: Typst keeps every compile's layout cache for the life of the process, so a worker is
#: replaced after this many chunks. Measured on generated cases (200-row chunks): a worker
#: peaks at 188 MB after one chunk, 281 MB after two, 396 MB after three, and later
#: compiles in a grown cache are no faster than a fresh process's first.
TASKS_PER_WORKER = 1
Progress = Callable[[int, int], None]


def _compile(workdir: str, inputs: dict[str, str]) -> bytes:
    try:
        return typst.compile(
            str(Path(workdir) / "journal.typ"),
            root=workdir,
            font_paths=[str(FONTS_DIR)],
            ignore_system_fonts=True,
            sys_inputs=inputs,
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
        cwd=str(Path(__file__).resolve().parent.parent),  # the folder holding this package: the worker imports it
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


class WriteOptions(TypedDict, total=False):
    """How :func:`write` works: its worker processes, rows per chunk, and progress callback."""

    workers: int | None
    chunk_rows: int | None
    progress: Progress | None


def render(data: Journal, *, xml: bytes | None = None, **options: Unpack[WriteOptions]) -> bytes:
    """The journal as PDF/A-3b bytes (see :func:`write`, which takes the ``options``); ``xml``
    is the journal's XML to attach."""
    with tempfile.TemporaryDirectory(prefix="msedocs-journal-") as tmp:
        xml_path = None
        if xml is not None:
            xml_path = Path(tmp) / f"{data.form_id}.xml"
            xml_path.write_bytes(xml)
        out = Path(tmp) / "journal.pdf"
        write(data, out, xml_path=xml_path, **options)
        return out.read_bytes()


def write(
    data: Journal,
    out: Path,
    *,
    xml_path: Path | None = None,
    workers: int | None = None,
    chunk_rows: int | None = None,
    progress: Progress | None = None,
) -> None:
    """The journal as PDF/A-3b at ``out``, the file ``xml_path`` (the journal's XML) attached.

    Rows are read once from ``data.rows`` and written to chunk files as they come; every
    compile and the merge run in worker processes, so this process holds one chunk at most."""
    out = Path(out).absolute()  # the workers run elsewhere
    with tempfile.TemporaryDirectory(prefix="msedocs-journal-") as workdir:
        work = Path(workdir)
        for name in TEMPLATE_FILES:
            shutil.copyfile(TEMPLATES_DIR / name, work / name)
        xml_name = ""
        if xml_path is not None:
            xml_name = xml_path.name
            _link_or_copy(xml_path, work / xml_name)
        (work / "head.json").write_text(json.dumps(_head(data), ensure_ascii=False), encoding="utf-8")
        names = _write_chunks(display_rows(data), work, chunk_rows or CHUNK_ROWS) or [_chunk_file(work, 0, [])]
        ticker = _Ticker(progress)

        def inputs(i: int, total: int) -> dict[str, str]:
            return {"head": "head.json", "data": names[i], "offset": "0", "total": str(total),
                    "first": "1" if i == 0 else "", "last": "1" if i == len(names) - 1 else "",
                    "xml": xml_name if i == 0 else ""}  # fmt: skip

        if len(names) == 1:  # one compile, numbered by Typst itself
            ticker.steps = 1
            out.write_bytes(_compile(workdir, inputs(0, 0)))
            ticker()
            return
        # Chunks without page numbers, then the numbers as their own pages laid over them.
        ticker.steps = len(names) + 1
        pool = _WorkerPool(max(1, min(workers or os.cpu_count() or 1, 2, len(names))))
        parts = [str(work / f"part-{i:05d}.pdf") for i in range(len(names))]
        counts = pool.run(
            [{"root": workdir, "template": str(work / "journal.typ"), "inputs": inputs(i, -1), "out": parts[i]}
             for i in range(len(names))],
            ticker,
        )  # fmt: skip
        total = sum(counts)
        offsets = [sum(counts[:i]) for i in range(len(counts))]
        numbered = [str(work / f"numbered-{i:05d}.pdf") for i in range(len(names))]
        ticker.steps += len(names)
        pool.run(
            [{"root": workdir, "template": str(work / "journal_footer.typ"), "out": numbered[i],
              "overlay_onto": parts[i],
              "inputs": {"offset": str(offsets[i]), "count": str(counts[i]), "total": str(total)}}
             for i in range(len(names))],
            ticker,
        )  # fmt: skip
        merged = pool.run([{"merge": numbered, "out": str(out), "pages": total}], ticker)
        if merged != [total]:
            raise GeneratorError(f"journal PDF: merged {merged[0]} pages of {total}")


def _head(data: Journal) -> dict[str, Any]:
    """What journal.typ reads of the journal besides its rows (``sys.inputs.head``), as JSON."""
    return {
        "title": data.title,
        "commission": data.commission,
        "started": data.started,
        "finished": data.finished,
        "footnotes": list(data.footnotes),
        "columns": [asdict(col) for col in data.columns],
    }


class _Ticker:
    """Counts finished steps for the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.done, self.steps = progress, 0, 1

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, max(self.steps, self.done))


def _write_chunks(rows: Iterable[list[str]], work: Path, chunk_rows: int) -> list[str]:
    names: list[str] = []
    chunk: list[list[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == chunk_rows:
            names.append(_chunk_file(work, len(names), chunk))
            chunk = []
    if chunk:
        names.append(_chunk_file(work, len(names), chunk))
    return names


def _chunk_file(work: Path, i: int, rows: list[list[str]]) -> str:
    name = f"chunk-{i:05d}.json"
    (work / name).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return name


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
