"""pyHanko glue shared by PAdES and CAdES: a pyHanko ``Signer`` over our loaded keys, roles.

What is the same in every signature of a signer is encoded once (:class:`LoadedKeySigner`):
asn1crypto re-encodes, and deep-copies when it re-tags, every nested value it is handed, so
pyHanko assembling a SignerInfo around the signer's certificate, its issuer's name and the
signed attributes cost some 20 ms a signature, far more than the RSA signature itself.
"""

from __future__ import annotations

import functools
import threading
import weakref
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from asn1crypto.parser import emit
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, SignerAttrSpec
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
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
        cert = signer.asn1_certificate
        self._cert = cert
        sid = cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})
        self._sid_der = cms.SignerIdentifier(name="issuer_and_serial_number", value=sid).dump()
        # SignedData.certificates as pyHanko fills it (embed_roots): the chain and the signer's own
        self._certs_der = [c.dump() for c in self.cert_registry] + [cert.dump()]
        self._static: dict[tuple[Any, ...], tuple[object, tuple[bytes, ...], bool]] = {}
        self._algos: dict[str, tuple[bytes, bytes]] = {}
        self._cache_lock = threading.Lock()

    # ---------------------------------------------------------------- encoded once
    #
    # The three methods below return what pyHanko's own return, byte for byte
    # (tests/signing/test_cms_fast.py compares them with pyHanko's with a fixed time and nonce);
    # anything they were not written for goes to pyHanko's.

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings: PdfCMSSignedAttributes | None = None,
        content_type: str = "data",
        use_pades: bool = False,
        timestamper: Any = None,
        dry_run: bool = False,
        is_pdf_sig: bool = True,
    ) -> cms.CMSAttributes:
        """pyHanko's signed attributes, those that do not depend on the data (signing-certificate-v2,
        signer-attributes-v2, the signature policy, content-type, ...) encoded once per signer and
        attribute spec: only message-digest and signing-time are made per signature."""
        settings = attr_settings or PdfCMSSignedAttributes()
        cades = settings.cades_signed_attrs
        cacheable = (
            self.signed_attr_prov_spec is None
            and use_pades
            and (is_pdf_sig or settings.signing_time is not None)
            and settings == PdfCMSSignedAttributes(signing_time=settings.signing_time, cades_signed_attrs=cades)
            and (cades is None or (not cades.timestamp_content and cades.signer_attributes is not None))
        )
        if not cacheable:
            return await super().signed_attrs(
                data_digest, digest_algorithm, attr_settings, content_type, use_pades, timestamper, dry_run, is_pdf_sig
            )
        key = (digest_algorithm, content_type, is_pdf_sig, id(cades))
        with self._cache_lock:
            hit = self._static.get(key)
        if hit is None or hit[0] is not cades:
            full = await super().signed_attrs(
                bytes(len(data_digest)), digest_algorithm, settings, content_type, use_pades, timestamper,
                dry_run, is_pdf_sig,
            )  # fmt: skip
            types = [a["type"].native for a in full]
            static = tuple(a.dump() for a in full if a["type"].native not in ("message_digest", "signing_time"))
            hit = (cades, static, "signing_time" in types)
            with self._cache_lock:
                self._static[key] = hit
        _, static, timed = hit
        ders = [*static, simple_cms_attribute("message_digest", data_digest).dump()]
        if timed:  # as pyHanko's SigningTimeProvider writes it
            when = cms.Time({"utc_time": core.UTCTime(settings.signing_time)})
            ders.append(simple_cms_attribute("signing_time", when).dump())
        return cms.CMSAttributes.load(emit(0, 1, 17, b"".join(sorted(ders))))

    def _algorithms(self, digest_algorithm: str) -> tuple[bytes, bytes]:
        """The DER of the SignerInfo's digest algorithm and signature algorithm."""
        with self._cache_lock:
            hit = self._algos.get(digest_algorithm)
        if hit is None:
            hit = (
                algos.DigestAlgorithm({"algorithm": digest_algorithm}).dump(),
                self.get_signature_mechanism_for_digest(digest_algorithm).dump(),
            )
            with self._cache_lock:
                self._algos[digest_algorithm] = hit
        return hit

    def _package_signature(
        self,
        *,
        digest_algorithm: str,
        cms_version: Any,
        signed_attrs: cms.CMSAttributes,
        signature: bytes,
        unsigned_attrs: cms.CMSAttributes | None,
        encap_content_info: Any,
    ) -> cms.ContentInfo:
        """pyHanko's ContentInfo/SignedData, assembled from encoded parts: the certificates, the
        signer's identifier and the algorithms encoded once; the attributes encoded once each."""
        if (
            digest_algorithm == "shake256"
            or self.attribute_certs
            or encap_content_info not in (None, {"content_type": "data"})  # detached content only
            or self.signing_cert is not self._cert
        ):
            return super()._package_signature(  # type: ignore[no-any-return]
                digest_algorithm=digest_algorithm,
                cms_version=cms_version,
                signed_attrs=signed_attrs,
                signature=signature,
                unsigned_attrs=unsigned_attrs,
                encap_content_info=encap_content_info,
            )
        digest_der, mechanism_der = self._algorithms(digest_algorithm)
        signed_attrs.dump()
        parts = [
            core.Integer(1).dump(),  # version v1
            self._sid_der,
            digest_der,
            emit(2, 1, 0, signed_attrs.contents),  # [0] IMPLICIT
            mechanism_der,
            core.OctetString(signature).dump(),
        ]
        if unsigned_attrs is not None:
            unsigned_attrs.dump()
            parts.append(emit(2, 1, 1, unsigned_attrs.contents))  # [1] IMPLICIT
        signer_info = emit(0, 1, 16, b"".join(parts))
        signed_data = emit(
            0,
            1,
            16,
            b"".join(
                [
                    cms.CMSVersion(cms_version).dump(),
                    emit(0, 1, 17, digest_der),
                    emit(0, 1, 16, cms.ContentType("data").dump()),
                    emit(2, 1, 0, b"".join(sorted(self._certs_der))),  # [0] IMPLICIT SET OF
                    emit(0, 1, 17, signer_info),
                ]
            ),
        )
        content_info = emit(0, 1, 16, cms.ContentType("signed_data").dump() + emit(2, 1, 0, signed_data))
        return cms.ContentInfo.load(content_info)

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


@functools.lru_cache(maxsize=256)
def cades_attrs(title: str, declaration: Declaration | None = None) -> CAdESSignedAttrSpec:
    """Signed CAdES attributes: signer-attributes-v2 with the claimed role and, with a
    ``declaration``, the signature-policy-identifier carrying it (:mod:`signing.declaration`).
    The same spec object for the same title and declaration, so that :class:`LoadedKeySigner`
    encodes its attributes once."""
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
