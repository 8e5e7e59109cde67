"""The referrals store and its service: intake, depersonalisation, routing, decisions, reveal, erase.

One :class:`ReferralStore` per process, on the same database as the outbox (``--db`` or
``MSEDOCS_DB``; SQLite by default, PostgreSQL by URL), with its own Alembic chain
(``referrals_alembic_version``). Every operation is one transaction: a referral is stored,
depersonalised, sealed in the vault, routed and audited together, or not at all. This is the
Python API the HTTP service calls; the CLI (``msedocs referrals|bureaus|routing|audit``) too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from generators.resources import as_path
from msedocs import tables
from msedocs.delivery.store import check_sqlite_file, connect_error, default_db_url, make_engine, normalise_url
from msedocs.errors import InputError
from msedocs.model.case import Commission, PersonName
from msedocs.privacy import audit as audit_mod
from msedocs.privacy import vault
from msedocs.privacy.depersonalise import depersonalise
from msedocs.privacy.kek import Kek
from msedocs.privacy.vault import VaultValue
from msedocs.routing.effort import EffortRule, configured
from msedocs.routing.router import Assignment, Router

from . import schema as t
from .model import IncomingReferral, RoutingAttributes

log = logging.getLogger("msedocs.referrals")
MIGRATIONS = as_path(files("msedocs.referrals") / "migrations")  # a real folder, as Alembic wants
HEAD = "r0001"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def migrate(engine: sa.Engine) -> None:
    tables.upgrade(engine, MIGRATIONS, 7152046694)


def _version(engine: sa.Engine) -> str | None:
    return tables.schema_version(engine, "referrals_alembic_version")


def specialisation(icd10: list[str], age: int) -> str:
    """The specialisation a referral needs, from its main ICD-10 code and the citizen's age."""
    code = (icd10 or [""])[0]
    if age < 18:
        return "paediatrics"
    if code.startswith("F"):
        return "psychiatry"
    if code.startswith("C") or (code.startswith("D") and code[1:3].isdigit() and int(code[1:3]) < 49):
        return "oncology"
    if code.startswith("H") and code[1:3].isdigit() and int(code[1:3]) < 60:
        return "ophthalmology"
    return "general"


def routing_attributes(ref: IncomingReferral) -> RoutingAttributes:
    """Derived from the referral as received, before depersonalisation; no personal data."""
    born, on = ref.patient.birth_date, ref.referral.date
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    postcode = ref.patient.addresses.registration.postcode
    return RoutingAttributes(
        structured=True, in_absentia=ref.in_absentia, special_route=ref.special_route, palliative=ref.palliative,
        specialisation=specialisation(ref.referral.diagnosis.icd10, age), age_group="child" if age < 18 else "adult",
        icd10_chapter=ref.referral.diagnosis.icd10[0][0], postal_area=postcode[:3] if postcode else None,
        received_on=on,
    )  # fmt: skip


#: Point 12: the categories each purpose of a reveal may see.
REVEAL_PURPOSES: dict[str, frozenset[int]] = {
    "in_person": frozenset({1, 2, 3, 4, 5, 6, 7}),  # to invite, identify and examine the citizen
    "exam_programme": frozenset({1, 2, 3, 7}),  # to send the programme and reach the citizen
    "extract_delivery": frozenset({1, 2, 4}),  # internal: the extract's name and addresses, the portal account
}
DECISION_KINDS = ("in_person", "exam_programme")
ID_SHAPE = re.compile(r"[0-9a-f]{32}")


def _bounded(text: str, limit: int = 100) -> str:
    """An actor or purpose as typed, cut to size and to printable characters, for the audit log."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


class RevealRefused(InputError):
    """A reveal that point 12 does not allow; refused and written to the audit log (exit code 2)."""


@dataclass(frozen=True)
class Ingested:
    referral_id: str
    depersonalised: bool
    assignment: Assignment
    identifiers: dict[int, list[str]]


@dataclass(frozen=True)
class Prepared:
    """A structured referral made ready for storage, outside any transaction and database (CPU
    only, so a worker process can do it): its routing attributes, the bureau's depersonalised
    copy and the values it took out (point 4), and the referral as received, to be sealed."""

    external_id: str
    source: str
    depersonalised: bool
    attrs: RoutingAttributes
    view_json: str | None
    values: list[VaultValue]
    original: bytes


def prepare(ref: IncomingReferral) -> Prepared:
    attrs = routing_attributes(ref)
    if ref.in_absentia:
        view, values = depersonalise(ref)
        view_json: str | None = view.model_dump_json(exclude_none=True)
    else:
        view_json, values = None, []
    return Prepared(ref.external_id, ref.source, ref.in_absentia, attrs, view_json, values,
                    ref.model_dump_json().encode())  # fmt: skip


class Bureau(BaseModel):
    """A bureau as ``bureaus list --json`` and ``GET /v1/bureaus`` show it."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str
    kind: str = Field(description="mintrud, federal (point 9) or address (point 12).")
    capacity: int
    specialisations: list[str]
    postal_areas: list[str]
    active: bool
    load: int = Field(description="Its open undecided referrals, weighted by expected effort.")
    open_count: int


