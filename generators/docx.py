"""DOCX renderer: docxtpl templates ``templates/<form id>/form.docx``, autoescaping on.

The templates hold the layout (paragraphs in the form's order, tables with their
header rows, signature lines); this module turns each item of the filled-in form
(:class:`msedocs.contract.Document`) into a docxtpl RichText: the item's number and wording,
its value on an underlined blank, and for "нужное подчеркнуть" items every option with the
chosen ones underlined.
The templates are built by ``scripts/build_docx_templates.py`` from the form registry.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

from docxtpl import DocxTemplate, RichText
from jinja2 import Environment, Template
from lxml import etree

from msedocs.contract import Document, Item, SessionProtocol

from .common import TEMPLATES_DIR, GeneratorError, esign_statement

FONT = "Liberation Serif"
SIZE = 22  # half-points: 11 pt
BLANK = "\u00a0" * 24


def _add(rt: RichText, text: str, **fmt: Any) -> None:
    if text:
        rt.add(text, font=FONT, size=SIZE, **fmt)


def _value(rt: RichText, text: str) -> None:
    _add(rt, text if text else BLANK, underline=True)


def _options(rt: RichText, item: Item) -> None:
    """The options as the statute prints them (grouped under headings where it groups them):
    the item's runs, one run each, the chosen ones underlined."""
    for run in item.runs:
        _add(rt, run.text, underline=run.chosen)
    if item.suffix:
        _add(rt, " " + item.suffix)
    if item.other:
        _add(rt, " ")
        _value(rt, item.other)


def item_text(item: Item) -> RichText:
    """One item as the paper form prints it."""
    rt = RichText()
    if item.no:
        _add(rt, f"{item.no}. ")
    _add(rt, item.label)
    if item.footnote:
        _add(rt, str(item.footnote), superscript=True)
    _add(rt, item.label_end)
    kind = item.kind
    if kind == "choice" or (kind == "records" and item.options):
        _add(rt, (": " if item.colon else " ") if item.label else "")
        _options(rt, item)
    elif item.table is not None and item.table.inline:
        _add(rt, " ")  # the statute's «(указать) ___»: the blank straight after the label
        rows = [" — ".join(c.display for c in row.cells if c.display) for row in item.table.rows]
        _value(rt, "; ".join(rows))
    elif kind in ("records", "group") and not item.inline:
        _add(rt, ":" if item.colon else "")
    elif kind == "group":
        for i, child in enumerate(item.children):
            sep = (" " if item.label or item.no else "") if i == 0 else item.sep
            if child.kind == "choice":
                _add(rt, sep + (child.label + ": " if child.label else ""))
                _options(rt, child)
            else:
                _add(rt, sep + (child.label + " " if child.label else ""))
                _value(rt, child.display)
                _add(rt, " " + child.suffix if child.suffix else "")
            _add(rt, child.end)
        _add(rt, " " + item.suffix if item.suffix else "")
        for child in item.children:  # the statute's caption under a blank, on the line below
            if child.caption:
                rt.add("\n" + child.caption, font=FONT, size=16)
    elif item.fixed:
        _add(rt, ": " + item.display)
    else:
        _add(rt, " ")
        _value(rt, item.display)
        _add(rt, " " + item.suffix if item.suffix else "")
    _add(rt, item.end)
    return rt


def caption_value(item: Item) -> RichText:
    rt = RichText()
    _value(rt, item.display)
    return rt


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """A row of the template's signature table: the signer's title, the signature's line and the
    name's, each with its caption below."""

    title: str
    line: RichText
    caption_line: str
    name: RichText
    caption_name: str


def signature_rows(data: Document, paper: bool) -> list[SignatureRow]:
    """Rows of the signature table, as the PDF prints them: title, line, name with their
    captions on paper (the name alone when electronic), then «М.П.» under a sealing signer."""
    rows: list[SignatureRow] = []
    for s in data.signatures:
        for i, name in enumerate(s.names):
            rt = RichText()
            _value(rt, name)
            line = RichText()
            _add(line, "_______________" if paper else "")
            signed = ("(подпись)" if paper and s.captions else "", line)
            named = ("(инициалы, фамилия)" if s.captions else "", rt)
            if s.name_first:  # «(инициалы, фамилия) (подпись)», as appendix 11 prints them
                signed, named = named, signed
            rows.append(SignatureRow(s.title if i == 0 else "", signed[1], signed[0], named[1], named[0]))
        if s.seal and paper:
            mark = RichText()
            _add(mark, "М.П.")
            if s.seal_footnote:
                _add(mark, str(s.seal_footnote), superscript=True)
            rows.append(SignatureRow("", mark, "", RichText(), ""))
    return rows


