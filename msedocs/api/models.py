"""The API's request and response bodies (pydantic): the source of the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


#: A moment in time as the stores keep it (naive UTC) given its zone, so that the JSON reads
#: ``2026-12-07T13:51:48Z``: an RFC 3339 date-time, as OpenAPI's ``format: date-time`` requires.
UtcDateTime = Annotated[dt.datetime, AfterValidator(_utc)]

Format = Literal["xml", "pdf", "docx"]
Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
_ALL_FORMATS: tuple[Format, ...] = ("xml", "pdf", "docx")


class SignOptions(BaseModel):
    """Sign every document with its form's signers (XAdES, PAdES, a detached CAdES .p7s per DOCX)."""

    model_config = ConfigDict(extra="forbid")
    level: Level = "B-T"
    profile: Literal["test", "configured"] = Field(
        "test",
        description="test: the service's TEST PKI (never valid for real use); configured: the signing "
        "configuration the service was started with (--signing-config).",
    )


CallbackUrl = Annotated[str, Field(
    max_length=2000, pattern=r"^https?://[^\s/?#@]+(/[^\s#]*)?$",
    description="Where to POST the job's events (job.succeeded, job.failed), signed as Standard Webhooks "
    "sign them with the key's secret (GET /v1/callbacks/secret); retried with backoff. Polling the job "
    "works all the same.",
)]


class RenderRequest(BaseModel):
    """``POST /v1/renders``: one case into the documents of its forms."""

    model_config = ConfigDict(extra="forbid")
    case: dict[str, Any] = Field(description="The case, as GET /v1/schema/case.json describes it.")
    forms: list[str] | Literal["all"] = Field(
        "all", description='Form ids (each must apply to the case), or "all": every form that applies.'
    )
    formats: list[Format] = Field(default_factory=lambda: list(_ALL_FORMATS), min_length=1)
    variant: Literal["paper", "electronic", "auto"] = Field(
        "auto",
        description="paper: «М.П.» and signature lines; electronic: the qualified e-signature statement; "
        "auto: as `msedocs render --variant auto` (the extract follows the case's delivery channel, other "
        "forms paper; electronic when signed). A signed document is electronic: paper with sign is refused.",
    )
    sign: SignOptions | None = None
    engine: Literal["weasyprint", "typst"] | None = Field(
        None,
        description="The forms' PDF engine, as `msedocs render --engine`: weasyprint or typst; null or absent: "
        "the service's setting MSEDOCS_PDF_ENGINE, else weasyprint.",
    )
    callback_url: CallbackUrl | None = None


Cases = Annotated[list[dict[str, Any]] | Literal["stored"], Field(
    description='The cases: an array of cases (as GET /v1/schema/case.json), or "stored": the cases of this '
    "key's succeeded render jobs (every key's for admin), the latest request of each case_id. (Or send the "
    "cases as JSON Lines: Content-Type application/x-ndjson, the other fields as query parameters.)",
)]


