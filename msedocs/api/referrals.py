"""Referrals to MSE (order 692n) on the HTTP service: ``/v1/referrals``, ``/v1/bureaus``, ``/v1/audit``.

The routes call :class:`~msedocs.referrals.store.ReferralStore`, as ``msedocs referrals|bureaus|audit``
do, on the service's own database (``--db`` / ``MSEDOCS_DB``). The rest is read from the
environment, as by the CLI: ``MSEDOCS_KEK_SPEC`` (the key-encryption key of the vault),
``MSEDOCS_AUDIT_KEY`` and ``MSEDOCS_AUDIT_WITNESS`` (the audit log's signing key and witness
file), ``MSEDOCS_SEMD_DIR`` (the official СЭМД package). :func:`configure` sets them in code.

Who acts: every route needs the scope ``referrals`` (``admin`` holds it), and the bureaus'
administration, the audit's verification, erasure and the KEK's rotation need ``admin``. A key
issued to a bureau (``msedocs keys create NAME --scope referrals --bureau ID``: the key's
``bureau_id``) acts for that bureau only (its ``bureau`` is implied, another one is 403); any
other key with the scope names the bureau it acts for (a trusted gateway, as an operator at the
CLI). A reveal for the extract's delivery needs the scope ``deliver``.

Nothing of a body reaches the log, and no response but a granted reveal holds a value of the
eight categories: the bureau's view has identifiers only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..model.load import json_path
from ..referrals import schema as rt
from ..referrals.store import Bureau, ReferralStore, RevealRefused
from . import schema as t
from .app import _content_type, _idempotency_key, _problem_responses, _service, raw_body, require
from .problems import ApiProblem
from .store import ApiKey

router = APIRouter()
_lock = threading.Lock()
PENDING = "pending"  # an idempotency row whose referral is being stored


@dataclass
class ReferralSettings:
    store: ReferralStore | None = None
    semd_dir: str | None = None
    owned: bool = False


def configure(app: Any, store: ReferralStore | None = None, semd_dir: str | None = None) -> None:
    """Give the application its referral store (a KEK and audit key of its own) and СЭМД package
    instead of the environment's; for embedding and tests."""
    app.state.referrals = ReferralSettings(store, semd_dir)


def close(app: Any) -> None:
    settings: ReferralSettings | None = getattr(app.state, "referrals", None)
    if settings is not None and settings.owned and settings.store is not None:
        settings.store.close()
        settings.store = None


def _settings(request: Request) -> ReferralSettings:
    with _lock:
        settings: ReferralSettings | None = getattr(request.app.state, "referrals", None)
        if settings is None:
            settings = request.app.state.referrals = ReferralSettings(semd_dir=os.environ.get("MSEDOCS_SEMD_DIR"))
        if settings.store is None:
            from ..privacy.kek import from_spec

            spec = os.environ.get("MSEDOCS_KEK_SPEC")
            try:
                kek = from_spec(spec) if spec else None
            except InputError as exc:
                raise ApiProblem("referrals-unavailable", f"the vault's key: {exc.message}") from None
            settings.store = ReferralStore(_service(request).config.db_url, kek=kek, create=True)
            settings.owned = True
        return settings


def _store(request: Request) -> ReferralStore:
    store = _settings(request).store
    assert store is not None
    return store


def _acting_bureau(key: ApiKey, given: str | None, *, bound_only: bool = False) -> str:
    """The bureau a request acts for: the one the key is issued to (its ``bureau_id``); else the
    one named, unless ``bound_only`` (a reveal: only a key issued to the bureau itself may ask
    for values)."""
    bound = key.bureau
    if bound is None and bound_only:
        raise ApiProblem("forbidden", "values are revealed only to a key issued to the bureau "
                         "(msedocs keys create … --bureau ID)")  # fmt: skip
    if bound is not None:
        if given is not None and given != bound:
            raise ApiProblem("forbidden", "this API key acts for another bureau")
        return bound
    if not given:
        raise ApiProblem("invalid-request", "name the bureau acting", errors=[
            {"path": "bureau", "message": "required (the key is not bound to a bureau)"}])  # fmt: skip
    return given


def _no_kek() -> ApiProblem:
    return ApiProblem("referrals-unavailable", "the vault has no key-encryption key (MSEDOCS_KEK_SPEC)",
                      headers={"Retry-After": "60"})  # fmt: skip


