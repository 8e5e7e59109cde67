"""One batch split over worker processes on any number of machines, coordinated by the service's
job tables: ``msedocs batch submit | status | collect`` (and ``msedocs render --coordinate``).

- ``submit`` checks the whole batch first, exactly as ``msedocs render`` does (each case valid,
  each case_id once; here also: each asked form applies), then queues one render job per case,
  all in one transaction, each carrying the batch id (``api_jobs.batch_id``) and the request a
  job of ``POST /v1/renders`` carries (:class:`.engine.RenderParams`: the case, forms, formats,
  variant, signature level, PDF engine). The jobs belong to an internal key (:data:`.store.BATCH_KEY`)
  that no token opens. The batch id is derived from the cases (their bytes, in order) and the
  options, so the same file submitted again with the same options is the same batch and adds
  no job; ``--batch-id`` names it explicitly (the same id with other cases or options is refused).
- ``msedocs worker --jobs`` renders them as it renders any job (lease, claim token, renewal,
  a job claimed again when its worker dies); signed with the worker's PKI.
- ``collect`` waits until every job of the batch finished, refuses a batch with a failed job
  (naming each case_id and its problem, writing nothing) and writes ``OUT`` as ``msedocs render
  CASES --out OUT`` writes a batch: a folder per case with its files and manifest.json, staged
  beside ``OUT`` and moved into it at the end, one case read from the store at a time.

A batch job issues nothing in the service's sense (no reservation in ``api_issued``): like
``msedocs render``, whose work it spreads, it writes files; delivery is ``render --queue``'s.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from generators.common import RenderedDocument

from .. import pipeline
from ..casefiles import is_batch
from ..errors import FormNotApplicableError, InputError, MsedocsError, Problem
from ..forms import get_form
from ..model import BatchReader, Case
from ..model.load import case_sources, parse_json
from .engine import RenderParams, canonical_json
from .store import JobState, JobStore

BATCH_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Seconds between looks at an unfinished batch (``collect --wait``).
POLL = 1.0


class BatchNotFinished(MsedocsError):
    """Some jobs of the batch are still queued or running (exit 1)."""


class BatchFailed(MsedocsError):
    """A job of the batch failed: nothing is collected (exit 1)."""


@dataclass(frozen=True)
class BatchOptions:
    """What every case of a batch is rendered with, parsed as ``msedocs render`` parses it."""

    forms: tuple[str, ...] | None
    formats: tuple[str, ...]
    variant: str
    level: str | None
    engine: str

    def params(self, case_json: bytes) -> RenderParams:
        return RenderParams(case_json, self.forms, self.formats, self.variant, self.engine, level=self.level)


@dataclass(frozen=True)
class Submitted:
    batch_id: str
    jobs: int
    created: bool


def _raw_cases(path: Path) -> Iterator[bytes]:
    """Each case's bytes as the batch holds them, in the batch's order."""
    for source, _label, _line in case_sources(path):
        yield source.read_bytes() if isinstance(source, Path) else source


def batch_digest(path: Path, options: BatchOptions) -> str:
    """The batch's cases (their bytes, in order) and options, digested: same file, same options,
    same batch."""
    digest = hashlib.sha256(canonical_json({"forms": options.forms, "formats": options.formats,
                                            "variant": options.variant, "level": options.level,
                                            "engine": options.engine}))  # fmt: skip
    for raw in _raw_cases(path):
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.hexdigest()


def _forms_apply(forms: Sequence[str] | None) -> Callable[[Case], list[Problem]] | None:
    if not forms:
        return None

    def check(case: Case) -> list[Problem]:
        try:
            pipeline.select_forms(case, forms)
        except FormNotApplicableError as exc:
            return [Problem("(forms)", exc.message)]
        return []

    return check


def submit(db: str, cases: Path, options: BatchOptions, batch_id: str | None = None) -> Submitted:
    """Check the batch as ``render`` does (nothing stored on any problem: InputError naming each
    case's file:line and field), then queue its jobs in one transaction."""
    if not is_batch(cases):
        raise InputError(f"{cases}: a batch is a folder of case files or a .jsonl file")
    if batch_id is not None and not BATCH_ID.fullmatch(batch_id):
        raise InputError("--batch-id: 1-64 of A-Z a-z 0-9 . _ -")
    for form_id in options.forms or ():
        get_form(form_id)  # an unknown id: UnknownFormError, exit 2
    with JobStore(db, create=True) as store:  # opened first: an unreachable store fails before the reading
        reader = BatchReader(cases, _forms_apply(options.forms))  # the first pass of ``render``: nothing held
        for _ in reader:
            pass
        reader.raise_for_problems("invalid case data; nothing submitted")
        digest = batch_digest(cases, options)
        chosen = batch_id or digest[:32]

        def jobs() -> Iterator[tuple[str, bytes]]:
            for raw in _raw_cases(cases):
                body = parse_json(raw)
                yield str(body["case_id"]).strip(), options.params(canonical_json(body)).to_json()

        jobs_in_batch, created = store.submit_batch(chosen, digest, jobs)
    return Submitted(chosen, jobs_in_batch, created)


def status(db: str, batch_id: str) -> dict[str, int]:
    """The batch's jobs by state; InputError if the store has no such batch."""
    with JobStore(db, create=True) as store:  # as `worker --jobs` opens it (create=False needs an outbox in SQLite)
        counts = store.batch_counts(batch_id)
    if not counts:
        raise InputError(f"batch {batch_id}: no such batch in this store")
    return counts


def _unfinished(counts: dict[str, int]) -> int:
    return counts.get(JobState.QUEUED, 0) + counts.get(JobState.RUNNING, 0)


def collect(
    db: str, batch_id: str, out: Path, *, wait: bool = False, timeout: float | None = None, poll: float = POLL,
) -> list[Path]:  # fmt: skip
    """The batch's packages into ``out`` (the files written, relative to it), once every job
    succeeded. With ``wait``, polls until every job finished (at most ``timeout`` seconds);
    unfinished jobs: :class:`BatchNotFinished`; a failed or cancelled job: :class:`BatchFailed`
    naming each case; either way nothing is written."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with JobStore(db, create=True) as store:
        while True:
            counts = store.batch_counts(batch_id)
            if not counts:
                raise InputError(f"batch {batch_id}: no such batch in this store")
            left = _unfinished(counts)
            if not left:
                break
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                waited = "" if not wait else f" after {timeout:g} s"
                raise BatchNotFinished(f"batch {batch_id}: {left} of {sum(counts.values())} job(s) not finished"
                                       f"{waited} (queued {counts.get(JobState.QUEUED, 0)}, running "
                                       f"{counts.get(JobState.RUNNING, 0)}); nothing written"
                                       f"{'' if wait else '; add --wait to wait for them'}")  # fmt: skip
            time.sleep(poll)
        jobs = store.batch_jobs(batch_id)
        failed = [(case_id, state, error) for _, case_id, state, error in jobs if state != JobState.SUCCEEDED]
        if failed:
            raise BatchFailed(f"batch {batch_id}: {len(failed)} of {len(jobs)} case(s) failed; nothing written",
                              [_failure(case_id, state, error) for case_id, state, error in failed])  # fmt: skip
        written: list[Path] = []
        with pipeline.staged(out) as staging:
            for job_id, case_id, _state, _error in jobs:  # one case's files in memory at a time
                docs = _package(store, job_id)
                pipeline.write_package(staging / case_id, docs, case_id, staging=False)
                written += [Path(case_id) / d.filename for d in docs]
    return written


def _failure(case_id: str, state: str, error: dict | None) -> Problem:
    if state == JobState.CANCELLED or error is None:
        return Problem(f"case {case_id}", f"the job was {state}")
    detail = str(error.get("detail") or error.get("title") or "failed")
    inner = "; ".join(f"{e.get('path')}: {e.get('message')}" for e in error.get("errors") or [])
    return Problem(f"case {case_id}", f"{detail}{f' ({inner})' if inner else ''}")


def _package(store: JobStore, job_id: str) -> list[RenderedDocument]:
    """A succeeded job's documents, as the worker rendered them: each file from the store
    (checked against its sha256), described by the job's manifest."""
    body = store.manifest_of(job_id) or {}
    stored = {o.name: o for o in store.outputs(job_id)}
    entries = body.get("files", [])
    if sorted(e["file"] for e in entries) != sorted(stored):
        raise MsedocsError(f"job {job_id}: its stored files do not match its manifest")
    return [RenderedDocument(e["form_id"], e["format"], store.content(stored[e["file"]].sha256),
                             e["media_type"], e["file"], e.get("signature")) for e in entries]  # fmt: skip
