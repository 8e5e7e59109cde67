"""Benchmark of long journals, side by side in one run (not a test).

    .venv/bin/python bench/bench_journal.py [--rows 5000] [--big 50000] [--stock-rows N]

- The journal of protocols (15 columns) with N rows as PDF/A-3b through msedocs (Typst in
  chunks, two worker processes) against stock WeasyPrint on an HTML table of the same
  rows and columns (default options, thead repeated, page numbers). Target: at least 15x.
- Peak memory of msedocs's run (the largest of the main process and its workers; each run
  in a fresh process). Target: at most 400 MB.
- --big: the whole `msedocs journal` path on generated cases (read and validated one by one
  from JSON Lines, entries spooled, XML + PDF + DOCX written to files) for a journal of at
  least that many rows. Target: completes with memory still bounded.
- The same journal as DOCX. Target: at most 2 s for 5,000 rows.
- Rows per page of each of the four journals over `msedocs fixtures generate` cases
  (--pages-cases N, seed --pages-seed): rows in the XML, pages of the PDF, their ratio.
  Target: at least 10 (see the report of issue 12 for what the content allows).

Rows come from the sample cases' real entries, repeated with new numbers, so the cells
hold what a real journal holds.
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from msedocs.contract import Journal

RUNNER = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from bench.bench_journal import journal_data
from generators import journal_pdf, journal_docx, xml as xml_gen
rows, what = {rows}, {what!r}
data = journal_data(rows)
started = time.perf_counter()
if what == "pdf":
    xml = xml_gen.render_journal(data)
    out = journal_pdf.render(data, xml=xml, workers=2)
elif what == "docx":
    out = journal_docx.render_journal(data)
else:
    import weasyprint
    import weasyprint.pdf.fonts as f
    f.harfbuzz_subset = None
    from bench.bench_journal import stock_html
    out = weasyprint.HTML(string=stock_html(data)).write_pdf()
elapsed = time.perf_counter() - started
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
pages = 0
if what != "docx":
    import io, pikepdf
    with pikepdf.open(io.BytesIO(out)) as pdf:
        pages = len(pdf.pages)
print(json.dumps({{"seconds": elapsed, "rss_mb": me, "children_rss_mb": kids, "bytes": len(out), "pages": pages}}))
"""


BIG = r"""
import datetime as dt, json, resource, sys, time
sys.path.insert(0, {root!r})
from msedocs import journal
marks = {{}}
def progress(stage, done, total):
    if stage == "cases" and done == total:
        marks.setdefault("cases", time.perf_counter())
started = time.perf_counter()
written = journal.write("by-journal-protocols", {cases!r}, dt.date(2026, 1, 1), dt.date(2026, 12, 31), {out!r},
                        ("xml", "pdf", "docx"), workers=2, progress=progress)
elapsed = time.perf_counter() - started
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
sizes = {{f["format"]: f["size"] for f in written.files}}
import pikepdf
with pikepdf.open({out!r} + "/by-journal-protocols.pdf") as pdf:
    pages = len(pdf.pages)
print(json.dumps({{"seconds": elapsed, "reading": marks["cases"] - started, "rows": written.rows, "rss_mb": me,
                  "children_rss_mb": kids, "sizes": sizes, "pages": pages}}))
"""
#: Journal-of-protocols rows per generated case (measured: 1373 rows from 2000 cases).
ROWS_PER_CASE = 0.69


