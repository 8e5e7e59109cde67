"""The service's one seam to the flow: every call the HTTP service makes into msedocs, the
generators and signing goes through this module (a face calls the flow, never copies it).

Two halves:

- what the server process itself calls (case loading and its problems, the registry, the
  XSDs, XML validation): none of it imports WeasyPrint, Typst or pyHanko;
- the tasks run in the worker processes (:func:`render_task`, :func:`register_task` for journals
  and protocols, :func:`verify_task`, :func:`prepare_signature_task` and
  :func:`complete_signature_task` for two-step PAdES, :func:`csc_credential_task` and
  :func:`csc_sign_task` for a CSC remote signer), which import the pipeline, pyHanko and
  signing on first use, in the worker only;
- the outbox (:func:`deliveries`, :func:`delivery`, :func:`retry_delivery`,
  :func:`deadline_report`), read and retried in the server process.

When the flow's public functions move or change, this is the file to adapt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as dt_date
from functools import cache
from pathlib import Path
from typing import Any

from generators import xml as xml_gen
from generators.common import FONTS_DIR, XSD_DIR

from .. import validation
from ..errors import FormNotApplicableError, InputError, MsedocsError, Problem
from ..forms import REGISTRY, get_form
from ..model import Case, CaseWarning, load_case
from ..model.load import parse_json

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
MAX_FORM_BYTES = xml_gen.MAX_FORM_BYTES

# -- the server process's side ---------------------------------------------------------------


def form_summaries() -> list[dict[str, Any]]:
    return [form_detail(fid) for fid in REGISTRY]


def form_detail(form_id: str) -> dict[str, Any]:
    """A form of the registry as the API describes it; UnknownFormError if there is none."""
    spec = get_form(form_id)
    return {
        "id": spec.id,
        "title": spec.title,
        "source": str(spec.source),
        "jurisdiction": str(spec.jurisdiction.value),
        "formats": list(spec.formats),
        "namespace": spec.namespace,
        "signers": list(dict.fromkeys(s.role for s in spec.signers)),
        "variants": ["paper", "electronic"],
    }


def xsd_path(form_id: str) -> Path:
    get_form(form_id)
    return XSD_DIR / f"{form_id}.xsd"


def case_schema() -> dict[str, Any]:
    return Case.model_json_schema()


def parse_body(raw: bytes) -> Any:
    """A JSON request body, read as the CLI reads a case file: UTF-8, no key twice in an object,
    nesting bounded; InputError with every problem's JSON path."""
    return parse_json(raw, "request body")


@dataclass(frozen=True)
class LoadedCase:
    case: Case
    warnings: list[str]
    json: bytes
    """The case as canonical JSON: what the job stores and the worker renders."""


