"""The published XSDs and DOCX templates are exactly what the form declarations build."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from generators import docx_template
from msedocs.forms import DOCUMENTS, JOURNALS, REGISTRY
from msedocs.forms.session import PROTOCOL
from tests.conftest import ROOT

XS = "{http://www.w3.org/2001/XMLSchema}"


@pytest.mark.parametrize("doc_id", sorted(DOCUMENTS))
def test_committed_xsd_is_current(doc_id):
    committed = (ROOT / "xsd" / f"{doc_id}.xsd").read_bytes()
    assert committed == DOCUMENTS[doc_id].xsd(), "run `python scripts/build_xsd.py` and commit"


@pytest.mark.parametrize("form_id", sorted(DOCUMENTS))
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


@pytest.mark.parametrize("doc_id", sorted(DOCUMENTS))
def test_committed_docx_template_is_current(doc_id):
    committed = ROOT / "templates" / doc_id / "form.docx"
    assert docx_template.build(DOCUMENTS[doc_id]) == committed.read_bytes(), (
        "run scripts/build_docx_templates.py and commit"
    )
    with zipfile.ZipFile(committed) as docx:
        assert "[Content_Types].xml" in docx.namelist() and "word/document.xml" in docx.namelist()


def test_no_template_is_built_for_one_form_by_its_id():
    """The DOCX template builder reads declarations only: no form id appears in it."""
    source = (ROOT / "generators" / "docx_template.py").read_text(encoding="utf-8")
    assert not [i for i in DOCUMENTS if i in source]


# -- `msedocs validate` knows every published schema and finds it by namespace ------------------

PUBLISHED = sorted(p.stem for p in (ROOT / "xsd").glob("*.xsd") if p.stem not in ("common", "xmldsig-core-schema"))
DS_SCHEMA = "xmldsig-core-schema.xsd"


def test_every_published_schema_is_a_form_a_journal_or_the_protocol():
    assert PUBLISHED == sorted(DOCUMENTS)
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
