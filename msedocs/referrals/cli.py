"""Command line of referrals (order 692n), mounted by ``msedocs.cli``::

    msedocs referrals ingest FILE... | DIR [--workers N] [--batch-size B] [--db URL] [--kek SPEC] [--semd-dir DIR]
    msedocs referrals show ID --bureau B        what the bureau sees (identifiers only)
    msedocs referrals sign-decision ID --decision in-person|additional-programme --bureau B --key PEM --out FILE
    msedocs referrals decide ID --decision … --signed-by B --signature FILE | --key PEM
    msedocs referrals close ID --bureau B       the bureau decided the case itself
    msedocs referrals reveal ID --purpose … --bureau B | --delivery [--category N …]
    msedocs referrals erase ID
    msedocs referrals nsi-codes                 the reading of НСИ codes in force (MSEDOCS_NSI_CODES)
    msedocs referrals rotate-kek --new-kek SPEC
    msedocs bureaus add|list|set|keygen
    msedocs routing simulate --referrals N --bureaus M
    msedocs audit verify

Personal data is never printed, except by `reveal` (point 12: JSON on stdout, the categories the
purpose allows and nothing else; a refusal prints nothing there and exits 2). Every reveal,
granted or refused, and every refused decision is in the audit log.
"""

from __future__ import annotations

import datetime as dt
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


def _day(value: str | None) -> dt.date:
    from msedocs.delivery.calendar import parse_day

    return parse_day(value, f"--date: YYYY-MM-DD (got {(value or '')[:20]!r})")


DecisionOption = Annotated[str, typer.Option("--decision", help="in-person (point 12: examination with the citizen's "
                                             "presence) or additional-programme (an additional-examination "
                                             "programme).")]  # fmt: skip


@referrals_app.command("sign-decision")
def sign_decision_cmd(
    referral_id: str,
    decision: DecisionOption,
    bureau: Annotated[str, typer.Option("--bureau", help="The bureau deciding (the one the referral is assigned to).")],
    key: Annotated[Path, typer.Option("--key", help="The bureau's Ed25519 private key (PEM).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the signed decision (JSON).")],
    date: Annotated[str | None, typer.Option("--date", help="The decision's date, YYYY-MM-DD (default today).")] = None,
) -> None:
    """Sign a point-12 decision with the bureau's key, for `referrals decide --signature` (no database)."""
    from . import decisions

    doc = decisions.sign(decisions.load_private_key(key), referral_id, bureau, decisions.decision_kind(decision),
                         _day(date))  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"{out}: {doc['decision']} on referral {referral_id} signed by bureau {bureau} ({doc['date']})")


@referrals_app.command("decide")
def decide_cmd(
    referral_id: str,
    decision: DecisionOption,
    signed_by: Annotated[str, typer.Option("--signed-by", help="The bureau that decided and signed.")],
    signature: Annotated[Path | None, typer.Option("--signature", help="The signed decision (from `referrals "
                                                   "sign-decision` or the bureau's system).")] = None,  # fmt: skip
    key: Annotated[Path | None, typer.Option("--key", help="Or sign here with the bureau's Ed25519 key (PEM).")] = None,
    date: Annotated[str | None, typer.Option("--date", help="With --key: the decision's date (default today).")] = None,
    db: DbOption = None,
) -> None:
    """Record a signed point-12 decision: the restriction on access is lifted and the referral goes
    to the bureau of the citizen's address. A signature that does not verify with the bureau's
    registered key is refused (exit 2) and written to the audit log."""
    from . import decisions

    kind = decisions.decision_kind(decision)
    if (signature is None) == (key is None):
        raise InputError("referrals decide: give --signature FILE (a signed decision) or --key PEM (sign here)")
    if key is not None:
        day = _day(date)
        raw = decisions.signature(decisions.load_private_key(key), referral_id, signed_by, kind, day)
    else:
        assert signature is not None
        if date is not None:
            raise InputError("--date goes with --key; a signed decision carries its own date")
        doc = decisions.load(signature)
        day, raw = doc["date"], doc["signature"]
        mismatch = [f"{k} {doc[k]!r}" for k, v in (("referral_id", referral_id), ("bureau", signed_by),
                                                    ("decision", kind)) if doc[k] != v]  # fmt: skip
        if mismatch:  # recorded as asked all the same: the signature then fails and the refusal is audited
            typer.echo(f"warning: {signature} was signed for {', '.join(mismatch)}", err=True)
    with _store(db) as store:
        moved = store.decide(referral_id, signed_by, kind, day, raw)
    typer.echo(f"referral {referral_id}: {kind} decided by bureau {signed_by} on {day.isoformat()} (signature "
               f"verified); restriction lifted -> bureau {moved.bureau_id} ({moved.stage})")  # fmt: skip


