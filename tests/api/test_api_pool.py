"""The rendering pool: spawned processes recycled after N tasks, a dead one replaced, a bounded queue."""

from __future__ import annotations

import pytest

from msedocs.api import engine
from msedocs.api.pool import PoolBroken, PoolFull, RenderPool


@pytest.fixture(scope="module")
def pool():
    made = RenderPool(1, queue=1, max_tasks_per_child=2)
    assert made.wait_ready(120)
    yield made
    made.shutdown()


def test_processes_are_recycled_after_n_tasks(pool):
    pids = [pool.run(engine.ping, block=True) for _ in range(6)]  # recycled after 2 tasks per process
    assert len(set(pids)) >= 2


def test_a_dead_worker_is_replaced(pool):
    with pytest.raises(PoolBroken):
        pool.run(engine.crash_task, block=True)
    assert pool.wait_ready(120)
    assert pool.run(engine.ping, block=True) > 0


def test_a_full_queue_refuses_at_once(pool):
    for _ in range(pool.capacity):
        pool.reserve()
    try:
        with pytest.raises(PoolFull):
            pool.reserve()
        with pytest.raises(PoolFull):
            pool.run(engine.ping)
    finally:
        for _ in range(pool.capacity):
            pool.unreserve()
    assert pool.inflight == 0


def test_recycling_under_concurrent_load_never_hangs():
    """ProcessPoolExecutor's own max_tasks_per_child hangs here on Python 3.11 (tasks queued, no process)."""
    import threading

    busy = RenderPool(2, queue=2, max_tasks_per_child=3)
    done: list[int] = []

    def feed() -> None:
        for _ in range(12):
            done.append(busy.run(engine.ping, block=True))

    threads = [threading.Thread(target=feed, daemon=True) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(done) == 48 and len(set(done)) >= 4
    finally:
        busy.shutdown()
