"""Validation of an incoming СЭМД «Направление на медико-социальную экспертизу» (CDA, edition 6).

The official package (CDA XSD with the Russian extensions, the schematron ``121.sch`` and
SchXslt) is not shipped with msedocs: it is read from the folder named by ``MSEDOCS_SEMD_DIR``
(or given to :func:`package`), laid out as the Ministry of Health publishes it::

    MSEDOCS_SEMD_DIR/121/CDA.xsd                          (with POCD_MT000040.xsd, coreschemas/)
    MSEDOCS_SEMD_DIR/121.sch                              the schematron (ISO, queryBinding xslt2)
    MSEDOCS_SEMD_DIR/schxslt-1.9.1/2.0/pipeline-for-svrl.xsl   SchXslt 2.0

A document is checked in two steps:

1. the XSD (lxml), on the document as it is;
2. the schematron: ``121.sch`` is compiled once per process by SchXslt under saxonche (and the
   compiled XSLT cached on disk beside nothing of the package: in ``MSEDOCS_CACHE_DIR`` or
   ``~/.cache/msedocs``, keyed by the sha256 of the schematron and of SchXslt), then run on a
   copy of the document without its default namespace ``urn:hl7-org:v3`` (the schematron's rule
   paths are unprefixed, as the published validators expect).

The schematron's assertions carry no ``id``; each is given one before compiling: the label its
message starts with (``У1-11``, ``У2-8`` …, or ``common`` for «Общие ограничения») and its position
among the schema's assertions, e.g. ``У1-11#23``. A failure is reported as
``file:line: rule-id: message`` (the line of the element the assertion was about).

Hostile XML is refused before either step: a DOCTYPE (so no DTD and no entity), more than
:data:`MAX_BYTES` bytes, nesting deeper than the parser's default.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from msedocs.errors import InputError

HL7 = "urn:hl7-org:v3"
SVRL = "http://purl.oclc.org/dsdl/svrl"
SCH = "http://purl.oclc.org/dsdl/schematron"
MAX_BYTES = 16 * 1024 * 1024
ENV = "MSEDOCS_SEMD_DIR"
SCHXSLT = Path("schxslt-1.9.1") / "2.0" / "pipeline-for-svrl.xsl"


class SemdPackageError(InputError):
    """The official СЭМД package cannot be found or read where it is configured (exit code 2)."""


@dataclass(frozen=True)
class Package:
    """Where the official package is: its folder and the three things read from it."""

    root: Path

    @property
    def xsd(self) -> Path:
        return self.root / "121" / "CDA.xsd"

    @property
    def schematron(self) -> Path:
        return self.root / "121.sch"

    @property
    def schxslt(self) -> Path:
        return self.root / SCHXSLT

    def missing(self) -> list[Path]:
        return [p for p in (self.xsd, self.schematron, self.schxslt) if not p.is_file()]


def package(folder: str | Path | None = None) -> Package:
    """The configured package (``folder``, else ``MSEDOCS_SEMD_DIR``); raises
    :class:`SemdPackageError` naming what is missing."""
    where = folder if folder is not None else os.environ.get(ENV)
    if not where:
        raise SemdPackageError(
            f"{ENV} is not set: point it at the folder of the official СЭМД package (121/CDA.xsd, 121.sch, "
            "schxslt-1.9.1/), as published with the implementation guide on the ЕГИСЗ portal"
        )
    pkg = Package(Path(where))
    if missing := pkg.missing():
        raise SemdPackageError(f"{ENV}={where}: the СЭМД package lacks {', '.join(str(p) for p in missing)}")
    return pkg


@dataclass(frozen=True)
class SemdProblem:
    """One failure: the line of the element in the file, the rule's id and its message."""

    line: int
    rule: str
    message: str

    def format(self, file: str | Path) -> str:
        return f"{file}:{self.line}: {self.rule}: {self.message}"


# -- parsing ---------------------------------------------------------------------------------

_PARSER_OPTIONS: dict[str, Any] = dict(
    resolve_entities=False, no_network=True, dtd_validation=False, load_dtd=False, huge_tree=False,
    remove_comments=False,
)  # fmt: skip


def parse(data: bytes, name: str = "document") -> etree._ElementTree:
    """Parse ``data`` safely: a DOCTYPE (DTD, entities) is refused, nothing is fetched."""
    if len(data) > MAX_BYTES:
        raise InputError(f"{name}: {len(data)} bytes, more than the {MAX_BYTES} bytes a referral may have")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise InputError(f"{name}:{line}: not well-formed XML ({exc.msg})") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InputError(f"{name}:1: a DOCTYPE is not allowed (DTDs and entities are refused)")
    return tree


# -- XSD ---------------------------------------------------------------------------------------

_lock = threading.Lock()


@cache
def _schema(xsd: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(xsd), parser))


def xsd_problems(tree: etree._ElementTree, pkg: Package) -> list[SemdProblem]:
    with _lock:
        schema = _schema(pkg.xsd)
        ok = schema.validate(tree)
        log = list(schema.error_log)
    if ok:
        return []
    return [SemdProblem(e.line or 0, "xsd", _short(e.message)) for e in log]


def _short(message: str) -> str:
    return message.replace("{urn:hl7-org:v3}", "")


# -- schematron ----------------------------------------------------------------------------------

LABEL = re.compile(r"^\s*(У[\d.]+-[\d.]+|[А-ЯA-Z][\w.-]*\d[\w.-]*)\.")


