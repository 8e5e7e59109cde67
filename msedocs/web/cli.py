"""``msedocs users …``: the users of the clerk's pages (mounted by :mod:`msedocs.cli`; this
module imports only typer at the top)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

users_app = typer.Typer(help="Users of the clerk's pages (/clerk): clerk, head, admin.", no_args_is_help=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL (default MSEDOCS_DB, else .msedocs/outbox.sqlite3).")
]


def _store(db: str | None):  # -> WebStore
    from msedocs.api.cli import DEFAULT_DATA, db_url
    from msedocs.web.store import WebStore

    return WebStore(db_url(db, DEFAULT_DATA), create=True)


def _on_store(db: str | None, change: Callable[[Any], Any]) -> Any:
    """``change(store)`` on the store of ``--db``, closed after."""
    with _store(db) as store:
        return change(store)


def _password(stdin: bool) -> str:
    """A password from standard input (its first line) or, on a terminal, asked twice."""
    if stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create_cmd(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[str, typer.Option("--role", help="clerk, head or admin.")] = "clerk",
    full_name: Annotated[str | None, typer.Option("--full-name", help="Shown in the items' history.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Create a user; the password is asked for (twice) or read from the first line of stdin."""
    from msedocs.web.store import check_name, check_password, check_role

    check_name(name)
    check_role(role)
    password = check_password(_password(password_stdin))
    user = _on_store(db, lambda store: store.create_user(name, role, password, full_name))
    typer.echo(f"user {user.name} created (role {user.role})")


@users_app.command("list")
def users_list_cmd(db: DbOption = None) -> None:
    """Users with their role, whether they may sign in, and their last sign-in."""
    with _store(db) as store:
        users = store.users()
        locked = {u.name: store.locked_until(u.name) for u in users}
    for u in users:
        state = "active" if u.active else "disabled"
        if locked[u.name] is not None:
            state += f", locked out until {locked[u.name]:%Y-%m-%d %H:%M} UTC"
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        typer.echo(f"{u.name:<24} {u.role:<6} {state}; last sign-in {last}")
    if not users:
        typer.echo("no users; create one with `msedocs users create NAME --role admin`")


@users_app.command("set-password")
def users_set_password_cmd(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Set a user's password (their sessions end)."""
    from msedocs.web.store import check_password

    password = check_password(_password(password_stdin))
    _on_store(db, lambda store: store.set_password(name, password))
    typer.echo(f"user {name}: password set; signed out everywhere")


@users_app.command("set-role")
def users_set_role_cmd(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="clerk, head or admin.")],
    db: DbOption = None,
) -> None:
    """Change a user's role (their sessions end)."""
    _on_store(db, lambda store: store.set_role(name, role))
    typer.echo(f"user {name}: role {role}")


@users_app.command("disable")
def users_disable_cmd(name: Annotated[str, typer.Argument(help="The user.")], db: DbOption = None) -> None:
    """Stop a user from signing in (their sessions end)."""
    _on_store(db, lambda store: store.set_active(name, False))
    typer.echo(f"user {name}: disabled")


@users_app.command("enable")
def users_enable_cmd(name: Annotated[str, typer.Argument(help="The user.")], db: DbOption = None) -> None:
    """Let a disabled user sign in again."""
    _on_store(db, lambda store: store.set_active(name, True))
    typer.echo(f"user {name}: enabled")


@users_app.command("unlock")
def users_unlock_cmd(name: Annotated[str, typer.Argument(help="The user.")], db: DbOption = None) -> None:
    """Open sign-in for a user locked out after failed attempts."""
    n = _on_store(db, lambda store: store.unlock(name))
    typer.echo(f"user {name}: {n} failed attempt(s) forgotten")
