"""An output path that cannot hold output is a clean refusal naming it (exit 2), never an
internal error, and nothing is left half-written (issue 18: siblings of the bad-input defects)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from msedocs import MsedocsError, OutputError
from msedocs.cli import main
from msedocs.errors import output_errors
from tests.conftest import CASES_DIR

CASE = str(CASES_DIR / "adult_first_group_ii.json")


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file standing where the output folder's parent should be."""
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def _left_behind(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != "a-file")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["render", CASE, "--form", "by-act", "--format", "xml", "--out", "{out}"], id="render"),
        pytest.param(["fixtures", "generate", "--count", "2", "--out", "{out}"], id="fixtures-folder"),
        pytest.param(["fixtures", "generate", "--count", "2", "--out", "{out}.jsonl"], id="fixtures-jsonl"),
        pytest.param(
            ["journal", "by-journal-protocols", "--cases", str(CASES_DIR), "--from", "2020-01-01",
             "--to", "2030-01-01", "--commission", "Первая Минская городская МРЭК общего профиля", "--format", "xml",
             "--out", "{out}"],
            id="journal",
        ),
        pytest.param(["protocol", "--cases", str(CASES_DIR / "adult_first_group_ii.json"), "--format", "xml",
                      "--out", "{out}"], id="protocol"),  # fmt: skip
    ],
)
def test_output_under_a_file_is_refused_with_its_path(args, blocker, tmp_path, capsys):
    out = str(blocker / "out")
    code = main([a.replace("{out}", out) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err
    assert f"{blocker} is in the way and is not a folder" in err
    assert _left_behind(tmp_path) == []


def test_disk_full_is_an_output_error_of_exit_1(tmp_path):
    """The machine failing (ENOSPC) is not the user's fault: exit 1, still a clean message."""
    with pytest.raises(OutputError) as info, output_errors(tmp_path / "out"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.exit_code == 1
    assert isinstance(info.value, MsedocsError) and isinstance(info.value, OSError)
    assert str(info.value) == f"{tmp_path / 'out'}: cannot write the output: No space left on device"


def test_pki_folder_under_a_file_is_bad_input(blocker, tmp_path, capsys):
    args = ["render", CASE, "--form", "by-act", "--format", "xml", "--sign", "--pki", str(blocker / "pki"),
            "--out", str(tmp_path / "out")]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--pki: cannot create the test PKI directory {blocker / 'pki'}: Not a directory" in err
    assert _left_behind(tmp_path) == []


def test_render_onto_a_file_names_the_file(blocker, tmp_path, capsys):
    code = main(["render", CASE, "--form", "by-act", "--format", "xml", "--out", str(blocker)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{blocker}: cannot write the output folder: {blocker} is in the way and is not a folder" in err
    assert blocker.read_text() == "not a folder\n"
    assert _left_behind(tmp_path) == []