def _not_found(exc: InputError) -> bool:
    return "no such referral" in exc.message or "not assigned to bureau" in exc.message


# -- models -------------------------------------------------------------------------------------


class Routed(BaseModel):
    bureau: str | None = Field(description="The bureau the referral is assigned to.")
    stage: str | None = Field(description="The routing stage that chose it (e.g. mintrud, point12-in_person).")
    effort: int


class ReferralReceipt(BaseModel):
    """A stored referral as the bureau knows it: identifiers, never values."""

    referral_id: str
    href: str
    state: str
    structured: bool
    depersonalised: bool
    routing: Routed
    identifiers: dict[str, list[str]] = Field(description="Per category (1-8), the identifiers issued.")


class RevealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(description="in-person, additional-programme (a bureau) or extract-delivery (delivery).")
    bureau: str | None = Field(None, description="The bureau asking (implied by a key issued to a bureau).")
    delivery: bool = Field(False, description="Asked by the platform's delivery of the extract (scope deliver).")
    categories: list[int] | None = Field(None, description="Only these categories (1-8).")


class Revealed(BaseModel):
    referral_id: str
    requester: str
    purpose: str
    categories: dict[str, list[dict[str, str]]]


class BureauIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    name: str = Field(min_length=1, max_length=500)
    kind: str = Field("mintrud", pattern="^(mintrud|federal|address)$")
    capacity: int = Field(10, ge=1)
    specialisations: list[str] = []
    postal_areas: list[str] = []
    public_key: str | None = Field(None, description="Ed25519 public key (PEM) verifying its signed decisions.")


class BureauPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=500)
    capacity: int | None = Field(None, ge=1)
    active: bool | None = None
    specialisations: list[str] | None = None
    postal_areas: list[str] | None = None
    public_key: str | None = None


class Erased(BaseModel):
    referral_id: str
    data_key_destroyed: bool = Field(description="False: no live data key (erased before, or an unstructured "
                                     "referral, whose content in clear is deleted all the same).")  # fmt: skip


class KekRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_kek: str = Field(min_length=5, max_length=1000, description="The new key-encryption key as the service "
                         "reads it: file:PATH, env:NAME or pkcs11:MODULE?token=T&label=L&pin-env=VAR.")  # fmt: skip


class KekRotated(BaseModel):
    rewrapped: int = Field(description="Data keys rewrapped; identifiers and ciphertexts are unchanged.")
    from_kek: str = Field(description="The id (fingerprint) of the KEK used until now.")
    to_kek: str = Field(description="The id of the KEK used from now on.")
    note: str


class AuditReport(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    problems: list[str]


def _json_body(model: type[BaseModel], *media: str) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads ``model`` with :func:`_json_model`."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": dict.fromkeys(media or ("application/json",), schema)}}


def _json_model(model: type[BaseModel], body: bytes) -> Any:
    from . import engine

    try:
        data = engine.parse_body(body)
    except InputError as exc:
        raise ApiProblem.from_error(exc, "invalid-json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"path": json_path(tuple(e["loc"])) or "(body)", "message": e["msg"]}
                  for e in exc.errors(include_url=False, include_input=False)]  # fmt: skip
        raise ApiProblem("invalid-request", f"{len(errors)} problem(s) in the request", errors=errors) from None


def _public_pem(text: str | None) -> str | None:
    if text is None:
        return None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, UnicodeEncodeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ApiProblem("invalid-request", "public_key: an Ed25519 public key in PEM", errors=[
            {"path": "public_key", "message": "not an Ed25519 public key in PEM"}])  # fmt: skip
    return text


# -- intake -------------------------------------------------------------------------------------


