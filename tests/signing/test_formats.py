"""Signature formats as plug-ins: the registry by media type, sign and verify through it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from signing import (
    ConfigurationError,
    Level,
    SigningFailure,
    SigningProfile,
    TestPki,
    UnsupportedDocumentError,
    VerificationReport,
    VerifyOptions,
    format_for,
    formats,
)
from signing.keys import Signer

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def docx_bytes() -> bytes:
    """A small DOCX-shaped file (a zip with a Word document part): content a detached signature covers."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
        )
        z.writestr("word/document.xml", "<w:document>Заключение</w:document>")
    return buf.getvalue()


def test_the_registry_knows_the_three_formats() -> None:
    known = formats.registered()
    assert {"application/xml", "application/pdf", "application/pkcs7-signature"} <= set(known)
    assert known["application/xml"].name == "XAdES" and not known["application/xml"].detached
    assert known["application/pdf"].name == "PAdES" and not known["application/pdf"].detached
    assert known["application/pkcs7-signature"].name == "CAdES" and known["application/pkcs7-signature"].detached
    assert format_for("Application/XML; charset=UTF-8") is known["application/xml"]  # parameters and case ignored


@pytest.mark.parametrize(
    ("media_type", "sample", "form", "report_format"),
    [
        ("application/xml", "sample_xml", "XAdES", "XML"),
        ("application/pdf", "sample_pdf", "PAdES", "PDF"),
        ("application/pkcs7-signature", "docx_bytes", "CAdES", "CAdES"),
    ],
)
def test_sign_and_verify_through_the_plug_in(
    request: pytest.FixtureRequest,
    profiles: dict[Level, SigningProfile],
    pki: TestPki,
    media_type: str,
    sample: str,
    form: str,
    report_format: str,
) -> None:
    content: bytes = request.getfixturevalue(sample)
    profile = profiles[Level.B_T]
    fmt = format_for(media_type)
    signed = fmt.sign(content, profile.signers_for(["chairman", "member1"]), profile)
    if fmt.detached:  # the .p7s beside the DOCX: verified over the DOCX's bytes
        options = VerifyOptions(pki_dir=pki.dir, detached_content=content, path="form.docx.p7s")
    else:
        options = VerifyOptions(pki_dir=pki.dir, path=f"form.{report_format.lower()}")
    report = fmt.verify(signed, options)
    assert report.passed, report.to_json()
    assert report.format == report_format and report.path == options.path
    assert [s.format for s in report.signatures] == [form, form]
    assert all(s.level == "B-T" for s in report.signatures)
    assert report.policy is not None and report.policy.declared_signers == ["chairman", "member1"]
    # the same options object, stricter: the level the plug-in reports is what the policy checks
    strict = fmt.verify(signed, replace(options, required_level="B-LT"))
    assert not strict.passed and all(s.sub_indication == "SIG_CONSTRAINTS_FAILURE" for s in strict.signatures)
    if fmt.detached:
        changed = fmt.verify(signed, VerifyOptions(pki_dir=pki.dir, detached_content=content + b"\0"))
        assert [s.sub_indication for s in changed.signatures] == ["HASH_FAILURE", "HASH_FAILURE"]
    else:
        assert formats.recognize(signed) is fmt  # what verify_file dispatches on: the content


def test_the_content_decides_the_format(sample_xml: bytes, sample_pdf: bytes, docx_bytes: bytes) -> None:
    assert formats.recognize(b"\xef\xbb\xbf\n" + sample_xml) is format_for("application/xml")
    assert formats.recognize(sample_pdf) is format_for("application/pdf")
    assert formats.recognize(docx_bytes) is None  # signed beside it, by the detached format


def test_an_unknown_media_type_is_named(docx_bytes: bytes) -> None:
    with pytest.raises(UnsupportedDocumentError, match="application/vnd.openxmlformats") as exc:
        format_for(DOCX)
    assert isinstance(exc.value, SigningFailure)
    assert "application/pdf" in str(exc.value)  # and what is known instead


def test_a_detached_signature_needs_its_content(profiles: dict[Level, SigningProfile], docx_bytes: bytes) -> None:
    profile = profiles[Level.B_B]
    cades = format_for("application/pkcs7-signature")
    p7s = cades.sign(docx_bytes, profile.signers_for(["chairman"]), profile)
    with pytest.raises(UnsupportedDocumentError, match="detached_content"):
        cades.verify(p7s, VerifyOptions())


class _Plain:
    """A format of our own: what README's "Adding a format" describes, on a toy scale."""

    name = "TOY"
    media_types = ("text/plain",)
    detached = False

    def recognizes(self, data: bytes) -> bool:
        return data.startswith(b"TOY")

    def sign(self, content: bytes, signers: Sequence[Signer], profile: SigningProfile, **options: Any) -> bytes:
        return b"TOY" + content

    def verify(self, content: bytes, options: VerifyOptions) -> VerificationReport:
        return VerificationReport(path=options.path, format="TOY")


def test_a_format_registers_itself(monkeypatch: pytest.MonkeyPatch, profiles: dict[Level, SigningProfile]) -> None:
    monkeypatch.setattr(formats, "_REGISTRY", formats.registered())  # this test's registrations go with it
    toy = formats.register(_Plain())
    assert format_for("text/plain") is toy and formats.recognize(b"TOY data") is toy
    profile = profiles[Level.B_B]
    assert toy.verify(toy.sign(b"x", [], profile), VerifyOptions(path="t")).format == "TOY"
    with pytest.raises(ConfigurationError, match="application/pdf is already registered for PAdES"):
        formats.register(type("Other", (_Plain,), {"media_types": ("application/pdf",)})())
