"""PAdES: sequential signatures at every level, PDF/A-3b kept, stamp; checked by pdfsig and pyHanko."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import Level, SigningProfile, TestPki, sign_pdf, verify_pdf

from .helpers import need, run

COMMISSION = ["chairman", "member1", "member2"]


@pytest.fixture(scope="module")
def signed(profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> dict[Level, bytes]:
    return {level: sign_pdf(sample_pdf, prof.signers_for(COMMISSION), prof) for level, prof in profiles.items()}


@pytest.fixture(scope="module")
def stamped(profiles: dict[Level, SigningProfile], sample_pdf: bytes) -> bytes:
    prof = profiles[Level.B_T]
    return sign_pdf(sample_pdf, prof.signers_for(["bureau_head", "mpr_head"]), prof, visible_stamp=True)


@pytest.mark.parametrize("level", list(Level))
def test_pdfsig_finds_every_signature_valid(signed: dict[Level, bytes], level: Level, tmp_path: Path) -> None:
    need("pdfsig")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed[level])
    r = run("pdfsig", path)
    out = r.stdout
    assert out.count("Signature is Valid.") == 3, out
    assert out.count("ETSI.CAdES.detached") == 3
    assert "TEST Петров Пётр Петрович" in out
    # the last signature covers the whole file, earlier ones their revision
    assert "Total document signed" in out or level is Level.B_LT


@pytest.mark.parametrize("level", list(Level))
def test_our_verifier_passes_with_level(signed: dict[Level, bytes], level: Level, pki: TestPki) -> None:
    report = verify_pdf(signed[level], pki_dir=pki.dir, required_level=level)
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


def test_visible_stamp_text_and_font(stamped: bytes, pki: TestPki, tmp_path: Path) -> None:
    need("pdftotext")
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    text = run("pdftotext", path, "-").stdout
    assert text.count("ДОКУМЕНТ ПОДПИСАН") == 2
    assert "ЭЛЕКТРОННОЙ ПОДПИСЬЮ" in text
    assert f"{pki.signers['bureau_head'].serial_number:X}" in text
    assert "Владелец: TEST Смирнов Алексей Игоревич" in text
    nb, na = pki.signers["bureau_head"].not_valid_before_utc, pki.signers["bureau_head"].not_valid_after_utc
    assert f"Действителен с {nb:%d.%m.%Y} по {na:%d.%m.%Y}" in text
    fonts = run("pdffonts", path).stdout.splitlines()
    stamp_fonts = [line for line in fonts if "DejaVuSerif-Identity-H" in line]
    assert len(stamp_fonts) == 2  # one embedded subset per stamp
    assert all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in stamp_fonts)  # emb, sub, uni
    # glyphs are not letter-spaced: 17 characters at 7 pt take about 95 pt, not twice that
    bbox = run("pdftotext", "-bbox", path, "-").stdout
    m = re.search(r'xMin="([\d.]+)"[^>]*xMax="([\d.]+)"[^>]*>ДОКУМЕНТ', bbox)
    assert m is not None and 60 < float(m[2]) - float(m[1]) < 120, m
    report = verify_pdf(stamped, pki_dir=pki.dir)
    assert report.passed and len(report.signatures) == 2


def test_pdfsig_on_stamped(stamped: bytes, tmp_path: Path) -> None:
    need("pdfsig")
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    assert run("pdfsig", path).stdout.count("Signature is Valid.") == 2


def test_signing_from_inside_an_event_loop(profiles: dict[Level, SigningProfile], sample_pdf: bytes, pki) -> None:
    import asyncio

    async def caller() -> bytes:
        prof = profiles[Level.B_T]
        return sign_pdf(sample_pdf, prof.signers_for(["vkk_chairman"]), prof)

    assert verify_pdf(asyncio.run(caller()), pki_dir=pki.dir).passed
