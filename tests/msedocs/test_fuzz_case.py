"""Fuzzing the case input: mutations of the sample cases (random values at random paths, keys
dropped, random unicode, deep nesting, random bytes) through ``msedocs.load_case`` and through
the command line. Whatever comes in, the answer is a case or a clean refusal: an InputError,
exit code 0, 1 or 2, never a traceback, never a hang, never an "internal error"."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msedocs.cli import main
from msedocs.errors import InputError
from msedocs.model import CaseWarning, load_case
from tests.conftest import CASE_FILES, ROOT

SAMPLES = [json.loads(p.read_text(encoding="utf-8")) for p in CASE_FILES]

#: Characters a fuzzer should try: controls, bidi, zero-width, non-characters, a lone surrogate.
NASTY = ["\x00", "\x07", "\n", "\t", "\u202e", "\u2066", "\u200b", "\ufeff", "\ufffe", "\U0010ffff", "\ud800", "\x85"]
texts = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=3)), max_size=6).map("".join),
    st.sampled_from(["", " ", "2026-02-30", "1899-12-31", "2999-01-01", "male", "I", "true", "0", "Іван"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False), texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def _paths(node: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [loc]
    if len(loc) > 12:  # not into what a mutation nested deep
        return found
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*loc, i))
    return found


@st.composite
def mutated_cases(draw: st.DrawFn, most: int = 4) -> Any:
    case = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    for _ in range(draw(st.integers(min_value=1, max_value=most))):
        paths = _paths(case)
        strings = [p for p in paths if _at(case, p).__class__ is str]
        loc = draw(st.sampled_from(strings if strings and draw(st.booleans()) else paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "nest", "add", "inject", "inject"]))
        if not loc:
            if action == "replace":
                case = draw(json_values)
            continue
        parent = case
        for part in loc[:-1]:
            parent = parent[part]
        key = loc[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "nest":
            parent[key] = _deep(draw(st.sampled_from([40, 900, 5000])))
        elif action == "inject":  # one odd character in a string, the case otherwise valid
            if isinstance(parent[key], str):
                at = draw(st.integers(min_value=0, max_value=len(parent[key])))
                parent[key] = parent[key][:at] + draw(st.sampled_from(NASTY)) + parent[key][at:]
        elif isinstance(parent[key], dict):
            parent[key][draw(texts)] = draw(json_values)
        if not isinstance(case, dict):
            break
    return case


def _at(node: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        node = node[part]
    return node


def _deep(depth: int) -> Any:
    node: Any = []
    for _ in range(depth):
        node = [node]
    return node


def _encode(case: Any) -> bytes | None:
    """The case as JSON text (a lone surrogate escaped, as JSON allows), or None when nested
    too deep for json.dumps."""
    try:
        return json.dumps(case).encode()
    except RecursionError:
        return None


def _load(source: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaseWarning)
        try:
            load_case(source)
        except InputError as exc:
            assert exc.problems or exc.message
            assert len(str(exc)) < 20_000


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_cases())
def test_load_case_answers_a_case_or_an_input_error(case: Any) -> None:
    raw = _encode(case)
    if isinstance(case, dict):
        _load(case)
    if raw is not None:
        _load(raw)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_load_case_answers_random_bytes(raw: bytes) -> None:
    _load(raw)


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_cases(most=1), st.booleans())
def test_cli_render_refuses_cleanly(case: Any, as_batch: bool) -> None:
    raw = _encode(case)
    if raw is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("cases.jsonl" if as_batch else "case.json")
        path.write_bytes(raw.replace(b"\n", b" ") + b"\n" if as_batch else raw)
        out = Path(tmp) / "out"
        code, err = _cli(["render", str(path), "--all", "--format", "xml", "--out", str(out)])
        assert code in (0, 2), err
        assert "Traceback" not in err and "internal error" not in err, err
        if code == 2:
            assert err.startswith("error: ") and not out.exists(), err


def test_cli_refuses_through_a_real_process(tmp_path: Path) -> None:
    """A few inputs in a real process: random bytes, 10,000 levels of nesting, a NUL in a name."""
    base = dict(SAMPLES[0])
    nul = json.loads(json.dumps(base))
    nul["patient"]["name"]["last"] = "Тэст\x00"
    inputs = {
        "bytes.json": bytes(range(256)),
        "deep.json": b'{"case_id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "nul.json": json.dumps(nul).encode(),
        "deep.jsonl": b"[" * 10_000 + b"]" * 10_000 + b"\n",
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, raw in inputs.items():
        path = tmp_path / name
        path.write_bytes(raw)
        out = tmp_path / f"out-{name}"
        result = subprocess.run(
            [sys.executable, "-m", "msedocs", "render", str(path), "--all", "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        assert not out.exists()