@referrals_app.command("close")
def close_cmd(
    referral_id: str,
    bureau: Annotated[str, typer.Option("--bureau", help="The bureau that holds the referral.")],
    db: DbOption = None,
) -> None:
    """The bureau decided the case itself, without lifting the restriction: the referral leaves its load
    (and the extract's delivery may then reveal what it needs)."""
    with _store(db) as store:
        store.record_decision(referral_id, bureau)
    typer.echo(f"referral {referral_id}: decided by bureau {bureau}")


@referrals_app.command("reveal")
def reveal_cmd(
    referral_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="in-person or additional-programme (with --bureau), "
                                         "extract-delivery (with --delivery).")],  # fmt: skip
    bureau: Annotated[str | None, typer.Option("--bureau", help="The bureau asking: the bureau of the citizen's "
                                               "address that now holds the referral.")] = None,  # fmt: skip
    delivery: Annotated[bool, typer.Option("--delivery", help="Asked by the platform's delivery of the extract "
                                           "(internal).")] = False,  # fmt: skip
    category: Annotated[list[int] | None, typer.Option("--category", help="Only these categories (1-8); "
                                                       "repeatable.")] = None,  # fmt: skip
    db: DbOption = None,
    kek: KekOption = None,
) -> None:
    """Point 12: the values behind the identifiers, as JSON, only for a signed decision's address-based
    bureau (or the extract's delivery) and only the categories its purpose needs. Anything else is
    refused (exit 2, nothing printed on stdout). Granted or refused, it is written to the audit log."""
    if (bureau is None) == (not delivery):
        raise InputError("referrals reveal: give --bureau B (the bureau asking) or --delivery")
    from .decisions import purpose_name

    requester = "platform:delivery" if delivery else f"bureau:{bureau}"
    name = purpose_name(purpose)
    with _store(db, kek) as store:
        got = store.reveal(referral_id, requester, name, category or None)
    typer.echo(json.dumps({"referral_id": referral_id, "requester": requester, "purpose": name,
                           "categories": {str(k): v for k, v in sorted(got.items())}},
                          ensure_ascii=False, indent=2))  # fmt: skip


@referrals_app.command("nsi-codes")
def nsi_codes_cmd() -> None:
    """The reading of НСИ codes in force (MSEDOCS_NSI_CODES or msedocs' default), as JSON: what an
    operator confirms against НСИ (the form of the examination, purposes, observation fields)."""
    from . import codes

    typer.echo(json.dumps(codes.reading().as_json(), ensure_ascii=False, indent=2))


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


def _public_pem(path: Path) -> str:
    """An Ed25519 public key in PEM, checked before it is stored."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        text = path.read_text(encoding="ascii")
        key = load_pem_public_key(text.encode())
    except OSError as exc:
        raise InputError(f"--public-key {path}: cannot read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"--public-key {path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"--public-key {path}: not an Ed25519 public key")
    return text


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
                         _public_pem(public_key) if public_key else None)  # fmt: skip
    typer.echo(f"bureau {bureau_id} added")


@bureaus_app.command("list")
def bureaus_list_cmd(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The bureaus with their load."""
    with _store(db) as store:
        rows = store.bureaus()
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in rows], ensure_ascii=False, indent=2))
        return
    for b in rows:
        typer.echo(f"{b.id:<16} {b.kind:<8} {'active' if b.active else 'inactive':<8} load {b.load}/{b.capacity} "
                   f"({b.open_count} open) {','.join(b.specialisations)} {b.name}")  # fmt: skip


@bureaus_app.command("keygen")
def bureaus_keygen_cmd(
    bureau_id: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="The new private key (PEM, mode 0600; never overwritten).")],
    db: DbOption = None,
) -> None:
    """Make an Ed25519 key pair for a bureau's signed decisions: the private key to --out (for the
    bureau), the public key registered with the bureau."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from . import decisions

    key = Ed25519PrivateKey.generate()
    with _store(db) as store:
        if bureau_id not in {b.id for b in store.bureaus()}:
            raise InputError(f"bureau {bureau_id}: no such bureau")
        decisions.write_private_key(out, key)
        store.set_bureau(bureau_id, public_key=decisions.public_pem(key))
    typer.echo(f"bureau {bureau_id}: public key registered; private key -> {out}")


@bureaus_app.command("set")
def bureaus_set_cmd(
    bureau_id: str,
    capacity: Annotated[int | None, typer.Option("--capacity", min=1)] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    spec: Annotated[list[str] | None, typer.Option("--spec")] = None,
    public_key: Annotated[Path | None, typer.Option("--public-key", help="Ed25519 PEM for signed decisions.")] = None,
    db: DbOption = None,
) -> None:
    """Change a bureau's capacity, active flag, specialisations or decision-signing key."""
    values: dict[str, object] = {}
    if public_key is not None:
        values["public_key"] = _public_pem(public_key)
    if capacity is not None:
        values["capacity"] = capacity
    if active is not None:
        values["active"] = active
    if spec:
        values["specialisations"] = spec
    if not values:
        raise InputError("bureaus set: give --capacity, --active/--inactive, --spec or --public-key")
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
