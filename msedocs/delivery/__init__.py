"""Delivery of signed documents: an outbox that loses nothing and delivers nothing twice.

Order 692n, appendix 2, point 6: the extract for a citizen not recognised as disabled goes to
the citizen's account on the state portal within 3 working days of the decision; if that is not
possible, or the citizen asked for paper, it is printed, sealed and sent by registered mail
within the same 3 working days.

Modules, in the order an item passes through them::

    calendar   working days by the Russian and Belarusian production calendars
    store      the outbox (SQLite or PostgreSQL, Alembic migrations in migrations/)
    portal     httpx client of the portal, idempotency key = the item's key
    worker     claims due portal items, sends them, records the outcome
    stub       a portal stub for tests and integrators
    tracking   Russian Post tracking numbers and their ranges
    postal     the day's registered-mail batch: print packs, form-103 list (PDF + CSV), one list
               per sender (the bureau stored with each item; MSEDOCS_SENDER_* for items without)
    cli        typer apps and commands mounted by msedocs.cli

Portal states: queued → sending → delivered; failures → retry_wait (exponential backoff with
jitter) → dead after the last attempt, or back to queued as a postal item (paper fall-back), or
unresolved (below). Postal states: queued → printed → handed_over → delivered | returned.

Never on both channels. A portal item goes on paper only when the portal has positively not
received it. An attempt whose outcome is unknown — a POST that timed out or lost its connection,
a worker killed between its POST and the commit (its lease runs out, the item is claimed again),
a status probe that timed out or answered anything but 200 or 404 — is *ambiguous*: it never
falls back to paper. Every attempt after the first begins with the status probe ``GET
/deliveries/{key}`` (asked again after a pause within the attempt, and again at each retry,
after the retry policy's exponential backoff): 200 records the item delivered without sending it
again, 404 ("not received") lets the attempt send it and a definite failure then may fall back to
paper as the retry policy says (after ``fallback_after_attempts`` failures, at the last attempt,
or within ``fallback_margin_days`` of the due date).

The deadline rule: when the outcome is still unknown at the last attempt (``max_attempts``), or
a status probe fails within ``fallback_margin_days`` (1) calendar days of the due date, an item
that could go on paper goes to ``unresolved`` instead: the worker no longer touches it, ``queue
status / list / show / deadlines`` show it, and a person checks the portal and runs ``msedocs
queue resolve ID --delivered`` (the portal has it) or ``--paper`` (it has not: registered mail),
or ``msedocs queue retry ID`` to let the worker ask again. An item without a paper fall-back
goes to ``dead`` as before (``queue retry`` also asks the portal first).

A paper fall-back is configured per item: the case's ``delivery.postal_address`` given with
channel ``portal`` (:mod:`msedocs.queueing`), and not switched off for a worker by
``--no-fallback``. The outbox keeps only the personal data the channel needs: a portal item the
portal account (СНИЛС) and, only with a fall-back, the addressee, the address and the paper
variant; a postal item the addressee and the address, not the portal account. Logs and messages
show item ids, states and reasons, never a name, an address or a СНИЛС.

Opening the outbox (``--db`` / ``MSEDOCS_DB``, or :func:`open_outbox`) never creates one but
with ``create`` (``msedocs queue init``, ``worker --create``, ``render --queue``, the demo): a
missing SQLite file or folder, a folder, a read-only file, a file that is not a SQLite database,
a database without the outbox tables, or a PostgreSQL database or role the server refuses raise
:class:`BadOutboxError` (exit 2); a server that cannot be reached :class:`OutboxUnavailableError`
(exit 1). ``worker --once`` exits on a lost database; the continuous worker waits for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msedocs import _lazy

if TYPE_CHECKING:
    from msedocs.delivery.calendar import add_working_days as add_working_days
    from msedocs.delivery.calendar import extract_due_date as extract_due_date
    from msedocs.delivery.calendar import is_working_day as is_working_day
    from msedocs.delivery.calendar import working_days_between as working_days_between
    from msedocs.delivery.models import Channel as Channel
    from msedocs.delivery.models import HistoryEntry as HistoryEntry
    from msedocs.delivery.models import Item as Item
    from msedocs.delivery.models import OutboxDocument as OutboxDocument
    from msedocs.delivery.models import Recipient as Recipient
    from msedocs.delivery.models import RetryPolicy as RetryPolicy
    from msedocs.delivery.models import Sender as Sender
    from msedocs.delivery.models import State as State
    from msedocs.delivery.models import StoredDocument as StoredDocument
    from msedocs.delivery.portal import PortalClient as PortalClient
    from msedocs.delivery.portal import PortalConfig as PortalConfig
    from msedocs.delivery.portal import PortalResult as PortalResult
    from msedocs.delivery.store import AlreadyQueuedError as AlreadyQueuedError
    from msedocs.delivery.store import BadOutboxError as BadOutboxError
    from msedocs.delivery.store import Claim as Claim
    from msedocs.delivery.store import DeadlineReport as DeadlineReport
    from msedocs.delivery.store import EnqueueRequest as EnqueueRequest
    from msedocs.delivery.store import InvalidTransitionError as InvalidTransitionError
    from msedocs.delivery.store import Outbox as Outbox
    from msedocs.delivery.store import OutboxUnavailableError as OutboxUnavailableError
    from msedocs.delivery.store import PostalList as PostalList
    from msedocs.delivery.store import default_db_url as default_db_url
    from msedocs.delivery.store import open_outbox as open_outbox
    from msedocs.delivery.store import queue_documents as queue_documents
    from msedocs.delivery.stub import PortalStub as PortalStub
    from msedocs.delivery.stub import StubBehaviour as StubBehaviour
    from msedocs.delivery.tracking import TrackingRange as TrackingRange
    from msedocs.delivery.tracking import check_digit as check_digit
    from msedocs.delivery.tracking import is_valid as is_valid
    from msedocs.delivery.tracking import make_tracking_number as make_tracking_number
    from msedocs.delivery.worker import Worker as Worker
    from msedocs.delivery.worker import WorkerConfig as WorkerConfig
    from msedocs.delivery.worker import run_worker as run_worker

# Names are imported on first use, so that ``python -m msedocs.delivery.worker`` (or ``.stub``)
# starts fast and does not import itself twice.
_WHERE = {
    "add_working_days": ".calendar",
    "extract_due_date": ".calendar",
    "is_working_day": ".calendar",
    "working_days_between": ".calendar",
    "Channel": ".models",
    "HistoryEntry": ".models",
    "Item": ".models",
    "OutboxDocument": ".models",
    "Recipient": ".models",
    "RetryPolicy": ".models",
    "Sender": ".models",
    "State": ".models",
    "StoredDocument": ".models",
    "PortalClient": ".portal",
    "PortalConfig": ".portal",
    "PortalResult": ".portal",
    "AlreadyQueuedError": ".store",
    "BadOutboxError": ".store",
    "Claim": ".store",
    "DeadlineReport": ".store",
    "EnqueueRequest": ".store",
    "InvalidTransitionError": ".store",
    "Outbox": ".store",
    "OutboxUnavailableError": ".store",
    "PostalList": ".store",
    "default_db_url": ".store",
    "open_outbox": ".store",
    "queue_documents": ".store",
    "PortalStub": ".stub",
    "StubBehaviour": ".stub",
    "TrackingRange": ".tracking",
    "check_digit": ".tracking",
    "is_valid": ".tracking",
    "make_tracking_number": ".tracking",
    "Worker": ".worker",
    "WorkerConfig": ".worker",
    "run_worker": ".worker",
}


__getattr__ = _lazy.loader(__name__, _WHERE)

__all__ = [
    "AlreadyQueuedError",
    "BadOutboxError",
    "Channel",
    "Claim",
    "DeadlineReport",
    "EnqueueRequest",
    "HistoryEntry",
    "InvalidTransitionError",
    "Item",
    "Outbox",
    "OutboxDocument",
    "OutboxUnavailableError",
    "PortalClient",
    "PortalConfig",
    "PortalResult",
    "PortalStub",
    "PostalList",
    "Recipient",
    "RetryPolicy",
    "Sender",
    "State",
    "StoredDocument",
    "StubBehaviour",
    "TrackingRange",
    "Worker",
    "WorkerConfig",
    "add_working_days",
    "check_digit",
    "default_db_url",
    "extract_due_date",
    "is_valid",
    "is_working_day",
    "make_tracking_number",
    "open_outbox",
    "queue_documents",
    "run_worker",
    "working_days_between",
]
