"""The pipeline: a case through the registry and the generators, into a package.

    case ──► FormSpec.data(case) ──► generators.xml / pdf / docx ──► RenderedDocument
             (a msedocs.contract.Document)

Each form's document is filled in once and feeds every format; the XML is built once
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
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from generators import docx as docx_gen
from generators import docx_template, journal_docx
from generators import xml as xml_gen
from generators.common import RenderedDocument

from .casefiles import is_batch
from .contract import Document, DocumentData, Journal, SessionProtocol
from .errors import FormNotApplicableError, InputError, Problem, TemplateError, output_errors
from .forms import REGISTRY, DocumentSpec, FormSpec, get_form
from .model import Case, CaseWarning, load_case
from .sign import FormSigner, SigningOptions, sign_rendered
from .workers import (  # noqa: F401  (names of msedocs.pipeline before msedocs.workers)
    ENGINE_SETTING,
    ENGINES,
    FEW_CASES,
    default_workers,
    parse_engine,
    pooled,
    start_worker_server,
    usable_cores,
    worker_context,
)

if TYPE_CHECKING:
    from signing import SigningProfile
    from signing.keys import Handoff

    from .delivery.store import Outbox

FORMATS = ("xml", "pdf", "docx")


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (value.split(",") if isinstance(value, str) else value) if f.strip()]
    unknown = [f for f in items if f not in FORMATS]
    if unknown or not items:
        raise InputError(f"--format: unknown format(s) {', '.join(unknown) or '(none)'}; choose from xml,pdf,docx")
    return tuple(dict.fromkeys(items))


D = TypeVar("D", Document, SessionProtocol)
D_in = TypeVar("D_in", contravariant=True)


class RenderXml(Protocol[D_in]):
    """The XML of a document in memory."""

    def __call__(self, data: D_in, /) -> bytes: ...


class RenderPdf(Protocol[D_in]):
    """The PDF of a document in memory, its XML attached."""

    def __call__(self, data: D_in, /, *, xml: bytes | None = ..., paper: bool = ...) -> bytes: ...


class RenderDocx(Protocol[D_in]):
    def __call__(self, data: D_in, /, *, paper: bool = ...) -> bytes: ...


@dataclass(frozen=True)
class InMemory(Generic[D]):
    """Renderers that return each format's bytes (a form, the session protocol)."""

    xml: RenderXml[D]
    pdf: RenderPdf[D]
    docx: RenderDocx[D]


class WritePdf(Protocol):
    """A journal's PDF written to a file, its XML file attached; ``progress(done, total)``."""

    def __call__(
        self,
        data: Journal,
        out: Path,
        /,
        *,
        xml_path: Path | None = ...,
        workers: int | None = ...,
        progress: Callable[[int, int], None] | None = ...,
    ) -> None: ...


@dataclass(frozen=True)
class ToFiles:
    """Renderers that write each format to its file while the rows stream (a journal), so the
    document never sits in memory."""

    xml: Callable[[Journal, Path], None]
    pdf: WritePdf
    docx: Callable[[Journal, Path], None]


# The PDF generators are imported on first use: WeasyPrint (generators.pdf) and Typst
# (generators.typst_form, generators.journal_pdf) never load in a process that imports this
# module without laying out a PDF (the HTTP service's, for select_forms and file_entry).


def _weasyprint_pdf(data: Document | SessionProtocol, /, *, xml: bytes | None = None, paper: bool = True) -> bytes:
    from generators import pdf as pdf_gen

    return pdf_gen.render(data, xml=xml, paper=paper)


def _typst_pdf(data: Document, /, *, xml: bytes | None = None, paper: bool = True) -> bytes:
    from generators import typst_form

    return typst_form.render(data, xml=xml, paper=paper)


def _journal_pdf(data: Journal, out: Path, /, **options: Any) -> None:
    from generators import journal_pdf

    journal_pdf.write(data, out, **options)


#: The renderers of each kind of document.
FORM_RENDERERS = InMemory[Document](xml_gen.render, _weasyprint_pdf, docx_gen.render)
PROTOCOL_RENDERERS = InMemory[SessionProtocol](xml_gen.render_protocol, _weasyprint_pdf, docx_gen.render_protocol)
JOURNAL_RENDERERS = ToFiles(xml_gen.write_journal, _journal_pdf, journal_docx.write)


