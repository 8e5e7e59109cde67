"""The contract between ``msedocs.forms`` and the generators: what a document is once filled in.

``msedocs.forms`` builds these objects from a case (or, for a journal and the session
protocol, from many); ``generators`` read them, every format from the same object, so the XML,
the PDF and the DOCX cannot disagree. This module depends on nothing but the standard library,
so the generators and ``signing`` import it without the rest of msedocs (``tests/test_error_tree.py``).

It also holds what both sides need: the date as the paper forms print it (:func:`format_date`)
and the geometry of the visible signature stamps, whose room a form reserves on its page and
``signing`` fills (:class:`StampRoom`).
"""

from __future__ import annotations

from datetime import date

MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def format_date(value: date | None) -> str:
    """A date the way the paper forms print it: «23» ноября 2026 г."""
    if value is None:
        return ""
    return f"«{value.day:02d}» {MONTHS_GENITIVE[value.month - 1]} {value.year} г."


# --- the visible signature stamps ------------------------------------------------------------

#: The named destination (an element's id in the PDF) that reserves the stamps' room.
STAMP_ANCHOR = "esign-stamp"
#: One stamp, in points, and the gaps between stamps: laid two to a row from the anchor down.
STAMP_WIDTH, STAMP_HEIGHT, STAMP_GAP_X, STAMP_GAP_Y = 260, 70, 10, 8
