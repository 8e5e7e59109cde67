"""PAdES: sequential signatures at every level, PDF/A-3b kept, stamp; checked by pdfsig and pyHanko.

pdfsig checks signatures and certificates on its own (NSS), against a throwaway NSS database
that trusts only this module's test root (see ``nss.py``); with the root left out it must not
trust the signers, so the trust it reports comes from our root and nothing else.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import Level, SigningProfile, TestPki, init_pki, pki_profile, serve, sign_pdf, verify_pdf

from .helpers import need, run
from .nss import CERT_REVOKED, CERT_TRUSTED, CERT_UNTRUSTED_ISSUER, SIGNATURE_VALID, PdfsigReport, nss_db, pdfsig

COMMISSION = ["chairman", "member1", "member2"]
COMMISSION_NAMES = ["TEST Петров Пётр Петрович", "TEST Иванова Анна Сергеевна", "TEST Ковалёв Андрей Николаевич"]


@pytest.fixture(scope="module")
def served_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    """This module's test PKI, its TSA/OCSP/CRL service listening where its certificates say.

    pdfsig asks the OCSP responder named in each signer certificate (now, not at signing
    time), so the PKI is made for a free local port and served there for the module.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pki = init_pki(tmp_path_factory.mktemp("served") / "pki", service_url=f"http://127.0.0.1:{port}")
    srv = serve(pki.dir, "127.0.0.1", port)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield pki
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture(scope="module")
def served_profiles(served_pki: TestPki) -> dict[Level, SigningProfile]:
    return {level: pki_profile(served_pki.dir, level) for level in Level}


