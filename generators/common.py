"""What every generator shares: where templates and schemas live, the rendered document."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from msedocs.contract import Document, Journal, SessionProtocol
from msedocs.contract import format_date as format_date
from msedocs.errors import Problem, SchemaError, TemplateError

from .resources import FONTS_DIR as FONTS_DIR
from .resources import TEMPLATES_DIR as TEMPLATES_DIR
from .resources import XSD_DIR as XSD_DIR

MEDIA_TYPES = {
    "xml": "application/xml",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "p7s": "application/pkcs7-signature",
}


def esign_statement(data: Document | SessionProtocol) -> str:
    """What an electronic rendering prints instead of handwritten signatures and the seal; a form
    may word the first sentence itself (``extra["esign_statement"]``: ru-extract, a qualified one)."""
    first = data.extra.get("esign_statement") or "Документ подписан электронной подписью"
    return f"{first}. Сведения о сертификатах подписей — в файле подписи."


def footnote_parts(text: str) -> tuple[str, str]:
    """A footnote as («1», «Заполняется …»): its mark, printed in superscript, and its text;
    («», text) when it starts with no mark."""
    mark, _, rest = text.partition(" ")
    return (mark, rest) if mark.isdigit() and rest else ("", text)


def display_rows(data: Journal) -> Iterator[list[str]]:
    """A journal's cells as printed, row by row: None as empty, dates as «23» ноября 2026 г."""
    dates = [i for i, col in enumerate(data.columns) if col.type == "date"]
    for row in data.rows:
        cells = ["" if v is None else v for v in row]
        for i in dates:
            if cells[i]:
                cells[i] = format_date(date.fromisoformat(cells[i]))
        yield cells


@dataclass(frozen=True)
class RenderedDocument:
    """One rendered document: what a case system stores or sends on."""

    form_id: str
    format: str
    content: bytes
    media_type: str
    filename: str
    signature: dict[str, Any] | None = None
    """How it is signed (form of signature, level, roles), or None if unsigned."""

    @classmethod
    def of(
        cls, form_id: str, fmt: str, content: bytes, signature: dict[str, Any] | None = None, filename: str = ""
    ) -> RenderedDocument:
        return cls(form_id, fmt, content, MEDIA_TYPES[fmt], filename or f"{form_id}.{fmt}", signature)


class GeneratorError(TemplateError):
    """A generator failed (template, worker, schema file): a defect in msedocs, not in the input.

    The generators import :mod:`msedocs.errors`, the error root, and nothing else of msedocs;
    their errors are msedocs errors, so callers need no translation::

        msedocs.errors.TemplateError (MsedocsError, RuntimeError)
        └── GeneratorError                    exit code 1
            └── XmlSchemaError (SchemaError)  the generated XML does not validate against its XSD
        msedocs.errors.InputError
        └── generators.xml.TooLarge           a document to validate is over its size limit: exit code 2
    """


class XmlSchemaError(GeneratorError, SchemaError):
    """Generated XML that does not validate against its XSD: a :class:`GeneratorError` and a
    :class:`~msedocs.errors.SchemaError`, each violation in ``problems``."""

    @classmethod
    def of(cls, form_id: str, problems: Iterable[tuple[str, str, int | None]]) -> XmlSchemaError:
        """The error for ``form_id`` from the validator's (XPath, reason, line) triples."""
        return cls(f"{form_id}: generated XML does not match its schema", [Problem(*p) for p in problems])
