"""Form specifications: a form is a list of numbered items, declared once.

An :class:`ItemDef` holds the statute's item number and wording, the Latin element name
used in the XML, the value's type, and how to read the value from a :class:`Case`.
:meth:`FormSpec.data` evaluates the items into one :class:`~msedocs.contract.Document` (its
:class:`~msedocs.contract.Item` s, :class:`~msedocs.contract.Signature` s...) that feeds the
XML builder, the HTML template and the DOCX template alike; the form's XSD is generated from
the same declarations (``scripts/build_xsd.py``), so the four cannot disagree.

A choice's ``options`` are its options flat, in the enum's order (what XML and XSD know);
``parts`` groups them as the statute prints them (an :class:`OptionGroup` under its heading,
or a lone option), and ``runs`` is that printed text cut into pieces, each underlined or not,
which the PDF and DOCX print as they are. A records item's ``head`` is its table head: one
row, or two where a :attr:`Column.group` heading spans sub-columns.
"""

from __future__ import annotations

import builtins
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date
from enum import Enum
from typing import Any, Literal

from .. import contract
from ..contract import (
    Cell,
    Document,
    Extra,
    HeaderCell,
    Heading,
    Item,
    Option,
    Part,
    Row,
    Run,
    Signature,
    StampRoom,
    Table,
    format_date,
)
from ..model.case import ADDRESS_SEP, NAME_SEP, Address, Case, PersonName
from ..model.enums import Jurisdiction, Labelled
from .document import DocumentSpec

Kind = Literal["text", "date", "int", "choice", "records", "group"]

NAMESPACE_BASE = "urn:msedocs:form"
COMMON_NAMESPACE = "urn:msedocs:common:1"
FORMS_VERSION = "1"


def heading(spec: DocumentSpec) -> Heading:
    """What a filled-in document says of itself (:class:`~msedocs.contract.Heading`): its id
    and title, its XML root in its namespace of :data:`FORMS_VERSION`."""
    return Heading(spec.id, spec.title, FORMS_VERSION, spec.namespace, spec.xml_root)


class Declared:
    """What every declared document (a form, a journal, the session protocol) derives from its id
    and kind alike: its XML namespace of :data:`FORMS_VERSION`, and its XSD (:mod:`.xsd`)."""

    id: str

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_BASE}:{self.id}:{FORMS_VERSION}"

    def xsd(self) -> bytes:
        from .xsd import build_document_xsd

        return build_document_xsd(self)


Getter = Callable[[Case], Any]
#: A choice's options: a whole enum of the model, or the members of one the statute prints
#: (in print order), so no option's wording is copied into a form module.
Options = type[Labelled] | tuple[Labelled, ...]


@dataclass(frozen=True)
class Column:
    """A column of a records item (a table, or a repeated structured value).

    ``group`` is the heading the statute prints over this column and its neighbours of the same
    group (a two-level table head); ``label`` is then the sub-column's own heading.
    """

    key: str
    label: str
    type: Literal["text", "date", "int", "enum"] = "text"
    enum: builtins.type[Labelled] | None = None
    get: Callable[[Any], Any] = lambda row: None
    group: str = ""

    @property
    def title(self) -> str:
        """The column's full heading: «group: label» under a spanning heading, else the label."""
        return f"{self.group}: {self.label}" if self.group else self.label


def table_head(columns: Sequence[Column]) -> tuple[tuple[HeaderCell, ...], ...]:
    """The head of a table as the statute prints it: one row of headings or, where a heading
    spans sub-columns (:attr:`Column.group`), two rows; the other headings then span both rows."""
    two = any(c.group for c in columns)
    top: list[HeaderCell] = []
    sub: list[HeaderCell] = []
    i = 0
    while i < len(columns):
        col = columns[i]
        if not col.group:
            top.append(HeaderCell(col.label, i, rowspan=2 if two else 1))
            i += 1
            continue
        n = 1
        while i + n < len(columns) and columns[i + n].group == col.group:
            n += 1
        top.append(HeaderCell(col.group, i, colspan=n))
        sub += [HeaderCell(columns[j].label, j) for j in range(i, i + n)]
        i += n
    return (tuple(top), tuple(sub)) if two else (tuple(top),)


