"""Routing (stage 0, load, ties, concurrency on PostgreSQL) and re-identification (point 12)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.referrals import schema as t
from msedocs.referrals.model import RoutingAttributes
from msedocs.referrals.store import ReferralStore, RevealRefused, decision_message
from msedocs.routing.simulate import simulate

from .conftest import incoming


@pytest.mark.parametrize("n,m", [(100, 7), (1000, 13), (31, 5)])
def test_equal_capacities_spread_within_one(n: int, m: int) -> None:
    report = simulate(n, m)
    assert report["spread_referrals"] <= 1
    assert sum(b["referrals"] for b in report["bureaus"]) == n


def test_unequal_capacities_follow_capacity() -> None:
    report = simulate(300, 3, [100, 200, 300])
    counts = [b["referrals"] for b in report["bureaus"]]
    assert counts == [50, 100, 150]


def test_stage_zero_routes(store: ReferralStore, semd_pkg) -> None:
    ref = incoming(semd_pkg, 0)
    special = store.ingest(ref.model_copy(update={"special_route": True, "in_absentia": True}))
    assert special.assignment.bureau_id == "fmba" and special.assignment.stage == "point9-special"
    loose = store.ingest_unstructured(b"%PDF-1.4 scan", "application/pdf", "scan-1")
    assert loose.assignment.stage == "point5-unstructured" and loose.assignment.bureau_id.startswith("gb")
    view = store.bureau_view(loose.referral_id, loose.assignment.bureau_id)
    assert view["depersonalised"] is False and view["media_type"] == "application/pdf"
    in_person = store.ingest(ref.model_copy(update={"in_absentia": False}))
    area = ref.patient.addresses.registration.postcode[:3]
    assert in_person.assignment.bureau_id == f"addr{area}" and not in_person.depersonalised
    main = store.ingest(ref)
    assert main.assignment.stage == "point9-main" and main.depersonalised
    with store.tx() as conn:
        logs = [r.inputs for r in conn.execute(sa.select(t.routing_log))]
    assert all(ref.patient.name.last not in x and ref.patient.addresses.registration.line not in x for x in logs)
    assert all('"postal_area"' not in x for x in logs)


def test_ties_are_broken_by_last_assignment_then_hash(store: ReferralStore) -> None:
    attrs = RoutingAttributes(specialisation="general", age_group="adult")
    chosen = []
    now = dt.datetime(2026, 10, 1, 9, 0)
    with store.tx() as conn:
        for i in range(6):
            rid = f"{i:032x}"
            conn.execute(sa.insert(t.referrals).values(id=rid, external_id=rid, source="semd", structured=True,
                         depersonalised=True, state="assigned", routing=attrs.model_dump_json(), effort=0,
                         received_at=now))  # fmt: skip
            chosen.append(store.router.assign(conn, rid, attrs, now + dt.timedelta(seconds=i)).bureau_id)
    assert sorted(chosen[:3]) == ["gb1", "gb2", "gb3"] and chosen[3:] == chosen[:3]


def test_assignment_is_atomic_under_concurrency_on_postgresql(pg_store: ReferralStore) -> None:
    attrs = RoutingAttributes(specialisation="general", age_group="adult")
    now = dt.datetime(2026, 10, 1, 9, 0)
    with pg_store.tx() as conn:
        conn.execute(sa.insert(t.referrals), [dict(id=f"{i:032x}", external_id=str(i), source="semd", structured=True,
                     depersonalised=True, state="assigned", routing=attrs.model_dump_json(), effort=0,
                     received_at=now) for i in range(120)])  # fmt: skip
    errors: list[Exception] = []

    def worker(k: int) -> None:
        try:
            for i in range(k, 120, 6):
                with pg_store.tx() as conn:
                    pg_store.router.assign(conn, f"{i:032x}", attrs, now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    loads = {b.id: (b.load, b.open_count) for b in pg_store.bureaus() if b.kind == "mintrud"}
    counts = [c for _, c in loads.values()]
    assert sum(counts) == 120 and max(counts) - min(counts) <= 1  # no lost update: loads match assignments
    with pg_store.tx() as conn:
        per = dict(conn.execute(sa.select(t.referrals.c.bureau_id, sa.func.sum(t.referrals.c.effort))
                                .group_by(t.referrals.c.bureau_id)).all())  # fmt: skip
    assert {k: v[0] for k, v in loads.items()} == per


def _pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip


def test_reveal_only_after_a_signed_decision_by_the_address_bureau(store: ReferralStore, semd_pkg) -> None:
    ref = incoming(semd_pkg, 4).model_copy(update={"in_absentia": True, "special_route": False})
    res = store.ingest(ref)
    bureau = res.assignment.bureau_id
    key = Ed25519PrivateKey.generate()
    store.set_bureau(bureau, public_key=_pem(key))
    with pytest.raises(RevealRefused, match="no signed decision"):
        store.reveal(res.referral_id, f"bureau:{bureau}", "in_person")
    day = dt.date(2026, 10, 2)
    with pytest.raises(Exception, match="signature does not verify"):
        store.decide(res.referral_id, bureau, "in_person", day, Ed25519PrivateKey.generate().sign(b"x"))
    moved = store.decide(res.referral_id, bureau, "in_person", day,
                         key.sign(decision_message(res.referral_id, bureau, "in_person", day)))  # fmt: skip
    area = ref.patient.addresses.registration.postcode[:3]
    assert moved.bureau_id == f"addr{area}" and moved.stage == "point12-in_person"
    with pytest.raises(RevealRefused, match="address"):
        store.reveal(res.referral_id, f"bureau:{bureau}", "in_person")  # the main bureau no longer holds it
    with pytest.raises(RevealRefused, match="not needed"):
        store.reveal(res.referral_id, f"bureau:addr{area}", "in_person", [8])
    with pytest.raises(RevealRefused):
        store.reveal(res.referral_id, f"bureau:addr{area}", "curiosity")
    with pytest.raises(RevealRefused):
        store.reveal(res.referral_id, f"bureau:addr{area}", "extract_delivery")
    got = store.reveal(res.referral_id, f"bureau:addr{area}", "in_person")
    assert got[4][0]["value"] == ref.patient.insurance.snils and got[1][0]["value"] == ref.patient.name.full
    assert set(got) <= {1, 2, 3, 4, 5, 6, 7}
    with store.tx() as conn:
        events = [(r.event, r.details) for r in conn.execute(sa.select(t.audit_log).order_by(t.audit_log.c.seq))]
    assert sum(e == "reveal-refused" for e, _ in events) == 5 and ("decision-refused" in {e for e, _ in events})
    assert all(ref.patient.insurance.snils not in d for _, d in events)


def test_reveal_for_extract_delivery_is_internal_and_after_the_decision(store: ReferralStore, semd_pkg) -> None:
    res = store.ingest(incoming(semd_pkg, 5).model_copy(update={"in_absentia": True, "special_route": False}))
    with pytest.raises(RevealRefused, match="not decided"):
        store.reveal(res.referral_id, "platform:delivery", "extract_delivery")
    store.record_decision(res.referral_id, res.assignment.bureau_id)
    with pytest.raises(RevealRefused):
        store.reveal(res.referral_id, f"bureau:{res.assignment.bureau_id}", "extract_delivery")
    got = store.reveal(res.referral_id, "platform:delivery", "extract_delivery")
    assert set(got) == {1, 2, 4}
