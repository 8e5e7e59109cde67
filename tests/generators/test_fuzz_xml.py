"""Fuzzing `msedocs validate` with mutations of the fixtures' rendered XML: whatever the bytes,
exit 0, 1 or 2, a message and no traceback, within a fixed time."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from msedocs.cli import app
from msedocs.forms import REGISTRY
from msedocs.pipeline import render_form
from tests.conftest import ROOT, case, case_form_pairs

PAIRS = sorted(case_form_pairs())
runner = CliRunner()


@cache
def xml_of(name: str, form_id: str) -> bytes:
    """A fixture's XML in a form (rendered alone: no PDF, no DOCX)."""
    (doc,) = render_form(case(name), REGISTRY[form_id], ("xml",))
    return doc.content


def _xml_text(text: str) -> str:
    """Characters XML 1.0 can hold (lxml refuses the others when building the mutation)."""
    return "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 32 and c not in "\ufffe\uffff"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    name, form_id = draw(st.sampled_from(PAIRS))
    content = xml_of(name, form_id)
    kind = draw(
        st.sampled_from(
            ["delete", "duplicate", "rename", "text", "bytes", "truncate", "doctype", "entity", "attribute", "many"]
        )
    )
    if kind in ("delete", "duplicate", "rename", "text", "attribute", "many"):
        root = etree.fromstring(content)
        elements = list(root.iter())
        el = draw(st.sampled_from(elements))
        parent = el.getparent()
        if kind == "delete" and parent is not None:
            parent.remove(el)
        elif kind == "duplicate" and parent is not None:
            parent.insert(parent.index(el), etree.fromstring(etree.tostring(el)))
        elif kind == "rename":
            new_name = draw(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True))
            el.tag = f"{{{etree.QName(el).namespace or ''}}}{new_name}"
        elif kind == "text":
            el.text = _xml_text(draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)))
        elif kind == "attribute":
            attribute = draw(st.sampled_from(["formId", "version", "caseId", "role", "seal", "x"]))
            el.set(attribute, _xml_text(draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))))
        elif kind == "many" and parent is not None:
            for _ in range(draw(st.integers(2, 60))):
                parent.insert(parent.index(el), etree.fromstring(etree.tostring(el)))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if kind == "bytes":
        data = bytearray(content)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "truncate":
        return content[: draw(st.integers(0, len(content)))]
    if kind == "doctype":
        decl, _, rest = content.partition(b"\n")
        return decl + b'\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd"><!ENTITY l "lol">]>\n' + rest
    # entity: a reference in a text node, declared or not
    return content.replace(b"</", b"&e;</", 1)


def _check(code: int, output: str) -> None:
    assert code in (0, 1, 2), output
    assert "Traceback" not in output and "internal error" not in output, output
    assert output.strip(), "a result is always said"


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(content=mutated())
def test_validate_survives_mutations(content: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "doc.xml"
    path.write_bytes(content)
    result = runner.invoke(app, ["validate", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from msedocs.errors import MsedocsError

        assert isinstance(result.exception, MsedocsError), repr(result.exception)
        _check(result.exception.exit_code, str(result.exception))
        return
    _check(result.exit_code, result.output)


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(content=mutated())
def test_validate_survives_mutations_as_a_process(content: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "doc.xml"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "msedocs", "validate", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    _check(result.returncode, result.stdout + result.stderr)


def test_unmutated_fixtures_are_valid(tmp_path: Path) -> None:
    for name, form_id in PAIRS:
        path = tmp_path / f"{name}-{form_id}.xml"
        path.write_bytes(xml_of(name, form_id))
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0 and f"valid ({form_id})" in result.output, result.output
