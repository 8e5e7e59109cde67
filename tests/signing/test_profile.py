"""SigningProfile: defaults (test PKI with a TEST warning), TOML configuration, environment overrides."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from signing import (
    ConfigurationError,
    KeyLoadError,
    Level,
    SigningProfile,
    TestPki,
    clear_key_cache,
    load_pkcs12,
    load_profile,
)
from signing.keys import hash_for
from signing.pki import DEFAULT_TEST_PASSWORD


def test_default_is_test_pki_under_cwd_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="signing"):
        prof = load_profile(env={}, cwd=tmp_path)
    assert prof.is_test and prof.pki_dir == tmp_path / ".msedocs" / "pki"
    assert (tmp_path / ".msedocs" / "pki" / "root-ca.pem").is_file()
    assert "TEST PKI" in caplog.text and "NOT valid for real use" in caplog.text
    assert prof.level is Level.B_T
    assert prof.signer("chairman").title == "Председатель МРЭК"


def test_environment_overrides(pki: TestPki, tmp_path: Path) -> None:
    env = {
        "MSEDOCS_SIGN_LEVEL": "B-LT",
        "MSEDOCS_SIGN_PKI_DIR": str(pki.dir),
        "MSEDOCS_SIGN_REVOCATION": "in-process",
    }
    prof = load_profile(env=env, cwd=tmp_path)
    assert prof.level is Level.B_LT and prof.pki_dir == pki.dir
    assert not (tmp_path / ".msedocs").exists()


def test_toml_config_with_pkcs12_signers(pki: TestPki, tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text(DEFAULT_TEST_PASSWORD + "\n")
    cfg = tmp_path / "msedocs.toml"
    cfg.write_text(
        f"""
[signing]
level = "B-B"
trust_roots = ["{pki.root_path}"]

[signing.signers.chairman]
title = "Председатель МРЭК"
pkcs12 = "{pki.key_path("chairman")}"
password_env = "NOT_SET_ANYWHERE"
password_file = "pw.txt"
""",
        encoding="utf-8",
    )
    prof = load_profile(cfg, env={"MSEDOCS_SIGN_LEVEL": "b-t", "MSEDOCS_SIGN_TSA_URL": "http://127.0.0.1:1/tsa"})
    assert prof.level is Level.B_T and prof.tsa_url == "http://127.0.0.1:1/tsa"
    assert not prof.is_test and list(prof.signers) == ["chairman"]
    assert prof.signer("chairman").certificate == pki.signers["chairman"]
    with pytest.raises(ConfigurationError, match="no signer configured for role 'member1'"):
        prof.signer("member1")


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ('[signing]\nlevel = "B-LTX"\n', "not one of"),
        ('[signing]\ndigest = "sha1"\n', "sha1"),
        ('[signing]\nrevocation_sources = ["ldap"]\n', "revocation source"),
        ("[signing\n", "cannot read"),
        ('[signing.signers.chairman]\npkcs12 = "x.p12"\nflavour = 1\n', "unknown keys"),
    ],
)
def test_bad_configuration(tmp_path: Path, toml: str, match: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigurationError, match=match):
        load_profile(cfg, env={}, cwd=tmp_path)


def test_profile_is_frozen_and_needs_a_tsa_for_b_t() -> None:
    with pytest.raises(ConfigurationError, match="needs tsa_url"):
        SigningProfile(level=Level.B_T)
    prof = SigningProfile(level=Level.B_B)
    with pytest.raises(AttributeError):
        prof.level = Level.B_T  # type: ignore[misc]


def test_keys_load_once(pki: TestPki) -> None:
    clear_key_cache()
    t0 = time.perf_counter()
    first = load_pkcs12(pki.key_path("member1"), DEFAULT_TEST_PASSWORD, role="member1", title="Член МРЭК")
    t1 = time.perf_counter()
    for _ in range(100):
        again = load_pkcs12(pki.key_path("member1"), DEFAULT_TEST_PASSWORD, role="member1", title="Член МРЭК")
    t2 = time.perf_counter()
    assert again is first
    assert (t2 - t1) / 100 < (t1 - t0) / 20  # a cache hit is far cheaper than a load


def test_a_child_takes_the_keys_its_parent_opened(pki: TestPki, tmp_path: Path) -> None:
    """signing.keys.handoff/adopt, as a batch's workers take the keys from the process that
    started them: the adopted signer signs, verifiably, without the key file being opened again
    (a wrong password no longer matters); only keys from the named files and folders are handed
    over; a key file changed since (a new modification time) is opened again."""
    import shutil

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from signing.keys import adopt, handoff

    clear_key_cache()
    copy = tmp_path / "member2.p12"
    shutil.copy(pki.key_path("member2"), copy)
    chairman = load_pkcs12(pki.key_path("chairman"), DEFAULT_TEST_PASSWORD, role="chairman", title="Председатель")
    load_pkcs12(copy, DEFAULT_TEST_PASSWORD, role="member2", title="Член МРЭК")
    given = handoff([pki.dir])
    assert [h[1] for h in given] == ["chairman"]  # the copy outside pki.dir is not handed over
    assert [h[1] for h in handoff([copy])] == ["member2"]
    both = handoff([pki.dir, tmp_path])
    clear_key_cache()  # as in a new process
    adopt(both)
    taken = load_pkcs12(pki.key_path("chairman"), "not the password", role="chairman", title="Председатель")
    assert taken is not chairman and taken.certificate == chairman.certificate
    signature = taken.sign(b"data")
    public = chairman.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())
    future = copy.stat().st_mtime_ns + 10**9
    os.utime(copy, ns=(future, future))
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_pkcs12(copy, "not the password", role="member2", title="Член МРЭК")
    clear_key_cache()


def test_wrong_password(pki: TestPki) -> None:
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_pkcs12(pki.key_path("member2"), "nope", role="member2", title="Член МРЭК")


def test_sha1_refused() -> None:
    with pytest.raises(KeyLoadError, match="not allowed"):
        hash_for("sha1")


def test_b_lta_is_a_level_above_b_lt(tmp_path: Path) -> None:
    cfg = tmp_path / "msedocs.toml"
    cfg.write_text('[signing]\nlevel = "B-LTA"\n', encoding="utf-8")
    prof = load_profile(cfg, env={}, cwd=tmp_path)
    assert prof.level is Level.B_LTA and Level.B_LTA > Level.B_LT
    assert Level.parse("lta") is Level.B_LTA