def _incoming(body: bytes, media: str, semd_dir: str | None) -> Any:
    """The referral of a body, or 422 with every failure ``{line, rule, message}``."""
    from ..referrals import cda, semd
    from ..referrals.model import IncomingReferral

    if media in ("application/xml", "text/xml"):
        try:
            pkg = semd.package(semd_dir)
        except InputError as exc:
            raise ApiProblem("referrals-unavailable", f"the СЭМД package: {exc.message}") from None
        try:
            tree, problems = semd.validate(body, "referral", pkg)
        except InputError as exc:  # not well-formed, a DOCTYPE, too large
            line, _, message = exc.message.partition(": ")[2].partition(": ")
            raise ApiProblem("invalid-referral", "the body is not a well-formed СЭМД document", errors=[
                {"line": int(line) if line.isdigit() else 1, "rule": "xml", "message": message or exc.message}]) from None  # fmt: skip  # noqa: E501
        if problems:
            raise ApiProblem("invalid-referral", f"{len(problems)} violation(s) of the СЭМД XSD or schematron; "
                             "nothing stored", errors=[{"line": p.line, "rule": p.rule, "message": p.message}
                                                       for p in problems])  # fmt: skip
        try:
            return cda.to_referral(tree, "referral")
        except InputError as exc:
            raise ApiProblem("invalid-referral", "the СЭМД document cannot be read as a referral", errors=[
                {"line": p.line or 0, "rule": "mapping", "path": p.path, "message": p.message}
                for p in exc.problems] or [{"line": 0, "rule": "mapping", "message": exc.message}]) from None  # fmt: skip  # noqa: E501
    from ..model import load_case

    try:
        case = load_case(body, name="referral")
    except InputError as exc:
        raise ApiProblem("invalid-referral", "the case JSON breaks the model's rules; nothing stored", errors=[
            {"line": p.line or 0, "rule": "case-model", "path": p.path, "message": p.message}
            for p in exc.problems] or [{"line": 0, "rule": "case-model", "message": exc.message}],
        ) from None  # fmt: skip
    return IncomingReferral.from_case(case)


def _receipt(store: ReferralStore, referral_id: str) -> ReferralReceipt:
    with store.tx() as conn:
        row = conn.execute(sa.select(rt.referrals).where(rt.referrals.c.id == referral_id)).first()
        if row is None:
            raise ApiProblem("not-found", "no such referral")
        stage = conn.execute(sa.select(rt.routing_log.c.stage).where(rt.routing_log.c.referral_id == referral_id)
                             .order_by(rt.routing_log.c.id.desc()).limit(1)).scalar()  # fmt: skip
        tokens = conn.execute(sa.select(rt.vault_values.c.category, rt.vault_values.c.token).where(
            rt.vault_values.c.referral_id == referral_id).order_by(rt.vault_values.c.category)).all()  # fmt: skip
    identifiers: dict[str, list[str]] = {}
    for category, token in tokens:
        identifiers.setdefault(str(category), []).append(token)
    return ReferralReceipt(
        referral_id=row.id, href=f"/v1/referrals/{row.id}", state=row.state, structured=row.structured,
        depersonalised=row.depersonalised, routing=Routed(bureau=row.bureau_id, stage=stage, effort=row.effort),
        identifiers=identifiers,
    )  # fmt: skip


def _idem_owner(key: ApiKey) -> str:
    """The referrals' idempotency keys beside the renders' in ``api_idempotency``, under a key id
    of their own (``r:<key id>``): the two never meet."""
    return f"r:{key.id}"


def _seen(request: Request, owner: str, idem: str, digest: str) -> str | None:
    """The referral an earlier request with this key stored, None if the key is new."""
    i = t.idempotency.c
    with _service(request).store.engine.begin() as conn:
        seen = conn.execute(sa.select(i.request_sha256, i.job_id).where(
            i.key_id == owner, i.idempotency_key == idem)).first()  # fmt: skip
    if seen is None:
        return None
    if not hmac.compare_digest(seen.request_sha256, digest):
        raise ApiProblem("idempotency-key-reused", "Idempotency-Key: this key was used before with another "
                         "request body; use a new key for a new request")  # fmt: skip
    if seen.job_id == PENDING:
        raise ApiProblem("request-in-progress", "the first request with this Idempotency-Key is still being "
                         "stored; retry later", headers={"Retry-After": "1"})  # fmt: skip
    return str(seen.job_id)


def _claim(request: Request, owner: str, idem: str, digest: str) -> bool:
    svc = _service(request)
    try:
        with svc.store.engine.begin() as conn:
            conn.execute(sa.insert(t.idempotency).values(key_id=owner, idempotency_key=idem, request_sha256=digest,
                                                         job_id=PENDING, created_at=svc.store.clock()))  # fmt: skip
    except sa.exc.IntegrityError:
        return False
    return True


