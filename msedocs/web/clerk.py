"""What the clerk's pages do with the outbox, without HTTP: the day's paper items with their
deadlines in working days, tracking numbers as typed or scanned, returns, an item's history.

Only postal items (registered mail) are shown, and of them only what delivery needs: the case
reference, the addressee's name and address, the documents, the deadline, the tracking number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from msedocs.delivery.calendar import working_days_between
from msedocs.delivery.models import Channel, HistoryEntry, Item, State
from msedocs.delivery.store import Outbox
from msedocs.delivery.tracking import check_digit
from msedocs.web.store import Event, WebStore

STATE_TITLES = {
    State.QUEUED: "ожидает печати",
    State.PRINTED: "напечатано, не передано",
    State.HANDED_OVER: "передано на почту",
    State.DELIVERED: "вручено",
    State.RETURNED: "возвращено",
    State.DEAD: "не доставлено",
    State.SENDING: "отправляется",
    State.RETRY_WAIT: "ожидает повтора",
    State.UNRESOLVED: "требует решения",
}

#: The status filter of «Сегодня»: value -> (title, states).
STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "active": ("требуют действий", (State.QUEUED, State.PRINTED)),
    State.QUEUED: ("ожидают печати", (State.QUEUED,)),
    State.PRINTED: ("напечатаны, не переданы", (State.PRINTED,)),
    State.HANDED_OVER: ("переданы на почту", (State.HANDED_OVER,)),
    State.RETURNED: ("возвращены", (State.RETURNED,)),
    State.DELIVERED: ("вручены", (State.DELIVERED,)),
    "all": ("все", None),
}

SORTS = {
    "due": "срок",
    "case": "№ дела",
    "addressee": "адресат",
    "status": "статус",
    "id": "№ отправления",
}

RETURN_REASONS = {
    "expired": "истёк срок хранения",
    "refused": "отказ адресата",
    "moved": "адресат выбыл",
    "address": "адресат не найден, адрес неверен или неполон",
    "other": "иная причина",
}

HISTORY_TITLES = {
    State.QUEUED: "поставлено в очередь",
    State.PRINTED: "включено в список и напечатано",
    State.HANDED_OVER: "передано на почту",
    State.DELIVERED: "вручено адресату",
    State.RETURNED: "возвращено отправителю",
    State.DEAD: "не доставлено",
    State.SENDING: "отправка на портал",
    State.RETRY_WAIT: "ожидание повторной отправки",
    State.UNRESOLVED: "требует решения",
}

MAX_TRACKING_LINES = 500


@dataclass(frozen=True)
class Deadline:
    """An item's deadline as the clerk reads it."""

    due: dt.date
    days_left: int
    """Working days from today to the due date (negative: overdue)."""
    kind: str
    """``overdue``, ``today``, ``soon`` (the next working day), ``later`` or ``done``."""
    text: str


def deadline(item: Item, today: dt.date) -> Deadline:
    done = item.completed_on
    if done is not None:
        late = done > item.due_date
        text = f"выполнено {done:%d.%m.%Y}" + (" с опозданием" if late else " в срок")
        return Deadline(item.due_date, 0, "done", text)
    left = working_days_between(today, item.due_date, item.country)
    if item.due_date < today:
        over = -left
        return Deadline(item.due_date, left, "overdue", f"просрочено на {over} раб. дн." if over else "просрочено")
    if item.due_date == today:
        return Deadline(item.due_date, 0, "today", "срок сегодня")
    return Deadline(item.due_date, left, "soon" if left <= 1 else "later", f"осталось {left} раб. дн.")


def due_items(outbox: Outbox, today: dt.date) -> list[Item]:
    """The postal items «Все на сегодня» prints: still queued and due today or overdue.

    The due date is the outbox's own (:func:`msedocs.delivery.calendar.extract_due_date`, in
    working days by the production calendar of the item's country, kept on the item): an item is
    due when that day has come, which is when :func:`deadline` calls it ``today`` or ``overdue``."""
    items = outbox.find_items(channel=Channel.POST, states=[State.QUEUED], due_to=today, limit=100_000)
    return [i for i in items if deadline(i, today).kind in ("overdue", "today")]


