"""The test PKI's services: an RFC 3161 timestamp authority, an OCSP responder and CRLs.

They run in-process by default (no network, no server), and over HTTP on localhost with
:func:`serve` (``msedocs pki serve``), so that integrators' own tools can use them too:

- ``POST /tsa``: RFC 3161 (``application/timestamp-query``);
- ``POST /ocsp`` or ``GET /ocsp/<base64>``: RFC 6960;
- ``GET /crl/root.crl``, ``GET /crl/ca.crl``: DER CRLs, issued fresh;
- ``GET /root-ca.pem``, ``GET /ca.pem``: the certificates.

Keys load once per process. The timestamper signs with a cached key, so a B-T signature
costs one more RSA signature and no key parsing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import threading
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from asn1crypto.parser import emit
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import get_nonce
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from ._async import run_sync
from .errors import RevocationError, TimestampError
from .keys import SoftwareKey
from .pki import TestPki, build_crl, load_pki, pki_key, pki_password
from .profile import SigningProfile

__all__ = [
    "HttpTimeStamper",
    "InProcessTimeStamper",
    "RevocationAuthority",
    "ValidationData",
    "serve",
    "local_authority",
    "timestamp_token",
    "timestamper_for",
    "validation_data_for",
]

log = logging.getLogger("signing")

_DER = serialization.Encoding.DER


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(_DER))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InProcessTimeStamper(DummyTimeStamper):
    """pyHanko's ``DummyTimeStamper`` with the TSA key loaded once and ESS signing-certificate-v2."""

    def __init__(
        self, tsa_cert: x509.Certificate, tsa_key: rsa.RSAPrivateKey, chain: Sequence[x509.Certificate] = ()
    ) -> None:
        asn1_cert = to_asn1(tsa_cert)
        super().__init__(
            tsa_cert=asn1_cert,
            tsa_key=None,  # type: ignore[arg-type]  # we sign with the loaded key instead
            certs_to_embed=[to_asn1(c) for c in chain],  # type: ignore[arg-type]
        )
        self._key = tsa_key
        # Constant parts, DER-encoded once: asn1crypto re-serialises (and re-sorts) nested
        # objects it is handed, which costs milliseconds per token for the certificates alone.
        self._scv2_der = simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(asn1_cert, "sha256")
        ).dump()
        self._ct_der = simple_cms_attribute("content_type", "tst_info").dump()
        self._tsa_name_der = asn1_x509.GeneralName(name="directory_name", value=asn1_cert.subject).dump()
        self._sid_der = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number},
        ).dump()
        self._certs_der = [c.dump() for c in [asn1_cert, *self.certs_to_embed]]
        self._policy = tsp.ObjectIdentifier("2.25.329800735698586629295641978511506172918.2")
        self._sha256_der = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
        self._rsa_der = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}).dump()
        self._tst_info_oid = cms.ContentType("tst_info").dump()
        self._signed_data_oid = cms.ContentType("signed_data").dump()

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Answer ``req`` with a token signed by the TSA key (SHA-256, signing-certificate-v2)."""
        gen_time = self.fixed_dt or dt.datetime.now(dt.UTC)
        tst_args: dict[str, Any] = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": req["message_imprint"],
            "serial_number": get_nonce(),
            "gen_time": gen_time,
            "tsa": asn1_x509.GeneralName.load(self._tsa_name_der),
        }
        if req["nonce"].native is not None:
            tst_args["nonce"] = req["nonce"]
        tst_info_data = tsp.TSTInfo(tst_args).dump()
        # The rest is assembled from DER parts (the certificates and the signer's identifier
        # encoded once): the same bytes as the asn1crypto structures built from values
        # (tests/signing/test_cms_fast.py), which re-encoded the certificates for every token.
        attrs = [
            self._ct_der,
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(gen_time)})).dump(),
            self._scv2_der,
            simple_cms_attribute("message_digest", hashlib.sha256(tst_info_data).digest()).dump(),
        ]
        signed_attrs = b"".join(sorted(attrs))  # a DER SET OF: its members in the order of their encodings
        signature = self._key.sign(emit(0, 1, 17, signed_attrs), padding.PKCS1v15(), hashes.SHA256())
        signer_info = emit(0, 1, 16, b"".join([
            core.Integer(1).dump(),  # v1
            self._sid_der,
            self._sha256_der,
            emit(2, 1, 0, signed_attrs),  # [0] IMPLICIT
            self._rsa_der,
            core.OctetString(signature).dump(),
        ]))  # fmt: skip
        encap = emit(0, 1, 16, self._tst_info_oid + emit(2, 1, 0, core.OctetString(tst_info_data).dump()))
        signed_data = emit(0, 1, 16, b"".join([
            core.Integer(3).dump(),  # v3
            emit(0, 1, 17, self._sha256_der),
            encap,
            emit(2, 1, 0, b"".join(sorted(self._certs_der))),  # [0] IMPLICIT SET OF
            emit(0, 1, 17, signer_info),
        ]))  # fmt: skip
        token = emit(0, 1, 16, self._signed_data_oid + emit(2, 1, 0, signed_data))
        granted = emit(0, 1, 16, core.Integer(0).dump())  # PKIStatusInfo {status granted}
        return tsp.TimeStampResp.load(emit(0, 1, 16, granted + token))

    def timestamp_token(self, digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        """A timestamp token over ``digest`` (synchronous, no event loop)."""
        nonce, req = self.request_cms(digest, md_algorithm)
        from pyhanko.sign.timestamps.common_utils import handle_tsp_response

        return handle_tsp_response(self.request_tsa_response(req), nonce)


class HttpTimeStamper(TimeStamper):
    """An RFC 3161 client over HTTP(S) with httpx."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        import httpx  # only here: a fifth of a second to import, which a signer with an in-process TSA never needs

        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.post(
                    self.url, content=req.dump(), headers={"Content-Type": "application/timestamp-query"}
                )
        except httpx.HTTPError as exc:
            raise TimestampError(f"timestamp authority {self.url}: {exc}") from exc
        if r.status_code != 200:
            raise TimestampError(f"timestamp authority {self.url} answered HTTP {r.status_code}")
        return tsp.TimeStampResp.load(r.content)

    def timestamp_token(self, digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        return run_sync(self.async_timestamp(digest, md_algorithm))


@dataclass
class ValidationData:
    """Certificates and revocation data to embed for B-LT."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)

    def add_certs(self, certs: Iterable[x509.Certificate]) -> None:
        for c in certs:
            if c not in self.certificates:
                self.certificates.append(c)


class RevocationAuthority:
    """The test PKI's CA side: fresh CRLs and OCSP responses, and the timestamper. Keys load once."""

    def __init__(self, pki: TestPki, password: str | None = None) -> None:
        self.pki = pki
        self._pw = password if password is not None else pki_password()
        self._lock = threading.Lock()
        self._crl_cache: dict[tuple[str, int], bytes] = {}
        self._ocsp_cache: dict[tuple[int, int], bytes] = {}
        self._timestamper: InProcessTimeStamper | None = None

    def _key(self, name: str) -> rsa.RSAPrivateKey:
        signer = pki_key(self.pki, name, self._pw)
        assert isinstance(signer.key, SoftwareKey) and isinstance(signer.key.private_key, rsa.RSAPrivateKey)
        return signer.key.private_key

    @property
    def timestamper(self) -> InProcessTimeStamper:
        with self._lock:
            if self._timestamper is None:
                self._timestamper = InProcessTimeStamper(self.pki.tsa, self._key("tsa"), self.pki.chain)
            return self._timestamper

    @staticmethod
    def _bucket(now: dt.datetime) -> int:
        return int(now.timestamp()) // 600

    def crl(self, name: str) -> bytes:
        """DER CRL ``root`` (covers the issuing CA) or ``ca`` (covers signers, TSA, responder)."""
        now = _now()
        key = (name, self._bucket(now))
        with self._lock:
            hit = self._crl_cache.get(key)
        if hit is not None:
            return hit
        if name == "root":
            der = build_crl(self.pki.root, self._key("root"), {}, now).public_bytes(_DER)
        elif name == "ca":
            revoked = {s: t for s, t in self.pki.revoked.items() if t <= now}
            der = build_crl(self.pki.ca, self._key("ca"), revoked, now).public_bytes(_DER)
        else:
            raise RevocationError(f"the test PKI has no CRL named {name!r}")
        with self._lock:
            self._crl_cache[key] = der
        return der

    def _issued_by_ca(self) -> dict[int, x509.Certificate]:
        certs = {c.serial_number: c for c in self.pki.signers.values()}
        certs[self.pki.tsa.serial_number] = self.pki.tsa
        certs[self.pki.ocsp.serial_number] = self.pki.ocsp
        return certs

    def _ocsp_builder(self, now: dt.datetime) -> ocsp.OCSPResponseBuilder:
        return (
            ocsp.OCSPResponseBuilder()
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.pki.ocsp)
            .certificates([self.pki.ocsp])
        )

    def _status(self, serial: int, now: dt.datetime) -> tuple[ocsp.OCSPCertStatus, dt.datetime | None]:
        when = self.pki.revoked.get(serial)
        if when is not None and when <= now:
            return ocsp.OCSPCertStatus.REVOKED, when
        return ocsp.OCSPCertStatus.GOOD, None

    def ocsp_response(self, cert: x509.Certificate) -> bytes:
        """A fresh DER OCSP response about ``cert`` (issued by the test CA)."""
        now = _now()
        key = (cert.serial_number, self._bucket(now))
        with self._lock:
            hit = self._ocsp_cache.get(key)
        if hit is not None:
            return hit
        if cert.issuer != self.pki.ca.subject:
            raise RevocationError(f"the test OCSP responder does not answer for {cert.subject.rfc4514_string()}")
        status, when = self._status(cert.serial_number, now)
        b = self._ocsp_builder(now).add_response(
            cert=cert,
            issuer=self.pki.ca,
            algorithm=hashes.SHA256(),
            cert_status=status,
            this_update=now - dt.timedelta(seconds=5),
            next_update=now + dt.timedelta(days=7),
            revocation_time=when,
            revocation_reason=x509.ReasonFlags.key_compromise if when else None,
        )
        der = b.sign(self._key("ocsp"), hashes.SHA256()).public_bytes(_DER)
        with self._lock:
            self._ocsp_cache[key] = der
        return der

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER OCSP request."""
        try:
            req = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
                _DER
            )
        now = _now()
        cert = self._issued_by_ca().get(req.serial_number)
        algo = req.hash_algorithm
        ca_name_hash = hashes.Hash(type(algo)())
        ca_name_hash.update(self.pki.ca.subject.public_bytes())
        if cert is None or req.issuer_name_hash != ca_name_hash.finalize():
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(_DER)
        status, when = self._status(req.serial_number, now)
        b = self._ocsp_builder(now).add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash,
            issuer_key_hash=req.issuer_key_hash,
            serial_number=req.serial_number,
            algorithm=algo,
            cert_status=status,
            this_update=now - dt.timedelta(seconds=5),
            next_update=now + dt.timedelta(days=7),
            revocation_time=when,
            revocation_reason=x509.ReasonFlags.key_compromise if when else None,
        )
        for ext in req.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                b = b.add_extension(ext.value, critical=False)
        return b.sign(self._key("ocsp"), hashes.SHA256()).public_bytes(_DER)

    def validation_data(self, leaves: Iterable[x509.Certificate]) -> ValidationData:
        """Everything needed to validate ``leaves`` offline: chains, OCSP responses, both CRLs."""
        data = ValidationData()
        for leaf in leaves:
            data.add_certs([leaf])
            data.ocsps.append(self.ocsp_response(leaf))
        data.add_certs([self.pki.ca, self.pki.root, self.pki.ocsp])
        data.crls.extend([self.crl("ca"), self.crl("root")])
        return data


_authorities: dict[str, RevocationAuthority] = {}
_auth_lock = threading.Lock()


def local_authority(pki_dir: str | Path) -> RevocationAuthority:
    """The process-wide in-process authority (TSA, OCSP, CRLs) of the test PKI in ``pki_dir``."""
    key = str(Path(pki_dir).resolve())
    with _auth_lock:
        auth = _authorities.get(key)
        if auth is None:
            auth = RevocationAuthority(load_pki(pki_dir))
            _authorities[key] = auth
        return auth


def serve(directory: str | Path, host: str = "127.0.0.1", port: int = 8790) -> ThreadingHTTPServer:
    """An HTTP server for the test PKI's TSA, OCSP responder and CRLs (call ``serve_forever()``)."""
    auth = local_authority(directory)
    pki = auth.pki

    class Handler(BaseHTTPRequestHandler):
        server_version = "msedocs-test-pki/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.info("pki serve: " + format, *args)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            p = self.path
            if p == "/crl/root.crl":
                self._send(200, auth.crl("root"), "application/pkix-crl")
            elif p == "/crl/ca.crl":
                self._send(200, auth.crl("ca"), "application/pkix-crl")
            elif p in ("/root-ca.pem", "/ca.pem"):
                cert = pki.root if p == "/root-ca.pem" else pki.ca
                self._send(200, cert.public_bytes(serialization.Encoding.PEM), "application/x-pem-file")
            elif p.startswith("/ocsp/"):
                # RFC 6960 appendix A.1: base64 of the DER request, then URL-encoded (NSS sends %2B, %2F)
                text = urllib.parse.unquote(p[len("/ocsp/") :])
                try:
                    der = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text else None)
                except ValueError:
                    self._send(400, b"bad OCSP request", "text/plain")
                    return
                self._send(200, auth.respond(der), "application/ocsp-response")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            if length > 1_000_000:
                self._send(413, b"too large", "text/plain")
                return
            body = self.rfile.read(length)
            if self.path == "/ocsp":
                self._send(200, auth.respond(body), "application/ocsp-response")
            elif self.path == "/tsa":
                try:
                    req = tsp.TimeStampReq.load(body)
                    req.native  # noqa: B018  # force a full parse
                except ValueError:
                    self._send(400, b"bad timestamp request", "text/plain")
                    return
                resp = auth.timestamper.request_tsa_response(req)
                self._send(200, resp.dump(), "application/timestamp-reply")
            else:
                self._send(404, b"not found", "text/plain")

    return ThreadingHTTPServer((host, port), Handler)


