"""Plain data of the outbox: channels, states, documents, recipients, items and options."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from msedocs.errors import InputError


class Channel:
    PORTAL = "portal"
    POST = "post"
    ALL = (PORTAL, POST)


class State:
    QUEUED = "queued"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    DELIVERED = "delivered"
    DEAD = "dead"
    PRINTED = "printed"
    HANDED_OVER = "handed_over"
    RETURNED = "returned"
    UNRESOLVED = "unresolved"
    """A portal item whose outcome is unknown when paper would be due: a person decides
    (``msedocs queue resolve ID --delivered | --paper``, or ``queue retry ID``)."""
    ALL = (QUEUED, SENDING, RETRY_WAIT, DELIVERED, DEAD, PRINTED, HANDED_OVER, RETURNED, UNRESOLVED)
    FINAL = (DELIVERED, DEAD, RETURNED)


#: Allowed transitions, (channel, from) -> to. The store refuses anything else.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (Channel.PORTAL, State.QUEUED): frozenset({State.SENDING}),
    (Channel.PORTAL, State.RETRY_WAIT): frozenset({State.SENDING, State.QUEUED}),
    (Channel.PORTAL, State.SENDING): frozenset(
        {State.SENDING, State.DELIVERED, State.RETRY_WAIT, State.DEAD, State.QUEUED, State.UNRESOLVED}
    ),
    (Channel.PORTAL, State.DEAD): frozenset({State.QUEUED}),
    # resolved by a person: delivered, or queued again (on the portal, or as a postal item)
    (Channel.PORTAL, State.UNRESOLVED): frozenset({State.DELIVERED, State.QUEUED}),
    (Channel.POST, State.QUEUED): frozenset({State.PRINTED}),
    (Channel.POST, State.PRINTED): frozenset({State.HANDED_OVER, State.QUEUED}),
    (Channel.POST, State.HANDED_OVER): frozenset({State.DELIVERED, State.RETURNED}),
    (Channel.POST, State.RETURNED): frozenset({State.QUEUED}),
    (Channel.POST, State.DEAD): frozenset({State.QUEUED}),
}


class DocumentLike(Protocol):
    """Anything with the fields of msedocs' ``RenderedDocument`` (read-only)."""

    @property
    def content(self) -> bytes: ...
    @property
    def media_type(self) -> str: ...
    @property
    def filename(self) -> str: ...


@dataclass(frozen=True)
class OutboxDocument:
    """A document to deliver. ``role`` is ``electronic`` (sent to the portal) or ``paper`` (printed)."""

    name: str
    content: bytes
    media_type: str = "application/pdf"
    role: str = "electronic"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @classmethod
    def from_rendered(cls, doc: DocumentLike, role: str = "electronic") -> OutboxDocument:
        return cls(name=doc.filename, content=doc.content, media_type=doc.media_type, role=role)


@dataclass(frozen=True)
class StoredDocument:
    name: str
    media_type: str
    role: str
    sha256: str
    size: int
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Recipient:
    """Only what delivery needs: the portal account, and for paper the addressee and address."""

    portal_account: str | None = None
    """The citizen's (or representative's) account id on the state portal."""
    name: str | None = None
    """Addressee as printed on the envelope."""
    postcode: str | None = None
    address: str | None = None
    """Postal address without the postcode, lines separated by newlines."""
    paper_requested: bool = False
    """The citizen asked for paper."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recipient:
        return cls(**json.loads(text))

    @property
    def has_postal_address(self) -> bool:
        return bool(self.name and self.postcode and self.address)

    def for_channel(self, channel: str, fallback_to_paper: bool) -> Recipient:
        """Only what ``channel`` needs: a portal item keeps the portal account, and the addressee
        and address only for a paper fall-back; a postal item keeps the addressee and address."""
        if channel == Channel.POST:
            return replace(self, portal_account=None)
        if fallback_to_paper and self.has_postal_address:
            return self
        return replace(self, name=None, postcode=None, address=None)


@dataclass(frozen=True)
class Sender:
    """The sender of registered mail: the bureau that took the decision (the case's
    ``commission``), as printed on the cover letter, the envelope and the form-103 list."""

    name: str
    address: str
    """Postal address without the postcode."""
    postcode: str | None = None

    def __post_init__(self) -> None:
        for key in ("name", "address"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip() or len(value) > 500:
                raise InputError(f"sender.{key}: is required, 1-500 characters")
        if self.postcode is not None and not (len(self.postcode) == 6 and self.postcode.isdigit()):
            raise InputError("sender.postcode: a postcode is 6 digits")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Sender | None:
        return cls(**json.loads(text)) if text else None


@dataclass(frozen=True)
class Item:
    """One row of the outbox."""

    id: int
    key: str
    case_ref: str
    channel: str
    state: str
    country: str
    decision_date: dt.date
    due_date: dt.date
    recipient: Recipient = field(repr=False)
    fallback_to_paper: bool
    attempts: int
    next_attempt_at: dt.datetime
    claimed_by: str | None
    lease_until: dt.datetime | None
    last_reason: str | None
    tracking_number: str | None
    list_number: int | None
    list_date: dt.date | None
    handed_over_on: dt.date | None
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    prev_state: str | None = None
    sender: Sender | None = field(default=None, repr=False)
    """The bureau sending it by registered mail; None for items queued without one (the
    configured sender, ``MSEDOCS_SENDER_*``, is printed instead)."""

    @property
    def completed_on(self) -> dt.date | None:
        """The day the deadline counts as met: delivery to the portal, or hand-over to the post."""
        if self.channel == Channel.POST and self.handed_over_on is not None:
            return self.handed_over_on
        if self.state == State.DELIVERED and self.completed_at is not None:
            return self.completed_at.date()
        return None

    def summary(self) -> dict[str, Any]:
        """Fields safe to show and log: no recipient."""
        return {
            "id": self.id,
            "case_ref": self.case_ref,
            "channel": self.channel,
            "state": self.state,
            "country": self.country,
            "due_date": self.due_date.isoformat(),
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(timespec="seconds"),
            "last_reason": self.last_reason,
            "tracking_number": self.tracking_number,
            "list_number": self.list_number,
        }


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    from_state: str | None
    to_state: str
    channel: str
    reason: str
    worker: str | None


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between the attempts of something sent (a portal delivery, the
    service's callbacks)."""

    max_attempts: int = 8
    """Attempts before it is given up."""
    base_delay: float = 30.0
    """Seconds before the second attempt; doubles with each attempt."""
    max_delay: float = 3600.0
    """Cap of the delay in seconds."""
    jitter: float = 0.5
    """Fraction of the delay drawn at random (0 = none, 1 = "full jitter"), so that receivers
    coming back from an outage are not hit by every sender at once."""

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt: exponential, capped, jittered."""
        raw = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        r = (rng or random).random()
        return raw * (1 - self.jitter) + raw * self.jitter * r


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """How a failing portal delivery is retried."""

    max_attempts: int = 8
    """After this many attempts the item goes to ``dead`` (or to paper, see below)."""
    fallback_to_paper: bool = True
    """Send a portal item that keeps failing by registered mail instead (if it has an address)."""
    fallback_after_attempts: int = 4
    """Fall back to paper after this many failed attempts …"""
    fallback_margin_days: int = 1
    """… or as soon as a failure happens this many calendar days or fewer before the due date."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise InputError("retry policy: max_attempts >= 1, delays >= 0 and 0 <= jitter <= 1")
