"""XAdES verification (ETSI EN 319 132-1): every ``ds:Signature`` of an XML document.

Signatures must be children of the document element, every ``Id`` must be unique, and the
only references allowed are the whole document (``URI=""`` with the XPath Filter 2.0
``subtract /descendant::ds:Signature`` or enveloped-signature transform) and this
signature's own SignedProperties (and, as signxml makes them, its KeyInfo): moved or
duplicated signed elements (signature wrapping) fail. SHA-1 and MD5 are refused. Trust,
timestamps and the policy are those every format shares (:mod:`signing.validation`).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from . import _xml
from ._async import run_sync
from ._xml import DS, EXC_C14N, FILTER2, SIGNED_PROPS_TYPE, XADES, ds, xades
from .declaration import Declaration
from .keys import hash_for
from .policy import Findings, apply_policy
from .profile import Level
from .report import Indication, SignatureReport, VerificationReport
from .validation import (
    Fail,
    Revinfo,
    Trust,
    ValidationData,
    VerifyOptions,
    archive_timestamp,
    asn1_cert,
    assess_signer,
    qualified_flags,
    reach_lta,
    read_declaration,
    signature_timestamp,
    subject_str,
)

__all__ = ["verify_xades"]

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"  # the default when a reference names none
C14N_ALGS = {
    EXC_C14N: (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
}


def _readable_path(el: etree._Element) -> str:
    """``/Conclusion/ds:Signature[2]/ds:SignedInfo (xmlns="urn:…")``: local names, ds:/xades: prefixes,
    positions where siblings share a name, and the document's default namespace once at the end."""
    prefixes = {DS: "ds:", XADES: "xades:"}
    parts = []
    node: etree._Element | None = el
    while node is not None:
        q = etree.QName(node)
        parent = node.getparent()
        name = prefixes.get(q.namespace or "", "") + q.localname
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    root_ns = etree.QName(el.getroottree().getroot()).namespace
    return "/" + "/".join(reversed(parts)) + (f' (xmlns="{root_ns}")' if root_ns else "")


def _xml_find1(parent: etree._Element, path: str) -> etree._Element | None:
    found = parent.findall(path)
    return found[0] if len(found) == 1 else None


def _c14n_by(node: etree._Element | etree._ElementTree, algorithm: str | None) -> bytes:
    exclusive, comments = C14N_ALGS.get(algorithm or EXC_C14N, (True, False))
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments)


def _digest_alg(method: etree._Element | None) -> str:
    uri = method.get("Algorithm") if method is not None else None
    if uri in _xml.WEAK_METHODS:
        raise Fail(Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", f"weak digest {uri} refused")
    if uri not in _xml.DIGEST_METHODS:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported digest method {uri}")
    return _xml.DIGEST_METHODS[uri]


def _verify_raw(cert: x509.Certificate, sig: bytes, data: bytes, kind: str, digest: str) -> bool:
    key = cert.public_key()
    h = hash_for(digest)
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), h)
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            n = len(sig) // 2
            der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
            key.verify(der, data, ec.ECDSA(h))
            return True
    except InvalidSignature:
        return False
    return False


def _b64(el: etree._Element | None) -> bytes:
    if el is None or not (el.text or "").strip():
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "missing base64 value")
    try:
        return base64.b64decode("".join((el.text or "").split()), validate=True)
    except ValueError as exc:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "bad base64 value") from exc


def _xml_structure_problems(tree: etree._ElementTree) -> str | None:
    """Signature wrapping checks that do not depend on one signature.

    Every ds:Signature must be a child of the document element (content hidden inside a
    nested ds:Signature would be cut out by the XPath filter), and no Id that a reference
    points to, or that sits inside a signature, may occur twice. Ids of the document body
    are left alone: the whole-document reference already covers them.
    """
    root = tree.getroot()
    for sig in root.iter(ds("Signature")):
        if sig.getparent() is not root:
            return f"ds:Signature at {_readable_path(sig)} is not a child of the document element"
    watched = {uri[1:] for ref in root.iter(ds("Reference")) if (uri := ref.get("URI") or "").startswith("#")}
    for sig in root.iter(ds("Signature")):
        watched.update(v for el in sig.iter() if isinstance(el.tag, str) and (v := el.get("Id")) is not None)
    seen: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("Id", "ID", "id"):
            v = el.get(attr)
            if v is None or v not in watched:
                continue
            if v in seen:
                return f"duplicate Id {v!r} at {_readable_path(el)} and {seen[v]} (signature wrapping?)"
            seen[v] = _readable_path(el)
    return None


