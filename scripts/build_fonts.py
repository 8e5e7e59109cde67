"""Trim the bundled Liberation Serif (SIL OFL 1.1) to the characters the forms can print.

The originals come from Debian's fonts-liberation2 package; run
``apt-get download fonts-liberation2 && dpkg-deb -x fonts-liberation2_*.deb x`` and then
``python scripts/build_fonts.py x/usr/share/fonts/truetype/liberation2``.
A trimmed font (Latin, Latin-1, Latin Extended-A, Cyrillic with Belarusian і and ў,
punctuation, №) subsets much faster when WeasyPrint embeds it in each PDF.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).resolve().parent.parent / "templates" / "fonts"
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),  # Latin-1, Latin Extended-A
    *range(0x400, 0x460),  # Cyrillic, incl. і (U+0456) and ў (U+045E)
    *range(0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
    0x2030, 0x2039, 0x203A, 0x20AC, 0x20BD, 0x2116, 0x2122, 0x2212,
]  # fmt: skip
STYLES = ("Regular", "Bold", "Italic", "BoldItalic")


def main(src_dir: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for style in STYLES:
        src = Path(src_dir) / f"LiberationSerif-{style}.ttf"
        options = subset.Options()
        options.layout_features = ["kern", "liga", "locl"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.hinting = False
        font = subset.load_font(str(src), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=UNICODES)
        subsetter.subset(font)
        dest = OUT / src.name
        subset.save_font(font, str(dest), options)
        print(f"{dest.name}: {dest.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
