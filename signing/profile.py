"""What to sign with and how: :class:`SigningProfile`, from a TOML file and the environment.

Precedence, lowest first: built-in defaults (the test PKI under ``<cwd>/.msedocs/pki``,
created on first use), the ``[signing]`` table of a TOML file, ``MSEDOCS_SIGN_*``
environment variables.

Configuration file (``msedocs.toml`` or the path in ``MSEDOCS_SIGN_CONFIG``)::

    [signing]
    level = "B-LT"                       # B-B, B-T, B-LT or B-LTA
    tsa_url = "https://tsa.example/tsp"  # omit for the in-process test TSA
    revocation_sources = ["fetch"]       # "in-process" (test PKI) or "fetch" (URLs in certificates)
    trust_roots = ["/etc/msedocs/root.pem"]

    [signing.signers.chairman]
    title = "Председатель МРЭК"
    pkcs12 = "/etc/msedocs/keys/chairman.p12"
    password_env = "CHAIRMAN_P12_PASSWORD"   # or password_file = "/run/secrets/chairman"

    [signing.signers.bureau_head]
    title = "Руководитель бюро"
    pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
    token_label = "msedocs"
    key_label = "bureau_head"
    pin_env = "MSEDOCS_PKCS11_PIN"

Environment: ``MSEDOCS_SIGN_LEVEL``, ``MSEDOCS_SIGN_TSA_URL``, ``MSEDOCS_SIGN_PKI_DIR``,
``MSEDOCS_SIGN_REVOCATION`` (comma-separated), ``MSEDOCS_SIGN_TRUST_ROOTS``
(``os.pathsep``-separated), ``MSEDOCS_SIGN_CONFIG``.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509

from .errors import ConfigurationError, KeyLoadError
from .keys import Signer, load_pkcs11, load_pkcs12
from .pki import ROLE_TITLES, init_pki, load_pki, pki_password

__all__ = ["Level", "SignerRef", "SigningProfile", "load_profile", "pki_profile"]

log = logging.getLogger("signing")

ENV_PREFIX = "MSEDOCS_SIGN_"
_warned: set[str] = set()  # the TEST warning is logged once per PKI directory and process


@functools.total_ordering
class Level(enum.Enum):
    """Baseline signature levels of ETSI EN 319 132 / 319 122 / 319 142."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return ("B-B", "B-T", "B-LT", "B-LTA").index(self.value)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        if isinstance(value, Level):
            return value
        norm = str(value).strip().upper().replace("_", "-")
        if not norm.startswith("B-"):
            norm = "B-" + norm
        for level in cls:
            if level.value == norm:
                return level
        raise ConfigurationError(f"signature level {value!r} is not one of B-B, B-T, B-LT, B-LTA")


