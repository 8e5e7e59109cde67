"""The day's print batch as files for the browser, rendered in a rendering process.

:func:`render_batch` runs in a worker process of the service's pool (the server process never
imports WeasyPrint), started by the builder (:mod:`msedocs.web.builder`): it renders each list
with :func:`msedocs.delivery.postal.list_files` (cover letters, envelopes with the tracking
barcode, the form-103 list and its CSV), noting in the batch how many items are done, and joins
the PDFs with pikepdf into one print pack in page order — for each item its cover letter and
documents, then every envelope (another tray), then the form-103 list(s) — and keeps the
separate files beside it. For duplex printing each item's documents, and the list, start on an
odd page: a blank page is put after an item that ends on an odd page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

PACK = "pack.pdf"
DOCUMENTS = "documents.pdf"
ENVELOPES = "envelopes.pdf"


def _join(groups: Sequence[Sequence[bytes]], title: str, duplex: bool = False) -> tuple[bytes, int]:
    """One PDF of the PDFs of ``groups`` in order; with ``duplex``, each group from an odd page."""
    import pikepdf

    out = pikepdf.Pdf.new()
    sources = []
    for group in groups:
        if duplex and len(out.pages) % 2:
            last = out.pages[-1].mediabox
            out.add_blank_page(page_size=(float(last[2]) - float(last[0]), float(last[3]) - float(last[1])))
        for part in group:
            src = pikepdf.Pdf.open(io.BytesIO(part))
            sources.append(src)
            out.pages.extend(src.pages)
    with out.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
    buf = io.BytesIO()
    out.save(buf)
    pages = len(out.pages)
    for src in sources:
        src.close()
    out.close()
    return buf.getvalue(), pages


def render_batch(db_url: str, batch_id: int, token: str, lists: Sequence[int], list_date: str,
                 duplex: bool) -> tuple[list[tuple[str, str, bytes]], int]:  # fmt: skip
    """The files of batch ``batch_id`` of ``lists`` (name, media type, content), the print pack
    first, and the print pack's page count; progress noted in the batch under ``token``."""
    from msedocs.delivery.postal import PostalConfig, list_files
    from msedocs.delivery.store import Outbox
    from msedocs.web.store import WebStore

    cfg = PostalConfig.from_env()
    with Outbox(db_url) as outbox, WebStore(db_url, create=False) as store:
        total = sum(len(outbox.list_items(list_number=n)) for n in lists)
        store.batch_progress(batch_id, token, 0, total)
        before = 0
        rendered = []
        for number in lists:

            def note(done: int, _of: int, before: int = before) -> None:
                store.batch_progress(batch_id, token, before + done, total)

            rendered.append(list_files(outbox, number, cfg, progress=note))
            before += len(outbox.list_items(list_number=number))
    documents: list[list[bytes]] = []
    envelopes: list[bytes] = []
    for lst in rendered:
        for pack in lst.packs:
            documents.append([pack.cover_letter, *(doc.content for doc in pack.documents)])
            envelopes.append(pack.envelope)
    lists_pdf = [lst.list_pdf for lst in rendered]
    numbers = ", ".join(str(n) for n in lists)
    title = f"Пакет для печати: списки № {numbers} от {list_date}"
    pack_pdf, pages = _join([*documents, envelopes, lists_pdf], title, duplex)
    files = [(PACK, "application/pdf", pack_pdf)]
    if documents:
        files.append((DOCUMENTS, "application/pdf", _join(documents, f"Документы: списки № {numbers}", duplex)[0]))
        files.append((ENVELOPES, "application/pdf", _join([envelopes], f"Конверты: списки № {numbers}")[0]))
    for lst in rendered:
        files.append((f"f103-{lst.number}.pdf", "application/pdf", lst.list_pdf))
        files.append((f"f103-{lst.number}.csv", "text/csv; charset=utf-8", lst.list_csv))
    return files, pages