@dataclass(frozen=True)
class OptionGroup:
    """Options of a "нужное подчеркнуть" item that the statute prints under one heading:
    «пенсионер: по возрасту, за особые условия труда, ...» or «основное (общее базовое
    образование, ..., высшее образование)».

    The heading is no value of its own (XML and XSD know only the options); it is underlined
    with the option(s) chosen under it, since it is then what applies too (a pensioner, basic
    education). ``members`` are consecutive members of the item's enum, so the print order is
    the enum's. ``brackets``: «heading (a, b)», else «heading: a, b»; ``sep`` goes between them.
    An empty heading only sets the separator between its members (IPMRA item 12: «в амбулаторных
    (стационарных) условиях»).
    """

    heading: str
    members: tuple[Labelled, ...]
    brackets: bool = False
    sep: str = ", "


@dataclass(frozen=True)
class ItemDef:
    """One numbered item of a paper form.

    ``label`` is the statute's wording up to the blank; ``suffix`` what follows the
    options of a "нужное подчеркнуть" item. ``groups`` gathers some of a choice's options under
    the statute's headings; ``sep`` is what the statute prints between a choice's options
    (or option groups), default ", ", or between the children of an inline group, default " ".
    ``column_numbers``: the table head ends with a row numbering the columns 1, 2, ...
    """

    no: str
    key: str
    label: str
    kind: Kind = "text"
    get: Getter | None = None
    required: bool = False
    enum: Options | None = None
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
    #: False: in the XML only (for the electronic exchange), not on the paper form (PDF, DOCX).
    printed: bool = True
    #: The value is the form's own fixed wording (the extract's right to appeal): printed as
    #: text after the label, not as a filled-in blank.
    fixed: bool = False
    xsd_type: str | None = None
    labels: Mapping[str, str] | None = None
    doc: str = ""
    groups: tuple[OptionGroup, ...] = ()
    sep: str = ""
    column_numbers: bool = False
    #: The most rows a records item holds: its XSD maxOccurs, from the case model's list limit
    #: (:func:`list_limit`) or the rows the statute prints.
    max_rows: int | None = None
    #: The longest text the case model gives this item: its XSD maxLength. Derived from the model,
    #: never typed by hand: :func:`text_limit` (one string field), :func:`name_limit`,
    #: :func:`address_limit`, :func:`joined_limit` (a list of texts joined, maybe above c:Text's 8000).
    max_length: int | None = None
    #: The punctuation the statute prints right after the item (its blank, its options, its
    #: suffix): «.», «;» or «,», glued to a filled value, never after a space.
    end: str = ""
    #: What the statute prints right after the label and its footnote mark («Решение МРЭК³:»).
    label_end: str = ""
    #: A choice's or a group's label is followed by a colon («Пол: мужской, женский»); False where
    #: the statute prints none («Сформирована индивидуальная …», appendix 11 item 14; act item 32).
    colon: bool = True
    #: Options of a life-activity item the statute prints without «ФК __» (act item 24).
    no_fc: frozenset[str] = frozenset()
    #: The caption the statute prints under this blank of an inline group, in brackets
    #: («(наименование органа, организации)», appendix 11); also the XSD documentation.
    caption: str = ""

    def __post_init__(self) -> None:
        if self.kind == "records" and not self.max_rows:
            raise ValueError(f"{self.key}: a records item needs max_rows (its XSD maxOccurs)")
        if not self.groups:
            return
        if self.enum is None:
            raise ValueError(f"{self.key}: option groups without an enum")
        order = [m.value for m in self.enum]
        grouped: set[str] = set()
        for g in self.groups:
            values = [m.value for m in g.members]
            if not values or any(v not in order for v in values):
                raise ValueError(f"{self.key}: group {g.heading!r} holds no or foreign options")
            start = order.index(values[0])
            if order[start : start + len(values)] != values:
                raise ValueError(f"{self.key}: group {g.heading!r} is not consecutive in the enum's order")
            if grouped & set(values):
                raise ValueError(f"{self.key}: an option in two groups")
            grouped |= set(values)

    @property
    def head(self) -> tuple[tuple[HeaderCell, ...], ...]:
        """A records item's table head as the statute prints it (:func:`table_head`)."""
        return table_head(self.columns)

    @property
    def separator(self) -> str:
        return self.sep or (" " if self.kind == "group" else ", ")

    def option_label(self, member: Labelled) -> str:
        """An option's wording on this form: the enum's, unless this form words it otherwise."""
        return (self.labels or {}).get(member.value, member.label)

    @property
    def documentation(self) -> str:
        """The statute's item number and wording, for the XSD."""
        head = f"{self.no}. " if self.no else ""
        text = head + self.label
        if self.enum is not None:
            options = [Option(m.value, self.option_label(m)) for m in self.enum]
            text += (": " if self.label else "") + "".join(r.text for r in self._runs(self._parts(options)))
            text += f" {self.suffix}" if self.suffix else ""
            text += self.end
        return " ".join(part for part in (text, self.doc or self.caption) if part)

    def _parts(self, options: Sequence[Option]) -> tuple[Part, ...]:
        """The options as printed: each group under its heading, each other option alone."""
        group_of = {m.value: g for g in self.groups for m in g.members}
        by_value = {o.value: o for o in options}
        parts: list[Part] = []
        for o in options:
            g = group_of.get(o.value)
            if g is None:
                parts.append(Part(heading="", options=(o,), selected=o.selected))
            elif o.value == g.members[0].value:
                members = tuple(by_value[m.value] for m in g.members)
                selected = any(m.selected for m in members)
                parts.append(Part(g.heading, members, selected=selected, brackets=g.brackets, sep=g.sep))
        return tuple(parts)

    def _runs(self, parts: Sequence[Part], fc: bool = False) -> tuple[Run, ...]:
        """The printed options cut into runs: every option and heading a run of its own,
        ``chosen`` (underlined) as recorded; the punctuation between them plain. ``fc``: a
        life-activity category prints its functional class beside it («... ФК 2», «... ФК __»)."""
        runs: list[Run] = []

        def add(text: str, chosen: bool = False) -> None:
            runs.append(Run(text, chosen))

        for i, part in enumerate(parts):
            if i:
                add(self.separator)
            if part.heading:
                add(part.heading, part.selected)
                add(" (" if part.brackets else ": ")
            for j, o in enumerate(part.options):
                if j:
                    add(part.sep)
                label = o.label
                if fc and (o.selected or o.value not in self.no_fc):
                    label += (f" ФК {o.detail}" if o.detail else "") if o.selected else " ФК __"
                add(label, o.selected)
            if part.heading and part.brackets:
                add(")")
        return tuple(runs)

    def evaluate(self, case: Case) -> Item:
        """The item filled in from ``case``."""
        raw = self.get(case) if self.get is not None else None
        item = Item(
            no=self.no,
            key=self.key,
            label=self.label,
            kind=self.kind,
            suffix=self.suffix,
            end=self.end,
            label_end=self.label_end,
            colon=self.colon,
            caption=self.caption,
            footnote=self.footnote,
            inline=self.inline,
            printed=self.printed,
            fixed=self.fixed,
            sep=self.separator,
            children=tuple(c.evaluate(case) for c in self.children),
        )
        if self.kind == "date":
            return replace(item, value=raw.isoformat() if raw else None, display=format_date(raw))
        if self.kind == "int":
            return replace(item, value=raw, display="" if raw is None else str(raw))
        if self.kind == "text":
            value = display_text(raw)
            listed = tuple(str(x) for x in raw) if isinstance(raw, list) and raw else None
            return replace(item, value=listed or value or None, display=value)
        if self.kind == "choice":
            return self._choice(item, case, raw)
        if self.kind == "records":
            return self._records(item, case, raw)
        return item

    def _choice(self, item: Item, case: Case, raw: Any) -> Item:
        assert self.enum is not None
        chosen = list(raw or []) if self.multi else ([raw] if raw is not None else [])
        chosen_values = {c.value if isinstance(c, Enum) else c for c in chosen}
        options = tuple(Option(m.value, self.option_label(m), m.value in chosen_values) for m in self.enum)
        parts = self._parts(options)
        values = tuple(m.value for m in self.enum if m.value in chosen_values)
        other = display_text(self.other(case)) if self.other else ""
        return replace(
            item,
            multi=self.multi,
            options=options,
            parts=parts,
            runs=self._runs(parts),
            value=values if self.multi else (values[0] if values else None),
            other=other or None,
            display=", ".join(self.option_label(m) for m in self.enum if m.value in chosen_values),
        )

    def _records(self, item: Item, case: Case, raw: Any) -> Item:
        rows = tuple(_row(self.columns, r) for r in (raw or []))
        table = Table(
            columns=tuple(contract.Column(c.key, c.title, c.type, c.group, c.label) for c in self.columns),
            head=table_head(self.columns),
            rows=rows,
            column_numbers=self.column_numbers,
            inline=not self.table,
            total=self.total(case) if self.total else None,
            total_label=self.total_label,
        )
        item = replace(
            item,
            table=table,
            other=(display_text(self.other(case)) or None) if self.other else None,
            display="; ".join(" ".join(c.display for c in row.cells if c.display) for row in rows),
        )
        if self.enum is None:
            return item
        # every option printed, the recorded ones underlined
        by_value = {row.cell(self.columns[0].key).value: row for row in rows}
        options = tuple(
            Option(
                m.value,
                self.option_label(m),
                m.value in by_value,
                by_value[m.value].cell(self.columns[1].key).display if m.value in by_value else "",
            )
            for m in self.enum
        )
        parts = self._parts(options)
        return replace(item, options=options, parts=parts, runs=self._runs(parts, fc=True))