def load(case: Any) -> LoadedCase:
    """The case of a request checked by the model: every problem with its JSON path (InputError)."""
    if not isinstance(case, dict):
        raise InputError("case: not a case", [Problem("(case)", "a case is a JSON object")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaseWarning)
        loaded = load_case(case, name="case")
    notes = [str(w.message).removeprefix("case: ") for w in caught if issubclass(w.category, CaseWarning)]
    return LoadedCase(loaded, notes, canonical_json(case))


def select_forms(case: Case, form_ids: Sequence[str] | None) -> list[str]:
    """The ids of the forms asked for (each must apply), or of every form that applies:
    :func:`msedocs.pipeline.select_forms` (the pipeline imports its PDF generators, WeasyPrint
    and Typst, only on first use, so the server process imports it without loading them)."""
    from .. import pipeline

    return [spec.id for spec in pipeline.select_forms(case, form_ids)]


def issued_documents(form_ids: Sequence[str], formats: Sequence[str]) -> list[str]:
    """The statutory documents a signed render issues, named as the outbox names them."""
    return [f"{fid}.{fmt}" for fid in form_ids for fmt in formats]


@dataclass(frozen=True)
class XmlReport:
    valid: bool
    form: str | None
    errors: list[dict[str, Any]]


def validate_xml(content: bytes, form: str | None = None) -> XmlReport:
    """``msedocs validate`` on bytes (:func:`msedocs.validation.validate`): the form from
    ``form``, else the root's formId, else its namespace; DTDs, entities and oversize refused
    as there. An unknown form id: InputError; too large: :class:`TooLarge`."""
    result = validation.validate(io.BytesIO(content), len(content), form, option="form")
    errors = [{"line": line, "xpath": path, "reason": msg} for path, msg, line in result.problems]
    return XmlReport(result.valid, result.form, errors)


TooLarge = validation.TooLarge


def readiness() -> dict[str, bool]:
    """What the server needs from the installation: the bundled fonts and every form's XSD
    (parsed: a broken schema file is not ready)."""
    fonts = any(FONTS_DIR.glob("*.ttf"))
    try:
        for fid in REGISTRY:
            xml_gen.schema(fid)
        xsds = True
    except Exception:  # an unreadable or broken schema: not ready, whatever the reason
        xsds = False
    return {"fonts": fonts, "xsds": xsds}


# -- the worker processes' side --------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """``value`` as JSON in one form only (keys sorted, no spaces, UTF-8): what is stored and
    digested."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, kw_only=True)
class Signing:
    """How a job's documents are signed (keywords of :class:`RenderParams` and
    :class:`RegisterParams`): at ``level`` when set, with the service's keys."""

    level: str | None = None
    profile: str = "test"
    pki_dir: str | None = None
    signing_config: str | None = None


@dataclass(frozen=True)
class RenderParams(Signing):
    """What a render job runs: picklable, stored as the job's request."""

    case_json: bytes
    forms: tuple[str, ...] | None
    formats: tuple[str, ...]
    variant: str
    """paper, electronic or auto (the case's own choice per form, as ``render --variant auto``)."""
    engine: str | None = None
    """The forms' PDF engine (weasyprint or typst); None: the rendering process's setting
    (a request stored before the engine was recorded)."""

    def to_json(self) -> bytes:
        return canonical_json({
            "case": json.loads(self.case_json), "forms": list(self.forms) if self.forms else None,
            "formats": list(self.formats), "variant": self.variant, "level": self.level, "profile": self.profile,
            "engine": self.engine,
        })  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes, pki_dir: str | None, signing_config: str | None) -> RenderParams:
        body = json.loads(raw)
        forms = tuple(body["forms"]) if body["forms"] else None
        return cls(canonical_json(body["case"]), forms, tuple(body["formats"]), body["variant"],
                   body.get("engine"), level=body["level"], profile=body["profile"], pki_dir=pki_dir,
                   signing_config=signing_config)  # fmt: skip


def pdf_engine(value: str | None) -> str:
    """The PDF engine a render is laid out with: ``value``, else the setting MSEDOCS_PDF_ENGINE,
    else weasyprint (:func:`msedocs.pipeline.parse_engine`; InputError for an unknown one)."""
    from .. import pipeline

    return pipeline.parse_engine(value)


@dataclass(frozen=True)
class Rendered:
    files: list[tuple[str, str, bytes]]
    """(name, media type, content) of every document, in the pipeline's order."""
    manifest: dict[str, Any]


@cache
def _profile(pki_dir: str | None, config: str | None, level: str) -> Any:
    """The signing profile, loaded once per worker process (keys are parsed once)."""
    from ..sign import SigningOptions, load

    if config is not None:
        return load(SigningOptions(level=level, config=Path(config)))
    return load(SigningOptions(level=level, pki_dir=Path(pki_dir) if pki_dir else None))


def render_task(params: RenderParams) -> Rendered:
    """Run in a worker process: the case through the pipeline (signed when a level is set)."""
    from .. import pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaseWarning)
        case = load_case(params.case_json, name="case")
    signed = params.level is not None
    profile = _profile(params.pki_dir, params.signing_config, params.level) if signed else None
    paper = params.variant == "paper" or (params.variant == "auto" and not signed)
    by_case = params.variant == "auto" and not signed
    docs = pipeline.render_package(case, params.formats, list(params.forms) if params.forms else None, paper=paper,
                                   profile=profile, variant_by_case=by_case, engine=params.engine)  # fmt: skip
    body = pipeline.manifest(case, docs)
    body["variant"] = params.variant
    if profile is not None and getattr(profile, "is_test", False):
        body["test_pki"] = True
    return Rendered([(d.filename, d.media_type, d.content) for d in docs], body)


