"""Snapshot of every rendered output of the sample cases, to compare before and after a refactoring
(not a test).

    .venv/bin/python bench/snapshot_outputs.py OUT.json [--compare BASE.json] [--jobs 2]

Renders, unsigned, through the command line: every case of ``fixtures/cases`` with
``msedocs render --all`` (the default variant) and with ``--variant electronic``; each of the
four journals for each commission of the sample cases over the whole period; the protocol of
each session. Records the sha256 of every XML, and the text a reader sees of every PDF
(``pdftotext -layout``) and DOCX (python-docx: body paragraphs and table cells in order, then
headers and footers), each as its sha256 with the text itself kept for a diff.
With ``--compare``, prints each document that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MSEDOCS = ROOT / ".venv" / "bin" / "msedocs"
CASES = ROOT / "fixtures" / "cases"
JOURNALS = ("by-journal-protocols", "by-journal-cards", "by-journal-certificates", "by-journal-mpr")


def docx_text(path: Path) -> str:
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = Document(str(path))
    lines: list[str] = []

    def walk(container) -> None:
        for block in container.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                for row in block.rows:
                    lines.append(" | ".join(cell.text for cell in row.cells))

    walk(doc)
    for section in doc.sections:
        for part in (section.header, section.footer):
            walk(part)
    return "\n".join(lines)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True).stdout.decode()


def record(folder: Path, prefix: str, out: dict[str, dict[str, str]]) -> None:
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".xml", ".pdf", ".docx"):
            continue
        key = f"{prefix}/{path.relative_to(folder)}"
        if path.suffix == ".xml":
            out[key] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        else:
            text = pdf_text(path) if path.suffix == ".pdf" else docx_text(path)
            out[key] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text}


def run(args: list[str]) -> None:
    done = subprocess.run([str(MSEDOCS), *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"msedocs {' '.join(args)}: exit {done.returncode}\n{done.stderr}")


def jobs(tmp: Path) -> list[tuple[str, list[str], Path]]:
    sys.path.insert(0, str(ROOT))
    from msedocs.model import load_case

    out: list[tuple[str, list[str], Path]] = []
    commissions: set[str] = set()
    sessions: set[tuple[str, str]] = set()
    for path in sorted(CASES.glob("*.json")):
        case = load_case(path)
        commissions.add(case.commission.name)
        if case.examination is not None and case.jurisdiction.value == "BY":
            sessions.add((case.examination.protocol.number, case.examination.protocol.date.isoformat()))
        for variant in ("auto", "electronic"):
            name = f"render/{variant}/{path.stem}"
            args = ["render", str(path), "--all", "--variant", variant, "--out", str(tmp / name)]
            out.append((name, args, tmp / name))
    for i, commission in enumerate(sorted(commissions)):
        for jid in JOURNALS:
            name = f"journal/{jid}/{i}"
            args = ["journal", jid, "--cases", str(CASES), "--from", "1990-01-01", "--to", "2030-12-31",
                    "--commission", commission, "--out", str(tmp / name), "--workers", "1"]  # fmt: skip
            out.append((name, args, tmp / name))
    for number, date in sorted(sessions):
        name = f"protocol/{number}-{date}"
        out.append((name, ["protocol", "--cases", str(CASES), "--number", number, "--date", date,
                           "--out", str(tmp / name)], tmp / name))  # fmt: skip
    return out


def snapshot(workers: int) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="msedocs-snapshot-") as tmp:
        todo = jobs(Path(tmp))

        def one(job: tuple[str, list[str], Path]) -> dict[str, dict[str, str]]:
            name, args, folder = job
            run(args)
            found: dict[str, dict[str, str]] = {}
            record(folder, name, found)
            return found

        with ThreadPoolExecutor(workers) as pool:
            for found in pool.map(one, todo):
                result.update(found)
    return dict(sorted(result.items()))


def compare(base: dict[str, dict[str, str]], now: dict[str, dict[str, str]]) -> int:
    differ = 0
    for key in sorted(set(base) | set(now)):
        if key not in now or key not in base:
            print(f"{'missing' if key not in now else 'new'}: {key}")
            differ += 1
        elif base[key]["sha256"] != now[key]["sha256"]:
            differ += 1
            print(f"differs: {key}")
            if "text" in base[key]:
                diff = difflib.unified_diff(base[key]["text"].splitlines(), now[key]["text"].splitlines(), lineterm="")
                print("\n".join(list(diff)[:40]))
    print(f"{len(now)} documents, {differ} differ(s) from {len(base)}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    now = snapshot(args.jobs)
    args.out.write_text(json.dumps(now, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.compare:
        return compare(json.loads(args.compare.read_text(encoding="utf-8")), now)
    print(f"{len(now)} documents -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