#: Words the statute prints for either sex («признан(а)»): the form matching the patient's sex.
GENDERED = ("признан(а)", "направлен(а)", "освидетельствован(а)", "зарегистрирован(а)")
#: The fields of the contract's objects that are printed, or the XML's value as printed: where
#: a gendered word is put in the patient's form.
PRINTED_FIELDS = frozenset({"label", "display", "text", "suffix", "other", "value"})

T = typing.TypeVar("T")


def gendered(data: T, case: Case) -> T:
    """``data`` with «признан(а)», «направлен(а)»... in the form matching the patient's sex
    («признан» / «признана») wherever it is printed and in the XML's values alike; unchanged when
    the sex is not known. What holds no such word is returned as it is (the same object)."""
    sex = getattr(getattr(case, "patient", None), "sex", None)
    value = getattr(sex, "value", None)
    if value not in ("male", "female"):
        return data
    ending = "" if value == "male" else "а"

    def fix(text: str) -> str:
        if GENDER_MARK not in text:
            return text
        for word in GENDERED:
            text = text.replace(word, word[:-3] + ending)
        return text

    def walk(node: Any) -> Any:
        kind: type = type(node)
        if kind in _LEAVES:
            return node
        plan = _printed_fields(kind)
        if plan is not None:
            changes = {}
            for name, printed in plan:
                old = getattr(node, name)
                new = fix(old) if printed and isinstance(old, str) else walk(old)
                if new is not old:
                    changes[name] = new
            return replace(node, **changes) if changes else node
        if isinstance(node, Mapping):
            return {k: fix(v) if k in PRINTED_FIELDS and isinstance(v, str) else walk(v) for k, v in node.items()}
        if kind is tuple:
            walked = tuple(walk(x) for x in node)
            return node if all(a is b for a, b in zip(walked, node, strict=True)) else walked
        return node

    return typing.cast(T, walk(data))


