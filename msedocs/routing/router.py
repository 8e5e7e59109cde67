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
updated in the same transaction. Two routers therefore never both see the same load. A batch
(:meth:`Router.plan` of several referrals, as ``referrals ingest`` of many files does) locks the
rows once and chooses for its referrals one after another, carrying the loads forward in memory:
the choices are the ones successive single assignments would make (within a batch, a bureau
assigned earlier in it counts as assigned longer ago).
Every decision is written to ``routing_log`` with its inputs (attributes without the postal
area, each candidate's load, capacity and last assignment, the rule) and no personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class _State:
    """A bureau as the router sees it while choosing, under its row lock."""

    row: Any
    load: int
    open_count: int
    last: dt.datetime | None
    order: int = -1  # the position of its latest assignment in this plan (-1: none in this plan)
    delta_load: int = 0
    delta_open: int = 0


@dataclass
class Plan:
    """Assignments chosen under lock and not yet written (:meth:`Router.apply` writes them)."""

    now: dt.datetime
    assignments: list[Assignment | NoBureauError]
    log_rows: list[dict[str, Any]] = field(default_factory=list)
    bureaus: dict[str, _State] = field(default_factory=dict)


class Router:
    def __init__(self, effort: EffortRule = default_effort) -> None:
        self.effort = effort

    def plan(self, conn: Connection, items: Sequence[tuple[str, RoutingAttributes]], now: dt.datetime,
             *, kind: str | None = None, stage: str | None = None) -> Plan:  # fmt: skip
        """Choose a bureau for each referral in turn, inside the caller's transaction: the bureau
        rows of the routes needed are locked once (ordered by id), the loads read under the lock
        and carried forward in memory from one referral to the next, exactly as one assignment
        after another would see them. A referral that no bureau can take gets a
        :class:`NoBureauError` in its place; the others are unaffected."""
        routes = [(stage or s, kind or k) for s, k in (stage0(a) for _, a in items)]
        kinds = sorted({k for _, k in routes})
        b = t.bureaus.c
        query = sa.select(t.bureaus).where(b.kind.in_(kinds), b.active.is_(True), b.capacity > 0).order_by(b.id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = conn.execute(query).all() if kinds else []
        out = Plan(now, [])
        for r in rows:
            out.bureaus[r.id] = _State(r, r.load, r.open_count, r.last_assigned_at)
        never = dt.datetime.min
        for n, ((referral_id, attrs), (route_stage, route_kind)) in enumerate(zip(items, routes, strict=True)):
            pool = [s for s in out.bureaus.values() if s.row.kind == route_kind]
            if route_kind == "address":
                pool = [s for s in pool if attrs.postal_area and s.row.postal_areas
                        and attrs.postal_area in s.row.postal_areas.split(",")]  # fmt: skip
            specialised = [s for s in pool if attrs.specialisation in s.row.specialisations.split(",")]
            candidates = specialised or pool
            if not candidates:
                out.assignments.append(NoBureauError(
                    f"referral {referral_id}: no active {route_kind} bureau can take it ({route_stage})"))  # fmt: skip
                continue
            effort = max(1, int(self.effort(attrs)))

            def key(s: _State, effort: int = effort, referral_id: str = referral_id) -> tuple[Any, ...]:
                return ((s.load + effort) / s.row.capacity, s.last or never, s.order, _tiebreak(referral_id, s.row.id))

            chosen = min(candidates, key=key)
            inputs = {
                "attributes": attrs.model_dump(mode="json", exclude={"postal_area"}),
                "uses_postal_area": route_kind == "address",
                "effort": effort,
                "rule": getattr(self.effort, "__name__", "custom"),
                "candidates": [{"bureau": s.row.id, "load": s.load, "capacity": s.row.capacity,
                                "last_assigned_at": s.last.isoformat() if s.last else None}
                               for s in candidates],  # fmt: skip
                "specialised": bool(specialised),
            }
            chosen.load += effort
            chosen.open_count += 1
            chosen.delta_load += effort
            chosen.delta_open += 1
            chosen.last, chosen.order = now, n
            out.log_rows.append({"referral_id": referral_id, "at": now, "stage": route_stage,
                                 "bureau_id": chosen.row.id, "inputs": json.dumps(inputs)})  # fmt: skip
            out.assignments.append(Assignment(referral_id, chosen.row.id, route_stage, effort))
        return out

    @staticmethod
    def apply(conn: Connection, plan: Plan, *, update_referrals: bool = True) -> None:
        """Write a plan: the bureaus' loads and last assignment, the routing log, and (unless the
        caller inserts the referral rows with their bureau itself) each referral's bureau."""
        b = t.bureaus.c
        for s in plan.bureaus.values():
            if s.delta_open:
                conn.execute(sa.update(t.bureaus).where(b.id == s.row.id).values(
                    load=b.load + s.delta_load, open_count=b.open_count + s.delta_open,
                    last_assigned_at=plan.now))  # fmt: skip
        if update_referrals:
            for a in plan.assignments:
                if isinstance(a, Assignment):
                    conn.execute(sa.update(t.referrals).where(t.referrals.c.id == a.referral_id).values(
                        bureau_id=a.bureau_id, assigned_at=plan.now, effort=a.effort))  # fmt: skip
        if plan.log_rows:
            conn.execute(sa.insert(t.routing_log), plan.log_rows)

    def assign(self, conn: Connection, referral_id: str, attrs: RoutingAttributes, now: dt.datetime,
               *, kind: str | None = None, stage: str | None = None) -> Assignment:  # fmt: skip
        """Choose and record the bureau of one referral, inside the caller's transaction."""
        plan = self.plan(conn, [(referral_id, attrs)], now, kind=kind, stage=stage)
        chosen = plan.assignments[0]
        if isinstance(chosen, NoBureauError):
            raise chosen
        self.apply(conn, plan)
        return chosen

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