def verify_task(
    content: bytes, p7s: bytes | None, pki_dir: str | None, policy: str = "default", require_level: str | None = None
) -> dict[str, Any]:
    """Run in a worker process: ``msedocs verify --json`` on uploaded bytes (a file and,
    optionally, its detached ``.p7s``), trusting the service's PKI. Raises InputError for a
    document that is neither XML nor PDF without a ``.p7s``, or a bad policy."""
    import logging

    import signing
    from signing.verify import verify_file

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="msedocs-verify-") as tmp:
        path = Path(tmp) / "document"
        path.write_bytes(content)
        if p7s is not None:
            path = Path(tmp) / "document.p7s"
            path.write_bytes(p7s)
        try:
            chosen = signing.load_policy(policy)
            report = verify_file(path, pki_dir, required_level=require_level, policy=chosen)
        except signing.ConfigurationError as exc:
            raise InputError(f"policy: {exc}") from None
        except signing.SigningFailure as exc:
            raise InputError(str(exc).replace(str(Path(tmp)) + os.sep, "")) from None
    return report.to_dict()


def warm_up() -> None:
    """A worker process's initializer: the rendering stack imported and its fonts and styles
    built before the first job."""
    from generators import pdf as pdf_gen

    pdf_gen.environment()
    pdf_gen._style()


def ping() -> int:
    """A task that proves a worker process answers."""
    return os.getpid()


def crash_task() -> None:  # pragma: no cover - used by the tests to break a worker on purpose
    os._exit(1)


def problem_kind(exc: MsedocsError) -> str:
    """The problem type of a flow error raised in a worker."""
    from ..errors import SchemaError, SigningError, TemplateError, UnknownFormError

    if isinstance(exc, UnknownFormError):
        return "unknown-form"
    if isinstance(exc, FormNotApplicableError):
        return "form-not-applicable"
    if isinstance(exc, SigningError):
        return "signing-failed"
    if isinstance(exc, SchemaError | TemplateError):
        return "render-failed"
    if isinstance(exc, InputError):
        return "invalid-input"
    return "render-failed"


def ensure_pki(pki_dir: str) -> str:
    """Create the TEST PKI in ``pki_dir`` unless it is there (under a file lock, so that the
    server and workers starting at once make one). Run in a worker process: it loads pyHanko."""
    import fcntl

    import signing

    folder = Path(pki_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "pki.json").exists():
            signing.init_pki(folder)
    return str(folder)


# -- registers over many cases: journals and the session protocol -----------------------------


def journal_ids() -> list[str]:
    from ..forms import JOURNALS

    return list(JOURNALS)


def cases_jsonl(cases: Sequence[Any]) -> bytes:
    """Cases (JSON objects) as JSON Lines, one case a line."""
    return b"".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for c in cases)


