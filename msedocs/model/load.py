"""Loading case data: a file, bytes or a dict in, a :class:`Case` out, or an InputError
listing every problem with its JSON path."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..casefiles import case_sources
from ..errors import InputError, Problem
from .case import Case
from .text import BAD_IN_LINE, describe

#: Largest case file accepted; a real case is a few tens of kilobytes.
MAX_CASE_BYTES = 16 * 1024 * 1024
#: Deepest nesting of objects and arrays accepted; a case nests about six deep.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class CaseWarning(UserWarning):
    """Something in the case data that is suspicious but not an error (e.g. an older
    identification number whose check character does not match)."""


def json_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _segment(part)
    return out


def _segment(key: str) -> str:
    """A key as a path segment: cut when long, escaped when it holds characters not to print."""
    cut = key[:40] + "…" if len(key) > 40 else key
    if BAD_IN_LINE.search(cut) or not cut.isprintable():
        return json.dumps(cut)
    return cut


def _kind(value: Any) -> str:
    """What a JSON value is, without the value: «a string of 12 characters», «a number»."""
    if isinstance(value, str):
        return f"a string of {len(value)} character{'s' if len(value) != 1 else ''}"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "an array" if isinstance(value, list) else "an object"


def problems_from_validation(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        prefix = json_path(loc)
        ctx = err.get("ctx") or {}
        if err["type"] == "case_rules":
            for path, msg in ctx["problems"]:
                joined = prefix + path if path.startswith("[") else ".".join(x for x in (prefix, path) if x)
                problems.append(Problem(joined, msg))
            continue
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not in the case schema; see `msedocs schema`)"
        elif err["type"] in ("missing",):
            msg = "required field is missing"
        elif err["type"] == "string_too_long":
            msg = f"text is too long ({len(err['input'])} characters, at most {ctx.get('max_length')})"
        elif err["type"] == "enum":  # never the value itself: it may be personal data typed in the wrong place
            msg = f"is not one of: {ctx.get('expected')} (got {_kind(err['input'])})"
        problems.append(Problem(prefix or "(case)", msg))
    return problems


def _read(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read the case file", [Problem("(file)", str(exc.strerror))]) from None
    if size > MAX_CASE_BYTES:
        raise InputError(
            f"{path}: file too large",
            [Problem("(file)", f"{size} bytes, more than the {MAX_CASE_BYTES} byte limit")],
        )
    raw = path.read_bytes()
    return parse_json(raw, str(path))


def parse_json(raw: bytes, source: str = "<input>") -> Any:
    """Decode UTF-8 JSON, turning every failure into an InputError with a line number."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{source}: not UTF-8 text",
            [Problem("(file)", f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8", line)],
        ) from None
    duplicates: list[tuple[dict[str, Any], str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicates.append((obj, key))
                seen.add(key)
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: invalid JSON",
            [Problem("(file)", f"{exc.msg} (column {exc.colno})", exc.lineno)],
        ) from None
    except RecursionError:
        raise InputError(f"{source}: invalid JSON", [Problem("(file)", _too_deep())]) from None
    problems = structure_problems(data, duplicates)
    if problems:
        raise InputError(f"{source}: {len(problems)} problem(s) in the case data", problems)
    return data


def _too_deep() -> str:
    return f"objects and arrays nested more than {MAX_DEPTH} deep (a case nests about six deep)"


def structure_problems(data: Any, duplicates: Sequence[tuple[dict[str, Any], str]] = ()) -> list[Problem]:
    """What JSON allows but a case may not hold, each with its JSON path: nesting deeper than
    :data:`MAX_DEPTH`, a key given twice in one object (JSON parsers keep either silently), a
    lone surrogate (which no UTF-8 document can carry). Walked without recursion."""
    twice: dict[int, list[str]] = {}
    for obj, key in duplicates:
        twice.setdefault(id(obj), []).append(key)
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack and len(problems) < 20:
        node, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            problems.append(Problem(json_path(loc[:MAX_DEPTH]) or "(case)", _too_deep()))
            continue
        if isinstance(node, dict):
            for key in twice.get(id(node), []):
                problems.append(Problem(json_path((*loc, key)), "this key is given twice in its object"))
            for key, value in node.items():
                if isinstance(key, str) and (bad := _SURROGATE.search(key)):
                    problems.append(Problem(json_path(loc) or "(case)", f"a key holds {describe(bad.group())}"))
                stack.append((value, (*loc, str(key))))
        elif isinstance(node, list):
            stack.extend((value, (*loc, i)) for i, value in enumerate(node))
        elif isinstance(node, str) and (bad := _SURROGATE.search(node)):
            problems.append(
                Problem(
                    json_path(loc) or "(case)",
                    f"character {describe(bad.group())} at position {bad.start() + 1} is not allowed",
                )
            )
    return sorted(problems, key=lambda p: p.path)


def load_case(source: str | Path | bytes | Mapping[str, Any], *, name: str | None = None) -> Case:
    """Load and validate one case.

    ``source`` is a path to a JSON file, the JSON bytes, or an already parsed dict.
    Raises :class:`~msedocs.errors.InputError` listing every problem with its JSON path.
    A suspicious but admissible value gives a :class:`CaseWarning`.
    """
    if isinstance(source, str | Path):
        label = name or str(source)
        data = _read(Path(source))
    elif isinstance(source, bytes):
        label = name or "<bytes>"
        data = parse_json(source, label)
    else:
        label = name or "<dict>"
        data = dict(source)
        problems = structure_problems(data)
        if problems:
            raise InputError(f"{label}: {len(problems)} problem(s) in the case data", problems)
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", int: "a number", float: "a number"}.get(type(data), "null")
        raise InputError(f"{label}: not a case", [Problem("(case)", f"a case is a JSON object, got {kind}")])
    context: dict[str, Any] = {"warnings": []}
    try:
        # Strict JSON validation: no number read as a date, no "yes" read as true.
        try:
            text = json.dumps(data)
        except (TypeError, ValueError) as exc:  # a dict from Python holding what JSON cannot
            raise InputError(f"{label}: not JSON data", [Problem("(case)", str(exc))]) from None
        case = Case.model_validate_json(text, strict=True, context=context)
    except ValidationError as exc:
        problems = problems_from_validation(exc)
        raise InputError(f"{label}: {len(problems)} problem(s) in the case data", problems) from None
    for path, msg in context["warnings"]:
        warnings.warn(CaseWarning(f"{label}: {path}: {msg}"), stacklevel=2)
    return case


@dataclass(frozen=True)
class Loaded:
    """One case read from a batch: the case, or the problems that kept it out."""

    source: str
    line: int | None
    case: Case | None
    problems: tuple[Problem, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


def iter_cases(path: str | Path) -> Iterator[Loaded]:
    """Every case of a case file, a folder of case files (sorted) or a JSON Lines file (.jsonl),
    one at a time, so a batch of any size is never held in memory at once."""
    for source, label, line in case_sources(path):
        yield _load_one(source, label, line)


#: Problems reported at most from a batch: checking stops at the twentieth.
MAX_PROBLEMS = 20
#: Cases read past the first invalid one before checking stops (the batch is refused anyway).
LOOK_AHEAD = 1000


class BatchReader:
    """The valid cases of a batch, one at a time, and what kept the others out.

    Iterating yields each valid case whose ``case_id`` is new in the batch; a case that fails
    validation, or repeats an earlier case's ``case_id``, becomes problems named by its file
    (and line). Checking stops once :data:`MAX_PROBLEMS` problems are found or :data:`LOOK_AHEAD`
    cases after the first invalid one, so a broken line early in a huge file is reported at
    once. ``check(case)`` may add problems of its own for a valid case. Memory holds only the
    case ids seen (for the duplicate check), never the cases."""

    def __init__(
        self,
        path: str | Path,
        check: Callable[[Case], list[Problem]] | None = None,
        *,
        max_problems: int = MAX_PROBLEMS,
        look_ahead: int = LOOK_AHEAD,
    ) -> None:
        self.path = Path(path)
        self.check = check
        self.max_problems = max_problems
        self.look_ahead = look_ahead
        self.count = 0
        self.failing: set[str] = set()
        self.problems: list[Problem] = []
        self.stopped_at: str | None = None

    def __iter__(self) -> Iterator[Loaded]:
        seen: dict[str, str] = {}
        first_failure: int | None = None
        for loaded in iter_cases(self.path):
            self.count += 1
            problems = list(loaded.problems)
            if loaded.case is not None:
                earlier = seen.setdefault(loaded.case.case_id, loaded.where)
                if earlier != loaded.where:
                    problems.append(
                        Problem("case_id", f"the same case_id as {earlier}: a batch holds each case once")
                    )
                elif self.check is not None:
                    problems += self.check(loaded.case)
            if problems:
                self.failing.add(loaded.where)
                self.problems.extend(Problem(f"{loaded.where}: {p.path}", p.message, p.line) for p in problems)
                first_failure = self.count if first_failure is None else first_failure
            elif not self.problems:
                yield loaded
            if self.problems and (
                len(self.problems) >= self.max_problems or self.count - (first_failure or 0) >= self.look_ahead
            ):
                self.stopped_at = loaded.where
                return

    def raise_for_problems(self, message: str) -> None:
        """Raise an InputError ``<path>: <message>`` listing the problems found, if any."""
        if not self.problems:
            return
        problems = self.problems[: self.max_problems]
        if self.stopped_at is not None:
            problems.append(
                Problem(
                    "(batch)",
                    f"checking stopped at {self.stopped_at} after {len(self.failing)} invalid case(s); "
                    "the rest of the batch is not checked yet: fix these and run again",
                )
            )
        raise InputError(f"{self.path}: {message}", problems)


def count_cases(path: str | Path) -> int:
    """About how many cases :func:`iter_cases` will yield (lines of a .jsonl file, files of a
    folder), counted without parsing: the total of a progress bar."""
    path = Path(path)
    try:
        if path.is_dir():
            return sum(1 for p in path.iterdir() if p.suffix == ".json")
        if path.suffix == ".jsonl":
            with path.open("rb") as handle:
                return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0
    return 1


def _load_one(source: Path | bytes, label: str, line: int | None) -> Loaded:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaseWarning)
        try:
            case = load_case(source, name=label if line is None else f"{label}:{line}")
        except InputError as exc:
            problems = exc.problems or [Problem("(case)", exc.message)]
            if line is not None:
                # A JSON Lines record is one line: where it is is already file:line, and a
                # decoding failure says what the record is not ("invalid JSON: ...").
                what = exc.message.removeprefix(f"{label}:{line}: ")
                problems = [
                    Problem("(record)", f"{what}: {p.message}") if p.path == "(file)" else Problem(p.path, p.message)
                    for p in problems
                ]
            return Loaded(label, line, None, tuple(problems))
    return Loaded(label, line, case)
