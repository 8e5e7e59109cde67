"""The signer's encoded-once CMS (signing._cms.LoadedKeySigner) against pyHanko's own assembly.

With the time and the timestamp's nonce and serial fixed, both must give the same bytes: the
signed attributes, the SignerInfo, the SignedData with its certificates, for a detached CAdES
signature (with signing-time) and a PAdES one (without), with and without a timestamp, with
and without the signature-set declaration; and the whole sign_detached / sign_pdf output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from asn1crypto import cms
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

from signing import Level, SigningProfile, sign_detached, sign_pdf
from signing import _cms as fast
from signing._async import run_sync
from signing.declaration import Declaration
from signing.services import timestamper_for

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


class _Stock(fast.LoadedKeySigner):
    """The same signer, assembled by pyHanko's own methods."""

    signed_attrs = pyhanko_signers.Signer.signed_attrs  # type: ignore[assignment]
    _package_signature = pyhanko_signers.Signer._package_signature


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch, profiles: dict[Level, SigningProfile]) -> Iterator[None]:
    """A fixed nonce, serial and time in every timestamp (the in-process TSA)."""
    import pyhanko.sign.timestamps.api as ts_api

    import signing.services as services

    monkeypatch.setattr(services, "get_nonce", lambda: 12345)
    monkeypatch.setattr(ts_api, "get_nonce", lambda: 12345)
    ts = timestamper_for(profiles[Level.B_T])
    monkeypatch.setattr(ts, "fixed_dt", WHEN)
    yield


@pytest.mark.parametrize("timestamped", [False, True])
@pytest.mark.parametrize("declared", [False, True])
@pytest.mark.parametrize("kind", ["cades", "pades"])
def test_same_bytes_as_pyhanko(
    fixed: None, profiles: dict[Level, SigningProfile], kind: str, declared: bool, timestamped: bool
) -> None:
    profile = profiles[Level.B_T]
    (signer,) = profile.signers_for(["chairman"])
    declaration = Declaration.for_signers([signer], "B-T") if declared else None
    attrs = fast.cades_attrs(signer.title, declaration)
    ts = timestamper_for(profile) if timestamped else None
    digest = hashlib.sha256(b"the document").digest()

    def sign(adapter: fast.LoadedKeySigner) -> bytes:
        if kind == "cades":
            settings = PdfCMSSignedAttributes(signing_time=WHEN, cades_signed_attrs=attrs)
            coro = adapter.async_sign_general_data(
                b"the document", "sha256", detached=True, use_cades=True, timestamper=ts, signed_attr_settings=settings
            )
        else:
            settings = PdfCMSSignedAttributes(cades_signed_attrs=attrs)
            coro = adapter.async_sign(digest, "sha256", use_pades=True, timestamper=ts, signed_attr_settings=settings)
        return run_sync(coro).dump()

    ours, stock = fast.LoadedKeySigner(signer), _Stock(signer)
    first = sign(ours)
    assert first == sign(stock)
    assert sign(ours) == first  # and again, from the encoded-once attributes
    info = cms.ContentInfo.load(first)["content"]["signer_infos"][0]
    types = {a["type"].native for a in info["signed_attrs"]}
    assert ("signing_time" in types) == (kind == "cades")
    assert ("signature_policy_identifier" in types) == declared
    assert (info["unsigned_attrs"].native is not None) == timestamped


def test_whole_outputs_unchanged(
    fixed: None, monkeypatch: pytest.MonkeyPatch, profiles: dict[Level, SigningProfile], sample_pdf: bytes
) -> None:
    """sign_detached and sign_pdf give the same bytes with either assembly (two signers, B-T)."""
    profile = profiles[Level.B_T]
    signers = profile.signers_for(["chairman", "member1"])
    ours_p7s = sign_detached(b"docx bytes", signers, profile, signing_time=WHEN)
    ours_pdf = sign_pdf(sample_pdf, signers, profile)
    monkeypatch.setattr(fast, "_adapters", fast.weakref.WeakKeyDictionary())
    monkeypatch.setattr(fast, "LoadedKeySigner", _Stock)
    assert sign_detached(b"docx bytes", signers, profile, signing_time=WHEN) == ours_p7s
    stock_pdf = sign_pdf(sample_pdf, signers, profile)
    # PAdES: the signature dictionary's /M follows the clock, so the document's digest, the
    # signature value and its timestamp differ; everything else of each CMS is the same
    assert _cms_parts(stock_pdf) == _cms_parts(ours_pdf)


def _cms_parts(pdf: bytes) -> list[tuple[object, ...]]:
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    out = []
    for sig in PdfFileReader(BytesIO(pdf)).embedded_signatures:
        sd = sig.signed_data
        (info,) = sd["signer_infos"]
        attrs = sorted(a.dump() for a in info["signed_attrs"] if a["type"].native != "message_digest")
        unsigned = [a["type"].native for a in info["unsigned_attrs"]]
        head = [sd[k].dump() for k in ("version", "digest_algorithms", "encap_content_info", "certificates")]
        tail = [info[k].dump() for k in ("version", "sid", "digest_algorithm", "signature_algorithm")]
        out.append((*head, *tail, attrs, unsigned))
    return out


