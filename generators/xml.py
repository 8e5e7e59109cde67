"""XML renderer: a filled-in form (:class:`msedocs.contract.Document`) to XML in the form's
namespace, checked against its XSD.

Every document is validated before it is returned; :func:`validate` is also what
``msedocs validate`` runs on integrators' files.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from msedocs.contract import Document, Heading, Item, Journal, SessionProtocol, Signature, Value
from msedocs.errors import InputError

from .common import XSD_DIR, GeneratorError, XmlSchemaError

COMMON_NS = "urn:msedocs:common:1"


def _text(value: Value) -> str:
    """A value as XML text: a list's texts joined by spaces."""
    if isinstance(value, tuple):
        return " ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _has_content(item: Item) -> bool:
    """Whether the item is written: an empty blank, choice, table or group is left out."""
    if item.kind == "group":
        return any(_has_content(c) for c in item.children)
    if item.kind == "choice":
        return bool(item.value) or bool(item.other)
    if item.table is not None:
        return bool(item.table.rows) or bool(item.table.total) or bool(item.other)
    return item.value not in (None, "", ())


def _add_item(parent: etree._Element, ns: str, item: Item) -> None:
    """The item as an element named by its key: a group's children, a choice's chosen options
    and «другое», a table's rows (a cell per filled column) and total, or a value's text."""
    if not _has_content(item):
        return
    el = etree.SubElement(parent, f"{{{ns}}}{item.key}")
    if item.kind == "group":
        for child in item.children:
            _add_item(el, ns, child)
    elif item.kind == "choice":
        values = item.value if isinstance(item.value, tuple) else ((item.value,) if item.value else ())
        for v in values:
            etree.SubElement(el, f"{{{ns}}}option").text = str(v)
        if item.other:
            etree.SubElement(el, f"{{{ns}}}other").text = item.other
    elif item.table is not None:
        for row in item.table.rows:
            row_el = etree.SubElement(el, f"{{{ns}}}row")
            for cell in row.cells:
                if cell.value not in (None, ""):
                    etree.SubElement(row_el, f"{{{ns}}}{cell.key}").text = _text(cell.value)
        if item.table.total:
            etree.SubElement(el, f"{{{ns}}}total").text = _text(item.table.total)
        if item.other:
            etree.SubElement(el, f"{{{ns}}}other").text = item.other
    else:
        el.text = _text(item.value)


def _add_signatures(parent: etree._Element, ns: str, signatures: tuple[Signature, ...]) -> None:
    sigs = etree.SubElement(parent, f"{{{ns}}}signatures")
    for s in signatures:
        sig = etree.SubElement(sigs, f"{{{COMMON_NS}}}signature", role=s.role, title=s.title)
        if s.seal:
            sig.set("seal", "true")
        for name in s.names:
            if name:
                etree.SubElement(sig, f"{{{COMMON_NS}}}name").text = name


def _root(heading: Heading) -> etree._Element:
    """The document's root element in its namespace, with its formId and version."""
    ns = heading.namespace
    root = etree.Element(f"{{{ns}}}{heading.xml_root}", nsmap={None: ns, "c": COMMON_NS})
    root.set("formId", heading.form_id)
    root.set("version", heading.version)
    return root


def build(data: Document) -> etree._Element:
    ns = data.heading.namespace
    root = _root(data.heading)
    root.set("caseId", data.case_id)
    if data.header:
        header = etree.SubElement(root, f"{{{ns}}}header")
        for h in data.header:
            _add_item(header, ns, h)
    for item in data.items:
        _add_item(root, ns, item)
    _add_signatures(root, ns, data.signatures)
    return root


def _checked(root: etree._Element, form_id: str, xsd: bytes | None = None) -> bytes:
    """The document's bytes, validated against ``xsd/<form id>.xsd`` (or the schema ``xsd``)."""
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = validate(content, form_id) if xsd is None else validate(content, form_id, xsd=xsd)
    if problems:
        raise XmlSchemaError.of(form_id, problems)
    return content


def render(data: Document, *, xsd: bytes | None = None) -> bytes:
    """The form's XML, validated against ``xsd/<form id>.xsd`` (or the schema ``xsd``, for a
    form whose schema is not published in ``xsd/``)."""
    return _checked(build(data), data.form_id, xsd)


