"""The clerk's pages: paper extracts for registered mail, in a browser, in Russian.

Served by ``msedocs serve`` under ``/clerk/`` (mounted by :func:`mount` on the HTTP API's
application), server-rendered with Jinja2, with a small vendored htmx (``static/htmx.min.js``,
Zero-Clause BSD) that only adds live checks and partial reloads: every action is also a plain
form post. The pages call the outbox (:mod:`msedocs.delivery`) and render print packs in the
service's rendering processes (the server process never imports WeasyPrint).

Modules::

    schema, store   users, sessions, failed sign-ins, access log, clerks' actions, print batches
                    (own Alembic chain ``web_alembic_version`` in migrations/)
    clerk           the day's paper items, deadlines in working days, tracking numbers, history
    printing        the print pack (pikepdf), run in a rendering process
    builder         print batches built in the background (a thread of the server started with
                    it, under a lease)
    routes          the pages (FastAPI router) and their security: sessions, CSRF, roles
    cli             ``msedocs users create | list | set-password | set-role | disable | enable | unlock``

Roles: ``clerk`` (the delivery pages), ``head`` (also the access log and the tracking ranges),
``admin`` (everything, and the users).
"""

from __future__ import annotations

import logging
from typing import Any


def start(app: Any, pool: Any) -> None:
    """Start building print batches in the service's rendering ``pool`` as the server starts, so
    that a batch a stopped server left half-built is taken up again without waiting for someone
    to open a page. If the store cannot be opened yet, the first page served starts it."""
    ctx = getattr(app.state, "web", None)
    if ctx is None:
        return
    try:
        ctx.start_builder(pool)
    except Exception as exc:  # the store is away for a moment: the pages start the builder later
        logging.getLogger("msedocs.web").warning(
            "print batch builder not started (%s); the first page served starts it", type(exc).__name__
        )


def mount(app: Any, db_url: str, pki_dir: str | None = None) -> None:
    """Serve the clerk's pages from ``app`` (a FastAPI application) on the store at ``db_url``."""
    from .routes import install

    install(app, db_url, pki_dir)


def close(app: Any) -> None:
    """Close what the pages opened on ``app`` (its store and outbox)."""
    ctx = getattr(app.state, "web", None)
    if ctx is not None:
        ctx.close()


__all__ = ["close", "mount", "start"]
