"""XML renderer: a form's data dict to XML in the form's namespace, checked against its XSD.

Every document is validated before it is returned; :func:`validate` is also what
``msedocs validate`` runs on integrators' files.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from .common import XSD_DIR, GeneratorError

COMMON_NS = "urn:msedocs:common:1"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _has_content(item: dict[str, Any]) -> bool:
    kind = item["kind"]
    if kind == "group":
        return any(_has_content(c) for c in item["children"])
    if kind == "choice":
        return bool(item["value"]) or bool(item.get("other"))
    if kind == "records":
        return bool(item["rows"]) or bool(item.get("total")) or bool(item.get("other"))
    return item["value"] not in (None, "", [])


def _add_item(parent: etree._Element, ns: str, item: dict[str, Any]) -> None:
    if not _has_content(item):
        return
    el = etree.SubElement(parent, f"{{{ns}}}{item['key']}")
    kind = item["kind"]
    if kind == "group":
        for child in item["children"]:
            _add_item(el, ns, child)
    elif kind == "choice":
        values = item["value"] if item.get("multi") else ([item["value"]] if item["value"] else [])
        for v in values:
            etree.SubElement(el, f"{{{ns}}}option").text = v
        if item.get("other"):
            etree.SubElement(el, f"{{{ns}}}other").text = item["other"]
    elif kind == "records":
        for row in item["rows"]:
            row_el = etree.SubElement(el, f"{{{ns}}}row")
            for key, cell in row.items():
                if cell["value"] not in (None, ""):
                    etree.SubElement(row_el, f"{{{ns}}}{key}").text = _text(cell["value"])
        if item.get("total"):
            etree.SubElement(el, f"{{{ns}}}total").text = _text(item["total"])
        if item.get("other"):
            etree.SubElement(el, f"{{{ns}}}other").text = item["other"]
    else:
        el.text = _text(item["value"])


def build(data: dict[str, Any]) -> etree._Element:
    ns = data["namespace"]
    root = etree.Element(f"{{{ns}}}{data['xml_root']}", nsmap={None: ns, "c": COMMON_NS})
    root.set("formId", data["form_id"])
    root.set("version", data["version"])
    root.set("caseId", data["case_id"])
    if data["header"]:
        header = etree.SubElement(root, f"{{{ns}}}header")
        for h in data["header"]:
            _add_item(header, ns, h)
    for item in data["items"]:
        _add_item(root, ns, item)
    sigs = etree.SubElement(root, f"{{{ns}}}signatures")
    for s in data["signatures"]:
        sig = etree.SubElement(sigs, f"{{{COMMON_NS}}}signature", role=s["role"], title=s["title"])
        if s["seal"]:
            sig.set("seal", "true")
        for name in s["names"]:
            if name:
                etree.SubElement(sig, f"{{{COMMON_NS}}}name").text = name
    return root


def render(data: dict[str, Any]) -> bytes:
    """The form's XML, validated against ``xsd/<form id>.xsd``."""
    content = etree.tostring(build(data), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = validate(content, data["form_id"])
    if problems:
        raise GeneratorError(f"{data['form_id']}: generated XML does not match its schema", problems)
    return content


@cache
def schema(form_id: str) -> etree.XMLSchema:
    path = XSD_DIR / f"{form_id}.xsd"
    if not path.is_file():
        raise GeneratorError(f"no schema for form {form_id!r} ({path})")
    return etree.XMLSchema(etree.parse(str(path), parser=_safe_parser()))


def _safe_parser() -> etree.XMLParser:
    """No DTDs, no entities, no network: integrators' files are untrusted."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def form_id_of(content: bytes) -> str | None:
    """The formId attribute of a document's root, if it parses."""
    try:
        root = etree.fromstring(content, parser=_safe_parser())
    except etree.XMLSyntaxError:
        return None
    return root.get("formId")


def validate(content: bytes, form_id: str) -> list[tuple[str, str, int | None]]:
    """Every violation as (XPath, reason, line); empty when the document is valid."""
    try:
        doc = etree.fromstring(content, parser=_safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        return [("/", f"not well-formed XML: {exc.msg}", exc.lineno)]
    if doc.docinfo.doctype:
        return [("/", "a DOCTYPE is not allowed", 1)]
    xsd = schema(form_id)
    if xsd.validate(doc):
        return []
    return [(e.path or "/", e.message, e.line) for e in xsd.error_log]


def render_journal(data: dict[str, Any]) -> bytes:
    """A journal's XML in memory (see :func:`write_journal`)."""
    out = io.BytesIO()
    write_journal(data, out)
    return out.getvalue()


def write_journal(data: dict[str, Any], target: str | Path | BinaryIO) -> None:
    """A journal's XML (header, then one entry per row) written to ``target`` and validated,
    both as streams, so a journal of any length never sits in memory as a tree."""
    ns = data["namespace"]
    q = f"{{{ns}}}"
    with etree.xmlfile(target if not isinstance(target, Path) else str(target), encoding="UTF-8") as xf:
        xf.write_declaration()
        attrs = {"formId": data["form_id"], "version": data["version"]}
        with xf.element(f"{q}{data['xml_root']}", attrs, nsmap={None: ns, "c": COMMON_NS}):
            header = etree.Element(f"{q}header", nsmap={None: ns})
            etree.SubElement(header, f"{q}commission").text = data["commission"]
            etree.SubElement(header, f"{q}started").text = data["period"]["from"]
            etree.SubElement(header, f"{q}finished").text = data["period"]["to"]
            xf.write("\n", header, "\n")
            tags = [f"{q}{col['key']}" for col in data["columns"]]
            with xf.element(f"{q}entries"):
                for row in data["rows"]:
                    entry = etree.Element(f"{q}entry", nsmap={None: ns})
                    for tag, value in zip(tags, row, strict=True):
                        if value is not None:
                            etree.SubElement(entry, tag).text = value
                    xf.write("\n", entry)
                xf.write("\n")
    if not isinstance(target, (str, Path)):
        target.seek(0)
    problems = validate_stream(target, data["form_id"])
    if problems:
        raise GeneratorError(f"{data['form_id']}: generated XML does not match its schema", problems)


def validate_stream(source: bytes | str | Path | BinaryIO, form_id: str) -> list[tuple[str, str, int | None]]:
    """Validate while parsing, dropping each element once read: memory stays flat."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    elif isinstance(source, Path):
        source = str(source)
    try:
        for _event, element in etree.iterparse(
            source, events=("end",), schema=schema(form_id), resolve_entities=False, no_network=True
        ):
            parent = element.getparent()
            if parent is not None and parent.getparent() is not None:  # an entry's cell or an entry
                element.clear()
                while element.getprevious() is not None:  # entries already read
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        return [("/", exc.msg, exc.lineno)]
    return []


def render_protocol(data: dict[str, Any]) -> bytes:
    """The session protocol's XML (one act block per examined patient), validated against its XSD."""
    ns = data["namespace"]
    q = f"{{{ns}}}"
    root = etree.Element(f"{q}{data['xml_root']}", nsmap={None: ns, "c": COMMON_NS})
    root.set("formId", data["form_id"])
    root.set("version", data["version"])
    etree.SubElement(root, f"{q}commission").text = data["commission"]
    etree.SubElement(root, f"{q}number").text = data["number"]
    etree.SubElement(root, f"{q}date").text = data["date"]
    for act in data["acts"]:
        block = etree.SubElement(root, f"{q}act", number=act["act_number"])
        for row in act["rows"]:
            if row["xml"] is not None:
                etree.SubElement(block, f"{q}{row['key']}").text = row["xml"]
    sigs = etree.SubElement(root, f"{q}signatures")
    for s in data["signatures"]:
        sig = etree.SubElement(sigs, f"{{{COMMON_NS}}}signature", role=s["role"], title=s["title"])
        for name in s["names"]:
            if name:
                etree.SubElement(sig, f"{{{COMMON_NS}}}name").text = name
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = validate(content, data["form_id"])
    if problems:
        raise GeneratorError(f"{data['form_id']}: generated XML does not match its schema", problems)
    return content
