"""Enveloped XAdES (ETSI EN 319 132-1) at B-B, B-T and B-LT, with parallel signatures.

Each signer adds one ``ds:Signature`` as a last child of the document element. Its first
reference is ``URI=""`` with the XPath Filter 2.0 transform ``subtract
/descendant::ds:Signature`` and exclusive c14n, so each signature covers the whole document
except the signatures: signatures are truly parallel (adding or removing one does not
break another), and moving or duplicating a signed element changes the digest. The
second reference covers this signature's own ``xades:SignedProperties``.

Why not signxml's ``XAdESSigner``: its enveloped construction uses the
enveloped-signature transform, which removes only the signature being checked, so a
second signature would either cover the first (serial, not parallel) or break it. The
XMLDSig here is built with lxml on the same primitives (exclusive c14n, RSA PKCS#1 v1.5
with SHA-256) and checked by ``xmlsec1 --verify`` in the tests.

- B-B: ``SigningTime``, ``SigningCertificateV2`` (SHA-256 digest and IssuerSerialV2),
  ``SignerRoleV2/ClaimedRoles``, ``DataObjectFormat`` (text/xml).
- B-T: ``SignatureTimeStamp`` over the exclusive-c14n of ``ds:SignatureValue``.
- B-LT: ``CertificateValues`` (signer chain, TSA, OCSP responder) and ``RevocationValues``
  (OCSP responses, CRLs) for the signer and the TSA.
- B-LTA: ``CertificateValues``/``RevocationValues`` for the signer only, the TSA's chain and
  revocation data in ``xadesv141:TimeStampValidationData``, then ``xadesv141:ArchiveTimeStamp``
  over the references' data, SignedInfo, SignatureValue, KeyInfo and every unsigned
  property before it (EN 319 132-1, 5.5.2; :func:`signing._xml.archive_timestamp_input`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ._xml import (
    DS,
    EXC_C14N,
    FILTER2,
    SIGNED_PROPS_TYPE,
    XADES,
    XADES141,
    archive_timestamp_input,
    c14n,
    document_without_signatures,
    ds,
    parse_xml,
    xades,
    xades141,
)
from .declaration import Declaration
from .errors import SigningFailure
from .formats import Format, register
from .keys import Signer
from .profile import Level, SigningProfile
from .services import is_ca, timestamp_token, tsa_certificates, validation_data_for
from .xades_verify import verify_xades

__all__ = ["sign_xml"]

_SIG_ALG = {
    ("rsa", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    ("rsa", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    ("rsa", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    ("ec", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    ("ec", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    ("ec", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
_DIGEST_ALG = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
_NSMAP = {"ds": DS}
_XADES_NSMAP = {"xades": XADES}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _digest(data: bytes, name: str) -> bytes:
    return hashlib.new(name, data).digest()


def _issuer_serial_v2(cert: x509.Certificate) -> bytes:
    issuer = asn1_x509.Name.load(cert.issuer.public_bytes())
    return cms.IssuerSerial(
        {
            "issuer": asn1_x509.GeneralNames([asn1_x509.GeneralName(name="directory_name", value=issuer)]),
            "serial": cert.serial_number,
        }
    ).dump()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _build_signature(
    doc_digest: bytes, signer: Signer, digest: str, signing_time: dt.datetime, declaration: Declaration | None = None
) -> tuple[etree._Element, etree._Element]:
    """A complete B-B ``ds:Signature`` (not attached) and its SignatureValue element."""
    sid = f"xmldsig-{uuid.uuid4()}"
    props_id = f"{sid}-signedprops"
    doc_ref_id = f"{sid}-ref0"
    digest_uri = _DIGEST_ALG[digest]

    sig = etree.Element(ds("Signature"), {"Id": sid}, nsmap=_NSMAP)
    signed_info = _sub(sig, ds("SignedInfo"))
    _sub(signed_info, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    _sub(signed_info, ds("SignatureMethod"), Algorithm=_SIG_ALG[(signer.key.algorithm, digest)])

    ref = _sub(signed_info, ds("Reference"), Id=doc_ref_id, URI="")
    transforms = _sub(ref, ds("Transforms"))
    t1 = _sub(transforms, ds("Transform"), Algorithm=FILTER2)
    xp = etree.SubElement(t1, f"{{{FILTER2}}}XPath", {"Filter": "subtract"}, nsmap={"dsig-xpath": FILTER2})
    xp.text = "/descendant::ds:Signature"
    _sub(transforms, ds("Transform"), Algorithm=EXC_C14N)
    _sub(ref, ds("DigestMethod"), Algorithm=digest_uri)
    _sub(ref, ds("DigestValue"), _b64(doc_digest))

    props_ref = _sub(signed_info, ds("Reference"), Type=SIGNED_PROPS_TYPE, URI=f"#{props_id}")
    _sub(_sub(props_ref, ds("Transforms")), ds("Transform"), Algorithm=EXC_C14N)
    _sub(props_ref, ds("DigestMethod"), Algorithm=digest_uri)
    props_digest = _sub(props_ref, ds("DigestValue"))

    sig_value = _sub(sig, ds("SignatureValue"), Id=f"{sid}-sigvalue")
    x509_data = _sub(_sub(sig, ds("KeyInfo")), ds("X509Data"))
    for cert in (signer.certificate, *(c for c in signer.chain if c.issuer != c.subject)):
        _sub(x509_data, ds("X509Certificate"), _b64(_der(cert)))

    obj = _sub(sig, ds("Object"))
    qp = etree.SubElement(obj, xades("QualifyingProperties"), {"Target": f"#{sid}"}, nsmap=_XADES_NSMAP)
    sp = _sub(qp, xades("SignedProperties"), Id=props_id)
    ssp = _sub(sp, xades("SignedSignatureProperties"))
    _sub(ssp, xades("SigningTime"), signing_time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert_el = _sub(_sub(ssp, xades("SigningCertificateV2")), xades("Cert"))
    cd = _sub(cert_el, xades("CertDigest"))
    _sub(cd, ds("DigestMethod"), Algorithm=digest_uri)
    _sub(cd, ds("DigestValue"), _b64(_digest(signer.certificate_der, digest)))
    _sub(cert_el, xades("IssuerSerialV2"), _b64(_issuer_serial_v2(signer.certificate)))
    if declaration is not None:
        ssp.append(declaration.xades_policy())
    roles = _sub(_sub(ssp, xades("SignerRoleV2")), xades("ClaimedRoles"))
    _sub(roles, xades("ClaimedRole"), signer.title)
    sdop = _sub(sp, xades("SignedDataObjectProperties"))
    dof = _sub(sdop, xades("DataObjectFormat"), ObjectReference=f"#{doc_ref_id}")
    _sub(dof, xades("Description"), "Документ МСЭ")
    _sub(dof, xades("MimeType"), "text/xml")

    props_digest.text = _b64(_digest(c14n(sp), digest))
    sig_value.text = _b64(signer.sign(c14n(signed_info), digest))
    return sig, sig_value


def _unsigned_props(sig: etree._Element) -> etree._Element:
    qp = sig.find(f"{ds('Object')}/{xades('QualifyingProperties')}")
    assert qp is not None
    up = qp.find(xades("UnsignedProperties"))
    if up is None:
        up = _sub(qp, xades("UnsignedProperties"))
    usp = up.find(xades("UnsignedSignatureProperties"))
    if usp is None:
        usp = _sub(up, xades("UnsignedSignatureProperties"))
    return usp


def _add_timestamp(sig: etree._Element, sig_value: etree._Element, profile: SigningProfile) -> cms.ContentInfo:
    imprint = _digest(c14n(sig_value), profile.digest)
    token = timestamp_token(profile, imprint, profile.digest)
    usp = _unsigned_props(sig)
    ts = _sub(usp, xades("SignatureTimeStamp"), Id=f"{sig.get('Id')}-sigtst")
    _sub(ts, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    _sub(ts, xades("EncapsulatedTimeStamp"), _b64(token.dump()))
    return token


def _add_validation_data(
    sig: etree._Element, signer: Signer, token: cms.ContentInfo | None, profile: SigningProfile
) -> None:
    """B-LT: the signer's and the TSA's validation data in CertificateValues/RevocationValues.
    B-LTA: the signer's there, the TSA's in ``xadesv141:TimeStampValidationData``."""
    tsa_certs = tsa_certificates(token) if token is not None else []
    tsa_leaves = [c for c in tsa_certs if not is_ca(c)]
    usp = _unsigned_props(sig)
    if profile.level >= Level.B_LTA:
        data = validation_data_for(profile, [signer.certificate], extra=list(signer.chain))
        _validation_values(usp, data, xades)
        if tsa_certs:
            ts_data = validation_data_for(profile, tsa_leaves, extra=tsa_certs)
            tsvd = etree.SubElement(usp, xades141("TimeStampValidationData"), nsmap={"xadesv141": XADES141})
            _validation_values(tsvd, ts_data, xades)
        return
    data = validation_data_for(profile, [signer.certificate, *tsa_leaves], extra=[*signer.chain, *tsa_certs])
    _validation_values(usp, data, xades)


def _validation_values(parent: etree._Element, data: Any, q: Any) -> None:
    cv = _sub(parent, q("CertificateValues"))
    for cert in data.certificates:
        _sub(cv, q("EncapsulatedX509Certificate"), _b64(_der(cert)))
    rv = _sub(parent, q("RevocationValues"))
    if data.crls:
        crls = _sub(rv, xades("CRLValues"))
        for crl in data.crls:
            _sub(crls, xades("EncapsulatedCRLValue"), _b64(crl))
    if data.ocsps:
        ocsps = _sub(rv, xades("OCSPValues"))
        for resp in data.ocsps:
            _sub(ocsps, xades("EncapsulatedOCSPValue"), _b64(resp))


def _signed_props(sig: etree._Element) -> etree._Element:
    sp = sig.find(f"{ds('Object')}/{xades('QualifyingProperties')}/{xades('SignedProperties')}")
    assert sp is not None
    return sp


def _add_archive_timestamp(sig: etree._Element, reference_outputs: list[bytes], profile: SigningProfile) -> None:
    """``xadesv141:ArchiveTimeStamp`` after every other unsigned property (EN 319 132-1, 5.5.2)."""
    usp = _unsigned_props(sig)
    ats = etree.SubElement(
        usp, xades141("ArchiveTimeStamp"), {"Id": f"{sig.get('Id')}-archivetst"}, nsmap={"xadesv141": XADES141}
    )
    _sub(ats, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    imprint = _digest(archive_timestamp_input(sig, ats, reference_outputs, EXC_C14N), profile.digest)
    token = timestamp_token(profile, imprint, profile.digest)
    _sub(ats, xades("EncapsulatedTimeStamp"), _b64(token.dump()))


def sign_xml(
    xml: bytes,
    signers: Sequence[Signer],
    profile: SigningProfile,
    *,
    signing_time: dt.datetime | None = None,
    declare: bool = True,
) -> bytes:
    """Add one enveloped XAdES signature per signer (parallel) at ``profile.level``.

    Existing signatures are kept and stay valid. Each new signature declares all
    ``signers`` and the level in its signed properties (:mod:`signing.declaration`) unless
    ``declare`` is false. Returns the signed document as UTF-8 bytes with an XML declaration.
    """
    if not signers:
        raise SigningFailure("sign_xml needs at least one signer")
    tree = parse_xml(xml)
    doc_bytes = document_without_signatures(tree)
    doc_digest = _digest(doc_bytes, profile.digest)
    when = (signing_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    root = tree.getroot()
    declaration = Declaration.for_signers(signers, profile.level.value) if declare else None
    for signer in signers:
        sig, sig_value = _build_signature(doc_digest, signer, profile.digest, when, declaration)
        token = _add_timestamp(sig, sig_value, profile) if profile.level >= Level.B_T else None
        if profile.level >= Level.B_LT:
            _add_validation_data(sig, signer, token, profile)
        root.append(sig)
        if profile.level >= Level.B_LTA:
            _add_archive_timestamp(sig, [doc_bytes, c14n(_signed_props(sig))], profile)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


FORMAT = register(
    Format(
        name="XAdES",
        media_types=("application/xml", "text/xml"),
        signer=sign_xml,
        verifier=verify_xades,
        magic=(b"<",),
    )
)
"""Enveloped XAdES in the format registry (:mod:`signing.formats`)."""