@dataclass(frozen=True)
class Files:
    """Where a document rendered to files goes: ``folder/<id>.<ext>`` (and its signatures);
    ``scratch`` holds the XML when it is not asked for (the PDF attaches it)."""

    folder: Path
    scratch: Path
    workers: int | None = None
    #: progress(done, total) of the PDF's chunks.
    progress: Callable[[int, int], None] | None = None


def render_document(
    spec: DocumentSpec,
    data: DocumentData,
    formats: Sequence[str] = FORMATS,
    *,
    paper: bool = True,
    signer: FormSigner | None = None,
    files: Files | None = None,
    engine: str | None = None,
) -> list[RenderedDocument]:
    """The one render loop of every document, form, journal or protocol (the renderers chosen by
    the type of ``data``, ``spec.data(...)``): the XML first (signed before it is embedded in the
    PDF), then each asked format in order, signed when a signer is given (a DOCX gets its
    detached .p7s). A journal's renderers write to ``files`` row by row: its documents are then
    the files in ``files.folder`` (their ``content`` is not held).
    A generator's failure needs no translation: generators raise msedocs errors (a schema
    violation a ``SchemaError``, any other failure a ``TemplateError``). ``engine``: a form's PDF
    engine (:func:`parse_engine`)."""
    if isinstance(data, Journal):
        if files is None:
            raise TypeError(f"{spec.id}: a {spec.kind} is rendered to files; give files=Files(...)")
        return _render_files(spec, data, formats, JOURNAL_RENDERERS, files, signer)
    if isinstance(data, SessionProtocol):
        return _render_in_memory(spec.id, data, formats, PROTOCOL_RENDERERS, paper, signer)
    return _render_in_memory(spec.id, data, formats, _form_renderers(spec, parse_engine(engine)), paper, signer)


def _render_in_memory(
    form_id: str, data: D, formats: Sequence[str], renderers: InMemory[D], paper: bool, signer: FormSigner | None
) -> list[RenderedDocument]:
    xml = renderers.xml(data) if ("xml" in formats or "pdf" in formats) else None
    if signer is not None and xml is not None:
        xml = signer.xml(xml)
    out: list[RenderedDocument] = []
    for fmt in formats:
        if fmt == "xml":
            assert xml is not None
            content = xml
        elif fmt == "pdf":
            content = renderers.pdf(data, xml=xml, paper=paper)
        else:
            content = renderers.docx(data, paper=paper)
        out.extend(sign_rendered(signer, form_id, fmt, content))
    return out


def _form_renderers(spec: DocumentSpec, engine: str = "weasyprint") -> InMemory[Document]:
    """The form's renderers, its PDF laid out by ``engine``."""
    renderers = _published_renderers(spec)
    return replace(renderers, pdf=_typst_pdf) if engine == "typst" else renderers


def _published_renderers(spec: DocumentSpec) -> InMemory[Document]:
    """A form registered without its generated files in ``xsd/`` and ``templates/`` (one kept
    outside the package, see ``msedocs.forms.load_folder``) is rendered with its XSD and DOCX
    template built from its declaration; a published form with the committed ones."""
    if xml_gen.has_schema(spec.id) and docx_gen.has_template(spec.id):
        return FORM_RENDERERS
    # a form's spec is a FormDecl; DocumentSpec, the registry's protocol, does not declare items
    xsd, template = spec.xsd(), docx_template.build(spec)  # type: ignore[arg-type]

    def xml(data: Document) -> bytes:
        return xml_gen.render(data, xsd=xsd)

    def docx(data: Document, *, paper: bool = True) -> bytes:
        return docx_gen.render(data, paper=paper, template=template)

    return replace(FORM_RENDERERS, xml=xml, docx=docx)