#: What XAdES B-T and B-LT put in UnsignedSignatureProperties; nothing else may be unsigned.
_UNSIGNED_ALLOWED = {
    xades("SignatureTimeStamp"),
    xades("CertificateValues"),
    xades("RevocationValues"),
    f"{{{_xml.XADES141}}}TimeStampValidationData",
    f"{{{_xml.XADES141}}}ArchiveTimeStamp",
}


def _unsigned_in_signature(sig: etree._Element, qp: etree._Element) -> list[str]:
    """Paths of content inside ``sig`` that no reference covers and XAdES does not need.

    Allowed: SignedInfo, SignatureValue, KeyInfo with X509Data/X509Certificate, one
    ds:Object holding QualifyingProperties with SignedProperties (signed) and
    UnsignedProperties/UnsignedSignatureProperties holding the timestamp and validation data.
    """
    found: list[str] = []

    def text_in(el: etree._Element) -> None:
        if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
            found.append(f"text in {_readable_path(el).split(' (xmlns=')[0]}")

    def only(el: etree._Element, allowed: set[str]) -> list[etree._Element]:
        text_in(el)
        kept = []
        for c in el:
            if not isinstance(c.tag, str):
                continue
            if c.tag in allowed:
                kept.append(c)
            else:
                found.append(_readable_path(c).split(" (xmlns=")[0])
        return kept

    qp_object = qp.getparent()
    for child in only(sig, {ds("SignedInfo"), ds("SignatureValue"), ds("KeyInfo"), ds("Object")}):
        if child.tag == ds("KeyInfo"):
            for x509_data in only(child, {ds("X509Data")}):
                only(x509_data, {ds("X509Certificate")})
        elif child.tag == ds("Object"):
            if child is not qp_object:
                found.append(_readable_path(child).split(" (xmlns=")[0])
                continue
            only(child, {xades("QualifyingProperties")})
    for up in only(qp, {xades("SignedProperties"), xades("UnsignedProperties")}):
        if up.tag == xades("UnsignedProperties"):
            for usp in only(up, {xades("UnsignedSignatureProperties")}):
                only(usp, _UNSIGNED_ALLOWED)
    return found