def stored_case(render_request: bytes) -> tuple[str, bytes] | None:
    """The case of a stored render job's request: its case_id and the case as one JSON line."""
    try:
        case = json.loads(render_request)["case"]
        return str(case["case_id"]), json.dumps(case, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except (ValueError, KeyError, TypeError):
        return None


_WHERE = re.compile(r"^.*cases\.jsonl:(\d+): ?(.*)$", re.S)


def check_batch(jsonl: bytes, *, as_array: bool) -> tuple[int, list[Problem]]:
    """Every case of a JSON Lines batch checked as ``msedocs journal`` checks its ``--cases``
    (the model's rules, each case_id once): the number of cases and the problems, each named by
    its place in the request (``cases[3].patient.sex`` for an array, ``line 4: …`` for JSON Lines)."""
    from ..model import BatchReader

    with tempfile.TemporaryDirectory(prefix="msedocs-batch-") as tmp:
        path = Path(tmp) / "cases.jsonl"
        path.write_bytes(jsonl)
        reader = BatchReader(path)
        try:
            for _ in reader:
                pass
        except InputError as exc:  # an empty batch
            return 0, [Problem("cases", exc.message.replace(str(path), "the batch"))]
    problems = []
    for p in reader.problems:
        found = _WHERE.match(p.path)
        if found is None:
            problems.append(Problem("cases", p.message))
            continue
        line, inner = int(found.group(1)), found.group(2)
        if as_array:
            inner = "" if inner.startswith("(") else inner
            sep = "" if not inner or inner.startswith("[") else "."
            problems.append(Problem(f"cases[{line - 1}]{sep}{inner}", p.message))
        else:
            problems.append(Problem(f"line {line}: {inner}", p.message, line))
    return reader.count, problems


@dataclass(frozen=True)
class RegisterParams(Signing):
    """A journal or protocol job: what it runs (the cases apart, in a stored blob)."""

    kind: str
    """journal or protocol."""
    options: dict[str, Any]
    """journal: journal, from, to, commission; protocol: number, date, variant."""
    formats: tuple[str, ...]
    cases_sha256: str

    def to_json(self) -> bytes:
        return canonical_json({"kind": self.kind, **self.options, "formats": list(self.formats),
                               "cases_sha256": self.cases_sha256, "level": self.level,
                               "profile": self.profile})  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes, pki_dir: str | None, signing_config: str | None) -> RegisterParams:
        body = json.loads(raw)
        kind = body.pop("kind")
        formats = tuple(body.pop("formats"))
        cases_sha256 = body.pop("cases_sha256")
        level, profile = body.pop("level"), body.pop("profile")
        return cls(kind, body, formats, cases_sha256, level=level, profile=profile, pki_dir=pki_dir,
                   signing_config=signing_config)  # fmt: skip


