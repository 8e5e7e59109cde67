"""The vault: personal data of depersonalised referrals, encrypted at rest.

Each referral has its own 256-bit data key (``vault_keys``), stored only wrapped by the
key-encryption key (:mod:`.kek`). Each value (``vault_values``) is AES-256-GCM under that data
key with a fresh 96-bit nonce; the associated data binds it to its referral, identifier and
category, so a ciphertext moved to another row does not decrypt. The referral as received is
sealed the same way (``referrals.sealed``), for point 12.

- :func:`rewrap`: rotating the KEK unwraps each data key with the old KEK and wraps it with the
  new one; values, ciphertexts and identifiers are untouched.
- :func:`erase`: the data key is overwritten and marked destroyed, the ciphertexts deleted: what
  the referral's personal data was cannot be recovered from the database (nor from a backup taken
  afterwards; a backup taken before still needs the KEK, which is why the KEK stays outside it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection

from msedocs.errors import InputError
from msedocs.referrals import schema as t

from .kek import Kek


class ErasedError(InputError):
    """The referral's data key was destroyed: its personal data no longer exists (exit code 2)."""


@dataclass(frozen=True)
class VaultValue:
    token: str
    category: int
    path: str
    value: str


def _aad(referral_id: str, token: str, category: int) -> bytes:
    return f"msedocs-vault-v1|{referral_id}|{token}|{category}".encode()


def seal_rows(kek: Kek, referral_id: str, values: Iterable[VaultValue], original: bytes, now: dt.datetime
              ) -> tuple[dict[str, object], list[dict[str, object]], bytes]:  # fmt: skip
    """A new referral's vault rows, not yet written: its ``vault_keys`` row (a new data key,
    wrapped), its ``vault_values`` rows and its sealed original (``referrals.sealed``)."""
    key = AESGCM.generate_key(bit_length=256)
    gcm = AESGCM(key)
    key_row: dict[str, object] = {"referral_id": referral_id, "kek_id": kek.kek_id, "wrapped_key": kek.wrap(key),
                                  "created_at": now}  # fmt: skip
    rows: list[dict[str, object]] = []
    for v in values:
        nonce = os.urandom(12)
        plain = json.dumps({"path": v.path, "value": v.value}, ensure_ascii=False).encode()
        rows.append({"referral_id": referral_id, "token": v.token, "category": v.category, "nonce": nonce,
                     "ciphertext": gcm.encrypt(nonce, plain, _aad(referral_id, v.token, v.category))})  # fmt: skip
    nonce = os.urandom(12)
    sealed = nonce + gcm.encrypt(nonce, original, _aad(referral_id, "original", 0))
    return key_row, rows, sealed


def seal(conn: Connection, kek: Kek, referral_id: str, values: Iterable[VaultValue], original: bytes,
         now: dt.datetime) -> None:  # fmt: skip
    """Store a new referral's values and its sealed original under a new data key."""
    key_row, rows, sealed = seal_rows(kek, referral_id, values, original, now)
    conn.execute(sa.insert(t.vault_keys).values(**key_row))
    if rows:
        conn.execute(sa.insert(t.vault_values), rows)
    conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(sealed=sealed))


def _data_key(conn: Connection, kek: Kek, referral_id: str) -> bytes:
    row = conn.execute(sa.select(t.vault_keys).where(t.vault_keys.c.referral_id == referral_id)).first()
    if row is None:
        raise InputError(f"referral {referral_id}: no personal data in the vault (not depersonalised)")
    if row.destroyed_at is not None or row.wrapped_key is None:
        raise ErasedError(f"referral {referral_id}: its personal data was erased on {row.destroyed_at:%Y-%m-%d}")
    if row.kek_id != kek.kek_id:
        raise InputError(f"referral {referral_id}: its data key is wrapped by {row.kek_id}, not by {kek.kek_id}")
    return kek.unwrap(row.wrapped_key)


def open_values(conn: Connection, kek: Kek, referral_id: str, categories: Iterable[int]) -> list[VaultValue]:
    gcm = AESGCM(_data_key(conn, kek, referral_id))
    c = t.vault_values.c
    rows = conn.execute(sa.select(t.vault_values).where(c.referral_id == referral_id,
                                                        c.category.in_(list(categories))).order_by(c.token)).all()  # fmt: skip  # noqa: E501
    out = []
    for row in rows:
        plain = json.loads(gcm.decrypt(row.nonce, row.ciphertext, _aad(referral_id, row.token, row.category)))
        out.append(VaultValue(row.token, row.category, plain["path"], plain["value"]))
    return out


def open_original(conn: Connection, kek: Kek, referral_id: str) -> bytes:
    gcm = AESGCM(_data_key(conn, kek, referral_id))
    sealed = conn.execute(sa.select(t.referrals.c.sealed).where(t.referrals.c.id == referral_id)).scalar()
    if sealed is None:
        raise ErasedError(f"referral {referral_id}: nothing sealed")
    return gcm.decrypt(sealed[:12], sealed[12:], _aad(referral_id, "original", 0))


def rewrap(conn: Connection, old: Kek, new: Kek) -> int:
    """Rewrap every live data key wrapped by ``old`` with ``new``; the number rewrapped."""
    c = t.vault_keys.c
    rows = conn.execute(sa.select(c.referral_id, c.wrapped_key).where(c.kek_id == old.kek_id,
                                                                      c.destroyed_at.is_(None))).all()  # fmt: skip
    for row in rows:
        conn.execute(sa.update(t.vault_keys).where(c.referral_id == row.referral_id)
                     .values(kek_id=new.kek_id, wrapped_key=new.wrap(old.unwrap(row.wrapped_key))))  # fmt: skip
    return len(rows)


def erase(conn: Connection, referral_id: str, now: dt.datetime) -> bool:
    """Destroy the data key and delete the ciphertexts; False if already erased or never sealed."""
    c = t.vault_keys.c
    done = conn.execute(sa.update(t.vault_keys).where(c.referral_id == referral_id, c.destroyed_at.is_(None))
                        .values(wrapped_key=None, destroyed_at=now)).rowcount  # fmt: skip
    conn.execute(sa.delete(t.vault_values).where(t.vault_values.c.referral_id == referral_id))
    conn.execute(sa.update(t.referrals).where(t.referrals.c.id == referral_id).values(sealed=None))
    return bool(done)