def decision_message(referral_id: str, bureau_id: str, kind: str, date: dt.date) -> bytes:
    """What a bureau signs (Ed25519) when it decides on in-person examination or a programme."""
    return f"msedocs-692n-decision-v1|{referral_id}|{bureau_id}|{kind}|{date.isoformat()}".encode()


class SharedLock:
    """Held by many at once (:meth:`shared`: the KEK's users) or by one alone (:meth:`exclusive`:
    its rotation, which new holders wait behind)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._cond.wait_for(lambda: self._shared == 0)
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class ReferralStore:
    def __init__(self, url: str | None = None, *, kek: Kek | None = None, audit_key: Any = None,
                 audit_witness: str | Path | None = None, create: bool = False,
                 clock: Callable[[], dt.datetime] = utcnow, effort: EffortRule | None = None) -> None:  # fmt: skip
        self.url = normalise_url(url or default_db_url())
        self.engine = make_engine(self.url, sqlite_synchronous="NORMAL")
        self.kek = kek
        self.clock = clock
        self.router = Router(effort or configured())
        self._audit_key = audit_key
        self._witness = audit_witness
        self._audit: audit_mod.AuditLog | None = None
        self._kek_users = SharedLock()
        try:
            check_sqlite_file(self.url, create=True)
            if _version(self.engine) != HEAD:
                migrate(self.engine)
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise connect_error(self.url, exc) from exc

    @property
    def audit(self) -> audit_mod.AuditLog:
        if self._audit is None:
            self._audit = audit_mod.AuditLog(self._audit_key or audit_mod.load_or_create_key(), self._witness)
        return self._audit

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ReferralStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _kek(self) -> Kek:
        if self.kek is None:
            raise InputError("no key-encryption key: give --kek (file:, env: or pkcs11:) or MSEDOCS_KEK_SPEC")
        return self.kek

    # -- bureaus ---------------------------------------------------------------------------

    def add_bureau(self, bureau_id: str, name: str, kind: str, capacity: int, specialisations: list[str],
                   postal_areas: list[str] = (), public_key_pem: str | None = None,  # type: ignore[assignment]
                   commission: Commission | None = None) -> None:  # fmt: skip
        if kind not in ("mintrud", "federal", "address"):
            raise InputError(f"bureau kind: mintrud, federal or address (got {kind!r})")
        if capacity < 1:
            raise InputError("bureau capacity: at least 1")
        specs = sorted({"general", *specialisations})
        with self.tx() as conn:
            conn.execute(sa.insert(t.bureaus).values(
                id=bureau_id, name=name, kind=kind, capacity=capacity, specialisations=",".join(specs),
                postal_areas=",".join(postal_areas), active=True, public_key=public_key_pem, load=0, open_count=0,
                address=commission.model_dump_json() if commission else None))  # fmt: skip

    def set_bureau(self, bureau_id: str, **values: Any) -> None:
        allowed = {"capacity", "active", "specialisations", "postal_areas", "public_key", "name"}
        if bad := set(values) - allowed:
            raise InputError(f"bureau: cannot set {', '.join(sorted(bad))}")
        for k in ("specialisations", "postal_areas"):
            if k in values and isinstance(values[k], list):
                values[k] = ",".join(sorted({"general", *values[k]}) if k == "specialisations" else values[k])
        with self.tx() as conn:
            if conn.execute(sa.update(t.bureaus).where(t.bureaus.c.id == bureau_id).values(**values)).rowcount != 1:
                raise InputError(f"bureau {bureau_id}: no such bureau")

    def bureaus(self) -> list[Bureau]:
        with self.tx() as conn:
            rows = conn.execute(sa.select(t.bureaus).order_by(t.bureaus.c.id)).all()
        return [Bureau(id=r.id, name=r.name, kind=r.kind, capacity=r.capacity,
                       specialisations=r.specialisations.split(","),
                       postal_areas=[a for a in r.postal_areas.split(",") if a], active=r.active, load=r.load,
                       open_count=r.open_count) for r in rows]  # fmt: skip

    # -- intake ----------------------------------------------------------------------------

    def ingest(self, ref: IncomingReferral | Prepared, actor: str = "platform:intake") -> Ingested:
        """Store a structured referral: depersonalised when it asks for an examination without
        personal presence (point 4), routed, audited; one transaction."""
        result = self.ingest_many([ref], actor)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(self, refs: Sequence[IncomingReferral | Prepared], actor: str = "platform:intake"
                    ) -> list[Ingested | InputError]:  # fmt: skip
        """Store structured referrals as :meth:`ingest` does, in one transaction: the bureau rows
        are locked once, the referrals routed one after another, every row written in one
        statement per table, the audit entries chained in order and one checkpoint signed.

        Per referral, an :class:`Ingested` or the error that kept it out (no bureau can take it):
        such a referral is not stored and the others are. A database failure stores none of them
        (the transaction is rolled back) and is raised."""
        prepared = [r if isinstance(r, Prepared) else prepare(r) for r in refs]
        if not prepared:
            return []
        self._kek()
        now = self.clock()
        rids = [uuid.uuid4().hex for _ in prepared]
        results: list[Ingested | InputError] = []
        with self._kek_users.shared(), self.tx() as conn:  # a rotation waits for this transaction, or it for it
            kek = self._kek()
            plan = self.router.plan(conn, [(rid, p.attrs) for rid, p in zip(rids, prepared, strict=True)], now)
            referral_rows, key_rows, value_rows = [], [], []
            entries: list[tuple[str, str | None, str, dict[str, Any]]] = []
            for rid, p, chosen in zip(rids, prepared, plan.assignments, strict=True):
                if not isinstance(chosen, Assignment):
                    results.append(chosen)
                    continue
                # an examination with personal presence is not the order's: sealed all the same, no identifiers
                key_row, rows, sealed = vault.seal_rows(kek, rid, p.values, p.original, now)
                referral_rows.append({
                    "id": rid, "external_id": p.external_id, "source": p.source, "structured": True,
                    "depersonalised": p.depersonalised, "state": "assigned", "routing": p.attrs.model_dump_json(),
                    "bureau_view": p.view_json, "sealed": sealed, "bureau_id": chosen.bureau_id,
                    "effort": chosen.effort, "received_at": now, "assigned_at": now})  # fmt: skip
                key_rows.append(key_row)
                value_rows += rows
                entries += [("identifier-issued", rid, actor, {"category": v.category, "identifier": v.token})
                            for v in p.values]  # fmt: skip
                entries.append(("routed", rid, actor, {"bureau": chosen.bureau_id, "stage": chosen.stage}))
                ids: dict[int, list[str]] = {}
                for v in p.values:
                    ids.setdefault(v.category, []).append(v.token)
                results.append(Ingested(rid, p.depersonalised, chosen, ids))
            if referral_rows:
                conn.execute(sa.insert(t.referrals), referral_rows)
                conn.execute(sa.insert(t.vault_keys), key_rows)
                if value_rows:
                    conn.execute(sa.insert(t.vault_values), value_rows)
                self.router.apply(conn, plan, update_referrals=False)
                self.audit.append_many(conn, entries, now)
                self.audit.checkpoint(conn, now)
        for res in results:
            if isinstance(res, Ingested):
                log.info("referral %s: %s, routed to %s (%s)", res.referral_id,
                         "depersonalised" if res.depersonalised else "in clear", res.assignment.bureau_id,
                         res.assignment.stage)  # fmt: skip
        return results

    def ingest_unstructured(self, content: bytes, media_type: str, external_id: str,
                            actor: str = "platform:intake") -> Ingested:  # fmt: skip
        """Point 5: a scan or free text, stored and routed in clear (point 11: Mintrud's main bureaus)."""
        attrs = RoutingAttributes(structured=False, in_absentia=True, specialisation="general", age_group="adult")
        rid = uuid.uuid4().hex
        now = self.clock()
        with self.tx() as conn:
            conn.execute(sa.insert(t.referrals).values(
                id=rid, external_id=external_id[:200], source="unstructured", structured=False, depersonalised=False,
                state="assigned", routing=attrs.model_dump_json(), effort=0, received_at=now, clear_content=content,
                media_type=media_type))  # fmt: skip
            assignment = self.router.assign(conn, rid, attrs, now)
            self.audit.append(conn, "routed", rid, actor, {"bureau": assignment.bureau_id,
                                                           "stage": assignment.stage}, now)  # fmt: skip
            self.audit.checkpoint(conn, now)
        return Ingested(rid, False, assignment, {})

    # -- what a bureau sees ------------------------------------------------------------------

    def _row(self, conn: Connection, referral_id: str) -> Any:
        row = conn.execute(sa.select(t.referrals).where(t.referrals.c.id == referral_id)).first()
        if row is None:
            raise InputError(f"referral {referral_id}: no such referral")
        return row

    def _refuse(self, conn: Connection, event: str, referral_id: str | None, actor: str, details: dict[str, Any],
                now: dt.datetime) -> None:  # fmt: skip
        """Write a refusal to the audit log and commit it, before the caller raises."""
        self.audit.append(conn, event, referral_id, actor, details, now)
        self.audit.checkpoint(conn, now)
        conn.commit()

    def _actor(self, conn: Connection, actor: str) -> str:
        """An actor as the audit log names it: ``platform:…`` or ``bureau:<id>`` of a known bureau as
        given, anything else as ``(unknown: N characters)``: what an operator typed is not logged."""
        if actor.startswith("platform:") and actor[9:].isidentifier() and len(actor) <= 64:
            return actor
        if actor.startswith("bureau:") and conn.execute(sa.select(t.bureaus.c.id).where(
                t.bureaus.c.id == actor[7:])).first() is not None:  # fmt: skip
            return actor
        return f"(unknown: {len(actor)} characters)"

    def _known_row(self, conn: Connection, referral_id: str, event: str, actor: str, details: dict[str, Any],
                   now: dt.datetime) -> Any:  # fmt: skip
        """The referral's row; an unknown referral is refused, and the refusal audited (the id as
        asked only if it is shaped like one of ours: an operator's typing is not logged)."""
        row = conn.execute(sa.select(t.referrals).where(t.referrals.c.id == referral_id)).first()
        if row is None:
            shaped = bool(ID_SHAPE.fullmatch(referral_id))
            self._refuse(conn, event, referral_id if shaped else None, actor,
                         {**details, "reason": "no such referral" if shaped else "not a referral id"}, now)  # fmt: skip
            raise InputError(f"referral {referral_id[:40]}: no such referral")
        return row

    def bureau_view(self, referral_id: str, bureau_id: str) -> dict[str, Any]:
        """What the assigned bureau receives: identifiers only (a depersonalised referral), the
        referral in clear (an unstructured one, point 5), never the routing's postal area."""
        with self.tx() as conn:
            row = self._row(conn, referral_id)
        if row.bureau_id != bureau_id:
            raise InputError(f"referral {referral_id}: not assigned to bureau {bureau_id}")
        attrs = json.loads(row.routing)
        attrs.pop("postal_area", None)
        out: dict[str, Any] = {"referral_id": row.id, "state": row.state, "structured": row.structured,
                               "depersonalised": row.depersonalised, "routing": attrs}  # fmt: skip
        if row.structured and row.depersonalised and row.bureau_view is not None:
            out["referral"] = json.loads(row.bureau_view)
        elif not row.structured:
            out["media_type"] = row.media_type
        if row.bureau_view is None and row.clear_content is None and row.sealed is None:
            out["erased"] = True  # its personal data (and the copies made of it) erased
        return out

    def bureau_content(self, referral_id: str, bureau_id: str) -> tuple[bytes, str]:
        """An unstructured referral's scan or text, in clear (point 5), and its media type: for the
        bureau it is assigned to only."""
        with self.tx() as conn:
            row = self._row(conn, referral_id)
        if row.bureau_id != bureau_id:
            raise InputError(f"referral {referral_id}: not assigned to bureau {bureau_id}")
        if row.structured:
            raise InputError(f"referral {referral_id}: a structured referral has no content in clear")
        if row.clear_content is None:
            raise InputError(f"referral {referral_id}: its content was erased")
        return bytes(row.clear_content), row.media_type

    def bureau_case(self, referral_id: str, bureau_id: str, case_id: str | None = None) -> Any:
        """The :class:`~msedocs.model.case.Case` the bureau works on: depersonalised, its
        commission the bureau itself."""
        view = self.bureau_view(referral_id, bureau_id)
        if "referral" not in view:
            raise InputError(f"referral {referral_id}: not a depersonalised structured referral")
        with self.tx() as conn:
            b = conn.execute(sa.select(t.bureaus).where(t.bureaus.c.id == bureau_id)).first()
        commission = (Commission.model_validate_json(b.address) if b is not None and b.address else
                      Commission(name=b.name if b else bureau_id, address={"line": "—"},  # type: ignore[arg-type]
                                 chairman=PersonName(last="не назначен", first="—")))  # fmt: skip
        ref = IncomingReferral.model_validate(view["referral"])
        return ref.to_case(case_id or f"R-{referral_id[:16]}", commission, depersonalised=True)

    # -- point 12 ----------------------------------------------------------------------------

    def decide(self, referral_id: str, bureau_id: str, kind: str, date: dt.date, signature: bytes,
               actor: str | None = None) -> Assignment:  # fmt: skip
        """A signed decision for in-person examination or an additional-examination programme:
        the restriction is lifted and the referral goes to the bureau of the citizen's address."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        if kind not in DECISION_KINDS:
            raise InputError(f"decision: {kind!r} is not in_person or exam_programme")
        now = self.clock()
        with self.tx() as conn:
            who = actor or self._actor(conn, f"bureau:{bureau_id}")
            row = self._known_row(conn, referral_id, "decision-refused", who, {"kind": kind}, now)
            b = conn.execute(sa.select(t.bureaus).where(t.bureaus.c.id == bureau_id)).first()
            if row.bureau_id != bureau_id or b is None or row.state != "assigned":
                self._refuse(conn, "decision-refused", referral_id, who,
                             {"kind": kind, "reason": "the bureau holds no open assignment of it"}, now)  # fmt: skip
                raise InputError(f"referral {referral_id}: bureau {bureau_id} holds no open assignment of it")
            try:
                key = load_pem_public_key(b.public_key.encode()) if b.public_key else None
                if key is None:
                    raise InvalidSignature
                key.verify(signature, decision_message(referral_id, bureau_id, kind, date))  # type: ignore[union-attr,call-arg]
            except (InvalidSignature, ValueError, TypeError):
                reason = "signature does not verify" if b.public_key else "the bureau has no public key registered"
                self._refuse(conn, "decision-refused", referral_id, who, {"kind": kind, "reason": reason}, now)
                raise InputError(f"referral {referral_id}: the decision's signature does not verify with bureau "
                                 f"{bureau_id}'s key" + ("" if b.public_key else " (none registered: "
                                 "msedocs bureaus set --public-key or bureaus keygen)")) from None  # fmt: skip
            attrs = RoutingAttributes.model_validate_json(row.routing)
            self.router.release(conn, referral_id)
            decision = {"kind": kind, "date": date.isoformat(), "by": bureau_id, "signature": signature.hex()}
            conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(
                state=kind, decided_at=now, decision=json.dumps(decision)))  # fmt: skip
            assignment = self.router.assign(conn, referral_id, attrs, now, kind="address", stage=f"point12-{kind}")
            self.audit.append(conn, "restriction-lifted", referral_id, who, {"kind": kind, "to": assignment.bureau_id},
                              now)  # fmt: skip
            self.audit.checkpoint(conn, now)
        return assignment

    def record_decision(self, referral_id: str, bureau_id: str, actor: str | None = None) -> None:
        """The bureau decided the case itself (no lifting): the referral leaves its load."""
        now = self.clock()
        with self.tx() as conn:
            row = self._row(conn, referral_id)
            if row.bureau_id != bureau_id or row.state != "assigned":
                raise InputError(f"referral {referral_id}: bureau {bureau_id} holds no open assignment of it")
            self.router.release(conn, referral_id)
            conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(
                state="decided", decided_at=now))  # fmt: skip
            self.audit.append(conn, "decided", referral_id, actor or f"bureau:{bureau_id}", {}, now)
            self.audit.checkpoint(conn, now)

    def reveal(self, referral_id: str, requester: str, purpose: str, categories: list[int] | None = None
               ) -> dict[int, list[dict[str, str]]]:  # fmt: skip
        """The values behind the identifiers, only as point 12 allows:

        - ``in_person`` / ``exam_programme``: a signed decision of that kind exists, and the
          requester is ``bureau:<id>`` of the address-based bureau the referral now belongs to;
        - ``extract_delivery``: ``platform:delivery`` (internal), once the bureau has decided.

        Only the categories of :data:`REVEAL_PURPOSES` for the purpose (``categories`` narrows
        them further). Anything else raises :class:`RevealRefused`; granted or refused, it is
        written to the audit log (categories and identifiers, never values)."""
        now = self.clock()
        allowed = REVEAL_PURPOSES.get(purpose)
        wanted = set(categories or (allowed or ()))
        # what was typed is logged only when it names something known: a purpose, a bureau, the delivery
        asked = {"purpose": purpose if allowed is not None else "(unknown)", "categories": sorted(wanted)}
        with self._kek_users.shared(), self.tx() as conn:
            who = self._actor(conn, requester)
            row = self._known_row(conn, referral_id, "reveal-refused", who, asked, now)
            reason = None
            if allowed is None:
                reason = "unknown purpose"
            elif not row.depersonalised:
                reason = "the referral is not depersonalised"
            elif not wanted <= allowed:
                reason = f"categories {sorted(wanted - allowed)} are not needed for {purpose}"
            elif purpose in DECISION_KINDS:
                if row.state != purpose or not row.decision:
                    reason = f"no signed decision of {purpose} for this referral"
                elif requester != f"bureau:{row.bureau_id}":
                    reason = "only the bureau of the citizen's address that now holds the referral may reveal"
            elif purpose == "extract_delivery":
                if requester != "platform:delivery":
                    reason = "extract delivery reveals only to the platform's delivery"
                elif row.state != "decided":
                    reason = "the bureau has not decided yet"
            if reason is None and (erased := conn.execute(sa.select(t.vault_keys.c.destroyed_at).where(
                    t.vault_keys.c.referral_id == referral_id)).scalar()) is not None:  # fmt: skip
                reason = f"its personal data was erased on {erased:%Y-%m-%d}"
            if reason is not None:
                self._refuse(conn, "reveal-refused", referral_id, who, {**asked, "reason": reason}, now)
                said = f" {_bounded(purpose, 40)!r}" if allowed is None else ""
                raise RevealRefused(f"referral {referral_id}: reveal refused: {reason}{said}")
            values = vault.open_values(conn, self._kek(), referral_id, sorted(wanted))
            self.audit.append(conn, "reveal", referral_id, who, {
                "purpose": purpose, "categories": sorted(wanted), "identifiers": [v.token for v in values]}, now)  # fmt: skip  # noqa: E501
            self.audit.checkpoint(conn, now)
        out: dict[int, list[dict[str, str]]] = {}
        for v in values:
            out.setdefault(v.category, []).append({"identifier": v.token, "path": v.path, "value": v.value})
        return out

    def erase(self, referral_id: str, actor: str = "platform:retention") -> bool:
        now = self.clock()
        with self.tx() as conn:
            self._row(conn, referral_id)
            done = vault.erase(conn, referral_id, now)
            conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(
                bureau_view=None, clear_content=None))  # fmt: skip
            self.audit.append(conn, "erased", referral_id, actor, {"data_key_destroyed": done}, now)
            self.audit.checkpoint(conn, now)
        return done

    def rotate_kek(self, new: Kek, actor: str = "platform:keys") -> int:
        """Rewrap every live data key with ``new`` (identifiers and ciphertexts unchanged) and use
        it from now on; the number rewrapped, audited. This store's ingests and reveals wait
        while it runs, and it waits for those under way: none of them wraps with or reads by the
        old KEK after the rewrap. (Another process holding the old KEK must be given the new one.)"""
        with self._kek_users.exclusive():
            old = self._kek()
            if new.kek_id == old.kek_id:
                raise InputError(f"new KEK: it is the key in use ({old.kek_id}); nothing to rotate")
            now = self.clock()
            with self.tx() as conn:
                n = vault.rewrap(conn, old, new)
                self.audit.append(conn, "rewrap", None, actor, {"from": old.kek_id, "to": new.kek_id, "keys": n},
                                  now)  # fmt: skip
                self.audit.checkpoint(conn, now)
            self.kek = new
        return n

    def verify_audit(self, public: Any, witness: str | Path | None = None) -> audit_mod.VerifyReport:
        with self.tx() as conn:
            return audit_mod.verify(conn, public, witness if witness is not None else self._witness)
