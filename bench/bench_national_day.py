"""A national day: the full signed package against stock WeasyPrint, in one run (not a test).

    .venv/bin/python bench/bench_national_day.py [--cases 60] [--seed 21] [--repeat 7] [--profile]
                                                 [--workers N] [--engine weasyprint|typst] [--national 0]
                                                 [--rounds 1]

1. Stock WeasyPrint (default options, fontTools subsetting as without libharfbuzz-subset0, the
   system's DejaVu Serif) on a fixed two-page Cyrillic form (built here, the same HTML every
   run): pages per second, the median of --repeat runs, measured before and again after the
   package (their mean is the reference, so that a change of load during the package moves
   both sides).
2. The full package of `msedocs fixtures generate --count N --seed S` cases through the whole
   CLI process (`msedocs render CASES --all --sign`: every form that applies, XML + PDF/A-3b +
   DOCX, each signed at B-T with the test PKI): pages of every PDF written, per second of wall
   time; its ratio to (1). Goal: at least 8x. --rounds K repeats (1) and (2) K times and prints
   the median ratio. The CPU seconds and peak memory are those of every process of the CLI's
   session (the CLI, the fork server, the workers forked from it), read from /proc.
3. --profile: where the package's time goes, in one process over the same cases (each stage's
   entry point timed, CPU and wall): case data, XML, PDF layout and writing, DOCX, XAdES,
   PAdES, CAdES, the rest. The breakdown is printed as shares of the whole CPU time.
4. --national N: N generated cases once, end to end, on the machine's cores: wall time (goal
   under 1 h for 10,000 on 2 cores) and the peak memory of the largest of its processes (goal
   at most 500 MB each).

Figures vary with the machine's load: the load average is printed with them, and CPU seconds
(and the ratio of pages per CPU second) beside wall time, which a shared machine distorts most.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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


def stock_pages_per_second(repeat: int) -> tuple[float, int, float, float]:
    """(pages/s, pages, median seconds, median CPU seconds) of stock WeasyPrint on the fixed form."""
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
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        once()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    seconds = statistics.median(times)
    return pages / seconds, pages, seconds, statistics.median(cpu)


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


class SessionSampler(threading.Thread):
    """Every process of one session (the CLI, started in a session of its own, and whatever it
    starts: the fork server, the workers forked from it, the resource tracker), read from /proc
    every 0.1 s: each process's CPU seconds (user + system) at its last reading, and its peak
    resident memory (VmHWM, the kernel's own high-water mark, exact however late it is read).
    A worker forked from the fork server is not the CLI's child, so RUSAGE_CHILDREN misses it;
    what this misses is each process's last 0.1 s of CPU at most (Linux only)."""

    def __init__(self, session: int) -> None:
        super().__init__(daemon=True)
        self.session, self.cpu, self.peak = session, {}, {}
        self.done = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[3]) != self.session:  # session id
                    continue
                self.cpu[name] = (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
                status = Path(f"/proc/{name}/status").read_text()
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak[name] = max(self.peak.get(name, 0), int(line.split()[1]) // 1024)

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()


def package(cases: Path, out: Path, workers: int | None, engine: str | None = None) -> tuple[float, int, float]:
    """Wall seconds of the whole CLI process, the peak memory of its largest process (the CLI,
    the fork server or a worker), MB, and the CPU seconds (user + system) of all of them."""
    command = [str(BIN / "msedocs"), "render", str(cases), "--all", "--sign", "--out", str(out)]
    if workers:
        command += ["--workers", str(workers)]
    if engine:
        command += ["--engine", engine]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cli = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    sampler = SessionSampler(cli.pid)
    sampler.start()
    _, stderr = cli.communicate()
    elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if cli.returncode:
        raise SystemExit(f"msedocs render failed (exit {cli.returncode}): {stderr.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.cpu[str(cli.pid)] = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)  # exact
    return elapsed, max(sampler.peak.values(), default=0), sum(sampler.cpu.values())


def profile_breakdown(cases_path: Path, engine: str | None = None) -> None:
    """Each stage's entry point timed (CPU and wall) over the cases' packages in this process.

    Plain timers rather than cProfile: cProfile's overhead per call inflates pure-Python code
    (asn1crypto, docxtpl) several times over C code (Typst, RSA) and skews the shares."""
    import collections
    import functools

    sys.path.insert(0, str(ROOT))
    import signing
    from generators import docx as docx_gen
    from generators import pdf as pdf_gen
    from generators import typst_form
    from generators import xml as xml_gen
    from msedocs import pipeline
    from msedocs.forms.spec import FormSpec
    from msedocs.model import iter_cases
    from msedocs.sign import SigningOptions, load

    cpu: collections.Counter[str] = collections.Counter()
    wall: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    def timed(owner: object, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*args: object, **kwargs: object) -> object:
            c, w = time.process_time(), time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                cpu[stage] += time.process_time() - c
                wall[stage] += time.perf_counter() - w
                calls[stage] += 1

        setattr(owner, name, wrapper)

    stages = [
        (FormSpec, "data", "case data (form filled in)"),
        (xml_gen, "render", "XML"),
        (pdf_gen, "render", "PDF, WeasyPrint layout + PDF/A writing"),
        (typst_form, "render", "PDF, Typst layout + PDF/A writing"),
        (docx_gen, "render", "DOCX"),
        (signing, "sign_xml", "XAdES"),
        (signing, "sign_pdf", "PAdES"),
        (signing, "sign_detached", "CAdES"),
    ]
    for owner, name, stage in stages:
        timed(owner, name, stage)
    pipeline.FORM_RENDERERS = pipeline.InMemory(xml_gen.render, pdf_gen.render, docx_gen.render)

    cases = [x.case for x in iter_cases(cases_path) if x.case is not None]
    profile = load(SigningOptions(level="B-T"))
    pipeline.render_package(cases[0], paper=False, profile=profile, engine=engine)  # imports, fonts, keys
    cpu.clear(), wall.clear(), calls.clear()
    started, started_cpu = time.perf_counter(), time.process_time()
    for case in cases:
        pipeline.render_package(case, paper=False, profile=profile, engine=engine)
    whole, whole_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    print(
        f"3. where the time goes: {len(cases)} cases' packages in one process (after one to warm up), "
        f"{whole_cpu:.2f} CPU s, {whole:.2f} s wall"
    )
    print(f"   {'stage':42} {'CPU s':>7} {'share':>6} {'ms/call':>8} {'calls':>6} {'wall s':>7}")
    for _, _, stage in stages:
        if calls[stage]:
            print(
                f"   {stage:42} {cpu[stage]:7.2f} {100 * cpu[stage] / whole_cpu:5.1f}% "
                f"{1000 * cpu[stage] / calls[stage]:8.1f} {calls[stage]:6} {wall[stage]:7.2f}"
            )
    rest, rest_wall = whole_cpu - sum(cpu.values()), whole - sum(wall.values())
    print(
        f"   {'the rest (loop, manifest, signers, form choice)':42} {rest:7.2f} {100 * rest / whole_cpu:5.1f}% "
        f"{'':8} {'':6} {rest_wall:7.2f}"
    )


def default_workers(cases: int) -> str:
    """What ``render`` without ``--workers`` uses for a batch of ``cases`` (msedocs.pipeline)."""
    sys.path.insert(0, str(ROOT))
    from msedocs.pipeline import default_workers as chosen

    return f"default ({chosen(cases)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="render --workers (default: the CLI's)")
    parser.add_argument("--engine", default=None, help="render --engine: weasyprint or typst (default: the CLI's)")
    parser.add_argument("--profile", action="store_true", help="print the stage breakdown")
    parser.add_argument("--rounds", type=int, default=1, help="stock, package, stock again: this many times")
    parser.add_argument("--national", type=int, default=0, help="cases of the end-to-end run (0: skip)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory(prefix="msedocs-national-") as tmp:
        cases = Path(tmp) / "cases.jsonl"
        generate(args.cases, args.seed, cases)
        ratios: list[float] = []
        for round_no in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"round {round_no} of {args.rounds} (load average {os.getloadavg()[0]:.2f})")
            rate, pages, seconds, stock_cpu = stock_pages_per_second(args.repeat)
            print(
                f"1. stock WeasyPrint, fixed {pages}-page Cyrillic form: {seconds * 1000:.0f} ms, {rate:.1f} pages/s "
                f"({stock_cpu * 1000:.0f} ms CPU, {pages / stock_cpu:.1f} pages per CPU second)"
            )
            out = Path(tmp) / f"out{round_no}"
            elapsed, peak, cpu = package(cases, out, args.workers, args.engine)
            ours = pdf_pages(out)
            shutil.rmtree(out)
            # stock measured again after the package: its rate is the median of both sets, so that a
            # change of the machine's load during the package moves both sides alike
            after_rate, _, _, after_cpu = stock_pages_per_second(args.repeat)
            rate, stock_cpu = statistics.median([rate, after_rate]), statistics.median([stock_cpu, after_cpu])
            print(f"   stock again after the package: {after_rate:.1f} pages/s; taken: {rate:.1f} (the mean of both)")
            print(
                f"2. full signed package, {args.cases} cases (seed {args.seed}), whole CLI process, "
                f"engine {args.engine or 'default'}, workers {args.workers or default_workers(args.cases)}:"
            )
            print(f"   {ours} PDF pages in {elapsed:.1f} s = {ours / elapsed:.1f} pages/s, peak {peak} MB")
            print(f"   ratio to stock WeasyPrint {ours / elapsed / rate:6.2f}x   goal >= 8x")
            ratios.append(ours / elapsed / rate)
            # CPU seconds are less at the mercy of other work on a shared machine than wall time
            print(
                f"   {cpu:.1f} CPU s (process and workers) = {ours / cpu:.1f} pages per CPU second, "
                f"ratio {ours / cpu / (pages / stock_cpu):.2f}x to stock's pages per CPU second"
            )
            print(f"   load average after: {os.getloadavg()[0]:.2f}")
        if args.rounds > 1:
            print(
                f"ratio to stock over {args.rounds} rounds: median {statistics.median(ratios):.2f}x "
                f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)   goal >= 8x"
            )
        if args.profile:
            profile_breakdown(cases, args.engine)
        if args.national:
            big = Path(tmp) / "national.jsonl"
            generate(args.national, args.seed, big)
            elapsed, peak, _ = package(big, Path(tmp) / "national", args.workers, args.engine)
            print(f"4. {args.national} cases end to end: {elapsed / 60:.1f} min, peak {peak} MB (largest process)")
            print("   goal: 10,000 cases under 60 min on 2 cores, at most 500 MB per process")


if __name__ == "__main__":
    main()
