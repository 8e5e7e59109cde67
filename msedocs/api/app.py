"""The HTTP application (FastAPI): ``/v1``, ``/healthz``, ``/readyz``.

The server process reads requests, checks cases and XML, keeps the store and answers; every
document is rendered (and every signature verified) in the worker processes of a
:class:`~msedocs.api.pool.RenderPool`. Errors are problem documents (:mod:`.problems`).
Nothing of a request's body reaches the log: a line per request names the method, the route,
the status, the time, the request id and the key id.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import web
from ..delivery.store import OutboxUnavailableError
from ..errors import FormNotApplicableError, InputError, UnknownFormError
from ..model.load import json_path
from . import engine
from .callbacks import CallbackPolicy, CallbackSender
from .jobs import JobRunner, RunnerConfig, execute, problem_of, worker_id
from .metrics import Metrics
from .models import (
    CallbackInfo,
    CallbackSecret,
    CertificateInfo,
    DeadlineReport,
    DeliveryDetail,
    DeliveryList,
    FormInfo,
    Health,
    JobOutput,
    JobStatus,
    JournalRequest,
    ProblemDocument,
    ProblemKind,
    ProtocolRequest,
    Readiness,
    RenderRequest,
    SignatureValue,
    SigningSessionRequest,
    SigningSessionStatus,
    XmlValidation,
)
from .pool import PoolBroken, PoolFull, RenderPool
from .problems import KINDS, MEDIA_TYPE, ApiProblem, type_uri
from .store import (
    AlreadyIssued,
    ApiKey,
    IdempotencyConflict,
    Job,
    JobBusy,
    JobGone,
    JobState,
    JobStore,
    SessionClosed,
    SessionState,
    SigningSession,
)

log = logging.getLogger("msedocs.api")
API_VERSION = "1.0.0"


@dataclass(frozen=True)
class ServiceConfig:
    """How ``msedocs serve`` runs; every field has the embedded default."""

    db_url: str
    """The store (SQLite file or PostgreSQL URL), shared with the outbox."""
    pki_dir: str | None = None
    """The TEST PKI that signs with profile ``test`` (created on first use)."""
    signing_config: str | None = None
    """A signing TOML: profile ``configured``."""
    workers: int = 2
    """Rendering processes."""
    queue: int = 8
    """Synchronous requests waiting for a renderer before 429."""
    max_queued_jobs: int = 1000
    """Queued asynchronous jobs before 429."""
    max_tasks_per_child: int = 200
    """Tasks a rendering process runs before it is replaced."""
    max_body: int = 17 * 1024 * 1024
    """Largest request body, bytes (a case may have 16 MiB); 413 above."""
    max_upload: int = 64 * 1024 * 1024
    """Largest body of POST /v1/signatures/validate, bytes."""
    max_batch: int = 256 * 1024 * 1024
    """Largest body of POST /v1/journals and /v1/protocols (cases as JSON Lines), bytes."""
    run_jobs: bool = True
    """Run queued jobs in this process's pool too (off: only ``msedocs worker --jobs`` does)."""
    lease: float = 60.0
    retry_after: int = 1
    """Seconds a 429 or 503 asks the client to wait: a render takes a fraction of a second, so the
    least the header can say (whole seconds); a longer wait left the renderers idle under load."""
    session_ttl: float = 900.0
    """Seconds a signing session waits for its signature value."""
    csc_services: tuple[str, ...] = ()
    """Base URLs of the CSC remote signing services sessions may use (the service calls them)."""
    callback_hosts: tuple[str, ...] = ()
    """Hosts a callback_url may name (``host`` or ``*.domain``); empty: any."""
    send_callbacks: bool = True
    """Send jobs' callbacks from this process too (any number of senders share the store)."""
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)


@dataclass
class Service:
    config: ServiceConfig
    store: JobStore
    pool: RenderPool
    runner: JobRunner | None = None
    sender: CallbackSender | None = None
    id: str = field(default_factory=lambda: worker_id("serve"))

    _outbox: Any = None
    _outbox_lock: threading.Lock = field(default_factory=threading.Lock)

    def outbox(self) -> Any:
        """The outbox (msedocs.delivery) in the service's database, opened on first use."""
        with self._outbox_lock:
            if self._outbox is None:
                self._outbox = engine.open_outbox(self.config.db_url)
            return self._outbox

    def today(self) -> dt.date:
        return self.store.clock().date()

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
        self.pool.shutdown()
        self.store.close()

    def pdf_engine(self, asked: str | None) -> str:
        """The PDF engine of a render: the one asked for, else the service's setting
        MSEDOCS_PDF_ENGINE (checked when the service starts), else weasyprint; recorded in the job."""
        try:
            return engine.pdf_engine(asked)
        except InputError as exc:  # the setting was changed to a wrong value since the start
            raise ApiProblem("internal", exc.message) from None

    def runner_config(self) -> RunnerConfig:
        return RunnerConfig(lease=self.config.lease, pki_dir=self.config.pki_dir,
                            signing_config=self.config.signing_config)  # fmt: skip


# -- the front: request id, traceparent, body limit, access log ---------------------------------

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def _problem_bytes(kind: str, detail: str, request_id: str, instance: str) -> bytes:
    return json.dumps(ApiProblem(kind, detail).body(instance, request_id)).encode()