def _settle(request: Request, owner: str, idem: str, referral_id: str | None) -> None:
    """The claim's referral, or (nothing stored) the claim dropped so that the key may be used again."""
    i = t.idempotency.c
    where = sa.and_(i.key_id == owner, i.idempotency_key == idem)
    with _service(request).store.engine.begin() as conn:
        if referral_id is None:
            conn.execute(sa.delete(t.idempotency).where(where))
        else:
            conn.execute(sa.update(t.idempotency).where(where).values(job_id=referral_id))


def _created(receipt: ReferralReceipt, replayed: bool) -> JSONResponse:
    headers = {"Location": receipt.href}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(receipt.model_dump(mode="json"), status_code=201, headers=headers)


_IDEM = {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}}


@router.post(
    "/v1/referrals", tags=["referrals"], status_code=201, response_model=ReferralReceipt,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/xml": {"schema": {"type": "string", "format": "binary",
                                       "description": "A СЭМД referral to MSE (CDA)"}},
        "application/json": {"schema": {"type": "object", "description": "A case JSON (its referral part)"}}}},
        "parameters": [_IDEM]},
    responses={201: {"description": "Stored, depersonalised (point 4) and routed; see Location"},
               **_problem_responses(400, 401, 403, 409, 413, 415, 422, 503)},
)  # fmt: skip
def ingest(request: Request, body: Annotated[bytes, Depends(raw_body)],
           key: Annotated[ApiKey, Depends(require("referrals"))]) -> Response:  # fmt: skip
    """Receive a referral: a СЭМД document (validated against the official XSD and schematron)
    or a case JSON; stored, depersonalised when without personal presence, routed and audited in
    one transaction. Invalid: 422 with every failure `{line, rule, message}`, nothing stored.
    The answer is the bureau's view of it: the referral id, the identifiers issued, the routing
    decision; never a value. The same Idempotency-Key and body replay it."""
    media = _content_type(request, "application/xml", "text/xml", "application/json")
    settings = _settings(request)

    def check() -> Callable[[ReferralStore, str], str]:
        if settings.store is not None and settings.store.kek is None:
            raise _no_kek()
        ref = _incoming(body, media, settings.semd_dir)
        return lambda store, actor: store.ingest(ref, actor=actor).referral_id

    return _store_once(request, key, media, body, check)


#: What an unstructured referral may be: a scan (PDF, image) or a text.
UNSTRUCTURED_MEDIA = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "text/plain")


@router.post(
    "/v1/referrals/unstructured", tags=["referrals"], status_code=201, response_model=ReferralReceipt,
    openapi_extra={"requestBody": {"required": True, "content": {
        m: {"schema": {"type": "string", "format": "binary"}} for m in UNSTRUCTURED_MEDIA}},
        "parameters": [_IDEM]},
    responses={201: {"description": "Stored and routed in clear (point 5); see Location"},
               **_problem_responses(400, 401, 403, 409, 413, 415, 422)},
)  # fmt: skip
def ingest_unstructured(
    request: Request, body: Annotated[bytes, Depends(raw_body)], key: Annotated[ApiKey, Depends(require("referrals"))],
    external_id: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$",
                                      description="The sender's id of the referral.")] = "unstructured",
) -> Response:  # fmt: skip
    """Point 5: a referral that is not a structured document (a scan, a free text) is stored
    and routed in clear to Mintrud's main bureaus by load (point 11), without identifiers. The
    bureau it went to reads it at `GET /v1/referrals/{id}/content`. Idempotency-Key as for
    `POST /v1/referrals`."""
    media = _content_type(request, *UNSTRUCTURED_MEDIA)

    def check() -> Callable[[ReferralStore, str], str]:
        if not body:
            raise ApiProblem("invalid-request", "an empty referral", errors=[
                {"path": "(body)", "message": "the scan or text of the referral; got nothing"}])  # fmt: skip
        return lambda store, actor: store.ingest_unstructured(body, media, external_id, actor=actor).referral_id

    return _store_once(request, key, media, body, check)