def _render_files(
    spec: DocumentSpec,
    data: Journal,
    formats: Sequence[str],
    renderers: ToFiles,
    files: Files,
    signer: FormSigner | None,
) -> list[RenderedDocument]:
    xml_path = (files.folder if "xml" in formats else files.scratch) / f"{spec.id}.xml"
    renderers.xml(data, xml_path)
    if signer is not None:  # signed before it is embedded in the PDF
        xml_path.write_bytes(signer.xml(xml_path.read_bytes()))
    out: list[RenderedDocument] = []
    for fmt in formats:
        path = files.folder / f"{spec.id}.{fmt}"
        if fmt == "pdf":
            renderers.pdf(data, path, xml_path=xml_path, workers=files.workers, progress=files.progress)
        elif fmt == "docx":
            renderers.docx(data, path)
        if signer is None:
            out.append(RenderedDocument.of(spec.id, fmt, b""))
            continue
        for doc in sign_rendered(signer, spec.id, fmt, path.read_bytes()):  # a signed journal is signed in memory
            (files.folder / doc.filename).write_bytes(doc.content)
            out.append(replace(doc, content=b""))
    return out


def render_form(
    case: Case,
    spec: FormSpec,
    formats: Sequence[str] = FORMATS,
    *,
    paper: bool = True,
    profile: SigningProfile | None = None,
    engine: str | None = None,
) -> list[RenderedDocument]:
    """Every requested format of one form, from one filled-in document; signed when a profile is
    given (the XML is signed before it is embedded in the PDF; a DOCX gets a detached .p7s);
    the PDF laid out by ``engine`` (:func:`parse_engine`)."""
    data = spec.data(case)
    signer = FormSigner.for_form(profile, spec, case) if profile is not None else None
    return render_document(spec, data, formats, paper=paper, signer=signer, engine=engine)


def choose_variant(variant: str, electronic: bool, sign: bool) -> str:
    """``render``'s variant: auto, paper or electronic, checked against --electronic and --sign."""
    if variant not in ("auto", "paper", "electronic"):
        raise InputError(f"--variant: must be auto, paper or electronic (got a value of {len(variant)} characters)")
    if electronic:
        if variant == "paper":
            raise InputError("--electronic and --variant paper contradict each other; give one of them")
        variant = "electronic"
    if sign and variant == "paper":
        raise InputError("--variant paper cannot be signed: a signed document is the electronic variant (the "
                         "paper one is signed by hand and sealed); drop --sign or --variant paper")  # fmt: skip
    return variant


def render(
    case: Case,
    form_id: str,
    fmt: str,
    *,
    paper: bool = True,
    profile: SigningProfile | None = None,
    engine: str | None = None,
) -> RenderedDocument:
    """One document of one form (signed when a profile is given; a PDF laid out by ``engine``,
    see :func:`parse_engine`). Raises if the form does not apply."""
    (fmt,) = parse_formats(fmt)
    spec = get_form(form_id)
    if not spec.applies_to(case):
        raise FormNotApplicableError(f"{form_id}: this form does not apply to case {case.case_id}")
    return render_form(case, spec, (fmt,), paper=paper, profile=profile, engine=engine)[0]


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
    engine: str | None = None,
) -> list[RenderedDocument]:
    """Every requested format of every requested (or applicable) form of one case; with
    ``variant_by_case``, a form whose case asks for a variant (the extract: its delivery
    channel) is rendered in that variant, the others as ``paper`` says; PDFs laid out by
    ``engine`` (:func:`parse_engine`)."""
    formats = parse_formats(formats)
    engine = parse_engine(engine)
    docs: list[RenderedDocument] = []
    for spec in select_forms(case, forms):
        docs.extend(render_form(case, spec, formats, paper=paper_variant(spec, case, paper, variant_by_case),
                                profile=profile, engine=engine))  # fmt: skip
    return docs


def paper_variant(spec: FormSpec, case: Case, paper: bool, by_case: bool = True) -> bool:
    """Paper (True) or electronic: the case's own choice for the form when ``by_case`` and the
    form has one (``FormSpec.paper_for``), else ``paper``."""
    chosen = spec.paper_for(case) if by_case and spec.paper_for is not None else None
    return paper if chosen is None else chosen


