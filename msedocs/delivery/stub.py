"""A portal stub for tests and integrators: ``msedocs portal-stub --port P`` or
``python -m msedocs.delivery.stub --port P``.

Endpoints:

``POST /deliveries``
    Needs an ``Idempotency-Key`` header and a JSON body. The first POST with a key answers
    201; a POST with a key already seen answers 200 with the first answer (409 if the body
    differs) and counts as a duplicate.
``GET /deliveries/{key}``
    200 with the delivery if that key was accepted, else 404.
``GET /stats``
    ``{"deliveries": accepted POSTs, "unique": distinct keys, "duplicates": POSTs whose key
    it had seen, "failed": requests answered with a failure, "probes": GETs of a delivery}``.
``GET /control``, ``POST /control``
    Read or change the behaviour: ``{"mode": "ok" | "fail" | "timeout" | "slow", "delay": s,
    "fail_rate": 0..1, "fail_next": n, "fail_status": 503, "hang": s, "probe_status": 0}``;
    ``{"reset": true}``
    clears the counters and the seen keys.

Modes: ``fail`` answers ``fail_status`` (503) to every delivery request; ``timeout`` holds
each request for ``hang`` seconds and then drops the connection without an answer; ``slow``
waits ``delay`` seconds before answering normally. ``fail_rate`` and ``fail_next`` fail a
random share or the next *n* requests while in ``ok`` or ``slow`` mode. ``probe_status``
(not 0) answers every ``GET /deliveries/{key}`` with that code whatever the mode: 404 a portal
that never got the item, 503 a failing status endpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from msedocs.errors import InputError

MODES = ("ok", "fail", "timeout", "slow")


@dataclass
class StubBehaviour:
    """How the stub answers delivery requests."""

    mode: str = "ok"
    """``ok``, ``fail``, ``timeout`` or ``slow``."""
    delay: float = 0.0
    """Seconds to wait before answering (mode ``slow``; also applies in ``ok`` if set)."""
    fail_rate: float = 0.0
    """Share of delivery requests answered with ``fail_status`` at random."""
    fail_next: int = 0
    """Answer the next *n* delivery requests with ``fail_status``."""
    fail_status: int = 503
    """Status code of a failure."""
    hang: float = 30.0
    """Seconds a request is held in mode ``timeout`` before the connection is dropped."""
    probe_status: int = 0
    """Answer every status probe (``GET /deliveries/{key}``) with this code instead of looking
    the key up: 404 "never got it", 503 a failing status endpoint; 0 answers normally."""

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise InputError(f"portal stub: unknown setting {key!r}")
            if key == "mode" and value not in MODES:
                raise InputError(f"portal stub: mode must be one of {', '.join(MODES)}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value))


class _State:
    def __init__(self, behaviour: StubBehaviour) -> None:
        self.lock = threading.Lock()
        self.behaviour = behaviour
        self.rng = random.Random()
        self.reset()

    def reset(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}
        self.deliveries = 0
        self.duplicates = 0
        self.failed = 0
        self.probes = 0

    def stats(self) -> dict[str, int]:
        return {
            "deliveries": self.deliveries,
            "unique": len(self.seen),
            "duplicates": self.duplicates,
            "failed": self.failed,
            "probes": self.probes,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep quiet
        pass

    def _reply(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _misbehave(self) -> bool:
        """Apply the configured failure modes; True if the request was answered (or dropped)."""
        st = self.server.state
        with st.lock:
            b = st.behaviour
            mode, delay, hang, status = b.mode, b.delay, b.hang, b.fail_status
            fail = mode == "fail" or (b.fail_rate > 0 and st.rng.random() < b.fail_rate)
            if not fail and b.fail_next > 0:
                b.fail_next -= 1
                fail = True
        if mode == "timeout":
            time.sleep(hang)
            self.close_connection = True
            return True
        if delay > 0:
            time.sleep(delay)
        if fail:
            with st.lock:
                st.failed += 1
            self._reply(status, {"error": "failure simulated by the portal stub"})
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        st = self.server.state
        if self.path == "/stats":
            with st.lock:
                self._reply(200, st.stats())
        elif self.path == "/control":
            with st.lock:
                self._reply(200, asdict(st.behaviour))
        elif self.path.startswith("/deliveries/"):
            with st.lock:
                forced = st.behaviour.probe_status
            if forced:
                with st.lock:
                    st.probes += 1
                    st.failed += forced >= 500
                self._reply(forced, {"error": "status probe answer forced by the portal stub"})
                return
            if self._misbehave():
                return
            key = self.path.removeprefix("/deliveries/")
            with st.lock:
                st.probes += 1
                record = st.seen.get(key)
            if record is None:
                self._reply(404, {"error": "no delivery with this key"})
            else:
                self._reply(200, record)
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        st = self.server.state
        body = self._body()
        if self.path == "/control":
            try:
                changes = json.loads(body or b"{}")
                with st.lock:
                    if changes.pop("reset", False):
                        st.reset()
                    st.behaviour.update(changes)
                    answer = asdict(st.behaviour)
            except (ValueError, TypeError) as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._reply(200, answer)
            return
        if self.path != "/deliveries":
            self._reply(404, {"error": "not found"})
            return
        key = self.headers.get("Idempotency-Key")
        if not key:
            self._reply(400, {"error": "Idempotency-Key header is required"})
            return
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("documents"), list):
                raise ValueError("documents missing")
        except ValueError:
            self._reply(400, {"error": "body must be a JSON object with documents"})
            return
        if self._misbehave():
            return
        digest = hashlib.sha256(body).hexdigest()
        with st.lock:
            st.deliveries += 1
            record = st.seen.get(key)
            if record is None:
                record = {
                    "id": key,
                    "status": "accepted",
                    "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "body_sha256": digest,
                    "documents": len(payload["documents"]),
                }
                st.seen[key] = record
                status = 201
            else:
                st.duplicates += 1
                status = 200 if record["body_sha256"] == digest else 409
        self._reply(status, record)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away (a killed worker) is not the stub's problem
        super().handle_error(request, client_address)


class PortalStub:
    """The stub server, in a background thread: ``with PortalStub() as stub: stub.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, behaviour: StubBehaviour | None = None) -> None:
        self._server = _Server((host, port), _State(behaviour or StubBehaviour()))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def behaviour(self) -> StubBehaviour:
        return self._server.state.behaviour

    def configure(self, **changes: Any) -> None:
        with self._server.state.lock:
            self._server.state.behaviour.update(changes)

    def stats(self) -> dict[str, int]:
        with self._server.state.lock:
            return self._server.state.stats()

    def start(self) -> PortalStub:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="portal-stub", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> PortalStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(host: str, port: int, behaviour: StubBehaviour) -> None:
    """Run the stub in the foreground until interrupted; print its URL first."""
    stub = PortalStub(host, port, behaviour)
    print(f"portal stub listening on {stub.url}", flush=True)
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stub._server.server_close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m msedocs.delivery.stub", description="msedocs portal stub")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--mode", choices=MODES, default="ok")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--fail-next", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--hang", type=float, default=30.0, help="seconds to hold a request in timeout mode")
    p.add_argument("--probe-status", type=int, default=0, help="answer every status probe with this code")
    a = p.parse_args(argv)
    behaviour = StubBehaviour(a.mode, a.delay, a.fail_rate, a.fail_next, a.fail_status, a.hang, a.probe_status)
    serve(a.host, a.port, behaviour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
