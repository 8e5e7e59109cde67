"""Callbacks: a finished job's event POSTed to the ``callback_url`` its request gave.

The event (``job.succeeded`` or ``job.failed``) is written to ``api_callbacks`` in the
transaction that finishes the job (:meth:`JobStore.complete`, :meth:`JobStore.fail`), so it is
sent even if the process that rendered the job dies right after. A :class:`CallbackSender`
thread runs in ``msedocs serve`` and in every ``msedocs worker --jobs``: it claims due callbacks
(a lease, ``SKIP LOCKED`` on PostgreSQL), POSTs each, and on a failure (no answer, a non-2xx
status) schedules the next attempt with exponential backoff and jitter, up to
``max_attempts``; then the callback is ``failed`` (the job itself stays readable: polling
``GET /v1/jobs/{id}`` always works). A receiver may get an event more than once (a sender
killed after the POST, before recording it): the ``webhook-id`` header is the same on every
attempt, for it to drop repeats.

Signed as `Standard Webhooks <https://www.standardwebhooks.com/>`_ sign (``v1``)::

    webhook-id: msg_…            the same on every attempt of one event
    webhook-timestamp: 1733551234   seconds since the epoch, of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>

with the key's secret (``whsec_`` + base64 of 32 bytes; the HMAC key is the decoded bytes).
The receiver recomputes it over the raw body, compares in constant time and refuses a
timestamp more than five minutes away from its clock (:func:`verify` does all three).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..delivery.models import Backoff
from ..delivery.store import OutboxUnavailableError
from .store import Callback, JobStore

log = logging.getLogger("msedocs.api.callbacks")
USER_AGENT = "msedocs-callbacks/1"
TOLERANCE = 300


@dataclass(frozen=True)
class CallbackPolicy(Backoff):
    max_attempts: int = 10
    """Attempts before a callback is given up (``failed``)."""
    base_delay: float = 5.0
    """Seconds before the second attempt; doubled after each failure, capped at ``max_delay``."""
    timeout: float = 10.0
    """Seconds to wait for the receiver's answer."""
    lease: float = 60.0
    poll: float = 1.0


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value (``v1,<base64>``)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(secret: str, received: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver does: the signature matches one of the header's ``v1,`` signatures and
    the timestamp is within :data:`TOLERANCE` seconds."""
    try:
        msg_id = received["webhook-id"]
        timestamp = int(received["webhook-timestamp"])
        given = received["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, g) for g in given)


class CallbackSender:
    """Sends due callbacks from the store, in one thread, until stopped."""

    def __init__(self, store: JobStore, worker_id: str, policy: CallbackPolicy | None = None) -> None:
        self.store = store
        self.id = worker_id
        self.policy = policy or CallbackPolicy()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="callback-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        import httpx

        with httpx.Client(timeout=self.policy.timeout, follow_redirects=False,
                          headers={"user-agent": USER_AGENT}) as client:  # fmt: skip
            while not self.stopping.is_set():
                try:
                    sent = self.run_once(client)
                except OutboxUnavailableError:
                    log.warning("callbacks: the store is unavailable; retrying")
                    sent = 0
                except Exception as exc:  # keep sending whatever one round met
                    log.warning("callbacks: %s; retrying", type(exc).__name__)
                    sent = 0
                if not sent:
                    self.wake.wait(self.policy.poll)
                    self.wake.clear()

    def run_once(self, client: object) -> int:
        """Claim and send the due callbacks; how many were attempted."""
        due = self.store.claim_callbacks(self.id, lease=self.policy.lease)
        for callback in due:
            if self.stopping.is_set():
                break
            self._send(client, callback)
        return len(due)

    def _send(self, client: object, callback: Callback) -> None:
        import httpx

        assert isinstance(client, httpx.Client)
        status: int | None = None
        try:
            answer = client.post(callback.url, content=callback.body,
                                 headers=headers(callback.secret, callback.id, callback.body))  # fmt: skip
            status = answer.status_code
            if 200 <= status < 300:
                self.store.callback_sent(callback.id, self.id, status)
                log.info("callback %s (%s of job %s): delivered", callback.id, callback.event, callback.job_id)
                return
            error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempts = callback.attempts + 1
        retry_in = self.policy.delay(attempts) if attempts < self.policy.max_attempts else None
        self.store.callback_failed(callback.id, self.id, status, error, retry_in)
        log.info("callback %s of job %s: attempt %d failed (%s); %s", callback.id, callback.job_id, attempts, error,
                 f"next in {retry_in:.1f} s" if retry_in is not None else "given up")  # fmt: skip
