"""What the order-692n tests share, here and in tests/api/test_api_referrals.py: the official СЭМД
package (``../shared/semd`` beside the checkout, or ``MSEDOCS_SEMD_DIR``; absent, the tests that
need it are skipped loudly and fail under ``CI=true``) and the bureaus every store starts with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from msedocs.referrals import decisions, semd
from msedocs.referrals.store import ReferralStore

ROOT = Path(__file__).resolve().parents[3]
SEMD_DIR = Path(os.environ.get("MSEDOCS_SEMD_DIR") or ROOT.parent / "shared" / "semd")


def missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (required under CI=true)")
    pytest.skip(f"!!! {what}: SKIPPED !!!")


def official_package() -> semd.Package:
    try:
        return semd.package(SEMD_DIR)
    except semd.SemdPackageError as exc:
        missing(f"the official СЭМД package is not at {SEMD_DIR} ({exc})")
        raise


def add_bureaus(store: ReferralStore, signing: dict[str, Ed25519PrivateKey] | None = None) -> None:
    """Three Mintrud main bureaus (gb1 with psychiatry; their decision keys from ``signing``), the
    other federal body's (fmba) and six of the citizen's address (addr<postal area>)."""
    for i in range(1, 4):
        key = (signing or {}).get(f"gb{i}")
        store.add_bureau(f"gb{i}", f"Главное бюро {i}", "mintrud", 50, ["psychiatry"] if i == 1 else [],
                         public_key_pem=decisions.public_pem(key) if key else None)  # fmt: skip
    store.add_bureau("fmba", "Главное бюро ФМБА", "federal", 20, [])
    for area in ("630", "644", "302", "620", "101", "420"):
        store.add_bureau(f"addr{area}", f"Бюро по адресу {area}", "address", 20, [], [area])
