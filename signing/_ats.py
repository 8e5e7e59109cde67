"""CAdES archive-time-stamp-v3 (ETSI EN 319 122-1, 5.5.3) with its ats-hash-index-v3.

The archive timestamp is an unsigned attribute of the SignerInfo it protects. Its message
imprint is the hash, with the timestamp's own algorithm, of the concatenation of

1. the DER of ``SignedData.encapContentInfo.eContentType``;
2. the hash of the signed content (detached: the file);
3. the SignerInfo's ``version``, ``sid``, ``digestAlgorithm``, ``signedAttrs`` (with its
   ``[0]`` tag), ``signatureAlgorithm`` and ``signature``, each as encoded;
4. the DER of the ``ATSHashIndexV3`` value,

where the hash index, carried as an unsigned attribute of the time-stamp token's own
SignerInfo, lists the hash of every ``CertificateChoices`` in ``SignedData.certificates``,
every ``RevocationInfoChoice`` in ``SignedData.crls`` and, for every unsigned attribute of
the SignerInfo, of its ``attrType`` followed by each of its values, as they were when the
timestamp was taken. Anything listed that is later removed or changed breaks the timestamp;
things added later (a further archive timestamp) do not.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable

from asn1crypto import algos, cms, core

ID_AA_ATS_V3 = "0.4.0.1733.2.4"
"""id-aa-ets-archiveTimestampV3."""
ID_AA_ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
"""id-aa-ATSHashIndex-v3."""


class _Octets(core.SequenceOf):
    _child_spec = core.OctetString


class ATSHashIndexV3(core.Sequence):
    """ATSHashIndexV3 ::= SEQUENCE { hashIndAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256},
    certificatesHashIndex, crlsHashIndex, unsignedAttrValuesHashIndex: SEQUENCE OF OCTET STRING }"""

    _fields = [
        ("hash_ind_algorithm", algos.DigestAlgorithm, {"default": {"algorithm": "sha256"}}),
        ("certificates_hash_index", _Octets),
        ("crls_hash_index", _Octets),
        ("unsigned_attr_values_hash_index", _Octets),
    ]


class _Items(core.SequenceOf):
    _child_spec = core.Any


def parse_index(der: bytes) -> ATSHashIndexV3:
    """An ATSHashIndexV3 from DER. Its first field is omitted when it is the default (SHA-256), and
    the three lists are SEQUENCEs too, so the fields are told apart by their count."""
    items = _Items.load(der)
    if len(items) == 3:
        alg = algos.DigestAlgorithm({"algorithm": "sha256"})
        lists = list(items)
    elif len(items) == 4:
        alg = algos.DigestAlgorithm.load(items[0].dump())
        lists = list(items)[1:]
    else:
        raise ValueError(f"an ats-hash-index-v3 has 3 or 4 fields, not {len(items)}")
    names = ("certificates_hash_index", "crls_hash_index", "unsigned_attr_values_hash_index")
    fields: dict[str, object] = {"hash_ind_algorithm": alg}
    for name, item in zip(names, lists, strict=True):
        fields[name] = _Octets.load(item.dump())
    index = ATSHashIndexV3(fields)
    if index.dump() != der:
        raise ValueError("the ats-hash-index-v3 is not DER")
    return index


def _h(alg: str, data: bytes) -> bytes:
    return hashlib.new(alg, data).digest()


def _attr_value_hashes(alg: str, si: cms.SignerInfo) -> list[bytes]:
    out = []
    for attr in si["unsigned_attrs"] or ():
        type_der = attr["type"].dump()
        for value in attr["values"]:
            out.append(_h(alg, type_der + value.dump()))
    return out


def hash_index(alg: str, sd: cms.SignedData, si: cms.SignerInfo) -> ATSHashIndexV3:
    """The ats-hash-index-v3 of ``si`` in ``sd`` as they are now."""
    return ATSHashIndexV3(
        {
            "hash_ind_algorithm": {"algorithm": alg},
            "certificates_hash_index": [_h(alg, c.dump()) for c in sd["certificates"] or ()],
            "crls_hash_index": [_h(alg, r.dump()) for r in sd["crls"] or ()],
            "unsigned_attr_values_hash_index": _attr_value_hashes(alg, si),
        }
    )


def imprint_input(sd: cms.SignedData, si: cms.SignerInfo, content_hash: bytes, index: ATSHashIndexV3) -> bytes:
    """What the archive timestamp's message imprint is the hash of (see the module docstring)."""
    parts = [sd["encap_content_info"]["content_type"].dump(force=False), content_hash]
    for name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature"):
        parts.append(si[name].dump())
    parts.append(index.dump())
    return b"".join(parts)


