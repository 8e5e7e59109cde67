"""The ``msedocs`` command line.

Exit codes: 0 success, 1 an internal failure (or, for ``validate``, an invalid document),
2 bad input. Messages name the field and the rule; no traceback unless ``--debug``.
"""

from __future__ import annotations

import gc
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import typer

from . import workers as batch_workers
from .errors import InputError, MsedocsError
from .sign import options_for

if TYPE_CHECKING:
    from .model import Case

# The pipeline (and with it the forms, the case model and the generators: 0.4 s) is imported by
# the commands that use it, not here: ``render`` starts its batch's workers first.

app = typer.Typer(
    name="msedocs",
    help="Statutory documents of medical-social expertise: XML, PDF/A-3b and DOCX from case data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _version(show: bool) -> None:
    if show:
        from . import __version__

        typer.echo(f"msedocs {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Options before the command: --version."""


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _warn(message: str) -> None:
    _err(f"warning: {message}")


def _load(path: Path) -> Case:
    from . import pipeline

    return pipeline.load_case_file(path, _warn)


@app.command("forms")
def forms_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the documents: the forms, the journals and the session protocol (id, kind, title, source, formats)."""
    from .forms import DOCUMENTS

    rows: list[dict[str, Any]] = [
        {"id": s.id, "kind": s.kind, "title": s.title, "source": str(s.source), "formats": list(s.formats)}
        for s in DOCUMENTS.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        title = TITLE_PREFIX.get(r["kind"], "") + r["title"]
        typer.echo(f"{r['id']:<24} {r['kind']:<9} {title}\n{'':<34} {r['source']}; {','.join(r['formats'])}")


#: ``msedocs forms`` prints a register's title after the word the statute heads it with.
TITLE_PREFIX = {"journal": "Журнал ", "protocol": "Протокол "}


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the case input."""
    from .model import Case

    typer.echo(json.dumps(Case.model_json_schema(), ensure_ascii=False, indent=2))


#: Besides a DOCX's combined .p7s, one per signer, for tools that expect one SignerInfo.
CadesPerSigner = Annotated[
    bool,
    typer.Option(
        "--cades-per-signer", help="Besides each DOCX's combined .p7s, one per signer: <file>.<role>.p7s (with --sign)."
    ),
]


# The options of ``render`` that say how cases are rendered; ``batch submit`` takes the same.
FormOpt = Annotated[list[str] | None, typer.Option("--form", "-f", help="Form id; repeatable.")]
AllFormsOpt = Annotated[bool, typer.Option("--all", help="Every form that applies to the case.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Comma-separated: xml,pdf,docx.")]
ElectronicOpt = Annotated[
    bool, typer.Option("--electronic", help="Electronic rendering: no seal place or signature lines.")
]
VariantOpt = Annotated[
    str,
    typer.Option(
        "--variant",
        help="auto (default): the extract follows the case's delivery channel (portal: electronic, paper: "
        "«М.П.» and signature lines), other forms paper (electronic with --sign); paper or electronic: "
        "every form so (--electronic is --variant electronic).",
    ),
]
SignOpt = Annotated[bool, typer.Option("--sign", help="Sign every document (implies --electronic).")]
LevelOpt = Annotated[str | None, typer.Option("--level", help="B-B, B-T, B-LT or B-LTA (with --sign).")]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="The forms' PDF engine: weasyprint or typst (default MSEDOCS_PDF_ENGINE, "
                 "else weasyprint)."),
]  # fmt: skip


def _how(
    form: list[str] | None, all_forms: bool, fmt: str, electronic: bool, variant: str, sign: bool, engine: str | None
) -> tuple[list[str] | None, tuple[str, ...], str, str]:
    """``render``'s choices checked: (the forms asked for or None for --all, formats, variant, engine)."""
    from . import pipeline

    if bool(form) == all_forms:
        raise InputError("give either --form ID (repeatable) or --all")
    variant = pipeline.choose_variant(variant, electronic, sign)
    return (None if all_forms else form), pipeline.parse_formats(fmt), variant, pipeline.parse_engine(engine)