def _store_once(request: Request, key: ApiKey, media: str, body: bytes,
                check: Callable[[], Callable[[ReferralStore, str], str]]) -> Response:  # fmt: skip
    """Store a referral once per Idempotency-Key: a key seen with this body replays the first
    answer, with another body is 409. ``check`` refuses a body (ApiProblem) before the key is
    claimed, or gives what stores it (the referral id)."""
    idem = _idempotency_key(request)
    owner = _idem_owner(key)
    digest = hashlib.sha256(media.encode() + b"\n" + body).hexdigest()
    store = _store(request)
    if (done := _seen(request, owner, idem, digest)) is not None:
        return _created(_receipt(store, done), replayed=True)
    put = check()
    if not _claim(request, owner, idem, digest):  # a concurrent request took the key first
        done = _seen(request, owner, idem, digest)
        assert done is not None
        return _created(_receipt(store, done), replayed=True)
    referral_id = None
    try:
        try:
            referral_id = put(store, f"platform:api_{key.id}")
        except InputError as exc:
            if "key-encryption key" in exc.message:
                raise _no_kek() from None
            raise ApiProblem("not-routable", exc.message) from None
    finally:
        _settle(request, owner, idem, referral_id)
    return _created(_receipt(store, referral_id), replayed=False)


@router.get("/v1/referrals/{referral_id}", tags=["referrals"], responses=_problem_responses(401, 403, 404, 422),
            response_model=dict[str, Any])  # fmt: skip
def view(referral_id: str, request: Request, key: Annotated[ApiKey, Depends(require("referrals"))],
         bureau: Annotated[str | None, Query(description="The bureau asking (implied by a bureau:<id> key).")] = None,
         ) -> dict[str, Any]:  # fmt: skip
    """What the bureau the referral is assigned to sees (as `msedocs referrals show`):
    identifiers only, never values; another bureau gets 404."""
    who = _acting_bureau(key, bureau)
    try:
        return _store(request).bureau_view(referral_id, who)
    except InputError as exc:
        if _not_found(exc):
            raise ApiProblem("not-found", "no such referral assigned to this bureau") from None
        raise


@router.get(
    "/v1/referrals/{referral_id}/content", tags=["referrals"], response_class=Response,
    responses={200: {"description": "The scan or text as received", "content": {
        m: {"schema": {"type": "string", "format": "binary"}} for m in UNSTRUCTURED_MEDIA}},
        **_problem_responses(401, 403, 404, 422)},
)  # fmt: skip
def content(referral_id: str, request: Request, key: Annotated[ApiKey, Depends(require("referrals"))],
            bureau: Annotated[str | None, Query(description="The bureau asking (implied by a key issued to a "
                                                "bureau).")] = None) -> Response:  # fmt: skip
    """An unstructured referral (point 5), in clear, for the bureau it is assigned to; another
    bureau, a structured referral or erased content: 404."""
    who = _acting_bureau(key, bureau)
    try:
        data, media = _store(request).bureau_content(referral_id, who)
    except InputError:
        raise ApiProblem("not-found", "no unstructured referral with content assigned to this bureau") from None
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/referrals/{referral_id}/decisions", tags=["referrals"], response_model=ReferralReceipt,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "A signed decision as `msedocs referrals sign-decision` writes it",
        "required": ["format", "referral_id", "bureau", "decision", "date", "signature"],
        "properties": {k: {"type": "string"} for k in ("format", "referral_id", "bureau", "decision", "date",
                                                        "signature")}}}}}},
    responses=_problem_responses(400, 401, 403, 404, 413, 415, 422),
)  # fmt: skip
def decide(referral_id: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
           key: Annotated[ApiKey, Depends(require("referrals"))]) -> ReferralReceipt:  # fmt: skip
    """Record a bureau's signed point-12 decision (in-person examination or an additional
    programme): the restriction is lifted and the referral goes to the bureau of the citizen's
    address. A signature that does not verify with the bureau's registered key, or a bureau that
    holds no open assignment of it: 403 `decision-refused`, written to the audit log."""
    from ..referrals import decisions

    _content_type(request, "application/json")
    try:
        doc = decisions.parse(body)
    except InputError as exc:
        raise ApiProblem("invalid-request", exc.message, errors=[{"path": "(body)", "message": exc.message}]) from None
    bureau = _acting_bureau(key, doc["bureau"])
    store = _store(request)
    try:  # a document signed for another referral fails its signature here: refused and audited
        store.decide(referral_id, bureau, doc["decision"], doc["date"], doc["signature"])
    except InputError as exc:
        if "no such referral" in exc.message:
            raise ApiProblem("not-found", "no such referral") from None
        raise ApiProblem("decision-refused", exc.message) from None
    return _receipt(store, referral_id)


