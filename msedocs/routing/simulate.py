"""``msedocs routing simulate``: the router on generated routing attributes, in a scratch database."""

from __future__ import annotations

import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from msedocs.referrals import schema as t
from msedocs.referrals.model import RoutingAttributes
from msedocs.referrals.store import ReferralStore

from .effort import unit_effort


def simulate(referrals: int, bureaus: int, capacities: list[int] | None = None, seed: int = 1) -> dict[str, Any]:
    """Route ``referrals`` in-absentia referrals among ``bureaus`` Mintrud main bureaus (load =
    open referrals, so the spread is in referrals) and report each bureau's count and ratio."""
    caps = capacities or [100] * bureaus
    if len(caps) not in (1, bureaus):
        raise ValueError("give one capacity, or one per bureau")
    caps = caps * bureaus if len(caps) == 1 else caps
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = ReferralStore(f"sqlite:///{Path(tmp) / 'sim.db'}", effort=unit_effort)
        try:
            for i in range(bureaus):
                store.add_bureau(f"B{i + 1:03d}", f"main bureau {i + 1}", "mintrud", caps[i], [])
            now = store.clock()
            with store.tx() as conn:
                for _ in range(referrals):
                    rid = uuid.UUID(int=rng.getrandbits(128)).hex
                    attrs = RoutingAttributes(specialisation="general", age_group="adult")
                    conn.execute(sa.insert(t.referrals).values(id=rid, external_id=rid, source="semd", structured=True,
                        depersonalised=True, state="assigned", routing=attrs.model_dump_json(), effort=0,
                        received_at=now))  # fmt: skip
                    store.router.assign(conn, rid, attrs, now)
            rows = store.bureaus()
        finally:
            store.close()
    table = [{"bureau": b.id, "capacity": b.capacity, "referrals": b.open_count, "load": b.load,
              "ratio": b.load / b.capacity} for b in rows]  # fmt: skip
    counts = [int(r["referrals"]) for r in table]  # type: ignore[call-overload]
    ratios = [float(r["ratio"]) for r in table]  # type: ignore[arg-type]
    return {"bureaus": table, "spread_referrals": max(counts) - min(counts), "spread_ratio": max(ratios) - min(ratios)}