async def _verify_one_xml(
    tree: etree._ElementTree,
    sig: etree._Element,
    trust: Trust,
    structure_problem: str | None,
    findings: Findings,
) -> SignatureReport:
    rep = SignatureReport(format="XAdES", id=sig.get("Id") or tree.getpath(sig), indication=Indication.TOTAL_FAILED)
    try:
        if structure_problem:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", structure_problem)
        signed_info = _xml_find1(sig, ds("SignedInfo"))
        sig_value_el = _xml_find1(sig, ds("SignatureValue"))
        if signed_info is None or sig_value_el is None:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "SignedInfo or SignatureValue missing or repeated")
        c14n_el = _xml_find1(signed_info, ds("CanonicalizationMethod"))
        c14n_alg = c14n_el.get("Algorithm") if c14n_el is not None else None
        if c14n_alg not in C14N_ALGS:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported canonicalisation {c14n_alg}")
        sm = _xml_find1(signed_info, ds("SignatureMethod"))
        sm_uri = sm.get("Algorithm") if sm is not None else None
        if sm_uri in _xml.WEAK_METHODS:
            raise Fail(
                Indication.INDETERMINATE,
                "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
                f"weak signature method {sm_uri} refused",
            )
        if sm_uri not in _xml.SIG_METHODS:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported signature method {sm_uri}")
        kind, sig_digest = _xml.SIG_METHODS[sm_uri]

        qp = _xml_find1(sig, f"{ds('Object')}/{xades('QualifyingProperties')}")
        sp = _xml_find1(qp, xades("SignedProperties")) if qp is not None else None
        if sp is None:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "no xades:SignedProperties in this signature")
        assert qp is not None
        findings.unsigned[rep.id] = _unsigned_in_signature(sig, qp)
        if sig.get("Id") is None or qp.get("Target") != f"#{sig.get('Id')}":
            raise Fail(
                Indication.TOTAL_FAILED, "FORMAT_FAILURE", "QualifyingProperties Target does not name this signature"
            )

        refs = signed_info.findall(ds("Reference"))
        doc_ref = props_ref = None
        key_info_refs: list[tuple[etree._Element, etree._Element]] = []
        key_info = _xml_find1(sig, ds("KeyInfo"))
        for ref in refs:
            uri = ref.get("URI")
            if uri == "" and doc_ref is None:
                doc_ref = ref
            elif uri is not None and uri.startswith("#") and ref.get("Type") == SIGNED_PROPS_TYPE and props_ref is None:
                props_ref = ref
            elif uri is not None and uri.startswith("#") and key_info is not None and key_info.get("Id") == uri[1:]:
                key_info_refs.append((ref, key_info))  # signxml's XAdES also signs this signature's KeyInfo
            else:
                raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unexpected reference URI={uri!r}")
        if doc_ref is None or props_ref is None:
            raise Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                "expected a whole-document and a SignedProperties reference",
            )
        if props_ref.get("URI") != f"#{sp.get('Id')}":
            raise Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                "the SignedProperties reference does not point into this signature",
            )

        # reference 1: the document
        transforms = [t.get("Algorithm") for t in doc_ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
        if transforms[:1] == [FILTER2]:
            xp = doc_ref.find(f"{ds('Transforms')}/{ds('Transform')}/{{{FILTER2}}}XPath")
            expr = (xp.text or "").strip() if xp is not None else ""
            if (
                xp is None
                or xp.get("Filter") != "subtract"
                or expr not in ("/descendant::ds:Signature", "//ds:Signature")
            ):
                raise Fail(
                    Indication.TOTAL_FAILED,
                    "FORMAT_FAILURE",
                    "unsupported XPath filter in the document reference",
                )
            if xp.nsmap.get("ds") != DS:
                raise Fail(
                    Indication.TOTAL_FAILED,
                    "FORMAT_FAILURE",
                    "XPath filter prefix ds is not bound to XMLDSig",
                )
            doc_bytes = _xml.document_without_signatures(tree)
            covers_how = "whole document, every ds:Signature excluded"
        elif transforms[:1] == [ENVELOPED]:
            doc = copy.deepcopy(tree)
            own = [s for s in doc.getroot().iter(ds("Signature")) if s.get("Id") == sig.get("Id")]
            for s in own[:1]:
                _xml.remove_keeping_tail(s)
            doc_bytes = _c14n_by(doc, transforms[1] if len(transforms) > 1 else None)  # type: ignore[arg-type]
            covers_how = "whole document, this ds:Signature excluded"
        else:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported transforms {transforms}")
        if len(transforms) != 2 or transforms[1] not in C14N_ALGS:
            raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported transforms {transforms}")
        if transforms[0] == FILTER2 and transforms[1] != EXC_C14N:
            doc_bytes = _c14n_by(_filtered(tree), transforms[1])
        d_alg = _digest_alg(doc_ref.find(ds("DigestMethod")))
        root = tree.getroot()
        rep.covers = f"{_readable_path(root)}: {covers_how}; and {_readable_path(sp).split(' (xmlns=')[0]}"
        if hashlib.new(d_alg, doc_bytes).digest() != _b64(doc_ref.find(ds("DigestValue"))):
            raise Fail(
                Indication.TOTAL_FAILED,
                "HASH_FAILURE",
                f"digest of {_readable_path(root)} does not match (content changed)",
            )

        # reference 2: the signed properties
        p_transforms = [t.get("Algorithm") for t in props_ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
        if len(p_transforms) > 1 or (p_transforms and p_transforms[0] not in C14N_ALGS):
            raise Fail(
                Indication.TOTAL_FAILED,
                "FORMAT_FAILURE",
                f"unsupported SignedProperties transforms {p_transforms}",
            )
        p_alg = _digest_alg(props_ref.find(ds("DigestMethod")))
        sp_bytes = _c14n_by(sp, p_transforms[0] if p_transforms else _INCLUSIVE_C14N)
        if hashlib.new(p_alg, sp_bytes).digest() != _b64(props_ref.find(ds("DigestValue"))):
            raise Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "digest of xades:SignedProperties does not match")
        ref_outputs: dict[int, bytes] = {id(doc_ref): doc_bytes, id(props_ref): sp_bytes}

        for ref, target in key_info_refs:
            k_transforms = [t.get("Algorithm") for t in ref.findall(f"{ds('Transforms')}/{ds('Transform')}")]
            if len(k_transforms) > 1 or (k_transforms and k_transforms[0] not in C14N_ALGS):
                raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"unsupported KeyInfo transforms {k_transforms}")
            k_bytes = _c14n_by(target, k_transforms[0] if k_transforms else _INCLUSIVE_C14N)
            ref_outputs[id(ref)] = k_bytes
            if hashlib.new(_digest_alg(ref.find(ds("DigestMethod"))), k_bytes).digest() != _b64(
                ref.find(ds("DigestValue"))
            ):
                raise Fail(Indication.TOTAL_FAILED, "HASH_FAILURE", "digest of ds:KeyInfo does not match")

        # signed properties: time, role, signing certificate
        st = sp.findtext(f"{xades('SignedSignatureProperties')}/{xades('SigningTime')}")
        if st:
            try:
                rep.signing_time = dt.datetime.fromisoformat(st.strip().replace("Z", "+00:00"))
            except ValueError:
                pass
        role = sp.findtext(f".//{xades('ClaimedRole')}")
        rep.role = role.strip() if role else None
        cert_els = sig.findall(f"{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}")
        key_certs = [x509.load_der_x509_certificate(_b64(c)) for c in cert_els]
        if not key_certs:
            raise Fail(Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "no X509Certificate in KeyInfo")
        sc = sp.find(f".//{xades('SigningCertificateV2')}/{xades('Cert')}")
        if sc is None:
            sc = sp.find(f".//{xades('SigningCertificate')}/{xades('Cert')}")
        signer_cert = None
        if sc is not None:
            cd_alg = _digest_alg(sc.find(f"{xades('CertDigest')}/{ds('DigestMethod')}"))
            want = _b64(sc.find(f"{xades('CertDigest')}/{ds('DigestValue')}"))
            for c in key_certs:
                if hashlib.new(cd_alg, asn1_cert(c).dump()).digest() == want:
                    signer_cert = c
                    break

        # signature value
        candidate = signer_cert or key_certs[0]
        sv = _b64(sig_value_el)
        if not _verify_raw(candidate, sv, _c14n_by(signed_info, c14n_alg), kind, sig_digest):
            raise Fail(
                Indication.TOTAL_FAILED,
                "SIG_CRYPTO_FAILURE",
                "the signature value does not verify with the certificate",
            )
        if signer_cert is None:
            raise Fail(
                Indication.INDETERMINATE,
                "NO_SIGNING_CERTIFICATE_FOUND",
                "no certificate in KeyInfo matches SigningCertificateV2",
            )
        cert_asn1 = asn1_cert(signer_cert)
        rep.certificate_sha256 = hashlib.sha256(cert_asn1.dump()).hexdigest()
        read_declaration(findings, lambda: Declaration.from_signed_properties(sp))
        rep.signer_subject = subject_str(signer_cert)
        rep.signer_serial = f"{signer_cert.serial_number:X}"
        rep.qualified = qualified_flags(cert_asn1)
        rep.level = Level.B_B.value if rep.signing_time else None

        # unsigned properties: timestamp and validation data
        usp = (
            qp.find(f"{xades('UnsignedProperties')}/{xades('UnsignedSignatureProperties')}") if qp is not None else None
        )
        emb = Revinfo()  # filled below from the unsigned properties
        vdata = ValidationData(trust, [asn1_cert(c) for c in key_certs], emb)
        poe = None
        if usp is not None:
            tsvd = f"{{{_xml.XADES141}}}TimeStampValidationData/"
            for where in ("", tsvd):  # the signer's validation data, then (B-LTA) the TSA's
                for el in usp.findall(f"{where}{xades('CertificateValues')}/{xades('EncapsulatedX509Certificate')}"):
                    emb.certs.append(asn1_x509.Certificate.load(_b64(el)))
                for el in usp.findall(
                    f"{where}{xades('RevocationValues')}/{xades('CRLValues')}/{xades('EncapsulatedCRLValue')}"
                ):
                    emb.crls.append(_b64(el))
                for el in usp.findall(
                    f"{where}{xades('RevocationValues')}/{xades('OCSPValues')}/{xades('EncapsulatedOCSPValue')}"
                ):
                    emb.ocsps.append(_b64(el))
            ts_el = usp.find(xades("SignatureTimeStamp"))
            if ts_el is not None:
                ts_c14n = ts_el.find(ds("CanonicalizationMethod"))
                sv_bytes = _c14n_by(sig_value_el, ts_c14n.get("Algorithm") if ts_c14n is not None else None)

                def imprint(algo: str, data: bytes = sv_bytes) -> bytes:
                    return hashlib.new(algo, data).digest()

                token = _b64(ts_el.find(xades("EncapsulatedTimeStamp")))
                poe = await signature_timestamp(rep, token, imprint, vdata)
        (await assess_signer(cert_asn1, vdata, poe)).apply(rep)
        if usp is not None:
            outputs = [ref_outputs[id(r)] for r in refs]
            for ats in usp.findall(f"{{{_xml.XADES141}}}ArchiveTimeStamp"):
                reach_lta(rep, await _check_archive_timestamp(sig, ats, outputs, vdata))
    except Fail as f:
        f.apply(rep)
    return rep


