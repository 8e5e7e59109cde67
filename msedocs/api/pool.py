"""The rendering processes: a pool of spawned worker processes with a bounded queue.

Rendering (WeasyPrint, Typst, pyHanko) runs only in the worker processes, started with
``spawn`` so they share nothing with the server. The processes are recycled after about
``max_tasks_per_child`` tasks each (memory that a long-lived renderer would keep): after
``workers × max_tasks_per_child`` tasks a fresh executor takes the new tasks and the old one
finishes its own and exits. (``ProcessPoolExecutor``'s own ``max_tasks_per_child`` hangs on
Python 3.11 when a busy pool replaces a process: tasks stay queued with no process to run them.) At most
``workers + queue`` tasks are in flight; a request past that is refused at once
(:class:`PoolFull`, the API's 429) instead of waiting. A worker that dies breaks the
executor: the pool replaces it and the task raises :class:`PoolBroken`.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..errors import MsedocsError
from . import engine

T = TypeVar("T")


class PoolFull(MsedocsError, RuntimeError):
    """Every worker is busy and the queue is full."""


class PoolBroken(MsedocsError, RuntimeError):
    """A worker process died while running the task."""


class RenderPool:
    def __init__(self, workers: int = 2, *, queue: int = 8, max_tasks_per_child: int = 200) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self.max_tasks_per_child = max_tasks_per_child
        self._lock = threading.Lock()
        self._inflight = 0
        self._ready = threading.Event()
        self._closed = False
        self._submitted = 0
        self._executor = self._start()

    def _start(self, *, rotation: bool = False) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=engine.warm_up
        )
        self._submitted = 0
        if rotation:  # the old processes still serve: ready all along
            return executor
        self._ready.clear()
        ping = executor.submit(engine.ping)
        ping.add_done_callback(lambda f: self._ready.set() if f.exception() is None else None)
        return executor

    @property
    def ready(self) -> bool:
        """A worker process answered since the pool was (re)started."""
        return self._ready.is_set() and not self._closed

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    @property
    def inflight(self) -> int:
        return self._inflight

    def idle(self) -> int:
        """Workers with nothing to do."""
        return max(0, self.workers - self._inflight)

    def has_room(self) -> bool:
        """A request now would be taken (a hint: :meth:`reserve` decides)."""
        return self._inflight < self.capacity

    def reserve(self, *, block: bool = False) -> None:
        """Take a place in the queue; :class:`PoolFull` (or, with ``block``, wait) when there is none."""
        with self._lock:
            if self._inflight < self.capacity:
                self._inflight += 1
                return
        if not block:
            raise PoolFull("every rendering process is busy and the queue is full")
        while True:  # a job runner waits for room rather than refusing its job
            threading.Event().wait(0.05)
            with self._lock:
                if self._inflight < self.capacity:
                    self._inflight += 1
                    return

    def unreserve(self) -> None:
        with self._lock:
            self._inflight = max(0, self._inflight - 1)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker; the caller holds a place (:meth:`reserve`), given back
        when the task ends."""
        self._rotate_if_due()
        executor = self._executor
        try:
            future = executor.submit(fn, *args)
        except BrokenProcessPool:
            self._replace(executor)
            self.unreserve()
            raise PoolBroken("a rendering process died while rendering") from None
        except BaseException:
            self.unreserve()
            raise
        future.add_done_callback(lambda _f: self.unreserve())
        future.add_done_callback(lambda f: self._broke(executor, f))
        return future

    def run(self, fn: Callable[..., T], *args: Any, block: bool = False) -> T:
        """Reserve, run and wait: :class:`PoolFull` at once when full (unless ``block``),
        :class:`PoolBroken` if the worker died."""
        self.reserve(block=block)
        future = self.submit(fn, *args)
        return result(future)

    def _rotate_if_due(self) -> None:
        with self._lock:
            self._submitted += 1
            if self._submitted <= self.workers * self.max_tasks_per_child or self._closed:
                return
            old, self._executor = self._executor, self._start(rotation=True)
        old.shutdown(wait=False)  # its tasks finish, then its processes exit

    def _broke(self, executor: ProcessPoolExecutor, future: Future[Any]) -> None:
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._replace(executor)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken or self._closed:
                return
            self._executor = self._start()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)


def result(future: Future[T], timeout: float | None = None) -> T:
    """A task's result; :class:`PoolBroken` if its worker died."""
    try:
        return future.result(timeout)
    except BrokenProcessPool:
        raise PoolBroken("a rendering process died while rendering") from None
