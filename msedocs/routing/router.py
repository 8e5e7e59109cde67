"""Choosing a bureau for a referral, atomically.

Stage 0, the route (no personal data is read; the attributes were derived before
depersonalisation):

- point 9 paragraph 2 (``special_route``): the main bureaus of the other federal body (kind ``federal``);
- point 5 / 11 (an unstructured referral): Mintrud's main bureaus (kind ``mintrud``), whatever the
  region, without identifiers;
- point 9 (structured, without personal presence): Mintrud's main bureaus, whatever the region;
- a structured referral for an examination *with* personal presence is not the order's: it goes
  to the bureau of the citizen's address (kind ``address``, by ``postal_area``), as under point 12.

Among the active bureaus of the route that have the specialisation the referral needs (every
bureau has ``general``; a bureau without the specialisation is eligible only if none has it):
the least ``load / capacity`` (load after taking the referral), then the one whose last
assignment is the oldest (never assigned first), then ``sha256(referral id + bureau id)``.

Atomic: the eligible bureau rows are locked (``SELECT … FOR UPDATE`` on PostgreSQL, ordered by
id so two routers never deadlock; SQLite's ``BEGIN IMMEDIATE`` serialises writers), the loads are
read under the lock, the referral is assigned and the bureau's load and last-assignment time
updated in the same transaction. Two routers therefore never both see the same load.
Every decision is written to ``routing_log`` with its inputs (attributes without the postal
area, each candidate's load, capacity and last assignment, the rule) and no personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from msedocs.errors import InputError
from msedocs.referrals import schema as t
from msedocs.referrals.model import RoutingAttributes

from .effort import EffortRule, default_effort

KINDS = ("mintrud", "federal", "address")


class NoBureauError(InputError):
    """No active bureau can take the referral on its route (exit code 2)."""


@dataclass(frozen=True)
class Assignment:
    referral_id: str
    bureau_id: str
    stage: str
    effort: int


def stage0(attrs: RoutingAttributes) -> tuple[str, str]:
    """(stage name, bureau kind) of a referral's route."""
    if attrs.special_route:
        return "point9-special", "federal"
    if not attrs.structured:
        return "point5-unstructured", "mintrud"
    if not attrs.in_absentia:
        return "in-person-address", "address"
    return "point9-main", "mintrud"


def _tiebreak(referral_id: str, bureau_id: str) -> str:
    return hashlib.sha256(f"{referral_id}|{bureau_id}".encode()).hexdigest()


class Router:
    def __init__(self, effort: EffortRule = default_effort) -> None:
        self.effort = effort

    def assign(self, conn: Connection, referral_id: str, attrs: RoutingAttributes, now: dt.datetime,
               *, kind: str | None = None, stage: str | None = None) -> Assignment:  # fmt: skip
        """Choose and record the bureau, inside the caller's transaction."""
        route_stage, route_kind = stage0(attrs)
        stage, kind = stage or route_stage, kind or route_kind
        b = t.bureaus.c
        query = sa.select(t.bureaus).where(b.kind == kind, b.active.is_(True), b.capacity > 0).order_by(b.id)
        if kind == "address":
            query = query.where(sa.func.length(b.postal_areas) > 0)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = conn.execute(query).all()
        if kind == "address":
            rows = [r for r in rows if attrs.postal_area and attrs.postal_area in r.postal_areas.split(",")]
        specialised = [r for r in rows if attrs.specialisation in r.specialisations.split(",")]
        candidates = specialised or rows
        if not candidates:
            raise NoBureauError(f"referral {referral_id}: no active {kind} bureau can take it ({stage})")
        effort = max(1, int(self.effort(attrs)))
        never = dt.datetime.min

        def key(r: Any) -> tuple[float, dt.datetime, str]:
            return ((r.load + effort) / r.capacity, r.last_assigned_at or never, _tiebreak(referral_id, r.id))

        chosen = min(candidates, key=key)
        conn.execute(sa.update(t.bureaus).where(b.id == chosen.id).values(
            load=b.load + effort, open_count=b.open_count + 1, last_assigned_at=now))  # fmt: skip
        conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(
            bureau_id=chosen.id, assigned_at=now, effort=effort))  # fmt: skip
        inputs = {
            "attributes": attrs.model_dump(mode="json", exclude={"postal_area"}),
            "uses_postal_area": kind == "address",
            "effort": effort,
            "rule": getattr(self.effort, "__name__", "custom"),
            "candidates": [{"bureau": r.id, "load": r.load, "capacity": r.capacity,
                            "last_assigned_at": r.last_assigned_at.isoformat() if r.last_assigned_at else None}
                           for r in candidates],  # fmt: skip
            "specialised": bool(specialised),
        }
        conn.execute(sa.insert(t.routing_log).values(referral_id=referral_id, at=now, stage=stage,
                                                     bureau_id=chosen.id, inputs=json.dumps(inputs)))  # fmt: skip
        return Assignment(referral_id, chosen.id, stage, effort)

    @staticmethod
    def release(conn: Connection, referral_id: str) -> None:
        """The referral is decided (or leaves its bureau): its effort leaves the bureau's load."""
        r = conn.execute(sa.select(t.referrals.c.bureau_id, t.referrals.c.effort)
                         .where(t.referrals.c.id == referral_id)).first()  # fmt: skip
        if r is None or r.bureau_id is None:
            return
        b = t.bureaus.c
        conn.execute(sa.update(t.bureaus).where(b.id == r.bureau_id).values(
            load=sa.func.max(b.load - r.effort, 0) if conn.dialect.name == "sqlite"
            else sa.func.greatest(b.load - r.effort, 0), open_count=b.open_count - 1))  # fmt: skip
