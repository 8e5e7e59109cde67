"""Signer keys and certificates, loaded once per process.

``cryptography`` validates an RSA private key every time it is loaded (about 40 ms for
RSA-2048), and signxml and pyHanko's ``SimpleSigner`` load it again on every call. Here a
key is loaded once, kept as a live object (a ``cryptography`` key, or a PKCS#11 session
and key handle), and every signature calls it directly.

- PKCS#12: :func:`load_pkcs12`; the password comes from the caller (see
  :func:`signing.profile.SignerRef.password`).
- PKCS#11: :func:`load_pkcs11` through python-pkcs11 (tested with SoftHSM2). The private
  key never leaves the token: we hand it the data and get a signature back.

:func:`load_signer` resolves a :class:`~signing.profile.SignerRef` through a process-wide
cache keyed by the reference and the key file's modification time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from .errors import KeyLoadError

__all__ = [
    "Handoff",
    "KeyHandle",
    "Pkcs11Key",
    "Signer",
    "SoftwareKey",
    "adopt",
    "clear_key_cache",
    "handoff",
    "load_pkcs11",
    "load_pkcs12",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_for(name: str) -> hashes.HashAlgorithm:
    """A ``cryptography`` hash by name; SHA-1 and anything unknown are refused."""
    try:
        return _HASHES[name.lower().replace("-", "")]()
    except KeyError:
        raise KeyLoadError(f"digest algorithm {name!r} is not allowed (use sha256, sha384 or sha512)") from None


class KeyHandle(Protocol):
    """A private key that can sign: in memory or on a token."""

    @property
    def algorithm(self) -> str:
        """``"rsa"`` or ``"ec"``."""
        ...

    def sign(self, data: bytes, digest: str) -> bytes:
        """Sign ``data`` (hashing it with ``digest``): RSA PKCS#1 v1.5, or ECDSA as DER."""
        ...


@dataclass(frozen=True)
class SoftwareKey:
    """A private key held in memory as a ``cryptography`` object (loaded once)."""

    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", "rsa" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ec")

    def sign(self, data: bytes, digest: str) -> bytes:
        h = hash_for(digest)
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, padding.PKCS1v15(), h)
        return self.private_key.sign(data, ec.ECDSA(h))


class Pkcs11Key:
    """A private key on a PKCS#11 token. The session stays open; signing is serialised by a lock."""

    def __init__(self, session: Any, key: Any, algorithm: str) -> None:
        self._session = session
        self._key = key
        self._lock = threading.Lock()
        self.algorithm = algorithm

    def sign(self, data: bytes, digest: str) -> bytes:
        import pkcs11
        from pkcs11.util.ec import encode_ecdsa_signature

        hash_for(digest)  # refuse SHA-1 early
        name = digest.lower().replace("-", "").upper()
        if self.algorithm == "rsa":
            mech = getattr(pkcs11.Mechanism, f"{name}_RSA_PKCS")
            with self._lock:
                return bytes(self._key.sign(data, mechanism=mech))
        mech = getattr(pkcs11.Mechanism, f"ECDSA_{name}")
        with self._lock:
            raw = bytes(self._key.sign(data, mechanism=mech))
        return bytes(encode_ecdsa_signature(raw))


@dataclass(frozen=True, eq=False)
class Signer:
    """One signer: role, certificate with its chain, and a loaded key."""

    role: str
    """Role key, e.g. ``"chairman"``."""
    title: str
    """SignerRole claimed in signatures, e.g. ``"Председатель МРЭК"``."""
    certificate: x509.Certificate
    """The signer's certificate."""
    chain: tuple[x509.Certificate, ...]
    """Issuing CA certificates up to the root (the root may be included)."""
    key: KeyHandle
    """The private key (in memory or on a token)."""

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        """Raw signature over ``data``."""
        return self.key.sign(data, digest)

    @cached_property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @cached_property
    def asn1_certificate(self) -> asn1_x509.Certificate:
        """The certificate as an asn1crypto object (what pyHanko wants)."""
        return asn1_x509.Certificate.load(self.certificate_der)

    @cached_property
    def asn1_chain(self) -> tuple[asn1_x509.Certificate, ...]:
        return tuple(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self.chain)


_cache: dict[tuple[Any, ...], Signer] = {}
_sessions: dict[tuple[str, str, str], Any] = {}  # one logged-in session per token (login is per process)
_cache_lock = threading.Lock()


def clear_key_cache() -> None:
    """Forget every loaded key (the next signature loads them again)."""
    with _cache_lock:
        _cache.clear()


#: A PKCS#12 signer as :func:`handoff` gives it: its cache key, role, title, the private key as
#: unencrypted PKCS#8 DER, the certificate and chain as DER.
Handoff = tuple[tuple[Any, ...], str, str, bytes, bytes, tuple[bytes, ...]]


