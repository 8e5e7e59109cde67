"""The contract between ``msedocs.forms`` and the generators: what a document is once filled in.

``msedocs.forms`` builds these objects from a case (or, for a journal and the session
protocol, from many); ``generators`` read them, every format from the same object, so the XML,
the PDF and the DOCX cannot disagree. This module depends on nothing but the standard library,
so the generators and ``signing`` import it without the rest of msedocs (``tests/test_error_tree.py``).

Each type is named for what it is on the paper form::

    Document (a form; Heading: form id, title, XML root and namespace)
    ├── header, items: Item       number, wording, value (XML) and display (print), kind
    │   ├── options: Option       a choice's options in the list's order, the chosen ones selected
    │   ├── parts: Part           the options as printed, grouped under the statute's headings
    │   ├── runs: Run             the printed text cut into runs, the chosen ones underlined
    │   ├── table: Table          columns (Column), head (HeaderCell rows), rows (Row of Cell)
    │   └── children: Item        a group's sub-items or the blanks of one line
    ├── signatures: Signature     signature lines and the signing role behind them
    ├── stamp_room: StampRoom     where an electronic PDF's visible stamps go
    ├── slip: Document            a form printed after «Линия отреза» on the same sheet
    └── extra                     a form's own free-form texts (a typed Mapping)
    Journal (a register)          JournalColumn, rows (Rows: streamed, never all in memory)
    SessionProtocol               an ActBlock of CategoryRow per act, signatures

Templates read attributes (``item.label``, ``row.cells``); the journal's Typst template reads
them as JSON (``dataclasses.asdict``). It also holds what both sides need: the date as the paper
forms print it (:func:`format_date`) and the geometry of the visible signature stamps, whose
room a form reserves on its page and ``signing`` fills (:class:`StampRoom`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def format_date(value: date | None) -> str:
    """A date the way the paper forms print it: «23» ноября 2026 г."""
    if value is None:
        return ""
    return f"«{value.day:02d}» {MONTHS_GENITIVE[value.month - 1]} {value.year} г."


# --- the visible signature stamps -----------------------------------------------------------------

#: The named destination (an element's id in the PDF) that reserves the stamps' room.
STAMP_ANCHOR = "esign-stamp"
#: One stamp, in points, and the gaps between stamps: laid two to a row from the anchor down.
STAMP_WIDTH, STAMP_HEIGHT, STAMP_GAP_X, STAMP_GAP_Y = 260, 70, 10, 8


@dataclass(frozen=True, slots=True)
class StampRoom:
    """The room an electronic PDF reserves for its signers' visible stamps, below the signature
    lines, so that no stamp covers the text: an element with the id :data:`STAMP_ANCHOR`,
    ``width`` by ``height`` points."""

    anchor: str
    width: int
    height: int

    @classmethod
    def for_signers(cls, count: int) -> StampRoom:
        """The room of ``count`` stamps, laid two to a row."""
        columns, rows = min(count, 2), (count + 1) // 2
        return cls(
            anchor=STAMP_ANCHOR,
            width=columns * STAMP_WIDTH + (columns - 1) * STAMP_GAP_X,
            height=rows * STAMP_HEIGHT + (rows - 1) * STAMP_GAP_Y,
        )


# --- what every document says of itself -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    """What a document says of itself, whatever its kind: its form id and statutory title, and
    its XML root element in its versioned namespace."""

    form_id: str
    title: str
    #: The version of the XML namespace.
    version: str
    namespace: str
    xml_root: str


@dataclass(frozen=True, slots=True)
class Headed:
    """A document with its :class:`Heading`; its form id and title are read by name too
    (``data.title``), the rest of the heading is the XML builder's (``data.heading.namespace``)."""

    heading: Heading

    @property
    def form_id(self) -> str:
        return self.heading.form_id

    @property
    def title(self) -> str:
        return self.heading.title


# --- a form ---------------------------------------------------------------------------------------

#: What an item is on the paper form: a blank for a text, a date or a number; «нужное
#: подчеркнуть» options (``choice``); a table or repeated entries (``records``); numbered
#: sub-items or the blanks of one line (``group``).
Kind = Literal["text", "date", "int", "choice", "records", "group"]

#: An item's value as the XML writes it: a text, an ISO date, a number, the chosen option's
#: value (a choice), the chosen options' values (a multiple choice) or a list's texts; None
#: when the blank stays empty (and for a table or a group, whose values are their rows and children).
Value = str | int | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of printed text, underlined (``chosen``) or not: an option, a heading, or the
    punctuation between them. A choice's runs are its options as the statute prints them."""

    text: str
    chosen: bool = False


