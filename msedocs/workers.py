"""Where a batch's worker processes come from, and how many: light on purpose (no case model, no
generators, no signing), so that ``msedocs render`` starts the workers' fork server before it
loads any of them itself. The fork server's imports and :mod:`msedocs.zygote`'s preparations,
some 1.7 s of one core, are the longest wait of a batch's start; started first, they run beside
the command's own imports (0.4 s) and its first pass over the cases instead of after them.
:mod:`msedocs.pipeline` renders the batch with these workers.
"""

from __future__ import annotations

import multiprocessing
import os
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, cast

from .casefiles import case_sources, is_batch
from .errors import InputError

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext

#: The engines that lay a form's PDF out: WeasyPrint (HTML templates, the default) or Typst
#: (templates/form.typ); both read the same filled-in document. Journals are always Typst's,
#: the session protocol WeasyPrint's.
ENGINES = ("weasyprint", "typst")
#: The setting that chooses the engine when a call does not.
ENGINE_SETTING = "MSEDOCS_PDF_ENGINE"


def parse_engine(value: str | None = None) -> str:
    """The PDF engine asked for, else the setting :data:`ENGINE_SETTING`, else weasyprint."""
    chosen = (value or os.environ.get(ENGINE_SETTING) or "weasyprint").strip().lower()
    if chosen not in ENGINES:
        where = "--engine" if value else ENGINE_SETTING
        raise InputError(f"{where}: unknown PDF engine; choose weasyprint or typst")
    return chosen


#: A batch of at most this many cases is rendered in the calling process when no worker count
#: is given: a worker's start-up (imports, fonts, keys: 1-2 CPU s, less when forked from a ready
#: fork server) outweighs what a second core saves on a few cases (about 0.25 CPU s a case's
#: signed package with Typst).
FEW_CASES = 8


def usable_cores() -> int:
    """The cores this process may run on: ``os.process_cpu_count`` (Python 3.13), else the CPU
    affinity mask (a container's or ``taskset``'s limit), else every core of the machine."""
    counted = getattr(os, "process_cpu_count", None)
    if counted is not None:
        n = counted()
    elif hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count()
    return max(1, n or 1)


def default_workers(cases: int) -> int:
    """Worker processes for a batch of ``cases`` when none are asked for: one per usable core
    (at most one per case), or none but the calling process for a batch of :data:`FEW_CASES`
    or fewer."""
    return 1 if cases <= FEW_CASES else max(1, min(usable_cores(), cases))


#: What a batch worker imports, by engine: loaded once into the fork server that every worker
#: of a batch (and every worker that replaces one) is forked from, instead of once per worker.
#: ``__main__`` is the calling program (multiprocessing's default), which a worker would
#: otherwise import again; :mod:`msedocs.zygote`, last, prepares what every worker shares.
WORKER_MODULES = {
    "typst": ("__main__", "msedocs.pipeline", "signing.profile", "signing.pades", "signing.xades",
              "signing.cades", "generators.typst_form", "msedocs.zygote"),
    "weasyprint": ("__main__", "msedocs.pipeline", "signing.profile", "signing.pades", "signing.xades",
                   "signing.cades", "generators.pdf", "msedocs.zygote"),
}  # fmt: skip


def worker_context(engine: str) -> ForkServerContext | SpawnContext:
    """Where batch workers come from: multiprocessing's fork server, its imports done once
    (:data:`WORKER_MODULES`), where the platform has one; else spawn. Either way a worker starts
    from a process that never signed nor laid out a PDF: no threads, keys or open files."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return cast("SpawnContext", multiprocessing.get_context("spawn"))
    ctx = cast("ForkServerContext", multiprocessing.get_context("forkserver"))
    ctx.set_forkserver_preload(list(WORKER_MODULES[engine]))  # takes effect when the server starts
    return ctx


def start_worker_server(engine: str) -> None:
    """Start the fork server now (its imports run beside the caller's own work, such as reading
    the cases), so that the batch's first workers are forked at once."""
    if worker_context(engine).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def pooled(cases: Path, workers: int | None) -> bool:
    """Whether a batch will be rendered by worker processes, known before its first pass: they
    were asked for, or it holds more than :data:`FEW_CASES` cases (counted no further)."""
    if workers is not None:
        return workers > 1
    try:
        return default_workers(sum(1 for _ in islice(case_sources(cases), FEW_CASES + 1))) > 1
    except InputError:  # the first pass says what is wrong
        return False


def prestart(cases: Path, workers: int | None, engine: str | None) -> None:
    """Start the fork server for ``render``'s batch, if it will have workers, before anything
    else is loaded; anything wrong with the arguments is left for ``render`` to report."""
    if not is_batch(cases):
        return
    try:
        chosen = parse_engine(engine)
    except InputError:
        return
    if pooled(cases, workers):
        start_worker_server(chosen)