def manifest(
    case: Case | str, docs: Sequence[RenderedDocument], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A package's manifest.json: the case (or its case_id), its forms, each file's entry."""
    return {
        "case_id": case if isinstance(case, str) else case.case_id,
        "forms": list(dict.fromkeys(d.form_id for d in docs)),
        "files": [{**file_entry(d), **((extra or {}).get(d.filename, {}))} for d in docs],
    }


def write_package(
    out_dir: str | Path,
    docs: Sequence[RenderedDocument],
    case: Case | str,
    extra_files: dict[str, bytes] | None = None,
    manifest_extra: dict[str, Any] | None = None,
    *,
    staging: bool = True,
) -> Path:
    """Write documents and manifest.json into ``out_dir`` all at once, or not at all; with
    ``staging`` False straight into ``out_dir``, a new folder inside a staging folder that is
    itself moved in whole or dropped (a batch's)."""
    files: dict[str, bytes] = {d.filename: d.content for d in docs}
    files.update(extra_files or {})
    return write_files(out_dir, files, manifest(case, docs, manifest_extra), staging=staging)


def write_files(
    out_dir: str | Path, files: dict[str, bytes], manifest_body: dict[str, Any], *, staging: bool = True
) -> Path:
    """Files plus manifest.json, staged beside ``out_dir`` and moved in only when all are written
    (``staging`` False: written into ``out_dir``, which must not exist yet: see
    :func:`write_package`; a new file or folder costs up to a millisecond of CPU on some
    file systems, and a batch writes thousands)."""
    with staged(out_dir) if staging else _new_folder(Path(out_dir)) as folder:
        for name, content in files.items():
            (folder / name).write_bytes(content)
        write_manifest(folder, manifest_body)
    return Path(out_dir) / "manifest.json"


@contextmanager
def _new_folder(path: Path) -> Iterator[Path]:
    with output_errors(path, "output folder"):
        path.mkdir(parents=True)
        yield path


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
    """One case's package from its JSON (bench/bench_pipeline.py drives it in its own pool)."""
    raw, formats, forms, paper, profile = payload
    return render_package(Case.model_validate_json(raw), formats, forms, paper=paper, profile=profile)


def _warm_up(engine: str, formats: tuple[str, ...]) -> None:
    """Load, once per worker process, what its PDFs are laid out with: the Jinja environment,
    fonts and stylesheet of WeasyPrint, or the Typst compiler with its fonts (not both: a Typst
    worker never imports WeasyPrint)."""
    if "pdf" not in formats:
        return
    if engine == "typst":
        from generators import typst_form

        typst_form.warm_up()
        return
    from generators import pdf as pdf_gen

    pdf_gen.environment()
    pdf_gen._style()


#: A batch worker process is replaced after this many cases, by engine, so that what a long run
#: leaves behind in a process (layout caches, fragmented heaps) stays bounded: memory is flat
#: over any number of cases. Measured 7 December 2026 (signed B-T, one process): with Typst a
#: worker's resident memory levels off, 216 MB after the first case, 229 MB from the 100th to
#: the 400th; with WeasyPrint it keeps growing, 163 MB after the first, 202 after 100, 221 after
#: 150 (about 0.4 MB a case). A new worker costs its start-up (imports, keys, fonts, each
#: template's first document), some 4 CPU s, which 1,000 Typst cases spread to under 1 %.
TASKS_PER_WORKER = {"typst": 1000, "weasyprint": 100}
#: Cases handed out ahead of the one the batch yields next, per worker: results are yielded in
#: input order, so one slow case holds back at most this many finished packages in memory.
AHEAD_PER_WORKER = 4
@dataclass(frozen=True)
class _BatchJob:
    """What every case of a batch is rendered with: sent once to each worker process."""

    formats: tuple[str, ...]
    forms: tuple[str, ...] | None
    paper: bool
    profile: SigningProfile | None
    variant_by_case: bool
    engine: str
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    """The caller's environment when the batch began (key passwords, settings): a worker forked
    from a fork server started earlier takes it, as a spawned one inherits it."""
    keys: tuple[Handoff, ...] = field(default=(), repr=False)
    """The batch's PKCS#12 keys as the caller opened and checked them (:func:`_opened_keys`),
    which each worker takes without checking them again."""


def _batch_worker(conn: Connection, job: _BatchJob) -> None:
    """A batch worker process: takes the caller's environment, warms up once (templates, fonts,
    stylesheet; the signing keys at its first signature), then renders the cases it is sent,
    ``(index, case JSON)`` in, ``(index, True, documents)`` or ``(index, False, error)`` out,
    until it is sent None."""
    if os.environ != job.environ:
        os.environ.clear()
        os.environ.update(job.environ)
    if job.keys:
        from signing.keys import adopt

        adopt(job.keys)
    _warm_up(job.engine, job.formats)
    while True:
        task = conn.recv()
        if task is None:
            break
        index, raw = task
        try:
            case = Case.model_validate_json(raw)
            docs = render_package(case, job.formats, job.forms, paper=job.paper, profile=job.profile,
                                  variant_by_case=job.variant_by_case, engine=job.engine)  # fmt: skip
            conn.send((index, True, docs))
        except Exception as exc:  # sent to the parent, which raises it
            try:
                conn.send((index, False, exc))
            except Exception:  # an error that cannot be pickled: its text
                conn.send((index, False, TemplateError(f"{type(exc).__name__}: {exc}")))
    conn.close()


class _Worker:
    """A batch worker (:func:`worker_context`) and the parent's end of its pipe; counts the cases
    it was given."""

    def __init__(self, job: _BatchJob) -> None:
        ctx = worker_context(job.engine)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_batch_worker, args=(child, job), daemon=True)
        self.process.start()
        child.close()
        self.given = 0
        self.busy = False

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _render_pooled(
    cases: Iterable[Case], job: _BatchJob, workers: int, tasks_per_worker: int
) -> Iterator[tuple[Case, list[RenderedDocument]]]:
    """The cases rendered by ``workers`` spawned processes, each replaced after
    ``tasks_per_worker`` cases; yielded in input order, at most AHEAD_PER_WORKER cases a worker
    ahead of the one yielded next. Any failure stops every worker and is raised."""
    pending = iter(enumerate(cases))
    held: dict[int, Case] = {}  # handed out, not yet yielded
    done: dict[int, list[RenderedDocument]] = {}
    pool = [_Worker(job) for _ in range(workers)]
    following, exhausted = 0, False
    try:
        while True:
            for i, w in enumerate(pool):  # hand out work to idle workers, up to the window
                if w.busy or exhausted or len(held) >= workers * AHEAD_PER_WORKER:
                    continue
                nxt = next(pending, None)
                if nxt is None:
                    exhausted = True
                    break
                index, case = nxt
                if w.given >= tasks_per_worker:  # recycled: a fresh process for the next cases
                    w.stop()
                    w = pool[i] = _Worker(job)
                held[index] = case
                w.conn.send((index, case.model_dump_json().encode()))
                w.given, w.busy = w.given + 1, True
            while following in done:
                yield held.pop(following), done.pop(following)
                following += 1
            if exhausted and not held:
                return
            busy = {w.conn: w for w in pool if w.busy}
            if not busy:  # the window is full of finished cases waiting for an earlier one: cannot be
                continue
            for conn in wait(list(busy)):
                w = busy[conn]  # type: ignore[index]
                try:
                    index, ok, result = w.conn.recv()
                except EOFError:
                    raise TemplateError(f"a batch worker process died (exit code {w.process.exitcode})") from None
                w.busy = False
                if not ok:
                    raise result
                done[index] = result
    finally:
        for w in pool:
            w.stop()


def render_batch(
    cases: Iterable[Case],
    formats: Sequence[str] = FORMATS,
    forms: Sequence[str] | None = None,
    *,
    workers: int = 1,
    paper: bool = True,
    profile: SigningProfile | None = None,
    variant_by_case: bool = False,
    engine: str | None = None,
    tasks_per_worker: int | None = None,
) -> Generator[tuple[Case, list[RenderedDocument]], None, None]:
    """Render (and sign) many cases, in ``workers`` spawned processes when more than one
    (each warmed up once, replaced after ``tasks_per_worker`` cases, by default
    :data:`TASKS_PER_WORKER` of the engine); results in input order,
    the cases read as they are needed (an iterator of any length keeps memory flat)."""
    formats, engine = parse_formats(formats), parse_engine(engine)
    if workers <= 1:
        for case in cases:
            yield case, render_package(case, formats, forms, paper=paper, profile=profile,
                                       variant_by_case=variant_by_case, engine=engine)  # fmt: skip
        return
    job = _BatchJob(tuple(formats), tuple(forms) if forms else None, paper, profile, variant_by_case, engine,
                    keys=_opened_keys(profile))  # fmt: skip
    yield from _render_pooled(cases, job, workers, max(1, tasks_per_worker or TASKS_PER_WORKER[engine]))


def _opened_keys(profile: SigningProfile | None) -> tuple[Handoff, ...]:
    """The profile's PKCS#12 keys (its signers', the test PKI's timestamp authority's) opened
    and checked once, here, while the workers start, and handed to each of them
    (:func:`signing.keys.handoff`): a worker does not check each key again (40 ms a key).
    One that will not open is left for the worker that needs it to report."""
    if profile is None:
        return ()
    from signing.keys import handoff
    from signing.pki import load_pki, pki_key
    from signing.profile import Level

    sources: list[Path] = []
    for role, ref in profile.signers.items():
        if ref.pkcs12 is not None:
            sources.append(ref.pkcs12)
            with suppress(Exception):
                profile.signer(role)
    if profile.tsa_url is None and profile.pki_dir is not None and profile.level >= Level.B_T:
        sources.append(profile.pki_dir)
        with suppress(Exception):
            pki_key(load_pki(profile.pki_dir), "tsa")  # as signing.services' in-process TSA opens it
    return handoff(sources)


# -- ``msedocs render``: cases in, packages in a folder out (and queued) -----------------------


@dataclass(frozen=True)
class RenderRun:
    """What :func:`render_cases` put in place: the files written (relative to its ``out``) and
    the outbox items it queued, as (case_id, item id)."""

    written: list[Path]
    queued: list[tuple[str, int]]


def load_case_file(path: Path, warn: Callable[[str], None]) -> Case:
    """A case file read by the model, each warning it gives passed to ``warn``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaseWarning)
        case = load_case(path)
    for w in caught:
        warn(str(w.message))
    return case


def signing_profile(options: SigningOptions | None, warn: Callable[[str], None]) -> SigningProfile | None:
    """The signing profile the options ask for (None: unsigned), warning of a TEST PKI."""
    if options is None:
        return None
    from .sign import load

    profile = load(options)
    if profile.is_test:
        warn("signing with the TEST PKI: these signatures are not valid for real use")
    return profile


def register_signer(
    spec_id: str, options: SigningOptions | None, warn: Callable[[str], None]
) -> FormSigner | None:
    """The signer of a register (journal, protocol) when the options sign: its declared signers."""
    from .forms import DOCUMENTS
    from .sign import register_signer as signer_of

    profile = signing_profile(options, warn)
    spec = DOCUMENTS.get(spec_id)
    return signer_of(spec, profile) if profile is not None and spec is not None else None


def render_cases(
    cases: Path,
    out: Path,
    formats: Sequence[str],
    selected: Sequence[str] | None,
    variant: str,
    signing: SigningOptions | None,
    warn: Callable[[str], None],
    *,
    queue: bool = False,
    db: str | None = None,
    workers: int | None = None,
    engine: str | None = None,
) -> RenderRun:
    """``render`` after its options are parsed: ``cases`` (a case file, a folder of them or a
    .jsonl file) into ``out``. With ``queue``, the outbox at ``db`` is opened first (one that
    cannot be opened fails the run before anything is rendered). A first pass over the cases
    (each valid, each case_id once, each queueable and not yet queued), then every case
    rendered into a staging folder; with an outbox, every case queued in one transaction; only
    then are the files moved into ``out``. Whatever fails, nothing is left behind and nothing is
    queued. ``workers`` None: :func:`default_workers` for the batch's number of cases."""
    with ExitStack() as stack:
        outbox: Outbox | None = None
        if queue:
            from .delivery import open_outbox

            outbox = stack.enter_context(closing(open_outbox(db)))
        batch = is_batch(cases)
        check = (lambda case: _queue_problems(case, outbox, formats, selected)) if outbox is not None else None
        count = 1
        if batch and pooled(cases, workers):  # the workers' imports beside the first pass
            start_worker_server(parse_engine(engine))
        if batch:  # a first pass: every case valid, each case_id once; nothing held in memory
            count = sum(1 for _ in _load_batch(cases, check))
            workers = workers or default_workers(count)
        else:
            single = load_case_file(cases, warn)
            if check is not None and (problems := check(single)):
                raise InputError(f"{cases}: the case cannot be queued; nothing rendered", problems)
        profile = signing_profile(signing, warn)
        sign = profile is not None
        paper = variant == "paper" or (variant == "auto" and not sign)
        by_case = variant == "auto" and not sign  # a signed document is electronic, whatever the case asks
        written: list[Path] = []  # relative to out, printed once everything is in place
        items: list[tuple[str, int]] = []
        # case by case into a staging folder moved into ``out`` only when every case rendered (and was queued)
        with staged(out) as staging, tempfile.TemporaryDirectory(prefix="msedocs-paper-") as printed:
            rendered = render_batch(_load_batch(cases) if batch else [single], formats, selected,
                                    workers=(workers or 1) if batch else 1,
                                    paper=paper, profile=profile,
                                    variant_by_case=by_case, engine=engine)  # fmt: skip
            with closing(rendered):  # a failure here stops the batch's worker processes at once
                for case, docs in rendered:
                    folder = Path(case.case_id if batch else "")
                    write_package(staging / folder, docs, case, staging=not batch)
                    written += [folder / d.filename for d in docs]
                    if outbox is not None:
                        extra = render_package(case, ("pdf",), selected, paper=True, engine=engine)
                        write_package(Path(printed) / case.case_id, extra, case)
            if outbox is not None:  # all cases in one transaction, read back one at a time, before any file is moved
                from .queueing import queue_cases

                case_ids: list[str] = []

                def packages() -> Iterator[tuple[Case, list[RenderedDocument], list[RenderedDocument]]]:
                    for case in _load_batch(cases) if batch else [single]:
                        case_ids.append(case.case_id)
                        signed = _read_package(staging / (case.case_id if batch else ""))
                        yield case, signed, _read_package(Path(printed) / case.case_id)

                items = list(zip(case_ids, queue_cases(outbox, packages()), strict=True))
        return RenderRun(written, items)


def _load_batch(path: Path, check: Callable[[Case], list[Problem]] | None = None) -> Iterator[Case]:
    """The valid cases of a batch, one at a time; at the end an InputError naming every problem
    found (each case's file and line; a repeated case_id with both places), if any."""
    from .model import BatchReader

    reader = BatchReader(path, check)
    for loaded in reader:
        assert loaded.case is not None
        yield loaded.case
    reader.raise_for_problems("invalid case data; nothing rendered")


def _queue_problems(
    case: Case, outbox: Outbox, formats: Sequence[str], selected: Sequence[str] | None
) -> list[Problem]:
    """What keeps a valid case out of the outbox, found before anything is rendered: no decision,
    no delivery, or a document that the outbox already holds for the case (each is issued once)."""
    from .queueing import already_queued

    problems = []
    try:
        specs = select_forms(case, selected)
    except FormNotApplicableError as exc:
        return [Problem("(forms)", exc.message)]
    problems += already_queued(outbox, case, (f"{s.id}.{f}" for s in specs for f in formats if f in ("pdf", "xml")))
    if case.decision is None:
        problems.append(
            Problem("decision", "is required to queue the documents: its date starts the delivery deadline")
        )
    if case.delivery is None:
        problems.append(Problem("delivery", "is required to queue the documents (channel portal or paper)"))
    return problems


def _read_package(folder: Path) -> list[RenderedDocument]:
    """A written package read back from its manifest."""
    body = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [
        RenderedDocument(
            e["form_id"], e["format"], (folder / e["file"]).read_bytes(), e["media_type"], e["file"], e.get("signature")
        )
        for e in body["files"]
    ]