class Front:
    """Pure ASGI middleware in front of everything: a request id (``X-Request-ID`` kept if sane,
    else made) and ``traceparent`` echoed; the body read whole up to the endpoint's limit before
    the application sees it (413 past it); one log line per request."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], int], metrics: Metrics,
                 shed: Callable[[str, str, dict[str, str]], int | None] | None = None) -> None:  # fmt: skip
        self.app = app
        self.limit = limit
        self.metrics = metrics
        self.shed = shed
        """(method, path, headers) -> Retry-After seconds when the request is refused at once (429)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        traceparent = headers.get("traceparent", "")
        traceparent = traceparent if _TRACEPARENT.fullmatch(traceparent) else ""
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 0}

        async def send_echoing(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["x-request-id"] = request_id
                if traceparent:
                    out["traceparent"] = traceparent
                status["code"] = message["status"]
            await send(message)

        try:
            wait = self.shed(scope["method"], scope["path"], headers) if self.shed is not None else None
            if wait is not None:  # every renderer busy: refused before the body is read, at next to no cost
                await self._refuse(scope, send_echoing, request_id, wait)
                return
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body = await self._read(scope, receive, headers)
                if body is None:
                    await self._too_large(scope, send_echoing, request_id)
                    return
                receive = _replaying(body, receive)
            await self.app(scope, receive, send_echoing)
        finally:
            state = scope.get("state", {})
            self.metrics.observe(scope["method"], _route(scope), status["code"], time.perf_counter() - started)
            log.info(
                "%s %s %s %.1fms request_id=%s key=%s",
                scope["method"], _route(scope), status["code"], (time.perf_counter() - started) * 1000,
                request_id, state.get("key_id", "-"),
            )  # fmt: skip

    async def _read(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> bytes | None:
        limit = self.limit(scope["path"])
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, request_id: str, wait: int) -> None:
        body = json.dumps(ApiProblem("queue-full", "every renderer is busy and the queue is full; retry after a "
                                     "while").body(scope["path"], request_id)).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(wait).encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    async def _too_large(self, scope: Scope, send: Send, request_id: str) -> None:
        limit = self.limit(scope["path"])
        body = _problem_bytes("payload-too-large", f"the body is over the {limit} bytes this endpoint accepts",
                              request_id, scope["path"])  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(no route)"


# -- errors ------------------------------------------------------------------------------------


def _problem_response(request: Request, problem: ApiProblem) -> JSONResponse:
    body = problem.body(request.url.path, getattr(request.state, "request_id", None))
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def on_problem(request: Request, exc: ApiProblem) -> Response:
        return _problem_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not-found", 405: "method-not-allowed", 406: "not-acceptable", 415: "unsupported-media-type",
                413: "payload-too-large"}.get(exc.status_code, "bad-request")  # fmt: skip
        return _problem_response(request, ApiProblem(kind, str(exc.detail), status=exc.status_code,
                                                      headers=dict(exc.headers or {})))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"path": json_path(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return _problem_response(request, ApiProblem("invalid-request", "the request's parameters are wrong",
                                                     errors=errors))  # fmt: skip

    @app.exception_handler(OutboxUnavailableError)
    async def on_unavailable(request: Request, exc: OutboxUnavailableError) -> Response:
        log.warning("store unavailable (request_id=%s)", getattr(request.state, "request_id", "-"))
        return _problem_response(request, ApiProblem("unavailable", "the store is unavailable; retry later",
                                                     headers={"Retry-After": "5"}))  # fmt: skip

    @app.exception_handler(Exception)
    async def on_internal(request: Request, exc: Exception) -> Response:
        log.error("internal error %s (request_id=%s)", type(exc).__name__, getattr(request.state, "request_id", "-"))
        return _problem_response(request, ApiProblem("internal", "an unexpected failure; the request id is logged"))


# -- dependencies ------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer msk_…`.")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, as a header.")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def require(*scopes: str) -> Callable[..., ApiKey]:
    """A dependency: the request's API key, which must hold every scope (``admin`` holds all)."""

    def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_api_key_header)],
    ) -> ApiKey:
        token = bearer.credentials if bearer is not None else header
        challenge = {"WWW-Authenticate": 'Bearer realm="msedocs"'}
        if not token:
            raise ApiProblem("unauthorized", "give an API key: Authorization: Bearer <key>", headers=challenge)
        key = _service(request).store.authenticate(token)
        if key is None:
            raise ApiProblem("unauthorized", "the API key is unknown or revoked", headers=challenge)
        request.state.key_id = key.id
        missing = [s for s in scopes if s not in key.scopes and "admin" not in key.scopes]
        if missing:
            raise ApiProblem("forbidden", f"this operation needs the scope(s) {', '.join(missing)}")
        return key

    return dependency


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _content_type(request: Request, *accepted: str) -> str:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in accepted:
        raise ApiProblem("unsupported-media-type", f"send the body as {' or '.join(accepted)}"
                         f" (got {given[:60] or 'no Content-Type'})")  # fmt: skip
    return given


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise ApiProblem("idempotency-key-required",
                         "give an Idempotency-Key header (a new random value for each new request)")  # fmt: skip
    key = key.strip().strip('"')
    if not (1 <= len(key) <= 255) or not key.isprintable():
        raise ApiProblem("bad-request", "Idempotency-Key: 1-255 printable characters")
    return key


# -- the application ---------------------------------------------------------------------------