class JournalRequest(BaseModel):
    """``POST /v1/journals``: the register of a period over many cases (as ``msedocs journal``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    journal: str = Field(description="A journal id (GET /v1/forms lists forms; journals: by-journal-protocols, "
                         "by-journal-cards, by-journal-certificates, by-journal-mpr).")  # fmt: skip
    from_: dt.date = Field(alias="from", description="First day.")
    to: dt.date = Field(description="Last day.")
    formats: list[Format] = Field(default_factory=lambda: list(_ALL_FORMATS), min_length=1)
    commission: str | None = Field(None, max_length=500, description="Only this commission's cases.")
    cases: Cases = "stored"
    sign: SignOptions | None = Field(None, description="Signed by the chairman of the commission.")
    callback_url: CallbackUrl | None = None


class ProtocolRequest(BaseModel):
    """``POST /v1/protocols``: the protocol of a commission session (as ``msedocs protocol``)."""

    model_config = ConfigDict(extra="forbid")
    number: str | None = Field(None, max_length=100, description="The protocol's number (else the only session).")
    date: dt.date | None = Field(None, description="The session's date.")
    formats: list[Format] = Field(default_factory=lambda: list(_ALL_FORMATS), min_length=1)
    variant: Literal["paper", "electronic"] = Field("paper", description="electronic: no signature lines.")
    cases: Cases = "stored"
    sign: SignOptions | None = Field(None, description="Signed by the chairman and the members (electronic).")
    callback_url: CallbackUrl | None = None


class ProblemError(BaseModel):
    path: str = Field(description="JSON path in the request body (or XPath), or (case) for the whole case.")
    message: str
    line: int | None = None


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document (application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemError] | None = None


class FormInfo(BaseModel):
    id: str
    title: str
    source: str = Field(description="The statute: seed file, appendix, lines.")
    jurisdiction: str
    formats: list[str]
    namespace: str = Field(description="The XML namespace of the form's documents.")
    signers: list[str] = Field(description="Signing roles of the form's signature lines.")
    variants: list[str]


class XmlError(BaseModel):
    line: int | None
    xpath: str
    reason: str


class XmlValidation(BaseModel):
    valid: bool
    form: str | None
    errors: list[XmlError]


class JobOutput(BaseModel):
    name: str
    media_type: str
    size: int
    sha256: str
    href: str


class CallbackInfo(BaseModel):
    id: str = Field(description="The webhook-id of the event (the same on every attempt).")
    event: Literal["job.succeeded", "job.failed"]
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(description="The receiver's last HTTP status (none: no answer).")
    next_attempt_at: UtcDateTime | None
    delivered_at: UtcDateTime | None


class CallbackSecret(BaseModel):
    secret: str = Field(description="whsec_ and base64: the HMAC-SHA256 key is the decoded bytes.")
    scheme: str
    headers: list[str]


class JobStatus(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: int = Field(description="0-100: 0 queued, 10 started, 50 rendering, 100 done.")
    case_id: str | None
    attempts: int
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    issued: list[str] = Field(description="Signed statutory documents this job issues (each issued once).")
    outputs: list[JobOutput]
    manifest: dict[str, Any] | None = None
    error: dict[str, Any] | None = Field(None, description="The problem document of a failed job.")
    callbacks: list[CallbackInfo] = Field(default_factory=list, description="Events sent to the callback_url.")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]
    renderers_loaded_here: list[str] = Field(
        default_factory=list, description="Rendering libraries loaded in the server process (none: they run in "
        "the worker processes only).",
    )


class ProblemKind(BaseModel):
    type: str
    title: str
    status: int
    description: str


class DeliveryDeadline(BaseModel):
    due_date: dt.date = Field(description="Three working days after the decision (production calendar).")
    completed_on: dt.date | None = Field(description="Delivered to the portal, or handed over to the post.")
    overdue: bool
    late: bool
    working_days_left: int | None = Field(description="Working days until the due date (negative: past it).")


class Delivery(BaseModel):
    """An outbox item: where a document goes and how far it got. Never its recipient (no name,
    address or portal account): what the scope deliver needs to follow and retry it."""

    id: int
    case_ref: str
    channel: Literal["portal", "post"]
    state: str = Field(description="queued, sending, retry_wait, delivered, dead, printed, handed_over, returned, "
                       "unresolved")  # fmt: skip
    country: str
    decision_date: dt.date
    due_date: dt.date
    attempts: int
    next_attempt_at: str
    last_reason: str | None
    tracking_number: str | None
    list_number: int | None
    created_at: str
    deadline: DeliveryDeadline


class DeliveryDocument(BaseModel):
    name: str
    media_type: str
    role: str
    sha256: str
    size: int


class DeliveryEvent(BaseModel):
    at: str
    from_state: str | None
    to_state: str
    channel: str
    reason: str


class DeliveryDetail(Delivery):
    documents: list[DeliveryDocument]
    history: list[DeliveryEvent]


class DeliveryList(BaseModel):
    items: list[Delivery]
    counts: dict[str, int] = Field(description="Items per state, in the whole outbox.")


class DeadlineReport(BaseModel):
    date: dt.date
    due: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    delivered_late: list[dict[str, Any]]


class SessionDocument(BaseModel):
    """A PDF the service rendered: an output of one of this key's jobs."""

    model_config = ConfigDict(extra="forbid")
    job: str = Field(pattern=r"^[0-9a-f]{32}$")
    output: str = Field(max_length=200, pattern=r"\.pdf$", description="The output's name, e.g. by-act.pdf.")


