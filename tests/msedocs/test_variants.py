"""`render`'s variant: the Russian extract follows the case's delivery channel by default
(portal: the electronic variant with the qualified e-signature statement; paper: «М.П.» and the
signature line), other forms stay paper unless signed; ``--variant`` overrides. Read back with
pdftotext and python-docx."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import docx
import pytest

from msedocs.cli import main
from msedocs.forms.ru_extract import ESIGN_STATEMENT
from tests.conftest import CASES_DIR, require_tool

PORTAL = CASES_DIR / "ru_not_recognised_portal.json"
PAPER = CASES_DIR / "ru_not_recognised_paper_mail.json"


def _texts(out: Path, form_id: str) -> list[str]:
    """The PDF's and the DOCX's text, whitespace collapsed."""
    pdf = subprocess.run([require_tool("pdftotext"), "-raw", str(out / f"{form_id}.pdf"), "-"],
                         capture_output=True, check=True).stdout.decode()  # fmt: skip
    document = docx.Document(io.BytesIO((out / f"{form_id}.docx").read_bytes()))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return [" ".join(pdf.split()), " ".join(" ".join(parts).split())]


def _render(case: Path, out: Path, *flags: str, form: str = "ru-extract") -> int:
    return main(["render", str(case), "--form", form, "--format", "pdf,docx", "--out", str(out), *flags])


def _electronic(text: str) -> bool:
    statement = " ".join(ESIGN_STATEMENT.split())
    paper = "М.П." in text or "_____" in text
    assert (statement in text) != paper, text[-600:]  # one variant or the other, never both or neither
    return statement in text


@pytest.mark.parametrize(("case", "electronic"), [(PORTAL, True), (PAPER, False)], ids=["portal", "paper"])
def test_extract_follows_the_delivery_channel_by_default(tmp_path, case, electronic):
    assert _render(case, tmp_path / "out") == 0
    for text in _texts(tmp_path / "out", "ru-extract"):
        assert _electronic(text) is electronic


@pytest.mark.parametrize(
    ("case", "flags", "electronic"),
    [
        (PORTAL, ["--variant", "paper"], False),
        (PAPER, ["--variant", "electronic"], True),
        (PAPER, ["--electronic"], True),
        (PORTAL, ["--variant", "auto"], True),
    ],
    ids=["portal-paper", "paper-electronic", "paper---electronic", "portal-auto"],
)
def test_a_flag_overrides_the_channel(tmp_path, case, flags, electronic):
    assert _render(case, tmp_path / "out", *flags) == 0
    for text in _texts(tmp_path / "out", "ru-extract"):
        assert _electronic(text) is electronic


def test_other_forms_stay_paper_by_default(tmp_path):
    """Only the extract has a channel: the act of a Belarusian case keeps its signature lines."""
    out = tmp_path / "out"
    assert _render(CASES_DIR / "adult_first_group_ii.json", out, form="by-act") == 0
    for text in _texts(out, "by-act"):
        assert "(подпись)" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--variant", "paper", "--electronic"], "--electronic and --variant paper contradict each other"),
        (["--variant", "paper", "--sign"], "--variant paper cannot be signed"),
        (["--variant", "print"], "--variant: must be auto, paper or electronic"),
    ],
)
def test_contradicting_variants_are_refused(tmp_path, capsys, flags, message):
    assert _render(PORTAL, tmp_path / "out", *flags) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
