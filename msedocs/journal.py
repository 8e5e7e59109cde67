"""Journals over many cases: read a batch case by case, keep only each case's entries,
then render the register of a period in every requested format.

Nothing is written when any case fails validation: every failing case is reported with
its file (and line, for JSON Lines) and the JSON path of each problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from generators import journal_docx, journal_pdf
from generators import xml as xml_gen
from generators.common import GeneratorError, RenderedDocument

from .errors import InputError, Problem, SchemaError, TemplateError
from .forms.journals import JOURNALS, Entry, JournalSpec
from .model import iter_cases
from .pipeline import parse_formats
from .sign import FormSigner, sign_rendered

Progress = Callable[[int, int], None]


def get_journal(journal_id: str) -> JournalSpec:
    try:
        return JOURNALS[journal_id]
    except KeyError:
        raise InputError(f"unknown journal id {journal_id!r}; journals: {', '.join(JOURNALS)}") from None


def collect(
    spec: JournalSpec, cases_path: str | Path, commission: str | None = None
) -> tuple[list[Entry], set[str], int]:
    """Entries of every case in the batch; raises InputError listing every invalid case."""
    entries: list[Entry] = []
    commissions: set[str] = set()
    problems: list[Problem] = []
    count = 0
    for loaded in iter_cases(cases_path):
        count += 1
        if loaded.case is None:
            problems.extend(Problem(f"{loaded.where}: {p.path}", p.message, p.line) for p in loaded.problems)
            continue
        case = loaded.case
        if commission and case.commission.name != commission:
            continue
        found = spec.entries(case)
        if found:
            commissions.add(case.commission.name)
            entries.extend(found)
    if problems:
        failing = len({p.path.split(": ")[0] for p in problems})
        raise InputError(
            f"{cases_path}: {failing} of {count} case(s) failed validation; no journal written", problems
        )
    return entries, commissions, count


def build(
    journal_id: str,
    cases_path: str | Path,
    start: dt.date,
    end: dt.date,
    formats: Sequence[str] = ("xml", "pdf", "docx"),
    *,
    commission: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    signer: FormSigner | None = None,
) -> list[RenderedDocument]:
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    formats = parse_formats(formats)
    spec = get_journal(journal_id)
    entries, commissions, _ = collect(spec, cases_path, commission)
    if len(commissions) > 1:
        raise InputError(
            "a journal is kept per commission; the cases come from several: "
            + "; ".join(sorted(commissions))
            + " (choose one with --commission NAME)"
        )
    name = commission or (next(iter(commissions)) if commissions else "")
    data = spec.data(entries, name, start, end)
    del entries
    try:
        xml = xml_gen.render_journal(data)
        if signer is not None:  # signed before it is embedded in the PDF
            xml = signer.xml(xml)
        docs = []
        for fmt in formats:
            if fmt == "xml":
                content = xml
            elif fmt == "pdf":
                content = journal_pdf.render(data, xml=xml, workers=workers, progress=progress)
            else:
                content = journal_docx.render_journal(data)
            docs.extend(sign_rendered(signer, spec.id, fmt, content))
    except GeneratorError as exc:
        if exc.problems:
            raise SchemaError(str(exc), [Problem(p, m, line) for p, m, line in exc.problems]) from exc
        raise TemplateError(str(exc)) from exc
    return docs


def row_count(docs: Sequence[RenderedDocument]) -> int:
    """Entries in a rendered journal, read back from its XML."""
    from lxml import etree

    for doc in docs:
        if doc.format == "xml":
            root = etree.fromstring(doc.content)
            return len(root.findall("{*}entries/{*}entry"))
    return -1
