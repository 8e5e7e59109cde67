"""Validation of an incoming СЭМД «Направление на медико-социальную экспертизу» (CDA, edition 6).

The official package (CDA XSD with the Russian extensions, the schematron ``121.sch`` and
SchXslt) is not shipped with msedocs: it is read from the folder named by ``MSEDOCS_SEMD_DIR``
(or given to :func:`package`), laid out as the Ministry of Health publishes it::

    MSEDOCS_SEMD_DIR/121/CDA.xsd                          (with POCD_MT000040.xsd, coreschemas/)
    MSEDOCS_SEMD_DIR/121.sch                              the schematron (ISO, queryBinding xslt2)
    MSEDOCS_SEMD_DIR/schxslt-1.9.1/2.0/pipeline-for-svrl.xsl   SchXslt 2.0

A document is checked in two steps:

1. the XSD (lxml), on the document as it is;
2. the schematron: ``121.sch`` is compiled to XSLT by SchXslt under saxonche (once: the result is
   cached on disk, beside nothing of the package: in ``MSEDOCS_CACHE_DIR`` or ``~/.cache/msedocs``,
   keyed by the sha256 of the schematron, of SchXslt and of :data:`COMPILE_VERSION`), that XSLT
   compiled once per process into one saxonche executable (:class:`Schematron`), and each
   document run through it as an in-memory node: a copy of the document without its default
   namespace ``urn:hl7-org:v3`` (the schematron's rule paths are unprefixed, as the published
   validators expect).

The schematron's assertions carry no ``id``; each is given one before compiling: the label its
message starts with (``У1-11``, ``У2-8`` …, or ``common`` for «Общие ограничения») and its position
among the schema's assertions, e.g. ``У1-11#23``. A failure is reported as
``file:line: rule-id: message`` (the line of the element the assertion was about).

Hostile XML is refused before either step: a DOCTYPE (so no DTD and no entity), more than
:data:`MAX_BYTES` bytes, nesting deeper than the parser's default.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from msedocs import cachedir
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


#: Part of the cache key: changes whenever the way the schematron is compiled changes.
COMPILE_VERSION = b"ids-v1|compact|no-metadata|flat-report"
XSL = "http://www.w3.org/1999/XSL/Transform"
SCHXSLT_NS = "https://doi.org/10.5281/zenodo.1495494"


def flatten_report(compiled: str) -> str:
    """The compiled schematron with SchXslt's final regrouping of the report by pattern removed.

    SchXslt collects each fired rule as ``schxslt:rule[@pattern]`` and, at the end, copies them
    out pattern by pattern (``../schxslt:rule[@pattern = current()/@id]`` for each of the 170
    patterns: a quadratic pass that took ~40 % of a run). msedocs reads only the failed
    assertions and successful reports, each with its own id and location, and sorts them itself,
    so the rules' content is copied out in document order instead. Which assertions fail, and
    their ids, locations and texts, do not change (tests compare it with SchXslt's own output).
    A compiled stylesheet of another shape is returned unchanged."""
    root = etree.fromstring(compiled.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True,
                                                                      huge_tree=True))  # fmt: skip
    found = root.xpath("x:template[@match='root()']/x:variable[@name='schxslt:report']", namespaces={"x": XSL})
    if len(found) != 1:
        return compiled
    var = found[0]
    for child in list(var):
        var.remove(child)
    var.text = None
    seq = etree.SubElement(var, f"{{{XSL}}}sequence")
    seq.set("select", "$report/schxslt:document/schxslt:rule/node()")
    if seq.nsmap.get("schxslt") != SCHXSLT_NS:
        return compiled
    return etree.tostring(root, encoding="unicode")


class Schematron:
    """The compiled schematron of a package, run with saxonche. One per process (:func:`schematron`).

    ``121.sch`` is compiled by SchXslt once (``schxslt.svrl.compact``: no fired-rule elements in
    the report; ``schxslt.compile.metadata`` off: no run-time ``document('')``, which re-read
    the 2 MB stylesheet on every run; :func:`flatten_report`), cached on disk, and the result
    compiled by saxonche once per process into one executable that every document is run
    through, as a node parsed from memory (no files)."""

    def __init__(self, pkg: Package) -> None:
        from saxonche import PySaxonProcessor

        self.pkg = pkg
        self._proc = PySaxonProcessor(license=False)
        self._run_lock = threading.Lock()
        sch = pkg.schematron.read_bytes()
        key = hashlib.sha256(sch + pkg.schxslt.read_bytes() + COMPILE_VERSION).hexdigest()[:32]
        name = f"semd-121-{key}.xsl"
        cached = cachedir.cache_dir() / name
        if not cached.is_file():
            cached = cachedir.write(name, flatten_report(self.compile_schxslt(sch)).encode("utf-8"))
        self.compiled_path = cached
        self._exec = self._proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(cached))

    def compile_schxslt(self, sch: bytes, *, compact: bool = True, metadata: bool = False) -> str:
        """SchXslt's compilation of the schematron (with the assertions' ids), as XSLT text."""
        pipeline = self._proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(self.pkg.schxslt))
        pipeline.set_parameter("schxslt.svrl.compact", self._proc.make_boolean_value(compact))
        pipeline.set_parameter("schxslt.compile.metadata", self._proc.make_boolean_value(metadata))
        node = self._proc.parse_xml(xml_text=_with_ids(sch).decode("utf-8"))
        compiled = pipeline.transform_to_string(xdm_node=node)
        if not compiled:
            raise SemdPackageError(f"{self.pkg.schematron}: SchXslt could not compile the schematron")
        return compiled

    def run(self, stripped: bytes, executable: Any = None) -> etree._Element:
        """The SVRL report of a document already without its default namespace."""
        with self._run_lock:  # one saxonche executable, not shared between threads mid-run
            node = self._proc.parse_xml(xml_text=stripped.decode("utf-8"))
            out = (executable or self._exec).transform_to_string(xdm_node=node)
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
    root = copy.deepcopy(tree.getroot())  # keeps each element's sourceline; no re-parse
    prefix = f"{{{HL7}}}"
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith(prefix):
            el.tag = el.tag[len(prefix) :]
    etree.cleanup_namespaces(root)
    return etree.ElementTree(root)


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
