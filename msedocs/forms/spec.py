"""Form specifications: a form is a list of numbered items, declared once.

An :class:`ItemDef` holds the statute's item number and wording, the Latin element name
used in the XML, the value's type, and how to read the value from a :class:`Case`.
:meth:`FormSpec.data` evaluates the items into one plain dict that feeds the XML
builder, the HTML template and the DOCX template alike; the form's XSD is generated
from the same declarations (``scripts/build_xsd.py``), so the four cannot disagree.

The data dict of a form::

    {"form_id", "title", "version", "case_id", "namespace",
     "header": [item...], "items": [item...], "signatures": [signature...],
     "footnotes": [str...], "extra": {...}}

and of an item::

    {"no": "4", "key": "sex", "label": "Пол", "kind": "choice", "value": "male",
     "display": "мужской", "options": [{"value", "label", "selected"}], "multi": False,
     "other": None, "suffix": "(нужное подчеркнуть)", "children": [...],
     "columns": [...], "rows": [...], "footnote": None, "inline": False}
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Literal

from generators.common import format_date

from ..model.case import Case, PersonName
from ..model.enums import Jurisdiction, Labelled

Kind = Literal["text", "date", "int", "choice", "records", "group"]

NAMESPACE_BASE = "urn:msedocs:form"
COMMON_NAMESPACE = "urn:msedocs:common:1"
FORMS_VERSION = "1"


Getter = Callable[[Case], Any]


@dataclass(frozen=True)
class Column:
    """A column of a records item (a table, or a repeated structured value)."""

    key: str
    label: str
    type: Literal["text", "date", "int", "enum"] = "text"
    enum: builtins.type[Labelled] | None = None
    get: Callable[[Any], Any] = lambda row: None


@dataclass(frozen=True)
class ItemDef:
    """One numbered item of a paper form.

    ``label`` is the statute's wording up to the blank; ``suffix`` what follows the
    options of a "нужное подчеркнуть" item.
    """

    no: str
    key: str
    label: str
    kind: Kind = "text"
    get: Getter | None = None
    required: bool = False
    enum: type[Labelled] | None = None
    multi: bool = False
    other: Getter | None = None
    suffix: str = ""
    children: tuple[ItemDef, ...] = ()
    columns: tuple[Column, ...] = ()
    table: bool = True
    total: Callable[[Case], str] | None = None
    total_label: str = ""
    footnote: int | None = None
    inline: bool = False
    xsd_type: str | None = None
    labels: Mapping[str, str] | None = None
    doc: str = ""

    def option_label(self, member: Labelled) -> str:
        """An option's wording on this form: the enum's, unless this form words it otherwise."""
        return (self.labels or {}).get(member.value, member.label)

    @property
    def documentation(self) -> str:
        """The statute's item number and wording, for the XSD."""
        head = f"{self.no}. " if self.no else ""
        text = head + self.label
        if self.enum is not None:
            text += ": " + ", ".join(self.option_label(m) for m in self.enum)
            text += f" {self.suffix}" if self.suffix else ""
        return text + (f" {self.doc}" if self.doc else "")

    def evaluate(self, case: Case) -> dict[str, Any]:
        raw = self.get(case) if self.get is not None else None
        item: dict[str, Any] = {
            "no": self.no,
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "value": None,
            "display": "",
            "suffix": self.suffix,
            "footnote": self.footnote,
            "inline": self.inline,
            "children": [c.evaluate(case) for c in self.children],
        }
        if self.kind == "date":
            item["value"] = raw.isoformat() if raw else None
            item["display"] = format_date(raw)
        elif self.kind == "int":
            item["value"] = raw
            item["display"] = "" if raw is None else str(raw)
        elif self.kind == "text":
            value = display_text(raw)
            item["value"] = [str(x) for x in raw] if isinstance(raw, list) and raw else (value or None)
            item["display"] = value
        elif self.kind == "choice":
            assert self.enum is not None
            chosen = list(raw or []) if self.multi else ([raw] if raw is not None else [])
            chosen_values = {c.value if isinstance(c, Enum) else c for c in chosen}
            item["multi"] = self.multi
            item["options"] = [
                {
                    "value": m.value,
                    "label": self.option_label(m),
                    "selected": m.value in chosen_values,
                    "detail": "",
                }
                for m in self.enum
            ]
            item["value"] = [m.value for m in self.enum if m.value in chosen_values]
            if not self.multi:
                item["value"] = item["value"][0] if item["value"] else None
            other = display_text(self.other(case)) if self.other else ""
            item["other"] = other or None
            item["display"] = ", ".join(self.option_label(m) for m in self.enum if m.value in chosen_values)
        elif self.kind == "records":
            rows = list(raw or [])
            item["columns"] = [{"key": c.key, "label": c.label, "type": c.type} for c in self.columns]
            item["table"] = self.table
            item["rows"] = [_row(self.columns, r) for r in rows]
            item["total"] = self.total(case) if self.total else None
            item["total_label"] = self.total_label
            item["other"] = (display_text(self.other(case)) or None) if self.other else None
            if self.enum is not None:  # every option printed, the recorded ones underlined
                by_value = {row[self.columns[0].key]["value"]: row for row in item["rows"]}
                item["options"] = [
                    {
                        "value": m.value,
                        "label": self.option_label(m),
                        "selected": m.value in by_value,
                        "detail": by_value[m.value][self.columns[1].key]["display"]
                        if m.value in by_value
                        else "",
                    }
                    for m in self.enum
                ]
            item["display"] = "; ".join(
                " ".join(cell["display"] for cell in row.values() if cell["display"]) for row in item["rows"]
            )
        return item