@app.command("render")
def render_cmd(
    cases: Annotated[Path, typer.Argument(help="A case JSON file, a folder of them, or a .jsonl file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    form: FormOpt = None,
    all_forms: AllFormsOpt = False,
    fmt: FormatOpt = "xml,pdf,docx",
    electronic: ElectronicOpt = False,
    variant: VariantOpt = "auto",
    sign: SignOpt = False,
    level: LevelOpt = None,
    pki: Annotated[Path | None, typer.Option("--pki", help="A test PKI folder (with --sign).")] = None,
    cades_per_signer: CadesPerSigner = False,
    queue: Annotated[bool, typer.Option("--queue", help="Queue the signed documents for delivery.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Outbox database URL (default MSEDOCS_DB).")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, help="Processes rendering a batch's cases (forked, recycled); "
                     "default: one per usable core for a batch of more than 8 cases, else 1."),
    ] = None,
    engine: EngineOpt = None,
    coordinate: Annotated[
        str | None,
        typer.Option(
            "--coordinate",
            help="A job store (PostgreSQL URL): submit the batch there and collect it "
            "when `msedocs worker --jobs` processes (started apart, on any machine) have rendered it.",
        ),
    ] = None,
) -> None:
    """Render forms into `OUT/<form id>.<ext>` plus `OUT/manifest.json` (one subfolder per case for a batch)."""
    if coordinate is None:  # a batch's workers get ready while this process loads and reads the cases
        batch_workers.prestart(cases, workers, engine)
    from . import pipeline

    selected, formats, variant, engine = _how(form, all_forms, fmt, electronic, variant, sign, engine)
    if queue and not sign:
        raise InputError("--queue needs --sign: only signed documents leave msedocs")
    signing = options_for(sign, level, pki, cades_per_signer)
    if coordinate is not None:
        if queue or pki or cades_per_signer or workers:
            raise InputError("--coordinate renders in the store's workers, with their keys: --queue, --pki, "
                             "--cades-per-signer and --workers do not apply")  # fmt: skip
        submitted = _submit_batch(coordinate, cases, selected, formats, variant, sign, level, engine, None)
        _collect_batch(coordinate, submitted.batch_id, out, wait=True, timeout=None)
        return
    run = pipeline.render_cases(cases, out, formats, selected, variant, signing, _warn,
                                queue=queue, db=db, workers=workers, engine=engine)  # fmt: skip
    lines = [f"{out / path}" for path in run.written]
    lines += [f"queued: case {case_id} as outbox item {item}" for case_id, item in run.queued]
    if lines:  # one write (a line at a time costs 0.1 s for a batch of 60 cases)
        typer.echo("\n".join(lines))


# -- ``msedocs batch``: one batch over worker processes on several machines, through the job store ---

batch_app = typer.Typer(help="One batch rendered by `msedocs worker --jobs` processes on any machines, "
                        "coordinated by the job store (PostgreSQL).", no_args_is_help=True)  # fmt: skip
app.add_typer(batch_app, name="batch")
DbOpt = Annotated[str, typer.Option("--db", help="The job store's URL (PostgreSQL; SQLite for one machine).")]


def _submit_batch(
    db: str, cases: Path, selected: list[str] | None, formats: tuple[str, ...], variant: str, sign: bool,
    level: str | None, engine: str, batch_id: str | None,
) -> Any:  # fmt: skip
    from .api import batch

    options = batch.BatchOptions(tuple(selected) if selected else None, formats, variant, _level(sign, level), engine)
    submitted = batch.submit(db, cases, options, batch_id)
    state = "submitted" if submitted.created else "already submitted (nothing added)"
    _err(f"batch {submitted.batch_id}: {submitted.jobs} job(s) {state}")
    return submitted


def _level(sign: bool, level: str | None) -> str | None:
    """The signature level of a batch's jobs (``--level`` as ``render`` reads it; default B-T)."""
    options_for(sign, level)  # --level without --sign: refused as render refuses it
    if not sign:
        return None
    from signing import ConfigurationError
    from signing.profile import Level

    try:
        return Level.parse(level or "B-T").value
    except ConfigurationError:
        raise InputError("--level: must be B-B, B-T, B-LT or B-LTA") from None


def _collect_batch(db: str, batch_id: str, out: Path, *, wait: bool, timeout: float | None) -> None:
    from .api import batch

    for path in batch.collect(db, batch_id, out, wait=wait, timeout=timeout):
        typer.echo(f"{out / path}")


@batch_app.command("submit")
def batch_submit_cmd(
    cases: Annotated[Path, typer.Argument(help="A folder of case JSON files or a .jsonl file.")],
    db: DbOpt,
    form: FormOpt = None,
    all_forms: AllFormsOpt = False,
    fmt: FormatOpt = "xml,pdf,docx",
    electronic: ElectronicOpt = False,
    variant: VariantOpt = "auto",
    sign: SignOpt = False,
    level: LevelOpt = None,
    engine: EngineOpt = None,
    batch_id: Annotated[
        str | None,
        typer.Option(
            "--batch-id",
            help="The batch's id (default: derived from the cases and the options, so "
            "submitting the same file again adds nothing).",
        ),
    ] = None,
) -> None:
    """Check the whole batch as `render` does, then queue one render job per case in one transaction;
    print the batch id. Signed documents are signed by the workers' keys (`worker --jobs --pki`)."""
    selected, formats, variant, engine = _how(form, all_forms, fmt, electronic, variant, sign, engine)
    submitted = _submit_batch(db, cases, selected, formats, variant, sign, level, engine, batch_id)
    typer.echo(f"{submitted.batch_id} {submitted.jobs}")


@batch_app.command("status")
def batch_status_cmd(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH", help="The id `batch submit` printed.")],
    db: DbOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The batch's jobs by state (queued, running, succeeded, failed, cancelled)."""
    from .api import batch

    counts = batch.status(db, batch_id)
    if as_json:
        typer.echo(json.dumps({"batch": batch_id, "jobs": sum(counts.values()), "states": counts}))
        return
    typer.echo(f"batch {batch_id}: {sum(counts.values())} job(s): "
               + ", ".join(f"{state} {n}" for state, n in sorted(counts.items())))  # fmt: skip


@batch_app.command("collect")
def batch_collect_cmd(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH", help="The id `batch submit` printed.")],
    db: DbOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every job of the batch finished.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Seconds to wait at most (with --wait).")
    ] = None,
) -> None:
    """Write the batch as `render CASES --out OUT` writes it (a folder per case, its files and
    manifest.json), once every job succeeded; exit 1, writing nothing, if a job failed."""
    if timeout is not None and not wait:
        raise InputError("--timeout needs --wait")
    _collect_batch(db, batch_id, out, wait=wait, timeout=timeout)


@app.command("validate")
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="An XML document produced by msedocs or an integrator.")],
    form: Annotated[
        str | None,
        typer.Option("--form", help="Form id; default: the root's formId, else the form of the root's namespace."),
    ] = None,
) -> None:
    """Validate an XML document against its form's XSD; print each violation (XPath, line, reason)."""
    from signing.files import open_regular

    from . import validation

    stream, size = open_regular(  # a FIFO does not make it wait for a writer
        file,
        lambda why: InputError(f"{file}: cannot read ({why})"),
        lambda: InputError(f"{file}: not a regular file; give an XML document"),
    )
    with stream:
        result = validation.validate(stream, size, form, where=f"{file}: ")
    for path, msg, line in result.problems:
        _err(f"{file}:{line or 0}: {path}: {msg}")
    if result.form is None:
        raise typer.Exit(1)
    if result.problems:
        _err(f"{file}: {len(result.problems)} violation(s) of xsd/{result.form}.xsd")
        raise typer.Exit(1)
    typer.echo(f"{file}: valid ({result.form})")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("msedocs-demo"),
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Rendering processes.")] = 2,
) -> None:
    """The main job on the sample cases: render every form in XML, PDF/A-3b and DOCX, sign each
    document (test PKI, B-T), queue the extracts, deliver them to a portal stub it starts, and
    make the registered-mail batch for the paper ones. Everything goes under ./msedocs-demo/."""
    from . import demo

    demo.run(out, workers, echo=typer.echo, read=_load)