async def _check_archive_timestamp(
    sig: etree._Element,
    ats: etree._Element,
    reference_outputs: list[bytes],
    vdata: ValidationData,
) -> dt.datetime | None:
    """A ``xadesv141:ArchiveTimeStamp``: its time if it is valid and from a trusted TSA. One that
    does not match what it covers (anything changed in the signature or its unsigned properties
    before it) fails the signature."""
    c14n_el = _xml_find1(ats, ds("CanonicalizationMethod"))
    alg = c14n_el.get("Algorithm") if c14n_el is not None else _INCLUSIVE_C14N
    if alg not in C14N_ALGS:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"archive timestamp: unsupported canonicalisation {alg}")
    if ats.find(ds("Include")) is not None or ats.find(xades("ReferenceInfo")) is not None:
        raise Fail(Indication.TOTAL_FAILED, "FORMAT_FAILURE", "archive timestamp: Include/ReferenceInfo unsupported")
    data = _xml.archive_timestamp_input(sig, ats, reference_outputs, alg or _INCLUSIVE_C14N)

    def imprint(algo: str) -> bytes:
        return hashlib.new(algo, data).digest()

    token = _b64(ats.find(xades("EncapsulatedTimeStamp")))
    mismatch = "the archive timestamp does not match the signature and its validation data (changed after it)"
    return await archive_timestamp(token, imprint, vdata, mismatch)


def _filtered(tree: etree._ElementTree) -> etree._ElementTree:
    doc = copy.deepcopy(tree)
    for s in list(doc.getroot().iter(ds("Signature"))):
        _xml.remove_keeping_tail(s)
    return doc


def verify_xades(xml: bytes, options: VerifyOptions) -> VerificationReport:
    """Verify every ds:Signature that is a child of the document element (and flag any other),
    then the validation policy of ``options``."""
    pol = options.validation_policy()
    tree = _xml.parse_xml(xml)
    trust = options.trust()
    problem = _xml_structure_problems(tree)
    sigs = list(tree.getroot().iter(ds("Signature")))
    findings = Findings()

    async def run() -> list[SignatureReport]:
        return [await _verify_one_xml(tree, s, trust, problem, findings) for s in sigs]

    report = VerificationReport(path=options.path, format="XML")
    report.signatures = run_sync(run())
    apply_policy(report, pol, findings)
    return report
