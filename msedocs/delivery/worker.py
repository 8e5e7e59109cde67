"""The delivery worker: claims due portal items, sends them, records the outcome.

``python -m msedocs.delivery.worker --db URL --portal-url URL [--once]`` (or ``msedocs worker``).
Run as many as you like, on one machine with SQLite or on several with PostgreSQL.

Crash safety: a claim is one transaction (``queued/retry_wait → sending`` with a lease), the
outcome is another (``sending → delivered | retry_wait | dead | queued`` for the paper
fall-back). A worker killed in between leaves the item in ``sending``; when the lease runs out
another worker claims it again and, since it is no longer the first attempt, first asks the
portal whether the item's idempotency key already arrived. A worker that loses the database
keeps trying to reach it (``--once``: exits with the error instead); whatever it could not
record is picked up the same way.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from types import FrameType

from msedocs.delivery.models import RetryPolicy
from msedocs.delivery.portal import PortalClient, PortalConfig
from msedocs.delivery.store import Claim, Outbox, OutboxUnavailableError, utcnow
from msedocs.errors import InputError, MsedocsError

log = logging.getLogger("msedocs.delivery.worker")


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 64
    """Items claimed per transaction."""
    lease: float | None = None
    """Seconds a claim is held; at least 4 times the portal's connect + read timeout (the
    default). An item whose lease has not that much time left is given back, not sent."""
    poll_interval: float = 1.0
    """Seconds to sleep when nothing is due (continuous mode)."""
    db_retry_max: float = 10.0
    """Longest pause between attempts to reach a lost database."""
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class WorkerStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    fell_back: int = 0
    unresolved: int = 0
    lost_claims: int = 0
    db_errors: int = 0


class Worker:
    def __init__(
        self,
        outbox: Outbox,
        portal: PortalClient,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.portal = portal
        self.config = config or WorkerConfig()
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop_event = threading.Event()
        self.stats = WorkerStats()
        least = max(4 * self._margin(), self._margin() + self.portal.probe_time())
        self.lease = self.config.lease or least
        if self.lease < least:
            raise InputError(
                f"worker lease {self.lease:g} s is too short for portal timeouts of "
                f"{self._margin():g} s: it must be at least {least:g} s"
            )

    def stop(self) -> None:
        self.stop_event.set()

    def _margin(self) -> float:
        """Time one item may take at most: connect, probe and send."""
        cfg = self.portal.config
        return cfg.timeout + cfg.connect_timeout

    def process(self, claims: list[Claim]) -> None:
        """Send claimed items one by one. A failure is recorded at once, in its own transaction;
        successes are recorded together at the end of the batch (group commit: one transaction,
        one ``sending → delivered`` transition and history row per item)."""
        delivered: list[int] = []
        try:
            for n, claim in enumerate(claims):
                item = claim.item
                lease_left = (item.lease_until - self.outbox.clock()).total_seconds() if item.lease_until else 0
                # a later attempt asks the portal first (the probe, tried again after a pause)
                needed = self._margin() + (self.portal.probe_time() if item.attempts > 1 else 0)
                if self.stop_event.is_set() or lease_left < needed:
                    for rest in claims[n:]:
                        self.outbox.release(rest.item.id, self.id)
                    return
                result = self.portal.deliver(item, claim.documents)
                if result.delivered:
                    delivered.append(item.id)
                    continue
                self.stats.failed += 1
                policy = self.config.policy
                state = self.outbox.mark_failed(
                    item.id,
                    self.id,
                    result.reason,
                    policy,
                    permanent=result.permanent,
                    ambiguous=result.ambiguous,
                    probe_failed=result.probe_failed,
                )
                log.info("item %s: attempt %s failed, now %s", item.id, item.attempts, state)
                if state == "dead":
                    self.stats.dead += 1
                elif state == "queued":
                    self.stats.fell_back += 1
                elif state == "unresolved":
                    self.stats.unresolved += 1
                elif state is None:
                    self.stats.lost_claims += 1
        finally:
            if delivered:
                done = self.outbox.mark_delivered_many(delivered, self.id)
                self.stats.delivered += len(done)
                self.stats.lost_claims += len(delivered) - len(done)

    def run(self, once: bool = False) -> WorkerStats:
        """Deliver until stopped; with ``once``, until nothing is due."""
        pause = 0.5
        while not self.stop_event.is_set():
            try:
                claims = self.outbox.claim_due(self.id, self.config.batch_size, self.lease)
                if not claims:
                    if once:
                        break
                    self.stop_event.wait(self.config.poll_interval)
                    continue
                self.process(claims)
                pause = 0.5
            except OutboxUnavailableError:
                if once:  # a one-off run reports the lost database instead of waiting for it
                    raise
                self.stats.db_errors += 1
                log.warning("worker %s: outbox database unavailable, retrying in %.1f s", self.id, pause)
                self.stop_event.wait(pause)
                pause = min(self.config.db_retry_max, pause * 2)
        return self.stats


def run_worker(
    db_url: str | None,
    portal: PortalConfig,
    config: WorkerConfig | None = None,
    *,
    once: bool = False,
    announce: bool = False,
    create: bool = False,
) -> WorkerStats:
    """Open the outbox (a new one only with ``create``) and run one worker in this process;
    SIGTERM/SIGINT stop it cleanly."""
    started = utcnow()
    with Outbox(db_url, create=create) as outbox, PortalClient(portal) as client:
        worker = Worker(outbox, client, config)

        def _stop(signum: int, _frame: FrameType | None) -> None:
            worker.stop()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
        log.info("worker %s: started", worker.id)
        if announce:
            print(f"ready {worker.id}", flush=True)
        stats = worker.run(once=once)
        log.info(
            "worker %s: stopped after %.1f s, %s delivered",
            worker.id,
            (utcnow() - started).total_seconds(),
            stats.delivered,
        )
        return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m msedocs.delivery.worker", description="msedocs delivery worker")
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: MSEDOCS_DB or .msedocs/outbox.sqlite3)")
    p.add_argument("--portal-url", default=os.environ.get("MSEDOCS_PORTAL_URL"))
    p.add_argument("--once", action="store_true", help="drain what is due and exit")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lease", type=float, default=None, help="seconds (default: 4 x the timeouts)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--max-attempts", type=int, default=8)
    p.add_argument("--base-delay", type=float, default=30.0)
    p.add_argument("--no-fallback", action="store_true", help="never fall back to registered mail")
    p.add_argument("--create", action="store_true", help="create the outbox if there is none yet")
    p.add_argument("--announce", action="store_true", help="print 'ready <id>' once the outbox is open")
    p.add_argument("--log-level", default="WARNING")
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not a.portal_url:
        p.error("--portal-url (or MSEDOCS_PORTAL_URL) is required")
    policy = RetryPolicy(max_attempts=a.max_attempts, base_delay=a.base_delay, fallback_to_paper=not a.no_fallback)
    config = WorkerConfig(batch_size=a.batch, lease=a.lease, policy=policy)
    portal = PortalConfig(a.portal_url, timeout=a.timeout, connect_timeout=min(5.0, a.timeout))
    try:
        stats = run_worker(a.db, portal, config, once=a.once, announce=a.announce, create=a.create)
    except MsedocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"delivered {stats.delivered}, failed {stats.failed}, dead {stats.dead}, "
        f"fell back to paper {stats.fell_back}, unresolved {stats.unresolved}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