def has_schema(form_id: str) -> bool:
    """Whether ``xsd/<form id>.xsd`` is published."""
    return (XSD_DIR / f"{form_id}.xsd").is_file()


@cache
def schema_of(content: bytes) -> etree.XMLSchema:
    """A schema given as bytes (generated, not published), read as if it were in ``xsd/``
    beside ``common.xsd`` and the XML Signature schema it imports."""
    return etree.XMLSchema(etree.fromstring(content, parser=_safe_parser(), base_url=str(XSD_DIR) + "/"))


@cache
def schema(form_id: str) -> etree.XMLSchema:
    path = XSD_DIR / f"{form_id}.xsd"
    if not path.is_file():
        raise GeneratorError(f"no schema for form {form_id!r} ({path})")
    return etree.XMLSchema(etree.parse(str(path), parser=_safe_parser()))


#: The largest form (or session protocol) document read: far above what the case model allows
#: (every list at its maximum length, every text at its maximum length), far below memory trouble.
MAX_FORM_BYTES = 16 << 20
#: The largest journal read: a journal is validated as a stream, so memory stays flat; the limit
#: bounds time (about 40 s a gigabyte).
MAX_JOURNAL_BYTES = 1 << 30
#: Documents up to this size are validated as a tree, every violation with its line and XPath;
#: larger ones as a stream, stopping at the first violation (reported without its position).
TREE_BYTES = 1 << 20
#: Validation stops after this many violations.
MAX_VIOLATIONS = 50

Problems = list[tuple[str, str, int | None]]


def _safe_parser() -> etree.XMLParser:
    """No DTDs, no entities, no network: integrators' files are untrusted."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
    )


class TooLarge(InputError):
    """The input holds more bytes than its limit (the user's to fix: exit code 2)."""


class _Limited:
    """A binary stream read up to ``limit`` bytes; one more raises :class:`TooLarge`."""

    def __init__(self, stream: BinaryIO, limit: int, head: bytes = b"") -> None:
        self.stream, self.limit, self.head, self.count = stream, limit, head, len(head)

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        data = self.stream.read(65536 if size is None or size < 0 else size)
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(f"more than {self.limit} bytes")
        return data


_DECLARED = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml\s[^>]{0,300}?encoding\s*=\s*[\"']([^\"'>]{0,64})[\"']")
_PROLOG_DOCTYPE = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?(?:[^?]|\?(?!>))*\?>|<!--(?:[^-]|-(?!-))*-->)*<!DOCTYPE")
DOCTYPE_REFUSED = "a DOCTYPE is not allowed (DTDs and entities are refused)"


def _prolog_problem(head: bytes) -> str | None:
    """A refusal found in the document's first bytes: an encoding other than UTF-8, a DOCTYPE."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        return "the document is UTF-16 or UTF-32: only UTF-8 is accepted"
    declared = _DECLARED.match(head)
    if declared and declared.group(1).strip().lower() != b"utf-8":
        name = re.sub(rb"[^A-Za-z0-9._:-]", b"?", declared.group(1)).decode("ascii")
        return f"the declared encoding {name!r} is refused: only UTF-8 is accepted"
    if _PROLOG_DOCTYPE.match(head):
        return DOCTYPE_REFUSED
    return None


def root_of(source: bytes | BinaryIO) -> tuple[str, str] | None:
    """The namespace and the formId attribute of a document's root, read from its first element
    only ("" for either when the root has none); None when the document does not parse up to its root."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        for _event, root in etree.iterparse(
            stream, events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        ):
            return etree.QName(root).namespace or "", root.get("formId", "")
    except etree.XMLSyntaxError:
        return None
    return None


def form_id_of(source: bytes | BinaryIO) -> str | None:
    """The formId attribute of a document's root: "" when the root has none, None when the
    document does not parse up to its root."""
    root = root_of(source)
    return None if root is None else root[1]


def validate(content: bytes, form_id: str, *, xsd: bytes | None = None) -> Problems:
    """Every violation as (XPath, reason, line); empty when the document is valid."""
    if xsd is not None:
        return _validate_tree(content, form_id, schema_of(xsd))
    return validate_source(io.BytesIO(content), form_id, limit=len(content))


