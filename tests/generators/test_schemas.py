"""The published XSDs and DOCX templates are exactly what the form declarations build."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from msedocs.forms import JOURNALS, REGISTRY
from msedocs.forms.session import PROTOCOL
from msedocs.forms.xsd import build_journal_xsd, build_session_xsd, build_xsd
from tests.conftest import ROOT

XS = "{http://www.w3.org/2001/XMLSchema}"


@pytest.mark.parametrize("form_id", sorted(REGISTRY))
def test_committed_xsd_is_current(form_id):
    committed = (ROOT / "xsd" / f"{form_id}.xsd").read_bytes()
    assert committed == build_xsd(REGISTRY[form_id]), "run `python scripts/build_xsd.py` and commit"


@pytest.mark.parametrize("journal_id", sorted(JOURNALS))
def test_committed_journal_xsd_and_docx_are_current(journal_id, tmp_path: Path):
    committed = (ROOT / "xsd" / f"{journal_id}.xsd").read_bytes()
    assert committed == build_journal_xsd(JOURNALS[journal_id]), "run `python scripts/build_xsd.py` and commit"
    built = _builder().build_journal(JOURNALS[journal_id], tmp_path)
    assert built.read_bytes() == (ROOT / "templates" / journal_id / "form.docx").read_bytes()


def test_committed_protocol_xsd_and_docx_are_current(tmp_path: Path):
    assert (ROOT / "xsd" / "by-protocol.xsd").read_bytes() == build_session_xsd(PROTOCOL)
    built = _builder().build_session(PROTOCOL, tmp_path)
    assert built.read_bytes() == (ROOT / "templates" / "by-protocol" / "form.docx").read_bytes()


@pytest.mark.parametrize("form_id", sorted([*REGISTRY, *JOURNALS, "by-protocol"]))
def test_xsd_is_1_0_versioned_and_every_element_annotated(form_id):
    tree = etree.parse(str(ROOT / "xsd" / f"{form_id}.xsd"))
    root = tree.getroot()
    assert root.get("targetNamespace") == f"urn:msedocs:form:{form_id}:1"
    assert root.get("version") == "1"
    assert not tree.xpath("//xs:assert | //xs:alternative | //xs:openContent", namespaces={"xs": XS[1:-1]})
    for el in root.iter(f"{XS}element"):
        doc = el.find(f"{XS}annotation/{XS}documentation")
        assert doc is not None and doc.text, f"element {el.get('name')} has no documentation"
    etree.XMLSchema(tree)  # compiles


def test_item_documentation_carries_number_and_wording():
    tree = etree.parse(str(ROOT / "xsd" / "by-act.xsd"))
    docs = [d.text for d in tree.iter(f"{XS}documentation")]
    assert any(d.startswith("12. Пол: мужской, женский (нужное подчеркнуть)") for d in docs)
    assert any(d.startswith("46. Заключение") for d in docs)


def _builder():
    spec = importlib.util.spec_from_file_location("build_docx", ROOT / "scripts" / "build_docx_templates.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("form_id", sorted(REGISTRY))
def test_committed_docx_template_is_current(form_id, tmp_path: Path):
    built = _builder().build(REGISTRY[form_id], tmp_path)
    committed = ROOT / "templates" / form_id / "form.docx"
    assert built.read_bytes() == committed.read_bytes(), "run scripts/build_docx_templates.py and commit"
    with zipfile.ZipFile(committed) as docx:
        assert "[Content_Types].xml" in docx.namelist() and "word/document.xml" in docx.namelist()


# -- `msedocs validate` knows every published schema and finds it by namespace ------------------

PUBLISHED = sorted(p.stem for p in (ROOT / "xsd").glob("*.xsd") if p.stem not in ("common", "xmldsig-core-schema"))
DS_SCHEMA = "xmldsig-core-schema.xsd"


def test_every_published_schema_is_a_form_a_journal_or_the_protocol():
    assert PUBLISHED == sorted([*REGISTRY, *JOURNALS, PROTOCOL.id])
    assert (ROOT / "xsd" / DS_SCHEMA).is_file()  # imported by each, bundled


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, bytes]:
    """A valid document of every published schema (forms, journals, the protocol), unsigned."""
    from msedocs.cli import main
    from msedocs.pipeline import render_form
    from tests.conftest import CASES_DIR, case, case_form_pairs

    out: dict[str, bytes] = {}
    for case_name, form_id in case_form_pairs():
        if form_id not in out:
            (doc,) = render_form(case(case_name), REGISTRY[form_id], ("xml",))
            out[form_id] = doc.content
    folder = tmp_path_factory.mktemp("registers")
    session = ["--number", "211", "--date", "2026-11-05"]
    assert main(["protocol", "--cases", str(CASES_DIR), *session, "--format", "xml", "--out", str(folder)]) == 0
    out[PROTOCOL.id] = (folder / f"{PROTOCOL.id}.xml").read_bytes()
    for jid in JOURNALS:
        assert main(["journal", jid, "--cases", str(CASES_DIR), "--from", "2026-01-01", "--to", "2026-12-31",
                     "--commission", "Первая Минская городская МРЭК общего профиля", "--format", "xml",
                     "--out", str(folder)]) == 0  # fmt: skip
        out[jid] = (folder / f"{jid}.xml").read_bytes()
    return out


def _validate(tmp_path: Path, content: bytes, capsys, *args: str) -> tuple[int, str, str]:
    from msedocs.cli import main

    path = tmp_path / "doc.xml"
    path.write_bytes(content)
    capsys.readouterr()
    code = main(["validate", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("schema_id", PUBLISHED)
def test_validate_knows_the_schema_by_form_id(schema_id, documents, tmp_path, capsys):
    code, out, err = _validate(tmp_path, documents[schema_id], capsys)
    assert code == 0 and out.endswith(f": valid ({schema_id})\n"), err


@pytest.mark.parametrize("schema_id", PUBLISHED)
def test_validate_takes_the_schema_from_the_namespace_without_form_id(schema_id, documents, tmp_path, capsys):
    """No formId on the root and no --form: the namespace names the schema, so the only violation
    reported is the missing formId itself (the XSD requires it), against the right XSD."""
    root = etree.fromstring(documents[schema_id])
    del root.attrib["formId"]
    code, out, err = _validate(tmp_path, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), capsys)
    assert code == 1 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert "formId" in lines[0] and "required but missing" in lines[0], err
    assert lines[1].endswith(f": 1 violation(s) of xsd/{schema_id}.xsd"), err


def test_validate_without_form_id_in_an_unknown_namespace(tmp_path, capsys):
    secret = "urn:example:ivanov-ivan-ivanovich"
    code, out, err = _validate(tmp_path, f'<act xmlns="{secret}" version="1"/>'.encode(), capsys)
    assert code == 1 and "formId" in err and "namespace" in err and "--form" in err, err
    assert "ivanov" not in err and "example" not in err  # never echoed: it may be personal data
    code, out, err = _validate(tmp_path, b'<act version="1"/>', capsys)
    assert code == 1 and "formId" in err and "--form" in err, err


def test_validate_form_option_wins(documents, tmp_path, capsys):
    code, out, err = _validate(tmp_path, documents["by-act"], capsys, "--form", "by-conclusion")
    assert code == 1 and "violation(s) of xsd/by-conclusion.xsd" in err, err
