"""Detached CAdES: one .p7s with several SignerInfos, checked by openssl cms and our verifier."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms

from signing import Level, SigningProfile, TestPki, sign_detached, verify_detached, verify_file

from .helpers import need, run

DOCX = b"PK\x03\x04 pretend this is a DOCX " * 50
SIGNERS = ["chairman", "member1", "bureau_head"]


@pytest.fixture(scope="module")
def signed(profiles: dict[Level, SigningProfile]) -> dict[Level, bytes]:
    return {level: sign_detached(DOCX, prof.signers_for(SIGNERS), prof) for level, prof in profiles.items()}


@pytest.mark.parametrize("level", list(Level))
def test_openssl_cms_verifies(signed: dict[Level, bytes], level: Level, pki: TestPki, tmp_path: Path) -> None:
    need("openssl")
    (tmp_path / "f.docx").write_bytes(DOCX)
    (tmp_path / "f.docx.p7s").write_bytes(signed[level])
    r = run(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER",
        "-in", tmp_path / "f.docx.p7s", "-content", tmp_path / "f.docx",
        "-CAfile", pki.root_path, "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Verification successful" in r.stderr
    info = run("openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "f.docx.p7s").stdout
    assert info.count("d.issuerAndSerialNumber:") == 3


@pytest.mark.parametrize("level", list(Level))
def test_our_verifier(signed: dict[Level, bytes], level: Level, pki: TestPki) -> None:
    report = verify_detached(DOCX, signed[level], pki_dir=pki.dir, required_level=level)
    assert report.passed, report.to_json()
    assert len(report.signatures) == 3
    assert {s.level for s in report.signatures} == {level.value}
    assert sorted(s.role or "" for s in report.signatures) == [
        "Председатель МРЭК",
        "Руководитель бюро",
        "Член МРЭК",
    ]


def test_der_structure(signed: dict[Level, bytes]) -> None:
    sd = cms.ContentInfo.load(signed[Level.B_LT])["content"]
    assert sd["encap_content_info"]["content"].native is None  # detached
    assert len(sd["signer_infos"]) == 3
    kinds = {r.name for r in sd["crls"]}
    assert kinds == {"crl", "other"}  # CRLs and OCSP responses
    for si in sd["signer_infos"]:
        assert si["digest_algorithm"]["algorithm"].native == "sha256"
        assert any(a["type"].native == "signature_time_stamp_token" for a in si["unsigned_attrs"])


def test_add_signer_to_existing_p7s(profiles: dict[Level, SigningProfile], signed, pki: TestPki) -> None:
    prof = profiles[Level.B_B]
    more = sign_detached(DOCX, prof.signers_for(["member2"]), prof, existing=signed[Level.B_B])
    report = verify_detached(DOCX, more, pki_dir=pki.dir)
    assert report.passed and len(report.signatures) == 4


def test_verify_file_finds_the_p7s(signed: dict[Level, bytes], pki: TestPki, tmp_path: Path) -> None:
    (tmp_path / "f.docx").write_bytes(DOCX)
    (tmp_path / "f.docx.p7s").write_bytes(signed[Level.B_T])
    assert verify_file(tmp_path / "f.docx", pki.dir).passed
    assert verify_file(tmp_path / "f.docx.p7s", pki.dir).passed


@pytest.mark.parametrize(
    ("md", "expected"),
    [("sha256", ("TOTAL_PASSED", None)), ("sha1", ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"))],
)
def test_openssl_made_signature(pki: TestPki, tmp_path: Path, md: str, expected: tuple[str, str | None]) -> None:
    """Interop the other way: openssl cms -sign, our verifier; SHA-1 is refused."""
    need("openssl")
    from signing.pki import DEFAULT_TEST_PASSWORD

    key = tmp_path / "key.pem"
    r = run(
        "openssl", "pkcs12", "-in", pki.key_path("member1"), "-nocerts", "-nodes",
        "-passin", f"pass:{DEFAULT_TEST_PASSWORD}", "-out", key,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (tmp_path / "f.bin").write_bytes(DOCX)
    r = run(
        "openssl", "cms", "-sign", "-binary", "-md", md, "-in", tmp_path / "f.bin",
        "-signer", pki.cert_path("member1"), "-inkey", key, "-certfile", pki.dir / "ca.pem",
        "-outform", "DER", "-out", tmp_path / "f.bin.p7s",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    report = verify_detached(DOCX, (tmp_path / "f.bin.p7s").read_bytes(), pki_dir=pki.dir)
    s = report.signatures[0]
    assert (s.indication.value, s.sub_indication) == expected, report.to_json()
