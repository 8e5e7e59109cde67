"""A national day: the full signed package against stock WeasyPrint, in one run (not a test).

    .venv/bin/python bench/bench_national_day.py [--cases 60] [--seed 21] [--repeat 7] [--profile]
                                                 [--workers N] [--engine weasyprint|typst] [--national 0]

1. Stock WeasyPrint (default options, fontTools subsetting as without libharfbuzz-subset0, the
   system's DejaVu Serif) on a fixed two-page Cyrillic form (built here, the same HTML every
   run): pages per second, the median of --repeat runs.
2. The full package of `msedocs fixtures generate --count N --seed S` cases through the whole
   CLI process (`msedocs render CASES --all --sign`: every form that applies, XML + PDF/A-3b +
   DOCX, each signed at B-T with the test PKI): pages of every PDF written, per second of wall
   time; its ratio to (1). Goal: at least 8x.
3. --profile: where the package's time goes, in one process over the same cases (cProfile,
   cumulative time of each stage's entry point): case data, XML, PDF layout and writing, DOCX,
   XAdES, PAdES, CAdES, files. The breakdown is printed as shares of the whole.
4. --national N: N generated cases once, end to end, on the machine's cores: wall time (goal
   under 1 h for 10,000 on 2 cores) and the peak memory of the main process and its largest
   worker (goal at most 500 MB each).

Figures vary with the machine's load: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: The stock reference: a two-page form of numbered items and one table, in Russian.
ITEMS = [
    "Фамилия, собственное имя, отчество (если таковое имеется) пациента",
    "Дата рождения, идентификационный номер, документ, удостоверяющий личность",
    "Место жительства (место пребывания), номер телефона",
    "Наименование организации здравоохранения, направившей пациента на медико-социальную экспертизу",
    "Цель направления: освидетельствование, переосвидетельствование (нужное подчеркнуть)",
    "Клинико-функциональный диагноз основного заболевания, код по МКБ-10, сопутствующие заболевания",
    "Виды нарушений функций организма и степень их выраженности, ограничения жизнедеятельности",
    "Решение медико-реабилитационной экспертной комиссии, группа инвалидности, причина инвалидности",
]
ITEM_COUNT, TABLE_ROWS = 22, 8


def stock_form_html() -> str:
    """The fixed two-page Cyrillic form given to stock WeasyPrint (the same HTML every run)."""
    rows = "".join(
        f"<tr><td>{i}</td><td>Категория жизнедеятельности № {i}</td><td>ФК {i % 5}</td><td>с {i:02d}.01.2026</td></tr>"
        for i in range(1, TABLE_ROWS + 1)
    )
    items = "".join(
        f"<p><b>{n}.</b> {ITEMS[n % len(ITEMS)]}: <u>сведения, внесенные в пункт {n} формы; "
        "подробности изложены в заключении специалистов комиссии</u>.</p>"
        for n in range(1, ITEM_COUNT + 1)
    )
    return (
        "<html lang='ru'><head><meta charset='utf-8'><style>"
        "@page { size: A4; margin: 20mm 15mm 20mm 25mm } body { font-family: 'DejaVu Serif'; font-size: 11pt }"
        "table { border-collapse: collapse; width: 100% } td { border: 1px solid black; padding: 2pt }"
        "</style></head><body><h1 style='text-align:center;font-size:13pt'>АКТ освидетельствования</h1>"
        f"{items}<table>{rows}</table></body></html>"
    )


def stock_pages_per_second(repeat: int) -> tuple[float, int, float]:
    """(pages/s, pages, median seconds) of stock WeasyPrint on the fixed form."""
    import io

    import pikepdf
    import weasyprint
    import weasyprint.pdf.fonts as wp_fonts

    html = stock_form_html()
    wp_fonts.harfbuzz_subset = None  # fontTools subsetting, as on a machine without libharfbuzz-subset0

    def once() -> bytes:
        return weasyprint.HTML(string=html).write_pdf()

    with pikepdf.open(io.BytesIO(once())) as pdf:
        pages = len(pdf.pages)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    return pages / seconds, pages, seconds


def pdf_pages(folder: Path) -> int:
    import pikepdf

    total = 0
    for path in folder.rglob("*.pdf"):
        with pikepdf.open(path) as pdf:
            total += len(pdf.pages)
    return total


def generate(count: int, seed: int, out: Path) -> None:
    command = [str(BIN / "msedocs"), "fixtures", "generate", "--count", str(count), "--seed", str(seed), "--out"]
    subprocess.run([*command, str(out)], check=True, capture_output=True)


def package(cases: Path, out: Path, workers: int | None, engine: str | None = None) -> tuple[float, int]:
    """Wall seconds of the whole CLI process and its peak memory (the largest of it and its children), MB."""
    command = [str(BIN / "msedocs"), "render", str(cases), "--all", "--sign", "--out", str(out)]
    if workers:
        command += ["--workers", str(workers)]
    if engine:
        command += ["--engine", engine]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024
    return elapsed, peak


STAGES = {  # stage -> (file suffix, function name) of its entry point
    "case data": ("msedocs/forms/spec.py", "data"),
    "XML": ("generators/xml.py", "render"),
    "PDF (WeasyPrint layout + PDF/A writing)": ("generators/pdf.py", "render"),
    "PDF (Typst layout + PDF/A writing)": ("generators/typst_form.py", "render"),
    "DOCX": ("generators/docx.py", "render"),
    "XAdES": ("signing/xades.py", "sign_xml"),
    "PAdES": ("signing/pades.py", "sign_pdf"),
    "CAdES": ("signing/cades.py", "sign_detached"),
}


def profile_breakdown(cases_path: Path, engine: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    from msedocs import pipeline
    from msedocs.model import iter_cases
    from msedocs.sign import SigningOptions, load

    cases = [x.case for x in iter_cases(cases_path) if x.case is not None]
    profile = load(SigningOptions(level="B-T"))
    pipeline.render_package(cases[0], paper=False, profile=profile, engine=engine)  # imports, fonts, keys
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for case in cases:
        pipeline.render_package(case, paper=False, profile=profile, engine=engine)
    profiler.disable()
    whole = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(f"3. where the time goes: {len(cases)} cases in one process, {whole:.1f} s under cProfile")
    accounted = 0.0
    for stage, (suffix, name) in STAGES.items():
        seconds = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(suffix) and fn == name)
        accounted += seconds
        print(f"   {stage:42} {seconds:7.2f} s  {100 * seconds / whole:5.1f} %")
    rest = whole - accounted
    print(f"   {'the rest (loop, manifest, signing set-up)':42} {rest:7.2f} s  {100 * rest / whole:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="render --workers (default: the CLI's)")
    parser.add_argument("--engine", default=None, help="render --engine: weasyprint or typst (default: the CLI's)")
    parser.add_argument("--profile", action="store_true", help="print the stage breakdown")
    parser.add_argument("--national", type=int, default=0, help="cases of the end-to-end run (0: skip)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")

    rate, pages, seconds = stock_pages_per_second(args.repeat)
    print(f"1. stock WeasyPrint, fixed {pages}-page Cyrillic form: {seconds * 1000:.0f} ms, {rate:.1f} pages/s")

    with tempfile.TemporaryDirectory(prefix="msedocs-national-") as tmp:
        cases = Path(tmp) / "cases.jsonl"
        generate(args.cases, args.seed, cases)
        out = Path(tmp) / "out"
        elapsed, peak = package(cases, out, args.workers, args.engine)
        ours = pdf_pages(out)
        print(f"2. full signed package, {args.cases} cases (seed {args.seed}), whole CLI process, "
              f"engine {args.engine or 'default'}, workers {args.workers or 'default'}:")
        print(f"   {ours} PDF pages in {elapsed:.1f} s = {ours / elapsed:.1f} pages/s, peak {peak} MB")
        print(f"   ratio to stock WeasyPrint {ours / elapsed / rate:6.2f}x   goal >= 8x")
        if args.profile:
            profile_breakdown(cases, args.engine)
        if args.national:
            big = Path(tmp) / "national.jsonl"
            generate(args.national, args.seed, big)
            elapsed, peak = package(big, Path(tmp) / "national", args.workers, args.engine)
            print(f"4. {args.national} cases end to end: {elapsed / 60:.1f} min, peak {peak} MB (largest process)")
            print("   goal: 10,000 cases under 60 min on 2 cores, at most 500 MB per process")


if __name__ == "__main__":
    main()