def signatures_text(data: Document, paper: bool) -> RichText:
    """What follows the signature table: the e-signature statement of an electronic rendering."""
    rt = RichText()
    if not paper and data.signatures:
        _add(rt, esign_statement(data))
    return rt


def rich_texts(data: Document, paper: bool, prefix: str = "") -> dict[str, RichText]:
    """RichText per item, keyed as the template refers to them: h<i>, i<i>, i<i>_<j>..."""
    out: dict[str, RichText] = {}

    def walk(items: tuple[Item, ...], key: str) -> None:
        for i, item in enumerate(items):
            k = f"{key}_{i}" if key else f"i{i}"
            out[prefix + k] = item_text(item)
            if item.kind == "group" and not item.inline:
                walk(item.children, k)

    for i, h in enumerate(data.header):
        out[f"{prefix}h{i}"] = caption_value(h) if h.label[:1].islower() else item_text(h)
    walk(data.items, "")
    out[prefix + "signatures"] = signatures_text(data, paper)
    return out


#: Parts' sources kept compiled and cleaned up per process (a few per form and template in use).
_CACHED_SOURCES = 512


class _CachingEnvironment(Environment):
    """docxtpl's Jinja environment (autoescaping on), but compiling each part's source once per
    process: docxtpl hands it the same patched XML for every document of a form, and compiling
    it was a third of a DOCX's time. A compiled template is immutable and reentrant. The
    compiled code is kept beside it (:func:`prepared_state`), so that a later process can adopt
    it instead of compiling again."""

    def __init__(self) -> None:
        super().__init__(autoescape=True)
        self._compiled: dict[str, tuple[Template, CodeType]] = {}
        self._lock = threading.Lock()

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Template:  # noqa: A002
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        known = self._compiled.get(source)
        if known is None:
            known = self.adopt(source, self.compile(source))
        return known[0]

    def adopt(self, source: str, code: CodeType) -> tuple[Template, CodeType]:
        """``source`` compiled to ``code`` (by :meth:`compile`, here or in an earlier process of
        the same Jinja and Python), as ``from_string`` makes it."""
        compiled = (self.template_class.from_code(self, code, self.make_globals(None), None), code)
        with self._lock:
            if len(self._compiled) >= _CACHED_SOURCES:
                self._compiled.clear()
            self._compiled[source] = compiled
        return compiled

    def compiled(self) -> list[tuple[str, CodeType]]:
        with self._lock:
            return [(source, code) for source, (_, code) in self._compiled.items()]


@functools.lru_cache(maxsize=_CACHED_SOURCES)
def _patched(src_xml: str) -> str:
    """docxtpl's clean-up of a part's source (pure regular expressions; it reads no state)."""
    return DocxTemplate.patch_xml(None, src_xml)  # type: ignore[no-any-return]


#: Text of a ``<w:t>`` element holding a character docxtpl's ``resolve_listing`` turns into
#: markup (tab, bell: a new paragraph, line feed: a line break, form feed: a page break). Text
#: holds no ``<`` (escaped), so the match stays inside one element.
_LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
#: A paragraph as docxtpl's ``resolve_listing`` finds them.
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL)
_WP_DOCPR = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"