_MEDIA = {"xml": "application/xml", "pdf": "application/pdf",
          "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}  # fmt: skip


def register_task(params: RegisterParams, cases: bytes) -> Rendered:
    """Run in a worker process: ``msedocs journal`` or ``msedocs protocol`` over the cases (JSON
    Lines), through :func:`msedocs.journal.write` and :func:`msedocs.protocol.build`."""
    import datetime as dt

    from ..forms import DOCUMENTS
    from ..sign import register_signer

    with tempfile.TemporaryDirectory(prefix="msedocs-register-") as tmp:
        path = Path(tmp) / "cases.jsonl"
        path.write_bytes(cases)
        profile = _profile(params.pki_dir, params.signing_config, params.level) if params.level else None
        o = params.options
        if params.kind == "journal":
            from .. import journal

            spec = DOCUMENTS[o["journal"]]
            signer = register_signer(spec, profile) if profile is not None else None
            out = Path(tmp) / "out"
            first, last = dt.date.fromisoformat(o["from"]), dt.date.fromisoformat(o["to"])
            written = journal.write(o["journal"], path, first, last, out, params.formats,
                                    commission=o.get("commission"), workers=1, signer=signer)  # fmt: skip
            files = [(e["file"], e.get("media_type") or _MEDIA[e["file"].rsplit(".", 1)[-1]],
                      (out / e["file"]).read_bytes()) for e in written.files]  # fmt: skip
            manifest = json.loads(written.manifest.read_text(encoding="utf-8"))
        else:
            from .. import protocol
            from ..pipeline import file_entry

            signer = register_signer(protocol.PROTOCOL, profile) if profile is not None else None
            day = dt.date.fromisoformat(o["date"]) if o.get("date") else None
            paper = o.get("variant", "paper") == "paper" and profile is None
            docs = protocol.build(path, o.get("number"), day, params.formats, paper=paper, signer=signer)
            files = [(d.filename, d.media_type, d.content) for d in docs]
            manifest = {"form": protocol.PROTOCOL.id, "number": o.get("number"), "date": o.get("date"),
                        "files": [file_entry(d) for d in docs]}  # fmt: skip
    if profile is not None and getattr(profile, "is_test", False):
        manifest["test_pki"] = True
    return Rendered(files, manifest)


# -- deliveries: the outbox (msedocs.delivery), read and retried --------------------------------


def open_outbox(url: str) -> Any:
    """The outbox in the service's database (created there if missing, as ``queue init``)."""
    from ..delivery.store import Outbox

    return Outbox(url, create=True)


def delivery_states() -> tuple[str, ...]:
    from ..delivery.models import State

    return tuple(State.ALL)


def delivery_channels() -> tuple[str, ...]:
    from ..delivery.models import Channel

    return tuple(Channel.ALL)


def _delivery(item: Any, today: dt_date) -> dict[str, Any]:
    """An outbox item as the API shows it: :meth:`Item.summary` (never the recipient: no name,
    address or portal account) and its deadline (three working days by the production calendar)."""
    from ..delivery.calendar import working_days_between
    from ..delivery.models import State

    body: dict[str, Any] = item.summary()
    done = item.completed_on
    body["decision_date"] = item.decision_date.isoformat()
    body["created_at"] = item.created_at.isoformat(timespec="seconds")
    body["deadline"] = {
        "due_date": item.due_date.isoformat(),
        "completed_on": done.isoformat() if done else None,
        "overdue": done is None and item.state not in State.FINAL and item.due_date < today,
        "late": done is not None and done > item.due_date,
        "working_days_left": working_days_between(today, item.due_date, item.country) if done is None else None,
    }
    return body


def deliveries(outbox: Any, state: str | None, channel: str | None, limit: int, today: dt_date) -> dict[str, Any]:
    items = outbox.list_items(state, channel, limit=limit)
    return {"items": [_delivery(i, today) for i in items], "counts": outbox.counts()}


def delivery(outbox: Any, item_id: int, today: dt_date) -> dict[str, Any]:
    """One item, its documents (name, type, role, digest, size: not the content) and its history.
    InputError if there is none."""
    body = _delivery(outbox.get(item_id), today)
    body["documents"] = [{"name": d.name, "media_type": d.media_type, "role": d.role, "sha256": d.sha256,
                          "size": d.size} for d in outbox.documents(item_id)]  # fmt: skip
    body["history"] = [{"at": h.at.isoformat(timespec="seconds"), "from_state": h.from_state, "to_state": h.to_state,
                        "channel": h.channel, "reason": h.reason} for h in outbox.history(item_id)]  # fmt: skip
    return body


def retry_delivery(outbox: Any, item_id: int, today: dt_date) -> dict[str, Any]:
    """``msedocs queue retry``: a dead, waiting or returned item queued again now. InputError if
    there is none; :class:`DeliveryStateError` if its state allows no retry."""
    from ..delivery.store import InvalidTransitionError

    try:
        outbox.retry(item_id, reason="retry requested over the HTTP API")
    except InvalidTransitionError as exc:
        raise DeliveryStateError(str(exc)) from None
    return delivery(outbox, item_id, today)


def deadline_report(outbox: Any, today: dt_date) -> dict[str, Any]:
    """``msedocs deadlines --json``: due, overdue and delivered late."""
    report: dict[str, Any] = outbox.deadline_report(today).to_json()
    return report


class DeliveryStateError(MsedocsError):
    """The item's state allows no such transition."""


# -- two-step signing (PAdES through pyHanko's interrupted signing) -----------------------------

#: Hex digits reserved for the CMS in /Contents: an RSA-4096 or EC signature, a chain of a few
#: certificates and a signature timestamp token fit with room to spare. At B-LT and B-LTA the
#: DSS and the document timestamp go in later incremental updates, not here.
SESSION_RESERVED = 48_000
TWO_STEP_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def certificate_info(der: bytes, at: Any = None) -> dict[str, Any]:
    """What the API shows of a signer's certificate, and whether it can sign now; InputError
    when it is not a certificate."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise InputError("certificate: not an X.509 certificate (PEM or base64 DER)",
                         [Problem("certificate", "not an X.509 certificate")]) from None  # fmt: skip
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise InputError("certificate: an RSA or EC key is needed", [Problem("certificate", "not an RSA or EC key")])
    now = at.replace(tzinfo=dt.UTC) if at is not None else dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise InputError("certificate: not valid now", [Problem("certificate", "outside its validity period")])
    return {
        "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
        "serial_number": format(cert.serial_number, "x"), "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": hashlib.sha256(der).hexdigest(),
        "signature_algorithm": "RSASSA-PKCS1-v1_5 with SHA-256" if isinstance(key, rsa.RSAPublicKey)
        else "ECDSA with SHA-256",
    }  # fmt: skip


def _ext_signer(cert_der: bytes, chain_der: Sequence[bytes], signature: bytes | None) -> Any:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(cert_der)
    chain = [asn1_x509.Certificate.load(c) for c in chain_der]
    return signers.ExternalSigner(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
                                  signature_value=signature or bytes(512))  # fmt: skip


_M = re.compile(rb"/M \(D(?::|\\072)(\d{14})([^)]*)\)")


def _lt_context(cert_der: bytes, chain_der: Sequence[bytes], level: str, pki_dir: str | None,
                signing_config: str | None) -> tuple[Any, Any]:  # fmt: skip
    """B-LT and B-LTA: the service's profile at ``level`` and an offline validation context with
    the OCSP responses and CRLs of the certificate, its chain and the service's TSA
    (:func:`signing.pades.validation_context`, as ``render --sign`` uses). InputError naming
    ``level`` when the service has no revocation information for the certificate or it is revoked."""
    from cryptography import x509

    from signing.errors import RevocationError, TimestampError
    from signing.pades import validation_context

    profile = _profile(pki_dir, signing_config, level)
    cert = x509.load_der_x509_certificate(cert_der)
    chain = [x509.load_der_x509_certificate(c) for c in chain_der]
    try:
        return profile, validation_context(cert, chain, profile)
    except (RevocationError, TimestampError) as exc:
        raise InputError(f"level: {level} embeds the certificate's revocation information, which the service "
                         f"cannot give: {exc.message}",
                         [Problem("level", f"no revocation information for {level}")]) from None  # fmt: skip


async def _validation_status(ext: Any, context: Any, timestamper: Any, earlier_ts: Any, level: str) -> Any:
    """What pyHanko's :class:`PdfSigner` collects before a B-LT signature (its
    ``_perform_presign_validation``): the signer's validation path, the last document
    timestamp's (at B-LTA, when the PDF has one) and the TSA's, with the context's OCSP
    responses and CRLs. InputError naming ``certificate`` when no path validates."""
    from pyhanko.sign.signers.pdf_signer import PreSignValidationStatus
    from pyhanko_certvalidator import CertificateValidator
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    try:
        validator = CertificateValidator(ext.signing_cert, intermediate_certs=ext.cert_registry,
                                         validation_context=context)  # fmt: skip
        signer_path = await validator.async_validate_usage({"non_repudiation"})
        paths = [signer_path]
        if earlier_ts is not None:
            ts_validator = CertificateValidator(earlier_ts.signer_cert, validation_context=context,
                                                intermediate_certs=earlier_ts.other_embedded_certs)  # fmt: skip
            paths.append(await ts_validator.async_validate_usage(set(), extended_key_usage={"time_stamping"}))
        ts_paths = [p async for p in timestamper.validation_paths(context)]
    except (PathBuildingError, PathValidationError) as exc:
        raise InputError(f"certificate: not valid for {level} with the service's trusted roots and revocation "
                         f"information ({type(exc).__name__})",
                         [Problem("certificate", f"no valid certification path for {level}")]) from None  # fmt: skip
    return PreSignValidationStatus(signer_path=signer_path, validation_paths=[*paths, *ts_paths],
                                   ts_validation_paths=ts_paths, ocsps_to_embed=list(context.ocsps),
                                   crls_to_embed=list(context.crls))  # fmt: skip


def prepare_signature_task(
    pdf: bytes, cert_der: bytes, chain_der: Sequence[bytes], role: str, level: str = "B-T",
    pki_dir: str | None = None, signing_config: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run in a worker process: the PDF with a PAdES signature field and the room for its CMS
    (pyHanko's :meth:`PdfSigner.async_digest_doc_for_signing`), the /ByteRange digest, and the
    CMS signed attributes over it (message-digest, signing-certificate-v2, the signer's role):
    what the key holder signs. The signing time is the signature dictionary's /M. At B-LT and
    B-LTA the certificate's validation path and revocation information are checked first, so a
    session that could not be completed at its level is refused before anyone signs."""
    import asyncio
    import datetime as dt

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    from signing._cms import cades_attrs
    from signing.pades import _PdfAKeepingWriter  # keeps the PDF/A identification, as render --sign does

    ext = _ext_signer(cert_der, chain_der, None)
    if level in ("B-LT", "B-LTA"):
        from signing.services import timestamper_for

        profile, context = _lt_context(cert_der, chain_der, level, pki_dir, signing_config)
        asyncio.run(_validation_status(ext, context, timestamper_for(profile), None, level))
    try:
        existing = len(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
        writer = _PdfAKeepingWriter(io.BytesIO(pdf), strict=False)
    except Exception as exc:
        raise InputError(f"the document is not a PDF that can be signed ({type(exc).__name__})") from None
    cn = ext.signing_cert.subject.native.get("common_name", "")
    meta = signers.PdfSignatureMetadata(field_name=f"Signature{existing + 1}", md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES, reason=role or None, name=cn or None,
                                        cades_signed_attr_spec=cades_attrs(role) if role else None)  # fmt: skip
    pdf_signer = signers.PdfSigner(meta, signer=ext)

    settings = PdfCMSSignedAttributes(cades_signed_attrs=cades_attrs(role) if role else None)

    async def prepare() -> tuple[Any, Any, bytes]:
        out = io.BytesIO()
        prep, _tbs, _ = await pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=SESSION_RESERVED,
                                                                      output=out)  # fmt: skip
        attrs = await ext.signed_attrs(prep.document_digest, "sha256", use_pades=True, attr_settings=settings)
        return prep, attrs, out.getvalue()

    prep, attrs, prepared = asyncio.run(prepare())
    found = _M.search(prepared, len(pdf))
    stamp = found.group(1).decode() if found else None
    when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S") if stamp else None
    offset = found.group(2).decode().replace("'", "") if found else ""
    if when is not None and offset[:1] in "+-" and len(offset) >= 5:
        delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        when = when.replace(tzinfo=dt.timezone(delta if offset[0] == "+" else -delta))
    elif when is not None:
        when = when.replace(tzinfo=dt.UTC)
    return {"prepared": prepared, "document_digest": prep.document_digest, "start": prep.reserved_region_start,
            "end": prep.reserved_region_end, "signed_attrs": attrs.dump(), "field": meta.field_name,
            "signing_time": when.astimezone(dt.UTC).isoformat() if when else None}  # fmt: skip


