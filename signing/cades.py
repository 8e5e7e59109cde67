"""Detached CAdES (ETSI EN 319 122-1) at B-B, B-T, B-LT and B-LTA, one SignerInfo per signer.

The result is the DER of a CMS ``ContentInfo``/``SignedData`` without encapsulated content,
written next to the file as ``<file>.p7s``. Each SignerInfo is produced by pyHanko
(signing-certificate-v2, CMSAlgorithmProtection, signer-attributes-v2 with the claimed
role, signing time) with a key loaded once; for B-T it carries a signature timestamp as
an unsigned attribute. The SignerInfos are merged into one SignedData (parallel
signatures over the same content).

For B-LT the SignedData's ``certificates`` hold every certificate of the signers' and the
TSA's chains (and the OCSP responder), and ``crls`` hold the CRLs and the OCSP responses
(``RevocationInfoChoice`` other, id-ri-ocsp-response), as EN 319 122-1 § 5.5 describes.

For B-LTA each new SignerInfo then gets an archive-time-stamp-v3 with its ats-hash-index-v3
(EN 319 122-1 § 5.5.3, :mod:`signing._ats`) over the content, the SignerInfo and all of the
above; the TSA's validation data is already among it (same TSA).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from asn1crypto import cms, core, crl, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

from ._async import run_sync
from ._ats import with_archive_timestamp
from ._cms import cades_attrs, pyhanko_signer
from .cades_verify import verify_cades
from .declaration import Declaration
from .errors import SigningFailure
from .formats import Format, register
from .keys import Signer
from .profile import Level, SigningProfile
from .services import is_ca, timestamp_token, timestamper_for, validation_data_for

__all__ = ["sign_detached", "split_detached"]


def _sign_one(
    data: bytes, signer: Signer, profile: SigningProfile, when: dt.datetime, declaration: Declaration | None
) -> cms.ContentInfo:
    ts = timestamper_for(profile) if profile.level >= Level.B_T else None
    attrs = PdfCMSSignedAttributes(signing_time=when, cades_signed_attrs=cades_attrs(signer.title, declaration))
    coro = pyhanko_signer(signer).async_sign_general_data(
        data,
        profile.digest,
        detached=True,
        use_cades=True,
        timestamper=ts,
        signed_attr_settings=attrs,
    )
    try:
        return run_sync(coro)
    except SigningFailure:
        raise
    except Exception as exc:
        raise SigningFailure(f"CAdES signing as {signer.role} failed: {exc}") from exc


def _tst_certs(signer_info: cms.SignerInfo) -> list[asn1_x509.Certificate]:
    out: list[asn1_x509.Certificate] = []
    for attr in signer_info["unsigned_attrs"] or ():
        if attr["type"].native == "signature_time_stamp_token":
            for token in attr["values"]:
                for c in token["content"]["certificates"] or ():
                    if c.name == "certificate":
                        out.append(c.chosen)
    return out


def sign_detached(
    data: bytes,
    signers: Sequence[Signer],
    profile: SigningProfile,
    *,
    existing: bytes | None = None,
    signing_time: dt.datetime | None = None,
    declare: bool = True,
) -> bytes:
    """A DER detached CMS over ``data`` with one SignerInfo per signer, at ``profile.level``.

    With ``existing`` (a previous ``.p7s`` over the same data) its SignerInfos are kept and
    the new ones added. Each new SignerInfo declares the signers and level of this call
    (:mod:`signing.declaration`) unless ``declare`` is false.
    """
    if not signers:
        raise SigningFailure("sign_detached needs at least one signer")
    when = (signing_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    signer_infos: list[cms.SignerInfo] = []
    digest_algs: dict[str, cms.DigestAlgorithm] = {}
    certs: dict[bytes, asn1_x509.Certificate] = {}
    revinfo: list[cms.RevocationInfoChoice] = []

    def add_cert(c: asn1_x509.Certificate) -> None:
        certs.setdefault(c.dump(), c)

    def take(sd: cms.SignedData) -> None:
        """The SignerInfos, digest algorithms and certificates of ``sd`` into the new SignedData."""
        signer_infos.extend(sd["signer_infos"])
        for alg in sd["digest_algorithms"]:
            digest_algs[alg["algorithm"].native] = alg
        for c in sd["certificates"] or ():
            if c.name == "certificate":
                add_cert(c.chosen)

    if existing is not None:
        try:
            old = cms.ContentInfo.load(existing)["content"]
            take(old)
            revinfo.extend(old["crls"] or ())
        except (ValueError, KeyError, TypeError) as exc:
            raise SigningFailure(f"the existing .p7s cannot be read: {exc}") from exc

    leaves = []
    first_new = len(signer_infos)
    declaration = Declaration.for_signers(signers, profile.level.value) if declare else None
    for signer in signers:
        sd = _sign_one(data, signer, profile, when, declaration)["content"]
        for si in sd["signer_infos"]:
            for c in _tst_certs(si):  # its timestamp's certificates before the rest (the order they always had)
                add_cert(c)
                leaves.append(c)
        take(sd)

    if profile.level >= Level.B_LT:
        from cryptography import x509

        signer_certs = [s.certificate for s in signers]
        tsa_certs = [x509.load_der_x509_certificate(c.dump()) for c in leaves]
        tsa_leaves = list({c.fingerprint(hashes.SHA256()): c for c in tsa_certs if not is_ca(c)}.values())
        extra = [c for s in signers for c in s.chain] + tsa_certs
        vd = validation_data_for(profile, [*signer_certs, *tsa_leaves], extra=extra)
        for cert in vd.certificates:
            add_cert(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
        for crl_der in vd.crls:
            revinfo.append(cms.RevocationInfoChoice(name="crl", value=crl.CertificateList.load(crl_der)))
        for ocsp_der in vd.ocsps:
            revinfo.append(
                cms.RevocationInfoChoice(
                    name="other",
                    value=cms.OtherRevocationInfoFormat(
                        {
                            "other_rev_info_format": "ocsp_response",
                            "other_rev_info": ocsp.OCSPResponse.load(ocsp_der),
                        }
                    ),
                )
            )

    has_other = any(r.name == "other" for r in revinfo)
    fields: dict[str, object] = {
        "version": "v5" if has_other else "v1",
        "digest_algorithms": list(digest_algs.values()),
        "encap_content_info": {"content_type": "data"},
        "certificates": [cms.CertificateChoices(name="certificate", value=c) for c in certs.values()],
        "signer_infos": signer_infos,
    }
    if revinfo:
        fields["crls"] = revinfo
    signed_data = cms.SignedData(fields)
    if profile.level >= Level.B_LTA:  # an archive-time-stamp-v3 on each new SignerInfo, over everything above
        infos = list(signed_data["signer_infos"])
        for i in range(first_new, len(infos)):
            infos[i] = with_archive_timestamp(
                signed_data,
                infos[i],
                lambda alg: hashlib.new(alg, data).digest(),
                lambda digest, alg: timestamp_token(profile, digest, alg),
                profile.digest,
            )
        fields["signer_infos"] = infos
        signed_data = cms.SignedData(fields)
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def split_detached(p7s: bytes) -> list[bytes]:
    """One detached ``.p7s`` per SignerInfo of ``p7s``, in its order, for tools that expect a
    single signer. Each keeps every certificate and revocation value of the original, so its
    validation data and any archive timestamp (whose hash index lists them) stay valid."""
    try:
        sd = cms.ContentInfo.load(p7s)["content"]
        infos = list(sd["signer_infos"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningFailure(f"the .p7s cannot be read: {exc}") from exc
    out = []
    for si in infos:
        fields = {name: sd[name] for name, *_ in cms.SignedData._fields if not isinstance(sd[name], core.Void)}
        algo = si["digest_algorithm"]["algorithm"].native
        fields["digest_algorithms"] = [a for a in sd["digest_algorithms"] if a["algorithm"].native == algo]
        fields["signer_infos"] = [si]
        out.append(cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(fields)}).dump())
    return out


FORMAT = register(
    Format(
        name="CAdES",
        media_types=("application/pkcs7-signature",),
        signer=sign_detached,
        verifier=verify_cades,
        magic=(b"0", b"-----BEGIN"),  # DER (a SEQUENCE) or PEM
        detached=True,
    )
)
"""Detached CAdES (a ``.p7s`` over content of any type) in the format registry (:mod:`signing.formats`)."""
