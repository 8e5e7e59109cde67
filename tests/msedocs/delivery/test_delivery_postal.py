"""The registered-mail batch: print packs, the form-103 list as PDF and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from msedocs.delivery import Outbox, TrackingRange, is_valid
from msedocs.delivery.postal import PostalConfig, barcode_svg, make_batch

from .conftest import SMALL_PDF, FakeClock, extract_documents, postal_recipient

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_page_size(path: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    line = next(x for x in info.splitlines() if x.startswith("Page size:"))
    w, _, h = line.split(":", 1)[1].split()[:3]
    return float(w), float(h)


def test_barcode_is_code128_svg() -> None:
    svg = barcode_svg("10100011000017").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.count("<rect") > 20


@needs_poppler
def test_post_batch_writes_packs_list_pdf_and_csv(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    day = dt.date(2025, 11, 5)
    with Outbox(db_url, clock=clock) as ob:
        ids = [
            ob.enqueue(extract_documents(n), f"MSE-2025-{n:04d}", "post", postal_recipient(n), dt.date(2025, 11, 3))
            for n in range(1, 4)
        ]
        result = make_batch(ob, day, tmp_path, PostalConfig(), TrackingRange.parse("101000:11:1-99999"))
        assert result.new_list is not None
        [written] = result.lists
        assert written.tracking_numbers == ["10100011000017", "10100011000024", "10100011000031"]
        assert all(is_valid(n) for n in written.tracking_numbers)
        assert [ob.get(i).state for i in ids] == ["printed"] * 3

        # the print pack of the first item
        pack = written.packs[0]
        assert sorted(p.name for p in pack.iterdir()) == ["1-cover-letter.pdf", "2-extract.pdf", "3-envelope.pdf"]
        assert (pack / "2-extract.pdf").read_bytes() == SMALL_PDF
        letter = pdf_text(pack / "1-cover-letter.pdf")
        assert "Петрова Анна Сергеевна 1" in letter and "692н" in letter and "MSE-2025-0001" in letter
        envelope = pdf_text(pack / "3-envelope.pdf")
        assert "10100011000017" in envelope.replace(" ", "")  # printed under the barcode
        assert "220030" in envelope and "ЗАКАЗНОЕ" in envelope
        w, h = pdf_page_size(pack / "3-envelope.pdf")
        assert abs(w - 229 / 25.4 * 72) < 1 and abs(h - 162 / 25.4 * 72) < 1  # C5

        # form 103: the PDF for the post office and the CSV for upload
        listing = pdf_text(written.list_pdf)
        assert f"Список № {written.number}" in listing and "05.11.2025" in listing
        assert all(n in listing.replace(" ", "") for n in written.tracking_numbers)
        assert "Всего отправлений: 3" in listing
        rows = list(csv.DictReader(io.StringIO(written.list_csv.read_text("utf-8-sig")), delimiter=";"))
        assert [r["tracking_number"] for r in rows] == written.tracking_numbers
        assert rows[0]["addressee"] == "Петрова Анна Сергеевна 1" and rows[0]["postcode"] == "220030"
        assert rows[0]["address"] == "г. Минск, пр-т Независимости, д. 10, кв. 5"

        # running it again the same day makes no new list and assigns no new numbers
        again = make_batch(ob, day, tmp_path)
        assert again.new_list is None and again.lists[0].tracking_numbers == written.tracking_numbers

        # a DL window envelope is an A4 sheet
        ob.enqueue(extract_documents(9), "MSE-2025-0009", "post", postal_recipient(9), dt.date(2025, 11, 3))
        dl = make_batch(ob, day, tmp_path / "dl", PostalConfig(envelope="dl-window"))
        assert dl.new_list is not None and len(dl.lists) == 2
        new = next(x for x in dl.lists if x.number == dl.new_list)
        w, h = pdf_page_size(new.packs[0] / "3-envelope.pdf")
        assert (round(w), round(h)) == (595, 842)


def test_post_batch_needs_a_tracking_range(outbox: Outbox, tmp_path: Path) -> None:
    from msedocs.errors import DeliveryError

    outbox.enqueue(extract_documents(1), "C1", "post", postal_recipient(1), dt.date(2025, 11, 3))
    with pytest.raises(DeliveryError, match="no tracking numbers left"):
        make_batch(outbox, dt.date(2025, 11, 5), tmp_path)
    assert outbox.get(1).state == "queued"  # the whole batch was rolled back