@pytest.fixture(scope="module")
def signed(served_profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> dict[Level, bytes]:
    return {level: sign_pdf(sample_pdf, prof.signers_for(COMMISSION), prof) for level, prof in served_profiles.items()}


@pytest.fixture(scope="module")
def stamped(served_profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> bytes:
    prof = served_profiles[Level.B_T]
    return sign_pdf(sample_pdf, prof.signers_for(["bureau_head", "mpr_head"]), prof, visible_stamp=True)


@pytest.fixture(scope="module")
def nssdbs(served_pki: TestPki, other_pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """NSS databases for pdfsig: ``ours`` trusts our root; ``empty`` and ``other root`` do not."""
    d = tmp_path_factory.mktemp("nss")
    return {
        "ours": nss_db(d / "ours", [served_pki.root_path]),
        "empty": nss_db(d / "empty"),
        "other root": nss_db(d / "other", [other_pki.root_path]),
    }


def _pdfsig(pdf: bytes, nssdb: str, tmp_path: Path) -> PdfsigReport:
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    return pdfsig(path, nssdb)


@pytest.mark.parametrize("level", list(Level))
def test_pdfsig_finds_every_signature_valid_and_trusted(
    signed: dict[Level, bytes], nssdbs: dict[str, str], level: Level, tmp_path: Path
) -> None:
    report = _pdfsig(signed[level], nssdbs["ours"], tmp_path)
    sigs = _regular(report, level)
    assert [s.signer for s in sigs] == COMMISSION_NAMES, report.out
    for sig in sigs:
        assert sig.signature == SIGNATURE_VALID, report.out
        assert sig.certificate == CERT_TRUSTED, report.out
        assert sig.fields["Signature Type"] == "ETSI.CAdES.detached", report.out
    # the last signature covers the whole file, earlier ones their revision (B-LT appends the DSS after it)
    assert all("Not total document signed" in s.notes for s in sigs[:-1]), report.out
    assert "Total document signed" in sigs[-1].notes or level >= Level.B_LT, report.out


def _regular(report: PdfsigReport, level: Level) -> list:
    """The signatures pdfsig lists, less B-LTA's document timestamp, which it lists last but cannot
    validate (poppler: "Unable to validate this type of signature"); stock pyHanko checks it (test_lta)."""
    if level < Level.B_LTA:
        return report.signatures
    ts = report.signatures[-1]
    assert ts.fields["Signature Field Name"] == "ArchiveTimeStamp1", report.out
    assert ts.signer == "TEST msedocs Timestamp Authority", report.out
    return report.signatures[:-1]


@pytest.mark.parametrize("db", ["empty", "other root"])
@pytest.mark.parametrize("level", list(Level))
def test_pdfsig_trust_comes_from_our_root(
    signed: dict[Level, bytes], nssdbs: dict[str, str], level: Level, db: str, tmp_path: Path
) -> None:
    report = _pdfsig(signed[level], nssdbs[db], tmp_path)
    sigs = _regular(report, level)
    assert len(sigs) == 3, report.out
    for sig in sigs:
        assert sig.signature == SIGNATURE_VALID, report.out  # the signature itself does not depend on trust
        assert sig.certificate != CERT_TRUSTED, report.out
        assert sig.certificate == CERT_UNTRUSTED_ISSUER, report.out  # chain built from the CMS, root not trusted
    assert CERT_TRUSTED not in report.out


def test_pdfsig_asks_the_ocsp_responder(
    served_profiles: dict[Level, SigningProfile], sample_pdf: bytes, nssdbs: dict[str, str], tmp_path: Path
) -> None:
    """pdfsig's certificate check is live: the revoked signer (B-T allows signing) is reported revoked."""
    prof = served_profiles[Level.B_T]
    pdf = sign_pdf(sample_pdf, prof.signers_for(["member1", "revoked"]), prof)
    report = _pdfsig(pdf, nssdbs["ours"], tmp_path)
    assert [s.signature for s in report.signatures] == [SIGNATURE_VALID] * 2, report.out
    assert [s.certificate for s in report.signatures] == [CERT_TRUSTED, CERT_REVOKED], report.out


@pytest.mark.parametrize("level", list(Level))
def test_our_verifier_passes_with_level(signed: dict[Level, bytes], level: Level, served_pki: TestPki) -> None:
    report = verify_pdf(signed[level], pki_dir=served_pki.dir, required_level=level)
    assert report.passed, report.to_json()
    assert [s.level for s in report.signatures] == [level.value] * 3
    assert [s.role for s in report.signatures] == ["Председатель МРЭК", "Член МРЭК", "Член МРЭК"]
    assert report.signatures[0].covers and report.signatures[0].covers.startswith("revision 2")


def _xmp(pdf: bytes) -> bytes:
    reader = PdfFileReader(BytesIO(pdf))
    return reader.root["/Metadata"].get_object().data


@pytest.mark.parametrize("level", list(Level))
def test_pdfa_3b_claim_survives_signing(signed: dict[Level, bytes], sample_pdf: bytes, level: Level) -> None:
    before = _xmp(sample_pdf)
    after = _xmp(signed[level])
    assert re.search(rb"pdfaid:part[>=\"']+3", after), after[:500]
    assert re.search(rb"pdfaid:conformance[>=\"']+B", after)
    assert re.search(rb"pdfaid:part[>=\"']+3", before)
    # pyHanko rewrites the XMP packet to keep Producer/ModifyDate in step with /Info, as PDF/A requires
    info = PdfFileReader(BytesIO(signed[level])).trailer["/Info"]
    assert f'pdf:Producer="{info["/Producer"]}"'.encode() in after
    # incremental updates only: the original file is a prefix of the signed one
    assert signed[level].startswith(sample_pdf)


def test_metadata_is_updated_once_a_signature(
    served_profiles: dict[Level, SigningProfile], sample_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyHanko's incremental write prepares the update twice (its own write, then its base's):
    the XMP packet parsed and re-serialised twice a signature. Ours prepares it once, and the
    signed file still has /Info and the XMP packet in step (test_pdfa_3b_claim_survives_signing)."""
    from pyhanko.pdf_utils.writer import BasePdfFileWriter

    calls: list[int] = []
    inner = BasePdfFileWriter._update_meta

    def counted(self: BasePdfFileWriter) -> None:
        calls.append(1)
        inner(self)

    monkeypatch.setattr(BasePdfFileWriter, "_update_meta", counted)
    prof = served_profiles[Level.B_T]
    out = sign_pdf(sample_pdf, prof.signers_for(COMMISSION[:2]), prof)
    assert len(calls) == 2  # two signers, one incremental update each
    reader = PdfFileReader(BytesIO(out))
    assert len(reader.embedded_signatures) == 2
    assert f'pdf:Producer="{reader.trailer["/Info"]["/Producer"]}"'.encode() in _xmp(out)


def test_visible_stamp_text_and_font(stamped: bytes, served_pki: TestPki, tmp_path: Path) -> None:
    need("pdftotext")
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    text = run("pdftotext", path, "-").stdout
    assert text.count("ДОКУМЕНТ ПОДПИСАН") == 2
    assert "ЭЛЕКТРОННОЙ ПОДПИСЬЮ" in text
    assert f"{served_pki.signers['bureau_head'].serial_number:X}" in text
    assert "Владелец: TEST Смирнов Алексей Игоревич" in text
    nb, na = (
        served_pki.signers["bureau_head"].not_valid_before_utc,
        served_pki.signers["bureau_head"].not_valid_after_utc,
    )
    assert f"Действителен с {nb:%d.%m.%Y} по {na:%d.%m.%Y}" in text
    fonts = run("pdffonts", path).stdout.splitlines()
    stamp_fonts = [line for line in fonts if "DejaVuSerif-Identity-H" in line]
    assert len(stamp_fonts) == 2  # one embedded subset per stamp
    assert all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in stamp_fonts)  # emb, sub, uni
    # glyphs are not letter-spaced: 17 characters at 7 pt take about 95 pt, not twice that
    bbox = run("pdftotext", "-bbox", path, "-").stdout
    m = re.search(r'xMin="([\d.]+)"[^>]*xMax="([\d.]+)"[^>]*>ДОКУМЕНТ', bbox)
    assert m is not None and 60 < float(m[2]) - float(m[1]) < 120, m
    report = verify_pdf(stamped, pki_dir=served_pki.dir)
    assert report.passed and len(report.signatures) == 2


def test_pdfsig_on_stamped(stamped: bytes, nssdbs: dict[str, str], tmp_path: Path) -> None:
    report = _pdfsig(stamped, nssdbs["ours"], tmp_path)
    assert [(s.signature, s.certificate) for s in report.signatures] == [(SIGNATURE_VALID, CERT_TRUSTED)] * 2, (
        report.out
    )


def test_signing_from_inside_an_event_loop(profiles: dict[Level, SigningProfile], sample_pdf: bytes, pki) -> None:
    import asyncio

    async def caller() -> bytes:
        prof = profiles[Level.B_T]
        return sign_pdf(sample_pdf, prof.signers_for(["vkk_chairman"]), prof)

    assert verify_pdf(asyncio.run(caller()), pki_dir=pki.dir).passed


def _widget_rects(pdf: bytes) -> list[tuple[int, list[float]]]:
    """(page index, /Rect) of each signature widget, in signing order."""
    reader = PdfFileReader(BytesIO(pdf))
    out = []
    for index in range(int(reader.root["/Pages"]["/Count"])):
        page = reader.find_page_for_modification(index)[0].get_object()
        for annot in page.get("/Annots", []):
            annot = annot.get_object()
            if annot.get("/FT") == "/Sig" or "/Sig" == annot.get("/Parent", {}).get("/FT"):
                out.append((index, [float(v) for v in annot["/Rect"]]))
    return out


def test_stamps_fill_the_room_the_document_reserves(served_profiles: dict[Level, SigningProfile]) -> None:
    """A document with the ``esign-stamp`` anchor (here on a middle page) gets its stamps there,
    side by side from the anchor's top-left corner; one without gets them at the bottom left
    of its last page."""
    import weasyprint

    from signing import stamp

    filler = "".join(f"<p>строка {i}</p>" for i in range(45))
    room = f'<div id="{stamp.ANCHOR}" style="width: {2 * stamp.WIDTH + stamp.GAP_X}pt; height: {stamp.HEIGHT}pt"></div>'
    html = f"<body style='font-size: 12pt'>{filler}{room}<p>после</p>{filler}</body>"
    pdf = weasyprint.HTML(string=html).write_pdf()
    reader = PdfFileReader(BytesIO(pdf))
    dest = reader.root["/Names"]["/Dests"]["/Names"][1]
    left, top = float(dest[2]), float(dest[3])
    pages = int(reader.root["/Pages"]["/Count"])
    anchor_page = next(i for i in range(pages) if reader.find_page_for_modification(i)[0] == dest.raw_get(0))
    assert 0 < anchor_page < pages - 1
    prof = served_profiles[Level.B_B]
    signed = sign_pdf(pdf, prof.signers_for(["bureau_head", "mpr_head"]), prof, visible_stamp=True)
    rects = _widget_rects(signed)
    assert [index for index, _ in rects] == [anchor_page, anchor_page]  # not the last page
    assert rects[0][1] == pytest.approx([left, top - stamp.HEIGHT, left + stamp.WIDTH, top], abs=0.51)
    second_left = left + stamp.WIDTH + stamp.GAP_X
    assert rects[1][1] == pytest.approx([second_left, top - stamp.HEIGHT, second_left + stamp.WIDTH, top], abs=0.51)
    plain = weasyprint.HTML(string=f"<body>{filler}{filler}</body>").write_pdf()
    rects = _widget_rects(sign_pdf(plain, prof.signers_for(["bureau_head"]), prof, visible_stamp=True))
    m = stamp.MARGIN
    assert rects == [(pages - 1, pytest.approx([m, m, m + stamp.WIDTH, m + stamp.HEIGHT], abs=0.51))]