class _Template(DocxTemplate):  # type: ignore[misc]  # docxtpl is untyped
    """A docxtpl template whose XML clean-up (``patch_xml``) runs once per distinct source and
    process, and whose listing pass (``resolve_listing``: three nested regular-expression
    passes over every paragraph, run and text of the part, a third of a DOCX's time) is skipped
    when no text holds a character it would change: it would give back the same string."""

    def patch_xml(self, src_xml: str) -> str:
        return _patched(src_xml)

    def resolve_listing(self, xml: str) -> str:
        if _LISTING_TEXT.search(xml) is None:
            return xml
        # docxtpl rewrites each paragraph on its own (its outer pattern, _PARAGRAPH): only those
        # whose text holds such a character change, and only those are handed to it
        return _PARAGRAPH.sub(self._resolve_paragraph, xml)

    def _resolve_paragraph(self, m: re.Match[str]) -> str:
        paragraph = m.group(0)
        if _LISTING_TEXT.search(paragraph) is None:
            return paragraph
        return super().resolve_listing(paragraph)  # type: ignore[no-any-return]

    def fix_docpr_ids(self, tree: Any) -> None:
        if tree.find(".//" + _WP_DOCPR) is not None:  # drawings only: the body has none
            super().fix_docpr_ids(tree)


_ENV = _CachingEnvironment()
_template_bytes: dict[Path, bytes] = {}


def _template_file(path: Path) -> bytes:
    """A committed template's bytes, read once per process (templates do not change while it runs)."""
    data = _template_bytes.get(path)
    if data is None:
        data = _template_bytes[path] = path.read_bytes()
    return data


def _render_template(template: bytes, context: dict[str, Any]) -> bytes:
    """``template`` (a docxtpl DOCX) rendered with ``context``, autoescaped, as DOCX bytes.

    The first document of a template goes through docxtpl whole (python-docx opens the package,
    docxtpl renders every part, python-docx writes them all); when only the body holds template
    tags, the parts it renders are the same for every document, and the next ones render the
    body alone (:class:`_Prepared`)."""
    key = hashlib.sha256(template).digest()
    with _prepared_lock:
        prepared = _prepared.get(key)
    if isinstance(prepared, _Prepared):
        return prepared.render(context)
    doc = _Template(io.BytesIO(template))
    doc.render(context, jinja_env=_ENV, autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    content = out.getvalue()
    ready = _Prepared.of(template, content)
    with _prepared_lock:
        if len(_prepared) >= 64:
            _prepared.clear()
        _prepared[key] = ready if ready is not None else _WHOLE
    return content


BODY_PART = "word/document.xml"
_W_BODY = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}body"


@dataclass(frozen=True)
class _Prepared:
    """What every document of one template shares: the body's source as docxtpl prepares it for
    Jinja (its ``patch_xml`` clean-up done), the document part's root without its body, and
    every other part already written and compressed (a zip of them, as python-docx wrote them
    for the first document). A document is then its body rendered as docxtpl renders it (Jinja,
    its clean-up of the result, its table and drawing-id fixes), put into the root as docxtpl
    does (``map_tree``), and added to a copy of that zip: the same parts' contents as the whole
    path (tests/generators/test_outputs.py), without parsing, re-serialising and compressing
    some 800 KB of styles per document."""

    body_source: str
    shell: Any  # lxml element: the document part's root, its body replaced by an empty one
    body_index: int
    rest: bytes

    @classmethod
    def of(cls, template: bytes, first: bytes) -> _Prepared | None:
        """Prepared from the template and its first document, or None when a part besides the body
        holds a template tag (found as docxtpl finds them: after its clean-up, which joins a tag
        split across runs)."""
        from docx.oxml.parser import parse_xml

        with zipfile.ZipFile(io.BytesIO(template)) as source:
            names = source.namelist()
            if BODY_PART not in names:
                return None
            tpl = _Template(None)
            for name in names:
                if name != BODY_PART and name.endswith((".xml", ".rels")):
                    text = tpl.patch_xml(source.read(name).decode("utf-8", "replace"))
                    if any(tag in text for tag in ("{{", "{%", "{#")):
                        return None
            root: Any = parse_xml(source.read(BODY_PART))  # python-docx parses parts as it does
        bodies = [i for i, child in enumerate(root) if child.tag == _W_BODY]
        if len(bodies) != 1:
            return None
        (index,) = bodies
        body_source = _patched(etree.tostring(root[index], encoding="unicode", pretty_print=False))  # get_xml
        root.replace(root[index], etree.Element(_W_BODY))
        rest = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(first)) as done, zipfile.ZipFile(rest, "w", zipfile.ZIP_DEFLATED) as kept:
            for info in done.infolist():
                if info.filename != BODY_PART:
                    kept.writestr(info, done.read(info))
        return cls(body_source, root, index, rest.getvalue())

    def render(self, context: dict[str, Any]) -> bytes:
        tpl = _Template(None)  # docxtpl's per-render state, as render_init sets it
        tpl.pic_map, tpl.current_rendering_part, tpl.docx_ids_index = {}, None, 1000
        xml = tpl.render_xml_part(self.body_source, None, context, _ENV)
        tree = tpl.fix_tables(xml)
        tpl.fix_docpr_ids(tree)
        root = copy.deepcopy(self.shell)
        root.replace(root[self.body_index], tree)
        out = io.BytesIO(self.rest)
        out.seek(0, io.SEEK_END)
        with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as package:
            package.writestr(BODY_PART, etree.tostring(root, encoding="UTF-8", standalone=True))  # python-docx's
        return out.getvalue()

    def plain(self) -> tuple[str, bytes, int, bytes]:
        """As plain values (:func:`prepared_state`)."""
        return self.body_source, etree.tostring(self.shell), self.body_index, self.rest

    @classmethod
    def from_plain(cls, body_source: str, shell: bytes, body_index: int, rest: bytes) -> _Prepared:
        from docx.oxml.parser import parse_xml

        return cls(body_source, parse_xml(shell), body_index, rest)


