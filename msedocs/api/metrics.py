"""Prometheus metrics of the service (text exposition format 0.0.4), kept in the process.

Labels are route templates, methods, statuses and job states: never a path with an id in it,
never anything of a body.
"""

from __future__ import annotations

import threading
from collections import defaultdict


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._seconds: dict[tuple[str, str], float] = defaultdict(float)
        self._count: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            self._seconds[(method, route)] += seconds
            self._count[(method, route)] += 1

    def render(
        self, jobs: dict[str, int], pool_inflight: int, pool_capacity: int, pool_workers: int,
        callbacks: dict[str, int] | None = None,
    ) -> str:  # fmt: skip
        lines = [
            "# HELP msedocs_http_requests_total HTTP requests answered, by method, route and status.",
            "# TYPE msedocs_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(f'msedocs_http_requests_total{{method="{method}",route="{_esc(route)}",'
                             f'status="{status}"}} {n}')  # fmt: skip
            lines += [
                "# HELP msedocs_http_request_duration_seconds Time to answer, by method and route.",
                "# TYPE msedocs_http_request_duration_seconds summary",
            ]
            for (method, route), total in sorted(self._seconds.items()):
                labels = f'method="{method}",route="{_esc(route)}"'
                lines.append(f"msedocs_http_request_duration_seconds_sum{{{labels}}} {total:.6f}")
                lines.append(f"msedocs_http_request_duration_seconds_count{{{labels}}} {self._count[(method, route)]}")
        lines += ["# HELP msedocs_jobs Jobs in the store, by state.", "# TYPE msedocs_jobs gauge"]
        for state in ("queued", "running", "succeeded", "failed", "cancelled"):
            lines.append(f'msedocs_jobs{{state="{state}"}} {jobs.get(state, 0)}')
        lines += ["# HELP msedocs_callbacks Job callbacks in the store, by state.", "# TYPE msedocs_callbacks gauge"]
        for state in ("pending", "delivered", "failed"):
            lines.append(f'msedocs_callbacks{{state="{state}"}} {(callbacks or {}).get(state, 0)}')
        lines += [
            "# HELP msedocs_render_pool_inflight Tasks running or waiting in this process's rendering pool.",
            "# TYPE msedocs_render_pool_inflight gauge",
            f"msedocs_render_pool_inflight {pool_inflight}",
            "# HELP msedocs_render_pool_capacity Tasks the pool takes before 429 (processes + queue).",
            "# TYPE msedocs_render_pool_capacity gauge",
            f"msedocs_render_pool_capacity {pool_capacity}",
            "# HELP msedocs_render_pool_workers Rendering processes of this process's pool.",
            "# TYPE msedocs_render_pool_workers gauge",
            f"msedocs_render_pool_workers {pool_workers}",
        ]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
