"""Adding a form is one module declaring it: registered from a folder of its own (the registry's
discovery hook), it is listed, rendered in all three formats (its XSD and DOCX template built
from the declaration, its PDF laid out by the base template) and its XML is valid against the
XSD generated for it."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import textwrap

import docx
import pytest

from msedocs import forms
from msedocs.cli import main
from msedocs.contract import Document, Run
from msedocs.pipeline import render_package
from tests.conftest import ROOT, case, require_tool

FORM_ID = "by-test-note"

MODULE = textwrap.dedent(
    '''
    """A small form of our own: the patient's name, birth date and sex, signed by the chairman."""

    from msedocs.forms.spec import FormSpec, ItemDef, Signer, Source
    from msedocs.model.enums import Sex

    NOTE = FormSpec(
        id="by-test-note",
        title="Справка о пациенте",
        xml_root="testNote",
        source=Source("004_5509ffa87cccaffb.txt", "a test form", "1-2"),
        items=(
            ItemDef("1", "patient", "Фамилия, собственное имя, отчество пациента", get=lambda k: k.patient.name,
                    required=True),
            ItemDef("2", "birthDate", "Дата рождения", "date", get=lambda k: k.patient.birth_date),
            ItemDef("3", "sex", "Пол", "choice", get=lambda k: k.patient.sex, enum=Sex, suffix="(нужное подчеркнуть)"),
        ),
        signers=(Signer("chairman", "Председатель МРЭК", lambda k: [k.commission.chairman]),),
        footnotes=("1 Сноска формы.",),
    )
    '''
)

WORDING = ("Справка о пациенте".upper(), "1. Фамилия, собственное имя, отчество пациента", "2. Дата рождения",
           "3. Пол", "мужской", "женский", "Председатель МРЭК")  # fmt: skip


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    (folder / "note.py").write_text(MODULE, encoding="utf-8")
    found = forms.load_folder(folder)
    yield found
    for spec in found:
        forms.unregister(spec.id)


def test_the_form_is_registered_and_listed(registered, capsys):
    assert [s.id for s in registered] == [FORM_ID]
    assert forms.get_form(FORM_ID) is registered[0] and FORM_ID in forms.REGISTRY
    assert main(["forms", "--json"]) == 0
    listed = {f["id"]: f for f in json.loads(capsys.readouterr().out)}
    assert listed[FORM_ID]["kind"] == "form" and listed[FORM_ID]["formats"] == ["xml", "pdf", "docx"]
    # nothing of it is committed: no XSD, no template folder
    assert not (ROOT / "xsd" / f"{FORM_ID}.xsd").exists() and not (ROOT / "templates" / FORM_ID).exists()


def test_the_form_renders_in_all_three_formats(registered, tmp_path):
    sample = case("adult_first_group_ii")
    # the declaration alone fills in the contract's document: the author writes no data shape
    data = registered[0].data(sample)
    assert isinstance(data, Document) and [i.display for i in data.items][:1] == [sample.patient.name.full]
    assert data.items[2].runs[0] == Run("мужской", chosen=sample.patient.sex.value == "male")
    docs = {d.format: d.content for d in render_package(sample, forms=[FORM_ID])}
    assert sorted(docs) == ["docx", "pdf", "xml"]
    name = sample.patient.name.full

    # XML: valid against the XSD generated from the declaration (xmllint, beside common.xsd)
    for bundled in ("common.xsd", "xmldsig-core-schema.xsd"):
        shutil.copy(ROOT / "xsd" / bundled, tmp_path / bundled)
    (tmp_path / f"{FORM_ID}.xsd").write_bytes(registered[0].xsd())
    (tmp_path / "note.xml").write_bytes(docs["xml"])
    lint = subprocess.run(
        [require_tool("xmllint"), "--noout", "--schema", str(tmp_path / f"{FORM_ID}.xsd"), str(tmp_path / "note.xml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stderr
    assert name in docs["xml"].decode() and "<option>male</option>" in docs["xml"].decode()

    # PDF: the text a reader sees holds every item's wording and the values
    (tmp_path / "note.pdf").write_bytes(docs["pdf"])
    text = subprocess.run([require_tool("pdftotext"), str(tmp_path / "note.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    flat = " ".join(text.split())
    for words in (*WORDING, name, "Сноска формы."):
        assert words in flat, words

    # DOCX: opened with python-docx, the same wording and values
    document = docx.Document(io.BytesIO(docs["docx"]))
    body = "\n".join(p.text for p in document.paragraphs)
    body += "\n" + "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    for words in (*WORDING, name, "Сноска формы."):
        assert words in body, words