@dataclass(frozen=True)
class Row:
    item: Item
    deadline: Deadline
    state_title: str
    numbers: str

    @property
    def addressee(self) -> str:
        return self.item.recipient.name or ""

    @property
    def address(self) -> str:
        r = self.item.recipient
        line = (r.address or "").replace("\n", ", ")
        return f"{r.postcode}, {line}" if r.postcode else line


def _extract_numbers(outbox: Outbox, item: Item) -> str:
    """The numbers of the item's documents (the extract's and the act's), read from its XML."""
    from lxml import etree

    found: list[str] = []
    for doc in outbox.documents(item.id):
        if doc.media_type not in ("application/xml", "text/xml"):
            continue
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            root = etree.fromstring(doc.content, parser)
        except etree.XMLSyntaxError:
            continue
        for path in ("{*}header/{*}extract/{*}number", "{*}act/{*}number", "{*}header/{*}number", "{*}number"):
            for el in root.findall(path):
                if el.text and el.text.strip() and el.text.strip() not in found:
                    found.append(el.text.strip()[:100])
    return "\n".join(found)


def index_numbers(outbox: Outbox, store: WebStore, items: Sequence[Item]) -> dict[int, str]:
    """The document numbers of ``items``, read once from each item's XML and kept for the search."""
    known = store.numbers([i.id for i in items])
    fresh = {i.id: _extract_numbers(outbox, i) for i in items if i.id not in known}
    store.set_numbers(fresh)
    return {**known, **fresh}


def rows(
    outbox: Outbox,
    store: WebStore,
    today: dt.date,
    *,
    status: str = "active",
    due_from: dt.date | None = None,
    due_to: dt.date | None = None,
    search: str = "",
    sort: str = "due",
    descending: bool = False,
) -> list[Row]:
    """The paper items of «Сегодня», filtered and sorted."""
    states = STATUS_FILTERS.get(status, STATUS_FILTERS["active"])[1]
    search = search.strip()
    items = outbox.find_items(channel=Channel.POST, states=states, due_from=due_from, due_to=due_to,
                              search=search or None)  # fmt: skip
    if search:
        index_numbers(outbox, store, outbox.find_items(channel=Channel.POST, states=states, limit=5000))
        by_number = store.items_with_number(search)
        seen = {i.id for i in items}
        extra = [i for i in outbox.find_items(channel=Channel.POST, states=states, due_from=due_from, due_to=due_to,
                                               ids=by_number) if i.id not in seen] if by_number else []  # fmt: skip
        items = items + extra
    numbers = index_numbers(outbox, store, items)
    out = [Row(i, deadline(i, today), STATE_TITLES.get(i.state, i.state), numbers.get(i.id, "")) for i in items]
    keys = {
        "due": lambda r: (r.item.due_date, r.item.id),
        "case": lambda r: (r.item.case_ref, r.item.id),
        "addressee": lambda r: (r.addressee.casefold(), r.item.id),
        "status": lambda r: (list(STATE_TITLES).index(r.item.state) if r.item.state in STATE_TITLES else 99,
                             r.item.due_date, r.item.id),
        "id": lambda r: (r.item.id,),
    }  # fmt: skip
    out.sort(key=keys.get(sort, keys["due"]), reverse=descending)  # type: ignore[arg-type]
    return out


# -- tracking numbers ------------------------------------------------------------------------


def tracking_problem(number: str) -> str | None:
    """What is wrong with a typed tracking number (spaces and dashes already removed), in
    Russian; None if it is 14 digits with the right check digit."""
    if not number.isdigit() or not number.isascii():
        return "ШПИ состоит только из цифр"
    if len(number) != 14:
        return f"в ШПИ 14 цифр, введено {len(number)}"
    if check_digit(number[:13]) != int(number[13]):
        return "контрольная цифра не сходится: номер введён или считан с ошибкой"
    return None


