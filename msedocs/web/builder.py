"""Building print batches in the background.

A batch is made ``pending`` by the page in one quick request (the items put on form-103 lists
with their tracking numbers, in the outbox's transaction); a :class:`BatchBuilder` thread of the
server then claims it in the store (``building``, a token and a lease renewed while it renders,
as the service's job runner does with jobs), renders it in one of the service's rendering
processes (:func:`msedocs.web.printing.render_batch`, which notes its progress in the batch) and
stores its files under the claim. The page polls the batch's state (htmx, or a plain refresh
with JavaScript off). A server killed mid-build leaves the lease to run out: the batch is
claimed again and built from the start, by this server when it is back or by another one on
the same store; a rendering process that dies gives the batch back at once.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from msedocs.errors import MsedocsError
from msedocs.web.store import WebStore

log = logging.getLogger("msedocs.web.builder")

#: Seconds a builder's claim on a batch is held without renewal (renewed every third of it).
LEASE_ENV = "MSEDOCS_PRINT_LEASE"
DEFAULT_LEASE = 30.0
FAILED = ("Не удалось сформировать файлы для печати. Сформируйте пакет заново; если не поможет, сообщите "
          "администратору (время ошибки в журнале сервера).")  # fmt: skip


def lease_seconds() -> float:
    raw = os.environ.get(LEASE_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_LEASE
    except ValueError:
        value = DEFAULT_LEASE
    return min(max(value, 3.0), 3600.0)


class BatchBuilder:
    """One thread that builds pending batches one at a time in the service's rendering pool."""

    def __init__(self, store: WebStore, pool: Any, db_url: str, *, lease: float | None = None,
                 poll: float = 2.0) -> None:  # fmt: skip
        self.store = store
        self.pool = pool
        self.db_url = db_url
        self.lease = lease or lease_seconds()
        self.poll = poll
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="print-batch-builder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.pool.ready or self.run_once() is None:
                    self.wake.wait(self.poll)
                    self.wake.clear()
            except Exception as exc:  # the store is away for a moment: keep trying
                log.warning("print batch builder: %s; retrying", type(exc).__name__)
                self.stopping.wait(max(1.0, self.poll))

    def run_once(self) -> str | None:
        """Claim one batch and build it: ``ready``, ``failed``, ``released`` or ``lost``; None if
        none is waiting."""
        from msedocs.api.pool import PoolBroken, result
        from msedocs.web.printing import render_batch

        claimed = self.store.claim_batch(self.lease)
        if claimed is None:
            return None
        batch, token = claimed
        log.info("print batch %s: building (attempt %s)", batch.id, batch.attempts)
        self.pool.reserve(block=True)
        try:
            future = self.pool.submit(render_batch, self.db_url, batch.id, token, batch.lists,
                                      batch.list_date.strftime("%d.%m.%Y"), batch.duplex)  # fmt: skip
            while True:
                try:
                    files, pages = result(future, timeout=self.lease / 3)
                    break
                except FutureTimeout:
                    if not self.store.renew_batch(batch.id, token, self.lease):
                        log.warning("print batch %s: the claim was lost while building", batch.id)
        except PoolBroken:
            log.warning("print batch %s: a rendering process died; the batch is built again", batch.id)
            return "released" if self.store.release_batch(batch.id, token) else "lost"
        except (MsedocsError, OSError, RuntimeError, ValueError) as exc:
            log.error("print batch %s failed: %s", batch.id, type(exc).__name__)
            return "failed" if self.store.fail_batch(batch.id, FAILED, token) else "lost"
        if self.store.finish_batch(batch.id, files, pages, token):
            log.info("print batch %s: ready, %s pages", batch.id, pages)
            return "ready"
        log.warning("print batch %s: the claim was lost while building; its files are dropped", batch.id)
        return "lost"
