"""Shared fixtures: the sample cases and the forms that apply to each, rendered once."""

from __future__ import annotations

import shutil
import warnings
from functools import cache
from pathlib import Path

import pytest

from msedocs.forms import REGISTRY
from msedocs.model import Case, load_case
from msedocs.pipeline import render_form

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "fixtures" / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))


@cache
def case(name: str) -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_case(CASES_DIR / f"{name}.json")


def case_form_pairs() -> list[tuple[str, str]]:
    return [
        (path.stem, form_id)
        for path in CASE_FILES
        for form_id, spec in REGISTRY.items()
        if spec.applies_to(case(path.stem))
    ]


@cache
def rendered(case_name: str, form_id: str) -> dict[str, bytes]:
    docs = render_form(case(case_name), REGISTRY[form_id])
    return {d.format: d.content for d in docs}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `python3 dev.py setup` as root (Debian package needed)")
    return path
