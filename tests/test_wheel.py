"""The wheel works outside the checkout: built from a copy of the source tree, installed into a
fresh virtual environment with its dependencies pinned by constraints.txt, and run from a folder
outside the checkout, so that nothing of the checkout is on sys.path.

Installing the dependencies needs the package index (pip's cache makes it quick); without it the
test is skipped with a loud reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from msedocs.cli import main
from tests.conftest import CASES_DIR, ROOT, require_tool

pytestmark = pytest.mark.wheel

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
#: What pip says when it cannot reach the package index.
UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "ProxyError",
    "Read timed out",
)
#: Left out of the copy of the source tree: at its top, local folders; anywhere, caches.
LOCAL = {".git", ".venv", "build", "dist", "msedocs-demo", ".msedocs", "out"}
#: Run by the installed Python: where the package and its resources are.
WHERE = """
import json, generators, msedocs, signing
from generators.resources import FONTS_DIR, TEMPLATES_DIR, XSD_DIR
from msedocs.delivery.store import MIGRATIONS
from msedocs.synth import SAMPLES
print(json.dumps({"msedocs": msedocs.__file__, "generators": generators.__file__, "signing": signing.__file__,
                  "templates": str(TEMPLATES_DIR), "xsd": str(XSD_DIR), "fonts": str(FONTS_DIR),
                  "samples": str(SAMPLES), "migrations": str(MIGRATIONS), "version": msedocs.__version__}))
