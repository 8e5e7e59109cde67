"""The clerk pages' security against the real server, with plain HTTP requests (httpx): CSRF
tokens and foreign origins refused, roles checked, lock-out after repeated failures, the
session cookie's flags (Secure over https), sign-out ending the session on the server, the
security headers; and the API beside the pages unchanged."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from zoneinfo import ZoneInfo

import httpx

from .conftest import PASSWORDS, Site, csrf_of, run

ITEM_FORM = {"tracking": "44300112000016", "outcome": "returned", "reason": "expired", "day": "2026-12-07"}


def test_csrf_token_required_on_every_post(site: Site) -> None:
    client, csrf = site.sign_in("anna")
    posts = {"/clerk/print": {"all": "1"}, "/clerk/handover": {"numbers": "x", "day": "2026-12-07"},
             "/clerk/returns": ITEM_FORM, "/clerk/check-tracking": {"numbers": "1"},
             "/clerk/items/1/retry": {}, "/clerk/batches/1/render": {}, "/clerk/logout": {}}  # fmt: skip
    admin, _ = site.sign_in("root")
    admin_posts = {"/clerk/admin/users/anna/role": {"role": "admin"}, "/clerk/admin/users/anna/disable": {},
                   "/clerk/admin/users/password": {"user": "anna", "new_password": "x" * 12,
                                                   "new_password_again": "x" * 12}}  # fmt: skip
    for url, form in admin_posts.items():
        for token in (None, "", csrf[:-2] + "xx"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            answer = admin.post(url, data=data)
            assert answer.status_code == 403 and "Форма устарела" in answer.text, (url, token)
    for url, form in posts.items():
        for token in (None, "", csrf[:-2] + "xx"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            answer = client.post(url, data=data)
            assert answer.status_code == 403, (url, token, answer.status_code)
            assert "Форма устарела" in answer.text
    # a right token from another site's page (its Origin) is refused too
    answer = client.post("/clerk/returns", data={**ITEM_FORM, "csrf_token": csrf},
                         headers={"Origin": "https://evil.example"})  # fmt: skip
    assert answer.status_code == 403
    # and the session is still there: nothing was done, nobody signed out
    assert client.get("/clerk/today").status_code == 200
    # the sign-in form needs its own token (bound to a cookie)
    fresh = site.client()
    answer = fresh.post("/clerk/login", data={"name": "anna", "password": PASSWORDS["anna"], "csrf_token": "x"})
    assert answer.status_code == 403 and "msedocs_session" not in answer.headers.get("set-cookie", "")


def test_roles(site: Site) -> None:
    clerk, _ = site.sign_in("anna")
    head, _ = site.sign_in("head")
    admin, admin_csrf = site.sign_in("root")
    for url in ("/clerk/admin/users", "/clerk/admin/access", "/clerk/admin/ranges"):
        answer = clerk.get(url)
        assert answer.status_code == 403, url
        assert "только ролям" in answer.text
    assert head.get("/clerk/admin/access").status_code == 200
    assert head.get("/clerk/admin/ranges").status_code == 200
    assert head.get("/clerk/admin/users").status_code == 403
    assert admin.get("/clerk/admin/users").status_code == 200
    # a clerk cannot post to an admin form either, even with its own valid token
    _, clerk_csrf = site.sign_in("anna")
    answer = clerk.post("/clerk/admin/users", data={"csrf_token": clerk_csrf, "name": "x", "role": "admin",
                                                    "password": "a" * 12, "password_again": "a" * 12})  # fmt: skip
    assert answer.status_code == 403
    assert "x " not in admin.get("/clerk/admin/users").text.split("<tbody>")[1].split("</tbody>")[0]
    # nor a head: roles, passwords and states of users are the administrator's alone
    _, head_csrf = site.sign_in("head")
    for who, token in ((clerk, clerk_csrf), (head, head_csrf)):
        for url, form in (("/clerk/admin/users/anna/role", {"role": "admin"}),
                          ("/clerk/admin/users/password", {"user": "anna", "new_password": "y" * 12,
                                                           "new_password_again": "y" * 12}),
                          ("/clerk/admin/users/root/disable", {})):  # fmt: skip
            answer = who.post(url, data={**form, "csrf_token": token})
            assert answer.status_code == 403 and "только ролям: администратор" in answer.text, url
    assert site.sign_in("anna")[0].get("/clerk/today").status_code == 200  # anna's password unchanged
    assert 'value="clerk" selected' in admin.get("/clerk/admin/users").text  # and her role
    # signed out: every page sends to the sign-in page; an htmx request is told where to go
    anonymous = site.client()
    answer = anonymous.get("/clerk/items/1")
    assert answer.status_code == 303 and answer.headers["location"] == "/clerk/login?next=%2Fclerk%2Fitems%2F1"
    answer = anonymous.post("/clerk/check-tracking", headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"].startswith("/clerk/login")
    assert anonymous.get("/clerk/items/1/documents/0").status_code == 303
    # a portal item, a missing item: not found (in Russian)
    assert clerk.get("/clerk/items/999999").status_code == 404
    assert "Такого отправления нет." in clerk.get("/clerk/items/999999").text
    # the next URL after sign-in stays on this site
    page = site.client().get("/clerk/login?next=//evil.example/x")
    assert 'name="next" value="/clerk/today"' in page.text
    del admin_csrf


def test_lockout_after_five_failures(site: Site) -> None:
    client = site.client()
    nonce = csrf_of(client.get("/clerk/login").text)

    def attempt(password: str) -> httpx.Response:
        return client.post("/clerk/login", data={"name": "locky", "password": password, "csrf_token": nonce,
                                                 "next": "/clerk/today"})  # fmt: skip

    for _ in range(4):
        answer = attempt("wrong-password")
        assert answer.status_code == 401 and "Неверное имя пользователя или пароль." in answer.text
        assert 'value="locky"' in answer.text  # the name typed is kept
    answer = attempt("wrong-password")
    assert answer.status_code == 429 and "Слишком много неудачных попыток" in answer.text
    answer = attempt(PASSWORDS["locky"])  # the right password no longer opens it
    assert answer.status_code == 429
    listed = run("users", "list", cwd=site.folder).stdout
    utc = re.search(r"locky .* locked out until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", listed)
    assert utc
    minsk = dt.datetime.fromisoformat(utc.group(1)).replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/Minsk"))
    assert f"закрыт до {minsk:%H:%M} (UTC+3)" in answer.text  # the bureau's time (default Europe/Minsk), labelled
    run("users", "unlock", "locky", cwd=site.folder)
    assert attempt(PASSWORDS["locky"]).status_code == 303
    # unknown names are counted too and answered alike
    other = site.client()
    nonce = csrf_of(other.get("/clerk/login").text)
    answer = other.post("/clerk/login", data={"name": "nobody", "password": "x" * 12, "csrf_token": nonce})
    assert answer.status_code == 401 and "Неверное имя пользователя или пароль." in answer.text


def test_session_cookie_and_sign_out(site: Site) -> None:
    client = site.client()
    page = client.get("/clerk/login")
    login_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie and "Secure" not in login_cookie
    answer = client.post("/clerk/login", data={"name": "anna", "password": PASSWORDS["anna"],
                                               "csrf_token": csrf_of(page.text)})  # fmt: skip
    cookie = answer.headers["set-cookie"]
    assert re.match(r"msedocs_session=[A-Za-z0-9_-]{40,};", cookie)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/clerk" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1
    token = client.cookies["msedocs_session"]
    with sqlite3.connect(site.folder / "data" / "outbox.sqlite3") as db:  # only a digest is stored
        stored = [r[0] for r in db.execute("SELECT id_sha256 FROM web_sessions")]
    assert token not in stored and len(stored[0]) == 64
    today = client.get("/clerk/today")
    for header, value in {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                          "Referrer-Policy": "same-origin"}.items():  # fmt: skip
        assert today.headers[header] == value
    assert "script-src 'self'" in today.headers["Content-Security-Policy"]
    assert "<script>" not in today.text and " on" + "click=" not in today.text  # no inline script
    answer = client.post("/clerk/logout", data={"csrf_token": csrf_of(today.text)})
    assert answer.status_code == 303 and 'msedocs_session=""' in answer.headers["set-cookie"]
    # the old token no longer opens anything, even if a copy of the cookie was kept
    stale = site.client()
    stale.cookies.set("msedocs_session", token, domain="127.0.0.1", path="/clerk")
    assert stale.get("/clerk/today").status_code == 303
    # behind a TLS proxy on this machine (X-Forwarded-Proto from 127.0.0.1): the cookie is Secure
    secure = site.client()
    page = secure.get("/clerk/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["set-cookie"]


def test_the_api_beside_the_pages(site: Site) -> None:
    client = site.client()
    answer = client.get("/v1/forms")
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/nothing").headers["content-type"] == "application/problem+json"
    missing = client.get("/clerk/nothing")
    assert missing.status_code == 404 and "Такой страницы нет." in missing.text
    assert "/clerk" not in client.get("/openapi.json").text
    # the server process still holds no renderer: print packs are rendered in its rendering processes
    assert client.get("/readyz").json()["renderers_loaded_here"] == []
    static = client.get("/clerk/static/htmx.min.js")
    assert static.status_code == 200 and static.content.startswith(b"var htmx=")


def test_documents_download_and_access_is_logged(site: Site) -> None:
    client, _ = site.sign_in("anna")
    answer = client.get("/clerk/items/1/documents/1")
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    assert answer.headers["content-disposition"].startswith("attachment;")
    page = client.get("/clerk/items/1/documents/1/pages/1")
    assert page.headers["content-type"] == "image/png" and page.content.startswith(b"\x89PNG")
    assert client.get("/clerk/items/1/documents/1/pages/99").status_code == 404
    assert client.get("/clerk/items/1/documents/9").status_code == 404
    with sqlite3.connect(site.folder / "data" / "outbox.sqlite3") as db:
        logged = {r[0] for r in db.execute("SELECT action FROM web_access_log WHERE item_id = 1")}
    assert {"download", "preview"} <= logged
    log = site.serve.output()
    assert re.search(r"clerk access user=\d+ item=1 action=download", log)
    for case in site.cases:  # the log names ids, never a case, an addressee or an address
        assert case.case_id not in log and case.name not in log
    assert "Оренбург" not in log
