"""Where the visible signature stamps go on a page: the geometry, shared with the templates.

A document can reserve the room for its stamps: an element whose id is :data:`ANCHOR`
(WeasyPrint writes every id as a named destination, ``[page /XYZ left top zoom]``), sized
:data:`WIDTH` by :data:`HEIGHT` points for each stamp. The stamps are then laid from that
point, two to a row, so they never cover the text. A document without the anchor gets
them at the bottom left of its last page, :data:`MARGIN` points in from the edges.

The geometry the forms share (the anchor, a stamp's size, the gaps) is declared in
:mod:`msedocs.contract`, where the form declarations read it to reserve the room.
"""

from __future__ import annotations

from msedocs.contract import STAMP_ANCHOR as ANCHOR
from msedocs.contract import STAMP_GAP_X as GAP_X
from msedocs.contract import STAMP_GAP_Y as GAP_Y
from msedocs.contract import STAMP_HEIGHT as HEIGHT
from msedocs.contract import STAMP_WIDTH as WIDTH

__all__ = ["ANCHOR", "GAP_X", "GAP_Y", "HEIGHT", "MARGIN", "WIDTH", "Box", "box"]
#: Without the anchor: the distance from the last page's bottom-left corner.
MARGIN = 36

#: (x1, y1, x2, y2) in whole points, as pyHanko takes a field's box.
Box = tuple[int, int, int, int]


def box(index: int, top_left: tuple[float, float] | None) -> Box:
    """The ``index``-th stamp's rectangle (x1, y1, x2, y2): from the anchor's top-left
    corner downwards, or without one up from the page's bottom-left margin."""
    column, row = index % 2, index // 2
    if top_left is None:
        x1 = MARGIN + column * (WIDTH + GAP_X)
        y1 = MARGIN + row * (HEIGHT + GAP_Y)
        return (x1, y1, x1 + WIDTH, y1 + HEIGHT)
    left, top = round(top_left[0]), round(top_left[1])
    x1 = left + column * (WIDTH + GAP_X)
    y2 = top - row * (HEIGHT + GAP_Y)
    return (x1, y2 - HEIGHT, x1 + WIDTH, y2)
