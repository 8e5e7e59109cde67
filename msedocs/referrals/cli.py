"""Command line of referrals (order 692n), mounted by ``msedocs.cli``::

    msedocs referrals ingest FILE [--db URL] [--kek SPEC] [--semd-dir DIR]
    msedocs referrals show ID --bureau B        what the bureau sees (identifiers only)
    msedocs referrals erase ID
    msedocs referrals rotate-kek --new-kek SPEC
    msedocs bureaus add|list|set
    msedocs routing simulate --referrals N --bureaus M
    msedocs audit verify

Personal data is never printed, except by `reveal` (not on the command line: it is the
Python API's, for the address-based bureau's system and for delivery).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from msedocs.errors import InputError

DbOption = Annotated[str | None, typer.Option("--db", envvar="MSEDOCS_DB", help="Database URL (SQLite or PostgreSQL).")]
KekOption = Annotated[
    str | None, typer.Option("--kek", envvar="MSEDOCS_KEK_SPEC", help="file:PATH | env:NAME | pkcs11:MODULE?token=T&label=L")  # noqa: E501
]

referrals_app = typer.Typer(help="Referrals to MSE (order 692n): intake, identifiers, routing.", no_args_is_help=True)
bureaus_app = typer.Typer(help="Bureaus that receive referrals: capacity, specialisations, active.", no_args_is_help=True)  # noqa: E501
routing_app = typer.Typer(help="Distribution of referrals by load.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of identifiers, reveals, rewraps and erasures.", no_args_is_help=True)


def _store(db: str | None, kek: str | None = None):
    from msedocs.privacy.kek import from_spec

    from .store import ReferralStore

    return ReferralStore(db, kek=from_spec(kek) if kek else None)


def load_referral(file: Path, semd_dir: str | None = None):  # type: ignore[no-untyped-def]
    """See :func:`msedocs.referrals.intake.load_referral` (kept here for callers of the CLI module)."""
    from .intake import load_referral as load

    return load(file, semd_dir)


def _echo_ingested(file: str, res) -> None:  # type: ignore[no-untyped-def]
    kind = "depersonalised" if res.depersonalised else "in clear"
    typer.echo(f"{file}: referral {res.referral_id} ({kind}) -> bureau {res.assignment.bureau_id} "
               f"({res.assignment.stage}, effort {res.assignment.effort})")  # fmt: skip
    for category, tokens in sorted(res.identifiers.items()):
        typer.echo(f"  category {category}: {', '.join(tokens)}")


@referrals_app.command("ingest")
def ingest_cmd(
    files: Annotated[list[Path], typer.Argument(help="СЭМД 088/у XMLs, case JSONs, or folders of them; with "
                                                "--unstructured, scans or texts.")],  # fmt: skip
    db: DbOption = None,
    kek: KekOption = None,
    semd_dir: Annotated[str | None, typer.Option("--semd-dir", envvar="MSEDOCS_SEMD_DIR")] = None,
    unstructured: Annotated[bool, typer.Option("--unstructured", help="Point 5: stored and routed in clear.")] = False,
    media_type: Annotated[str, typer.Option("--media-type")] = "application/pdf",
    workers: Annotated[int, typer.Option("--workers", min=0, help="Processes validating in parallel (0: one per "
                                         "CPU, at most 8); 1: in this process.")] = 1,  # fmt: skip
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Referrals stored per transaction.")] = 200,
) -> None:
    """Validate, map, depersonalise (point 4), route and audit referrals; exit 2 if any is invalid.

    One file: stored, or refused with its `file:line: rule: message` lines. Several files or a
    folder: each file is reported; an invalid one is not stored and does not stop the others;
    valid ones are stored in batches of --batch-size, one transaction each."""
    from .intake import SUFFIXES, FileResult, default_workers, expand, ingest_files, read

    paths = expand(files, None if unstructured else SUFFIXES)
    if not paths:
        raise InputError("referrals ingest: no file to ingest (a folder is read for *.xml and *.json)")
    if unstructured:
        with _store(db, kek) as store:
            for path in paths:
                res = store.ingest_unstructured(read(path), media_type, path.name)
                _echo_ingested(str(path), res)
        return
    if len(files) == 1 and not files[0].is_dir():  # one file: stored or refused, as always
        ref = load_referral(paths[0], semd_dir)
        with _store(db, kek) as store:
            _echo_ingested(str(paths[0]), store.ingest(ref))
        return

    def show(r: FileResult) -> None:
        if r.ingested is not None:
            _echo_ingested(r.file, r.ingested)
        else:
            typer.echo(f"error: {r.error}", err=True)

    with _store(db, kek) as store:
        summary = ingest_files(store, paths, semd_dir=semd_dir, workers=workers or default_workers(),
                               batch_size=batch_size, on_result=show)  # fmt: skip
    typer.echo(f"ingest: {len(paths)} file(s): {summary.stored} stored, {summary.invalid} invalid (not stored), "
               f"{summary.failed} failed (not stored)", err=not summary.ok)  # fmt: skip
    if not summary.ok:
        raise typer.Exit(2)


@referrals_app.command("show")
def show_cmd(referral_id: str, bureau: Annotated[str, typer.Option("--bureau")], db: DbOption = None) -> None:
    """What the bureau sees of a referral (JSON): identifiers, never values."""
    with _store(db) as store:
        typer.echo(json.dumps(store.bureau_view(referral_id, bureau), ensure_ascii=False, indent=2))


@referrals_app.command("erase")
def erase_cmd(referral_id: str, db: DbOption = None) -> None:
    """Destroy the referral's data key: its personal data can no longer be recovered."""
    with _store(db) as store:
        done = store.erase(referral_id)
    typer.echo(f"referral {referral_id}: " + ("data key destroyed" if done else "already erased"))