def check_signature_value(cert_der: bytes, signed_attrs: bytes, signature: bytes) -> bool:
    """The signature value is the certificate's key's over the signed attributes (SHA-256)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = x509.load_der_x509_certificate(cert_der).public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_attrs, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def complete_signature_task(
    prepared: bytes, document_digest: bytes, start: int, end: int, signed_attrs: bytes, cert_der: bytes,
    chain_der: Sequence[bytes], signature: bytes, level: str, pki_dir: str | None, signing_config: str | None,
) -> bytes:  # fmt: skip
    """Run in a worker process: the CMS built around the key holder's signature value over the
    frozen signed attributes (with a signature timestamp from the service's TSA from B-T on) and
    written into the prepared PDF (:meth:`PdfTBSDocument.async_finish_signing`). At B-LT an
    incremental update adds the DSS (the certificates, OCSP responses and CRLs of the signer and
    the TSA, rebuilt here from the session's certificate and chain); at B-LTA a document timestamp
    follows it (pyHanko's :class:`PostSignInstructions`, as ``use_pades_lta`` does in
    ``render --sign``). InputError if the value is not the certificate's key's signature over
    those attributes."""
    import asyncio

    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
    from pyhanko.sign.signers.pdf_signer import PdfPostSignatureDocument, PdfTBSDocument, PostSignInstructions

    from signing.pades import existing_sig_fields, free_name
    from signing.services import timestamper_for

    if not check_signature_value(cert_der, signed_attrs, signature):
        raise InputError("signature: not the certificate's key's signature over the data to sign",
                         [Problem("signature", "does not verify with the session's certificate")])  # fmt: skip
    ext = _ext_signer(cert_der, chain_der, signature)
    long_term = level in ("B-LT", "B-LTA")
    context = None
    if long_term:
        profile, context = _lt_context(cert_der, chain_der, level, pki_dir, signing_config)
    else:
        profile = _profile(pki_dir, signing_config, "B-T")
    timestamper = timestamper_for(profile) if level != "B-B" else None
    output = io.BytesIO(prepared)

    async def finish() -> None:
        attrs = cms.CMSAttributes.load(signed_attrs)
        sig_cms = await ext.async_sign_prescribed_attributes("sha256", signed_attrs=attrs, timestamper=timestamper)
        digest = PreparedByteRangeDigest(document_digest, start, end)
        # the CMS into its reserved space (pyHanko's async_finish_signing in its two halves: the
        # post-signing instructions need the signed PDF read, which the placeholder does not allow)
        done = PdfTBSDocument.resume_signing(output, digest, sig_cms)
        if not long_term:
            return
        archive = level == "B-LTA"
        reader = PdfFileReader(io.BytesIO(output.getvalue()), strict=False)
        earlier = reader.embedded_timestamp_signatures[-1:] if archive else []
        status = await _validation_status(ext, context, timestamper, earlier[0] if earlier else None, level)
        field = free_name(existing_sig_fields(reader), "ArchiveTimeStamp") if archive else None
        instructions = PostSignInstructions(validation_info=status, timestamper=timestamper if archive else None,
                                            timestamp_md_algorithm="sha256", timestamp_field_name=field,
                                            strict=False)  # fmt: skip
        await PdfPostSignatureDocument(done.sig_contents, instructions, context).post_signature_processing(output)

    asyncio.run(finish())
    return output.getvalue()


# -- a CSC remote signer (Cloud Signature Consortium API v1) as a key source -------------------


def _csc_session(service: str, credential_id: str, token: str | None) -> Any:
    from pyhanko.sign.signers.csc_signer import CSCServiceSessionInfo

    return CSCServiceSessionInfo(service_url=service.rstrip("/"), credential_id=credential_id, oauth_token=token)


def csc_credential_task(service: str, credential_id: str, token: str | None) -> tuple[bytes, list[bytes]]:
    """Run in a worker process: the certificate and chain of a CSC credential
    (``credentials/info`` through pyHanko's :func:`fetch_certs_in_csc_credential`). InputError
    when the service refuses or cannot be reached."""
    import asyncio

    import aiohttp
    from pyhanko.sign.signers.csc_signer import fetch_certs_in_csc_credential

    async def fetch() -> Any:
        async with aiohttp.ClientSession() as session:
            return await fetch_certs_in_csc_credential(session, _csc_session(service, credential_id, token), 30)

    try:
        info = asyncio.run(fetch())
    except Exception as exc:  # the remote service's failure, whatever its kind
        raise InputError(f"csc: the signing service gave no certificate for the credential ({type(exc).__name__})",
                         [Problem("csc.credential_id", "credentials/info failed")]) from None  # fmt: skip
    return info.signing_cert.dump(), [c.dump() for c in info.chain]


def csc_sign_task(
    service: str, credential_id: str, token: str | None, sad: str, signed_attrs: bytes, cert_der: bytes
) -> bytes:
    """Run in a worker process: the signature value over the signed attributes from the CSC
    service (``signatures/signHash`` with the key holder's SAD, through pyHanko's
    :class:`CSCSigner`); the credential must still hold the session's certificate."""
    import asyncio

    import aiohttp
    from pyhanko.sign.signers.csc_signer import (
        CSCAuthorizationInfo,
        CSCSigner,
        PrefetchedSADAuthorizationManager,
        fetch_certs_in_csc_credential,
    )

    info = _csc_session(service, credential_id, token)

    async def sign() -> bytes:
        async with aiohttp.ClientSession() as session:
            credential = await fetch_certs_in_csc_credential(session, info, 30)
            if credential.signing_cert.dump() != cert_der:
                raise InputError("csc: the credential's certificate changed since the session began")
            manager = PrefetchedSADAuthorizationManager(info, credential, CSCAuthorizationInfo(sad=sad))
            signer = CSCSigner(session, manager, sign_timeout=60)
            return bytes(await signer.async_sign_raw(signed_attrs, "sha256"))

    try:
        return asyncio.run(sign())
    except InputError:
        raise
    except Exception as exc:  # the remote service's refusal (a bad SAD) or absence
        raise InputError(f"csc: the signing service did not sign ({type(exc).__name__})",
                         [Problem("csc.sad", "signatures/signHash failed")]) from None  # fmt: skip
