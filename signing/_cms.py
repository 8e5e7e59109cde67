"""pyHanko glue shared by PAdES and CAdES: a pyHanko ``Signer`` over our loaded keys, roles."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, SignerAttrSpec
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .declaration import Declaration
from .keys import Signer


class LoadedKeySigner(pyhanko_signers.Signer):
    """A pyHanko signer that calls an already loaded key (memory or PKCS#11) for each signature.

    Stock ``SimpleSigner`` parses its private key with ``cryptography`` on every
    ``sign_raw`` call; this one never parses anything at signing time.
    """

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        super().__init__(
            signing_cert=signer.asn1_certificate,
            cert_registry=SimpleCertificateStore.from_certs(list(signer.asn1_chain)),
            embed_roots=True,
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            # size estimate only: a signature of the right length, no key operation
            nbytes = (self._signer.certificate.public_key().key_size + 7) // 8  # type: ignore[union-attr]
            return bytes(nbytes if self._signer.key.algorithm == "rsa" else 2 * (nbytes + 3) + 3)
        return self._signer.sign(data, digest_algorithm)


_adapters: weakref.WeakKeyDictionary[Signer, LoadedKeySigner] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def pyhanko_signer(signer: Signer) -> LoadedKeySigner:
    """The cached pyHanko adapter of ``signer``."""
    with _lock:
        adapter = _adapters.get(signer)
        if adapter is None:
            adapter = _adapters[signer] = LoadedKeySigner(signer)
        return adapter


def role_attribute(title: str) -> cms.AttCertAttribute:
    """A claimed ``role`` attribute (RFC 5755 RoleSyntax) naming ``title`` as a directory name."""
    name = asn1_x509.Name.build({"title": title}, use_printable=False)
    return cms.AttCertAttribute(
        {
            "type": "role",
            "values": [cms.RoleSyntax({"role_name": asn1_x509.GeneralName(name="directory_name", value=name)})],
        }
    )


def cades_attrs(title: str, declaration: Declaration | None = None) -> CAdESSignedAttrSpec:
    """Signed CAdES attributes: signer-attributes-v2 with the claimed role and, with a
    ``declaration``, the signature-policy-identifier carrying it (:mod:`signing.declaration`)."""
    return CAdESSignedAttrSpec(
        signer_attributes=SignerAttrSpec(claimed_attrs=[role_attribute(title)], certified_attrs=[]),
        signature_policy_identifier=declaration.cms_policy() if declaration is not None else None,
    )


def claimed_roles(signer_info: cms.SignerInfo) -> list[str]:
    """Role titles claimed in a SignerInfo's signer-attributes-v2 (empty if none)."""
    out: list[str] = []
    for attr in signer_info["signed_attrs"] or ():
        if attr["type"].dotted != "0.4.0.19122.1.1":  # id-aa-ets-signerAttrV2
            continue
        for value in attr["values"]:
            parsed: Any = value.parsed if hasattr(value, "parsed") else value
            try:
                claimed = parsed["claimed_attributes"]
            except (KeyError, TypeError, ValueError):
                continue
            for ca in claimed or ():
                try:
                    for rs in ca["values"]:
                        gn = rs["role_name"]
                        if gn.name == "directory_name":
                            native = gn.chosen.native
                            out.extend(str(v) for k, v in native.items() if k in ("title", "common_name"))
                        else:
                            out.append(str(gn.native))
                except (KeyError, TypeError, ValueError):
                    continue
    return out