class SessionRender(BaseModel):
    """A form of a case, rendered now (the electronic variant, unsigned) to be signed."""

    model_config = ConfigDict(extra="forbid")
    case: dict[str, Any]
    form: str


class CscCredential(BaseModel):
    """A credential of a remote signing service speaking the CSC API v1 (Cloud Signature
    Consortium), one the service is configured to use (``--csc-service``)."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field(max_length=500, description="The service's base URL, as configured.")
    credential_id: str = Field(min_length=1, max_length=200)
    token: str | None = Field(None, max_length=4096, description="An OAuth bearer token for the service (not "
                              "stored).")  # fmt: skip


class CscAuthorization(BaseModel):
    """The signature activation data (SAD) the key holder got from the CSC service's
    ``credentials/authorize`` for ``data_to_sign_sha256``: the service then calls ``signatures/signHash``."""

    model_config = ConfigDict(extra="forbid")
    sad: str = Field(min_length=1, max_length=8192)
    token: str | None = Field(None, max_length=4096, description="An OAuth bearer token for the service.")


class SigningSessionRequest(BaseModel):
    """``POST /v1/signing-sessions``: a PDF to sign with a key held elsewhere (PAdES)."""

    model_config = ConfigDict(extra="forbid")
    document: SessionDocument | None = Field(None, description="A rendered document (give this or render).")
    render: SessionRender | None = Field(None, description="A render request (give this or document).")
    certificate: str | None = Field(None, max_length=20000, description="The signer's certificate: PEM or base64 "
                                    "DER (give this or csc).")  # fmt: skip
    csc: CscCredential | None = Field(None, description="A credential of a CSC remote signing service: its "
                                      "certificate is read from there (give this or certificate).")  # fmt: skip
    chain: list[Annotated[str, Field(max_length=20000)]] = Field(
        default_factory=list, max_length=8, description="Its issuing CA certificates (PEM or base64 DER).")
    level: Level = Field("B-T", description="B-T: the service adds a signature timestamp; B-LT: and the "
                         "certificates, OCSP responses and CRLs of the signer and the TSA (a DSS); B-LTA: and "
                         "a document timestamp over it all. Frozen at the session's start.")  # fmt: skip
    role: str | None = Field(None, max_length=200, description="The signer's role (signer-attributes-v2), "
                             "e.g. Председатель комиссии.")  # fmt: skip


class SignatureValue(BaseModel):
    """``PUT /v1/signing-sessions/{id}/signature``."""

    model_config = ConfigDict(extra="forbid")
    signature: str | None = Field(None, max_length=4096, description="The signature value over data_to_sign, "
                                  "base64: RSASSA-PKCS1-v1_5 or ECDSA (DER), SHA-256, as the key gives.")  # fmt: skip
    csc: CscAuthorization | None = Field(None, description="For a CSC session instead: its SAD.")


class CertificateInfo(BaseModel):
    subject: str
    issuer: str
    serial_number: str
    not_after: str
    sha256: str
    signature_algorithm: str


class SigningSessionStatus(BaseModel):
    id: str
    state: Literal["awaiting-signature", "completed", "expired"]
    format: Literal["PAdES"]
    key_source: Literal["certificate", "csc"]
    csc: dict[str, str] | None = Field(None, description="The CSC service and credential, for a csc session.")
    level: Level
    document: str
    case_id: str | None
    field_name: str
    signing_time: UtcDateTime | None = Field(description="The signature dictionary's /M, frozen in the prepared PDF.")
    expires_at: UtcDateTime
    certificate: CertificateInfo
    digest_algorithm: Literal["SHA-256"]
    document_digest: str = Field(description="SHA-256 of the PDF's /ByteRange, hex (in the message-digest attribute).")
    data_to_sign: str = Field(description="The DER of the CMS signed attributes (a SET), base64: sign these bytes.")
    data_to_sign_sha256: str = Field(description="SHA-256 of data_to_sign, base64: for a signHash service (CSC).")
    signed_document: str | None = Field(None, description="Where the signed PDF is, once completed.")
