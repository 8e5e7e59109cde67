"""An XML document against the XSD msedocs publishes for it: one logic for every door.

`msedocs validate` (a file) and ``POST /v1/xml/validate`` (a body) both call :func:`validate`:
the document is the one ``form`` names, else the root's ``formId``, else the document whose
namespace the root is in (forms, the session protocol and the journals alike, from the one
registry); DTDs, entities and XInclude are refused by the parser; a journal may be larger than
a form. Each door prints or returns the result in its own way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

from generators import xml as xml_gen

from .errors import InputError
from .forms import DOCUMENTS

#: What a document without a formId and outside every published namespace gets: ``{option}``
#: is how the door names the choice of form (``--form``, ``form``).
NO_FORM = "no formId attribute on the root, and its namespace is not that of a published schema; give {option}"


TooLarge = xml_gen.TooLarge  # a document larger than its kind may be (an InputError)

@dataclass(frozen=True)
class Result:
    """The document's id (None when it could not be told) and its violations as
    (XPath, reason, line); without a form id, only why it could not be told."""

    form: str | None
    problems: list[tuple[str, str, int | None]]

    @property
    def valid(self) -> bool:
        return self.form is not None and not self.problems


def _bytes(n: int) -> str:
    """A byte count with thin grouping: 16 777 216."""
    return f"{n:,}".replace(",", " ")


def limit_for(form_id: str | None) -> int:
    """The largest document of that kind: a journal may hold a year of rows."""
    spec = DOCUMENTS.get(form_id or "")
    return xml_gen.MAX_JOURNAL_BYTES if spec is not None and spec.kind == "journal" else xml_gen.MAX_FORM_BYTES


def validate(
    stream: BinaryIO, size: int, form: str | None = None, *, where: str = "", option: str = "--form"
) -> Result:
    """Validate the seekable ``stream`` of ``size`` bytes. ``where`` prefixes the messages of
    the errors raised (a file's name and ``": "``): InputError for an unknown form id,
    :class:`TooLarge` for a document over its kind's limit."""
    if size > xml_gen.MAX_JOURNAL_BYTES:
        most = _bytes(xml_gen.MAX_JOURNAL_BYTES)
        raise TooLarge(f"{where}{_bytes(size)} bytes, more than the {most} bytes any document may have")
    form_id = form
    if form_id is None:  # the root's formId, else the document whose namespace the root is in
        root = xml_gen.root_of(stream)
        by_namespace = {spec.namespace: spec.id for spec in DOCUMENTS.values()}
        form_id = None if root is None else root[1] or by_namespace.get(root[0])
    stream.seek(0)
    if form_id and form_id not in DOCUMENTS:
        shown = re.sub(r"[^A-Za-z0-9._-]", "?", form_id[:40])
        raise InputError(f"{where}unknown form id {shown!r}; known forms: {', '.join(sorted(DOCUMENTS))}")
    limit = limit_for(form_id)
    if size > limit:
        raise TooLarge(
            f"{where}{_bytes(size)} bytes, more than the {_bytes(limit)} bytes a {form_id} document may have"
        )
    try:
        problems = xml_gen.validate_source(stream, form_id or "by-act", limit)
    except xml_gen.TooLarge:  # grew while read
        raise TooLarge(f"{where}more than the {_bytes(limit)} bytes a {form_id} document may have") from None
    if not form_id:  # unreadable before its root, or no formId on it
        unreadable = [p for p in problems if not p[1].startswith("Element ")]
        return Result(None, unreadable[:1] or [("/", NO_FORM.format(option=option), None)])
    return Result(form_id, problems)
