"""The service's commands: ``msedocs serve``, ``msedocs keys create``, ``msedocs worker --jobs``.

Mounted by :mod:`msedocs.cli`; this module imports only typer at the top, so mounting it is
cheap. ``serve`` replaces the CLI process with ``python -m msedocs.api`` (same pid, same
arguments): the CLI module loads the whole flow (the generators, signing), which the server
process must never hold.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from .app import Service, ServiceConfig

DEFAULT_DATA = Path(".msedocs")


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default MSEDOCS_DB, else DATA/outbox.sqlite3).")]
    = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Rendering processes.")] = 2,
    data: Annotated[Path, typer.Option("--data", help="Folder of the SQLite store and the TEST PKI.")] = DEFAULT_DATA,
    queue: Annotated[int, typer.Option("--queue", min=0, help="Requests waiting for a renderer before 429.")] = 8,
    jobs: Annotated[bool, typer.Option("--jobs/--no-jobs", help="Also run queued jobs here (else only workers).")]
    = True,
    signing_config: Annotated[Path | None, typer.Option("--signing-config", help="Signing TOML (profile configured).")]
    = None,
    max_tasks_per_child: Annotated[int, typer.Option("--max-tasks-per-child", min=1, help="Recycle after N tasks.")]
    = 200,
    print_openapi: Annotated[bool, typer.Option("--print-openapi", help="Print the OpenAPI document and exit.")]
    = False,
    csc_service: Annotated[list[str] | None, typer.Option("--csc-service", help="A CSC remote signing service's "
                           "base URL that signing sessions may use; repeatable.")] = None,  # fmt: skip
    callback_host: Annotated[list[str] | None, typer.Option("--callback-host", help="A host (or *.domain) callbacks "
                             "may go to; repeatable (none: any).")] = None,  # fmt: skip
) -> None:
    """The HTTP API (/v1): render, sign, validate; jobs in the store. See README, «HTTP API»."""
    args = ["--host", host, "--port", str(port), "--workers", str(workers), "--data", str(data),
            "--queue", str(queue), "--max-tasks-per-child", str(max_tasks_per_child)]  # fmt: skip
    if db:
        args += ["--db", db]
    if not jobs:
        args.append("--no-jobs")
    if signing_config:
        args += ["--signing-config", str(signing_config)]
    if print_openapi:
        args.append("--print-openapi")
    for url in csc_service or []:
        args += ["--csc-service", url]
    for host in callback_host or []:
        args += ["--callback-host", host]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "msedocs.api", *args])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msedocs serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--queue", type=int, default=8)
    p.add_argument("--no-jobs", action="store_true")
    p.add_argument("--signing-config")
    p.add_argument("--max-tasks-per-child", type=int, default=200)
    p.add_argument("--print-openapi", action="store_true")
    p.add_argument("--csc-service", action="append", default=[])
    p.add_argument("--callback-host", action="append", default=[])
    return p


def db_url(db: str | None, data: Path) -> str:
    """``--db``, else ``MSEDOCS_DB``, else the SQLite file in the data folder (the outbox's file)."""
    return db or os.environ.get("MSEDOCS_DB") or f"sqlite:///{(data / 'outbox.sqlite3').resolve()}"


def serve_main(argv: list[str]) -> int:
    """The server process: check the store, start the renderers (and the TEST PKI), serve."""
    from ..errors import MsedocsError

    opts = _parser().parse_args(argv)
    data = Path(opts.data)
    from .app import ServiceConfig, create_app

    config = ServiceConfig(
        db_url=db_url(opts.db, data), pki_dir=str((data / "pki").resolve()), signing_config=opts.signing_config,
        workers=opts.workers, queue=opts.queue, run_jobs=not opts.no_jobs,
        max_tasks_per_child=opts.max_tasks_per_child, csc_services=tuple(opts.csc_service),
        callback_hosts=tuple(opts.callback_host),
    )  # fmt: skip
    if opts.print_openapi:
        sys.stdout.write(openapi_json())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        service = start_service(config)
    except MsedocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    import uvicorn

    try:
        app = create_app(config, service=service)
    except MsedocsError as exc:  # a setting of the clerk's pages (MSEDOCS_TIMEZONE)
        service.close()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"msedocs serve: http://{opts.host}:{opts.port} (store {_shown(config.db_url)}, {config.workers} "
          f"rendering process(es); TEST PKI {config.pki_dir})", file=sys.stderr, flush=True)  # fmt: skip
    try:
        uvicorn.Server(uvicorn.Config(app, host=opts.host, port=opts.port, log_config=None, access_log=False,
                                      timeout_graceful_shutdown=30)).run()  # fmt: skip
    finally:
        service.close()
    return 0


