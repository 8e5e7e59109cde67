"""The published XSDs and DOCX templates are exactly what the form declarations build."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from msedocs.forms import REGISTRY
from msedocs.forms.journals import JOURNALS
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