def _font_programs(pdf: bytes) -> list[bytes]:
    """The decoded /FontFile2 programs of ``pdf`` (its stamps' fonts), in object order."""
    from io import BytesIO

    import pikepdf

    with pikepdf.open(BytesIO(pdf)) as doc:
        return [
            obj.FontFile2.read_bytes()
            for obj in doc.objects
            if isinstance(obj, pikepdf.Dictionary) and "/FontFile2" in obj
        ]


def test_stamp_font_subset_made_once_same_bytes(
    monkeypatch: pytest.MonkeyPatch, profiles: dict[Level, SigningProfile], sample_pdf: bytes
) -> None:
    """The stamps' font programs (one subset per stamp) are pyHanko's own, also when they come
    from the subsets kept per glyph set."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

    from signing import pades

    profile = profiles[Level.B_B]
    signers = profile.signers_for(["chairman", "member1"])
    monkeypatch.setattr(pades, "_subsets", {})
    before = len(_font_programs(sample_pdf))  # the document's own fonts come first (lower object numbers)

    def stamps() -> list[bytes]:
        return _font_programs(sign_pdf(sample_pdf, signers, profile, visible_stamp=True))[before:]

    first = stamps()
    assert len(first) == 2 and len(pades._subsets) == 2 and first[0] != first[1]  # two owners' names
    assert stamps() == first  # from the kept subsets
    monkeypatch.setattr(pades._SubsetOnceAccumulator, "prepare_write", GlyphAccumulator.prepare_write)
    # pyHanko's own subsetting: fontTools stamps the subset's head.modified with the clock
    assert [_tables(x) for x in stamps()] == [_tables(x) for x in first]


def _tables(program: bytes) -> dict[str, object]:
    """A TrueType program's tables, the head table's time of modification and checksum left out."""
    from io import BytesIO

    from fontTools.ttLib import TTFont

    font = TTFont(BytesIO(program))
    out: dict[str, object] = {tag: font.reader[tag] for tag in font.keys() if tag not in ("head", "GlyphOrder")}
    head = font["head"]
    out["head"] = {k: v for k, v in vars(head).items() if k not in ("modified", "checkSumAdjustment", "tableTag")}
    return out


def _tsa_response_from_values(ts: object, req: object) -> bytes:
    """The in-process TSA's answer built from asn1crypto values (how signing.services built it
    before assembling it from encoded parts): the reference for the bytes."""
    from asn1crypto import algos, core, tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from pyhanko.sign.general import simple_cms_attribute

    from signing import services

    gen_time = ts.fixed_dt  # type: ignore[attr-defined]
    tst_args = {
        "version": "v1",
        "policy": ts._policy,  # type: ignore[attr-defined]
        "message_imprint": req["message_imprint"],  # type: ignore[index]
        "serial_number": services.get_nonce(),
        "gen_time": gen_time,
        "tsa": asn1_x509.GeneralName.load(ts._tsa_name_der),  # type: ignore[attr-defined]
    }
    if req["nonce"].native is not None:  # type: ignore[index]
        tst_args["nonce"] = req["nonce"]  # type: ignore[index]
    tst_info_data = tsp.TSTInfo(tst_args).dump()
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute.load(ts._ct_der),  # type: ignore[attr-defined]
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(gen_time)})),
            cms.CMSAttribute.load(ts._scv2_der),  # type: ignore[attr-defined]
            simple_cms_attribute("message_digest", hashlib.sha256(tst_info_data).digest()),
        ]
    )
    signature = ts._key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    digest_alg = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier.load(ts._sid_der),  # type: ignore[attr-defined]
            "digest_algorithm": digest_alg,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [digest_alg],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info_data)},
            "certificates": [cms.CertificateChoices.load(c) for c in ts._certs_der],  # type: ignore[attr-defined]
            "signer_infos": [signer_info],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@pytest.mark.parametrize("with_nonce", [True, False])
def test_tsa_answer_same_bytes_as_built_from_values(
    fixed: None, profiles: dict[Level, SigningProfile], with_nonce: bool
) -> None:
    from asn1crypto import tsp

    ts = timestamper_for(profiles[Level.B_T])
    req = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(range(32))},
            "nonce": 777 if with_nonce else None,
            "cert_req": True,
        }
    )
    ours = ts.request_tsa_response(req)
    assert ours.dump() == _tsa_response_from_values(ts, req)
    tst = ours["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert tst["gen_time"].native == WHEN and tst["nonce"].native == (777 if with_nonce else None)
