"""Point 12 on the command line: a bureau's signed decision, and the names an operator types.

A bureau that decides on an examination *with* the citizen's presence, or on an
additional-examination programme, signs (Ed25519, the key whose public half is registered with
``msedocs bureaus add|set --public-key`` or made by ``msedocs bureaus keygen``)::

    msedocs-692n-decision-v1|<referral id>|<bureau id>|<in_person|exam_programme>|<YYYY-MM-DD>

(:func:`msedocs.referrals.store.decision_message`). The signed decision travels as a small JSON
document (:func:`sign`, ``msedocs referrals sign-decision``)::

    {"format": "msedocs-692n-decision-v1", "referral_id": "…", "bureau": "…",
     "decision": "in_person", "date": "2026-10-02", "signature": "<base64, 64 bytes>"}

which ``msedocs referrals decide … --signature FILE`` records; ``--key PEM`` signs and records in
one step where the bureau's key is at hand. A signature that does not verify is refused and
written to the audit log. The document holds no personal data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.errors import InputError

from .store import DECISION_KINDS, decision_message

FORMAT = "msedocs-692n-decision-v1"

#: What an operator may type for each decision (point 12) and each purpose of a reveal.
DECISIONS = {"in-person": "in_person", "in_person": "in_person",
             "additional-programme": "exam_programme", "exam-programme": "exam_programme",
             "exam_programme": "exam_programme"}  # fmt: skip
PURPOSES = {**DECISIONS, "extract-delivery": "extract_delivery", "extract_delivery": "extract_delivery"}


def decision_kind(name: str) -> str:
    try:
        return DECISIONS[name.strip().lower()]
    except KeyError:
        raise InputError(f"--decision: in-person or additional-programme (got {name[:40]!r})") from None


def purpose_name(name: str) -> str:
    """The API's name of a purpose; an unknown one is passed on as typed (cut to 40 characters) so
    that the store refuses it and the refusal is audited."""
    return PURPOSES.get(name.strip().lower(), name.strip()[:40])


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"--key {path}: cannot read ({exc.strerror})") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"--key {path}: not a PEM private key without a password ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"--key {path}: not an Ed25519 private key")
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """A new PEM file readable by its owner only; an existing file is never overwritten."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path}: exists; a bureau's key is never overwritten") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def signature(key: Ed25519PrivateKey, referral_id: str, bureau_id: str, kind: str, date: dt.date) -> bytes:
    if kind not in DECISION_KINDS:
        raise InputError(f"decision: {kind!r} is not in_person or exam_programme")
    return key.sign(decision_message(referral_id, bureau_id, kind, date))


def sign(key: Ed25519PrivateKey, referral_id: str, bureau_id: str, kind: str, date: dt.date) -> dict[str, str]:
    """The signed decision document (JSON-ready)."""
    sig = signature(key, referral_id, bureau_id, kind, date)
    return {"format": FORMAT, "referral_id": referral_id, "bureau": bureau_id, "decision": kind,
            "date": date.isoformat(), "signature": base64.b64encode(sig).decode()}  # fmt: skip


def load(path: Path) -> dict[str, Any]:
    """A signed decision written by :func:`sign`: its fields, the signature as bytes, the date as a date."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--signature {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        text = ""
    return parse(text, f"--signature {path}")


def parse(text: str | bytes, where: str = "the signed decision") -> dict[str, Any]:
    """:func:`load` of a document already read (the HTTP service's body); ``where`` names it in errors."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{where}: not a signed decision (JSON written by `referrals sign-decision`)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where}: not a signed decision of format {FORMAT}")
    try:
        return {"referral_id": str(doc["referral_id"]), "bureau": str(doc["bureau"]),
                "decision": decision_kind(str(doc["decision"])), "date": dt.date.fromisoformat(str(doc["date"])),
                "signature": base64.b64decode(str(doc["signature"]), validate=True)}  # fmt: skip
    except (KeyError, ValueError, binascii.Error) as exc:
        raise InputError(f"{where}: a field is missing or malformed ({exc})") from None
