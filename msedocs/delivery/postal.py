"""The day's registered-mail batch for the clerk: ``msedocs post batch --date D --out DIR``.

For each list (one per ``post batch`` run with something queued) it writes::

    DIR/list-<N>/f103.pdf           the list of registered items in the style of form 103
    DIR/list-<N>/f103.csv           the same list for upload (UTF-8, ``;``-separated)
    DIR/list-<N>/<NN>-<tracking>/   one print pack per item:
        1-cover-letter.pdf            cover letter (A4), to be signed and sealed
        2-extract.pdf                 the extract's paper variant, as stored with the item
        3-envelope.pdf                C5 envelope, or an A4 address sheet for a DL window envelope

The sender on the cover letter, the envelope and the list is the bureau stored with the item when
it was queued (the case's ``commission``); an item queued without one gets the configured sender
(``PostalConfig``: ``MSEDOCS_SENDER_NAME``, ``MSEDOCS_SENDER_ADDRESS``, ``MSEDOCS_SENDER_POSTCODE``).
A form-103 list has one sender, so the items of one day are put on one list per sender.

The pack stays three files because the envelope goes through a different printer tray. Tracking
numbers come from the ranges registered in the outbox; the list and the numbers are fixed in the
database before anything is written, so running the command again for the same date writes the
same lists again (nothing is assigned twice).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from msedocs.delivery.models import Item, Sender, StoredDocument
from msedocs.delivery.store import Outbox
from msedocs.delivery.tracking import TrackingRange
from msedocs.errors import DeliveryError, InputError

ENVELOPES = ("c5", "dl-window")
CSV_COLUMNS = ("number", "tracking_number", "addressee", "postcode", "address", "mass_g", "kind", "case_ref")


@dataclass(frozen=True)
class PostalConfig:
    """The paper, and the sender of items queued without one (each item carries its bureau)."""

    sender_name: str = "ФКУ «ГБ МСЭ» (ТЕСТ)"
    """Sender as printed on envelopes and the list when the item has none."""
    sender_address: str = "г. Москва, ул. Ивановская, д. 1"
    sender_postcode: str = "101000"
    envelope: str = "c5"
    """``c5`` (229 × 162 mm envelope printed directly) or ``dl-window`` (A4 sheet whose address
    block shows through the window of a DL envelope: 20 mm from the left, 45 mm from the top)."""
    mass_g: int = 20
    """Mass of one letter in grams, for the list."""
    signer: str = "Руководитель бюро"
    """Who signs the cover letter."""

    def __post_init__(self) -> None:
        if self.envelope not in ENVELOPES:
            raise InputError(f"--envelope must be one of {', '.join(ENVELOPES)}, not {self.envelope!r}")

    @classmethod
    def from_env(cls, envelope: str | None = None) -> PostalConfig:
        """Sender from ``MSEDOCS_SENDER_NAME``, ``MSEDOCS_SENDER_ADDRESS``, ``MSEDOCS_SENDER_POSTCODE``."""
        base = cls()
        return cls(
            sender_name=os.environ.get("MSEDOCS_SENDER_NAME", base.sender_name),
            sender_address=os.environ.get("MSEDOCS_SENDER_ADDRESS", base.sender_address),
            sender_postcode=os.environ.get("MSEDOCS_SENDER_POSTCODE", base.sender_postcode),
            envelope=envelope or os.environ.get("MSEDOCS_ENVELOPE", base.envelope),
        )

    def sender_of(self, item: Item) -> Sender:
        """The item's own sender (its bureau), else the configured one."""
        return item.sender or Sender(self.sender_name, self.sender_address, self.sender_postcode or None)


def _from(sender: Sender) -> str:
    """«443001, г. Самара, ...»: the sender's postcode and address on one line."""
    return f"{sender.postcode}, {sender.address}" if sender.postcode else sender.address


