"""Command line of delivery, mounted by ``msedocs.cli``::

    app.add_typer(queue_app, name="queue")
    app.add_typer(post_app, name="post")
    app.command("deadlines")(deadlines_cmd)
    app.command("worker")(worker_cmd)
    app.command("portal-stub")(portal_stub_cmd)

Commands raise :class:`msedocs.errors.MsedocsError` subclasses; ``msedocs.cli.main`` prints
them and sets the exit code. Output never shows a recipient's name or address.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from msedocs.errors import InputError

if TYPE_CHECKING:
    from msedocs.delivery.store import Outbox

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="MSEDOCS_DB", help="Outbox database, a SQLAlchemy URL (default: .msedocs/outbox.sqlite3)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _date(option: str, value: str | None) -> dt.date:
    from msedocs.delivery.calendar import parse_day

    return parse_day(value, f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def _outbox(db: str | None, *, create: bool = False) -> Outbox:
    """The outbox at ``--db``; a missing or unusable one is refused (BadOutboxError, exit 2; a
    server that cannot be reached: OutboxUnavailableError, exit 1), created only by ``queue init``
    or a command's ``--create``."""
    from msedocs.delivery.store import open_outbox

    return open_outbox(db, create=create)


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _row(s: dict[str, object]) -> str:
    extra = f" {s['tracking_number']}" if s.get("tracking_number") else ""
    reason = f"  ({s['last_reason']})" if s.get("last_reason") else ""
    return (
        f"{s['id']:>7} {s['channel']:<6} {s['state']:<11} due {s['due_date']} "
        f"attempts {s['attempts']:<2} {s['case_ref']}{extra}{reason}"
    )


# -- queue ---------------------------------------------------------------------------------

queue_app = typer.Typer(help="The delivery outbox: what is queued, sent, waiting or dead.", no_args_is_help=True)


@queue_app.command("init")
def queue_init_cmd(db: DbOption = None) -> None:
    """Create the outbox (and a SQLite file's folder), or bring an existing one up to date."""
    from msedocs.delivery.store import shown_url

    with _outbox(db, create=True) as ob:
        url = shown_url(ob.url)
    typer.echo(f"outbox ready: {url}")


@queue_app.command("status")
def queue_status_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Items per state."""
    with _outbox(db) as ob:
        counts = ob.counts()
    if as_json:
        typer.echo(json.dumps(counts))
        return
    for state, n in counts.items():
        typer.echo(f"{state:<12} {n}")


@queue_app.command("list")
def queue_list_cmd(
    db: DbOption = None,
    state: Annotated[str | None, typer.Option("--state", help="Only items in this state.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="portal or post.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Items with their state, due date, attempts and last failure."""
    from msedocs.delivery.models import Channel, State

    if state is not None and state not in State.ALL:
        raise InputError(f"--state: one of {', '.join(State.ALL)}")
    if channel is not None and channel not in Channel.ALL:
        raise InputError(f"--channel: one of {', '.join(Channel.ALL)}")
    with _outbox(db) as ob:
        items = [i.summary() for i in ob.list_items(state, channel, limit=limit)]
    if as_json:
        _echo_json(items)
        return
    for s in items:
        typer.echo(_row(s))


@queue_app.command("show")
def queue_show_cmd(item_id: Annotated[int, typer.Argument(help="Item id.")], db: DbOption = None) -> None:
    """One item and its state history."""
    with _outbox(db) as ob:
        item = ob.get(item_id)
        history = ob.history(item_id)
        docs = ob.documents(item_id)
    typer.echo(_row(item.summary()))
    for d in docs:
        typer.echo(f"  document {d.name} {d.media_type} {d.role} sha256 {d.sha256}")
    for h in history:
        typer.echo(f"  {h.at.isoformat(timespec='seconds')} {h.from_state or '-'} -> {h.to_state} ({h.reason})")


@queue_app.command("retry")
def queue_retry_cmd(item_id: Annotated[int, typer.Argument(help="Item id.")], db: DbOption = None) -> None:
    """Queue a dead (or waiting, or returned) item again now, with a fresh set of attempts."""
    with _outbox(db) as ob:
        item = ob.retry(item_id)
    typer.echo(f"item {item.id}: queued")


@queue_app.command("resolve")
def queue_resolve_cmd(
    item_id: Annotated[int, typer.Argument(help="Item id.")],
    delivered: Annotated[bool, typer.Option("--delivered", help="The portal has it: record it as delivered.")] = False,
    paper: Annotated[bool, typer.Option("--paper", help="The portal has not got it: registered mail.")] = False,
    db: DbOption = None,
) -> None:
    """Decide an unresolved portal item (outcome unknown when paper was due), after checking the portal."""
    if delivered == paper:
        raise InputError("queue resolve: give --delivered or --paper (one of them)")
    with _outbox(db) as ob:
        item = ob.resolve(item_id, delivered=delivered)
    typer.echo(f"item {item.id}: " + ("delivered" if delivered else "queued for registered mail"))