def validate_source(stream: BinaryIO, form_id: str, limit: int) -> Problems:
    """Validate what ``stream`` holds against the form's XSD in bounded memory; every violation
    as (XPath, reason, line), no value of the document quoted (see :func:`redact`).

    Raises :class:`TooLarge` past ``limit`` bytes. Up to :data:`TREE_BYTES` the document is
    validated as a tree (each violation with its line and XPath), beyond as a stream."""
    head = stream.read(TREE_BYTES + 1)
    refusal = _prolog_problem(head[:65536])
    if refusal:
        return [("/", refusal, 1)]
    if len(head) > limit:
        raise TooLarge(f"more than {limit} bytes")
    if len(head) <= TREE_BYTES:
        return _validate_tree(head, form_id)
    return _validate_stream(_Limited(stream, limit, head), form_id)


def _syntax_problem(exc: etree.XMLSyntaxError) -> Problems:
    msg = exc.msg or "unreadable"
    if "Excessive depth" in msg:
        msg = "elements nested too deep (more than 256 levels)"
    elif "encoding" in msg.lower() or "UTF-8" in msg:
        msg = f"{msg.split(chr(10))[0]} (only UTF-8 is accepted)"
    elif "amplification" in msg or "Entity" in msg or "entity" in msg:
        msg = f"{msg} ({DOCTYPE_REFUSED})"
    return [("/", f"not well-formed XML: {redact(msg)}", exc.lineno or None)]