def _with_ids(sch: bytes) -> bytes:
    """The schematron with an ``id`` on each assert and report: its label and position."""
    root = etree.fromstring(sch, etree.XMLParser(resolve_entities=False, no_network=True))
    for n, node in enumerate(root.iter(f"{{{SCH}}}assert", f"{{{SCH}}}report"), start=1):
        text = "".join(node.itertext())
        m = LABEL.match(text)
        label = m.group(1) if m else ("common" if text.strip().startswith("Общие") else "rule")
        node.set("id", f"{label}#{n}")
    return etree.tostring(root, encoding="utf-8")


def cache_dir() -> Path:
    base = os.environ.get("MSEDOCS_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "msedocs"


class Schematron:
    """The compiled schematron of a package, run with saxonche. One per process (:func:`schematron`)."""

    def __init__(self, pkg: Package) -> None:
        from saxonche import PySaxonProcessor

        self.pkg = pkg
        self._proc = PySaxonProcessor(license=False)
        sch = pkg.schematron.read_bytes()
        key = hashlib.sha256(sch + pkg.schxslt.read_bytes() + b"ids-v1").hexdigest()[:32]
        cached = cache_dir() / f"semd-121-{key}.xsl"
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            xslt = self._proc.new_xslt30_processor()
            pipeline = xslt.compile_stylesheet(stylesheet_file=str(pkg.schxslt))
            node = self._proc.parse_xml(xml_text=_with_ids(sch).decode("utf-8"))
            compiled = pipeline.transform_to_string(xdm_node=node)
            if not compiled:
                raise SemdPackageError(f"{pkg.schematron}: SchXslt could not compile the schematron")
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(compiled, encoding="utf-8")
            os.replace(tmp, cached)
        self.compiled_path = cached
        self._exec = self._proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(cached))

    def run(self, stripped: bytes) -> etree._Element:
        """The SVRL report of a document already without its default namespace."""
        node = self._proc.parse_xml(xml_text=stripped.decode("utf-8"))
        out = self._exec.transform_to_string(xdm_node=node)
        return etree.fromstring(out.encode("utf-8"), etree.XMLParser(resolve_entities=False, huge_tree=True))


_compiled: dict[Path, Schematron] = {}


def schematron(pkg: Package) -> Schematron:
    with _lock:
        if pkg.root not in _compiled:
            _compiled[pkg.root] = Schematron(pkg)
        return _compiled[pkg.root]


def strip_default_namespace(tree: etree._ElementTree) -> etree._ElementTree:
    """A copy with the elements of ``urn:hl7-org:v3`` in no namespace (other namespaces kept);
    line numbers are kept, so a location in the copy is a line of the file."""
    copy = etree.ElementTree(etree.fromstring(etree.tostring(tree)))  # sourcelines are lost here
    for orig, el in zip(tree.iter(), copy.iter(), strict=True):
        el.sourceline = orig.sourceline  # type: ignore[misc]  # lxml allows it; the stubs say read-only
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{HL7}}}"):
            el.tag = el.tag[len(HL7) + 2 :]
    etree.cleanup_namespaces(copy)
    return copy


_STEP = re.compile(r"^(?:Q\{([^}]*)\})?([^\[\]]+?)(?:\[(\d+)\])?$")


def _locate(tree: etree._ElementTree, location: str) -> int:
    """The line of the node at an SVRL ``location`` (``/Q{}ClinicalDocument[1]/Q{urn:…}Props[1]/@x``)."""
    node: Any = None
    steps = [s for s in re.split(r"/(?![^{]*\})", location) if s]
    for step in steps:
        if step.startswith("@") or step.startswith("text()") or step.startswith("comment()"):
            break
        m = _STEP.match(step)
        if not m:
            break
        ns, local, pos = m.group(1), m.group(2), int(m.group(3) or 1)
        tag = f"{{{ns}}}{local}" if ns else local
        if ":" in local:  # prefix:name (older SchXslt output): match the local name
            local = local.split(":", 1)[1]
            tag = None
        if node is None:
            root = tree.getroot()
            if (tag and root.tag == tag) or etree.QName(root).localname == local:
                node = root
                continue
            break
        children = [c for c in node if isinstance(c.tag, str) and (c.tag == tag if tag else
                                                                     etree.QName(c).localname == local)]  # fmt: skip
        if len(children) < pos:
            break
        node = children[pos - 1]
    return (node.sourceline or 0) if node is not None else 0


def schematron_problems(tree: etree._ElementTree, pkg: Package) -> list[SemdProblem]:
    stripped = strip_default_namespace(tree)
    report = schematron(pkg).run(etree.tostring(stripped, encoding="utf-8"))
    problems: list[SemdProblem] = []
    for fail in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(t.itertext()) for t in fail.iter(f"{{{SVRL}}}text"))
        line = _locate(stripped, fail.get("location", ""))
        problems.append(SemdProblem(line, fail.get("id") or "rule", " ".join(text.split())))
    problems.sort(key=lambda p: (p.line, p.rule))
    return problems


def validate(
    data: bytes, name: str = "document", pkg: Package | None = None
) -> tuple[etree._ElementTree, list[SemdProblem]]:
    """Parse and validate a СЭМД document: (tree, problems); problems empty when it passes both
    the XSD and the schematron. The schematron runs only on a document that passes the XSD."""
    pkg = pkg or package()
    tree = parse(data, name)
    if tree.getroot().tag != f"{{{HL7}}}ClinicalDocument":
        return tree, [SemdProblem(tree.getroot().sourceline or 1, "xsd",
                                  "the root is not ClinicalDocument in urn:hl7-org:v3")]  # fmt: skip
    problems = xsd_problems(tree, pkg)
    if problems:
        return tree, problems
    return tree, schematron_problems(tree, pkg)