@dataclass(frozen=True, slots=True)
class Option:
    """One of a choice's options, in the order of its list (what the XML and the XSD know)."""

    #: The option's value in the XML.
    value: str
    #: Its wording on the form.
    label: str
    #: Chosen (underlined on paper, written in the XML).
    selected: bool = False
    #: What is printed beside a chosen option: a life-activity category's functional class.
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Part:
    """A choice's options as the statute prints them: a group under its ``heading`` («пенсионер:
    по возрасту, …», or «heading (a, b)» with ``brackets``), or one option alone (no heading).
    ``selected``: an option of the part is chosen (the heading is then underlined too); ``sep``
    is printed between the part's options."""

    heading: str
    options: tuple[Option, ...]
    selected: bool = False
    brackets: bool = False
    sep: str = ""


#: What a table's column holds: its cells' values in the XML are texts, ISO dates, numbers or
#: an option's value.
ColumnType = Literal["text", "date", "int", "enum"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table (or of repeated entries printed in the text)."""

    #: The XML element of its cells.
    key: str
    #: Its full heading: «group: sub» under a spanning heading, else its own.
    label: str
    type: ColumnType = "text"
    #: The heading printed over this column and its neighbours of the same group, if any.
    group: str = ""
    #: The column's own heading under a spanning one (else its label).
    sub: str = ""


@dataclass(frozen=True, slots=True)
class HeaderCell:
    """A cell of a table's head: its heading, its first column (0-based) and how many columns and
    head rows it spans (a heading over sub-columns, or one beside them spanning both rows)."""

    text: str
    col: int
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True, slots=True)
class Cell:
    """A table's cell: its column's key, its value as the XML writes it, its text as printed."""

    key: str
    #: A text, an ISO date, a number or an option's value; None when the cell is empty.
    value: str | int | None
    display: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """A row of a table: one cell per column, in the columns' order."""

    cells: tuple[Cell, ...]

    def cell(self, key: str) -> Cell:
        """The cell of the column ``key``."""
        for c in self.cells:
            if c.key == key:
                return c
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class Table:
    """A records item's rows under the statute's column headings (incapacity periods,
    hospitalisations, the card's past decisions...)."""

    columns: tuple[Column, ...]
    #: The head as printed: one row of headings, or two where a heading spans sub-columns.
    head: tuple[tuple[HeaderCell, ...], ...]
    rows: tuple[Row, ...] = ()
    #: The head ends with a row numbering the columns 1, 2, ...
    column_numbers: bool = False
    #: The rows printed in the text after the label, on its blank («(указать) ___»), not as a ruled table.
    inline: bool = False
    #: The total printed under the table after ``total_label`` («Всего дней …»).
    total: str | None = None
    total_label: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered item of a paper form, filled in: its number and wording, its value as the
    XML writes it (``value``) and as the form prints it (``display``), and what the statute
    prints around it."""

    #: The statute's item number («4», «11.2»); empty for an unnumbered blank.
    no: str
    #: The XML element's name.
    key: str
    #: The statute's wording up to the blank.
    label: str
    kind: Kind
    value: Value = None
    #: The value as printed: a date as «23» ноября 2026 г., a choice's chosen options by their wording.
    display: str = ""
    #: What follows the blank or the options («(нужное подчеркнуть)»).
    suffix: str = ""
    #: The punctuation right after the item («.», «;», «,»), glued to a filled value.
    end: str = ""
    #: What follows the label and its footnote mark («:»).
    label_end: str = ""
    #: A choice's or a group's label is followed by a colon.
    colon: bool = True
    #: The caption printed under this blank of an inline group («(наименование органа)»).
    caption: str = ""
    #: The mark of the footnote after the label.
    footnote: int | None = None
    #: A group whose children are the blanks of one line (not sub-items of their own).
    inline: bool = False
    #: False: in the XML only, not on the paper form.
    printed: bool = True
    #: The value is the form's own fixed wording, printed after the label (not on a blank).
    fixed: bool = False
    #: What is printed between a choice's parts, or between an inline group's children.
    sep: str = ", "
    #: A group's sub-items or blanks.
    children: tuple[Item, ...] = ()
    #: A choice of several options.
    multi: bool = False
    #: A choice's options (also a table's whose rows are the options chosen: every option printed).
    options: tuple[Option, ...] = ()
    #: The options as printed, grouped under the statute's headings.
    parts: tuple[Part, ...] = ()
    #: The printed options cut into runs, the chosen ones underlined.
    runs: tuple[Run, ...] = ()
    #: «другое (указать)»: the text given for an option not in the list.
    other: str | None = None
    #: A records item's table (None for every other kind).
    table: Table | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature line (or lines, one per name) of a document and the signing role behind it."""

    #: The signing role (chairman, member, bureau_head…).
    role: str
    #: The signer's title as printed («Председатель МРЭК»).
    title: str
    #: The signers' initials and surnames, one line each; ``("",)`` for an empty line.
    names: tuple[str, ...]
    #: «М.П.» under the signature, on paper.
    seal: bool = False
    #: The footnote mark after «М.П.».
    seal_footnote: int | None = None
    #: «(подпись)» and «(инициалы, фамилия)» under the lines.
    captions: bool = True
    #: The name's line before the signature's («(инициалы, фамилия) (подпись)»).
    name_first: bool = False


#: What a form hands its templates besides its items, free-form by design: one form's own
#: wording or facts that no other form has (the Russian extract: ``esign_statement``, the first
#: sentence of its e-signature statement, and ``delivery``, the case's channel).
Extra = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Document(Headed):
    """A form filled in for one case: what the XML builder, the HTML template and the DOCX
    template all read."""

    case_id: str
    #: Above and under the title: the commission's name, the number and date.
    header: tuple[Item, ...]
    items: tuple[Item, ...]
    signatures: tuple[Signature, ...]
    #: Each footnote as the statute prints it, its mark first («1 Заполняется …»).
    footnotes: tuple[str, ...]
    #: The key of a header item printed in the title line («… КОМИССИИ № ___»).
    title_item: str | None = None
    #: A line printed above the title (the slip's «Подлежит возврату …»).
    note: str = ""
    #: The title printed as declared, before the header's captions (the slip's «Отрывной талон»).
    title_as_printed: bool = False
    #: The room reserved for visible signature stamps in the electronic PDF (Russian forms).
    stamp_room: StampRoom | None = None
    #: A form printed on the same sheet after «Линия отреза» (the referral's slip).
    slip: Document | None = None
    extra: Extra = field(default_factory=dict)


# --- a journal ------------------------------------------------------------------------------------

#: A journal's row: each column's text (a date in ISO form), None where the cell is empty;
#: column 1 is the row's number.
JournalRow = tuple[str | None, ...]


class Rows(Protocol):
    """A journal's numbered rows in order; iterated once per output format (a list for a short
    journal, a spool on disk for a long one, so rows never need to sit in memory)."""

    def __iter__(self) -> Iterator[JournalRow]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class JournalColumn:
    """A numbered column of a journal: the statute's number and heading, its XML element."""

    #: The column's number as the statute prints it under the headings (1: «№ п/п»).
    no: int
    key: str
    label: str
    #: Its cells are texts, ISO dates (printed as «23» ноября 2026 г.) or, column 1, numbers.
    type: Literal["int", "text", "date"]
    #: Millimetres of the landscape page's text width (the PDF and DOCX share it, in proportion).
    width: float


@dataclass(frozen=True, slots=True)
class Journal(Headed):
    """A register of one commission over a period: its numbered columns and rows
    (Журнал протоколов заседаний МРЭК and the other registers of appendices 4-7)."""

    #: The commission that keeps it, printed above the title.
    commission: str
    #: The period in ISO form (the XML's) and as printed after «Начат» and «Окончен».
    start: str
    end: str
    started: str
    finished: str
    columns: tuple[JournalColumn, ...]
    rows: Rows
    footnotes: tuple[str, ...]


# --- the session protocol -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryRow:
    """A row of an act's block in the session protocol: «Категория данных» and «Данные»."""

    #: The XML element's name.
    key: str
    #: The statute's category of data.
    label: str
    #: The data as printed (a date as «23» ноября 2026 г.); None when there is none.
    value: str | None
    #: The data as the XML writes it (a date in ISO form).
    xml: str | None


@dataclass(frozen=True, slots=True)
class ActBlock:
    """The block of one act examined in the session: its number and its rows of data."""

    act_number: str
    rows: tuple[CategoryRow, ...]


@dataclass(frozen=True, slots=True)
class SessionProtocol(Headed):
    """Протокол заседания МРЭК: one session of a commission, one block per act examined."""

    commission: str
    number: str
    #: The session's date in ISO form (the XML's) and as printed.
    date: str
    date_display: str
    acts: tuple[ActBlock, ...]
    signatures: tuple[Signature, ...]
    footnotes: tuple[str, ...]
    #: The protocol carries no visible stamps, no slip and nothing of its own: the signature
    #: block it shares with the forms reads these as empty.
    stamp_room: StampRoom | None = None
    extra: Extra = field(default_factory=dict)


#: What a registered document's ``data(...)`` builds: a form's document, a journal or the
#: session protocol.
DocumentData = Document | Journal | SessionProtocol