"""


Result = subprocess.CompletedProcess[str]


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> Result:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _ok(result: Result) -> str:
    said = f"{' '.join(result.args)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, said
    return result.stdout


@dataclass(frozen=True)
class Installed:
    """The fresh virtual environment the wheel is installed in."""

    root: Path
    env: dict[str, str]

    def run(self, program: str, *args: str | Path, cwd: Path) -> str:
        return _ok(_run([self.root / "bin" / program, *args], cwd, self.env))

    def where(self, cwd: Path) -> dict[str, str]:
        return json.loads(self.run("python", "-I", "-c", WHERE, cwd=cwd))


def _not_source(folder: str, names: list[str]) -> set[str]:
    cached = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", "_cache"))}
    return cached | (LOCAL.intersection(names) if Path(folder) == ROOT else set())


def _files(folder: Path, pattern: str = "**/*") -> dict[str, bytes]:
    """The files below a folder by relative path, with their bytes (compiled Python left out)."""
    found = sorted(p for p in folder.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in found}


def _docx_body(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # as `pip install .` from an unpacked tree; and the build writes nothing in the checkout
    shutil.copytree(ROOT, source, symlinks=True, ignore=_not_source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _ok(_run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source], tmp, env))
    (wheel,) = (tmp / "dist").glob("msedocs-*.whl")
    root = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(root)  # the pip of the tests' environment installs into it
    constraints = ROOT / "constraints.txt"
    install = _run([*pip, "--python", root / "bin" / "python", "install", "-c", constraints, wheel], tmp, env)
    said = install.stdout + install.stderr
    if install.returncode != 0 and any(marker in said for marker in UNREACHABLE):
        reason = f"PACKAGE INDEX UNREACHABLE: cannot install the wheel's dependencies:\n{said[-2000:]}"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    _ok(install)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # as if activated
    return Installed(root, {**env, "VIRTUAL_ENV": str(root)})


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder outside the checkout."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


def test_version(installed, work):
    assert installed.run("msedocs", "--version", cwd=work).strip() == f"msedocs {VERSION}"


def test_package_and_resources_are_in_the_environment(installed, work):
    where = installed.where(work)
    assert where.pop("version") == VERSION
    for name, path in where.items():
        resolved = Path(path).resolve()
        assert resolved.is_relative_to(installed.root.resolve()), f"{name} is not in the environment: {path}"
        assert not resolved.is_relative_to(ROOT), f"{name} is in the checkout: {path}"
        assert resolved.exists(), f"{name}: {path} does not exist"
    site = Path(where["msedocs"]).parent.parent
    for package in ("msedocs", "generators", "signing"):
        assert not [p for p in (site / package).rglob("*") if p.is_symlink()], f"links in the installed {package}"
        assert (site / package / "py.typed").is_file()
    assert not [p for p in site.glob("*.pth") if str(ROOT) in p.read_text(encoding="utf-8")]
    # every resource of the checkout, byte for byte
    assert _files(Path(where["templates"])) == _files(ROOT / "templates")
    assert _files(Path(where["xsd"])) == _files(ROOT / "xsd")
    assert _files(Path(where["samples"])) == _files(CASES_DIR, "*.json")
    assert _files(Path(where["migrations"])) == _files(ROOT / "msedocs" / "delivery" / "migrations")


def test_demo_and_validate(installed, work):
    out = work / "demo"
    said = installed.run("msedocs", "demo", "--out", out, cwd=work)
    assert "worker delivered 1" in said and "registered mail: list 1" in said, said
    cases = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name not in ("pki", "post"))
    assert cases == sorted(p.stem for p in CASES_DIR.glob("*.json"))
    written = [(case, e) for case in cases for e in json.loads((out / case / "manifest.json").read_bytes())["files"]]
    assert {Path(e["file"]).suffix for _, e in written} == {".xml", ".pdf", ".docx", ".p7s"}
    for case, entry in written:
        assert (out / case / entry["file"]).stat().st_size > 0, f"{case}/{entry['file']}"
    act = out / "adult_first_group_ii"
    assert b"<ds:Signature" in (act / "by-act.xml").read_bytes()  # XAdES
    assert b"/ByteRange" in (act / "by-act.pdf").read_bytes()  # PAdES
    assert (act / "by-act.docx").is_file() and (act / "by-act.docx.p7s").is_file()  # detached CAdES
    assert list((out / "post").rglob("*.csv")), "no form-103 list for the paper extract"
    assert "valid (by-act)" in installed.run("msedocs", "validate", act / "by-act.xml", cwd=work)
    installed.run("msedocs", "verify", act / "by-act.pdf", "--pki", out / "pki", cwd=work)


def test_render_matches_the_checkout(installed, work):
    """One sample case in all three formats from the installed package: the same XML byte for
    byte, the same PDF text and DOCX body as the checkout renders."""
    case = Path(installed.where(work)["samples"]) / "adult_first_group_ii.json"
    args = ["render", "--form", "by-act", "--format", "xml,pdf,docx"]
    installed.run("msedocs", *args, case, "--out", work / "installed", cwd=work)
    assert main([*args, str(CASES_DIR / case.name), "--out", str(work / "checkout")]) == 0
    ours, theirs = work / "installed", work / "checkout"
    assert (ours / "by-act.xml").read_bytes() == (theirs / "by-act.xml").read_bytes()
    pdftotext = require_tool("pdftotext")
    texts = [_ok(_run([pdftotext, "-layout", d / "by-act.pdf", "-"], work)) for d in (ours, theirs)]
    assert texts[0] == texts[1] and "АКТ" in texts[0].upper()
    assert _docx_body(ours / "by-act.docx") == _docx_body(theirs / "by-act.docx")


def test_journal_with_typst(installed, work):
    """The journals' Typst templates and fonts, and the Typst worker process, from the wheel."""
    cases = installed.where(work)["samples"]
    period = ["--from", "2000-01-01", "--to", "2099-12-31"]
    args = ["by-journal-protocols", "--cases", cases, "--commission", "Первая Минская городская МРЭК общего профиля"]
    installed.run("msedocs", "journal", *args, *period, "--format", "pdf", "--out", work / "journal", cwd=work)
    pdf = work / "journal" / "by-journal-protocols.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    fonts = _ok(_run([require_tool("pdffonts"), pdf], work))
    assert "LiberationSerif" in fonts, fonts
