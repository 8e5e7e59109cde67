"""Running render jobs: claim from the store, render in the pool, finish under the claim.

One :class:`JobRunner` serves both ``msedocs serve`` (its embedded runner, unless
``--no-jobs``) and ``msedocs worker --jobs`` (any number of them, on any machine, against one
PostgreSQL). While a job renders, its lease is renewed; a runner killed mid-job leaves the
lease to run out and the job to be claimed again, and the store takes a job's outputs only
from the runner that still holds its claim, so each job succeeds once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from ..delivery.store import OutboxUnavailableError
from ..errors import MsedocsError
from . import engine
from .pool import PoolBroken, RenderPool, result
from .problems import KINDS, type_uri
from .store import Claim, JobStore

log = logging.getLogger("msedocs.api.jobs")


def worker_id(kind: str = "worker") -> str:
    return f"{kind}-{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunnerConfig:
    lease: float = 60.0
    """Seconds a claim is held without renewal; renewed every third of it while rendering."""
    poll: float = 0.5
    """Seconds between looks at an empty queue."""
    pki_dir: str | None = None
    signing_config: str | None = None


def problem_of(exc: BaseException) -> dict[str, Any]:
    """A job's failure as a problem document (messages of the flow carry no personal data)."""
    if isinstance(exc, MsedocsError):
        kind = engine.problem_kind(exc)
        detail = exc.message
        errors = [{"path": p.path, "message": p.message} for p in exc.problems]
    else:
        kind, detail, errors = "internal", f"{type(exc).__name__} while rendering", []
    body: dict[str, Any] = {"type": type_uri(kind), "title": KINDS[kind].title, "status": KINDS[kind].status,
                            "detail": detail}  # fmt: skip
    if errors:
        body["errors"] = errors
    return body


def wait_renewing(store: JobStore, claim: Claim, future: Future[Any], lease: float) -> Any:
    """The task's result, renewing the claim's lease while it runs. If the claim is lost
    meanwhile the result is still returned: :meth:`JobStore.complete` will refuse it."""
    while True:
        try:
            return result(future, timeout=lease / 3)
        except FutureTimeout:
            try:
                store.renew(claim.job.id, claim.token, lease, progress=50)
            except OutboxUnavailableError:  # the store is away for a moment: the next renewal may reach it
                log.warning("job %s: cannot renew the lease (store unavailable)", claim.job.id)


def execute(store: JobStore, pool: RenderPool, claim: Claim, config: RunnerConfig, *, reserved: bool = False) -> str:
    """Render a claimed job and finish it: ``succeeded``, ``failed``, ``released`` (the pool
    broke: the job goes back to the queue) or ``lost`` (another runner holds it now)."""
    try:
        task, args = _task(store, claim, config)
        if not reserved or claim.job.attempts > 1 or claim.job.respond_async:  # a caller's fresh claim needs none
            store.renew(claim.job.id, claim.token, config.lease, progress=10)
    except BaseException:
        if reserved:
            pool.unreserve()
        raise
    if not reserved:
        pool.reserve(block=True)
    try:
        future = pool.submit(task, *args)
        rendered = wait_renewing(store, claim, future, config.lease)
    except PoolBroken:
        log.warning("job %s: a render worker died; the job goes back to the queue", claim.job.id)
        return "released" if store.release(claim.job.id, claim.token) else "lost"
    except Exception as exc:
        log.info("job %s: failed (%s)", claim.job.id, type(exc).__name__)
        return "failed" if store.fail(claim.job.id, claim.token, problem_of(exc)) else "lost"
    signed = isinstance(args[0], engine.RenderParams) and args[0].level is not None
    if store.complete(claim.job.id, claim.token, rendered.files, rendered.manifest, durable=signed):
        log.info("job %s: succeeded, %d file(s)", claim.job.id, len(rendered.files))
        return "succeeded"
    log.warning("job %s: the claim was lost while rendering; its outputs are dropped", claim.job.id)
    return "lost"


def _task(store: JobStore, claim: Claim, config: RunnerConfig) -> tuple[Any, tuple[Any, ...]]:
    """The worker task of a job and its arguments, by the job's kind."""
    if claim.job.kind in ("journal", "protocol"):
        params = engine.RegisterParams.from_json(claim.request, config.pki_dir, config.signing_config)
        return engine.register_task, (params, store.content(params.cases_sha256))
    return engine.render_task, (engine.RenderParams.from_json(claim.request, config.pki_dir, config.signing_config),)


class JobRunner:
    """Claims and runs jobs with up to ``concurrency`` at a time (one thread each), taking a job
    only when a worker process is idle, so that synchronous requests keep their share."""

    def __init__(
        self, store: JobStore, pool: RenderPool, config: RunnerConfig, *, concurrency: int | None = None,
        name: str = "worker",
    ) -> None:  # fmt: skip
        self.store = store
        self.pool = pool
        self.config = config
        self.concurrency = concurrency or pool.workers
        self.id = worker_id(name)
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.done: dict[str, int] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for n in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"job-runner-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout)

    def run_once(self) -> str | None:
        """Claim one job and run it; None if the queue is empty."""
        try:
            self.pool.reserve()
        except Exception:
            return None
        try:
            claim = self.store.claim(self.id, self.config.lease)
        except Exception:
            self.pool.unreserve()
            raise
        if claim is None:
            self.pool.unreserve()
            return None
        outcome = execute(self.store, self.pool, claim, self.config, reserved=True)
        with self._lock:
            self.done[outcome] = self.done.get(outcome, 0) + 1
        return outcome

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.pool.idle() == 0 or not self.pool.ready:
                    self.stopping.wait(0.05)
                    continue
                if self.run_once() is None:
                    self.stopping.wait(self.config.poll)
            except Exception as exc:  # the store is away: keep trying, as the delivery worker does
                log.warning("job runner: %s; retrying", type(exc).__name__)
                self.stopping.wait(max(1.0, self.config.poll))


def run_worker(
    store: JobStore, pool: RenderPool, config: RunnerConfig, *, once: bool = False, concurrency: int | None = None
) -> dict[str, int]:
    """``msedocs worker --jobs``: run jobs until SIGTERM/SIGINT (or, with ``once``, until the
    queue is empty). A stopping worker finishes the jobs it holds."""
    runner = JobRunner(store, pool, config, concurrency=concurrency, name="worker")
    pool.wait_ready(120)
    if once:
        while runner.run_once() is not None:
            pass
        return runner.done
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def stop(_signum: int, _frame: Any) -> None:
        runner.stopping.set()

    for sig in previous:
        signal.signal(sig, stop)
    try:
        runner.start()
        while not runner.stopping.is_set():
            time.sleep(0.2)
        runner.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return runner.done