@dataclass(frozen=True)
class SignerRef:
    """Where one role's key and certificate live: a PKCS#12 file or a PKCS#11 token."""

    role: str
    """Role key used by the form registry (``chairman``, ``member1``, ``bureau_head``…)."""
    title: str
    """SignerRole written into signatures, e.g. ``"Председатель МРЭК"``."""
    pkcs12: Path | None = None
    """PKCS#12 file holding key, certificate and chain."""
    password_env: str | None = "MSEDOCS_PKI_PASSWORD"
    """Environment variable holding the PKCS#12 password."""
    password_file: Path | None = None
    """File holding the PKCS#12 password (first line); used if the variable is unset."""
    pkcs11_module: str | None = None
    """PKCS#11 module (``.so``); set this instead of ``pkcs12`` for a key on a token/HSM."""
    token_label: str | None = None
    """Label of the PKCS#11 token."""
    key_label: str | None = None
    """Label of the private key (and of its certificate object) on the token."""
    pin_env: str = "MSEDOCS_PKCS11_PIN"
    """Environment variable holding the token's user PIN."""
    cert: Path | None = None
    """PEM certificate for a PKCS#11 key, if it is not stored on the token."""
    chain: tuple[Path, ...] = ()
    """PEM files of the issuing CAs for a PKCS#11 key."""
    default_password: str | None = None
    """Password to use when neither the variable nor the file gives one (test PKI only)."""

    def password(self, env: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if env is None else env
        if self.password_env and env.get(self.password_env):
            return env[self.password_env]
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise KeyLoadError(f"cannot read password file {self.password_file} for {self.role}") from exc
        return self.default_password

    def load(self, env: Mapping[str, str] | None = None) -> Signer:
        """The loaded signer (cached per process)."""
        env = os.environ if env is None else env
        if self.pkcs12 is not None:
            return load_pkcs12(self.pkcs12, self.password(env), role=self.role, title=self.title)
        if self.pkcs11_module and self.token_label and self.key_label:
            pin = env.get(self.pin_env)
            if not pin:
                raise KeyLoadError(f"PKCS#11 PIN for {self.role} is not set (environment variable {self.pin_env})")
            cert = _read_cert(self.cert) if self.cert else None
            chain = [_read_cert(p) for p in self.chain]
            return load_pkcs11(
                self.pkcs11_module,
                token_label=self.token_label,
                key_label=self.key_label,
                pin=pin,
                role=self.role,
                title=self.title,
                cert=cert,
                chain=chain,
            )
        raise ConfigurationError(f"signer {self.role!r} names neither a pkcs12 file nor a PKCS#11 key")


def _read_cert(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"cannot load certificate {path}: {exc}") from exc


@dataclass(frozen=True)
class SigningProfile:
    """How documents are signed. Build with :func:`load_profile` or :func:`pki_profile`."""

    level: Level = Level.B_T
    """Signature level to produce: B-B, B-T (adds a signature timestamp), B-LT (adds validation data) or
    B-LTA (adds an archive timestamp over all that: a PDF document timestamp, a XAdES
    ``ArchiveTimeStamp``, a CAdES archive-time-stamp-v3)."""
    signers: Mapping[str, SignerRef] = field(default_factory=dict)
    """Key and certificate per role."""
    tsa_url: str | None = None
    """RFC 3161 timestamp authority; ``None`` uses the test PKI's in-process TSA."""
    revocation_sources: tuple[str, ...] = ("in-process",)
    """Where B-LT gets OCSP responses and CRLs: ``"in-process"`` (the test PKI's responder, no
    network) and/or ``"fetch"`` (the OCSP and CRL URLs named in the certificates)."""
    pki_dir: Path | None = None
    """Directory of the test PKI (in-process TSA and OCSP, default trust root), if one is used."""
    trust_roots: tuple[Path, ...] = ()
    """PEM files of trust anchors for verification and B-LT path building (default: the test root)."""
    digest: str = "sha256"
    """Digest algorithm for every hash in a signature; SHA-1 is refused."""
    is_test: bool = False
    """True when keys come from a generated TEST PKI: signatures are not valid for real use."""
    cades_per_signer: bool = False
    """Besides the combined detached ``.p7s``, one per signer (:func:`signing.cades.split_detached`),
    for tools that expect a single SignerInfo."""

    def __post_init__(self) -> None:
        if self.digest.lower().replace("-", "") not in ("sha256", "sha384", "sha512"):
            raise ConfigurationError(f"digest {self.digest!r} is not allowed; use sha256, sha384 or sha512")
        if self.level >= Level.B_T and self.tsa_url is None and self.pki_dir is None:
            raise ConfigurationError(f"level {self.level.value} needs tsa_url or a test PKI (pki_dir)")

    def signer(self, role: str) -> Signer:
        """The loaded signer for ``role`` (keys load once per process)."""
        try:
            ref = self.signers[role]
        except KeyError:
            known = ", ".join(sorted(self.signers)) or "none"
            raise ConfigurationError(f"no signer configured for role {role!r} (configured: {known})") from None
        return ref.load()

    def signers_for(self, roles: Sequence[str]) -> list[Signer]:
        """Loaded signers for several roles, in order."""
        return [self.signer(r) for r in roles]

    def trust_root_paths(self) -> tuple[Path, ...]:
        if self.trust_roots:
            return self.trust_roots
        if self.pki_dir is not None:
            return (self.pki_dir / "root-ca.pem",)
        return ()

    def with_level(self, level: Level | str) -> SigningProfile:
        return replace(self, level=Level.parse(level))


def pki_profile(pki_dir: str | os.PathLike[str], level: Level | str = Level.B_T) -> SigningProfile:
    """A profile using every role of the test PKI in ``pki_dir`` (created if missing)."""
    d = Path(pki_dir)
    pki = load_pki(d) if (d / "pki.json").exists() else init_pki(d)
    pw = pki_password()
    signers = {
        role: SignerRef(role=role, title=title, pkcs12=pki.key_path(role), default_password=pw)
        for role, title in pki.titles.items()
    }
    return SigningProfile(level=Level.parse(level), signers=signers, pki_dir=d, is_test=True)


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: [{key}] must be a table")
    return value


def _signer_from_toml(role: str, t: Mapping[str, Any], base: Path, where: str) -> SignerRef:
    def path(name: str) -> Path | None:
        v = t.get(name)
        return None if v is None else (base / str(v))

    known = {
        "title", "pkcs12", "password_env", "password_file", "pkcs11_module", "token_label",
        "key_label", "pin_env", "cert", "chain",
    }  # fmt: skip
    unknown = set(t) - known
    if unknown:
        raise ConfigurationError(f"{where}: signing.signers.{role}: unknown keys {sorted(unknown)}")
    return SignerRef(
        role=role,
        title=str(t.get("title", ROLE_TITLES.get(role, role))),
        pkcs12=path("pkcs12"),
        password_env=t.get("password_env", "MSEDOCS_PKI_PASSWORD"),
        password_file=path("password_file"),
        pkcs11_module=t.get("pkcs11_module"),
        token_label=t.get("token_label"),
        key_label=t.get("key_label"),
        pin_env=t.get("pin_env", "MSEDOCS_PKCS11_PIN"),
        cert=path("cert"),
        chain=tuple(base / str(p) for p in t.get("chain", ())),
    )


def load_profile(
    config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    cwd: str | os.PathLike[str] | None = None,
) -> SigningProfile:
    """Build the signing profile: defaults, then the TOML file, then ``MSEDOCS_SIGN_*`` variables.

    With no signers configured, the test PKI under ``<cwd>/.msedocs/pki`` (or
    ``MSEDOCS_SIGN_PKI_DIR``) is used, created on first use, and a warning is logged
    that it is TEST only.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    config_path = config_path or env.get(ENV_PREFIX + "CONFIG")
    sign: Mapping[str, Any] = {}
    where = "(defaults)"
    cfg_dir = base
    if config_path is not None:
        p = Path(config_path)
        where = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"signing configuration {p} does not exist") from exc
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read signing configuration {p}: {exc}") from exc
        sign = _table(data, "signing", where)
        cfg_dir = p.parent

    def setting(key: str) -> Any:
        env_value = env.get(ENV_PREFIX + key.upper())
        return env_value if env_value not in (None, "") else sign.get(key)

    level = Level.parse(setting("level") or Level.B_T.value)
    tsa_url = setting("tsa_url") or None
    rev = setting("revocation_sources") or setting("revocation")
    if isinstance(rev, str):
        rev = [s.strip() for s in rev.split(",") if s.strip()]
    revocation = tuple(rev) if rev else ("in-process",)
    for r in revocation:
        if r not in ("in-process", "fetch"):
            raise ConfigurationError(f"{where}: revocation source {r!r} is not 'in-process' or 'fetch'")
    roots = setting("trust_roots") or ()
    if isinstance(roots, str):
        roots = [s for s in roots.split(os.pathsep) if s]
    trust_roots = tuple(cfg_dir / str(r) for r in roots)
    digest = str(setting("digest") or "sha256")
    if digest.lower().replace("-", "") not in ("sha256", "sha384", "sha512"):
        raise ConfigurationError(f"{where}: digest {digest!r} is not allowed; use sha256, sha384 or sha512")

    signers = {role: _signer_from_toml(role, t, cfg_dir, where) for role, t in _table(sign, "signers", where).items()}
    pki_setting = setting("pki_dir")
    pki_dir = (cfg_dir / str(pki_setting)) if pki_setting else None

    if not signers:
        d = pki_dir or (base / ".msedocs" / "pki")
        if str(d) not in _warned:
            _warned.add(str(d))
            log.warning(
                "signing with the TEST PKI in %s: signatures are NOT valid for real use; "
                "configure [signing.signers] for production keys",
                d,
            )
        prof = pki_profile(d, level)
        return replace(prof, tsa_url=tsa_url, revocation_sources=revocation, trust_roots=trust_roots, digest=digest)
    return SigningProfile(
        level=level,
        signers=signers,
        tsa_url=tsa_url,
        revocation_sources=revocation,
        pki_dir=pki_dir,
        trust_roots=trust_roots,
        digest=digest,
        is_test=False,
    )
