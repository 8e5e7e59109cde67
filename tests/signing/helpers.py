"""Helpers for the signing tests: running the independent tools, writing XML back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed: this independent check did NOT run")


def dump(root: etree._Element) -> bytes:
    """An XML tree back to bytes as signing writes them (UTF-8, with the declaration)."""
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