@referrals_app.command("rotate-kek")
def rotate_cmd(new_kek: Annotated[str, typer.Option("--new-kek")], db: DbOption = None, kek: KekOption = None) -> None:
    """Rewrap every data key with a new KEK; identifiers and ciphertexts stay as they are."""
    from msedocs.privacy.kek import from_spec

    with _store(db, kek) as store:
        n = store.rotate_kek(from_spec(new_kek))
    typer.echo(f"{n} data key(s) rewrapped")


@bureaus_app.command("add")
def bureaus_add_cmd(
    bureau_id: str,
    name: Annotated[str, typer.Option("--name")],
    kind: Annotated[str, typer.Option("--kind", help="mintrud, federal or address")] = "mintrud",
    capacity: Annotated[int, typer.Option("--capacity", min=1)] = 10,
    spec: Annotated[list[str] | None, typer.Option("--spec", help="Specialisation; repeatable.")] = None,
    area: Annotated[list[str] | None, typer.Option("--area", help="Postal area (3 digits), address bureaus.")] = None,
    public_key: Annotated[Path | None, typer.Option("--public-key", help="Ed25519 PEM for signed decisions.")] = None,
    db: DbOption = None,
) -> None:
    """Add a bureau."""
    with _store(db) as store:
        store.add_bureau(bureau_id, name, kind, capacity, spec or [], area or [],
                         public_key.read_text() if public_key else None)  # fmt: skip
    typer.echo(f"bureau {bureau_id} added")


@bureaus_app.command("list")
def bureaus_list_cmd(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The bureaus with their load."""
    with _store(db) as store:
        rows = store.bureaus()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=2))
        return
    for b in rows:
        typer.echo(f"{b.id:<16} {b.kind:<8} {'active' if b.active else 'inactive':<8} load {b.load}/{b.capacity} "
                   f"({b.open_count} open) {','.join(b.specialisations)} {b.name}")  # fmt: skip


@bureaus_app.command("set")
def bureaus_set_cmd(
    bureau_id: str,
    capacity: Annotated[int | None, typer.Option("--capacity", min=1)] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    spec: Annotated[list[str] | None, typer.Option("--spec")] = None,
    db: DbOption = None,
) -> None:
    """Change a bureau's capacity, active flag or specialisations."""
    values: dict[str, object] = {}
    if capacity is not None:
        values["capacity"] = capacity
    if active is not None:
        values["active"] = active
    if spec:
        values["specialisations"] = spec
    if not values:
        raise InputError("bureaus set: give --capacity, --active/--inactive or --spec")
    with _store(db) as store:
        store.set_bureau(bureau_id, **values)
    typer.echo(f"bureau {bureau_id} updated")


@routing_app.command("simulate")
def simulate_cmd(
    referrals: Annotated[int, typer.Option("--referrals", min=1)],
    bureaus: Annotated[int, typer.Option("--bureaus", min=1)],
    capacity: Annotated[list[int] | None, typer.Option("--capacity", help="Per bureau; repeatable.")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Route N generated referrals among M bureaus (in a scratch SQLite database) and report the spread."""
    from msedocs.routing.simulate import simulate

    report = simulate(referrals, bureaus, capacity or None, seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for row in report["bureaus"]:
        typer.echo(f"{row['bureau']:<8} capacity {row['capacity']:>4}  referrals {row['referrals']:>6}  "
                   f"load {row['load']:>6}  load/capacity {row['ratio']:.3f}")  # fmt: skip
    typer.echo(f"spread: referrals {report['spread_referrals']}, load/capacity {report['spread_ratio']:.3f}")


@audit_app.command("verify")
def audit_verify_cmd(
    db: DbOption = None,
    key: Annotated[Path | None, typer.Option("--key", envvar="MSEDOCS_AUDIT_KEY", help="The signing key (PEM).")] = None,  # noqa: E501
    witness: Annotated[Path | None, typer.Option("--witness", envvar="MSEDOCS_AUDIT_WITNESS")] = None,
) -> None:
    """Recompute the chain and check the signed checkpoints; exit 1 if anything was changed."""
    from msedocs.privacy.audit import load_or_create_key

    if key is not None and not key.exists():
        raise InputError(f"--key {key}: no such file")
    public = load_or_create_key(key).public_key()
    with _store(db) as store:
        report = store.verify_audit(public, witness)
    for problem in report.problems:
        typer.echo(f"audit: {problem}", err=True)
    if not report.ok:
        typer.echo(f"audit: {len(report.problems)} problem(s) in {report.entries} entries", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit: {report.entries} entries and {report.checkpoints} checkpoints verified")


def mount(app: typer.Typer) -> None:
    app.add_typer(referrals_app, name="referrals")
    app.add_typer(bureaus_app, name="bureaus")
    app.add_typer(routing_app, name="routing")
    app.add_typer(audit_app, name="audit")
