"""Column widths of the journals fitted to their content (not a test; how the widths were chosen).

    .venv/bin/python bench/fit_journal_widths.py [--count 300] [--seed 21] [JOURNAL ...]

The statute fixes a journal's columns and headings, not their widths. This script generates
cases (`msedocs fixtures generate`), takes each journal's rows over them and the sample cases,
has Typst measure the height of every distinct cell text and heading at every column width
from 5 to 90 mm (at the journal's 7 pt, headings 6.5 pt, as templates/journal.typ sets them),
then searches the widths (whole millimetres of the 272 mm text width) that give the fewest
landscape pages with rows kept whole, under readability floors: names, dates and identifiers
on one or two lines, a token Typst never hyphenates (digits, capitals) on one line, free text
at least 12 mm (addresses, organisations and ТССР 16 mm). It prints the widths to declare
in msedocs/forms/journals.py (``number_width`` and each column's ``width``) and the estimate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY, HEAD, LEADING = 7.0, 6.5, 0.45  # pt, pt, em: as templates/journal.typ
TEXT_MM, PAGE_PT, TITLE_PT, INSET_PT = 272, 521.6, 90.0, 4.0  # text width, body height, first page's title
WIDTHS = range(5, 91)
LINES = {"no": 1, "patient": 2, "idNumber": 1, "birthDate": 2, "issuedOn": 2, "handedOver": 2, "returned": 2,
         "certificate": 1, "validUntil": 2}  # fmt: skip
WIDE_TEXT = {"address": 16, "referredBy": 16, "technicalMeans": 16}
MEASURE = """
#set text(font: "Liberation Serif", size: {body}pt, lang: "ru", hyphenate: true)
#set par(justify: false, leading: {leading}em)
#show regex("\\\\b[\\\\p{{Lu}}\\\\d]{{2,}}\\\\b"): set text(hyphenate: false)
#let d = json("in.json")
#let at(t, w, size) = measure(block(width: w * 1mm - 4pt, text(size: size, t))).height / 1pt
#context [#metadata((
  cells: d.texts.map(col => col.map(t => d.widths.map(w => at(t, w, {body}pt)))),
  heads: d.labels.map(t => d.widths.map(w => at(t, w, {head}pt))),
)) <m>]
"""


def measure(jid: str, cases: list) -> dict:
    """Rows as indexes of distinct texts per column, and Typst's heights of each text per width."""
    import typst

    from generators.common import FONTS_DIR, display_rows
    from msedocs.forms import JOURNALS
    from msedocs.forms.journals import numbered

    spec = JOURNALS[jid]
    start, end = dt.date(1900, 1, 1), dt.date(2100, 1, 1)
    data = spec.data(numbered([e for c in cases for e in spec.entries(c)], start, end), "", start, end)
    rows = [tuple(r) for r in display_rows(data)]
    texts = [sorted({r[i] for r in rows}) for i in range(len(data.columns))]
    with tempfile.TemporaryDirectory() as tmp:
        doc = {"texts": texts, "labels": [c.label for c in data.columns], "widths": list(WIDTHS)}
        Path(tmp, "in.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        Path(tmp, "m.typ").write_text(MEASURE.format(body=BODY, head=HEAD, leading=LEADING), encoding="utf-8")
        got = json.loads(typst.query(f"{tmp}/m.typ", "<m>", field="value", font_paths=[str(FONTS_DIR)],
                                     ignore_system_fonts=True))[0]  # fmt: skip
    index = [{t: k for k, t in enumerate(col)} for col in texts]
    return {"keys": [c.key for c in data.columns], "texts": texts, "heads": got["heads"],
            "cells": got["cells"], "rows": [[index[i][c] for i, c in enumerate(r)] for r in rows]}  # fmt: skip


def floors(m: dict) -> list[int]:
    from fontTools.ttLib import TTFont

    from generators.common import FONTS_DIR

    font = TTFont(str(FONTS_DIR / "LiberationSerif-Regular.ttf"))
    cmap, hmtx, upm = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm

    def mm(token: str) -> float:
        return sum(hmtx[cmap.get(ord(ch), cmap[32])][0] for ch in token) / upm * BODY * 25.4 / 72 + 1.5

    line = BODY * (0.655 + LEADING)
    out = []
    for i, key in enumerate(m["keys"]):
        lines = LINES.get(key)
        fit = next((w for w in WIDTHS if lines is None or all(
            m["cells"][i][t][w - WIDTHS[0]] <= lines * line - LEADING * BODY + 0.5 for t in range(len(m["texts"][i]))
        )), WIDTHS[-1])  # fmt: skip
        solid = max((mm(t) for x in m["texts"][i] for t in x.split() if not re.search(r"[a-zа-яёіў]", t)), default=0)
        text = WIDE_TEXT.get(key, 12) if key not in ("no", "signature") else 0
        out.append(max(6, fit, math.ceil(solid), text))
    return out


def pages(m: dict, widths: list[int], low: list[int]) -> float:
    """Landscape pages of the rows, kept whole, at these widths (fractional last page)."""
    if any(w < lo or w > WIDTHS[-1] for w, lo in zip(widths, low, strict=True)):
        return math.inf
    at = [w - WIDTHS[0] for w in widths]
    head = max(h[a] for h, a in zip(m["heads"], at, strict=True)) + 2 * INSET_PT + BODY * 0.655
    room, count = PAGE_PT - head - TITLE_PT, 0
    for row in m["rows"]:
        height = max(m["cells"][i][t][at[i]] for i, t in enumerate(row)) + INSET_PT
        if height > room:
            count, room = count + 1, PAGE_PT - head
        room -= height
    return count + 1 - room / (PAGE_PT - head)


def fit(m: dict, iterations: int = 30000) -> tuple[list[int], float]:
    """Simulated annealing over whole millimetres, from widths in proportion to mean content."""
    low, n = floors(m), len(m["keys"])
    mean = [sum(len(m["texts"][i][r[i]]) for r in m["rows"]) / len(m["rows"]) for i in range(n)]
    widths = [lo + int((TEXT_MM - sum(low)) * x / sum(mean)) for lo, x in zip(low, mean, strict=True)]
    widths[mean.index(max(mean))] += TEXT_MM - sum(widths)
    while max(widths) > WIDTHS[-1]:
        k = widths.index(max(widths))
        extra, widths[k] = widths[k] - WIDTHS[-1], WIDTHS[-1]
        widths[min((i for i in range(n) if i != k), key=lambda i: widths[i])] += extra
    rnd, best = random.Random(1), pages(m, widths, low)
    current, cost, temperature = list(widths), best, 0.5
    for _ in range(iterations):
        i, j = rnd.sample(range(n), 2)
        step = rnd.choice((1, 1, 2, 3, 5))
        trial = list(current)
        trial[i], trial[j] = trial[i] + step, trial[j] - step
        c = pages(m, trial, low)
        if c < cost or rnd.random() < math.exp(-(c - cost) / max(temperature, 1e-3)):
            current, cost = trial, c
            if c < best:
                best, widths = c, list(trial)
        temperature *= 0.9997
    return widths, best


def main() -> None:
    from msedocs.forms import JOURNALS
    from msedocs.model import iter_cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journals", nargs="*", default=list(JOURNALS))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msedocs-fit-") as tmp:
        path = f"{tmp}/cases.jsonl"
        command = ["fixtures", "generate", "--count", str(args.count), "--seed", str(args.seed), "--out", path]
        subprocess.run([sys.executable, "-m", "msedocs", *command], check=True, cwd=ROOT, capture_output=True)
        cases = [x.case for p in (path, ROOT / "fixtures" / "cases") for x in iter_cases(p) if x.case]
    for jid in args.journals:
        m = measure(jid, cases)
        declared = [round(c.width) for c in JOURNALS[jid].data([], "", dt.date.today(), dt.date.today()).columns]
        widths, best = fit(m)
        now = pages(m, declared, [0] * len(declared))
        rows = len(m["rows"])
        print(f"{jid}: {rows} rows; declared {now:.1f} pages ({rows / now:.2f} rows/page), "
              f"fitted {best:.1f} pages ({rows / best:.2f} rows/page)")  # fmt: skip
        print("   ", dict(zip(m["keys"], widths, strict=True)))


if __name__ == "__main__":
    main()
