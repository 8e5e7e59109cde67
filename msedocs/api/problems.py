"""Errors as RFC 9457 problem documents (``application/problem+json``), one ``type`` per kind.

Every kind is listed in :data:`KINDS`; its type URI is ``/v1/problems/<kind>`` (relative to
the service; ``GET /v1/problems/<kind>`` describes it). A problem may carry ``errors``: each
``{path, message, line}``, the JSON path (of the request body) or XPath and the rule broken,
never the value given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..errors import MsedocsError, Problem

MEDIA_TYPE = "application/problem+json"


class Kind(NamedTuple):
    """A kind of problem: its HTTP status, its title and what it means."""

    status: int
    title: str
    meaning: str


#: Every kind of problem, by its name.
KINDS: dict[str, Kind] = {
    "bad-request": Kind(400, "Bad request", "The request is malformed (a header or a parameter)."),
    "idempotency-key-required": Kind(
        400, "Idempotency-Key required", "A POST that creates something needs an Idempotency-Key header.",
    ),
    "unauthorized": Kind(401, "Authentication required", "No API key, or a key that is unknown or revoked."),
    "forbidden": Kind(403, "Scope missing", "The API key lacks the scope this operation needs."),
    "not-found": Kind(404, "Not found", "No such resource (or not one of this key's)."),
    "method-not-allowed": Kind(405, "Method not allowed", "The resource does not support this method."),
    "not-acceptable": Kind(406, "Not acceptable", "The response cannot be given in a media type the client accepts."),
    "idempotency-key-reused": Kind(
        409, "Idempotency-Key reused", "The key was used before with another request body; use a new key.",
    ),
    "request-in-progress": Kind(
        409, "Request in progress", "The first request with this Idempotency-Key is still being processed.",
    ),
    "already-issued": Kind(
        409, "Document already issued",
        "A signed statutory document of the case was issued (or is being issued) by another job; it is issued once.",
    ),
    "job-running": Kind(409, "Job running", "A running job cannot be deleted; wait for it to finish."),
    "delivery-state": Kind(
        409, "Delivery state", "The delivery's state allows no retry (only dead, waiting or returned).",
    ),
    "session-closed": Kind(409, "Signing session closed", "The session was completed with another signature value."),
    "session-expired": Kind(410, "Signing session expired", "The session's data to sign is no longer accepted."),
    "job-deleted": Kind(410, "Job deleted", "The job of this Idempotency-Key was deleted; its response is gone."),
    "payload-too-large": Kind(413, "Request body too large", "The body is over the limit of this endpoint."),
    "unsupported-media-type": Kind(415, "Unsupported media type", "The Content-Type is not one this endpoint reads."),
    "invalid-json": Kind(400, "Invalid JSON", "The body is not UTF-8 JSON, or holds a key twice, or nests too deep."),
    "invalid-request": Kind(422, "Invalid request", "The request's parameters are wrong; see errors."),
    "invalid-case": Kind(422, "Invalid case data", "The case breaks the model's rules; every problem is in errors."),
    "unknown-form": Kind(422, "Unknown form", "A form id that the registry does not know."),
    "form-not-applicable": Kind(422, "Form does not apply", "A form asked for does not apply to the case."),
    "unsupported-document": Kind(
        422, "Unsupported document", "Not XML or PDF, and no detached signature given; or unreadable.",
    ),
    "invalid-referral": Kind(
        422, "Invalid referral",
        "The referral fails the СЭМД XSD or schematron, or the case model; every failure is in errors "
        "as {line, rule, message}. Nothing was stored.",
    ),
    "not-routable": Kind(422, "Referral not routable", "No active bureau can take the referral; nothing was stored."),
    "decision-refused": Kind(
        403, "Decision refused",
        "The signed decision does not verify with the bureau's registered key, or the bureau holds no open "
        "assignment of the referral; the refusal is in the audit log.",
    ),
    "reveal-refused": Kind(
        403, "Reveal refused", "Point 12 does not allow this reveal; nothing was revealed and the refusal is audited.",
    ),
    "bureau-exists": Kind(409, "Bureau exists", "A bureau with this id exists; change it with PATCH."),
    "referrals-unavailable": Kind(
        503, "Referrals unavailable", "The service lacks the vault's key (MSEDOCS_KEK_SPEC) or the СЭМД package "
        "(MSEDOCS_SEMD_DIR).",
    ),
    "invalid-input": Kind(422, "Invalid input", "The input cannot be processed as given."),
    "queue-full": Kind(429, "Too many requests", "Every renderer is busy and the queue is full; retry after a while."),
    "render-failed": Kind(500, "Rendering failed", "A document could not be rendered (a defect in msedocs)."),
    "signing-failed": Kind(500, "Signing failed", "A document could not be signed (keys, timestamp authority)."),
    "worker-lost": Kind(500, "Worker lost", "The job's workers stopped while rendering it; nothing was issued."),
    "internal": Kind(500, "Internal error", "An unexpected failure; the request id is in the log."),
    "unavailable": Kind(503, "Service unavailable", "The store or the renderers are unavailable; retry later."),
}


def type_uri(kind: str) -> str:
    return f"/v1/problems/{kind}"


class ApiProblem(MsedocsError):
    """An error answered as a problem document."""

    def __init__(
        self,
        kind: str,
        detail: str | None = None,
        *,
        errors: Sequence[Problem | dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.status = status or KINDS[kind].status
        self.detail = detail
        self.errors = [_error(e) for e in errors]
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type_uri(self.kind), "title": KINDS[self.kind].title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if request_id:
            out["request_id"] = request_id
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    @classmethod
    def from_error(cls, exc: MsedocsError, kind: str, prefix: str = "") -> ApiProblem:
        """A flow error with its problems; ``prefix`` puts the paths into the request body (``case``)."""
        return cls(kind, exc.message, errors=[_prefixed(p, prefix) for p in exc.problems])


def _prefixed(p: Problem, prefix: str) -> Problem:
    if not prefix:
        return p
    if p.path in ("(case)", "(file)", ""):
        return Problem(prefix, p.message, p.line)
    sep = "" if p.path.startswith("[") else "."
    return Problem(f"{prefix}{sep}{p.path}", p.message, p.line)


def _error(e: Problem | dict[str, Any]) -> dict[str, Any]:
    if isinstance(e, dict):
        return e
    out: dict[str, Any] = {"path": e.path, "message": e.message}
    if e.line is not None:
        out["line"] = e.line
    return out
