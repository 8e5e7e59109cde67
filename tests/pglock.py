"""One lock over the shared PostgreSQL test server, per test process.

Tests that use the server hold it shared; the delivery restart test holds it exclusively, so
that it never restarts the server under another test (another xdist worker, another checkout's
session). flock locks belong to an open file description, so the whole process must use one
descriptor: a session fixture holding its own descriptor shared would block this process's own
exclusive request forever (CI hung there, in a serial run, with the service tests' session
fixture still open). Holds nest: the exclusive section returns to shared while any shared
hold is still open.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PATH = Path(tempfile.gettempdir()) / f"msedocs-tests-pg-{os.getuid()}.lock"

_state = {"fd": -1, "shared": 0}


def _fd() -> int:
    if _state["fd"] < 0:
        _state["fd"] = os.open(PATH, os.O_RDWR | os.O_CREAT, 0o600)
    return _state["fd"]


@contextmanager
def shared() -> Iterator[None]:
    if _state["shared"] == 0:
        fcntl.flock(_fd(), fcntl.LOCK_SH)
    _state["shared"] += 1
    try:
        yield
    finally:
        _state["shared"] -= 1
        if _state["shared"] == 0:
            fcntl.flock(_fd(), fcntl.LOCK_UN)


@contextmanager
def exclusive() -> Iterator[None]:
    """Waits until no other process holds the lock; this process's own shared holds convert."""
    fcntl.flock(_fd(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(_fd(), fcntl.LOCK_SH if _state["shared"] else fcntl.LOCK_UN)
