"""Signed XML validates against the published XSDs (issue 12, integrators).

Signing appends one enveloped XAdES ``ds:Signature`` per signer as the root's last children;
every form schema imports the W3C xmldsig schema bundled in ``xsd/`` and allows those
signatures there. Checked with tools nobody here wrote (xmllint, xmlschema) and with
``msedocs validate``, on the signed XML of every form and fixture, on the XML a signed PDF
carries (pdfdetach), on a signed journal and a signed session protocol.
"""

from __future__ import annotations

import copy
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from generators import xml as xml_gen
from msedocs.cli import main
from msedocs.forms import JOURNALS, REGISTRY
from msedocs.forms.session import PROTOCOL
from msedocs.pipeline import render_form
from signing import Level, init_pki, pki_profile
from signing.declaration import SIGNATURE_SET_NS
from tests.conftest import CASES_DIR, ROOT, case, case_form_pairs, require_tool

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
XS = "http://www.w3.org/2001/XMLSchema"
XSD = ROOT / "xsd"
#: The level every form and fixture is signed at here: timestamps and validation data inside
#: the XAdES properties (ds:Object), the most content a signature carries short of archiving.
LEVEL = Level.B_LT
PAIRS = case_form_pairs()
FORMS = sorted({form_id for _, form_id in PAIRS})
SESSION = ["--number", "211", "--date", "2026-11-05"]
COMMISSION = "Первая Минская городская МРЭК общего профиля"


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki").dir


@pytest.fixture(scope="module")
def signed(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """The signed XML of every form for every fixture it applies to, signed once."""
    profile = pki_profile(pki_dir, LEVEL)
    folder = tmp_path_factory.mktemp("signed")
    out = {}
    for case_name, form_id in PAIRS:
        (doc,) = render_form(case(case_name), REGISTRY[form_id], ("xml",), profile=profile)
        path = folder / f"{case_name}.{form_id}.xml"
        path.write_bytes(doc.content)
        out[case_name, form_id] = path
    return out


@cache
def xmlschema_of(form_id: str) -> xmlschema.XMLSchema10:
    """The published XSD as xmlschema reads it: local files only, never the network."""
    return xmlschema.XMLSchema10(str(XSD / f"{form_id}.xsd"), allow="local")


def xmllint(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("xmllint"), "--noout", "--nonet", "--schema", str(XSD / f"{schema}.xsd"), *map(str, paths)],
        capture_output=True, text=True,
    )  # fmt: skip


def signatures(doc: Path | etree._Element) -> list[etree._Element]:
    root = etree.fromstring(doc.read_bytes()) if isinstance(doc, Path) else doc
    return root.findall(f"{{{DS}}}Signature")