@app.command("journal")
def journal_cmd(
    journal_id: Annotated[str, typer.Argument(metavar="ID", help="by-journal-protocols, -cards, -certificates, -mpr.")],
    cases: Annotated[Path, typer.Option("--cases", help="A folder of case JSON files or a .jsonl file.")],
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated: xml,pdf,docx.")] = "xml,pdf,docx",
    commission: Annotated[str | None, typer.Option("--commission", help="Only this commission's cases.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="PDF processes.")] = None,
    sign: Annotated[bool, typer.Option("--sign", help="Sign the journal (the chairman of the commission).")] = False,
    level: Annotated[str | None, typer.Option("--level", help="B-B, B-T, B-LT or B-LTA (with --sign).")] = None,
    pki: Annotated[Path | None, typer.Option("--pki", help="A test PKI folder (with --sign).")] = None,
    cades_per_signer: CadesPerSigner = False,
) -> None:
    """Write the register of a period over many cases: `OUT/<id>.<ext>` plus `OUT/manifest.json`."""
    from . import journal, pipeline

    first, last = _date("--from", start), _date("--to", end)
    written = journal.write(
        journal_id, cases, first, last, out, pipeline.parse_formats(fmt),
        commission=commission, workers=workers, progress=_progress_bars() if sys.stderr.isatty() else None,
        signer=pipeline.register_signer(journal_id, options_for(sign, level, pki, cades_per_signer), _warn),
    )  # fmt: skip
    typer.echo(f"{journal_id}: {written.rows} row(s) from {first} to {last}")
    for entry in written.files:
        typer.echo(f"{out / entry['file']}")


def _progress_bars():
    """A progress callback drawing one bar per stage on the terminal (stderr)."""
    labels = {"cases": "cases", "pdf": "PDF  "}
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is not None and bar.finished:
            return
        if bar is None:
            bar = bars[stage] = click.progressbar(length=total, label=labels.get(stage, stage), file=sys.stderr)
            bar.__enter__()
        bar.length = max(bar.length or 0, total)
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return progress


def _mount() -> None:
    """The signing and delivery commands, from their own packages."""
    from signing.cli import pki_app, verify_cmd

    from .delivery.cli import deadlines_cmd, portal_stub_cmd, post_app, queue_app, worker_cmd

    app.add_typer(pki_app, name="pki")
    app.command("verify")(verify_cmd)
    app.add_typer(queue_app, name="queue")
    app.add_typer(post_app, name="post")
    app.command("deadlines")(deadlines_cmd)
    app.command("worker")(worker_cmd)
    app.command("portal-stub")(portal_stub_cmd)
    from .referrals.cli import mount as mount_referrals  # order 692n: referrals, bureaus, routing, audit

    mount_referrals(app)
    from .api.cli import keys_app, serve_cmd  # typer only: the service itself loads in `serve`

    app.command("serve")(serve_cmd)
    app.add_typer(keys_app, name="keys")
    from .web.cli import users_app  # typer only: the clerk's pages' users

    app.add_typer(users_app, name="users")


_mount()


@app.command("protocol")
def protocol_cmd(
    cases: Annotated[Path, typer.Option("--cases", help="A folder of case JSON files or a .jsonl file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    number: Annotated[str | None, typer.Option("--number", help="The protocol's number.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="The session's date, YYYY-MM-DD.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated: xml,pdf,docx.")] = "xml,pdf,docx",
    electronic: Annotated[bool, typer.Option("--electronic", help="No signature lines.")] = False,
    sign: Annotated[bool, typer.Option("--sign", help="Sign: chairman and members (implies --electronic).")] = False,
    level: Annotated[str | None, typer.Option("--level", help="B-B, B-T, B-LT or B-LTA (with --sign).")] = None,
    pki: Annotated[Path | None, typer.Option("--pki", help="A test PKI folder (with --sign).")] = None,
    cades_per_signer: CadesPerSigner = False,
) -> None:
    """The protocol of a commission session: one block per act examined in it (appendix 13)."""
    from . import pipeline, protocol

    day = _date("--date", date) if date else None
    signer = pipeline.register_signer(protocol.PROTOCOL.id, options_for(sign, level, pki, cades_per_signer), _warn)
    docs = protocol.build(
        cases, number, day, pipeline.parse_formats(fmt), paper=not (electronic or sign), signer=signer
    )
    protocol.write(out, docs, number, day)
    for d in docs:
        typer.echo(f"{out / d.filename}")


fixtures_app = typer.Typer(help="Synthetic case data.", no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")


@fixtures_app.command("generate")
def fixtures_generate_cmd(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many cases.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="A folder, or a file ending in .jsonl.")],
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same cases.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="case (JSON cases) or semd (СЭМД 088/у XML referrals).")] = "case",  # noqa: E501
) -> None:
    """Write N valid synthetic cases (Belarusian and Russian, every decision kind), or N СЭМД referrals."""
    if fmt == "semd":
        from .referrals import synth as semd_synth

        semd_synth.write(count, seed, out)
        typer.echo(f"{count} СЭМД referral(s) -> {out}")
        return
    if fmt != "case":
        raise InputError(f"--format: case or semd (got {len(fmt)} characters)")
    from . import synth

    path = synth.write(count, seed, out)
    typer.echo(f"{count} case(s) -> {path}")


def _date(option: str, value: str):
    from .delivery.calendar import parse_day

    return parse_day(value, f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        result = app(args=args, prog_name="msedocs", standalone_mode=False)
        return int(result or 0) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _err("aborted")
        return 1
    except typer.exceptions.TyperException as exc:  # a usage error (typer's own click): message and usage
        exc.show()  # type: ignore[attr-defined]
        return 2
    except MsedocsError as exc:
        if debug:
            traceback.print_exc()
        _err(f"error: {exc}")
        return exc.exit_code
    except Exception as exc:  # an internal failure: say so, keep the traceback for --debug
        if debug:
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def run() -> NoReturn:
    """The ``msedocs`` program: :func:`main`, then exit without the interpreter's last walk of
    the garbage collector over every object of the run (0.2-0.3 s after a batch, measured on
    7 December 2026), which a process that ends reclaims anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
