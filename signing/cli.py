"""Command-line pieces for the msedocs CLI: ``pki init``, ``pki serve`` and ``verify``.

The msedocs CLI mounts them::

    from signing.cli import pki_app, verify_cmd
    app.add_typer(pki_app, name="pki")
    app.command("verify")(verify_cmd)

``verify`` exits 0 only if every signature passes, 1 otherwise, 2 on bad input
(unreadable file, unknown format). No tracebacks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import SigningFailure, UnsupportedDocumentError

if TYPE_CHECKING:
    from .report import VerificationReport

# pyHanko-based modules are imported inside the commands, so mounting this app is cheap.
DEFAULT_SERVICE_URL = "http://127.0.0.1:8790"

__all__ = ["pki_app", "verify_cmd"]

pki_app = typer.Typer(help="Test PKI: create it, serve its TSA, OCSP responder and CRLs.", no_args_is_help=True)


@pki_app.command("init")
def pki_init_cmd(
    directory: Annotated[Path, typer.Argument(help="Directory to create the test PKI in.", show_default=False)],
    service_url: Annotated[
        str, typer.Option("--service-url", help="Base URL written into certificates (OCSP, CRL).")
    ] = DEFAULT_SERVICE_URL,
) -> None:
    """Create a TEST PKI: root, issuing CA, signers per role, TSA, OCSP responder, CRLs."""
    from .pki import init_pki

    try:
        pki = init_pki(directory, service_url=service_url)
    except SigningFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created a TEST PKI in {pki.dir} (not valid for real use)")
    typer.echo(f"  trust anchor: {pki.root_path}")
    for role, title in pki.titles.items():
        typer.echo(f"  {role:<13} {title:<26} {pki.key_path(role)}")


@pki_app.command("serve")
def pki_serve_cmd(
    directory: Annotated[Path, typer.Option("--dir", help="The test PKI directory.")] = Path(".msedocs/pki"),
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (localhost only by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8790,
) -> None:
    """Serve the test PKI's TSA (/tsa), OCSP responder (/ocsp) and CRLs (/crl/…) over HTTP."""
    from .services import serve

    try:
        server = serve(directory, host, port)
    except (SigningFailure, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"serving the TEST PKI {directory} on http://{host}:{server.server_address[1]} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _print(report: VerificationReport) -> None:
    from .report import Indication

    typer.echo(f"{report.path}: {report.format}, {len(report.signatures)} signature(s)")
    if not report.signatures:
        typer.echo("  no signatures found")
    for s in report.signatures:
        mark = "OK  " if s.indication is Indication.TOTAL_PASSED else "FAIL"
        sub = f"/{s.sub_indication}" if s.sub_indication else ""
        typer.echo(f"  [{mark}] {s.id}: {s.indication.value}{sub} {('- ' + s.message) if s.message else ''}")
        typer.echo(f"         signer: {s.signer_subject or '?'}; role: {s.role or '-'}")
        times = f"signing time {s.signing_time.isoformat() if s.signing_time else '-'}"
        if s.timestamp_time:
            times += f", timestamp {s.timestamp_time.isoformat()}"
        if s.archive_time:
            times += f", archive timestamp {s.archive_time.isoformat()}"
        typer.echo(f"         level: {s.level or '-'}; {times}")
        q = s.qualified
        flags = [
            n
            for n in ("qc_compliance", "qc_sscd", "qc_type_esign", "policy_qcp_n_qscd", "non_repudiation")
            if getattr(q, n)
        ]
        typer.echo(f"         qualified-style: {', '.join(flags) or 'none'}{'; TEST certificate' if q.test else ''}")
        if s.signer_role:
            typer.echo(f"         declared signer: {s.signer_role}")
        if s.modification_level:
            typer.echo(f"         changes after it: {s.modification_level}")
        if s.covers:
            typer.echo(f"         covers: {s.covers}")
    pol = report.policy
    if pol is not None:
        mark = "OK  " if pol.passed else "FAIL"
        declared = (
            f"declared {', '.join(pol.declared_signers)} at {pol.declared_level}"
            if pol.declared_signers is not None
            else "nothing declared"
        )
        typer.echo(f"  [{mark}] policy {pol.name}: {declared}")
        for line in pol.failures:
            typer.echo(f"         {line}")
        for line in pol.notes:
            typer.echo(f"         note: {line}")


def verify_cmd(
    file: Annotated[Path, typer.Argument(help="XML, PDF, or a file with its .p7s next to it.", show_default=False)],
    pki: Annotated[Path | None, typer.Option("--pki", help="Test PKI directory to trust.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    require_level: Annotated[
        str | None, typer.Option("--require-level", help="Fail signatures below this level (B-B, B-T, B-LT, B-LTA).")
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="Validation policy: default (the signers and level the document declares), "
            "basic (every signature present passes) or a TOML file.",
        ),
    ] = "default",
) -> None:
    """Verify every signature in FILE and the validation policy; exit 0 only if all pass."""
    from .errors import ConfigurationError
    from .policy import load_policy
    from .verify import verify_file

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        chosen = load_policy(policy)
    except ConfigurationError as exc:
        typer.echo(f"error: --policy: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        report = verify_file(file, pki, required_level=require_level, policy=chosen)
    except UnsupportedDocumentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SigningFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(report.to_json())
    else:
        _print(report)
    raise typer.Exit(0 if report.passed else 1)
