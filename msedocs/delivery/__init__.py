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
    postal     the day's registered-mail batch: print packs, form-103 list (PDF + CSV)
    cli        typer apps and commands mounted by msedocs.cli

Portal states: queued → sending → delivered; failures → retry_wait (exponential backoff with
jitter) → dead after the last attempt, or back to queued as a postal item (paper fall-back).
Postal states: queued → printed → handed_over → delivered | returned.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msedocs.delivery.calendar import (
        add_working_days,
        extract_due_date,
        is_working_day,
        working_days_between,
    )
    from msedocs.delivery.models import (
        Channel,
        HistoryEntry,
        Item,
        OutboxDocument,
        Recipient,
        RetryPolicy,
        State,
        StoredDocument,
    )
    from msedocs.delivery.portal import PortalClient, PortalConfig, PortalResult
    from msedocs.delivery.store import (
        Claim,
        DeadlineReport,
        EnqueueRequest,
        InvalidTransitionError,
        Outbox,
        OutboxUnavailableError,
        PostalList,
        default_db_url,
        queue_documents,
    )
    from msedocs.delivery.stub import PortalStub, StubBehaviour
    from msedocs.delivery.tracking import TrackingRange, check_digit, is_valid, make_tracking_number
    from msedocs.delivery.worker import Worker, WorkerConfig, run_worker

# Names are imported on first use, so that ``python -m msedocs.delivery.worker`` (or ``.stub``)
# starts fast and does not import itself twice.
_WHERE = {
    "add_working_days": "calendar",
    "extract_due_date": "calendar",
    "is_working_day": "calendar",
    "working_days_between": "calendar",
    "Channel": "models",
    "HistoryEntry": "models",
    "Item": "models",
    "OutboxDocument": "models",
    "Recipient": "models",
    "RetryPolicy": "models",
    "State": "models",
    "StoredDocument": "models",
    "PortalClient": "portal",
    "PortalConfig": "portal",
    "PortalResult": "portal",
    "Claim": "store",
    "DeadlineReport": "store",
    "EnqueueRequest": "store",
    "InvalidTransitionError": "store",
    "Outbox": "store",
    "OutboxUnavailableError": "store",
    "PostalList": "store",
    "default_db_url": "store",
    "queue_documents": "store",
    "PortalStub": "stub",
    "StubBehaviour": "stub",
    "TrackingRange": "tracking",
    "check_digit": "tracking",
    "is_valid": "tracking",
    "make_tracking_number": "tracking",
    "Worker": "worker",
    "WorkerConfig": "worker",
    "run_worker": "worker",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'msedocs.delivery' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"msedocs.delivery.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
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
    "queue_documents",
    "run_worker",
    "working_days_between",
]
