"""Shared fixtures: one test PKI per session, sample documents, profiles per level."""

from __future__ import annotations

import gc
import warnings

import pytest

from signing import Level, SigningProfile, TestPki, init_pki, pki_profile, sign_xml

SAMPLE_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Conclusion xmlns="urn:msedocs:test:1" Id="doc">\n'
    '  <Patient Id="patient"><Name>Иванов Иван</Name><Group>2</Group></Patient>\n'
    "  <Decision>установить инвалидность</Decision>\n"
    "</Conclusion>\n"
).encode()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A second, unrelated test PKI: its root must not be trusted for the first."""
    return init_pki(tmp_path_factory.mktemp("other") / "pki")


@pytest.fixture(scope="session")
def profiles(pki: TestPki) -> dict[Level, SigningProfile]:
    return {level: pki_profile(pki.dir, level) for level in Level}


@pytest.fixture(scope="session")
def sample_xml() -> bytes:
    return SAMPLE_XML


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    weasyprint = pytest.importorskip("weasyprint")
    html = "<h1>Заключение МРЭК</h1><p>Тестовый документ, группа инвалидности: 2.</p>"
    with warnings.catch_warnings():
        # WeasyPrint 70 leaves its sRGB ICC file open (ResourceWarning at garbage collection)
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3b")
        gc.collect()
    assert pdf is not None
    return pdf


@pytest.fixture(scope="session")
def xml_bt(profiles: dict[Level, SigningProfile], sample_xml: bytes) -> bytes:
    """The sample XML signed at B-T by the chairman and a member (two parallel signatures)."""
    p = profiles[Level.B_T]
    return sign_xml(sample_xml, p.signers_for(["chairman", "member1"]), p)
