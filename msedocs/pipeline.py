"""The pipeline: a case through the registry and the generators, into a package.

    case ──► FormSpec.data(case) ──► generators.xml / pdf / docx ──► RenderedDocument

Each form's data dict is computed once and feeds every format; the XML is built once
and embedded into the PDF. A package is written only when every document rendered:
files go to a temporary folder beside the target and are moved in at the end, so a
failure never leaves half a package.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generators import docx as docx_gen
from generators import pdf as pdf_gen
from generators import xml as xml_gen
from generators.common import RenderedDocument

from .errors import FormNotApplicableError, InputError, output_errors
from .forms import REGISTRY, FormSpec, get_form
from .model import Case
from .sign import FormSigner

if TYPE_CHECKING:
    from signing import SigningProfile

FORMATS = ("xml", "pdf", "docx")


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (value.split(",") if isinstance(value, str) else value) if f.strip()]
    unknown = [f for f in items if f not in FORMATS]
    if unknown or not items:
        raise InputError(f"--format: unknown format(s) {', '.join(unknown) or '(none)'}; choose from xml,pdf,docx")
    return tuple(dict.fromkeys(items))


def render_form(
    case: Case,
    spec: FormSpec,
    formats: Sequence[str] = FORMATS,
    *,
    paper: bool = True,
    profile: SigningProfile | None = None,
) -> list[RenderedDocument]:
    """Every requested format of one form, from one data dict; signed when a profile is given
    (the XML is signed before it is embedded in the PDF; a DOCX gets a detached .p7s)."""
    data = spec.data(case)
    signer = FormSigner.for_form(profile, spec, case) if profile is not None else None
    out: list[RenderedDocument] = []
    xml = xml_gen.render(data) if ("xml" in formats or "pdf" in formats) else None
    if signer is not None and xml is not None:
        xml = signer.xml(xml)
    for fmt in formats:
        if fmt == "xml":
            assert xml is not None
            out.append(RenderedDocument.of(spec.id, "xml", xml, _sig(signer, "XAdES")))
        elif fmt == "pdf":
            pdf = pdf_gen.render(data, xml=xml, paper=paper)
            if signer is not None:
                pdf = signer.pdf(pdf)
            out.append(RenderedDocument.of(spec.id, "pdf", pdf, _sig(signer, "PAdES")))
        elif fmt == "docx":
            docx = docx_gen.render(data, paper=paper)
            out.append(RenderedDocument.of(spec.id, "docx", docx))
            if signer is not None:
                out.extend(signer.detached_documents(spec.id, docx))
    return out


def _sig(signer: FormSigner | None, form: str) -> dict[str, Any] | None:
    return signer.manifest_entry(form) if signer is not None else None


def render(
    case: Case, form_id: str, fmt: str, *, paper: bool = True, profile: SigningProfile | None = None
) -> RenderedDocument:
    """One document of one form (signed when a profile is given). Raises if the form does not apply."""
    (fmt,) = parse_formats(fmt)
    spec = get_form(form_id)
    if not spec.applies_to(case):
        raise FormNotApplicableError(f"{form_id}: this form does not apply to case {case.case_id}")
    return render_form(case, spec, (fmt,), paper=paper, profile=profile)[0]


def select_forms(case: Case, form_ids: Sequence[str] | None) -> list[FormSpec]:
    """The forms asked for (each must apply), or every form that applies."""
    if not form_ids:
        return [spec for spec in REGISTRY.values() if spec.applies_to(case)]
    specs = [get_form(fid) for fid in dict.fromkeys(form_ids)]
    not_applicable = [s.id for s in specs if not s.applies_to(case)]
    if not_applicable:
        raise FormNotApplicableError(
            f"case {case.case_id}: form(s) {', '.join(not_applicable)} do not apply "
            "(the case lacks the examination or decision they need)"
        )
    return specs


def render_package(
    case: Case,
    formats: Sequence[str] = FORMATS,
    forms: Sequence[str] | None = None,
    *,
    paper: bool = True,
    profile: SigningProfile | None = None,
    variant_by_case: bool = False,
) -> list[RenderedDocument]:
    """Every requested format of every requested (or applicable) form of one case; with
    ``variant_by_case``, a form whose case asks for a variant (the extract: its delivery
    channel) is rendered in that variant, the others as ``paper`` says."""
    formats = parse_formats(formats)
    docs: list[RenderedDocument] = []
    for spec in select_forms(case, forms):
        docs.extend(render_form(case, spec, formats, paper=paper_variant(spec, case, paper, variant_by_case),
                                profile=profile))  # fmt: skip
    return docs


def paper_variant(spec: FormSpec, case: Case, paper: bool, by_case: bool = True) -> bool:
    """Paper (True) or electronic: the case's own choice for the form when ``by_case`` and the
    form has one (``FormSpec.paper_for``), else ``paper``."""
    chosen = spec.paper_for(case) if by_case and spec.paper_for is not None else None
    return paper if chosen is None else chosen


def manifest(case: Case, docs: Sequence[RenderedDocument], extra: dict[str, Any] | None = None):
    return {
        "case_id": case.case_id,
        "forms": list(dict.fromkeys(d.form_id for d in docs)),
        "files": [{**file_entry(d), **((extra or {}).get(d.filename, {}))} for d in docs],
    }


def write_package(
    out_dir: str | Path,
    docs: Sequence[RenderedDocument],
    case: Case,
    extra_files: dict[str, bytes] | None = None,
    manifest_extra: dict[str, Any] | None = None,
) -> Path:
    """Write documents and manifest.json into ``out_dir`` all at once, or not at all."""
    files: dict[str, bytes] = {d.filename: d.content for d in docs}
    files.update(extra_files or {})
    return write_files(out_dir, files, manifest(case, docs, manifest_extra))


def write_files(out_dir: str | Path, files: dict[str, bytes], manifest_body: dict[str, Any]) -> Path:
    """Files plus manifest.json, staged beside ``out_dir`` and moved in only when all are written."""
    with staged(out_dir) as staging:
        for name, content in files.items():
            (staging / name).write_bytes(content)
        write_manifest(staging, manifest_body)
    return Path(out_dir) / "manifest.json"


@contextmanager
def staged(out_dir: str | Path) -> Iterator[Path]:
    """A staging folder beside ``out_dir``: what is written there is moved into ``out_dir``
    when the block ends (into its existing subfolders too, each folder's manifest.json last),
    and nothing at all if it raises."""
    out = Path(out_dir)
    with output_errors(out, "output folder"):
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            yield staging
            _move_into(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _move_into(source: Path, target: Path) -> None:
    """Move what ``source`` holds into ``target``, merging folders that exist already (a batch
    rendered again over its output), manifest.json last in each folder."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir(), key=lambda p: (p.name == "manifest.json", p.name)):
        if path.is_dir() and (target / path.name).is_dir():
            _move_into(path, target / path.name)
        else:
            os.replace(path, target / path.name)


def write_manifest(folder: Path, body: dict[str, Any]) -> None:
    text = json.dumps(body, ensure_ascii=False, indent=2)
    (folder / "manifest.json").write_text(text + "\n", encoding="utf-8")


def file_entry(doc: RenderedDocument, path: Path | None = None) -> dict[str, Any]:
    """The manifest's entry for a document; its size and digest read from ``path`` if given
    (a document written straight to a file, whose ``content`` is not held)."""
    if path is not None:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        size = path.stat().st_size
    else:
        digest, size = hashlib.sha256(doc.content).hexdigest(), len(doc.content)
    entry = {
        "form_id": doc.form_id,
        "format": doc.format,
        "file": doc.filename,
        "media_type": doc.media_type,
        "size": size,
        "sha256": digest,
    }
    if doc.signature is not None:
        entry["signature"] = doc.signature
    return entry


def _render_in_worker(
    payload: tuple[bytes, tuple[str, ...], tuple[str, ...] | None, bool, SigningProfile | None],
) -> list[RenderedDocument]:
    raw, formats, forms, paper, profile = payload
    return render_package(Case.model_validate_json(raw), formats, forms, paper=paper, profile=profile)


def _warm_up() -> None:
    """Build the Jinja environment, fonts and stylesheet once per worker process."""
    pdf_gen.environment()
    pdf_gen._style()


def render_batch(
    cases: Sequence[Case],
    formats: Sequence[str] = FORMATS,
    forms: Sequence[str] | None = None,
    *,
    workers: int = 1,
    paper: bool = True,
    profile: SigningProfile | None = None,
) -> Iterator[tuple[Case, list[RenderedDocument]]]:
    """Render (and sign) many cases, in ``workers`` processes when more than one; results in input order."""
    formats = parse_formats(formats)
    if workers <= 1 or len(cases) < 2:
        for case in cases:
            yield case, render_package(case, formats, forms, paper=paper, profile=profile)
        return
    payloads = [
        (case.model_dump_json().encode(), tuple(formats), tuple(forms) if forms else None, paper, profile)
        for case in cases
    ]
    with ProcessPoolExecutor(max_workers=workers, initializer=_warm_up) as pool:
        yield from zip(cases, pool.map(_render_in_worker, payloads), strict=True)
