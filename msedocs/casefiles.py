"""Where a batch's cases are, read without parsing them: a case file, a folder of case files or a
JSON Lines file. A light module (no case model), so that ``render`` can size a batch before the
model loads (:mod:`msedocs.workers`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, Problem


def is_batch(path: Path) -> bool:
    """Whether ``path`` holds a batch (a folder of case files or a JSON Lines file) rather than one
    case file."""
    return path.is_dir() or path.suffix == ".jsonl"


def case_sources(path: str | Path) -> Iterator[tuple[Path | bytes, str, int | None]]:
    """What :func:`msedocs.model.load.iter_cases` reads, unparsed: (a case file, or a JSON Lines record's bytes;
    the file's name; the record's line number), in the same order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise InputError(f"{path}: no case files (*.json) in this folder")
        for file in files:
            yield file, str(file), None
    elif path.suffix == ".jsonl":
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot read", [Problem("(file)", str(exc.strerror))]) from None
        read = 0
        with handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    read += 1
                    yield raw, str(path), number
        if not read:
            raise InputError(f"{path}: no cases in this file (it is empty or holds only blank lines)")
    else:
        yield path, str(path), None