def normalise_tracking(text: str) -> str:
    return re.sub(r"[\s\-]", "", text)


@dataclass(frozen=True)
class TrackingLine:
    line: int
    number: str
    error: str | None
    item: Item | None = None


def check_tracking_lines(outbox: Outbox, text: str, expect: str) -> list[TrackingLine]:
    """Each non-empty line of ``text`` as a tracking number: its check digit, a repeat of an
    earlier line, and an item in state ``expect`` carrying it."""
    out: list[TrackingLine] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        number = normalise_tracking(raw)
        if not number:
            continue
        if len(out) >= MAX_TRACKING_LINES:
            out.append(TrackingLine(n, number[:20], f"не больше {MAX_TRACKING_LINES} номеров за раз"))
            break
        problem = tracking_problem(number)
        item = None
        if problem is None and number in seen:
            problem = f"этот ШПИ уже введён в строке {seen[number]}"
        if problem is None:
            item = outbox.find_tracking(number)
            problem = _state_problem(item, expect)
        seen.setdefault(number, n)
        out.append(TrackingLine(n, number[:20], problem, item))
    return out


def _state_problem(item: Item | None, expect: str) -> str | None:
    if item is None or item.channel != Channel.POST:
        return "нет отправления с таким ШПИ"
    if item.state == expect:
        return None
    if item.state == State.HANDED_OVER and item.handed_over_on is not None:
        return f"уже передано на почту {item.handed_over_on:%d.%m.%Y}"
    return f"отправление {STATE_TITLES.get(item.state, item.state)}"


def check_one(outbox: Outbox, text: str, expect: str) -> TrackingLine:
    number = normalise_tracking(text)
    if not number:
        return TrackingLine(1, "", "введите ШПИ")
    problem = tracking_problem(number)
    item = None
    if problem is None:
        item = outbox.find_tracking(number)
        problem = _state_problem(item, expect)
    return TrackingLine(1, number[:20], problem, item)


# -- history -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    at: dt.datetime
    what: str
    note: str
    who: str


def _note(entry: HistoryEntry) -> str:
    """The outbox's note of a state change, in Russian where it is one of the usual ones."""
    reason = entry.reason
    on = re.search(r" on (\d{4}-\d{2}-\d{2})$", reason)
    day = f"{dt.date.fromisoformat(on.group(1)):%d.%m.%Y}" if on else ""
    base = reason[: on.start()] if on else reason
    if base == "enqueued":
        return ""
    if m := re.fullmatch(r"put on list (\d+)", base):
        return f"список ф. 103 № {m.group(1)}"
    if base == "handed over to the post":
        return f"дата передачи {day}"
    if base == "delivered by the post":
        return f"вручено {day}"
    if m := re.fullmatch(r"sent again by registered mail after a return(?: \(was tracking number (\d+)\))?", base):
        return "повторная отправка после возврата" + (f" (прежний ШПИ {m.group(1)})" if m.group(1) else "")
    return f"{base}, {day}" if day else base


def history(entries: Sequence[HistoryEntry], events: Sequence[Event], names: dict[str, str]) -> list[HistoryRow]:
    """The item's state changes (who: the clerk by name, else the system) and the clerks'
    other actions on it (the print batch), oldest first."""

    def who(worker: str | None) -> str:
        if worker and worker.startswith("web:"):
            return names.get(worker[4:], worker[4:])
        return "система"

    out = [HistoryRow(h.at, HISTORY_TITLES.get(h.to_state, h.to_state), _note(h), who(h.worker)) for h in entries]
    out += [HistoryRow(e.at, e.action, e.detail, e.user) for e in events]
    out.sort(key=lambda r: r.at)
    return out
