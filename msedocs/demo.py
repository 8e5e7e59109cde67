"""The demo: the main job on the sample cases (``msedocs demo``).

Every sample case rendered in every form that applies (XML, PDF/A-3b, DOCX) and signed with a
generated TEST PKI at B-T, the Russian extracts queued in a SQLite outbox, the portal one
delivered to a portal stub started for it, and the registered-mail batch made for the paper one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from . import pipeline
from .model import Case
from .synth import SAMPLES as FIXTURES  # the sample cases, shipped in the package


def run(out: Path, workers: int, *, echo: Callable[[str], None], read: Callable[[Path], Case]) -> None:
    """The demo into ``out``, each line of its report given to ``echo``; ``read`` reads a case."""
    from .delivery import Outbox, PortalConfig, PortalStub, run_worker
    from .delivery.postal import make_batch
    from .delivery.tracking import TrackingRange
    from .queueing import queue_case
    from .sign import SigningOptions, load

    paths = sorted(FIXTURES.glob("*.json"))
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    profile = load(SigningOptions(level="B-T", pki_dir=out / "pki"))
    cases = [read(path) for path in paths]
    db_path = (out / "outbox.sqlite3").resolve()
    for stale in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        stale.unlink(missing_ok=True)  # the demo's own outbox is made anew: its extracts are issued once per run
    db_url = f"sqlite:///{db_path}"
    total, queued = 0, 0
    echo(f"rendering and signing {len(cases)} sample cases (TEST PKI: not valid for real use)")
    for path, (case, docs) in zip(
        paths, pipeline.render_batch(cases, workers=workers, paper=False, profile=profile), strict=True
    ):
        pipeline.write_package(out / path.stem, docs, case)
        total += len(docs)
        note = ""
        if case.delivery is not None and any(d.form_id == "ru-extract" for d in docs):
            extract = [d for d in docs if d.form_id == "ru-extract"]
            paper = pipeline.render_package(case, ("pdf",), ["ru-extract"], paper=True)
            item = queue_case(case, extract, paper, db_url)
            queued += 1
            note = f"  -> outbox item {item} ({case.delivery.channel})"
        forms = sorted({d.form_id for d in docs})
        listed = ", ".join(forms) or "(no form of this set applies)"
        echo(f"  {path.stem:<38} {len(docs):>3} files  {listed}{note}")
    with PortalStub() as stub:
        stats = run_worker(db_url, PortalConfig(url=stub.url), once=True)
        portal = stub.stats()
    today = dt.date.today()
    with Outbox(db_url) as outbox:
        tracking = TrackingRange.parse(f"644099:{today.month}:1-999")  # a demo range of the bureau's post office
        batch = make_batch(outbox, today, out / "post", tracking_range=tracking)
        counts = {state: n for state, n in outbox.counts().items() if n}
        report = outbox.deadline_report(today)
    elapsed = time.perf_counter() - started
    echo(f"\n{total} documents for {len(cases)} cases, signed at {profile.level.value}, in {elapsed:.1f} s")
    echo(f"outbox: {queued} queued; portal stub received {portal['unique']} (duplicates {portal['duplicates']});"
               f" worker delivered {stats.delivered}")  # fmt: skip
    echo(f"states: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    for open_item in report.due + report.overdue:
        echo(f"  item {open_item.id} ({open_item.channel}) due {open_item.due_date}: {open_item.state}")
    if batch.new_list is not None:
        echo(f"registered mail: list {batch.new_list} in {out / 'post'}")
    echo(f"-> {out.resolve()}  (verify a file: msedocs verify FILE --pki {out / 'pki'})")