def create_app(config: ServiceConfig, *, service: Service | None = None) -> FastAPI:
    """The application; the store, the pool and the job runner start with it (lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service
        if svc is None:
            store = JobStore(config.db_url, create=True)
            pool = RenderPool(config.workers, queue=config.queue, max_tasks_per_child=config.max_tasks_per_child)
            svc = Service(config, store, pool)
        app.state.service = svc
        app.state.ready_parts = engine.readiness()
        # an app stops only what it started: several apps may serve one Service (tests, embedding)
        started_runner = started_sender = False
        if config.run_jobs and svc.runner is None:
            svc.runner = JobRunner(svc.store, svc.pool, svc.runner_config(), name="serve")
            svc.runner.start()
            started_runner = True
        if config.send_callbacks and svc.sender is None:
            svc.sender = CallbackSender(svc.store, svc.id, config.callbacks)
            svc.sender.start()
            started_sender = True
        if config.run_jobs:  # print batches too: one a stopped server left resumes without a page being opened
            web.start(app, svc.pool)
        try:
            yield
        finally:
            web.close(app)
            if started_sender and svc.sender is not None:
                svc.sender.stop()
                svc.sender = None
            if started_runner and svc.runner is not None:
                svc.runner.stop()
                svc.runner = None
            if service is None:
                svc.close()

    app = FastAPI(
        title="msedocs",
        version=API_VERSION,
        summary="Statutory documents of medical-social expertise: render, sign, validate.",
        description="Errors are RFC 9457 problem documents (application/problem+json); each `type` is "
        "`/v1/problems/<kind>`. POSTs that create something need an `Idempotency-Key`.",
        lifespan=lifespan,
        responses={"default": {"model": ProblemDocument, "description": "A problem document"}},
    )

    def limit(path: str) -> int:
        if path in ("/v1/journals", "/v1/protocols"):
            return config.max_batch
        return config.max_upload if path == "/v1/signatures/validate" else config.max_body

    def shed(method: str, path: str, headers: dict[str, str]) -> int | None:
        """A synchronous render when no renderer can take it: 429 before anything is read."""
        if method != "POST" or path != "/v1/renders" or "respond-async" in headers.get("prefer", "").lower():
            return None
        svc: Service | None = getattr(app.state, "service", None)
        if svc is None or svc.pool.has_room():
            return None
        return svc.config.retry_after

    app.state.metrics = Metrics()
    app.add_middleware(Front, limit=limit, metrics=app.state.metrics, shed=shed)
    _install_error_handlers(app)
    _routes(app)
    from .referrals import router as referrals  # order 692n: /v1/referrals, /v1/bureaus, /v1/audit

    app.include_router(referrals)
    web.mount(app, config.db_url, config.pki_dir)  # the clerk's pages, /clerk (not in the OpenAPI)
    return app


def _problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ProblemDocument, "description": "A problem document",
                "content": {MEDIA_TYPE: {}}} for s in statuses}  # fmt: skip


Key = Annotated[ApiKey, Depends(require())]


def _routes(app: FastAPI) -> None:  # noqa: C901 - the routes, one after the other
    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        """The process answers (no authentication)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Readiness, tags=["service"], responses=_problem_responses(503))
    def readyz(request: Request) -> Response:
        """The store answers at its schema, the fonts and XSDs are installed, a renderer answers."""
        svc = _service(request)
        checks = {"store": svc.store.ping(), **request.app.state.ready_parts, "pool": svc.pool.ready}
        loaded = [m for m in ("weasyprint", "typst") if m in sys.modules]  # none in `msedocs serve`'s process
        if all(checks.values()):
            return JSONResponse(Readiness(ready=True, checks=checks, renderers_loaded_here=loaded).model_dump())
        failing = ", ".join(k for k, v in checks.items() if not v)
        raise ApiProblem("unavailable", f"not ready: {failing}", headers={"Retry-After": "5"},
                         extra={"ready": False, "checks": checks})  # fmt: skip

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {}}}, **_problem_responses(401, 403)})  # fmt: skip
    def metrics(request: Request, _key: Annotated[ApiKey, Depends(require("admin"))]) -> PlainTextResponse:
        """Prometheus metrics (scope admin): requests by route and status, their time, jobs by
        state, the rendering pool. No personal data: labels are route templates."""
        svc = _service(request)
        text = request.app.state.metrics.render(svc.store.counts(), svc.pool.inflight, svc.pool.capacity,
                                                svc.pool.workers, svc.store.callback_counts())  # fmt: skip
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/problems/{kind}", response_model=ProblemKind, tags=["service"],
             responses=_problem_responses(404))  # fmt: skip
    def problem_kind(kind: str) -> ProblemKind:
        """What a problem type means (no authentication)."""
        if kind not in KINDS:
            raise ApiProblem("not-found", "no such problem type")
        status, title, description = KINDS[kind]
        return ProblemKind(type=type_uri(kind), title=title, status=status, description=description)

    @app.get("/v1/forms", response_model=list[FormInfo], tags=["forms"], responses=_problem_responses(401))
    def forms(_key: Key) -> list[FormInfo]:
        """Every form of the registry."""
        return [FormInfo(**f) for f in engine.form_summaries()]

    @app.get("/v1/forms/{form_id}", response_model=FormInfo, tags=["forms"], responses=_problem_responses(401, 404))
    def form(form_id: str, _key: Key) -> FormInfo:
        """One form."""
        return FormInfo(**_form(form_id))

    @app.get("/v1/forms/{form_id}/xsd", tags=["forms"], response_class=FileResponse,
             responses={200: {"content": {"application/xml": {}}}, **_problem_responses(401, 404)})  # fmt: skip
    def form_xsd(form_id: str, _key: Key) -> FileResponse:
        """The form's XSD 1.0 (it imports common.xsd and the W3C XML Signature schema)."""
        _form(form_id)
        return FileResponse(engine.xsd_path(form_id), media_type="application/xml",
                            filename=f"{form_id}.xsd", content_disposition_type="inline")  # fmt: skip

    @app.get("/v1/schema/case.json", tags=["forms"], responses={200: {"content": {"application/schema+json": {}}},
                                                                 **_problem_responses(401)})  # fmt: skip
    def case_schema(_key: Key) -> Response:
        """The JSON Schema of the case input (as `msedocs schema`)."""
        return JSONResponse(engine.case_schema(), media_type="application/schema+json")

    @app.post(
        "/v1/xml/validate", response_model=XmlValidation, tags=["validate"],
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/xml": {"schema": {"type": "string", "format": "binary"}}}}},
        responses=_problem_responses(401, 403, 413, 415, 422),
    )  # fmt: skip
    def validate_xml(
        request: Request, body: Annotated[bytes, Depends(raw_body)],
        _key: Annotated[ApiKey, Depends(require("validate"))], form: str | None = None,
    ) -> XmlValidation:  # fmt: skip
        """`msedocs validate` on the body: a form, the protocol or a journal against its XSD
        (`form`, else the root's formId, else its namespace). DTDs, entities and XInclude are
        refused; values are described by kind and length, never quoted."""
        _content_type(request, "application/xml", "text/xml")
        try:
            report = engine.validate_xml(body, form)
        except engine.TooLarge as exc:
            raise ApiProblem("payload-too-large", exc.message) from None
        except InputError as exc:
            raise ApiProblem("unknown-form", exc.message) from None
        return XmlValidation.model_validate(report.__dict__)

    @app.post(
        "/v1/signatures/validate", tags=["validate"],
        openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary", "description": "XML, PDF or a signed file"},
                "signature": {"type": "string", "format": "binary", "description": "its detached .p7s"},
            }}}}}},
        responses={200: {"description": "The report of `msedocs verify --json`",
                         "content": {"application/json": {"schema": {"type": "object"}}}},
                   **_problem_responses(401, 403, 413, 415, 422, 429)},
    )  # fmt: skip
    async def validate_signatures(
        request: Request, _key: Annotated[ApiKey, Depends(require("validate"))],
        policy: str = "default", require_level: str | None = None,
    ) -> Response:  # fmt: skip
        """The report of `msedocs verify --json` for an uploaded file (and its `.p7s`), trusting
        the service's PKI. `policy`: default or basic; `require_level`: B-B … B-LTA."""
        _content_type(request, "multipart/form-data")
        if policy not in ("default", "basic"):
            raise ApiProblem("invalid-request", "policy: default or basic", errors=[
                {"path": "policy", "message": "is not one of: default, basic"}])  # fmt: skip
        if require_level is not None and require_level not in engine.LEVELS:
            raise ApiProblem("invalid-request", "require_level: one of " + ", ".join(engine.LEVELS))
        try:
            form = await request.form(max_files=2, max_fields=2, max_part_size=1024)
        except Exception:
            raise ApiProblem("bad-request", "the multipart body cannot be read") from None
        try:
            upload, signature = form.get("file"), form.get("signature")
            if upload is None or isinstance(upload, str):
                raise ApiProblem("invalid-request", "give the document as the part `file`",
                                 errors=[{"path": "file", "message": "required part is missing"}])  # fmt: skip
            content = await upload.read()
            p7s = await signature.read() if signature is not None and not isinstance(signature, str) else None
            name = re.sub(r"[^A-Za-z0-9._-]", "_", (upload.filename or "document")[-100:])
        finally:
            await form.close()
        svc = _service(request)
        from starlette.concurrency import run_in_threadpool

        try:
            report = await run_in_threadpool(
                svc.pool.run, engine.verify_task, content, p7s, svc.config.pki_dir, policy, require_level
            )
        except PoolFull:
            raise _queue_full(svc) from None
        except PoolBroken:
            raise ApiProblem("unavailable", "a verifying process stopped; retry",
                             headers={"Retry-After": "1"}) from None  # fmt: skip
        except InputError as exc:
            raise ApiProblem("unsupported-document", exc.message) from None
        report["path"] = name
        return JSONResponse(report)

    @app.post(
        "/v1/renders", tags=["render"], status_code=200,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/RenderRequest"}}}},
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "Prefer", "in": "header", "required": False,
                 "schema": {"type": "string", "enum": ["respond-async"]}},
            ],
        },
        responses={
            200: {"description": "One document: the file itself; several: application/zip with manifest.json",
                  "content": {"application/zip": {}, "application/pdf": {}, "application/xml": {},
                              "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {}}},
            202: {"description": "Accepted (Prefer: respond-async): see Location", "model": JobStatus},
            **_problem_responses(400, 401, 403, 409, 410, 413, 415, 422, 429),
        },
    )  # fmt: skip
    def render(
        request: Request, body: Annotated[bytes, Depends(raw_body)],
        key: Annotated[ApiKey, Depends(require("render"))],
    ) -> Response:  # fmt: skip
        """Render a case's forms; signed when `sign` is given (scope `sign` too). Answered when
        rendered, or at once with 202 and a job (`Prefer: respond-async`). The case is checked
        first: invalid data is a 422 listing every problem with its JSON path, and nothing is
        stored. A signed statutory document of a case is issued once (409 after)."""
        svc = _service(request)
        _content_type(request, "application/json")
        idem = _idempotency_key(request)
        respond_async = "respond-async" in request.headers.get("prefer", "").lower()
        req = _render_request(body)
        _check_callback(svc, req.callback_url)
        if req.sign is not None and "sign" not in key.scopes and "admin" not in key.scopes:
            raise ApiProblem("forbidden", "signing needs the scope sign")
        if req.sign is not None and req.variant == "paper":
            raise ApiProblem("invalid-request", "a signed document is the electronic variant (the paper one is "
                             "signed by hand and sealed)", errors=[{"path": "variant", "message": "paper "
                             "cannot be signed; give electronic or auto, or drop sign"}])  # fmt: skip
        if req.sign is not None and req.sign.profile == "configured" and not svc.config.signing_config:
            raise ApiProblem("invalid-request", "this service has no signing configuration",
                             errors=[{"path": "sign.profile", "message": "only test is available here"}])  # fmt: skip
        try:
            loaded = engine.load(req.case)
        except InputError as exc:
            raise ApiProblem.from_error(exc, "invalid-case", "case") from None
        try:
            form_ids = engine.select_forms(loaded.case, None if req.forms == "all" else req.forms)
        except UnknownFormError as exc:
            raise ApiProblem("unknown-form", exc.message, errors=[{"path": "forms", "message": exc.message}]) from None
        except FormNotApplicableError as exc:
            raise ApiProblem("form-not-applicable", exc.message,
                             errors=[{"path": "forms", "message": exc.message}]) from None  # fmt: skip
        if not form_ids:
            raise ApiProblem("form-not-applicable", "no form applies to this case",
                             errors=[{"path": "case", "message": "no form applies to this case"}])  # fmt: skip
        params = engine.RenderParams(
            loaded.json, tuple(req.forms) if req.forms != "all" else None, tuple(dict.fromkeys(req.formats)),
            req.variant, svc.pdf_engine(req.engine), level=req.sign.level if req.sign else None,
            profile=req.sign.profile if req.sign else "test", pki_dir=svc.config.pki_dir,
            signing_config=svc.config.signing_config,
        )  # fmt: skip
        documents = engine.issued_documents(form_ids, params.formats) if req.sign else []
        if respond_async:
            return _submit_async(request, svc, key, idem, params, loaded.case.case_id, documents, req.callback_url)
        return _render_now(request, svc, key, idem, params, loaded.case.case_id, documents, req.callback_url)

    def register_route(kind: str, model: type[JournalRequest] | type[ProtocolRequest], query: list[str],
                       summary: str) -> None:  # fmt: skip
        @app.post(
            f"/v1/{kind}s", tags=["render"], status_code=202, response_model=JobStatus, summary=summary,
            openapi_extra={
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
                    "application/x-ndjson": {"schema": {"type": "string", "description": "The cases, one JSON "
                                             "object a line; the other fields as query parameters."}},
                }},
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}},
                    *({"name": q, "in": "query", "required": False, "schema": {"type": "string"},
                       "description": "With a JSON Lines body only."} for q in query),
                ],
            },
            responses={202: {"description": "Accepted: see Location", "model": JobStatus},
                       **_problem_responses(400, 401, 403, 409, 410, 413, 415, 422, 429)},
            name=f"create_{kind}",
        )  # fmt: skip
        def create(request: Request, body: Annotated[bytes, Depends(raw_body)],
                   key: Annotated[ApiKey, Depends(require("render"))]) -> Response:  # fmt: skip
            return _register(request, body, key, kind, model, query)

        create.__doc__ = model.__doc__

    register_route("journal", JournalRequest, ["journal", "from", "to", "formats", "commission", "level", "profile",
                                               "callback_url"],
                   "A journal of a period over many cases, as a job")  # fmt: skip
    register_route("protocol", ProtocolRequest, ["number", "date", "formats", "variant", "level", "profile",
                                                 "callback_url"],
                   "The protocol of a commission session over its cases, as a job")  # fmt: skip

    @app.get("/v1/deliveries", response_model=DeliveryList, tags=["deliveries"],
             responses=_problem_responses(401, 403, 422))  # fmt: skip
    def deliveries(
        request: Request, _key: Annotated[ApiKey, Depends(require("deliver"))], status: str | None = None,
        channel: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> DeliveryList:  # fmt: skip
        """Outbox items (oldest first), by `status` and `channel`, each with its deadline; the
        counts per state. No recipient data."""
        if status is not None and status not in engine.delivery_states():
            raise ApiProblem("invalid-request", "unknown status", errors=[
                {"path": "status", "message": f"one of {', '.join(engine.delivery_states())}"}])  # fmt: skip
        if channel is not None and channel not in engine.delivery_channels():
            raise ApiProblem("invalid-request", "unknown channel", errors=[
                {"path": "channel", "message": f"one of {', '.join(engine.delivery_channels())}"}])  # fmt: skip
        svc = _service(request)
        return DeliveryList.model_validate(engine.deliveries(svc.outbox(), status, channel, limit, svc.today()))

    @app.get("/v1/deliveries/deadlines", response_model=DeadlineReport, tags=["deliveries"],
             responses=_problem_responses(401, 403, 422))  # fmt: skip
    def delivery_deadlines(request: Request, _key: Annotated[ApiKey, Depends(require("deliver"))],
                           date: dt.date | None = None) -> DeadlineReport:  # fmt: skip
        """As `msedocs deadlines --json`: items due, overdue and delivered late on `date` (today)."""
        svc = _service(request)
        return DeadlineReport.model_validate(engine.deadline_report(svc.outbox(), date or svc.today()))

    @app.get("/v1/deliveries/{item_id}", response_model=DeliveryDetail, tags=["deliveries"],
             responses=_problem_responses(401, 403, 404))  # fmt: skip
    def delivery(item_id: int, request: Request,
                 _key: Annotated[ApiKey, Depends(require("deliver"))]) -> DeliveryDetail:  # fmt: skip
        """One item: its deadline, its documents (names and digests, not the content) and its history."""
        svc = _service(request)
        try:
            return DeliveryDetail.model_validate(engine.delivery(svc.outbox(), item_id, svc.today()))
        except InputError:
            raise ApiProblem("not-found", "no such delivery") from None

    @app.post("/v1/deliveries/{item_id}/retry", response_model=DeliveryDetail, tags=["deliveries"],
              responses=_problem_responses(401, 403, 404, 409))  # fmt: skip
    def retry_delivery(item_id: int, request: Request,
                       _key: Annotated[ApiKey, Depends(require("deliver"))]) -> DeliveryDetail:  # fmt: skip
        """As `msedocs queue retry`: a dead, waiting (retry_wait, unresolved) or returned item
        queued again now with a fresh set of attempts; any other state is 409."""
        svc = _service(request)
        try:
            return DeliveryDetail.model_validate(engine.retry_delivery(svc.outbox(), item_id, svc.today()))
        except engine.DeliveryStateError as exc:
            raise ApiProblem("delivery-state", exc.message) from None
        except InputError:
            raise ApiProblem("not-found", "no such delivery") from None

    @app.post(
        "/v1/signing-sessions", tags=["sign"], status_code=201, response_model=SigningSessionStatus,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SigningSessionRequest"}}}},
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}}],
        },
        responses=_problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
    )  # fmt: skip
    def create_signing_session(request: Request, body: Annotated[bytes, Depends(raw_body)],
                               key: Annotated[ApiKey, Depends(require("sign"))]) -> Response:  # fmt: skip
        """Two-step signing with a key held elsewhere (a bureau head's token, a remote signing
        service): a rendered PDF (`document`: an output of one of this key's jobs) or a form of a
        case rendered now (`render`) is prepared for a PAdES signature with the given certificate,
        and the data to sign is returned with its frozen parameters (signing time, certificate,
        level). Sign `data_to_sign` (SHA-256) and PUT the value to `/signature` before
        `expires_at`."""
        return _create_session(request, body, key)

    @app.get("/v1/signing-sessions/{session_id}", response_model=SigningSessionStatus, tags=["sign"],
             responses=_problem_responses(401, 403, 404))  # fmt: skip
    def signing_session(session_id: str, request: Request,
                        key: Annotated[ApiKey, Depends(require("sign"))]) -> SigningSessionStatus:  # fmt: skip
        """A signing session: its data to sign, its state."""
        svc = _service(request)
        return _session_status(svc, _own_session(svc, key, session_id))

    @app.put("/v1/signing-sessions/{session_id}/signature", response_model=SigningSessionStatus, tags=["sign"],
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/SignatureValue"}}}}},
             responses=_problem_responses(400, 401, 403, 404, 409, 410, 415, 422, 429, 503))  # fmt: skip
    def put_signature(session_id: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
                      key: Annotated[ApiKey, Depends(require("sign"))]) -> SigningSessionStatus:  # fmt: skip
        """Complete the document with the signature value over `data_to_sign`: the CMS is built
        around it (with a timestamp at B-T) and written into the prepared PDF. The value must
        verify with the session's certificate (else 422). Putting the same value again answers
        the same; another value after completion is 409; after `expires_at`, 410."""
        return _complete_session(request, body, key, session_id)

    @app.get("/v1/signing-sessions/{session_id}/document", tags=["sign"],
             responses={200: {"description": "The signed PDF", "content": {"application/pdf": {}}},
                        **_problem_responses(401, 403, 404, 409)})  # fmt: skip
    def signed_document(session_id: str, request: Request,
                        key: Annotated[ApiKey, Depends(require("sign"))]) -> Response:  # fmt: skip
        """The signed PDF of a completed session."""
        svc = _service(request)
        found = _own_session(svc, key, session_id)
        if found.signed_sha256 is None:
            raise ApiProblem("session-closed", "the session has no signed document yet", status=409)
        return Response(svc.store.content(found.signed_sha256), media_type="application/pdf",
                        headers=_file_headers(found.document, found.signed_sha256))  # fmt: skip

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus, tags=["jobs"], responses=_problem_responses(401, 404))
    def job(job_id: str, request: Request, key: Annotated[ApiKey, Depends(require("render"))]) -> JobStatus:
        """A job's state and progress; its outputs once it succeeded, its problem if it failed."""
        svc = _service(request)
        return _status(svc, _own_job(svc, key, job_id))

    @app.get("/v1/jobs/{job_id}/outputs/{name}", tags=["jobs"],
             responses={200: {"description": "The file", "content": {"application/octet-stream": {}}},
                        **_problem_responses(401, 404)})  # fmt: skip
    def job_output(job_id: str, name: str, request: Request,
                   key: Annotated[ApiKey, Depends(require("render"))]) -> Response:  # fmt: skip
        """One output file of a succeeded job (`manifest.json` too)."""
        svc = _service(request)
        found = _own_job(svc, key, job_id)
        if name == "manifest.json" and found.manifest is not None:
            return JSONResponse(found.manifest)
        for output in svc.store.outputs(job_id):
            if output.name == name:
                return Response(svc.store.content(output.sha256), media_type=output.media_type,
                                headers=_file_headers(output.name, output.sha256))  # fmt: skip
        raise ApiProblem("not-found", "no such output of this job")

    @app.get("/v1/callbacks/secret", response_model=CallbackSecret, tags=["jobs"],
             responses=_problem_responses(401))  # fmt: skip
    def callback_secret(request: Request, key: Key) -> CallbackSecret:
        """The secret that signs this key's callbacks (Standard Webhooks v1: HMAC-SHA256 over
        `{webhook-id}.{webhook-timestamp}.{body}`, base64, in `webhook-signature` as `v1,<sig>`)."""
        secret = _service(request).store.callback_secret(key.id)
        return CallbackSecret(secret=secret, scheme="Standard Webhooks v1 (HMAC-SHA256)",
                              headers=["webhook-id", "webhook-timestamp", "webhook-signature"])  # fmt: skip

    @app.delete("/v1/jobs/{job_id}", status_code=204, tags=["jobs"], responses=_problem_responses(401, 404, 409))
    def delete_job(job_id: str, request: Request, key: Annotated[ApiKey, Depends(require("render"))]) -> Response:
        """Cancel a queued job, or remove a finished one and its files (what it issued stays
        issued). A running job: 409."""
        svc = _service(request)
        _own_job(svc, key, job_id)
        try:
            svc.store.delete(job_id)
        except JobBusy as exc:
            raise ApiProblem("job-running", exc.message) from None
        return Response(status_code=204)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)  # fmt: skip
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (RenderRequest, JournalRequest, ProtocolRequest, SigningSessionRequest, SignatureValue):
            defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(defs.pop("$defs", {}))
            components[model.__name__] = defs
        _problems_as_problem_json(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_as_problem_json(schema: dict[str, Any]) -> None:
    """Every error response described as what it is: an ``application/problem+json`` problem
    document (FastAPI describes its own 422 as JSON ``HTTPValidationError``, and a response
    model as ``application/json``)."""
    problem = {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}
    for methods in schema.get("paths", {}).values():
        for op in methods.values():
            for status, response in op.get("responses", {}).items():
                if status == "default" or int(status) >= 400:
                    response["content"] = {MEDIA_TYPE: problem}
                    if status == "422":
                        response["description"] = "A problem document: the request's data breaks its rules"
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _form(form_id: str) -> dict[str, Any]:
    try:
        return engine.form_detail(form_id)
    except UnknownFormError:
        raise ApiProblem("not-found", "no such form; see GET /v1/forms") from None


def _json_object(body: bytes, what: str = "a request") -> dict[str, Any]:
    """A request's JSON body, which must be an object (ApiProblem: invalid-json, invalid-request)."""
    try:
        data = engine.parse_body(body)
    except InputError as exc:
        raise ApiProblem.from_error(exc, "invalid-json") from None
    if not isinstance(data, dict):
        raise ApiProblem("invalid-request", "the body is a JSON object",
                         errors=[{"path": "(body)", "message": f"{what} is a JSON object"}])  # fmt: skip
    return data


def _invalid(exc: ValidationError) -> ApiProblem:
    """The model's complaints about a request, each with its JSON path."""
    errors = [{"path": json_path(tuple(e["loc"])) or "(body)", "message": e["msg"]}
              for e in exc.errors(include_url=False, include_input=False)]  # fmt: skip
    return ApiProblem("invalid-request", f"{len(errors)} problem(s) in the request", errors=errors)


def _render_request(body: bytes) -> RenderRequest:
    data = _json_object(body, "a render request")
    if "case" in data and not isinstance(data["case"], dict):
        try:
            engine.load(data["case"])
        except InputError as exc:
            raise ApiProblem.from_error(exc, "invalid-case", "case") from None
    try:
        return RenderRequest.model_validate(data, strict=True)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _check_callback(svc: Service, url: str | None) -> None:
    """A callback_url's host must be one the service may call (``--callback-host``), if it is
    configured with any: the service POSTs there from inside its network."""
    allowed = svc.config.callback_hosts
    if url is None or not allowed:
        return
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if not any(host == a.lower() or (a.startswith("*.") and host.endswith(a[1:].lower())) for a in allowed):
        raise ApiProblem("invalid-request", "callbacks may not go to this host",
                         errors=[{"path": "callback_url", "message": "not a host this service calls"}])  # fmt: skip


def _validated(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate_json(json.dumps(data, ensure_ascii=False), strict=True)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _from_query(request: Request, allowed: list[str]) -> dict[str, Any]:
    """The fields of a register request given as query parameters (with a JSON Lines body)."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ApiProblem("invalid-request", "unknown query parameter(s)", errors=[
            {"path": u[:60], "message": f"not one of: {', '.join(allowed)}"} for u in unknown])  # fmt: skip
    data: dict[str, Any] = {}
    for name in allowed:
        value = request.query_params.get(name)
        if value is None or name in ("level", "profile"):
            continue
        data[name] = [f.strip() for f in value.split(",") if f.strip()] if name == "formats" else value
    level, profile = request.query_params.get("level"), request.query_params.get("profile")
    if level is not None or profile is not None:
        data["sign"] = {k: v for k, v in (("level", level), ("profile", profile)) if v is not None}
    return data


def _register(request: Request, body: bytes, key: ApiKey, kind: str, model: type[Any], query: list[str]) -> Response:
    """POST /v1/journals and /v1/protocols: the request checked, its cases checked and stored,
    a job queued (202 with Location)."""
    svc = _service(request)
    ctype = _content_type(request, "application/json", "application/x-ndjson", "application/jsonl")
    idem = _idempotency_key(request)
    if ctype == "application/json":
        data = _json_object(body)
        if request.query_params:
            raise ApiProblem("invalid-request", "with a JSON body, give every field in the body",
                             errors=[{"path": "(query)", "message": "none with a JSON body"}])  # fmt: skip
        digest_of = body
    else:
        data = _from_query(request, query)
        digest_of = body + b"\0query:" + json.dumps(data, sort_keys=True).encode()
    req = _validated(model, data)
    _check_callback(svc, req.callback_url)
    if req.sign is not None and "sign" not in key.scopes and "admin" not in key.scopes:
        raise ApiProblem("forbidden", "signing needs the scope sign")
    if req.sign is not None and req.sign.profile == "configured" and not svc.config.signing_config:
        raise ApiProblem("invalid-request", "this service has no signing configuration",
                         errors=[{"path": "sign.profile", "message": "only test is available here"}])  # fmt: skip
    options: dict[str, Any]
    if kind == "journal":
        if req.journal not in engine.journal_ids():
            raise ApiProblem("unknown-form", f"unknown journal id; journals: {', '.join(engine.journal_ids())}",
                             errors=[{"path": "journal", "message": "not a journal id"}])  # fmt: skip
        if req.from_ > req.to:
            raise ApiProblem("invalid-request", "the period ends before it starts",
                             errors=[{"path": "to", "message": "is before from"}])  # fmt: skip
        options = {"journal": req.journal, "from": req.from_.isoformat(), "to": req.to.isoformat(),
                   "commission": req.commission}  # fmt: skip
    else:
        if req.sign is not None and req.variant == "paper" and "variant" in data:
            raise ApiProblem("invalid-request", "a signed protocol is the electronic variant",
                             errors=[{"path": "variant", "message": "paper cannot be signed"}])  # fmt: skip
        options = {"number": req.number, "date": req.date.isoformat() if req.date else None,
                   "variant": "electronic" if req.sign is not None else req.variant}  # fmt: skip
    if ctype != "application/json":
        cases = body
    elif req.cases == "stored":
        latest: dict[str, bytes] = {}
        for raw in svc.store.stored_requests(None if "admin" in key.scopes else key.id):
            found = engine.stored_case(raw)
            if found is not None:
                latest.pop(found[0], None)
                latest[found[0]] = found[1]
        cases = b"".join(latest.values())
        if not cases:
            raise ApiProblem("invalid-request", "the service has no cases of this key: render them first, or post "
                             "them", errors=[{"path": "cases", "message": "no stored cases"}])  # fmt: skip
    else:
        cases = engine.cases_jsonl(req.cases)
    count, problems = engine.check_batch(cases, as_array=ctype == "application/json")
    if problems:
        raise ApiProblem("invalid-case", f"invalid case data; no {kind} queued", errors=problems)
    params = engine.RegisterParams(kind, options, tuple(dict.fromkeys(req.formats)),
                                   hashlib.sha256(cases).hexdigest(), level=req.sign.level if req.sign else None,
                                   profile=req.sign.profile if req.sign else "test")  # fmt: skip
    if svc.store.queued() >= svc.config.max_queued_jobs:
        raise _queue_full(svc)
    try:
        submitted = svc.store.submit(key.id, idem, params.to_json(), case_id=None, respond_async=True, kind=kind,
                                     callback_url=req.callback_url, digest_of=digest_of, blobs=[cases])  # fmt: skip
    except IdempotencyConflict as exc:
        raise ApiProblem("idempotency-key-reused", exc.message) from None
    except JobGone as exc:
        raise ApiProblem("job-deleted", exc.message) from None
    return _replay(svc, submitted.job, replayed=not submitted.created)


def _der(text: str, path: str) -> bytes:
    """A certificate given as PEM or base64 DER."""
    import base64
    import binascii

    body = text.strip()
    if body.startswith("-----BEGIN"):
        body = "".join(line for line in body.splitlines() if not line.startswith("-----"))
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem("invalid-request", "a certificate is PEM or base64 DER",
                         errors=[{"path": path, "message": "not PEM or base64"}]) from None  # fmt: skip


def _in_pool(svc: Service, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return svc.pool.run(fn, *args)
    except PoolFull:
        raise _queue_full(svc) from None
    except PoolBroken:
        raise ApiProblem("unavailable", "a rendering process stopped; retry",
                         headers={"Retry-After": str(svc.config.retry_after)}) from None  # fmt: skip


def _create_session(request: Request, body: bytes, key: ApiKey) -> Response:
    svc = _service(request)
    _content_type(request, "application/json")
    idem = _idempotency_key(request)
    req = _validated(SigningSessionRequest, _json_object(body))
    if (req.document is None) == (req.render is None):
        raise ApiProblem("invalid-request", "give document or render, one of them",
                         errors=[{"path": "document", "message": "give document or render"}])  # fmt: skip
    try:
        earlier = svc.store.session_by_key(key.id, idem, body)
    except IdempotencyConflict as exc:
        raise ApiProblem("idempotency-key-reused", exc.message) from None
    if earlier is not None:
        return _session_response(svc, earlier, replayed=True)
    if (req.certificate is None) == (req.csc is None):
        raise ApiProblem("invalid-request", "give certificate or csc, one of them",
                         errors=[{"path": "certificate", "message": "give certificate or csc"}])  # fmt: skip
    if req.csc is not None:
        service = req.csc.service.rstrip("/")
        if service not in {u.rstrip("/") for u in svc.config.csc_services}:
            raise ApiProblem("invalid-request", "this service is not configured to use that CSC signing service",
                             errors=[{"path": "csc.service", "message": "not a configured service"}])  # fmt: skip
        try:
            cert, chain = _in_pool(svc, engine.csc_credential_task, service, req.csc.credential_id, req.csc.token)
        except InputError as exc:
            raise ApiProblem.from_error(exc, "invalid-request") from None
    else:
        assert req.certificate is not None
        cert = _der(req.certificate, "certificate")
        chain = [_der(c, f"chain[{n}]") for n, c in enumerate(req.chain)]
    try:
        engine.certificate_info(cert)
    except InputError as exc:
        raise ApiProblem.from_error(exc, "invalid-request") from None
    if req.document is not None:
        job = _own_job(svc, key, req.document.job)
        outputs = {o.name: o for o in svc.store.outputs(job.id)} if job.state == JobState.SUCCEEDED else {}
        if req.document.output not in outputs:
            raise ApiProblem("not-found", "the job has no such PDF output (or has not succeeded)")
        pdf = svc.store.content(outputs[req.document.output].sha256)
        case_id, name = job.case_id, req.document.output
    else:
        assert req.render is not None
        try:
            loaded = engine.load(req.render.case)
        except InputError as exc:
            raise ApiProblem.from_error(exc, "invalid-case", "render.case") from None
        try:
            engine.select_forms(loaded.case, [req.render.form])
        except UnknownFormError as exc:
            raise ApiProblem("unknown-form", exc.message,
                             errors=[{"path": "render.form", "message": exc.message}]) from None  # fmt: skip
        except FormNotApplicableError as exc:
            raise ApiProblem("form-not-applicable", exc.message,
                             errors=[{"path": "render.form", "message": exc.message}]) from None  # fmt: skip
        params = engine.RenderParams(loaded.json, (req.render.form,), ("pdf",), "electronic")
        rendered = _in_pool(svc, engine.render_task, params)
        (name, _media, pdf), *_ = rendered.files
        case_id = loaded.case.case_id
    if case_id and (holder := svc.store.is_issued(case_id, name)) is not None:
        raise ApiProblem("already-issued", f"case {case_id}: {name} was already issued; a statutory document is "
                         "issued once", extra={"issued_by": [{"document": name, "job": holder}]})  # fmt: skip
    try:
        prep = _in_pool(svc, engine.prepare_signature_task, pdf, cert, chain, req.role or "", req.level,
                        svc.config.pki_dir, svc.config.signing_config)  # fmt: skip
    except InputError as exc:  # the level's validation data (a field named) or the PDF
        raise (ApiProblem.from_error(exc, "invalid-request") if exc.problems
               else ApiProblem("unsupported-document", exc.message)) from None  # fmt: skip
    signing_time = dt.datetime.fromisoformat(prep["signing_time"]).replace(tzinfo=None) if prep["signing_time"] \
        else None  # fmt: skip
    values = {
        "level": req.level, "role": req.role, "case_id": case_id, "document": name, "certificate": cert,
        "key_source": "csc" if req.csc is not None else "certificate",
        "csc_service": req.csc.service.rstrip("/") if req.csc else None,
        "csc_credential": req.csc.credential_id if req.csc else None,
        "chain": json.dumps([base64.b64encode(c).decode() for c in chain]),
        "document_digest": prep["document_digest"].hex(), "region_start": prep["start"], "region_end": prep["end"],
        "signed_attrs": prep["signed_attrs"], "field_name": prep["field"], "signing_time": signing_time,
    }  # fmt: skip
    try:
        session, created = svc.store.create_session(key.id, idem, body, values, prep["prepared"],
                                                    svc.config.session_ttl)  # fmt: skip
    except IdempotencyConflict as exc:
        raise ApiProblem("idempotency-key-reused", exc.message) from None
    return _session_response(svc, session, replayed=not created)


def _session_response(svc: Service, session: SigningSession, *, replayed: bool) -> Response:
    headers = {"Location": f"/v1/signing-sessions/{session.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    body = _session_status(svc, session).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if replayed else 201, headers=headers)


def _complete_session(request: Request, body: bytes, key: ApiKey, session_id: str) -> SigningSessionStatus:
    import binascii

    svc = _service(request)
    found = _own_session(svc, key, session_id)
    _content_type(request, "application/json")
    given = _validated(SignatureValue, _json_object(body))
    if (given.signature is None) == (given.csc is None) or (given.csc is not None) != (found.key_source == "csc"):
        what = "csc (the SAD)" if found.key_source == "csc" else "signature"
        raise ApiProblem("invalid-request", f"this session takes {what}",
                         errors=[{"path": what.split()[0], "message": "required for this session"}])  # fmt: skip
    if given.csc is not None:
        if found.state == SessionState.COMPLETED:
            raise ApiProblem("session-closed", "the session was completed")
        if svc.store.clock() > found.expires_at:
            raise ApiProblem("session-expired", "the session expired; start a new one")
        assert found.csc_service is not None and found.csc_credential is not None
        try:
            signature = _in_pool(svc, engine.csc_sign_task, found.csc_service, found.csc_credential, given.csc.token,
                                 given.csc.sad, found.signed_attrs, found.certificate)  # fmt: skip
        except InputError as exc:
            raise ApiProblem.from_error(exc, "invalid-request") from None
    else:
        try:
            signature = base64.b64decode(given.signature or "", validate=True)
        except (binascii.Error, ValueError):
            raise ApiProblem("invalid-request", "the signature is base64",
                             errors=[{"path": "signature", "message": "not base64"}]) from None  # fmt: skip
    if found.state == SessionState.COMPLETED:
        if found.signature_sha256 == hashlib.sha256(signature).hexdigest():
            return _session_status(svc, found)
        raise ApiProblem("session-closed", "the session was completed with another signature value")
    if svc.store.clock() > found.expires_at:
        raise ApiProblem("session-expired", "the session expired; start a new one")
    prepared = svc.store.content(found.prepared_sha256)
    try:
        signed = _in_pool(svc, engine.complete_signature_task, prepared, bytes.fromhex(found.document_digest),
                          found.region_start, found.region_end, found.signed_attrs, found.certificate, found.chain,
                          signature, found.level, svc.config.pki_dir, svc.config.signing_config)  # fmt: skip
    except InputError as exc:
        raise ApiProblem.from_error(exc, "invalid-request") from None
    try:
        done = svc.store.complete_session(found.id, signature, signed)
    except AlreadyIssued as exc:
        raise ApiProblem("already-issued", exc.message, extra={"issued_by": [
            {"document": d, "job": j} for d, j in exc.clashes]}) from None  # fmt: skip
    except SessionClosed as exc:
        raise ApiProblem("session-closed", exc.message) from None
    return _session_status(svc, done)


def _own_session(svc: Service, key: ApiKey, session_id: str) -> SigningSession:
    return _owned(svc.store.session(session_id) if _ID.fullmatch(session_id) else None, key, "signing session")


def _session_status(svc: Service, session: SigningSession) -> SigningSessionStatus:
    state = session.state
    if state == SessionState.AWAITING and svc.store.clock() > session.expires_at:
        state = "expired"
    attrs = session.signed_attrs
    return SigningSessionStatus(
        id=session.id, state=state, format="PAdES", level=session.level,  # type: ignore[arg-type]
        key_source=session.key_source,  # type: ignore[arg-type]
        csc={"service": session.csc_service, "credential_id": session.csc_credential or ""}
        if session.csc_service else None,
        document=session.document, case_id=session.case_id, field_name=session.field_name,
        signing_time=session.signing_time, expires_at=session.expires_at,
        certificate=CertificateInfo(**engine.certificate_info(session.certificate, at=session.created_at)),
        digest_algorithm="SHA-256", document_digest=session.document_digest,
        data_to_sign=base64.b64encode(attrs).decode(),
        data_to_sign_sha256=base64.b64encode(hashlib.sha256(attrs).digest()).decode(),
        signed_document=f"/v1/signing-sessions/{session.id}/document" if session.signed_sha256 else None,
    )  # fmt: skip


def _queue_full(svc: Service) -> ApiProblem:
    return ApiProblem("queue-full", "every renderer is busy and the queue is full; retry after a while",
                      headers={"Retry-After": str(svc.config.retry_after)})  # fmt: skip


def _submit(svc: Service, key: ApiKey, idem: str, params: engine.RenderParams, case_id: str,
            documents: list[str], respond_async: bool, claim: bool, callback_url: str | None) -> Any:  # fmt: skip
    try:
        return svc.store.submit(key.id, idem, params.to_json(), case_id=case_id, documents=documents,
                                respond_async=respond_async, claim_for=svc.id if claim else None,
                                lease=svc.config.lease, callback_url=callback_url)  # fmt: skip
    except IdempotencyConflict as exc:
        raise ApiProblem("idempotency-key-reused", exc.message) from None
    except AlreadyIssued as exc:
        raise ApiProblem("already-issued", exc.message, extra={"issued_by": [
            {"document": d, "job": f"/v1/jobs/{j}"} for d, j in exc.clashes]}) from None  # fmt: skip
    except JobGone as exc:
        raise ApiProblem("job-deleted", exc.message) from None


def _submit_async(request: Request, svc: Service, key: ApiKey, idem: str, params: engine.RenderParams,
                  case_id: str, documents: list[str], callback_url: str | None) -> Response:  # fmt: skip
    if svc.store.queued() >= svc.config.max_queued_jobs:
        raise _queue_full(svc)
    submitted = _submit(svc, key, idem, params, case_id, documents, respond_async=True, claim=False,
                        callback_url=callback_url)  # fmt: skip
    return _replay(svc, submitted.job, replayed=not submitted.created)


def _render_now(request: Request, svc: Service, key: ApiKey, idem: str, params: engine.RenderParams,
                case_id: str, documents: list[str], callback_url: str | None) -> Response:  # fmt: skip
    try:
        svc.pool.reserve()
    except PoolFull:
        raise _queue_full(svc) from None
    try:
        submitted = _submit(svc, key, idem, params, case_id, documents, respond_async=False, claim=True,
                            callback_url=callback_url)  # fmt: skip
    except BaseException:
        svc.pool.unreserve()
        raise
    if submitted.claim is None:  # the same key and body again: the first response
        svc.pool.unreserve()
        return _replay(svc, submitted.job, replayed=True)
    outcome = execute(svc.store, svc.pool, submitted.claim, svc.runner_config(), reserved=True)
    if outcome == "released":  # a renderer died: the job is queued again; the same key replays it later
        raise ApiProblem("unavailable", "a rendering process stopped; the job is queued again: retry with the "
                         "same Idempotency-Key", headers={"Retry-After": str(svc.config.retry_after),
                         "Location": f"/v1/jobs/{submitted.job.id}"})  # fmt: skip
    done = svc.store.get(submitted.job.id)
    assert done is not None
    return _replay(svc, done, replayed=False)


def _replay(svc: Service, job: Job, *, replayed: bool) -> Response:
    """The response of a render request, from its job: 202 for an asynchronous one, the file or
    a ZIP for a succeeded one, its problem for a failed one."""
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    location = f"/v1/jobs/{job.id}"
    if job.respond_async:
        status = _status(svc, job).model_dump(mode="json")
        return JSONResponse(status, status_code=202, headers={
            **headers, "Location": location, "Preference-Applied": "respond-async"})  # fmt: skip
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        raise ApiProblem("request-in-progress", "the first request with this Idempotency-Key is still being "
                         "rendered; retry later or poll the job", headers={"Location": location,
                         "Retry-After": "1"}, extra={"job": location})  # fmt: skip
    if job.state != JobState.SUCCEEDED:
        problem = dict(job.error or problem_of(RuntimeError("cancelled")))
        problem["job"] = location
        return JSONResponse(problem, status_code=int(problem.get("status", 500)), media_type=MEDIA_TYPE,
                            headers={**headers, "Location": location})  # fmt: skip
    outputs = svc.store.outputs(job.id)
    headers.update({"X-Job-ID": job.id, "Content-Location": location})
    if len(outputs) == 1:
        (only,) = outputs
        return Response(svc.store.content(only.sha256), media_type=only.media_type,
                        headers={**headers, **_file_headers(only.name, only.sha256)})  # fmt: skip
    return _zip(svc, job, outputs, headers)


def _zip(svc: Service, job: Job, outputs: list[Any], headers: dict[str, str]) -> Response:
    from zipstream import ZIP_STORED, ZipStream

    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    for output in outputs:
        stream.add(svc.store.content(output.sha256), output.name)
    manifest = json.dumps(job.manifest or {}, ensure_ascii=False, indent=2).encode() + b"\n"
    stream.add(manifest, "manifest.json")
    size = len(stream)

    def chunks() -> Iterator[bytes]:
        yield from stream

    return StreamingResponse(chunks(), media_type="application/zip", headers={
        **headers, "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{job.id}.zip"'})  # fmt: skip


def _file_headers(name: str, sha256: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "ETag": f'"{sha256}"'}


#: A job's or a signing session's id.
_ID = re.compile(r"[0-9a-f]{32}")
_Owned = TypeVar("_Owned", Job, SigningSession)


def _owned(found: _Owned | None, key: ApiKey, what: str) -> _Owned:
    """A job or signing session of ``key`` (an admin key's: any); else 404, whether it exists or not."""
    if found is None or (found.key_id != key.id and "admin" not in key.scopes):
        raise ApiProblem("not-found", f"no such {what}")
    return found


def _own_job(svc: Service, key: ApiKey, job_id: str) -> Job:
    return _owned(svc.store.get(job_id) if _ID.fullmatch(job_id) else None, key, "job")


def _status(svc: Service, job: Job) -> JobStatus:
    outputs = svc.store.outputs(job.id) if job.state == JobState.SUCCEEDED else []
    return JobStatus(
        id=job.id, kind=job.kind, state=job.state, progress=job.progress,  # type: ignore[arg-type]
        case_id=job.case_id, attempts=job.attempts, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, issued=svc.store.issued(job.id), manifest=job.manifest, error=job.error,
        callbacks=[CallbackInfo(**c.__dict__) for c in svc.store.callbacks_of(job.id)] if job.callback_url else [],
        outputs=[JobOutput(name=o.name, media_type=o.media_type, size=o.size, sha256=o.sha256,
                           href=f"/v1/jobs/{job.id}/outputs/{o.name}") for o in outputs],
    )  # fmt: skip


__all__ = ["ServiceConfig", "create_app"]
