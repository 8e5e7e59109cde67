"""Benchmark of the core pipeline, side by side in one run (not a test).

    .venv/bin/python bench/bench_pipeline.py [--repeat N] [--docs N]

1. The act's PDF from the same HTML: stock WeasyPrint (default options, the system's
   DejaVu Serif, stylesheet parsed per document, fontTools subsetting as on a machine
   without libharfbuzz-subset0) against the pipeline (bundled trimmed font, stylesheet and
   font configuration reused, harfbuzz subsetting, and it also writes PDF/A-3b with the
   XML attached). Target: the pipeline at least 2x faster.
2. The act in all three formats through the pipeline against the sum of its parts
   (data dict, XML, PDF, DOCX timed separately). Target: within 1.15x.
3. Documents per second with one and with two worker processes (pools started and warmed up
   before timing, as a long-running batch would have them). Target: two at least 1.8x one.

Each figure is the median of N runs; every run renders a new Document (a reused
WeasyPrint Document skips font subsetting and would flatter the figure).
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import weasyprint  # noqa: E402
import weasyprint.pdf.fonts as wp_fonts  # noqa: E402

from generators import docx as docx_gen  # noqa: E402
from generators import pdf as pdf_gen  # noqa: E402
from generators import xml as xml_gen  # noqa: E402
from msedocs.forms import REGISTRY  # noqa: E402
from msedocs.model import load_case  # noqa: E402
from msedocs.pipeline import _render_in_worker, _warm_up, render_form  # noqa: E402

CASE = ROOT / "fixtures" / "cases" / "adult_first_group_ii.json"


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports, caches, first font load
    return statistics.median(timeit.repeat(fn, setup=gc.enable, number=1, repeat=repeat)) * 1000


def stock_css() -> str:
    css = (ROOT / "templates" / "form.css").read_text(encoding="utf-8")
    css = re.sub(r"@font-face\s*{[^}]*}", "", css)
    return css.replace('"Form Serif"', '"DejaVu Serif"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--docs", type=int, default=24, help="documents for the workers figure")
    args = parser.parse_args()

    case = load_case(CASE)
    spec = REGISTRY["by-act"]
    data = spec.data(case)
    xml = xml_gen.render(data)
    html = pdf_gen.render_html(data)
    css_text = stock_css()
    stock_html = html.replace("</head>", f"<style>{css_text}</style></head>")

    def stock() -> bytes:
        saved = wp_fonts.harfbuzz_subset
        wp_fonts.harfbuzz_subset = None  # fontTools subsetting, as without libharfbuzz-subset0
        try:
            return weasyprint.HTML(string=stock_html, base_url=str(ROOT / "templates")).write_pdf()
        finally:
            wp_fonts.harfbuzz_subset = saved

    def ours() -> bytes:
        return pdf_gen.html_to_pdf(html, xml=xml, name="by-act", title=data.title)

    t_stock = median_ms(stock, args.repeat)
    t_ours = median_ms(ours, args.repeat)
    print("1. act PDF from the same HTML (median ms)")
    print(f"   stock WeasyPrint (DejaVu, fontTools subset) {t_stock:8.1f}")
    print(f"   pipeline (PDF/A-3b + XML attached)          {t_ours:8.1f}")
    print(f"   ratio stock/pipeline                        {t_stock / t_ours:8.2f}x   target >= 2.0x")

    t_data = median_ms(lambda: spec.data(case), args.repeat)
    t_xml = median_ms(lambda: xml_gen.render(data), args.repeat)
    t_pdf = median_ms(lambda: pdf_gen.render(data, xml=xml), args.repeat)
    t_docx = median_ms(lambda: docx_gen.render(data), args.repeat)
    t_all = median_ms(lambda: render_form(case, spec), args.repeat)
    parts = t_data + t_xml + t_pdf + t_docx
    print("2. act in xml+pdf+docx (median ms)")
    print(f"   parts: data {t_data:.1f} + xml {t_xml:.1f} + pdf {t_pdf:.1f} + docx {t_docx:.1f} = {parts:.1f}")
    print(f"   pipeline, all three                         {t_all:8.1f}")
    print(f"   ratio pipeline/sum of parts                 {t_all / parts:8.2f}x   target <= 1.15x")

    payload = (case.model_dump_json().encode(), ("pdf",), ("by-act",), True, None)
    rates = {}
    for workers in (1, 2):
        # a pool started and warmed up before the clock starts: steady-state throughput
        with ProcessPoolExecutor(max_workers=workers, initializer=_warm_up) as pool:
            list(pool.map(_render_in_worker, [payload] * (2 * workers)))
            started = time.perf_counter()
            list(pool.map(_render_in_worker, [payload] * args.docs))
            rates[workers] = args.docs / (time.perf_counter() - started)
    print(f"3. act PDFs per second ({args.docs} documents)")
    print(f"   one process {rates[1]:.1f}/s, two processes {rates[2]:.1f}/s")
    print(f"   ratio two/one                               {rates[2] / rates[1]:8.2f}x   target >= 1.8x")


if __name__ == "__main__":
    main()