def handoff(sources: Sequence[str | Path]) -> tuple[Handoff, ...]:
    """The PKCS#12 signers this process has loaded (and so checked) from the files ``sources``
    names or from files in the folders it names, for a child process of the same run to
    :func:`adopt` without opening and checking the files again (40 ms a key, in each worker of
    a batch). The keys are in clear: hand them over only through a pipe to a process of one's
    own, never to storage. Keys on a PKCS#11 token are not handed over."""
    roots = [Path(p).resolve() for p in sources]

    def wanted(file: str) -> bool:
        path = Path(file)
        return any(path == root or root in path.parents for root in roots)

    with _cache_lock:
        loaded = [(k, s, s.key) for k, s in _cache.items() if k[0] == "pkcs12" and wanted(k[1])]
    return tuple(
        (
            k,
            s.role,
            s.title,
            key.private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            s.certificate_der,
            tuple(c.public_bytes(serialization.Encoding.DER) for c in s.chain),
        )
        for k, s, key in loaded
        if isinstance(key, SoftwareKey)
    )


def adopt(signers: Sequence[Handoff]) -> None:
    """Take the signers a parent process loaded (:func:`handoff`): the key is not checked again
    (``unsafe_skip_rsa_key_validation``: the parent's :func:`load_pkcs12` checked it). A key
    file changed since has another modification time, so it is loaded from the file again."""
    for cache_key, role, title, key_der, cert_der, chain_der in signers:
        key = serialization.load_der_private_key(key_der, None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            continue
        signer = Signer(
            role=role,
            title=title,
            certificate=x509.load_der_x509_certificate(cert_der),
            chain=tuple(x509.load_der_x509_certificate(c) for c in chain_der),
            key=SoftwareKey(key),
        )
        with _cache_lock:
            _cache.setdefault(tuple(cache_key), signer)


def load_pkcs12(path: str | Path, password: str | bytes | None, *, role: str, title: str) -> Signer:
    """Load a signer from a PKCS#12 file, once per process (per path, mtime, role)."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {p}: {exc.strerror}") from exc
    cache_key = ("pkcs12", str(p.resolve()), mtime, role, title)
    with _cache_lock:
        hit = _cache.get(cache_key)
    if hit is not None:
        return hit
    pw = password.encode() if isinstance(password, str) else password
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p.read_bytes(), pw)
    except ValueError as exc:
        raise KeyLoadError(f"cannot open PKCS#12 file {p}: wrong password or damaged file") from exc
    if key is None or cert is None:
        raise KeyLoadError(f"PKCS#12 file {p} holds no private key and certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyLoadError(f"PKCS#12 file {p}: only RSA and ECDSA keys are supported")
    signer = Signer(role=role, title=title, certificate=cert, chain=tuple(extra), key=SoftwareKey(key))
    with _cache_lock:
        _cache[cache_key] = signer
    return signer


def load_pkcs11(
    module: str,
    *,
    token_label: str,
    key_label: str,
    pin: str,
    role: str,
    title: str,
    cert: x509.Certificate | None = None,
    chain: Sequence[x509.Certificate] = (),
) -> Signer:
    """Open a PKCS#11 token once and return a signer whose key stays on it.

    The certificate is taken from ``cert`` or, if ``None``, from the token (a
    certificate object with the same label as the key).
    """
    cache_key = ("pkcs11", module, token_label, key_label, role, title)
    with _cache_lock:
        hit = _cache.get(cache_key)
    if hit is not None:
        return hit
    try:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise KeyLoadError("python-pkcs11 is not installed") from exc
    try:
        with _cache_lock:
            session = _sessions.get((module, token_label, pin))
        if session is None:
            lib = pkcs11.lib(module)
            token = lib.get_token(token_label=token_label)
            session = token.open(user_pin=pin)
            with _cache_lock:
                _sessions[(module, token_label, pin)] = session
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key_label)
        if cert is None:
            objs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: key_label}))
            if not objs:
                raise KeyLoadError(f"token {token_label!r} has no certificate labelled {key_label!r}")
            cert = x509.load_der_x509_certificate(bytes(objs[0][Attribute.VALUE]))
    except KeyLoadError:
        raise
    except Exception as exc:  # python-pkcs11 raises many unrelated types
        raise KeyLoadError(
            f"PKCS#11 token {token_label!r}, key {key_label!r} via {module}: {type(exc).__name__} {exc}"
        ) from exc
    algorithm = "rsa" if key.key_type == KeyType.RSA else "ec"
    signer = Signer(
        role=role, title=title, certificate=cert, chain=tuple(chain), key=Pkcs11Key(session, key, algorithm)
    )
    with _cache_lock:
        _cache[cache_key] = signer
    return signer
