"""Key-encryption keys (KEK) that wrap each referral's data key.

A KEK wraps and unwraps 32-byte data keys and has an id, stored with every wrapped key so that
rotation knows what to rewrap. Three sources:

- :class:`FileKek`: 32 random bytes in a file (mode 0600; ``FileKek.create``), AES-256 key wrap
  (RFC 3394) in software;
- :class:`EnvKek`: 32 bytes, base64, in an environment variable (``MSEDOCS_KEK`` by default);
- :class:`Pkcs11Kek`: an AES key on a PKCS#11 token (an HSM; SoftHSM in tests), found by label;
  wrapping is AES key wrap (``CKM_AES_KEY_WRAP``) done by the token, so the KEK never leaves it.

:func:`from_spec` reads ``file:PATH``, ``env:NAME`` or ``pkcs11:MODULE?token=T&label=L&pin-env=VAR``
(``MSEDOCS_KEK_SPEC``, or ``--kek`` on the command line).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from msedocs.errors import InputError


class KekError(InputError):
    """A KEK that cannot be read or used (exit code 2)."""


class Kek(Protocol):
    kek_id: str

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


def _fingerprint(prefix: str, key: bytes) -> str:
    return f"{prefix}:{hashlib.sha256(b'msedocs-kek-id' + key).hexdigest()[:16]}"


class SoftwareKek:
    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != 32:
            raise KekError(f"{source}: a KEK is 32 bytes (AES-256), got {len(key)}")
        self._key = key
        self.kek_id = _fingerprint(source.split(":", 1)[0], key)

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, wrapped)
        except InvalidUnwrap:
            raise KekError(f"{self.kek_id}: this KEK did not wrap the data key") from None


class FileKek(SoftwareKek):
    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        try:
            key = p.read_bytes()
        except OSError as exc:
            raise KekError(f"KEK file {p}: cannot read ({exc.strerror})") from None
        super().__init__(key, f"file:{p}")

    @staticmethod
    def create(path: str | Path) -> FileKek:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        return FileKek(p)


class EnvKek(SoftwareKek):
    def __init__(self, name: str = "MSEDOCS_KEK") -> None:
        raw = os.environ.get(name)
        if not raw:
            raise KekError(f"KEK environment variable {name} is not set (32 bytes, base64)")
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError:
            raise KekError(f"KEK environment variable {name}: not base64") from None
        super().__init__(key, f"env:{name}")


class Pkcs11Kek:
    """An AES key on a PKCS#11 token, wrapping with ``CKM_AES_KEY_WRAP`` on the token."""

    def __init__(self, module: str, token_label: str, key_label: str, pin: str) -> None:
        import pkcs11

        try:
            lib = pkcs11.lib(module)
            token = lib.get_token(token_label=token_label)
            try:
                self._session = token.open(user_pin=pin, rw=True)
            except pkcs11.exceptions.UserAlreadyLoggedIn:  # another session of this process logged in
                self._session = token.open(rw=True)
            self._key = self._session.get_key(label=key_label, key_type=pkcs11.KeyType.AES)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise KekError(f"pkcs11 KEK {token_label}/{key_label}: {type(exc).__name__} {exc}") from None
        self.kek_id = f"pkcs11:{token_label}/{key_label}"
        self._pkcs11 = pkcs11

    @staticmethod
    def generate(module: str, token_label: str, key_label: str, pin: str) -> Pkcs11Kek:
        import pkcs11
        from pkcs11 import Attribute

        lib = pkcs11.lib(module)
        token = lib.get_token(token_label=token_label)
        try:
            session = token.open(user_pin=pin, rw=True)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            session = token.open(rw=True)
        with session:
            session.generate_key(pkcs11.KeyType.AES, 256, label=key_label, store=True, template={
                Attribute.WRAP: True, Attribute.UNWRAP: True, Attribute.EXTRACTABLE: False,
                Attribute.SENSITIVE: True})  # fmt: skip
        return Pkcs11Kek(module, token_label, key_label, pin)

    def wrap(self, data_key: bytes) -> bytes:
        p = self._pkcs11
        tmp = self._session.create_object({
            p.Attribute.CLASS: p.ObjectClass.SECRET_KEY, p.Attribute.KEY_TYPE: p.KeyType.AES,
            p.Attribute.VALUE: data_key, p.Attribute.TOKEN: False, p.Attribute.EXTRACTABLE: True,
            p.Attribute.SENSITIVE: False})  # fmt: skip
        try:
            return bytes(self._key.wrap_key(tmp, mechanism=p.Mechanism.AES_KEY_WRAP))  # type: ignore[attr-defined]
        finally:
            tmp.destroy()

    def unwrap(self, wrapped: bytes) -> bytes:
        p = self._pkcs11
        try:
            key = self._key.unwrap_key(  # type: ignore[attr-defined]  # python-pkcs11 stubs lack it
                p.ObjectClass.SECRET_KEY, p.KeyType.AES, wrapped,
                                       mechanism=p.Mechanism.AES_KEY_WRAP, store=False,
                                       template={p.Attribute.EXTRACTABLE: True, p.Attribute.SENSITIVE: False})  # fmt: skip  # noqa: E501
        except p.PKCS11Error:
            raise KekError(f"{self.kek_id}: this KEK did not wrap the data key") from None
        value = bytes(key[p.Attribute.VALUE])
        key.destroy()
        return value

    def close(self) -> None:
        self._session.close()


def from_spec(spec: str | None = None) -> Kek:
    spec = spec or os.environ.get("MSEDOCS_KEK_SPEC")
    if not spec:
        raise KekError("no key-encryption key: give --kek file:PATH | env:NAME | pkcs11:MODULE?token=T&label=L&pin-env=V "  # noqa: E501
                       "(or set MSEDOCS_KEK_SPEC)")  # fmt: skip
    kind, _, rest = spec.partition(":")
    if kind == "file":
        return FileKek(rest)
    if kind == "env":
        return EnvKek(rest or "MSEDOCS_KEK")
    if kind == "pkcs11":
        module, _, query = rest.partition("?")
        q = {k: v[0] for k, v in parse_qs(query).items()}
        pin = os.environ.get(q.get("pin-env", "MSEDOCS_PKCS11_PIN"), "")
        if not (q.get("token") and q.get("label") and pin):
            raise KekError("pkcs11 KEK: give token=, label= and a PIN in pin-env= (default MSEDOCS_PKCS11_PIN)")
        return Pkcs11Kek(module, q["token"], q["label"], pin)
    raise KekError(f"KEK spec: unknown kind {kind!r}; use file:, env: or pkcs11:")