def start_service(config: ServiceConfig) -> Service:
    """The store opened (created if missing), the rendering processes started and the TEST PKI
    made in one of them."""
    from . import engine
    from .app import Service
    from .pool import RenderPool
    from .store import JobStore

    engine.pdf_engine(None)  # a wrong MSEDOCS_PDF_ENGINE stops the service here (exit 2), not each render
    store = JobStore(config.db_url, create=True)
    pool = RenderPool(config.workers, queue=config.queue, max_tasks_per_child=config.max_tasks_per_child)
    try:
        if config.pki_dir and not config.signing_config:
            pool.run(engine.ensure_pki, config.pki_dir, block=True)
    except BaseException:
        pool.shutdown()
        store.close()
        raise
    return Service(config, store, pool)


def _shown(url: str) -> str:
    from ..delivery.store import shown_url

    return shown_url(url)


def openapi_json() -> str:
    """The OpenAPI document of the application, as committed in ``docs/openapi.json``."""
    from .app import ServiceConfig, create_app

    app = create_app(ServiceConfig(db_url="sqlite://"))
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# -- keys --------------------------------------------------------------------------------------

keys_app = typer.Typer(help="API keys of the HTTP service.", no_args_is_help=True)


@keys_app.command("create")
def keys_create_cmd(
    name: Annotated[str, typer.Argument(help="Who or what holds the key (a case system's name).")],
    scope: Annotated[list[str], typer.Option("--scope", help="render, sign, validate, deliver, clerk, admin; "
                                             "repeatable.")],  # fmt: skip
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default MSEDOCS_DB, else the outbox file).")]
    = None,
    bureau: Annotated[str | None, typer.Option("--bureau", help="The bureau (order 692n) the key is issued to and "
                                               "acts for only (with --scope referrals).")] = None,  # fmt: skip
) -> None:
    """Create an API key and print it once (only its digest is stored)."""
    from .store import JobStore

    with JobStore(db_url(db, DEFAULT_DATA), create=True) as store:
        key, token = store.create_key(name, scope, bureau)
        secret = store.callback_secret(key.id)
    typer.echo(token)
    typer.echo(f"key {key.id} ({key.name}): scopes {', '.join(sorted(key.scopes))}"
               f"{f', bureau {key.bureau}' if key.bureau else ''}; shown once, store it now", err=True)  # fmt: skip
    typer.echo(f"callback secret (signs this key's callbacks; also GET /v1/callbacks/secret): {secret}", err=True)


# -- worker --jobs -----------------------------------------------------------------------------


def run_jobs_worker(
    db: str | None, workers: int, pki: Path | None, once: bool, signing_config: Path | None, *, lease: float = 60.0
) -> None:
    """``msedocs worker --jobs``: render the store's queued jobs in ``workers`` processes until
    SIGTERM (or, with ``once``, until the queue is empty)."""
    from ..errors import InputError
    from . import engine
    from .callbacks import CallbackSender
    from .jobs import RunnerConfig, run_worker, worker_id
    from .pool import RenderPool
    from .store import JobStore

    if signing_config is not None and pki is not None:
        raise InputError("give --signing-config (production keys) or --pki (the TEST PKI), not both")
    if signing_config is not None:  # a wrong file or key stops the worker here (exit 2), not each job
        from ..sign import SigningOptions, load

        load(SigningOptions(level=None, config=signing_config), keys=True)  # its own level: a job may ask another
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    pki_dir = str((pki or DEFAULT_DATA / "pki").resolve())
    config = RunnerConfig(lease=lease, pki_dir=pki_dir, signing_config=str(signing_config) if signing_config else None)
    with JobStore(db_url(db, DEFAULT_DATA), create=True) as store:
        pool = RenderPool(workers, queue=0)
        sender = CallbackSender(store, worker_id("callbacks"))
        try:
            if not signing_config:
                pool.run(engine.ensure_pki, pki_dir, block=True)
            if not once:
                sender.start()
            done = run_worker(store, pool, config, once=once)
            if once:  # the callbacks due now, once
                import httpx

                with httpx.Client(timeout=sender.policy.timeout) as client:
                    sender.run_once(client)
        finally:
            sender.stop()
            pool.shutdown()
    typer.echo("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "none"))
