"""Run pyHanko's coroutines from synchronous code, also when the caller already runs an event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class _ThreadLoop:
    """An event loop kept for one thread (:func:`_run`), closed when the thread ends."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def __del__(self) -> None:
        try:
            self.runner.close()
        except Exception:  # noqa: S110 - at interpreter shutdown: nothing left to release
            pass


_local = threading.local()
# A forked child does not share its parent's loop (the selector's file descriptors): it makes its own.
os.register_at_fork(after_in_child=lambda: _local.__dict__.pop("loop", None))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, in an event loop kept for this thread: a new loop for every
    signature (a selector, a socket pair, their closing) cost more than a whole timestamp."""
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = _ThreadLoop()
    return loop.runner.run(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, or the same in a worker thread if this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