def run_big(rows: int) -> dict:
    import math
    import tempfile

    with tempfile.TemporaryDirectory(prefix="msedocs-bench-") as tmp:
        cases = f"{tmp}/cases.jsonl"
        count = math.ceil(rows / ROWS_PER_CASE * 1.02)
        subprocess.run([sys.executable, "-m", "msedocs", "fixtures", "generate", "--count", str(count),
                        "--seed", "7", "--out", cases], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
        code = BIG.format(root=str(ROOT), cases=cases, out=f"{tmp}/out")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["cases"] = count
        return result


PAGES = r"""
import datetime as dt, json, sys
sys.path.insert(0, {root!r})
import pikepdf
from msedocs import journal
from msedocs.forms import JOURNALS
out = {{}}
for jid in JOURNALS:
    written = journal.write(jid, {cases!r}, dt.date(2000, 1, 1), dt.date(2030, 12, 31), {out!r} + "/" + jid,
                            ("xml", "pdf"), workers=2)
    with pikepdf.open({out!r} + "/" + jid + "/" + jid + ".pdf") as pdf:
        out[jid] = {{"rows": written.rows, "pages": len(pdf.pages)}}
print(json.dumps(out))
"""


def run_pages(count: int, seed: int) -> dict:
    """Rows and pages of each journal over ``count`` generated cases (seed ``seed``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="msedocs-bench-") as tmp:
        cases = f"{tmp}/cases.jsonl"
        subprocess.run([sys.executable, "-m", "msedocs", "fixtures", "generate", "--count", str(count),
                        "--seed", str(seed), "--out", cases], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
        code = PAGES.format(root=str(ROOT), cases=cases, out=f"{tmp}/out")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def journal_data(rows: int) -> Journal:
    import datetime as dt

    from msedocs.forms.journals import PROTOCOLS, Entry, numbered
    from msedocs.model import iter_cases

    samples = [
        e for loaded in iter_cases(ROOT / "fixtures" / "cases") if loaded.case for e in PROTOCOLS.entries(loaded.case)
    ]
    start = dt.date(2026, 1, 1)
    entries = []
    for i in range(rows):
        e = samples[i % len(samples)]
        when = start + dt.timedelta(days=i * 330 // max(rows, 1))
        entries.append(Entry(when, (when.isoformat(), f"{i:07d}"), e.values))
    end = dt.date(2026, 12, 31)
    return PROTOCOLS.data(numbered(entries, start, end), "Первая Минская городская МРЭК общего профиля", start, end)


def stock_html(data: Journal) -> str:
    head = "".join(f"<th>{html.escape(c.label)}</th>" for c in data.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v or '')}</td>" for v in row) + "</tr>" for row in data.rows)
    return (
        "<html><head><style>@page { size: A4 landscape; margin: 12mm; "
        '@bottom-center { content: "Страница " counter(page) " из " counter(pages); } } '
        "body { font-family: 'DejaVu Serif'; font-size: 8pt; } table { border-collapse: collapse; width: 100%; } "
        "td, th { border: 0.5pt solid black; padding: 2pt; } thead { display: table-header-group; }</style></head>"
        f"<body><h1>ЖУРНАЛ {html.escape(data['title'])}</h1><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )


def run(rows: int, what: str) -> dict:
    code = RUNNER.format(root=str(ROOT), rows=rows, what=what)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--big", type=int, default=50000, help="rows of the bounded-memory run (0: skip)")
    parser.add_argument("--stock-rows", type=int, default=None, help="rows for stock WeasyPrint (default --rows)")
    parser.add_argument("--pages-cases", type=int, default=300, help="generated cases for rows per page (0: skip)")
    parser.add_argument("--pages-seed", type=int, default=21)
    args = parser.parse_args()
    if args.pages_cases:
        print(f"rows per landscape page over {args.pages_cases} generated cases (seed {args.pages_seed})")
        for jid, got in run_pages(args.pages_cases, args.pages_seed).items():
            ratio = got["rows"] / got["pages"] if got["pages"] else 0.0
            print(f"  {jid:24} {got['rows']:6} rows {got['pages']:5} pages {ratio:6.2f} rows/page   target >= 10")
    stock_rows = args.stock_rows or args.rows

    ours = run(args.rows, "pdf")
    stock = run(stock_rows, "stock")
    stock_seconds = stock["seconds"] * args.rows / stock_rows
    scaled = "" if stock_rows == args.rows else f" (measured on {stock_rows} rows, scaled)"
    print(f"journal of protocols, 15 columns, {args.rows} rows, PDF")
    print(f"  stock WeasyPrint   {stock_seconds:8.2f} s{scaled}, peak {stock['rss_mb']} MB")
    print(
        f"  msedocs (Typst)    {ours['seconds']:8.2f} s, peak {max(ours['rss_mb'], ours['children_rss_mb'])} MB"
        f" (main {ours['rss_mb']} MB, largest worker {ours['children_rss_mb']} MB)"
    )
    print(f"  {ours['pages']} pages, {args.rows / ours['pages']:.2f} rows/page (sample cases' rows)")
    print(f"  ratio stock/msedocs {stock_seconds / ours['seconds']:7.1f}x   target >= 15x, peak <= 400 MB")
    docx = run(args.rows, "docx")
    print(f"  DOCX               {docx['seconds']:8.2f} s, peak {docx['rss_mb']} MB   target <= 2 s")
    if args.big:
        big = run_big(args.big)
        mb = {k: round(v / 2**20, 1) for k, v in big["sizes"].items()}
        print(
            f"msedocs journal over {big['cases']} generated cases: {big['rows']} rows, XML + PDF + DOCX "
            f"in {big['seconds']:.1f} s (reading and validating the cases {big['reading']:.1f} s), sizes MB {mb}"
        )
        print(f"  PDF {big['pages']} pages, {big['rows'] / big['pages']:.2f} rows/page")
        print(f"  peak {max(big['rss_mb'], big['children_rss_mb'])} MB (main {big['rss_mb']} MB,"
              f" largest worker {big['children_rss_mb']} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
