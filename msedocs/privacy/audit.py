"""The audit log: append-only, hash-chained, with Ed25519-signed checkpoints.

Every identifier issued, reveal (granted or refused), rewrap and erase is one entry::

    hash = sha256(prev_hash | seq | at | event | referral_id | actor | details)

``details`` holds identifiers, categories and reasons, never a value of personal data. After each
operation a checkpoint signs (Ed25519) the sequence number and hash of the last entry; with a
witness file (``MSEDOCS_AUDIT_WITNESS``: JSON lines kept outside the database) each checkpoint is
also appended there. :func:`verify` recomputes the chain and finds an edited entry (its hash), a
deleted or reordered one (sequence and chain), a truncated log (a checkpoint, or the witness,
beyond the last entry) and a forged checkpoint (its signature).

The signing key is a PEM file (``MSEDOCS_AUDIT_KEY``, default ``.msedocs/audit-ed25519.pem``,
created on first use with mode 0600); verification needs only its public half.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection

from msedocs.referrals import schema as t

GENESIS = "0" * 64
DEFAULT_KEY = Path(".msedocs") / "audit-ed25519.pem"


def load_or_create_key(path: str | Path | None = None) -> Ed25519PrivateKey:
    p = Path(path or os.environ.get("MSEDOCS_AUDIT_KEY") or DEFAULT_KEY)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key
    loaded = serialization.load_pem_private_key(p.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{p}: not an Ed25519 private key")
    return loaded


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _hash(prev: str, seq: int, at: dt.datetime, event: str, referral_id: str | None, actor: str, details: str) -> str:
    text = "|".join([prev, str(seq), at.isoformat(), event, referral_id or "", actor, details])
    return hashlib.sha256(text.encode()).hexdigest()


def _checkpoint_message(seq: int, digest: str) -> bytes:
    return f"msedocs-audit-checkpoint-v1|{seq}|{digest}".encode()


class AuditLog:
    """Appends entries within the caller's transaction."""

    def __init__(self, key: Ed25519PrivateKey, witness: str | Path | None = None) -> None:
        self.key = key
        self.key_id = key_id(key.public_key())
        w = witness if witness is not None else os.environ.get("MSEDOCS_AUDIT_WITNESS")
        self.witness = Path(w) if w else None

    def append(self, conn: Connection, event: str, referral_id: str | None, actor: str, details: dict[str, Any],
               now: dt.datetime) -> int:  # fmt: skip
        return self.append_many(conn, [(event, referral_id, actor, details)], now)

    def append_many(self, conn: Connection, entries: list[tuple[str, str | None, str, dict[str, Any]]],
                    now: dt.datetime) -> int:  # fmt: skip
        """Append entries ``(event, referral_id, actor, details)`` in order, chained; the last seq.
        The chain's head is read once (under a transaction lock on PostgreSQL) and the entries
        inserted in one statement."""
        c = t.audit_log.c
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7152046693)"))  # one writer of the chain at a time
        last = conn.execute(sa.select(c.seq, c.hash).order_by(c.seq.desc()).limit(1)).first()
        seq = last.seq if last else 0
        prev = last.hash if last else GENESIS
        rows = []
        for event, referral_id, actor, details in entries:
            seq += 1
            body = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            digest = _hash(prev, seq, now, event, referral_id, actor, body)
            rows.append({"seq": seq, "at": now, "event": event, "referral_id": referral_id, "actor": actor,
                         "details": body, "prev_hash": prev, "hash": digest})  # fmt: skip
            prev = digest
        if rows:
            conn.execute(sa.insert(t.audit_log), rows)
        return seq

    def checkpoint(self, conn: Connection, now: dt.datetime) -> None:
        c = t.audit_log.c
        last = conn.execute(sa.select(c.seq, c.hash).order_by(c.seq.desc()).limit(1)).first()
        if last is None:
            return
        sig = self.key.sign(_checkpoint_message(last.seq, last.hash))
        conn.execute(sa.insert(t.audit_checkpoints).values(seq=last.seq, hash=last.hash, at=now, key_id=self.key_id,
                                                           signature=sig))  # fmt: skip
        if self.witness is not None:
            self.witness.parent.mkdir(parents=True, exist_ok=True)
            with self.witness.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"seq": last.seq, "hash": last.hash, "signature": sig.hex()}) + "\n")


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection, public: Ed25519PublicKey, witness: str | Path | None = None) -> VerifyReport:
    report = VerifyReport()
    c = t.audit_log.c
    prev, expected_seq = GENESIS, 1
    hashes: dict[int, str] = {}
    for row in conn.execute(sa.select(t.audit_log).order_by(c.seq)):
        report.entries += 1
        if row.seq != expected_seq:
            report.problems.append(f"entry {row.seq}: expected entry {expected_seq} here (an entry deleted or moved)")
        if row.prev_hash != prev:
            report.problems.append(f"entry {row.seq}: does not follow the entry before it (chain broken: deleted, "
                                   "reordered or inserted)")  # fmt: skip
        if _hash(row.prev_hash, row.seq, row.at, row.event, row.referral_id, row.actor, row.details) != row.hash:
            report.problems.append(f"entry {row.seq}: its content does not match its hash (edited)")
        hashes[row.seq] = row.hash
        prev, expected_seq = row.hash, row.seq + 1
    last_seq = expected_seq - 1
    kid = key_id(public)
    for cp in conn.execute(sa.select(t.audit_checkpoints).order_by(t.audit_checkpoints.c.id)):
        report.checkpoints += 1
        try:
            public.verify(cp.signature, _checkpoint_message(cp.seq, cp.hash))
        except InvalidSignature:
            report.problems.append(f"checkpoint {cp.id}: bad signature (key {cp.key_id}, verifying with {kid})")
            continue
        if cp.seq > last_seq:
            report.problems.append(f"checkpoint {cp.id}: covers entry {cp.seq} but the log ends at {last_seq} "
                                   "(truncated)")  # fmt: skip
        elif hashes.get(cp.seq) != cp.hash:
            report.problems.append(f"checkpoint {cp.id}: entry {cp.seq} is not the one signed (log rewritten)")
    w = witness if witness is not None else os.environ.get("MSEDOCS_AUDIT_WITNESS")
    if w and Path(w).exists():
        for n, line in enumerate(Path(w).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            item = json.loads(line)
            try:
                public.verify(bytes.fromhex(item["signature"]), _checkpoint_message(item["seq"], item["hash"]))
            except InvalidSignature:
                report.problems.append(f"witness line {n}: bad signature")
                continue
            if item["seq"] > last_seq:
                report.problems.append(f"witness line {n}: entry {item['seq']} was signed but the log ends at "
                                       f"{last_seq} (truncated)")  # fmt: skip
            elif hashes.get(item["seq"]) != item["hash"]:
                report.problems.append(f"witness line {n}: entry {item['seq']} is not the one signed (log rewritten)")
    return report