def _row(columns: Sequence[Column], record: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for col in columns:
        raw = col.get(record)
        if col.type == "date":
            out[col.key] = {"value": raw.isoformat() if raw else None, "display": format_date(raw)}
        elif col.type == "enum":
            out[col.key] = {
                "value": raw.value if raw is not None else None,
                "display": raw.label if raw is not None else "",
            }
        else:
            text = display_text(raw)
            out[col.key] = {"value": raw if col.type == "int" else (text or None), "display": text}
    return out


def display_text(raw: Any) -> str:
    """Plain text of a value: names in full, lists joined, enums by their wording."""
    if raw is None:
        return ""
    if isinstance(raw, PersonName):
        return raw.full
    if isinstance(raw, Labelled):
        return raw.label
    if isinstance(raw, date):
        return format_date(raw)
    if isinstance(raw, list | tuple):
        return ", ".join(display_text(x) for x in raw if x is not None)
    return str(raw)


@dataclass(frozen=True)
class Signer:
    """A signature line of the form and the signing role behind it."""

    role: str
    title: str
    names: Callable[[Case], list[PersonName]]
    seal: bool = False
    seal_footnote: int | None = None


@dataclass(frozen=True)
class Source:
    seed: str
    appendix: str
    lines: str

    def __str__(self) -> str:
        return f"{self.seed}, {self.appendix}, lines {self.lines}"


@dataclass(frozen=True)
class FormSpec:
    """One statutory document: its items, its signers, when it applies."""

    id: str
    title: str
    xml_root: str
    source: Source
    items: tuple[ItemDef, ...]
    signers: tuple[Signer, ...] = ()
    header: tuple[ItemDef, ...] = ()
    footnotes: tuple[str, ...] = ()
    applies: Callable[[Case], bool] = lambda case: True
    formats: tuple[str, ...] = ("xml", "pdf", "docx")
    extra: Callable[[Case], dict[str, Any]] | None = field(default=None)
    jurisdiction: Jurisdiction = Jurisdiction.BY

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_BASE}:{self.id}:{FORMS_VERSION}"

    def applies_to(self, case: Case) -> bool:
        """Whether the form is drawn up for this case: its country's, and what it records is there."""
        return case.jurisdiction == self.jurisdiction and self.applies(case)

    def data(self, case: Case) -> dict[str, Any]:
        """The one dict that feeds XML, PDF and DOCX."""
        return {
            "form_id": self.id,
            "title": self.title,
            "version": FORMS_VERSION,
            "namespace": self.namespace,
            "xml_root": self.xml_root,
            "case_id": case.case_id,
            "header": [h.evaluate(case) for h in self.header],
            "items": [i.evaluate(case) for i in self.items],
            "signatures": [
                {
                    "role": s.role,
                    "title": s.title,
                    "names": [n.initials for n in s.names(case)] or [""],
                    "seal": s.seal,
                    "seal_footnote": s.seal_footnote,
                }
                for s in self.signers
            ],
            "footnotes": list(self.footnotes),
            "extra": self.extra(case) if self.extra else {},
        }

    def all_items(self) -> list[ItemDef]:
        out: list[ItemDef] = []

        def walk(items: Sequence[ItemDef]) -> None:
            for it in items:
                out.append(it)
                walk(it.children)

        walk(self.header)
        walk(self.items)
        return out