def _with(seq: core.Sequence, **changes: object) -> core.Sequence:
    """A copy of ``seq`` with some fields replaced; the other fields keep their encoding as is."""
    values: dict[str, object] = {}
    for name, *_ in type(seq)._fields:
        if name in changes:
            values[name] = changes[name]
        elif not isinstance(seq[name], core.Void):
            values[name] = seq[name]
    return type(seq)(values)


def _attrs(si: cms.SignerInfo) -> list[cms.CMSAttribute]:
    return list(si["unsigned_attrs"]) if not isinstance(si["unsigned_attrs"], core.Void) else []


def with_archive_timestamp(
    sd: cms.SignedData,
    si: cms.SignerInfo,
    content_hash: Callable[[str], bytes],
    stamp: Callable[[bytes, str], cms.ContentInfo],
    alg: str = "sha256",
) -> cms.SignerInfo:
    """``si`` (of ``sd``, whose certificates and crls are final) with an archive-time-stamp-v3 added.

    ``content_hash(alg)`` is the hash of the signed content, ``stamp(digest, alg)`` a
    time-stamp token over ``digest``.
    """
    index = hash_index(alg, sd, si)
    token = stamp(_h(alg, imprint_input(sd, si, content_hash(alg), index)), alg)
    tst_sd = token["content"]
    tst_si = tst_sd["signer_infos"][0]
    idx_attr = cms.CMSAttribute({"type": ID_AA_ATS_HASH_INDEX_V3, "values": [index]})
    tst_si = _with(tst_si, unsigned_attrs=cms.CMSAttributes([*_attrs(tst_si), idx_attr]))
    tst_sd = _with(tst_sd, signer_infos=cms.SignerInfos([tst_si]))
    token = cms.ContentInfo({"content_type": "signed_data", "content": tst_sd})
    ats_attr = cms.CMSAttribute({"type": ID_AA_ATS_V3, "values": [token]})
    return _with(si, unsigned_attrs=cms.CMSAttributes([*_attrs(si), ats_attr]))


def archive_timestamps(si: cms.SignerInfo) -> list[bytes]:
    """The DER of each archive-time-stamp-v3 token of ``si``, in order."""
    out: list[bytes] = []
    for attr in si["unsigned_attrs"] or ():
        if attr["type"].dotted == ID_AA_ATS_V3:
            out.extend(v.dump() for v in attr["values"])
    return out


def check_index(
    token: cms.ContentInfo, sd: cms.SignedData, si: cms.SignerInfo, content_hash: Callable[[str], bytes]
) -> tuple[str, bytes] | str:
    """(algorithm, imprint input) of an archive timestamp over ``si``, or why it cannot match:
    its hash index missing, or naming a certificate, revocation value or unsigned attribute
    value that is no longer there."""
    tst_si = token["content"]["signer_infos"][0]
    found = [a["values"][0] for a in tst_si["unsigned_attrs"] or () if a["type"].dotted == ID_AA_ATS_HASH_INDEX_V3]
    if len(found) != 1:
        return "the archive timestamp has no ats-hash-index-v3"
    index = parse_index(found[0].dump())
    alg = index["hash_ind_algorithm"]["algorithm"].native
    if alg in ("sha1", "md5"):
        return f"the ats-hash-index-v3 uses {alg}"
    now = hash_index(alg, sd, si)
    for name, what in (
        ("certificates_hash_index", "certificate"),
        ("crls_hash_index", "revocation value"),
        ("unsigned_attr_values_hash_index", "unsigned attribute value"),
    ):
        present = Counter(o.native for o in now[name])
        present.subtract(o.native for o in index[name])  # each listed hash needs an item of its own
        if any(n < 0 for n in present.values()):
            return f"a {what} the archive timestamp covers was removed or changed"
    return alg, imprint_input(sd, si, content_hash(alg), index)
