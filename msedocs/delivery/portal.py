"""Client of the state portal's delivery API (httpx).

Every item is POSTed to ``{url}/deliveries`` with the header ``Idempotency-Key: <item key>``; the
key is the item's stable id, so however often an item is retried the portal sees one delivery.
Before sending an item again (any attempt after the first: a timeout, a crash between the POST
and the commit) the client first asks ``GET {url}/deliveries/{key}`` whether it already arrived:
200 it did, 404 it did not. Any other outcome of the probe (a timeout, a 5xx) means "unknown",
not "not delivered": the probe is asked again after a pause (``PROBE_PAUSES``), and if it still
cannot say, the attempt fails as ambiguous, so that the item never falls back to paper on it.
Only the portal account leaves msedocs: no name, no address.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx

from msedocs.delivery.models import Item, StoredDocument
from msedocs.errors import InputError


@dataclass(frozen=True)
class PortalConfig:
    """Where the portal is and how to talk to it."""

    url: str
    """Base URL of the portal's delivery API, e.g. ``https://portal.example/api``."""
    timeout: float = 30.0
    """Seconds to wait for an answer (read and write)."""
    connect_timeout: float = 5.0
    """Seconds to wait for a connection."""
    verify: bool = True
    """Check the server certificate. Never switch off outside a test bench."""
    ca_file: str | None = None
    """PEM file of CA certificates to trust instead of the system store."""
    client_cert: str | None = None
    """PEM client certificate for mutual TLS (with ``client_key``, or including the key)."""
    client_key: str | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InputError(f"--portal-url: expected an http(s) URL, got {self.url!r}")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise InputError("portal timeouts must be positive")

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("https://"):
            return True
        if not self.verify:
            return False
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


@dataclass(frozen=True)
class PortalResult:
    """What came of one delivery attempt."""

    delivered: bool
    reason: str
    permanent: bool = False
    """The portal refused the item for good (a 4xx other than 408/425/429): do not retry."""
    ambiguous: bool = False
    """The request may have arrived (a read timeout, a dropped connection, a status probe that
    could not say): the next attempt asks the portal first, and the item does not fall back to
    paper on this failure."""
    probe_failed: bool = False
    """The portal was asked whether it has the item and could not say."""


RETRYABLE_4XX = {408, 425, 429}
#: Pauses in seconds before the status probe is asked again within one attempt; later attempts
#: (after the retry policy's exponential backoff) ask again.
PROBE_PAUSES = (0.5,)


class PortalClient(AbstractContextManager["PortalClient"]):
    def __init__(self, config: PortalConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(
            base_url=config.url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            verify=config.ssl_context(),
            transport=transport,
            headers={"User-Agent": "msedocs-delivery"},
        )

    def close(self) -> None:
        self._client.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def payload(item: Item, documents: Sequence[StoredDocument]) -> bytes:
        body = {
            "delivery_id": item.key,
            "case_ref": item.case_ref,
            "recipient": {"portal_account": item.recipient.portal_account},
            "due_date": item.due_date.isoformat(),
            "documents": [
                {
                    "name": d.name,
                    "media_type": d.media_type,
                    "sha256": d.sha256,
                    "content": base64.b64encode(d.content).decode("ascii"),
                }
                for d in documents
            ],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def already_delivered(self, key: str) -> bool | PortalResult:
        """True or False if the portal knows the key or not; an ambiguous failed result if it
        could not say, after asking again after each of ``PROBE_PAUSES``."""
        failure = PortalResult(False, "status check not made")
        for pause in (0.0, *PROBE_PAUSES):
            time.sleep(pause)
            try:
                r = self._client.get(f"/deliveries/{key}")
            except httpx.HTTPError as exc:
                failure = PortalResult(
                    False, f"status check failed: {type(exc).__name__}", ambiguous=True, probe_failed=True
                )
                continue
            if r.status_code == 200:
                return True
            if r.status_code == 404:
                return False
            failure = PortalResult(
                False, f"status check answered HTTP {r.status_code}", ambiguous=True, probe_failed=True
            )
        return failure

    def probe_time(self) -> float:
        """Longest time the status probe can take: every try timing out, and the pauses."""
        return (1 + len(PROBE_PAUSES)) * (self.config.timeout + self.config.connect_timeout) + sum(PROBE_PAUSES)

    def deliver(self, item: Item, documents: Sequence[StoredDocument]) -> PortalResult:
        """One attempt to deliver ``item``. Never raises for network or HTTP errors."""
        if not documents:
            return PortalResult(False, "no electronic documents to send", permanent=True)
        if item.attempts > 1 or item.last_reason is not None:  # an earlier attempt may have arrived
            known = self.already_delivered(item.key)
            if isinstance(known, PortalResult):
                return known
            if known:
                return PortalResult(True, "already accepted by the portal")
        try:
            r = self._client.post(
                "/deliveries",
                content=self.payload(item, documents),
                headers={"Idempotency-Key": item.key, "Content-Type": "application/json"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent
            return PortalResult(False, f"cannot connect: {type(exc).__name__}")
        except httpx.TimeoutException as exc:
            return PortalResult(False, f"timeout: {type(exc).__name__}", ambiguous=True)
        except httpx.HTTPError as exc:
            return PortalResult(False, f"transport error: {type(exc).__name__}", ambiguous=True)
        if r.status_code in (200, 201, 202):
            return PortalResult(True, f"accepted by the portal (HTTP {r.status_code})")
        permanent = 400 <= r.status_code < 500 and r.status_code not in RETRYABLE_4XX
        return PortalResult(False, f"portal answered HTTP {r.status_code}", permanent=permanent)
