"""Journals over many cases: read a batch case by case, spool each case's entries to disk,
then write the register of a period in every requested format.

Memory stays flat whatever the batch: entries go to a SQLite spool as each case is read
(SQLite sorts them by date on disk), and every format is written to its file while the
rows stream from the spool. Output is staged beside the target folder and moved in only
when every file is written. Nothing is written when any case fails validation: every
failing case is reported with its file (and line, for JSON Lines) and the JSON path of
each problem.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators import journal_docx, journal_pdf
from generators import xml as xml_gen
from generators.common import RenderedDocument

from .errors import InputError
from .forms.journals import JOURNALS, Entry, JournalSpec, Row
from .model import BatchReader, count_cases
from .pipeline import file_entry, parse_formats, staged, write_manifest
from .sign import FormSigner, sign_rendered

#: progress(stage, done, total): stage is "cases" (reading the batch) or "pdf".
Progress = Callable[[str, int, int], None]


def get_journal(journal_id: str) -> JournalSpec:
    try:
        return JOURNALS[journal_id]
    except KeyError:
        raise InputError(f"unknown journal id {journal_id!r}; journals: {', '.join(JOURNALS)}") from None


class EntrySpool:
    """Entries on disk in a SQLite file, read back in date order (stable: date, the journal's
    order within a date, arrival)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE entry (seq INTEGER PRIMARY KEY, day TEXT NOT NULL, tie TEXT NOT NULL, cells TEXT);"
        )

    def add(self, entries: Iterable[Entry]) -> None:
        self.db.executemany(
            "INSERT INTO entry (day, tie, cells) VALUES (?, ?, ?)",
            ((e.date.isoformat(), e.order[1], json.dumps(e.values, ensure_ascii=False)) for e in entries),
        )

    def rows(self, start: dt.date, end: dt.date) -> SpooledRows:
        self.db.commit()
        self.db.execute("CREATE INDEX IF NOT EXISTS entry_order ON entry (day, tie, seq)")
        return SpooledRows(self.db, start.isoformat(), end.isoformat())

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class SpooledRows:
    """The journal's numbered rows of [start, end], streamed from the spool on each iteration."""

    db: sqlite3.Connection
    start: str
    end: str

    def __iter__(self) -> Iterator[Row]:
        query = "SELECT cells FROM entry WHERE day BETWEEN ? AND ? ORDER BY day, tie, seq"
        for number, (cells,) in enumerate(self.db.execute(query, (self.start, self.end)), start=1):
            yield (str(number), *json.loads(cells))

    def __len__(self) -> int:
        query = "SELECT count(*) FROM entry WHERE day BETWEEN ? AND ?"
        return int(self.db.execute(query, (self.start, self.end)).fetchone()[0])


def collect(
    spec: JournalSpec,
    cases_path: str | Path,
    spool: EntrySpool,
    commission: str | None = None,
    progress: Progress | None = None,
) -> set[str]:
    """Spool the entries of every case of the batch; the commissions they come from.
    Raises InputError listing every invalid case."""
    commissions: set[str] = set()
    total = count_cases(cases_path) if progress else 0
    reader = BatchReader(cases_path)  # a case_id twice would be counted twice: refused
    for loaded in reader:
        if progress and reader.count % 100 == 0:
            progress("cases", reader.count, max(reader.count, total))
        case = loaded.case
        assert case is not None
        if commission and case.commission.name != commission:
            continue
        found = spec.entries(case)
        if found:
            commissions.add(case.commission.name)
            spool.add(found)
    if progress:
        progress("cases", reader.count, reader.count)
    reader.raise_for_problems(f"{len(reader.failing)} of {reader.count} case(s) failed validation; no journal written")
    return commissions


@dataclass(frozen=True)
class Written:
    """A journal as written: its rows and the manifest's file entries."""

    rows: int
    files: list[dict[str, Any]]
    manifest: Path


def write(
    journal_id: str,
    cases_path: str | Path,
    start: dt.date,
    end: dt.date,
    out_dir: str | Path,
    formats: Sequence[str] = ("xml", "pdf", "docx"),
    *,
    commission: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    signer: FormSigner | None = None,
) -> Written:
    """``out_dir/<id>.<ext>`` for each format plus ``manifest.json``, all or nothing."""
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    formats = parse_formats(formats)
    spec = get_journal(journal_id)
    with tempfile.TemporaryDirectory(prefix="msedocs-journal-") as tmp:
        spool = EntrySpool(Path(tmp) / "entries.sqlite3")
        try:
            commissions = collect(spec, cases_path, spool, commission, progress)
            if len(commissions) > 1:
                raise InputError(
                    "a journal is kept per commission; the cases come from several: "
                    + "; ".join(sorted(commissions))
                    + " (choose one with --commission NAME)"
                )
            name = commission or (next(iter(commissions)) if commissions else "")
            rows = spool.rows(start, end)
            data = spec.data(rows, name, start, end)
            count = len(rows)
            with staged(out_dir) as staging:
                files = _render(spec, data, formats, staging, Path(tmp), workers, progress, signer)
                body = {"journal": spec.id, "from": start.isoformat(), "to": end.isoformat(), "rows": count,
                        "files": files}  # fmt: skip
                write_manifest(staging, body)
        finally:
            spool.close()
    return Written(count, files, Path(out_dir) / "manifest.json")


def _render(
    spec: JournalSpec,
    data: dict[str, Any],
    formats: Sequence[str],
    staging: Path,
    tmp: Path,
    workers: int | None,
    progress: Progress | None,
    signer: FormSigner | None,
) -> list[dict[str, Any]]:
    """Each format written into ``staging`` (signed if asked); the manifest's file entries."""
    pdf_progress = (lambda done, total: progress("pdf", done, total)) if progress else None
    files: list[dict[str, Any]] = []
    xml_path = (staging if "xml" in formats else tmp) / f"{spec.id}.xml"
    xml_gen.write_journal(data, xml_path)
    if signer is not None:  # signed before it is embedded in the PDF
        xml_path.write_bytes(signer.xml(xml_path.read_bytes()))
    for fmt in formats:
        path = staging / f"{spec.id}.{fmt}"
        if fmt == "pdf":
            journal_pdf.write(data, path, xml_path=xml_path, workers=workers, progress=pdf_progress)
        elif fmt == "docx":
            journal_docx.write(data, path)
        if signer is None:
            files.append(file_entry(RenderedDocument.of(spec.id, fmt, b""), path))
            continue
        for doc in sign_rendered(signer, spec.id, fmt, path.read_bytes()):
            (staging / doc.filename).write_bytes(doc.content)
            files.append(file_entry(doc))
    return files
