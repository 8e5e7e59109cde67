"""Safe XML parsing and the XMLDSig/XAdES constants shared by signing and verification."""

from __future__ import annotations

import copy

from lxml import etree

from .errors import UnsupportedDocumentError

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SIGNED_PROPS_TYPE = "http://uri.etsi.org/01903#SignedProperties"

SIG_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", "sha512"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", "sha512"),
}
DIGEST_METHODS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
WEAK_METHODS = {
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#md5",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
}


def ds(tag: str) -> str:
    return f"{{{DS}}}{tag}"


def xades(tag: str) -> str:
    return f"{{{XADES}}}{tag}"


def safe_parser() -> etree.XMLParser:
    """No DTD loading or validation, no entity expansion, no network, no huge trees. White
    space and comments are kept (lxml's defaults): the digests cover the document as it is."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse_xml(data: bytes) -> etree._ElementTree:
    """Parse ``data`` safely; documents with a DOCTYPE (hence DTDs or entities) are refused."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UnsupportedDocumentError("XML with a DOCTYPE or entity declarations is refused")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsupportedDocumentError(f"not well-formed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise UnsupportedDocumentError("XML with a DOCTYPE is refused")
    return tree


def c14n(node: etree._Element | etree._ElementTree) -> bytes:
    """Exclusive XML canonicalisation 1.0 without comments."""
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False)


def remove_keeping_tail(el: etree._Element) -> None:
    """Remove ``el`` but keep the text that follows it (lxml attaches it to the element)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def document_without_signatures(tree: etree._ElementTree) -> bytes:
    """Exclusive c14n of the document minus every ds:Signature subtree.

    The same node-set as the XPath Filter 2.0 transform ``subtract /descendant::ds:Signature``.
    """
    sigs = tree.getroot().iter(ds("Signature"))
    if next(iter(sigs), None) is None:
        return c14n(tree)
    doc = copy.deepcopy(tree)
    for sig in list(doc.getroot().iter(ds("Signature"))):
        remove_keeping_tail(sig)
    return c14n(doc)


def xpath_of(el: etree._Element) -> str:
    """A readable absolute XPath of ``el``, with Clark-notation tags shortened to local names."""
    return el.getroottree().getpath(el)


def xades141(tag: str) -> str:
    return f"{{{XADES141}}}{tag}"


def archive_timestamp_input(
    sig: etree._Element, ats: etree._Element, reference_outputs: list[bytes], algorithm: str
) -> bytes:
    """What a ``xadesv141:ArchiveTimeStamp`` time-stamps (ETSI EN 319 132-1, 5.5.2.2).

    In order: the output of each ``ds:Reference`` of SignedInfo after its transforms
    (``reference_outputs``, SignedInfo's order), then the canonicalised ``ds:SignedInfo``,
    ``ds:SignatureValue`` and ``ds:KeyInfo``, then each child of UnsignedSignatureProperties
    before ``ats``, then every ``ds:Object`` but the one holding the QualifyingProperties;
    canonicalised with ``algorithm`` (the timestamp's own ``ds:CanonicalizationMethod``).
    """
    exclusive = "xml-exc-c14n" in algorithm
    comments = algorithm.endswith("#WithComments")

    def canon(el: etree._Element) -> bytes:
        return etree.tostring(el, method="c14n", exclusive=exclusive, with_comments=comments)

    parts = list(reference_outputs)
    for tag in ("SignedInfo", "SignatureValue", "KeyInfo"):
        el = sig.find(ds(tag))
        if el is not None:
            parts.append(canon(el))
    usp = ats.getparent()
    if usp is None:
        raise ValueError("the archive timestamp is not in UnsignedSignatureProperties")
    for child in usp:
        if child is ats:
            break
        if isinstance(child.tag, str):
            parts.append(canon(child))
    for obj in sig.findall(ds("Object")):
        if obj.find(xades("QualifyingProperties")) is None:
            parts.append(canon(obj))
    return b"".join(parts)