#: What every gendered word ends with: a text without it needs no change.
GENDER_MARK = "(а)"
assert all(w.endswith(GENDER_MARK) for w in GENDERED)
#: Values :func:`gendered` never looks into.
_LEAVES = frozenset({str, int, float, bool, type(None), date})


@functools.cache
def _printed_fields(kind: builtins.type[Any]) -> tuple[tuple[str, bool], ...] | None:
    """A dataclass's fields, each with whether it is printed (:data:`PRINTED_FIELDS`); None for
    any other type."""
    if not is_dataclass(kind):
        return None
    return tuple((f.name, f.name in PRINTED_FIELDS) for f in fields(kind))


def list_limit(model: builtins.type[Any], field_name: str) -> int:
    """The max_length the case model sets on a list field (a records item's :attr:`ItemDef.max_rows`)."""
    for constraint in model.model_fields[field_name].metadata:
        limit = getattr(constraint, "max_length", None)
        if isinstance(limit, int):
            return limit
    raise ValueError(f"{model.__name__}.{field_name} has no max_length")


def _string_limit(annotation: Any) -> int | None:
    """The max_length of a string type: ``Annotated[str, StringConstraints(max_length=...)]``,
    maybe optional (``... | None``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        limits = [m.max_length for m in metadata if isinstance(getattr(m, "max_length", None), int)]
        return limits[0] if limits and base is str else None
    if annotation is str or typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None  # a plain str, a list, a model
    found = {limit for arg in typing.get_args(annotation) if arg is not type(None) if (limit := _string_limit(arg))}
    return found.pop() if len(found) == 1 else None


def text_limit(model: builtins.type[Any], field_name: str) -> int:
    """The max_length the case model sets on a string field: the XSD maxLength of an item whose
    value is that field (:attr:`ItemDef.max_length`)."""
    info = model.model_fields[field_name]
    limit = _string_limit(info.annotation)
    if limit is None and info.annotation is str:  # ``Annotated[str, ...]`` unwrapped by pydantic
        limits = [m.max_length for m in info.metadata if isinstance(getattr(m, "max_length", None), int)]
        limit = limits[0] if limits else None
    if limit is None:
        raise ValueError(f"{model.__name__}.{field_name} is no string with a max_length")
    return limit


def name_limit() -> int:
    """The longest full name (:attr:`PersonName.full`): last, first and middle name, joined."""
    parts = [text_limit(PersonName, f) for f in ("last", "first", "middle")]
    return sum(parts) + len(NAME_SEP) * (len(parts) - 1)


def address_limit() -> int:
    """The longest address as printed (``str(Address)``): postcode, separator, line."""
    return text_limit(Address, "postcode") + len(ADDRESS_SEP) + text_limit(Address, "line")


def joined_limit(model: builtins.type[Any], field_name: str) -> int:
    """The longest text a list of strings of the case model makes once joined by single spaces
    (as the XML writes a list's items): rows × the item's limit + the spaces between."""
    (item,) = typing.get_args(model.model_fields[field_name].annotation)
    longest = _string_limit(item)
    if longest is None:
        raise ValueError(f"{model.__name__}.{field_name} is no list of strings with a max_length")
    count = list_limit(model, field_name)
    return count * longest + count - 1


def _row(columns: Sequence[Column], record: Any) -> Row:
    cells: list[Cell] = []
    for col in columns:
        raw = col.get(record)
        if col.type == "date":
            cells.append(Cell(col.key, raw.isoformat() if raw else None, format_date(raw)))
        elif col.type == "enum":
            cells.append(Cell(col.key, raw.value if raw is not None else None, raw.label if raw is not None else ""))
        else:
            text = display_text(raw)
            cells.append(Cell(col.key, raw if col.type == "int" else (text or None), text))
    return Row(tuple(cells))


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
    #: «(подпись)» and «(инициалы, фамилия)» under the lines, where the form prints them.
    captions: bool = True
    #: The name's line before the signature's, as some forms print them
    #: («(инициалы, фамилия) (подпись)», appendix 11).
    name_first: bool = False

    def evaluate(self, case: Case) -> Signature:
        """The signature line(s) of ``case``: one per signer's name, one empty line if none."""
        names = tuple(n.initials for n in self.names(case)) or ("",)
        return Signature(
            role=self.role,
            title=self.title,
            names=names,
            seal=self.seal,
            seal_footnote=self.seal_footnote,
            captions=self.captions,
            name_first=self.name_first,
        )


@dataclass(frozen=True)
class Source:
    seed: str
    appendix: str
    lines: str

    def __str__(self) -> str:
        return f"{self.seed}, {self.appendix}, lines {self.lines}"


#: The seed of resolution No. 77 (the Instruction and its appendices): where the Belarusian
#: forms, journals and the session protocol are defined.
BY_SEED = "004_5509ffa87cccaffb.txt"


def by_source(appendix: str, lines: str) -> Source:
    """Where resolution No. 77 defines a Belarusian document (:data:`BY_SEED`)."""
    return Source(BY_SEED, appendix, lines)


@dataclass(frozen=True)
class FormSpec(Declared):
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
    #: The form's own free-form data for its templates (:data:`msedocs.contract.Extra`).
    extra: Callable[[Case], Extra] | None = field(default=None)
    jurisdiction: Jurisdiction = Jurisdiction.BY
    #: The key of a header item the statute prints in the title line («… КОМИССИИ № ___»).
    title_item: str | None = None
    #: The variant the case itself asks for, if any: True paper, False electronic, None no
    #: preference (the extract follows the case's delivery channel). Used by ``render``'s
    #: default ``--variant auto``; an explicit variant overrides it.
    paper_for: Callable[[Case], bool | None] | None = None
    #: A line the statute prints above the title (the slip's «Подлежит возврату …»).
    note: str = ""
    #: The title printed as declared, before the header's captions, not in capitals after them
    #: (the slip's «Отрывной талон»).
    title_as_printed: bool = False
    #: A form printed on the same sheet after «Линия отреза» (the referral's slip): its data
    #: travels in this form's ``Document.slip``, its footnotes are this form's.
    tear_off: FormSpec | None = None

    @property
    def kind(self) -> Literal["form"]:
        return "form"

    @property
    def visible_stamp(self) -> bool:
        """Russian forms carry the visible signature stamp of Russian practice."""
        return self.jurisdiction == Jurisdiction.RU

    def stamp_room(self) -> StampRoom | None:
        """The room the electronic PDF reserves for its signers' visible stamps (see
        ``msedocs.contract``), so that no stamp covers the text."""
        if not self.visible_stamp or not self.signers:
            return None
        return StampRoom.for_signers(len(self.signers))

    def applies_to(self, case: Case) -> bool:
        """Whether the form is drawn up for this case: its country's, and what it records is there."""
        return case.jurisdiction == self.jurisdiction and self.applies(case)

    def data(self, case: Case) -> Document:
        """The one document that feeds XML, PDF and DOCX."""
        return gendered(self._data(case), case)

    def _data(self, case: Case) -> Document:
        return Document(
            heading(self),
            title_item=self.title_item,
            case_id=case.case_id,
            header=tuple(h.evaluate(case) for h in self.header),
            items=tuple(i.evaluate(case) for i in self.items),
            signatures=tuple(s.evaluate(case) for s in self.signers),
            footnotes=self.footnotes,
            extra=self.extra(case) if self.extra else {},
            slip=self.tear_off.data(case) if self.tear_off else None,
            note=self.note,
            title_as_printed=self.title_as_printed,
            stamp_room=self.stamp_room(),
        )

    def all_items(self) -> list[ItemDef]:
        out: list[ItemDef] = []

        def walk(items: Sequence[ItemDef]) -> None:
            for it in items:
                out.append(it)
                walk(it.children)

        walk(self.header)
        walk(self.items)
        return out