def _validate_tree(content: bytes, form_id: str, xsd: etree.XMLSchema | None = None) -> Problems:
    try:
        doc = etree.fromstring(content, parser=_safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        return _syntax_problem(exc)
    if doc.docinfo.doctype or doc.docinfo.internalDTD is not None:
        return [("/", DOCTYPE_REFUSED, 1)]
    xsd = xsd or schema(form_id)
    if xsd.validate(doc):
        return []
    return [(e.path or "/", redact(e.message), e.line) for e in list(xsd.error_log)[:MAX_VIOLATIONS]]


def _validate_stream(source: Any, form_id: str) -> Problems:
    """Validate while parsing, dropping each element once read: memory stays flat."""
    events = etree.iterparse(
        source, events=("start", "end"), schema=schema(form_id), resolve_entities=False, no_network=True,
        load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip
    seen = 0
    try:
        for event, element in events:
            if seen == 0:
                info = element.getroottree().docinfo
                if info.doctype or info.internalDTD is not None:
                    return [("/", DOCTYPE_REFUSED, 1)]
            seen += 1
            if event == "end":
                element.clear()
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:  # siblings already read
                        del parent[0]
            if seen % 4096 == 0 and events.error_log.filter_from_errors():  # invalid: the rest unread
                break
    except etree.XMLSyntaxError as exc:
        for entry in events.error_log.filter_from_errors():
            if entry.domain != etree.ErrorDomains.SCHEMASV:  # not well-formed, beyond invalid
                return _syntax_problem(etree.XMLSyntaxError(entry.message, entry.type, entry.line, entry.column))
        if not events.error_log.filter_from_errors():
            return _syntax_problem(exc)
    errors = [e for e in events.error_log if e.domain == etree.ErrorDomains.SCHEMASV]
    return [("/", redact(e.message), e.line or None) for e in errors[:MAX_VIOLATIONS]]


_QUOTED_VALUE = re.compile(
    r"(?<=': )'(?P<value>.*)'(?= is not a valid value of the )"
    r"|(?<=The value )'(?P<value2>.*)'(?= is not accepted by the pattern | is not an element of the set"
    r" | does not match the fixed value constraint | is greater than | is less than"
    r" | has a length of | is not a valid)",
    re.DOTALL,
)
_QUOTED = re.compile(r"'(?P<text>[^']*)(?:'|\Z)")  # libxml2 cuts its messages at 64 000 characters
_SAFE_BEFORE = ("facet ", "type ", "pattern ", "constraint ", "of ", "allowed (", "{", ", ")
_NAME = re.compile(r"(\{[!-~]*\})?[A-Za-z_][A-Za-z0-9._:-]{0,100}")


def describe(value: str) -> str:
    """A value by its kind and length, never the value itself (it may be personal data)."""
    n = len(value)
    if not n:
        return "an empty value"
    stripped = value.replace(" ", "")
    kind = "digits" if stripped.isdigit() else "letters" if stripped.isalpha() else "text"
    return f"a value of {n} character{'s' if n != 1 else ''} ({kind})"


def redact(message: str) -> str:
    """An XSD or parser message with every quoted value of the document replaced by its kind and
    length; the schema's own words (element names, types, patterns, enumerations) stay."""

    def value(m: re.Match[str]) -> str:
        return describe(m.group("value") if m.group("value") is not None else m.group("value2"))

    message = _QUOTED_VALUE.sub(value, message)

    def quoted(m: re.Match[str]) -> str:
        before, text = m.string[max(0, m.start() - 12) : m.start()], m.group("text")
        named = before.endswith(("Element ", "attribute "))
        if before.endswith(_SAFE_BEFORE) or (named and _NAME.fullmatch(text)):
            return m.group(0)
        return describe(text).replace("a value", "a name") if named else describe(text)

    message = _QUOTED.sub(quoted, message)
    message = re.sub(r"\nBytes:.*", "", message, flags=re.DOTALL)[:2000]
    return re.sub(r"[^\x00-\x7f]+", lambda m: f"<{len(m.group(0))} non-Latin characters>", message)


def render_journal(data: Journal) -> bytes:
    """A journal's XML in memory (see :func:`write_journal`)."""
    out = io.BytesIO()
    write_journal(data, out)
    return out.getvalue()


def write_journal(data: Journal, target: str | Path | BinaryIO) -> None:
    """A journal's XML (header, then one entry per row) written to ``target`` and validated,
    both as streams, so a journal of any length never sits in memory as a tree."""
    ns = data.heading.namespace
    q = f"{{{ns}}}"
    with etree.xmlfile(target if not isinstance(target, Path) else str(target), encoding="UTF-8") as xf:
        xf.write_declaration()
        attrs = {"formId": data.form_id, "version": data.heading.version}
        with xf.element(f"{q}{data.heading.xml_root}", attrs, nsmap={None: ns, "c": COMMON_NS}):
            # The namespace is declared once, on the root. A namespaced element written on its own
            # would declare it again (xmlfile serialises each one standalone), so the header and
            # the rows are built unqualified: written inside the root they are in its default
            # namespace, as the validation of the written stream below confirms.
            header = etree.Element("header")
            etree.SubElement(header, "commission").text = data.commission
            etree.SubElement(header, "started").text = data.start
            etree.SubElement(header, "finished").text = data.end
            xf.write("\n", header, "\n")
            tags = [col.key for col in data.columns]
            with xf.element(f"{q}entries"):
                for row in data.rows:
                    entry = etree.Element("entry")
                    for tag, value in zip(tags, row, strict=True):
                        if value is not None:
                            etree.SubElement(entry, tag).text = value
                    xf.write("\n", entry)
                xf.write("\n")
    if not isinstance(target, (str, Path)):
        target.seek(0)
    problems = validate_stream(target, data.form_id)
    if problems:
        raise XmlSchemaError.of(data.form_id, problems)


def validate_stream(source: bytes | str | Path | BinaryIO, form_id: str) -> Problems:
    """Validate a document of any length as a stream (a journal): memory stays flat."""
    if isinstance(source, bytes):
        return _validate_stream(io.BytesIO(source), form_id)
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            return _validate_stream(f, form_id)
    return _validate_stream(source, form_id)


def render_protocol(data: SessionProtocol) -> bytes:
    """The session protocol's XML (one act block per examined patient), validated against its XSD."""
    ns = data.heading.namespace
    q = f"{{{ns}}}"
    root = _root(data.heading)
    etree.SubElement(root, f"{q}commission").text = data.commission
    etree.SubElement(root, f"{q}number").text = data.number
    etree.SubElement(root, f"{q}date").text = data.date
    for act in data.acts:
        block = etree.SubElement(root, f"{q}act", number=act.act_number)
        for row in act.rows:
            if row.xml is not None:
                etree.SubElement(block, f"{q}{row.key}").text = row.xml
    _add_signatures(root, ns, data.signatures)
    return _checked(root, data.form_id)
