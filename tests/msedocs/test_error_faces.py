"""What a user sees when a generator or the signing stage fails: the message and exit code of
each failure, pinned (generators and signing raise msedocs errors themselves; only a stage's
context is added to a signing error's message)."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest

import msedocs
import signing
from generators import pdf as pdf_gen
from generators import xml as xml_gen
from generators.common import GeneratorError, XmlSchemaError
from msedocs.cli import main
from msedocs.errors import Problem
from msedocs.model import load_case
from tests.conftest import CASES_DIR

CASE = CASES_DIR / "adult_first_group_ii.json"
VIOLATION = ("/act/number", "This element is not expected.", 7)
TEST_PKI_WARNING = "warning: signing with the TEST PKI: these signatures are not valid for real use\n"


@pytest.fixture
def one_case(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(CASE, folder)
    return folder


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return signing.init_pki(tmp_path_factory.mktemp("pki") / "pki").dir


def _commands(folder: Path, out: Path, fmt: str) -> dict[str, tuple[str, list[str]]]:
    """Per command: the document id and the command line writing it in ``fmt``."""
    return {
        "render": ("by-act", ["render", str(folder / CASE.name), "--form", "by-act", "--format", fmt]),
        "journal": ("by-journal-protocols", ["journal", "by-journal-protocols", "--cases", str(folder),
                                             "--from", "2026-01-01", "--to", "2026-12-31", "--format", fmt]),
        "protocol": ("by-protocol", ["protocol", "--cases", str(folder), "--format", fmt]),
    }  # fmt: skip


@pytest.mark.parametrize("command", ["render", "journal", "protocol"])
def test_generated_xml_off_its_schema_is_exit_1_with_each_violation(command, one_case, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(xml_gen, "validate", lambda content, form_id: [VIOLATION])
    monkeypatch.setattr(xml_gen, "validate_stream", lambda source, form_id: [VIOLATION])
    out = tmp_path / "out"
    form_id, argv = _commands(one_case, out, "xml")[command]
    assert main([*argv, "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"error: {form_id}: generated XML does not match its schema\n"
        "  /act/number (line 7): This element is not expected.\n"
    )
    assert not out.exists()


class _BrokenTemplates:
    def get_template(self, name: str) -> None:
        raise jinja2.TemplateError("unexpected end of template")


@pytest.mark.parametrize("command", ["render", "protocol"])
def test_a_template_that_fails_is_exit_1(command, one_case, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pdf_gen, "environment", _BrokenTemplates)
    out = tmp_path / "out"
    form_id, argv = _commands(one_case, out, "pdf")[command]
    assert main([*argv, "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"error: {form_id}: HTML template failed: unexpected end of template\n"
    assert not out.exists()


def test_generator_errors_are_msedocs_errors_without_translation(monkeypatch):
    monkeypatch.setattr(xml_gen, "validate", lambda content, form_id: [VIOLATION])
    with pytest.raises(msedocs.SchemaError) as info:
        msedocs.render(load_case(CASE), "by-act", "xml")
    assert isinstance(info.value, XmlSchemaError) and isinstance(info.value, GeneratorError)
    assert isinstance(info.value, msedocs.TemplateError) and info.value.exit_code == 1
    assert info.value.problems == [Problem(*VIOLATION)]
    assert info.value.__cause__ is None  # raised as is, not a copy of a generator's error

    monkeypatch.undo()
    monkeypatch.setattr(pdf_gen, "environment", _BrokenTemplates)
    with pytest.raises(GeneratorError) as template:
        msedocs.render(load_case(CASE), "by-act", "pdf")
    assert type(template.value) is GeneratorError and isinstance(template.value, msedocs.TemplateError)
    assert not isinstance(template.value, msedocs.SchemaError) and template.value.problems == []


def _raise(error: Exception):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.parametrize(
    "fmt, function, error",
    [
        ("xml", "sign_xml", signing.TimestampError("the timestamp authority answered 503")),
        ("pdf", "sign_pdf", signing.KeyLoadError("chairman.p12: wrong password")),
        ("docx", "sign_detached", signing.RevocationError("no OCSP response for the chairman")),
    ],
)
def test_a_signing_failure_names_the_stage_and_is_exit_1(fmt, function, error, pki, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signing, function, _raise(error))
    out = tmp_path / "out"
    argv = ["render", str(CASE), "--form", "by-act", "--format", fmt, "--sign", "--pki", str(pki), "--out", str(out)]
    assert main(argv) == 1
    assert capsys.readouterr().err == f"{TEST_PKI_WARNING}error: {function}: {error}\n"
    assert not out.exists()


def test_splitting_the_p7s_that_fails_is_exit_1(pki, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signing, "split_detached", _raise(signing.SigningFailure("the .p7s cannot be read: x")))
    out = tmp_path / "out"
    argv = ["render", str(CASE), "--form", "by-act", "--format", "docx", "--sign", "--pki", str(pki),
            "--cades-per-signer", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    assert capsys.readouterr().err == f"{TEST_PKI_WARNING}error: split_detached: the .p7s cannot be read: x\n"


@pytest.mark.parametrize(
    "error, code, message",
    [
        (signing.ConfigurationError("digest 'sha1' is not allowed"), 2,
         "signing configuration: digest 'sha1' is not allowed"),
        (signing.PkiError("cannot create the test PKI directory P: Not a directory"), 2,
         "--pki: cannot create the test PKI directory P: Not a directory"),
        (signing.KeyLoadError("member1.p12: no such file"), 1, "signing: member1.p12: no such file"),
    ],
)  # fmt: skip
def test_a_signing_profile_that_cannot_load(error, code, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signing, "pki_profile", _raise(error))
    argv = ["render", str(CASE), "--form", "by-act", "--sign", "--pki", str(tmp_path / "pki"), "--out", str(tmp_path)]
    assert main(argv) == code
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_level_that_does_not_exist_is_bad_input(pki, tmp_path, capsys):
    argv = ["render", str(CASE), "--form", "by-act", "--sign", "--pki", str(pki), "--level", "B-X"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: signing configuration: signature level 'B-X' is not one of B-B, B-T, B-LT, B-LTA\n"
    )


def test_signing_errors_are_msedocs_errors():
    assert issubclass(signing.SigningFailure, msedocs.SigningError)
    for user_error in (signing.ConfigurationError, signing.UnsupportedDocumentError):
        assert issubclass(user_error, msedocs.InputError) and issubclass(user_error, ValueError)
        assert user_error("x").exit_code == 2
    for failure in (signing.KeyLoadError, signing.PkiError, signing.TimestampError, signing.RevocationError):
        assert not issubclass(failure, msedocs.InputError) and failure("x").exit_code == 1
    assert issubclass(xml_gen.TooLarge, msedocs.InputError) and xml_gen.TooLarge("x").exit_code == 2