def assert_valid_everywhere(form_id: str, paths: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    """xmllint, xmlschema and ``msedocs validate`` all accept every path as a ``form_id`` document."""
    result = xmllint(form_id, *paths)
    assert result.returncode == 0, result.stderr[-3000:]
    for path in paths:
        errors = [str(e.reason) for e in xmlschema_of(form_id).iter_errors(str(path))]
        assert not errors, f"{path.name}: {errors[:3]}"
        capsys.readouterr()
        code = main(["validate", str(path)])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert captured.out.strip() == f"{path}: valid ({form_id})"


def test_signing_appends_signatures_as_the_roots_last_children(signed: dict[tuple[str, str], Path]) -> None:
    """What the schemas allow is where signing puts them: after ``signatures``, nothing else after."""
    for (_case, form_id), path in signed.items():
        root = etree.fromstring(path.read_bytes())
        sigs = signatures(root)
        assert sigs, f"{path.name}: not signed"
        assert list(root)[-len(sigs) :] == sigs, f"{path.name}: signatures are not the last children"
        assert etree.QName(root[-len(sigs) - 1]).localname == "signatures"
        assert root.get("formId") == form_id
        # what the schema has to let through inside ds:Object: the signature-set declaration in the
        # signed policy qualifier, the timestamp and the validation data of B-LT
        assert root.find(f".//{{{SIGNATURE_SET_NS}}}SignatureSet") is not None
        assert root.find(f".//{{{XADES}}}SignatureTimeStamp") is not None
        assert root.find(f".//{{{XADES}}}CertificateValues") is not None


@pytest.mark.parametrize("form_id", FORMS)
def test_signed_xml_of_every_fixture_is_valid(form_id: str, signed, capsys) -> None:
    paths = [path for (_c, fid), path in signed.items() if fid == form_id]
    assert paths
    assert_valid_everywhere(form_id, paths, capsys)


def test_signed_xml_is_valid_as_a_stream(signed: dict[tuple[str, str], Path]) -> None:
    """Past 1 MiB (a signed journal) ``msedocs validate`` reads a document as a stream: the same verdict."""
    for (_case, form_id), path in signed.items():
        assert xml_gen.validate_stream(path, form_id) == [], path.name


@pytest.mark.parametrize("level", list(Level), ids=lambda lv: lv.value)
def test_signed_xml_is_valid_at_every_level(level: Level, pki_dir: Path, tmp_path: Path, capsys) -> None:
    """From B-B to the archive level: whatever XAdES puts in ds:Object keeps the document valid."""
    profile = pki_profile(pki_dir, level)
    (doc,) = render_form(case("adult_first_group_ii"), REGISTRY["by-act"], ("xml",), profile=profile)
    path = tmp_path / "by-act.xml"
    path.write_bytes(doc.content)
    assert len(signatures(path)) == 3  # chairman and two members, in parallel
    if level == Level.B_LTA:  # the archive timestamp and the TSA's data (XAdES 1.4.1) inside ds:Object
        root = etree.fromstring(doc.content)
        assert len(root.findall(f"{{{DS}}}Signature//{{{XADES141}}}ArchiveTimeStamp")) == 3
    assert_valid_everywhere("by-act", [path], capsys)


@pytest.mark.parametrize("form_id", FORMS)
def test_xml_in_a_signed_pdf_is_valid(form_id: str, pki_dir: Path, tmp_path: Path, capsys) -> None:
    """The PDF carries the signed XML (pdfdetach): it validates like the XML delivered on its own."""
    case_name = next(c for c, fid in PAIRS if fid == form_id)
    profile = pki_profile(pki_dir, Level.B_T)
    docs = {
        d.format: d.content for d in render_form(case(case_name), REGISTRY[form_id], ("xml", "pdf"), profile=profile)
    }
    pdf = tmp_path / f"{form_id}.pdf"
    pdf.write_bytes(docs["pdf"])
    folder = tmp_path / "attached"
    folder.mkdir()
    subprocess.run([require_tool("pdfdetach"), "-saveall", "-o", str(folder), str(pdf)], check=True)
    attached = folder / f"{form_id}.xml"
    assert attached.read_bytes() == docs["xml"]
    assert signatures(attached)
    assert_valid_everywhere(form_id, [attached], capsys)


def test_signed_journals_and_protocol_are_valid(pki_dir: Path, tmp_path: Path, capsys) -> None:
    """Registers are signed like forms: the signed journal XML (and the one in its PDF) and the
    signed session protocol validate against their published XSDs."""
    sign = ["--sign", "--level", "B-T", "--pki", str(pki_dir)]
    out = tmp_path / "protocol"
    assert main(["protocol", "--cases", str(CASES_DIR), *SESSION, "--format", "xml", "--out", str(out), *sign]) == 0
    checked = [(PROTOCOL.id, out / "by-protocol.xml")]
    for jid in JOURNALS:
        folder = tmp_path / jid
        formats = "xml,pdf" if jid == "by-journal-protocols" else "xml"
        code = main(["journal", jid, "--cases", str(CASES_DIR), "--from", "2026-01-01", "--to", "2026-12-31",
                     "--commission", COMMISSION, "--format", formats, "--out", str(folder), *sign])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        checked.append((jid, folder / f"{jid}.xml"))
    attached = tmp_path / "attached"
    attached.mkdir()
    pdf = tmp_path / "by-journal-protocols" / "by-journal-protocols.pdf"
    subprocess.run([require_tool("pdfdetach"), "-saveall", "-o", str(attached), str(pdf)], check=True)
    checked.append(("by-journal-protocols", attached / "by-journal-protocols.xml"))
    for schema_id, path in checked:
        assert signatures(path), f"{path}: not signed"
        assert_valid_everywhere(schema_id, [path], capsys)


# -- the schema is strict where it must be ------------------------------------------------------


@pytest.fixture(scope="module")
def act(signed: dict[tuple[str, str], Path]) -> bytes:
    return signed["adult_first_group_ii", "by-act"].read_bytes()


def _mutated(tmp_path: Path, content: bytes, change) -> Path:
    root = etree.fromstring(content)
    change(root)
    path = tmp_path / "mutated.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def _refused(path: Path, pattern: str) -> None:
    result = xmllint("by-act", path)
    assert result.returncode != 0 and re.search(pattern, result.stderr), result.stderr[-2000:]
    assert not xmlschema_of("by-act").is_valid(str(path))
    assert xml_gen.validate_stream(path, "by-act")
    assert main(["validate", str(path)]) == 1


def _first_sig(root: etree._Element) -> etree._Element:
    return root.find(f"{{{DS}}}Signature")


def test_a_broken_signature_is_invalid(act: bytes, tmp_path: Path) -> None:
    """The signature's own structure is checked by the W3C schema: no SignatureValue, invalid."""
    _refused(
        _mutated(tmp_path, act, lambda r: _first_sig(r).remove(_first_sig(r).find(f"{{{DS}}}SignatureValue"))),
        "KeyInfo.*This element is not expected. Expected is .*SignatureValue",
    )


def test_a_signature_elsewhere_is_invalid(act: bytes, tmp_path: Path) -> None:
    def move(root: etree._Element) -> None:
        root.insert(0, _first_sig(root))

    _refused(_mutated(tmp_path, act, move), "Signature': This element is not expected")


def test_other_elements_after_the_signatures_are_invalid(act: bytes, tmp_path: Path) -> None:
    _refused(
        _mutated(tmp_path, act, lambda r: etree.SubElement(r, "{urn:example:other}Extra")),
        "Extra': This element is not expected",
    )
    _refused(
        _mutated(tmp_path, act, lambda r: etree.SubElement(r, f"{{{DS}}}Manifest")),
        "Manifest': This element is not expected",
    )


def test_signatures_are_bounded(act: bytes, tmp_path: Path) -> None:
    from msedocs.forms.xsd import MAX_XML_SIGNATURES

    def pad(root: etree._Element) -> None:
        sig = _first_sig(root)
        for sig in root.findall(f"{{{DS}}}Signature"):
            root.remove(sig)
        for i in range(MAX_XML_SIGNATURES + 1):
            clone = copy.deepcopy(sig)
            for el in clone.iter():
                if el.get("Id"):
                    el.set("Id", f"{el.get('Id')}-{i}")
            root.append(clone)

    path = _mutated(tmp_path, act, pad)
    _refused(path, "Signature': This element is not expected")
    root = etree.parse(str(path)).getroot()
    root.remove(root[-1])
    path.write_bytes(etree.tostring(root))
    assert xmllint("by-act", path).returncode == 0


# -- what is published ----------------------------------------------------------------------------


@pytest.mark.parametrize("schema_id", sorted([*REGISTRY, *JOURNALS, PROTOCOL.id]))
def test_every_schema_imports_the_bundled_xmldsig_and_says_why(schema_id: str) -> None:
    root = etree.parse(str(XSD / f"{schema_id}.xsd")).getroot()
    (imported,) = root.findall(f"{{{XS}}}import[@namespace='{DS}']")
    assert imported.get("schemaLocation") == "xmldsig-core-schema.xsd"
    sequence = root.find(f"{{{XS}}}element/{{{XS}}}complexType/{{{XS}}}sequence")
    last = sequence[-1]
    assert last.get("ref") == "ds:Signature" and last.get("minOccurs") == "0"
    assert int(last.get("maxOccurs")) >= 12  # chairman, ten members, a countersignature
    text = last.findtext(f"{{{XS}}}annotation/{{{XS}}}documentation")
    assert "XAdES" in text and "xmldsig-core-schema.xsd" in text and "ds:Object" in text


def test_bundled_xmldsig_schema_is_the_w3c_one_without_its_dtd() -> None:
    """The W3C schema of 2002 as published (here compared with the copy signxml ships), less its
    DOCTYPE: validators that refuse DTDs (msedocs itself, xmlschema's safe mode) read it."""
    import signxml

    original = (Path(signxml.__file__).parent / "schemas" / "xmldsig-core-schema.xsd").read_text(encoding="utf-8")
    bundled = (XSD / "xmldsig-core-schema.xsd").read_text(encoding="utf-8")
    assert "<!DOCTYPE" not in bundled and "<!ENTITY" not in bundled
    body = original[original.index("<!-- Schema for XML Signatures") :]
    assert bundled.endswith(body)
    tree = etree.parse(str(XSD / "xmldsig-core-schema.xsd"), etree.XMLParser(load_dtd=False, no_network=True))
    assert tree.getroot().get("targetNamespace") == DS
    assert tree.find(f"{{{XS}}}element[@name='Signature']") is not None