@queue_app.command("dead")
def queue_dead_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Dead items with their last failure (retry one with `queue retry ID`)."""
    with _outbox(db) as ob:
        items = [i.summary() for i in ob.dead()]
    if as_json:
        _echo_json(items)
        return
    for s in items:
        typer.echo(_row(s))
    if not items:
        typer.echo("no dead items")


# -- deadlines -----------------------------------------------------------------------------


def deadlines_cmd(
    date: Annotated[str | None, typer.Option("--date", help="The day to report for (default today).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Items due, overdue and delivered late (3 working days by the production calendar)."""
    day = _date("--date", date)
    with _outbox(db) as ob:
        report = ob.deadline_report(day)
    data = report.to_json()
    if as_json:
        _echo_json(data)
        return
    for title, key in (("due", "due"), ("overdue", "overdue"), ("delivered late", "delivered_late")):
        rows = data[key]
        typer.echo(f"{title}: {len(rows)}")
        for s in rows:
            done = f" completed {s['completed_on']}" if s.get("completed_on") else ""
            typer.echo("  " + _row(s) + done)


# -- worker and stub -----------------------------------------------------------------------


def worker_cmd(
    portal_url: Annotated[
        str | None, typer.Option("--portal-url", envvar="MSEDOCS_PORTAL_URL", help="Base URL of the portal API.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Drain what is due and exit.")] = False,
    db: DbOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Items claimed at a time.")] = 64,
    lease: Annotated[float | None, typer.Option("--lease", help="Seconds a claim is held.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Portal read/write timeout, seconds.")] = 30.0,
    connect_timeout: Annotated[float, typer.Option("--connect-timeout", help="Seconds.")] = 5.0,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="PEM CA certificates to trust.")] = None,
    client_cert: Annotated[Path | None, typer.Option("--client-cert", help="PEM client certificate.")] = None,
    client_key: Annotated[Path | None, typer.Option("--client-key", help="PEM client key.")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not check the portal's certificate.")] = False,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="Attempts before dead.")] = 8,
    base_delay: Annotated[float, typer.Option("--base-delay", help="First retry delay, seconds.")] = 30.0,
    max_delay: Annotated[float, typer.Option("--max-delay", help="Longest retry delay, seconds.")] = 3600.0,
    no_fallback: Annotated[bool, typer.Option("--no-fallback", help="Never fall back to registered mail.")] = False,
    fallback_after: Annotated[int, typer.Option("--fallback-after", help="Failed attempts before paper.")] = 4,
    create: Annotated[bool, typer.Option("--create", help="Create the outbox if there is none yet.")] = False,
    jobs: Annotated[bool, typer.Option("--jobs", help="Render the HTTP service's queued jobs instead.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Rendering processes (with --jobs).")] = 2,
    pki: Annotated[Path | None, typer.Option("--pki", help="The TEST PKI folder (with --jobs).")] = None,
    signing_config: Annotated[
        Path | None,
        typer.Option("--signing-config", help="Signing TOML with the production keys (with --jobs; instead of "
                     "the TEST PKI); checked before any job is taken."),
    ] = None,
) -> None:
    """Deliver due portal items (SIGTERM stops after the current item); with --jobs, render the
    HTTP service's queued jobs (`msedocs serve`), on any number of machines sharing one store."""
    if jobs:
        from msedocs.api.cli import run_jobs_worker

        return run_jobs_worker(db, workers, pki, once, signing_config, lease=lease or 60.0)
    if signing_config is not None:
        raise InputError("--signing-config: only with --jobs (the delivery worker signs nothing)")
    from msedocs.delivery.models import RetryPolicy
    from msedocs.delivery.portal import PortalConfig
    from msedocs.delivery.worker import WorkerConfig, run_worker

    if not portal_url:
        raise InputError("--portal-url (or MSEDOCS_PORTAL_URL) is required")
    portal = PortalConfig(
        portal_url,
        timeout=timeout,
        connect_timeout=connect_timeout,
        verify=not insecure,
        ca_file=str(ca_file) if ca_file else None,
        client_cert=str(client_cert) if client_cert else None,
        client_key=str(client_key) if client_key else None,
    )
    policy = RetryPolicy(
        max_attempts=max_attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        fallback_to_paper=not no_fallback,
        fallback_after_attempts=fallback_after,
    )
    config = WorkerConfig(batch_size=batch, lease=lease, policy=policy)
    stats = run_worker(db, portal, config, once=once, create=create)
    typer.echo(
        f"delivered {stats.delivered}, failed attempts {stats.failed}, dead {stats.dead}, "
        f"fell back to paper {stats.fell_back}, unresolved (a person decides) {stats.unresolved}"
    )