class _Whole:
    """A template rendered by docxtpl whole every time (a part besides the body holds tags)."""

    def render(self, context: dict[str, Any]) -> bytes:
        raise AssertionError("not called")


_WHOLE = _Whole()
_prepared: dict[bytes, _Prepared | _Whole] = {}
_prepared_lock = threading.Lock()


def prepared_state() -> dict[str, list[tuple[Any, ...]]]:
    """What this process has prepared of its templates (:class:`_Prepared`, each under its
    template's SHA-256) and the Jinja code compiled for them, as plain values that ``marshal``
    writes, so that another process of the same libraries and Python adopts them
    (:func:`adopt_state`) instead of doing the work again (msedocs.zygote keeps them on disk)."""
    with _prepared_lock:
        templates = [(key, *p.plain()) for key, p in _prepared.items() if isinstance(p, _Prepared)]
    return {"templates": templates, "jinja": list(_ENV.compiled())}


def adopt_state(state: dict[str, list[tuple[Any, ...]]]) -> int:
    """Take what :func:`prepared_state` gave in another process; the number of templates."""
    templates = [(key, _Prepared.from_plain(*plain)) for key, *plain in state["templates"]]
    for source, code in state["jinja"]:
        _ENV.adopt(source, code)
    with _prepared_lock:
        _prepared.update(templates)
    return len(templates)


def has_template(form_id: str) -> bool:
    """Whether ``templates/<form id>/form.docx`` is there."""
    return (TEMPLATES_DIR / form_id / "form.docx").is_file()


def render(data: Document, *, paper: bool = True, template: bytes | None = None) -> bytes:
    """The form's DOCX from ``templates/<form id>/form.docx`` (or from ``template``, one built
    by :mod:`.docx_template` for a form whose template is not in ``templates/``)."""
    form_id = data.form_id
    path = TEMPLATES_DIR / form_id / "form.docx"
    if template is None and not path.is_file():
        raise GeneratorError(f"{form_id}: no DOCX template at {path}")
    rt = rich_texts(data, paper)
    sig = {"": signature_rows(data, paper)}
    slip = data.slip
    if slip is not None:
        rt.update(rich_texts(slip, paper, prefix="slip_"))
        sig["slip_"] = signature_rows(slip, paper)
    source = template if template is not None else _template_file(path)
    try:
        return _render_template(source, {"data": data, "rt": rt, "sig": sig, "paper": paper})
    except Exception as exc:  # docxtpl raises jinja2 and lxml errors alike
        raise GeneratorError(f"{form_id}: DOCX template failed: {exc}") from exc


def render_protocol(data: SessionProtocol, *, paper: bool = True) -> bytes:
    """The session protocol's DOCX from its docxtpl template."""
    path = TEMPLATES_DIR / data.form_id / "form.docx"
    doc = DocxTemplate(str(path))
    try:
        doc.render({"data": data, "paper": paper}, autoescape=True)
    except Exception as exc:
        raise GeneratorError(f"{data.form_id}: DOCX template failed: {exc}") from exc
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
