"""The settings of the clerk's pages: the bureau's time zone (``MSEDOCS_TIMEZONE``, default
Europe/Minsk) used for "today" and for every moment shown, and a wrong one refused when the
server starts, with a message naming the setting."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from msedocs.errors import InputError
from msedocs.web.routes import WebContext, bureau_zone
from tests.api.conftest import free_port

from .conftest import MSEDOCS


def test_default_zone_is_minsk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSEDOCS_TIMEZONE", raising=False)
    ctx = WebContext("sqlite://", None)
    assert ctx.zone.key == "Europe/Minsk"
    shown = ctx.shown_time(dt.datetime(2026, 12, 7, 21, 30))  # naive UTC, as the stores keep it
    assert str(shown) == '<time datetime="2026-12-08T00:30:00+03:00">08.12.2026 00:30 UTC+3</time>'
    for signed in ("2026-12-07T21:30:00Z", "2026-12-08T00:30:00+03:00", "2026-12-07T21:30:00"):  # a report's time
        assert ctx.shown_time(signed) == shown
    assert str(ctx.shown_time("<b>не время</b>")) == "&lt;b&gt;не время&lt;/b&gt;"


def test_the_bureaus_day_and_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSEDOCS_TIMEZONE", "Asia/Kolkata")
    ctx = WebContext("sqlite://", None)
    assert "05.03.2027 06:00 UTC+5:30" in ctx.shown_time(dt.datetime(2027, 3, 5, 0, 30))
    monkeypatch.setenv("MSEDOCS_TIMEZONE", "America/New_York")  # a zone west of UTC, in winter
    ctx = WebContext("sqlite://", None)
    assert "04.03.2027 19:30 UTC-5" in ctx.shown_time(dt.datetime(2027, 3, 5, 0, 30))
    assert ctx.today() == dt.datetime.now(ctx.zone).date()


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Minsk"])
def test_a_wrong_zone_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MSEDOCS_TIMEZONE", name)
    with pytest.raises(InputError, match=r"^MSEDOCS_TIMEZONE: unknown time zone .*Europe/Minsk"):
        bureau_zone()


def test_serve_refuses_a_wrong_zone(tmp_path: Path) -> None:
    done = subprocess.run([MSEDOCS, "serve", "--port", str(free_port()), "--data", str(tmp_path / "data"),
                           "--workers", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "MSEDOCS_TIMEZONE": "Mars/Olympus"})  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: MSEDOCS_TIMEZONE: unknown time zone 'Mars/Olympus'" in done.stderr
    assert "Traceback" not in done.stderr
