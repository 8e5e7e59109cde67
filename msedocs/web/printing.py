"""The day's print batch as files for the browser, rendered in a rendering process.

:func:`render_batch` runs in a worker process of the service's pool (the server process never
imports WeasyPrint): it renders each list with :func:`msedocs.delivery.postal.list_files`
(cover letters, envelopes with the tracking barcode, the form-103 list and its CSV) and joins
the PDFs with pikepdf into one print pack in page order — for each item its cover letter and
documents, then every envelope (another tray), then the form-103 list(s) — and keeps the
separate files beside it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

PACK = "pack.pdf"
DOCUMENTS = "documents.pdf"
ENVELOPES = "envelopes.pdf"


def _join(parts: Sequence[bytes], title: str) -> tuple[bytes, int]:
    import pikepdf

    out = pikepdf.Pdf.new()
    sources = []
    for part in parts:
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


def render_batch(db_url: str, lists: Sequence[int], list_date: str) -> tuple[list[tuple[str, str, bytes]], int]:
    """The files of a batch of ``lists`` (name, media type, content), the print pack first, and
    the print pack's page count."""
    from msedocs.delivery.postal import PostalConfig, list_files
    from msedocs.delivery.store import Outbox

    cfg = PostalConfig.from_env()
    with Outbox(db_url) as outbox:
        rendered = [list_files(outbox, number, cfg) for number in lists]
    documents: list[bytes] = []
    envelopes: list[bytes] = []
    for lst in rendered:
        for pack in lst.packs:
            documents.append(pack.cover_letter)
            documents.extend(doc.content for doc in pack.documents)
            envelopes.append(pack.envelope)
    lists_pdf = [lst.list_pdf for lst in rendered]
    numbers = ", ".join(str(n) for n in lists)
    title = f"Пакет для печати: списки № {numbers} от {list_date}"
    pack_pdf, pages = _join([*documents, *envelopes, *lists_pdf], title)
    files = [(PACK, "application/pdf", pack_pdf)]
    if documents:
        files.append((DOCUMENTS, "application/pdf", _join(documents, f"Документы: списки № {numbers}")[0]))
        files.append((ENVELOPES, "application/pdf", _join(envelopes, f"Конверты: списки № {numbers}")[0]))
    for lst in rendered:
        files.append((f"f103-{lst.number}.pdf", "application/pdf", lst.list_pdf))
        files.append((f"f103-{lst.number}.csv", "text/csv; charset=utf-8", lst.list_csv))
    return files, pages
