"""Intake of referral files, one or many: read, validate, map and prepare, then store in batches.

One file (:func:`load_referral`): a СЭМД document validated against the official XSD and
schematron (:mod:`.semd`) and mapped to the case model (:mod:`.cda`), or a case JSON.

Many files (:func:`ingest_files`, ``msedocs referrals ingest FILE... | DIR [--workers N]``):

- reading, validation, mapping and depersonalisation (:func:`~.store.prepare`, CPU only) run in
  ``N`` worker processes (``spawn``; each compiles the schematron once, from the on-disk cache)
  or, with ``N = 1``, in this process; the results come back in the order of the files;
- the valid referrals are stored by :meth:`~.store.ReferralStore.ingest_many` in batches of
  ``batch_size``, one transaction each, while the workers go on validating.

What a batch guarantees, per file, in the order given:

- an invalid file (not well-formed, DOCTYPE, XSD, schematron, mapping) is reported with its
  ``file:line: rule: message`` lines and stored nowhere; it neither stops nor changes the others;
- a valid file is stored whole (referral, vault, routing, audit entries) or not at all; within
  a batch a referral that no bureau can take is reported and left out, the others stored;
- a database failure rolls back its batch only: each file of that batch is reported as not
  stored, and the batches before it stay stored (a batch is not all-or-nothing across batches:
  re-running the failed files is the remedy, since nothing of them was stored);
- the audit log receives the entries of each batch in file order, with one signed checkpoint
  per batch.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from msedocs.errors import InputError

from .model import IncomingReferral
from .store import Ingested, Prepared, ReferralStore, prepare

MAX_BYTES = 16 * 1024 * 1024
SUFFIXES = (".xml", ".json")


def read(file: Path, limit: int = MAX_BYTES) -> bytes:
    if not file.is_file():
        raise InputError(f"{file}: not a regular file")
    if file.stat().st_size > limit:
        raise InputError(f"{file}: more than {limit} bytes")
    return file.read_bytes()


def semd_invalid(file: Path, problems: list[Any]) -> InputError:
    """The error of a document that fails the XSD or the schematron: one ``file:line: rule: message``
    line per problem, then the count."""
    lines = "\n".join(p.format(file) for p in problems)
    return InputError(f"{lines}\n{file}: {len(problems)} violation(s) of the СЭМД XSD or schematron; nothing stored")


def load_referral(file: Path, semd_dir: str | None = None) -> IncomingReferral:
    """A СЭМД document (validated against the official XSD and schematron) or a case JSON, as an
    :class:`IncomingReferral`; raises InputError with ``file:line: rule: message`` lines."""
    from . import cda, semd

    data = read(file)
    head = data.lstrip()[:1]
    if head == b"<":
        tree, problems = semd.validate(data, str(file), semd.package(semd_dir))
        if problems:
            raise semd_invalid(file, problems)
        return cda.to_referral(tree, str(file))
    if head == b"{":
        from msedocs.model import load_case

        return IncomingReferral.from_case(load_case(file))
    raise InputError(f"{file}: neither a СЭМД XML document nor a case JSON; an unstructured referral is "
                     "ingested with --unstructured")  # fmt: skip


def expand(paths: Sequence[Path], suffixes: tuple[str, ...] | None = SUFFIXES) -> list[Path]:
    """The files named, a folder's files (sorted; ``*.xml`` and ``*.json`` unless ``suffixes`` is
    None) in its place. A path that does not exist is kept, to be reported as such."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and (suffixes is None or f.suffix.lower() in suffixes))
        else:
            out.append(p)
    return out


@dataclass
class FileResult:
    file: str
    ingested: Ingested | None = None
    error: str | None = None  # why it was not stored: the message, with file:line: rule: message lines
    invalid: bool = False  # the file itself is wrong (as opposed to the database or a route failing)


@dataclass
class Summary:
    stored: int = 0
    invalid: int = 0
    failed: int = 0
    results: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.invalid or self.failed)


# -- workers ---------------------------------------------------------------------------------

_semd_dir: str | None = None


def _init(semd_dir: str | None, compile_now: bool) -> None:
    """A worker: compile the schematron once (from the on-disk cache) before the first file."""
    global _semd_dir
    _semd_dir = semd_dir
    if compile_now:
        from . import semd

        semd.schematron(semd.package(semd_dir))


def load_and_prepare(file: str, semd_dir: str | None = None) -> tuple[str, Prepared | None, str | None, bool]:
    """(file, prepared referral or None, error or None, invalid): never raises, so one file's
    failure cannot stop the others."""
    try:
        ref = load_referral(Path(file), semd_dir if semd_dir is not None else _semd_dir)
        return file, prepare(ref), None, False
    except InputError as exc:
        return file, None, str(exc), True
    except Exception as exc:  # a bug or a crash of the validator: this file only
        return file, None, f"{file}: internal error: {type(exc).__name__}: {exc}; not stored", False


def _prepared(files: Sequence[str], semd_dir: str | None, workers: int) -> Iterator[tuple[str, Prepared | None,
                                                                                        str | None, bool]]:  # fmt: skip
    if workers <= 1 or len(files) < 2:
        for f in files:
            yield load_and_prepare(f, semd_dir)
        return
    xml = any(f.lower().endswith(".xml") for f in files)
    chunk = max(1, min(32, len(files) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init, initargs=(semd_dir, xml)) as pool:  # fmt: skip
        try:
            yield from pool.map(load_and_prepare, files, itertools.repeat(semd_dir), chunksize=chunk)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def ingest_files(store: ReferralStore, files: Iterable[Path], *, semd_dir: str | None = None, workers: int = 1,
                 batch_size: int = 200, on_result: Callable[[FileResult], None] | None = None,
                 actor: str = "platform:intake") -> Summary:  # fmt: skip
    """Validate, prepare and store many referral files (see the module's docstring for what a
    batch guarantees); ``on_result`` is called for each file as soon as its fate is known."""
    names = [str(f) for f in files]
    summary = Summary()
    if any(n.lower().endswith(".xml") for n in names):
        from . import semd

        semd.package(semd_dir)  # a missing package is one error, not one per file
    store._kek()  # nor is a missing KEK

    def report(res: FileResult) -> None:
        if res.ingested is not None:
            summary.stored += 1
        elif res.invalid:
            summary.invalid += 1
        else:
            summary.failed += 1
        summary.results.append(res)
        if on_result is not None:
            on_result(res)

    batch: list[tuple[str, Prepared]] = []

    def flush() -> None:
        if not batch:
            return
        try:
            outcome = store.ingest_many([p for _, p in batch], actor)
        except (sa.exc.SQLAlchemyError, InputError) as exc:
            for name, _ in batch:
                report(FileResult(name, error=f"{name}: not stored: the batch's transaction failed "
                                              f"({type(exc).__name__}: {exc})"))  # fmt: skip
        else:
            for (name, _), res in zip(batch, outcome, strict=True):
                if isinstance(res, Ingested):
                    report(FileResult(name, ingested=res))
                else:
                    report(FileResult(name, error=f"{name}: {res}; not stored"))
        batch.clear()

    for name, prepared, error, invalid in _prepared(names, semd_dir, workers):
        if prepared is None:
            report(FileResult(name, error=error, invalid=invalid))
            continue
        batch.append((name, prepared))
        if len(batch) >= batch_size:
            flush()
    flush()
    return summary