@router.post(
    "/v1/referrals/{referral_id}/reveal", tags=["referrals"], response_model=Revealed,
    openapi_extra=_json_body(RevealRequest),
    responses=_problem_responses(400, 401, 403, 404, 413, 415, 422, 503),
)  # fmt: skip
def reveal(referral_id: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
           key: Annotated[ApiKey, Depends(require("referrals"))]) -> Revealed:  # fmt: skip
    """Point 12: the values behind the identifiers, only for a signed decision's address-based
    bureau (or the extract's delivery) and only the categories its purpose needs. Anything else:
    403 `reveal-refused`, nothing revealed. Granted or refused, it is written to the audit log."""
    from ..referrals.decisions import purpose_name

    _content_type(request, "application/json")
    asked = _json_model(RevealRequest, body)
    if asked.delivery:
        if asked.bureau is not None:
            raise ApiProblem("invalid-request", "give bureau or delivery, not both", errors=[
                {"path": "delivery", "message": "not with bureau"}])  # fmt: skip
        if not {"deliver", "admin"} & key.scopes:
            raise ApiProblem("forbidden", "a reveal for the extract's delivery needs the scope deliver")
        requester = "platform:delivery"
    else:
        requester = f"bureau:{_acting_bureau(key, asked.bureau, bound_only=True)}"
    name = purpose_name(asked.purpose)
    store = _store(request)
    try:
        got = store.reveal(referral_id, requester, name, asked.categories or None)
    except RevealRefused as exc:
        raise ApiProblem("reveal-refused", exc.message) from None
    except InputError as exc:
        if "no such referral" in exc.message:
            raise ApiProblem("not-found", "no such referral") from None
        if "key-encryption key" in exc.message:
            raise _no_kek() from None
        raise ApiProblem("reveal-refused", exc.message) from None
    return Revealed(referral_id=referral_id, requester=requester, purpose=name,
                    categories={str(k): v for k, v in sorted(got.items())})  # fmt: skip


@router.delete(
    "/v1/referrals/{referral_id}/personal-data", tags=["referrals"], response_model=Erased,
    responses=_problem_responses(401, 403, 404),
)  # fmt: skip
def erase(referral_id: str, request: Request, key: Annotated[ApiKey, Depends(require("admin"))]) -> Erased:
    """Erase a referral's personal data (scope admin): its data key is destroyed, so the vault's
    values and the referral as received can no longer be read; the bureau's depersonalised copy
    and an unstructured referral's content are deleted. Identifiers, routing and the audit log
    stay. Written to the audit log (`erased`); again: 200 with `data_key_destroyed` false."""
    try:
        done = _store(request).erase(referral_id, actor=f"platform:api_{key.id}")
    except InputError as exc:
        if "no such referral" in exc.message:
            raise ApiProblem("not-found", "no such referral") from None
        raise
    return Erased(referral_id=referral_id, data_key_destroyed=done)


@router.post(
    "/v1/referrals/vault/rotate-kek", tags=["vault"], response_model=KekRotated,
    openapi_extra=_json_body(KekRotation),
    responses=_problem_responses(400, 401, 403, 413, 415, 422, 503),
)  # fmt: skip
def rotate_kek(request: Request, body: Annotated[bytes, Depends(raw_body)],
               key: Annotated[ApiKey, Depends(require("admin"))]) -> KekRotated:  # fmt: skip
    """Rotate the vault's key-encryption key (scope admin): every live data key is rewrapped by
    the new KEK in one transaction, identifiers and ciphertexts unchanged, and the service uses
    it from now on; written to the audit log (`rewrap`). The new KEK is read by the service (a
    file, its environment or a PKCS#11 token), never sent: set `MSEDOCS_KEK_SPEC` to it before
    the service's next start."""
    from ..privacy.kek import from_spec

    _content_type(request, "application/json")
    asked = _json_model(KekRotation, body)
    store = _store(request)
    if store.kek is None:
        raise _no_kek()
    try:
        new = from_spec(asked.new_kek)
    except InputError as exc:
        raise ApiProblem("invalid-request", f"new_kek: {exc.message}", errors=[
            {"path": "new_kek", "message": exc.message}]) from None  # fmt: skip
    old = store.kek.kek_id
    try:  # the store's ingests and reveals wait for it, and it for those under way
        n = store.rotate_kek(new, actor=f"platform:api_{key.id}")
    except InputError as exc:
        raise ApiProblem("invalid-request", exc.message, errors=[
            {"path": "new_kek", "message": exc.message}]) from None  # fmt: skip
    return KekRotated(rewrapped=n, from_kek=old, to_kek=new.kek_id,
                      note="set MSEDOCS_KEK_SPEC to the new KEK before the service's next start")  # fmt: skip