def portal_stub_cmd(
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    mode: Annotated[str, typer.Option("--mode", help="ok, fail, timeout or slow.")] = "ok",
    delay: Annotated[float, typer.Option("--delay", help="Seconds before each answer.")] = 0.0,
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Share of requests to fail.")] = 0.0,
    fail_next: Annotated[int, typer.Option("--fail-next", help="Fail the next N requests.")] = 0,
    fail_status: Annotated[int, typer.Option("--fail-status", help="Status code of a failure.")] = 503,
    hang: Annotated[float, typer.Option("--hang", help="Seconds to hold a request in timeout mode.")] = 30.0,
    probe_status: Annotated[
        int, typer.Option("--probe-status", help="Answer every status probe with this code (0: normally).")
    ] = 0,
) -> None:
    """Run the portal stub: POST /deliveries, GET /deliveries/KEY, GET /stats, GET|POST /control."""
    from msedocs.delivery.stub import MODES, StubBehaviour, serve

    if mode not in MODES:
        raise InputError(f"--mode: one of {', '.join(MODES)}")
    serve(host, port, StubBehaviour(mode, delay, fail_rate, fail_next, fail_status, hang, probe_status))


# -- registered mail -----------------------------------------------------------------------

post_app = typer.Typer(help="Registered mail: the day's batch, and what the post office did.", no_args_is_help=True)


@post_app.command("batch")
def post_batch_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    date: Annotated[str | None, typer.Option("--date", help="Date of the list (default today).")] = None,
    db: DbOption = None,
    tracking_range: Annotated[
        str | None,
        typer.Option(
            "--range",
            envvar="MSEDOCS_TRACKING_RANGE",
            help="Register a range of tracking numbers first: INDEX:MM:FIRST-LAST, e.g. 101000:11:1-99999.",
        ),
    ] = None,
    envelope: Annotated[str | None, typer.Option("--envelope", help="c5 or dl-window.")] = None,
) -> None:
    """Put queued postal items on a new list; write print packs and the form-103 list (PDF, CSV)."""
    from msedocs.delivery.postal import PostalConfig, make_batch
    from msedocs.delivery.tracking import TrackingRange

    day = _date("--date", date)
    rng = TrackingRange.parse(tracking_range) if tracking_range else None
    with _outbox(db) as ob:
        result = make_batch(ob, day, out, PostalConfig.from_env(envelope), rng)
    if result.new_list is None:
        typer.echo(f"nothing queued for registered mail; {len(result.lists)} earlier list(s) of {day} rewritten")
    for wl in result.lists:
        new = " (new)" if wl.number in result.new_lists else ""
        typer.echo(f"list {wl.number}{new}: {len(wl.packs)} item(s) -> {wl.list_pdf}, {wl.list_csv}")


def _trackings(outbox: Outbox, trackings: list[str] | None, list_number: int | None) -> list[str]:
    numbers = list(trackings or [])
    if list_number is not None:
        numbers += [i.tracking_number for i in outbox.list_items(list_number=list_number) if i.tracking_number]
    if not numbers:
        raise InputError("give tracking numbers, or --list N")
    return numbers


@post_app.command("handed-over")
def post_handed_over_cmd(
    tracking: Annotated[list[str] | None, typer.Argument(help="Tracking numbers.", show_default=False)] = None,
    list_number: Annotated[int | None, typer.Option("--list", help="Every printed item of list N.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Day handed over (default today).")] = None,
    db: DbOption = None,
) -> None:
    """Record that items were handed over to the post office (printed -> handed_over)."""
    from msedocs.delivery.models import State

    day = _date("--date", date)
    with _outbox(db) as ob:
        numbers = _trackings(ob, tracking, list_number)
        if list_number is not None and not tracking:
            printed = {i.tracking_number for i in ob.list_items(State.PRINTED, list_number=list_number)}
            numbers = [n for n in numbers if n in printed]
        for n in numbers:
            ob.mark_handed_over(n, day)
            typer.echo(f"{n}: handed over on {day}")


def _outcome(outcome: str, tracking: list[str], date: str | None, reason: str, db: str | None) -> None:
    day = _date("--date", date)
    with _outbox(db) as ob:
        for n in tracking:
            ob.mark_post_outcome(n, outcome, day, reason)
            typer.echo(f"{n}: {outcome} on {day}")


@post_app.command("returned")
def post_returned_cmd(
    tracking: Annotated[list[str], typer.Argument(help="Tracking numbers.", show_default=False)],
    date: Annotated[str | None, typer.Option("--date", help="Day it came back (default today).")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, as the post says.")] = "returned to sender",
    db: DbOption = None,
) -> None:
    """Record items that came back (handed_over -> returned); `queue retry ID` sends one again."""
    _outcome("returned", tracking, date, reason, db)


@post_app.command("delivered")
def post_delivered_cmd(
    tracking: Annotated[list[str], typer.Argument(help="Tracking numbers.", show_default=False)],
    date: Annotated[str | None, typer.Option("--date", help="Day of delivery (default today).")] = None,
    db: DbOption = None,
) -> None:
    """Record items the post delivered (handed_over -> delivered)."""
    _outcome("delivered", tracking, date, "delivered by the post", db)
