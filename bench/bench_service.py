"""Benchmark of the HTTP service against the flow it calls, side by side in one run (not a test).

    .venv/bin/python bench/bench_service.py [--repeat N] [--seconds S] [--clients C] [--workers W] [--renders N]
        [--client-wait retry-after|SECONDS] [--parts 1,2,3]

1. One act PDF: ``POST /v1/renders`` to a ``msedocs serve`` subprocess (SQLite store, sequential
   requests) against ``msedocs.render`` in this process, in turns; medians of N. Target: within 1.15x.
2. C concurrent clients for S seconds against the service with W rendering processes: every
   answer counted by status (target: no 5xx, every refusal a 429 with Retry-After), renders per
   second against the same W processes rendering directly (a RenderPool fed by W threads;
   target: at least 0.85x), p50/p99 latency of the renders answered. A client refused with 429
   sleeps what Retry-After asks, as a well-behaved client does (--client-wait 0.05: one that
   comes back at once, a refusal storm whose handling takes the 2 cores' CPU from the renderers).
3. The server process's resident memory before and after N renders. Target: within 10 %.

Traffic goes to 127.0.0.1 only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

MSEDOCS = str(Path(sys.executable).with_name("msedocs"))
CASE = json.loads((ROOT / "fixtures" / "cases" / "adult_first_group_ii.json").read_text(encoding="utf-8"))
BODY = {"case": CASE, "forms": ["by-act"], "formats": ["pdf"]}
BODY_BYTES = json.dumps(BODY, ensure_ascii=False).encode()  # encoded once: the clients' own work is not measured


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def direct_pool(workers: int, seconds: float) -> float:
    """Renders per second of W processes fed directly (no HTTP, no store)."""
    from msedocs.api import engine
    from msedocs.api.pool import RenderPool

    pool = RenderPool(workers, queue=workers)
    pool.wait_ready(120)
    params = engine.RenderParams(json.dumps(CASE).encode(), ("by-act",), ("pdf",), "auto")
    for _ in range(workers):
        pool.run(engine.render_task, params, block=True)
    done = [0]
    stop = time.monotonic() + seconds

    def feed() -> None:
        while time.monotonic() < stop:
            pool.run(engine.render_task, params, block=True)
            done[0] += 1

    elapsed = _in_threads(feed, workers)
    pool.shutdown()
    return done[0] / elapsed


def _in_threads(work: Callable[[], None], count: int) -> float:
    """Run ``work`` in ``count`` threads at once; the seconds until the last one ended."""
    threads = [threading.Thread(target=work) for _ in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


class Server:
    def __init__(self, workdir: Path, workers: int) -> None:
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = f"sqlite:///{workdir / 'data' / 'outbox.sqlite3'}"
        made = subprocess.run([MSEDOCS, "keys", "create", "bench", "--scope", "render", "--db", db], cwd=workdir,
                              capture_output=True, text=True, check=True)  # fmt: skip
        self.auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
        self.log = (workdir / "serve.log").open("wb")
        self.proc = subprocess.Popen([MSEDOCS, "serve", "--port", str(self.port), "--data", str(workdir / "data"),
                                      "--workers", str(workers)], cwd=workdir, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("msedocs serve did not get ready")

    def post(self, client: httpx.Client) -> httpx.Response:
        headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
        return client.post(self.url + "/v1/renders", content=BODY_BYTES, headers=headers, timeout=120)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


def side_by_side(server: Server, repeat: int) -> tuple[float, float]:
    """Medians of ``msedocs.render`` in this process and of ``POST /v1/renders``, taken in
    turns (one of each per round), so that the machine's other load weighs on both alike."""
    import msedocs

    case = msedocs.load_case(json.dumps(CASE).encode())
    local: list[float] = []
    remote: list[float] = []
    with httpx.Client() as client:
        for _ in range(3):  # warm: fonts, stylesheet, the renderer's process, the connection
            msedocs.render(case, "by-act", "pdf")
            assert server.post(client).status_code == 200
        for _ in range(repeat):
            started = time.perf_counter()
            msedocs.render(case, "by-act", "pdf")
            local.append(time.perf_counter() - started)
            started = time.perf_counter()
            answer = server.post(client)
            remote.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")
    return statistics.median(local), statistics.median(remote)