def timestamper_for(profile: SigningProfile) -> InProcessTimeStamper | HttpTimeStamper:
    """The profile's timestamp authority: a URL, or the test PKI's in-process TSA."""
    if profile.tsa_url:
        key = profile.tsa_url
        with _auth_lock:
            ts = _http_timestampers.get(key)
            if ts is None:
                ts = _http_timestampers[key] = HttpTimeStamper(profile.tsa_url)
        return ts
    if profile.pki_dir is None:
        raise TimestampError("no timestamp authority: set tsa_url or use a test PKI")
    return local_authority(profile.pki_dir).timestamper


_http_timestampers: dict[str, HttpTimeStamper] = {}


def timestamp_token(profile: SigningProfile, digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
    """An RFC 3161 token over ``digest`` from the profile's TSA."""
    try:
        return timestamper_for(profile).timestamp_token(digest, md_algorithm)
    except TimestampError:
        raise
    except Exception as exc:  # pyHanko's TimestampRequestError, IO errors
        raise TimestampError(f"timestamp request failed: {exc}") from exc


def is_ca(cert: x509.Certificate) -> bool:
    """True for a CA certificate (basicConstraints cA)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def tsa_certificates(token: cms.ContentInfo) -> list[x509.Certificate]:
    """Certificates carried in a timestamp token."""
    out = []
    for c in token["content"]["certificates"] or ():
        if c.name == "certificate":
            out.append(x509.load_der_x509_certificate(c.chosen.dump()))
    return out


def validation_data_for(
    profile: SigningProfile, leaves: Sequence[x509.Certificate], extra: Sequence[x509.Certificate] = ()
) -> ValidationData:
    """Certificates, OCSP responses and CRLs to validate ``leaves`` (signer, TSA) offline."""
    data = ValidationData()
    if "in-process" in profile.revocation_sources and profile.pki_dir is not None:
        auth = local_authority(profile.pki_dir)
        ours = [c for c in leaves if c.issuer == auth.pki.ca.subject]
        if ours:
            got = auth.validation_data(ours)
            data.add_certs(got.certificates)
            data.ocsps.extend(got.ocsps)
            data.crls.extend(got.crls)
        leaves = [c for c in leaves if c.issuer != auth.pki.ca.subject]
    if leaves:
        if "fetch" not in profile.revocation_sources:
            names = ", ".join(c.subject.rfc4514_string() for c in leaves)
            raise RevocationError(f"no revocation source for {names}; add 'fetch' to revocation_sources")
        _fetch_validation_data(profile, leaves, extra, data)
    data.add_certs(extra)
    _refuse_revoked(data)
    return data


def _refuse_revoked(data: ValidationData) -> None:
    """B-LT with a revoked certificate would only document the revocation: refuse to sign."""
    for der in data.ocsps:
        resp = ocsp.load_der_ocsp_response(der)
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise RevocationError(f"OCSP responder answered {resp.response_status.name}")
        for single in resp.responses:
            if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
                raise RevocationError(
                    f"certificate {single.serial_number:X} is revoked "
                    f"(since {single.revocation_time_utc:%Y-%m-%d %H:%M} UTC); cannot sign at B-LT"
                )


def _fetch_validation_data(
    profile: SigningProfile,
    leaves: Sequence[x509.Certificate],
    extra: Sequence[x509.Certificate],
    out: ValidationData,
) -> None:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    roots = [to_asn1(c) for p in profile.trust_root_paths() for c in x509.load_pem_x509_certificates(p.read_bytes())]
    contexts: list[ValidationContext] = []

    async def run() -> None:
        async with AIOHttpFetcherBackend(per_request_timeout=10) as fetchers:
            vc = ValidationContext(
                trust_roots=roots,
                other_certs=[to_asn1(c) for c in extra],
                allow_fetching=True,
                fetchers=fetchers,
                revocation_mode="hard-fail",
            )
            contexts.append(vc)
            for leaf in leaves:
                path = await CertificateValidator(to_asn1(leaf), validation_context=vc).async_validate_usage(set())
                out.add_certs(x509.load_der_x509_certificate(c.dump()) for c in path)

    try:
        run_sync(run())
    except Exception as exc:
        raise RevocationError(f"could not fetch validation data: {exc}") from exc
    vc = contexts[0]
    out.ocsps.extend(o.dump() for o in vc.ocsps)
    out.crls.extend(c.dump() for c in vc.crls)