@dataclass(frozen=True)
class WrittenList:
    number: int
    folder: Path
    list_pdf: Path
    list_csv: Path
    packs: list[Path] = field(default_factory=list)
    tracking_numbers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    new_lists: list[int]
    """Numbers of the lists made by this run, one per sender (none if nothing was queued)."""
    lists: list[WrittenList]

    @property
    def new_list(self) -> int | None:
        """The first list made by this run (None if nothing was queued)."""
        return self.new_lists[0] if self.new_lists else None


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 10.5pt; }
.small { font-size: 8.5pt; color: #333; }
.label { font-size: 7.5pt; color: #444; text-transform: uppercase; letter-spacing: 0.05em; }
.block { white-space: pre-line; }
.index { font-family: "DejaVu Sans Mono", monospace; font-size: 14pt; letter-spacing: 0.15em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #000; padding: 1.5mm; vertical-align: top; font-size: 8.5pt; }
th { background: #eee; }
.barcode img { height: 14mm; width: 62mm; }
.tracking { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; letter-spacing: 0.1em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text) if text is not None else "")


def barcode_svg(tracking_number: str) -> bytes:
    """Code 128 of the tracking number, as SVG (python-barcode)."""
    import barcode
    from barcode.writer import SVGWriter

    out = barcode.get("code128", tracking_number, writer=SVGWriter()).render(
        {"write_text": False, "module_height": 12.0, "quiet_zone": 2.0}
    )
    return out if isinstance(out, bytes) else str(out).encode()


def _barcode_html(tracking_number: str) -> str:
    data = base64.b64encode(barcode_svg(tracking_number)).decode("ascii")
    return (
        f'<div class="barcode"><img src="data:image/svg+xml;base64,{data}" alt="{_e(tracking_number)}"/>'
        f'<div class="tracking">{_e(_spaced(tracking_number))}</div></div>'
    )


def _spaced(n: str) -> str:
    """``10100011000017`` → ``101000 11 00001 7`` as the post prints it."""
    return f"{n[:6]} {n[6:8]} {n[8:13]} {n[13:]}" if len(n) == 14 else n


def _page(css_page: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><style>'
        + css_page
        + _CSS
        + "</style></head><body>"
        + body
        + "</body></html>"
    )


def cover_letter_html(item: Item, cfg: PostalConfig, pages: int) -> str:
    r = item.recipient
    s = cfg.sender_of(item)
    sent = item.list_date.strftime("%d.%m.%Y") if item.list_date else ""
    body = f"""
<div style="width: 80mm" class="block small">{_e(s.name)}
{_e(_from(s))}</div>
<div style="margin: 10mm 0 0 95mm" class="block">{_e(r.name)}
{_e(r.address)}
{_e(r.postcode)}</div>
<p style="margin-top: 14mm">Исх. № {_e(item.case_ref)} от {sent}</p>
<p style="margin-top: 8mm; text-align: center"><b>О направлении выписки из акта медико-социальной экспертизы</b></p>
<p>В соответствии с пунктом 6 приложения № 2 к приказу № 692н направляем выписку из акта
медико-социальной экспертизы гражданина по решению от {item.decision_date.strftime("%d.%m.%Y")},
заверенную печатью бюро, заказным почтовым отправлением.</p>
<p>Решение может быть обжаловано в главное бюро в месячный срок со дня его получения (пункт 7
приложения № 2), в письменной форме или в электронном виде через единый портал.</p>
<p>Приложение: выписка из акта медико-социальной экспертизы гражданина на {pages} л. в 1 экз.</p>
<p style="margin-top: 18mm">{_e(cfg.signer)} ____________________ &nbsp;&nbsp;&nbsp; М.П.</p>
<p class="small" style="margin-top: 10mm">Почтовый идентификатор: {_e(_spaced(item.tracking_number or ""))}</p>
"""
    return _page("@page { size: A4; margin: 20mm 15mm 20mm 25mm; }", body)


def envelope_html(item: Item, cfg: PostalConfig) -> str:
    r = item.recipient
    tracking = item.tracking_number or ""
    s = cfg.sender_of(item)
    sender = f"""<div class="label">От кого</div><div class="block">{_e(s.name)}</div>
<div class="label">Откуда</div><div class="block">{_e(s.address)}</div>
<div class="index">{_e(s.postcode)}</div>"""
    addressee = f"""<div class="label">Кому</div><div class="block">{_e(r.name)}</div>
<div class="label">Куда</div><div class="block">{_e(r.address)}</div>
<div class="index">{_e(r.postcode)}</div>"""
    if cfg.envelope == "c5":
        body = f"""
<div style="position: absolute; left: 8mm; top: 8mm; width: 90mm">{sender}</div>
<div style="position: absolute; right: 8mm; top: 8mm; text-align: center">
<b>ЗАКАЗНОЕ</b>{_barcode_html(tracking)}</div>
<div style="position: absolute; left: 112mm; top: 88mm; width: 105mm">{addressee}</div>
"""
        return _page("@page { size: 229mm 162mm; margin: 0; }", body)
    body = f"""
<div style="position: absolute; left: 20mm; top: 10mm; width: 90mm" class="small">{sender}</div>
<div style="position: absolute; left: 20mm; top: 45mm; width: 90mm; height: 45mm">
<div style="font-size: 8pt"><b>ЗАКАЗНОЕ</b></div>{addressee}</div>
<div style="position: absolute; left: 120mm; top: 45mm">{_barcode_html(tracking)}</div>
<div class="small" style="position: absolute; left: 20mm; top: 100mm">
Сложить втрое (DL): окно конверта 20 мм слева, 45 мм сверху.</div>
"""
    return _page("@page { size: A4; margin: 0; }", body)


def form103_html(number: int, items: Sequence[Item], cfg: PostalConfig) -> str:
    rows = "".join(
        f"<tr><td>{n}</td><td>{_e(i.recipient.name)}</td><td>{_e(i.recipient.postcode)}, "
        f"{_e((i.recipient.address or '').replace(chr(10), ', '))}</td>"
        f'<td class="tracking">{_e(i.tracking_number)}</td><td>{cfg.mass_g}</td><td>{_e(i.case_ref)}</td></tr>'
        for n, i in enumerate(items, 1)
    )
    date = items[0].list_date.strftime("%d.%m.%Y") if items and items[0].list_date else ""
    s = cfg.sender_of(items[0]) if items else Sender(cfg.sender_name, cfg.sender_address, cfg.sender_postcode)
    body = f"""
<p class="small" style="text-align: right">ф. 103</p>
<h3 style="text-align: center">Список № {number}<br/>внутренних почтовых отправлений от {date}</h3>
<p>Вид и категория: <b>письмо заказное</b>. Отправитель: {_e(s.name)},
{_e(_from(s))}</p>
<table><thead><tr><th>№ п/п</th><th>Адресат</th><th>Адрес</th><th>ШПИ</th><th>Масса, г</th>
<th>Примечание</th></tr></thead><tbody>{rows}</tbody></table>
<p>Всего отправлений: <b>{len(items)}</b>; общая масса: <b>{len(items) * cfg.mass_g}</b> г.</p>
<p style="margin-top: 12mm">Сдал ____________________ &nbsp;&nbsp;&nbsp; Принял ____________________
&nbsp;&nbsp;&nbsp; Календарный штемпель</p>
"""
    return _page("@page { size: A4 landscape; margin: 12mm; }", body)


def _pdf(html_text: str) -> bytes:
    from weasyprint import HTML

    out = HTML(string=html_text).write_pdf()
    assert out is not None
    return bytes(out)


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a half-written file never carries the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def form103_csv(items: Sequence[Item], cfg: PostalConfig) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for n, i in enumerate(items, 1):
        r = i.recipient
        w.writerow(
            [
                n,
                i.tracking_number,
                r.name,
                r.postcode,
                (r.address or "").replace("\n", ", "),
                cfg.mass_g,
                "заказное письмо",
                i.case_ref,
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _paper_documents(outbox: Outbox, item: Item) -> list[StoredDocument]:
    docs = outbox.documents(item.id)
    paper = [d for d in docs if d.role == "paper" and d.media_type == "application/pdf"]
    return paper or [d for d in docs if d.media_type == "application/pdf"]


@dataclass(frozen=True)
class PackFiles:
    """One item's print pack, in memory: what ``write_list`` writes to its folder."""

    position: int
    """The item's place on its list (1, 2, …), as in the pack's folder name."""
    item: Item
    cover_letter: bytes
    documents: list[StoredDocument]
    """The PDFs to print: the extract's paper variant (else every PDF of the item)."""
    envelope: bytes


@dataclass(frozen=True)
class ListFiles:
    """One list's files, in memory: the print packs and the form-103 list (PDF and CSV)."""

    number: int
    packs: list[PackFiles]
    list_pdf: bytes
    list_csv: bytes


def list_files(
    outbox: Outbox, number: int, cfg: PostalConfig, progress: Callable[[int, int], None] | None = None
) -> ListFiles:
    """Render list ``number``: a pack per item still on it (cover letter, documents, envelope)
    and the form-103 list. Needs WeasyPrint: call it in a rendering process, not a server's.
    ``progress(done, total)`` is called after each item's pack."""
    items = outbox.list_items(list_number=number)
    packs = []
    for n, item in enumerate(items, 1):
        if item.tracking_number is None:  # taken off the list again (queued for a reprint)
            continue
        paper = _paper_documents(outbox, item)
        if not paper:
            raise DeliveryError(f"item {item.id}: no PDF to print (the extract's paper variant is missing)")
        cover = _pdf(cover_letter_html(item, cfg, pages=len(paper)))
        packs.append(PackFiles(n, item, cover, paper, _pdf(envelope_html(item, cfg))))
        if progress is not None:
            progress(n, len(items))
    listed = [i for i in items if i.tracking_number is not None]
    return ListFiles(number, packs, _pdf(form103_html(number, listed, cfg)), form103_csv(listed, cfg))


def write_list(outbox: Outbox, number: int, out_dir: Path, cfg: PostalConfig) -> WrittenList:
    rendered = list_files(outbox, number, cfg)
    folder = out_dir / f"list-{number}"
    packs = []
    for pack_files in rendered.packs:
        pack = folder / f"{pack_files.position:03d}-{pack_files.item.tracking_number}"
        paper = pack_files.documents
        _write(pack / "2-extract.pdf", paper[0].content)
        for extra, doc in enumerate(paper[1:], 1):
            _write(pack / f"2-extract-{extra + 1}.pdf", doc.content)
        _write(pack / "1-cover-letter.pdf", pack_files.cover_letter)
        _write(pack / "3-envelope.pdf", pack_files.envelope)
        packs.append(pack)
    list_pdf, list_csv = folder / "f103.pdf", folder / "f103.csv"
    _write(list_pdf, rendered.list_pdf)
    _write(list_csv, rendered.list_csv)
    return WrittenList(
        number, folder, list_pdf, list_csv, packs, [p.item.tracking_number or "" for p in rendered.packs]
    )


def make_batch(
    outbox: Outbox,
    list_date: object,
    out_dir: Path,
    cfg: PostalConfig | None = None,
    tracking_range: TrackingRange | None = None,
) -> BatchResult:
    """Put the queued postal items on new lists for ``list_date`` (one per sender) and write every
    list of that day."""
    import datetime as dt

    if not isinstance(list_date, dt.date):
        raise InputError("--date: expected a date")
    cfg = cfg or PostalConfig()
    if tracking_range is not None:
        outbox.add_tracking_range(tracking_range)
    made = outbox.prepare_postal_lists(list_date)
    lists = [write_list(outbox, number, out_dir, cfg) for number in outbox.postal_lists(list_date)]
    return BatchResult([m.number for m in made], lists)