# -- bureaus and the audit log --------------------------------------------------------------------


def _bureau_out(store: ReferralStore, bureau_id: str) -> Bureau:
    for b in store.bureaus():
        if b.id == bureau_id:
            return b
    raise ApiProblem("not-found", "no such bureau")


@router.get("/v1/bureaus", tags=["bureaus"], response_model=list[Bureau], responses=_problem_responses(401, 403))
def bureaus(request: Request, _key: Annotated[ApiKey, Depends(require("referrals"))]) -> list[Bureau]:
    """The bureaus with their capacity and load (as `msedocs bureaus list --json`)."""
    return _store(request).bureaus()


@router.post(
    "/v1/bureaus", tags=["bureaus"], status_code=201, response_model=Bureau,
    openapi_extra=_json_body(BureauIn),
    responses=_problem_responses(400, 401, 403, 409, 413, 415, 422),
)  # fmt: skip
def add_bureau(request: Request, body: Annotated[bytes, Depends(raw_body)],
               _key: Annotated[ApiKey, Depends(require("admin"))]) -> JSONResponse:  # fmt: skip
    """Add a bureau (scope admin). Its id is the client's: a second POST of it is 409."""
    _content_type(request, "application/json")
    new = _json_model(BureauIn, body)
    store = _store(request)
    try:
        store.add_bureau(new.id, new.name, new.kind, new.capacity, new.specialisations, new.postal_areas,
                         _public_pem(new.public_key))  # fmt: skip
    except sa.exc.IntegrityError:
        raise ApiProblem("bureau-exists", f"bureau {new.id}: exists; change it with PATCH") from None
    except InputError as exc:
        raise ApiProblem("invalid-request", exc.message) from None
    out = _bureau_out(store, new.id)
    return JSONResponse(out.model_dump(), status_code=201, headers={"Location": f"/v1/bureaus/{new.id}"})


@router.patch(
    "/v1/bureaus/{bureau_id}", tags=["bureaus"], response_model=Bureau,
    openapi_extra=_json_body(BureauPatch, "application/json", "application/merge-patch+json"),
    responses=_problem_responses(400, 401, 403, 404, 413, 415, 422),
)  # fmt: skip
def patch_bureau(bureau_id: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
                 _key: Annotated[ApiKey, Depends(require("admin"))]) -> Bureau:  # fmt: skip
    """Change a bureau's name, capacity, active flag, specialisations, postal areas or
    decision-signing key (scope admin); the fields given, the others kept."""
    _content_type(request, "application/json", "application/merge-patch+json")
    patch = _json_model(BureauPatch, body)
    values = patch.model_dump(exclude_unset=True)
    if "public_key" in values:
        values["public_key"] = _public_pem(values["public_key"])
    if any(v is None for k, v in values.items() if k != "public_key"):
        raise ApiProblem("invalid-request", "only public_key may be null")
    store = _store(request)
    if not values:
        return _bureau_out(store, bureau_id)
    try:
        store.set_bureau(bureau_id, **values)
    except InputError as exc:
        if "no such bureau" in exc.message:
            raise ApiProblem("not-found", "no such bureau") from None
        raise ApiProblem("invalid-request", exc.message) from None
    return _bureau_out(store, bureau_id)


@router.get("/v1/audit/verify", tags=["audit"], response_model=AuditReport, responses=_problem_responses(401, 403))
def audit_verify(request: Request, _key: Annotated[ApiKey, Depends(require("admin"))]) -> AuditReport:
    """Recompute the audit log's hash chain and check its signed checkpoints (and the witness
    file, if configured), as `msedocs audit verify` (scope admin). `ok` false: something was
    changed, deleted or forged; `problems` says what (no values: the log holds none)."""
    store = _store(request)
    report = store.verify_audit(store.audit.key.public_key())
    return AuditReport(ok=report.ok, entries=report.entries, checkpoints=report.checkpoints,
                       problems=list(report.problems))  # fmt: skip


__all__ = ["configure", "router"]
