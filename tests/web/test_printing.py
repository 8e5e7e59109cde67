"""The print pack's joining for duplex printing, on PDFs of known page counts and sizes: each
group (an item's documents, the envelopes, the list) starts on an odd page, a blank page of the
size of the page before it put where one ends on an odd page; none without duplex."""

from __future__ import annotations

import io

import pikepdf
import pytest

from msedocs.web.printing import _join

A4 = (595.28, 841.89)
DL = (623.6, 311.8)


def pdf(pages: int, size: tuple[float, float] = A4, mark: str = "") -> bytes:
    out = pikepdf.Pdf.new()
    for n in range(pages):
        out.add_blank_page(page_size=size)
        out.pages[-1].Contents = out.make_stream(f"% {mark}{n}".encode())
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def layout(content: bytes) -> list[tuple[str, tuple[float, float]]]:
    with pikepdf.Pdf.open(io.BytesIO(content)) as joined:
        out = []
        for page in joined.pages:
            box = [float(v) for v in page.mediabox]
            text = page.Contents.read_bytes().decode() if "/Contents" in page else ""
            out.append((text.removeprefix("% ") or "blank", (round(box[2] - box[0], 1), round(box[3] - box[1], 1))))
        return out


def test_duplex_every_group_from_an_odd_page() -> None:
    groups = [[pdf(1, mark="a"), pdf(2, mark="b")], [pdf(1, mark="c"), pdf(1, mark="d")], [pdf(1, DL, "e")],
              [pdf(1, mark="f")]]  # fmt: skip
    content, pages = _join(groups, "t", duplex=True)
    got = layout(content)
    assert [t for t, _ in got] == ["a0", "b0", "b1", "blank", "c0", "d0", "e0", "blank", "f0"]
    assert pages == len(got) == 9
    assert got[3][1] == (595.3, 841.9) and got[7][1] == (623.6, 311.8)  # the back of the page before it


@pytest.mark.parametrize("duplex", [False, True])
def test_even_groups_need_no_blank_and_one_sided_gets_none(duplex: bool) -> None:
    groups = [[pdf(3, mark="a")], [pdf(2, mark="b")]]
    got = [t for t, _ in layout(_join(groups, "t", duplex=duplex)[0])]
    assert got == (["a0", "a1", "a2", "blank", "b0", "b1"] if duplex else ["a0", "a1", "a2", "b0", "b1"])
