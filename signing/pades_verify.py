"""PAdES verification (ETSI EN 319 142-1): every signature field of a PDF, and what came after it.

Each signature's CMS is checked as CAdES (:func:`signing.cades_verify.verify_signer_info`)
over the digest of its byte ranges, with the DSS as further validation data; pyHanko says
which revision it covers and how much changed after it. Document timestamps (B-LTA) must
cover their revision and match it. After the last signature only the DSS, the XMP metadata
pyHanko refreshes and document timestamps may change (:func:`_pdf_changes_after`); what
else changed goes to the policy.
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.validation.dss import DocumentSecurityStore

from ._async import run_sync
from .cades_verify import verify_signer_info
from .errors import UnsupportedDocumentError
from .policy import Findings, apply_policy
from .report import Indication, SignatureReport, VerificationReport
from .validation import Fail, Revinfo, ValidationData, VerifyOptions, check_timestamp, reach_lta

__all__ = ["verify_pades"]


def verify_pades(pdf: bytes, options: VerifyOptions) -> VerificationReport:
    """Verify every signature field of a PDF, including coverage and later changes, then the
    validation policy of ``options``."""
    pol = options.validation_policy()
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        sigs = list(reader.embedded_regular_signatures)
    except Exception as exc:
        raise UnsupportedDocumentError(f"not a readable PDF: {exc}") from exc
    findings = Findings()
    dss_info = Revinfo()
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        dss_info.certs = list(dss.load_certs())
        dss_info.ocsps = [bytes(b) for b in getattr(dss, "_ocsps_seen", {})]
        dss_info.crls = [bytes(b) for b in getattr(dss, "_crls_seen", {})]
    except Exception:  # no DSS
        pass
    outside = ValidationData(options.trust(), [], dss_info)  # the DSS: validation data outside the signatures
    total = reader.xrefs.total_revisions
    report = VerificationReport(path=options.path, format="PDF")

    archives: list[dict[str, Any]] = []

    async def check_archives() -> None:
        """Document timestamps (PAdES B-LTA): each must cover its revision and match it."""
        for ts in reader.embedded_timestamp_signatures:
            entry: dict[str, Any] = {"field": ts.field_name, "revision": ts.signed_revision, "time": None}
            archives.append(entry)
            try:
                ts.compute_integrity_info()
                cov = ts.coverage
                if cov is None or cov.name == "UNCLEAR":
                    entry["problem"] = "FORMAT_FAILURE: the byte ranges do not cover the revision"
                    continue
                digest = ts.compute_digest()
                token = cms.ContentInfo({"content_type": "signed_data", "content": ts.signed_data}).dump()

                def whole(alg: str, d: bytes = digest) -> bytes:
                    return d

                when, fail, note = await check_timestamp(token, whole, outside)
            except Exception as exc:
                entry["problem"] = f"FORMAT_FAILURE: cannot process the document timestamp: {exc}"
                continue
            if fail is not None:
                entry["problem"] = f"{fail}: {note}"
            elif when is None:
                entry["note"] = note
            else:
                entry["time"] = when
                # the validation data it protects: a DSS in the revision it covers
                entry["covers_dss"] = "/DSS" in reader.get_historical_root(ts.signed_revision)

    def archive_for(revision: int) -> dt.datetime | None:
        times = [a["time"] for a in archives if a["time"] and a.get("covers_dss") and a["revision"] > revision]
        return min(times) if times else None

    async def run() -> None:
        await check_archives()
        for emb in sigs:
            rep = SignatureReport(format="PAdES", id=emb.field_name, indication=Indication.TOTAL_FAILED)
            report.signatures.append(rep)
            try:
                reason = emb.sig_object.get("/Reason")
                rep.role = str(reason) if reason else None
                rep.signing_time = emb.self_reported_timestamp
                subfilter = str(emb.sig_object.get("/SubFilter"))
                br = list(emb.sig_object["/ByteRange"])
                emb.compute_integrity_info()
                cov = emb.coverage
                rep.covers = (
                    f"revision {emb.signed_revision + 1}"
                    + (f" of {total}" if total else "")
                    + (f", byte ranges {br}, coverage {cov.name if cov else 'unknown'}")
                )
                if subfilter != "/ETSI.CAdES.detached":
                    rep.message = f"SubFilter {subfilter} is not PAdES"
                if cov is None or cov.name == "UNCLEAR":
                    rep.sub_indication, rep.message = (
                        "FORMAT_FAILURE",
                        "the byte ranges do not cover the revision",
                    )
                    continue
                diff = emb.diff_result
                if isinstance(diff, SuspiciousModification):
                    rep.modification_level = ModificationLevel.OTHER.name
                elif diff is not None:
                    rep.modification_level = diff.modification_level.name
                if isinstance(diff, SuspiciousModification) or (
                    diff is not None and getattr(diff, "modification_level", None) == ModificationLevel.OTHER
                ):
                    rep.sub_indication = "FORMAT_FAILURE"
                    rep.message = "the document was changed after signing beyond adding signatures or validation data"
                    continue
                digest = emb.compute_digest()

                def actual(alg: str, d: bytes = digest) -> bytes:
                    return d

                await verify_signer_info(emb.signed_data, emb.signer_info, actual, outside, rep, findings)
                reach_lta(rep, archive_for(emb.signed_revision))
            except Fail as f:
                f.apply(rep)
            except Exception as exc:
                rep.sub_indication, rep.message = "FORMAT_FAILURE", f"cannot process the signature: {exc}"

    run_sync(run())
    if sigs:
        last = max(sigs, key=lambda e: e.signed_revision)
        changes = _pdf_changes_after(reader, last.signed_revision)
        last_rep = next(r for r in report.signatures if r.id == last.field_name)
        if changes:
            last_rep.modification_level = ModificationLevel.OTHER.name
        for a in archives:  # a broken document timestamp is a change nobody can vouch for
            if "problem" in a:
                changes.append(f"document timestamp {a['field']}: {a['problem']}")
        findings.pdf = {
            "level": last_rep.modification_level,
            "after_last_signature": last.signed_revision < reader.xrefs.total_revisions - 1,
            "changes": changes,
            "archive_timestamps": [
                {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in a.items()} for a in archives
            ],
        }
    apply_policy(report, pol, findings)
    return report


def _pdf_changes_after(reader: Any, revision: int) -> list[str]:
    """What the revisions after ``revision`` change beyond what PAdES allows after a signature.

    Allowed: the DSS (its dictionary, VRI entries and the streams they list), the catalog's
    /DSS, /AcroForm and /Metadata entries, the XMP metadata stream (pyHanko refreshes it with
    each update), document timestamps with their fields, and cross-reference streams.
    pyHanko's difference analysis counts an /Info change as an LTA update; here it is not.
    """
    total = reader.xrefs.total_revisions
    if revision >= total - 1:
        return []
    root_ref = reader.root_ref
    root = reader.root
    allowed: set[tuple[int, int]] = set()

    def collect(obj: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(obj, generic.IndirectObject):
            allowed.add((obj.idnum, obj.generation))
            collect(obj.get_object(), depth + 1)
        elif isinstance(obj, generic.DictionaryObject):
            for k in obj:
                collect(obj.raw_get(k), depth + 1)
        elif isinstance(obj, generic.ArrayObject):
            for i in range(len(obj)):
                collect(obj.raw_get(i), depth + 1)

    for entry in ("/DSS", "/Metadata"):
        if entry in root:
            collect(root.raw_get(entry))
    acroform = root.raw_get("/AcroForm") if "/AcroForm" in root else None
    if isinstance(acroform, generic.IndirectObject):
        allowed.add((acroform.idnum, acroform.generation))
    info_ref = reader.trailer.raw_get("/Info") if "/Info" in reader.trailer else None
    changes: list[str] = []
    for rev in range(revision + 1, total):
        for ref in reader.xrefs.explicit_refs_in_revision(rev):
            key = (ref.idnum, ref.generation)
            if key in allowed:
                continue
            obj = reader.get_object(ref, revision=rev)
            if isinstance(obj, generic.StreamObject) and obj.get("/Type") == "/XRef":
                continue
            if key == (root_ref.idnum, root_ref.generation):
                before = reader.get_historical_root(rev - 1)
                after = reader.get_historical_root(rev)
                keys = {k for k in set(before) | set(after) if k not in ("/DSS", "/AcroForm", "/Metadata")}
                diff = sorted(k for k in keys if k in before and k in after and before.raw_get(k) != after.raw_get(k))
                diff += sorted(k for k in keys if (k in before) != (k in after))
                if diff:
                    changes.append("catalog " + " ".join(diff))
                continue
            if isinstance(obj, generic.DictionaryObject):
                if _is_doc_timestamp(obj):
                    continue
                if obj.get("/Type") == "/Page" and rev > 0:
                    before_page = reader.get_object(ref, revision=rev - 1)
                    if _only_timestamp_widgets_added(before_page, obj):
                        continue
            if isinstance(info_ref, generic.IndirectObject) and key == (info_ref.idnum, info_ref.generation):
                label = "/Info"
            else:
                kind_name = obj.get("/Type") if isinstance(obj, generic.DictionaryObject) else None
                label = f"object {ref.idnum}" + (f" {kind_name}" if kind_name else "")
            if label not in changes:
                changes.append(label)
    return changes


def _is_doc_timestamp(obj: Any) -> bool:
    """A document timestamp's signature dictionary, or a signature field/widget holding one."""
    if obj.get("/Type") == "/DocTimeStamp":
        return True
    if obj.get("/FT") != "/Sig" or "/V" not in obj:
        return False
    value = obj.raw_get("/V")
    value = value.get_object() if isinstance(value, generic.IndirectObject) else value
    return isinstance(value, generic.DictionaryObject) and value.get("/Type") == "/DocTimeStamp"


def _only_timestamp_widgets_added(before: Any, after: Any) -> bool:
    """A page changed only by gaining document-timestamp widgets in /Annots (what adding one does)."""
    if not isinstance(before, generic.DictionaryObject):
        return False
    keys = (set(before) | set(after)) - {"/Annots"}
    if any(k not in before or k not in after or before.raw_get(k) != after.raw_get(k) for k in keys):
        return False

    def annots(page: Any) -> list[Any]:
        arr = page.get("/Annots") if "/Annots" in page else []
        return [arr.raw_get(i) for i in range(len(arr))] if isinstance(arr, generic.ArrayObject) else []

    old, new = annots(before), annots(after)
    if new[: len(old)] != old:
        return False
    return all(isinstance(a, generic.IndirectObject) and _is_doc_timestamp(a.get_object()) for a in new[len(old) :])