def load(server: Server, clients: int, seconds: float, wait: float | None = None) -> dict[str, object]:
    """``wait``: seconds a client sleeps after a 429; None: what its Retry-After asks (as a
    well-behaved client, or urllib3's Retry, does)."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    no_retry_after = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client_loop() -> None:
        with httpx.Client() as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    answer = server.post(client)
                except httpx.HTTPError:
                    with lock:
                        statuses[0] = statuses.get(0, 0) + 1
                    continue
                took = time.perf_counter() - started
                with lock:
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code == 200:
                        latencies.append(took)
                    if answer.status_code == 429:
                        if not answer.headers.get("retry-after"):
                            no_retry_after[0] += 1
                if answer.status_code == 429:
                    asked = answer.headers.get("retry-after", "")
                    time.sleep(wait if wait is not None else float(asked) if asked.isdigit() else 1.0)

    elapsed = _in_threads(client_loop, clients)
    latencies.sort()
    return {
        "statuses": statuses,
        "renders_per_s": statuses.get(200, 0) / elapsed,
        "p50": latencies[len(latencies) // 2] if latencies else None,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
        "429_without_retry_after": no_retry_after[0],
    }


def memory(server: Server, renders: int) -> tuple[int, int]:
    with httpx.Client() as client:
        for _ in range(20):
            server.post(client)
        before = _rss_kib(server.proc.pid)
        for _ in range(renders):
            assert server.post(client).status_code == 200
        after = _rss_kib(server.proc.pid)
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--renders", type=int, default=5000)
    parser.add_argument(
        "--client-wait",
        default="retry-after",
        help="After a 429 a client sleeps what Retry-After asks (default), or this many seconds.",
    )
    parser.add_argument("--parts", default="1,2,3", help="Which measures to run (1: one render, 2: load, 3: memory).")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    workdir = Path(tempfile.mkdtemp(prefix="msedocs-bench-service-"))
    try:
        server = Server(workdir, args.workers)
        loaded: dict[str, object] = {}
        before = after = 0
        try:
            if 1 in parts:
                direct, http = side_by_side(server, args.repeat)
                print(f"1. one act PDF, median of {args.repeat}: in-process {direct * 1000:.0f} ms, POST /v1/renders "
                      f"{http * 1000:.0f} ms: {http / direct:.2f}x (target <= 1.15x)")  # fmt: skip
            if 2 in parts:
                wait = None if args.client_wait == "retry-after" else float(args.client_wait)
                loaded = load(server, args.clients, args.seconds, wait)
                print(
                    f"2. {args.clients} clients for {args.seconds:.0f} s, {args.workers} rendering processes, "
                    f"after a 429 waiting {'its Retry-After' if wait is None else f'{wait} s'}: "
                    f"answers {loaded['statuses']}; 429 without Retry-After: {loaded['429_without_retry_after']}"
                )
            if 3 in parts:
                before, after = memory(server, args.renders)
        finally:
            server.stop()
        if 2 in parts:
            pool_rate = direct_pool(args.workers, min(args.seconds, 30))
            rate = float(loaded["renders_per_s"])  # type: ignore[arg-type]
            p50, p99 = loaded["p50"], loaded["p99"]
            print(f"   {rate:.2f} renders/s over HTTP against {pool_rate:.2f}/s from the pool directly: "
                  f"{rate / pool_rate:.2f}x (target >= 0.85x); latency p50 {p50 and p50 * 1000:.0f} ms, "
                  f"p99 {p99 and p99 * 1000:.0f} ms")  # fmt: skip
        if 3 in parts:
            print(f"3. server RSS {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after {args.renders} "
                  f"renders: {(after - before) / before * 100:+.1f} % (target within 10 %)")  # fmt: skip
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
