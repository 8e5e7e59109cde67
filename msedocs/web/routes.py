"""The clerk's pages: ``/clerk/…``, server-rendered (Jinja2), Russian, every action a plain form
post (htmx only adds live checks and partial reloads on top).

Security: a session is an opaque random token in a cookie (``HttpOnly``, ``SameSite=Strict``,
``Secure`` over https, path ``/clerk``) whose SHA-256 is looked up in ``web_sessions``; every
form carries the session's CSRF token (the sign-in form a token bound to a pre-session cookie)
and a POST whose ``Origin`` is another site is refused; roles are checked per page; pages are
``no-store`` under a strict Content-Security-Policy (scripts and styles only from
``/clerk/static``). An item's page, its documents and its signature report are logged as an
access (user id, item id, action; nothing else) in ``web_access_log`` and in the log.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from generators.resources import as_path
from msedocs.delivery.models import Channel, Item, State
from msedocs.delivery.store import BadOutboxError, Outbox, utcnow
from msedocs.errors import DeliveryError, InputError, MsedocsError
from msedocs.web import clerk
from msedocs.web.builder import BatchBuilder
from msedocs.web.store import MIN_PASSWORD, ROLE_TITLES, ROLES, Batch, Session, UserError, WebStore

log = logging.getLogger("msedocs.web")

SESSION_COOKIE = "msedocs_session"
LOGIN_COOKIE = "msedocs_login"
STATIC_DIR = as_path(files("msedocs.web") / "static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")  # fmt: skip
CLERKS = ("clerk", "head", "admin")
ADMIN_ACTIONS = {"create": "создан", "set-role": "изменена роль", "set-password": "задан новый пароль",
                 "disable": "отключён", "enable": "включён", "unlock": "открыт вход"}  # fmt: skip
#: The setting of the bureau's time zone, and its default (Belarusian bureaus).
TIMEZONE_ENV = "MSEDOCS_TIMEZONE"
DEFAULT_TIMEZONE = "Europe/Minsk"


class NeedSignIn(MsedocsError):
    """No live session: answered by a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


class Denied(MsedocsError):
    """Refused (a role, a CSRF token, something missing): answered by an error page in Russian."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class WebContext:
    """What the pages share: the store of users and sessions, the outbox, the templates. Opened
    on first use (``msedocs serve --print-openapi`` opens nothing)."""

    db_url: str
    pki_dir: str | None
    zone: ZoneInfo = field(default_factory=lambda: bureau_zone())
    pool: Any = None
    _store: WebStore | None = None
    _outbox: Outbox | None = None
    builder: BatchBuilder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    preview_lock: threading.Lock = field(default_factory=threading.Lock)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = _environment(self)

    def today(self) -> dt.date:
        """Today in the bureau's time zone (the deadlines, the list dates, the forms' dates)."""
        return dt.datetime.now(self.zone).date()

    def local(self, moment: dt.datetime) -> dt.datetime:
        """A moment of the stores (naive UTC) in the bureau's time zone."""
        return (moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment).astimezone(self.zone)

    @staticmethod
    def zone_label(local: dt.datetime) -> str:
        """«UTC+3», «UTC+5:30»: the offset of a local moment, unambiguous whatever the zone's name."""
        offset = local.utcoffset() or dt.timedelta(0)
        sign = "-" if offset < dt.timedelta(0) else "+"
        hours, rest = divmod(abs(int(offset.total_seconds())) // 60, 60)
        return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")

    def shown_time(self, moment: dt.datetime | str | None) -> Markup:
        """A moment as the clerk reads it: local date and time with its UTC offset, and the
        exact moment in ``<time datetime>``. A string is read as ISO 8601 (a signature's time
        in a ``verify`` report; without an offset it is UTC); one that is not is shown as it is."""
        if isinstance(moment, str):
            text = moment
            try:
                moment = dt.datetime.fromisoformat(text.strip())
            except ValueError:
                return Markup("{}").format(text[:40])
        if moment is None:
            return Markup("")
        local = self.local(moment)
        return Markup('<time datetime="{}">{}</time>').format(
            local.isoformat(timespec="seconds"), f"{local:%d.%m.%Y %H:%M} {self.zone_label(local)}")

    @property
    def store(self) -> WebStore:
        with self._lock:
            if self._store is None:
                self._store = WebStore(self.db_url, create=True)
            return self._store

    @property
    def outbox(self) -> Outbox:
        with self._lock:
            if self._outbox is None:
                try:
                    self._outbox = Outbox(self.db_url)
                except BadOutboxError:
                    log.warning("clerk pages: the store holds no outbox")
                    raise Denied("Очередь отправки ещё не создана. Администратор создаёт её командой "
                                 "«msedocs queue init».", 503) from None  # fmt: skip
            return self._outbox

    def start_builder(self, pool: Any) -> None:
        """Start building print batches in ``pool`` (the service's), once. A store that cannot be
        opened raises, and nothing is started: the next call tries again."""
        with self._lock:
            if self.pool is not None:
                return
        builder = BatchBuilder(self.store, pool, self.db_url)
        with self._lock:
            if self.pool is not None:  # another request started one meanwhile
                return
            self.pool, self.builder = pool, builder
        builder.start()

    def wake_builder(self) -> None:
        if self.builder is not None:
            self.builder.wake.set()

    def close(self) -> None:
        if self.builder is not None:
            self.builder.stop()
            self.builder = None
        with self._lock:
            if self._store is not None:
                self._store.close()
            if self._outbox is not None:
                self._outbox.close()
            self._store = self._outbox = None


def bureau_zone() -> ZoneInfo:
    """The bureau's time zone: ``MSEDOCS_TIMEZONE`` (an IANA name), else Europe/Minsk."""
    name = os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{TIMEZONE_ENV}: unknown time zone {name[:60]!r}; give an IANA name such as "
                         f"{DEFAULT_TIMEZONE} or Europe/Moscow") from None


def _environment(ctx: WebContext) -> Environment:
    env = Environment(loader=PackageLoader("msedocs.web", "templates"), autoescape=select_autoescape(["j2", "html"]),
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.filters["d"] = lambda v: v.strftime("%d.%m.%Y") if v else ""
    env.filters["dt"] = ctx.shown_time
    env.filters["spaced"] = lambda n: f"{n[:6]} {n[6:8]} {n[8:13]} {n[13:]}" if n and len(n) == 14 else (n or "")
    env.filters["size"] = lambda n: f"{n / 1024:.0f} КБ" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} МБ"
    # a date field shows only a real date (a browser never sends another; a typed URL may)
    env.filters["isodate"] = lambda v: v if isinstance(v, str) and _date(v) else ""
    env.globals.update(state_titles=clerk.STATE_TITLES, role_titles=ROLE_TITLES, zone=ctx.zone.key)
    return env


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    if ctx.pool is None and hasattr(request.app.state, "service"):
        ctx.start_builder(request.app.state.service.pool)
    return ctx


Ctx = Annotated[WebContext, Depends(web)]


# -- responses ---------------------------------------------------------------------------------


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts say Origin: null
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(ctx: WebContext, request: Request, template: str, session: Session | None, status: int = 200,
         **values: Any) -> Response:  # fmt: skip
    html = ctx.env.get_template(template).render(
        request=request, session=session, user=session.user if session else None,
        csrf=session.csrf if session else "", today=ctx.today(), path=request.url.path, **values,
    )  # fmt: skip
    return _headers(HTMLResponse(html, status_code=status))


def redirect(url: str) -> Response:
    return _headers(RedirectResponse(url, status_code=303))


def download(content: bytes, media_type: str, name: str, inline: bool = False) -> Response:
    disposition = "inline" if inline else "attachment"
    response = Response(content, media_type=media_type, headers={
        "Content-Disposition": f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"})  # fmt: skip
    return _headers(response)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- sessions, roles, CSRF ------------------------------------------------------------------------


def current_session(request: Request, ctx: Ctx) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    return ctx.store.session(token) if token else None


def need(*roles: str) -> Callable[..., Session]:
    def dependency(request: Request, ctx: Ctx) -> Session:
        session = current_session(request, ctx)
        if session is None:
            raise NeedSignIn(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if session.user.role not in roles:
            raise Denied("Эта страница доступна только ролям: " + ", ".join(ROLE_TITLES[r] for r in roles) + ".")
        request.state.user_id = session.user.id
        return session

    return dependency


Clerk = Annotated[Session, Depends(need(*CLERKS))]
Head = Annotated[Session, Depends(need("head", "admin"))]
Admin = Annotated[Session, Depends(need("admin"))]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # an older browser: the token and the SameSite=Strict cookie still hold
        return True
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin == expected


async def form_of(request: Request, session: Session) -> FormData:
    """The posted form, if it carries the session's CSRF token and comes from this site."""
    form = await request.form(max_files=0, max_fields=5000)
    given = form.get("csrf_token")
    if not _same_origin(request) or not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
        raise Denied("Форма устарела или отправлена не с этой страницы. Обновите страницу и повторите.", 403)
    return form


def _text(form: Mapping[str, Any], name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _safe_next(value: str) -> str:
    return value if value.startswith("/clerk/") and not value.startswith("//") and "\\" not in value else "/clerk/today"


def _who(session: Session) -> str:
    return f"web:{session.user.name}"


def _access(ctx: WebContext, session: Session, item_id: int, action: str) -> None:
    ctx.store.log_access(session.user.id, item_id, action)
    log.info("clerk access user=%s item=%s action=%s", session.user.id, item_id, action)


# -- the router ------------------------------------------------------------------------------------

router = APIRouter(prefix="/clerk", include_in_schema=False)


@router.get("")
@router.get("/")
def index() -> Response:
    return redirect("/clerk/today")


@router.get("/login")
def login_page(request: Request, ctx: Ctx, next: str = "/clerk/today") -> Response:
    session = current_session(request, ctx)
    if session is not None:
        return redirect(_safe_next(next))
    return _login_form(ctx, request, next=_safe_next(next))


def _login_form(ctx: WebContext, request: Request, *, next: str, name: str = "", error: str = "",
                status: int = 200) -> Response:  # fmt: skip
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(ctx, request, "login.html.j2", None, status=status, nonce=nonce, next=next, name=name,
                    error=error)  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=_secure(request),
                        path="/clerk", max_age=3600)  # fmt: skip
    return response


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    name, password = _text(form, "name", 64), _text(form, "password", 300)
    next_url = _safe_next(_text(form, "next", 500))
    cookie, given = request.cookies.get(LOGIN_COOKIE, ""), _text(form, "csrf_token", 100)
    if not cookie or not given or not hmac.compare_digest(cookie, given) or not _same_origin(request):
        return _login_form(ctx, request, next=next_url, name=name, status=403,
                           error="Форма входа устарела. Введите имя и пароль ещё раз.")  # fmt: skip
    if not name or not password:
        return _login_form(ctx, request, next=next_url, name=name, status=422,
                           error="Введите имя пользователя и пароль.")  # fmt: skip
    result = await run_in_threadpool(ctx.store.sign_in, name, password)
    if result.user is None:
        if result.locked_until is not None:
            local = ctx.local(result.locked_until)
            error = (f"Слишком много неудачных попыток входа. Вход для этого имени закрыт до {local:%H:%M} "
                     f"({ctx.zone_label(local)}); "
                     "администратор может открыть его раньше.")  # fmt: skip
            log.warning("clerk sign-in locked out")
            return _login_form(ctx, request, next=next_url, name=name, error=error, status=429)
        return _login_form(ctx, request, next=next_url, name=name, status=401,
                           error="Неверное имя пользователя или пароль.")  # fmt: skip
    token, _session = ctx.store.new_session(result.user)
    log.info("clerk sign-in user=%s", result.user.id)
    response = redirect(next_url)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                        path="/clerk")  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/clerk", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Ctx, session: Clerk) -> Response:
    await form_of(request, session)
    ctx.store.end_session(request.cookies.get(SESSION_COOKIE, ""))
    log.info("clerk sign-out user=%s", session.user.id)
    response = redirect("/clerk/login?bye=1")
    response.delete_cookie(SESSION_COOKIE, path="/clerk", httponly=True, samesite="strict", secure=_secure(request))
    return response


# -- today -----------------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    status = q.get("status", "active")
    sort = q.get("sort", "due")
    return {
        "status": status if status in clerk.STATUS_FILTERS else "active",
        "due_from": q.get("due_from", "")[:10],
        "due_to": q.get("due_to", "")[:10],
        "q": q.get("q", "")[:100],
        "sort": sort if sort in clerk.SORTS else "due",
        "dir": "desc" if q.get("dir") == "desc" else "asc",
    }


def _today_page(ctx: WebContext, request: Request, session: Session, *, selected: set[int] | None = None,
                duplex: bool = True, error: str = "", status: int = 200) -> Response:  # fmt: skip
    f = _filters(request)
    errors = {}
    due_from, due_to = _date(f["due_from"]), _date(f["due_to"])
    if f["due_from"] and due_from is None:
        errors["due_from"] = "Дата в виде ГГГГ-ММ-ДД"
    if f["due_to"] and due_to is None:
        errors["due_to"] = "Дата в виде ГГГГ-ММ-ДД"
    if due_from and due_to and due_to < due_from:
        errors["due_to"] = "Конец периода раньше его начала"
    rows = clerk.rows(ctx.outbox, ctx.store, ctx.today(), status=f["status"], due_from=due_from, due_to=due_to,
                      search=f["q"], sort=f["sort"], descending=f["dir"] == "desc")  # fmt: skip
    queued = ctx.outbox.find_items(channel=Channel.POST, states=[State.QUEUED], limit=100_000)
    due = clerk.due_items(ctx.outbox, ctx.today())
    counts = {
        "queued": len(queued),
        "due": len(due),
        "overdue": sum(1 for i in due if i.due_date < ctx.today()),
        "due_today": sum(1 for i in due if i.due_date == ctx.today()),
        "printed": len(ctx.outbox.find_items(channel=Channel.POST, states=[State.PRINTED])),
    }

    def sort_url(key: str) -> str:
        direction = "desc" if f["sort"] == key and f["dir"] == "asc" else "asc"
        params = {k: v for k, v in f.items() if v and k not in ("sort", "dir")}
        return "/clerk/today?" + urlencode({**params, "sort": key, "dir": direction})

    batches = {n: ctx.store.batch_of_list(n) for n in {r.item.list_number for r in rows if r.item.list_number}}
    return page(ctx, request, "today.html.j2", session, status=status, rows=rows, f=f, filters=clerk.STATUS_FILTERS,
                sorts=clerk.SORTS, sort_url=sort_url, counts=counts, errors=errors, error=error,
                selected=selected or set(), batches=batches, duplex=duplex)  # fmt: skip


@router.post("/print")
async def print_batch(request: Request, ctx: Ctx, session: Clerk) -> Response:
    form = await form_of(request, session)
    raw = [v for v in form.getlist("item") if isinstance(v, str)]
    ids = sorted({int(v) for v in raw if v.isdigit() and len(v) < 19})
    everything = form.get("all") == "1"
    duplex = form.get("duplex") == "1"
    if not ids and not everything:
        return _today_page(ctx, request, session, duplex=duplex, status=422,
                           error="Отметьте отправления для печати или нажмите «Все на сегодня».")  # fmt: skip
    if everything:
        ids = [i.id for i in clerk.due_items(ctx.outbox, ctx.today())]
        if not ids:
            error = ("На сегодня печатать нечего: просроченных отправлений и отправлений со сроком сегодня нет. "
                     "Отметьте нужные отправления и нажмите «Напечатать отмеченные».")  # fmt: skip
            return _today_page(ctx, request, session, duplex=duplex, status=409, error=error)
    try:
        lists = await run_in_threadpool(ctx.outbox.prepare_postal_lists, ctx.today(), _who(session), item_ids=ids)
    except (DeliveryError, InputError) as exc:
        message = ("Закончились номера ШПИ: руководитель или администратор добавляет диапазон на странице "
                   "«Диапазоны ШПИ»." if "tracking numbers" in str(exc) else "Не удалось сформировать списки.")
        log.warning("print batch refused: %s", type(exc).__name__)
        return _today_page(ctx, request, session, duplex=duplex, selected=set(ids), error=message, status=409)
    if not lists:
        return _today_page(ctx, request, session, duplex=duplex, status=409,
                           error="Отмеченные отправления уже напечатаны: обновите страницу.")  # fmt: skip
    numbers = [lst.number for lst in lists]
    batch_id = ctx.store.create_batch(session.user.id, ctx.today(), numbers, duplex=duplex)
    for lst in lists:
        ctx.store.add_event([i.id for i in lst.items], session.user.id, "пакет печати сформирован",
                            f"пакет № {batch_id}, ШПИ присвоен по списку ф. 103 № {lst.number}")  # fmt: skip
    ctx.wake_builder()  # the files are built in the background: the batch's page shows how far
    return redirect(f"/clerk/batches/{batch_id}")


@router.get("/batches")
def batches_page(request: Request, ctx: Ctx, session: Clerk) -> Response:
    return page(ctx, request, "batches.html.j2", session, batches=ctx.store.batches())


def _batch(ctx: WebContext, batch_id: int) -> Batch:
    batch = ctx.store.batch(batch_id)
    if batch is None:
        raise Denied("Такого пакета нет.", 404)
    return batch


def _stalled(batch: Batch) -> bool:
    """Its builder stopped (the server was stopped mid-build) and no one has taken it up again."""
    return batch.state == "building" and batch.lease_until is not None and batch.lease_until < utcnow()


@router.get("/batches/{batch_id}")
def batch_page(batch_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    batch = _batch(ctx, batch_id)
    items = [i for n in batch.lists for i in ctx.outbox.list_items(list_number=n)]
    return page(ctx, request, "batch.html.j2", session, batch=batch, files=ctx.store.batch_files(batch_id),
                items=items, stalled=_stalled(batch))  # fmt: skip


@router.get("/batches/{batch_id}/state")
def batch_state(batch_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    """The build's progress (polled by htmx); once it is over, the whole page again."""
    batch = _batch(ctx, batch_id)
    if batch.state in ("ready", "failed"):
        return _headers(Response(status_code=204, headers={"HX-Refresh": "true"}))
    return page(ctx, request, "_batch_state.html.j2", session, batch=batch, stalled=_stalled(batch))


@router.post("/batches/{batch_id}/render")
async def batch_render(batch_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    await form_of(request, session)
    _batch(ctx, batch_id)
    if ctx.store.rebuild_batch(batch_id):
        ctx.store.add_event([i.id for n in _batch(ctx, batch_id).lists for i in ctx.outbox.list_items(list_number=n)],
                            session.user.id, "пакет печати формируется заново", f"пакет № {batch_id}")  # fmt: skip
        ctx.wake_builder()
    return redirect(f"/clerk/batches/{batch_id}")


@router.get("/batches/{batch_id}/files/{name}")
def batch_file(batch_id: int, name: str, request: Request, ctx: Ctx, session: Clerk) -> Response:
    found = ctx.store.batch_file(batch_id, name)
    if found is None:
        raise Denied("Такого файла нет.", 404)
    media, content = found
    batch = ctx.store.batch(batch_id)
    if batch is not None:
        for n in batch.lists:
            for item in ctx.outbox.list_items(list_number=n):
                _access(ctx, session, item.id, f"batch-file:{name}"[:32])
    return download(content, media, f"batch-{batch_id}-{name}", inline=request.query_params.get("inline") == "1")


# -- hand-over -------------------------------------------------------------------------------------


def _handover_page(ctx: WebContext, request: Request, session: Session, *, numbers: str = "", day: str = "",
                   lines: list[clerk.TrackingLine] | None = None, errors: dict[str, str] | None = None,
                   done: list[Item] | None = None, status: int = 200) -> Response:  # fmt: skip
    printed = ctx.outbox.find_items(channel=Channel.POST, states=[State.PRINTED])
    return page(ctx, request, "handover.html.j2", session, status=status, printed=printed, numbers=numbers,
                day=day or ctx.today().isoformat(), lines=lines or [], errors=errors or {},
                done=done or [])  # fmt: skip


def _day_problem(ctx: WebContext, day: dt.date | None, raw: str, earliest_days: int = 60) -> str | None:
    if day is None:
        return "Укажите дату в виде ГГГГ-ММ-ДД" if raw else "Укажите дату"
    if day > ctx.today():
        return "Дата не может быть позже сегодняшней"
    if day < ctx.today() - dt.timedelta(days=earliest_days):
        return f"Дата не может быть раньше чем {earliest_days} дней назад"
    return None


@router.post("/handover")
async def handover(request: Request, ctx: Ctx, session: Clerk) -> Response:
    form = await form_of(request, session)
    numbers, raw_day = _text(form, "numbers", 20000), _text(form, "day", 20)
    day = _date(raw_day)
    errors: dict[str, str] = {}
    lines = clerk.check_tracking_lines(ctx.outbox, numbers, State.PRINTED)
    if not lines:
        errors["numbers"] = "Введите или отсканируйте ШПИ переданных отправлений, по одному в строке."
    elif any(line.error for line in lines):
        bad = sum(1 for line in lines if line.error)
        errors["numbers"] = f"Ошибки в {bad} из {len(lines)} строк; ничего не отмечено. Исправьте их и повторите."
    problem = _day_problem(ctx, day, raw_day)
    if problem:
        errors["day"] = problem
    if errors:
        return _handover_page(ctx, request, session, numbers=numbers, day=raw_day, lines=lines, errors=errors,
                              status=422)  # fmt: skip
    assert day is not None
    done: list[Item] = []
    for line in lines:
        try:
            item = ctx.outbox.mark_handed_over(line.number, day, worker=_who(session))
        except (InputError, DeliveryError):
            continue  # changed meanwhile by someone else: shown as not done below
        done.append(item)
    missed = [line for line in lines if line.number not in {i.tracking_number for i in done}]
    errors = {"numbers": f"Не отмечено {len(missed)}: их состояние изменилось, проверьте."} if missed else {}
    return _handover_page(ctx, request, session, done=done, errors=errors,
                          numbers="\n".join(m.number for m in missed))  # fmt: skip


@router.post("/check-tracking")
async def check_tracking(request: Request, ctx: Ctx, session: Clerk) -> Response:
    """The live check of the hand-over and return forms (htmx): each line's verdict."""
    form = await form_of(request, session)
    expect = State.HANDED_OVER if form.get("expect") == "handed_over" else State.PRINTED
    text = _text(form, "numbers", 20000) or _text(form, "tracking", 100)
    lines = clerk.check_tracking_lines(ctx.outbox, text, expect)
    return page(ctx, request, "_tracking_check.html.j2", session, lines=lines)


# -- returns -----------------------------------------------------------------------------------------


def _returns_page(ctx: WebContext, request: Request, session: Session, *, values: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, done: Item | None = None,
                  status: int = 200) -> Response:  # fmt: skip
    returned = ctx.outbox.find_items(channel=Channel.POST, states=[State.RETURNED])
    why = {}
    for i in returned:
        back = [h for h in ctx.outbox.history(i.id) if h.to_state == State.RETURNED]
        if back:
            why[i.id] = back[-1].reason
    values = values or {"day": ctx.today().isoformat(), "outcome": "returned", "reason": ""}
    return page(ctx, request, "returns.html.j2", session, status=status, values=values, errors=errors or {},
                done=done, returned=returned, reasons=clerk.RETURN_REASONS, why=why)  # fmt: skip


@router.post("/returns")
async def record_outcome(request: Request, ctx: Ctx, session: Clerk) -> Response:
    form = await form_of(request, session)
    values = {k: _text(form, k, 300) for k in ("tracking", "day", "outcome", "reason", "other")}
    errors: dict[str, str] = {}
    outcome = values["outcome"] if values["outcome"] in (State.RETURNED, State.DELIVERED) else ""
    if not outcome:
        errors["outcome"] = "Выберите, что произошло с отправлением"
    line = clerk.check_one(ctx.outbox, values["tracking"], State.HANDED_OVER)
    if line.error:
        errors["tracking"] = line.error[:1].upper() + line.error[1:]
    day = _date(values["day"])
    problem = _day_problem(ctx, day, values["day"], earliest_days=400)
    if problem:
        errors["day"] = problem
    reason = ""
    if outcome == State.RETURNED:
        if values["reason"] not in clerk.RETURN_REASONS:
            errors["reason"] = "Выберите причину возврата"
        elif values["reason"] == "other":
            reason = values["other"].strip()
            if not reason:
                errors["other"] = "Опишите причину возврата"
            elif not reason.isprintable():
                errors["other"] = "Только печатаемые символы, без переводов строк"
        else:
            reason = clerk.RETURN_REASONS[values["reason"]]
    if errors:
        return _returns_page(ctx, request, session, values=values, errors=errors, status=422)
    assert day is not None
    try:
        item = ctx.outbox.mark_post_outcome(line.number, outcome, day, reason or "вручено адресату",
                                            worker=_who(session))  # fmt: skip
    except (InputError, DeliveryError):
        errors["tracking"] = "Состояние отправления изменилось: обновите страницу"
        return _returns_page(ctx, request, session, values=values, errors=errors, status=409)
    return _returns_page(ctx, request, session, done=item)


# -- an item -----------------------------------------------------------------------------------------


def _item(ctx: WebContext, item_id: int) -> Item:
    try:
        item = ctx.outbox.get(item_id)
    except InputError:
        raise Denied("Такого отправления нет.", 404) from None
    if item.channel != Channel.POST:
        raise Denied("Это отправление доставляется через портал: на бумаге его нет.", 404)
    return item


@router.get("/items/{item_id}")
def item_page(item_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    item = _item(ctx, item_id)
    _access(ctx, session, item.id, "view")
    docs = ctx.outbox.documents(item.id)
    pages = {n: _page_count(d.content) for n, d in enumerate(docs) if d.media_type == "application/pdf"}
    names = {u.name: u.shown for u in ctx.store.users()}
    history = clerk.history(ctx.outbox.history(item.id), ctx.store.events(item.id), names)
    numbers = clerk.index_numbers(ctx.outbox, ctx.store, [item]).get(item.id, "")
    batch = ctx.store.batch_of_list(item.list_number) if item.list_number else None
    return page(ctx, request, "item.html.j2", session, item=item, row=clerk.Row(item, clerk.deadline(item, ctx.today()),
                clerk.STATE_TITLES.get(item.state, item.state), numbers), docs=docs, pages=pages, history=history,
                batch=batch)  # fmt: skip


def _page_count(content: bytes) -> int:
    import pikepdf

    try:
        with pikepdf.Pdf.open(io.BytesIO(content)) as pdf:
            return len(pdf.pages)
    except pikepdf.PdfError:
        return 0


def _document(ctx: WebContext, item: Item, position: int) -> Any:
    docs = ctx.outbox.documents(item.id)
    if not 0 <= position < len(docs):
        raise Denied("Такого документа нет.", 404)
    return docs[position]


@router.get("/items/{item_id}/documents/{position}")
def item_document(item_id: int, position: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    item = _item(ctx, item_id)
    doc = _document(ctx, item, position)
    _access(ctx, session, item.id, "download")
    return download(doc.content, doc.media_type, f"{item.case_ref}-{doc.role}-{doc.name}",
                    inline=request.query_params.get("inline") == "1")  # fmt: skip


@router.get("/items/{item_id}/documents/{position}/pages/{number}")
def item_document_page(item_id: int, position: int, number: int, request: Request, ctx: Ctx,
                       session: Clerk) -> Response:  # fmt: skip
    item = _item(ctx, item_id)
    doc = _document(ctx, item, position)
    if doc.media_type != "application/pdf":
        raise Denied("У этого документа нет страниц для просмотра.", 404)
    _access(ctx, session, item.id, "preview")
    png = _preview(ctx, doc.content, number)
    if png is None:
        raise Denied("Такой страницы нет.", 404)
    response = Response(png, media_type="image/png")
    return _headers(response)


def _preview(ctx: WebContext, content: bytes, number: int) -> bytes | None:
    """Page ``number`` (1-based) of a PDF as a PNG (pdfium is not thread-safe: one at a time)."""
    import pypdfium2 as pdfium

    with ctx.preview_lock:
        pdf = pdfium.PdfDocument(content)
        try:
            if not 1 <= number <= len(pdf):
                return None
            pdf_page = pdf[number - 1]
            bitmap = pdf_page.render(scale=100 / 72)
            image = bitmap.to_pil()
            buf = io.BytesIO()
            image.save(buf, format="PNG", optimize=True)
            pdf_page.close()
            return buf.getvalue()
        finally:
            pdf.close()


@router.get("/items/{item_id}/signatures")
async def item_signatures(item_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    from msedocs.api import engine

    item = _item(ctx, item_id)
    _access(ctx, session, item.id, "signatures")
    reports = []
    for position, doc in enumerate(ctx.outbox.documents(item.id)):
        if doc.role != "electronic":
            reports.append((position, doc, None, "Бумажный вариант: подписывается от руки и заверяется печатью."))
            continue
        try:
            if ctx.pool is None:
                raise DeliveryError("no rendering processes")
            report = await run_in_threadpool(ctx.pool.run, engine.verify_task, doc.content, None, ctx.pki_dir,
                                             "default", None, block=True)  # fmt: skip
            reports.append((position, doc, report, ""))
        except (MsedocsError, RuntimeError) as exc:
            log.warning("signature check of item %s failed: %s", item.id, type(exc).__name__)
            reports.append((position, doc, None, "Проверить подписи не удалось; повторите позже."))
    fragment = request.headers.get("hx-request") == "true"
    return page(ctx, request, "signatures.html.j2", session, item=item, reports=reports, fragment=fragment)


@router.post("/items/{item_id}/retry")
async def item_retry(item_id: int, request: Request, ctx: Ctx, session: Clerk) -> Response:
    await form_of(request, session)
    item = _item(ctx, item_id)
    try:
        ctx.outbox.retry(item.id, "sent again by registered mail after a return", worker=_who(session))
    except (InputError, DeliveryError):
        raise Denied("Повторно отправить можно только возвращённое отправление.", 409) from None
    return redirect(f"/clerk/items/{item.id}")


# -- head and admin ----------------------------------------------------------------------------------


@router.get("/admin/access")
def access_page(request: Request, ctx: Ctx, session: Head) -> Response:
    item = request.query_params.get("item", "")
    entries = ctx.store.access_log(300, int(item) if item.isdigit() and len(item) < 19 else None)
    return page(ctx, request, "access.html.j2", session, entries=entries, item=item, admin=ctx.store.admin_log(100),
                admin_titles=ADMIN_ACTIONS)  # fmt: skip


def _users_page(ctx: WebContext, request: Request, session: Session, *, values: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, message: str = "", status: int = 200) -> Response:  # fmt: skip
    values = {"role": "clerk", **(values or {})}
    return page(ctx, request, "users.html.j2", session, status=status, users=ctx.store.users(), roles=ROLES,
                values=values, errors=errors or {}, message=message, min_password=MIN_PASSWORD)  # fmt: skip


def _audit(ctx: WebContext, session: Session, action: str, subject: str, detail: str = "") -> None:
    """An administrator's action on a user: in the store's log (shown beside the access log) and
    in the server's log (ids and the action only)."""
    ctx.store.log_admin(session.user.id, action, subject, detail)
    log.info("clerk users: %s by=%s", action, session.user.id)


def _password_problems(password: str, again: str, field: str = "password") -> dict[str, str]:
    if len(password) < MIN_PASSWORD:
        return {field: f"Пароль не короче {MIN_PASSWORD} символов"}
    if len(password) > 256:
        return {field: "Пароль не длиннее 256 символов"}
    if not password.isprintable():
        return {field: "В пароле только печатаемые символы"}
    if password != again:
        return {f"{field}_again": "Пароли не совпадают"}
    return {}


@router.post("/admin/users")
async def users_create(request: Request, ctx: Ctx, session: Admin) -> Response:
    form = await form_of(request, session)
    values = {k: _text(form, k, 300) for k in ("name", "full_name", "role")}
    password, again = _text(form, "password", 300), _text(form, "password_again", 300)
    errors: dict[str, str] = {}
    if not values["name"].strip():
        errors["name"] = "Введите имя пользователя"
    if values["role"] not in ROLES:
        errors["role"] = "Выберите роль"
    errors.update(_password_problems(password, again))
    if not errors:
        try:
            user = await run_in_threadpool(ctx.store.create_user, values["name"], values["role"], password,
                                           values["full_name"].strip() or None)  # fmt: skip
        except UserError as exc:
            text = str(exc)
            if "already exists" in text:
                errors["name"] = "Такой пользователь уже есть"
            elif "full-name" in text:
                errors["full_name"] = "ФИО: от 1 до 200 печатаемых символов"
            else:
                errors["name"] = "Имя: от 1 до 64 букв, цифр или знаков . _ - @"
        else:
            _audit(ctx, session, "create", user.name, ROLE_TITLES[user.role])
            return _users_page(ctx, request, session, message=f"Пользователь {user.name} создан.")
    return _users_page(ctx, request, session, values=values, errors=errors, status=422)


def _existing(ctx: WebContext, name: str) -> Any:
    try:
        return ctx.store.user(name)
    except UserError:
        raise Denied("Такого пользователя нет.", 404) from None


@router.post("/admin/users/password")
async def users_password(request: Request, ctx: Ctx, session: Admin) -> Response:
    """A new password for a user, set by an administrator (the user's sessions end)."""
    form = await form_of(request, session)
    name = _text(form, "user", 64)
    password, again = _text(form, "new_password", 300), _text(form, "new_password_again", 300)
    errors = _password_problems(password, again, "new_password")
    if name not in {u.name for u in ctx.store.users()}:
        errors["user"] = "Выберите пользователя"
    if errors:
        return _users_page(ctx, request, session, values={"user": name}, errors=errors, status=422)
    await run_in_threadpool(ctx.store.set_password, name, password)
    _audit(ctx, session, "set-password", name)
    if name == session.user.name:  # the administrator's own sessions ended with it
        return redirect("/clerk/login?" + urlencode({"next": "/clerk/admin/users"}))
    return _users_page(ctx, request, session, message=f"Пароль пользователя {name} изменён; его сеансы завершены.")


@router.post("/admin/users/{name}/role")
async def users_role(name: str, request: Request, ctx: Ctx, session: Admin) -> Response:
    form = await form_of(request, session)
    user = _existing(ctx, name)
    role = _text(form, "role", 16)
    if role not in ROLES:
        return _users_page(ctx, request, session, errors={f"role-{user.id}": "Выберите роль"}, status=422)
    if name == session.user.name and role != user.role:
        return _users_page(ctx, request, session, status=409, errors={
            f"role-{user.id}": "Свою роль изменить нельзя: это делает другой администратор."})  # fmt: skip
    if role == user.role:
        return _users_page(ctx, request, session, message=f"У пользователя {name} уже роль «{ROLE_TITLES[role]}».")
    ctx.store.set_role(name, role)
    _audit(ctx, session, "set-role", name, f"{ROLE_TITLES[user.role]} → {ROLE_TITLES[role]}")
    return _users_page(ctx, request, session, message=f"Роль пользователя {name}: {ROLE_TITLES[role]}; его сеансы "
                       "завершены.")  # fmt: skip


@router.post("/admin/users/{name}/{action}")
async def users_action(name: str, action: str, request: Request, ctx: Ctx, session: Admin) -> Response:
    await form_of(request, session)
    _existing(ctx, name)
    if action == "disable":
        if name == session.user.name:
            return _users_page(ctx, request, session, message="Свою учётную запись отключить нельзя.", status=409)
        ctx.store.set_active(name, False)
        message = f"Пользователь {name} отключён; его сеансы завершены."
    elif action == "enable":
        ctx.store.set_active(name, True)
        message = f"Пользователь {name} включён."
    elif action == "unlock":
        ctx.store.unlock(name)
        message = f"Вход для {name} открыт."
    else:
        raise Denied("Такого действия нет.", 404)
    _audit(ctx, session, action, name)
    return _users_page(ctx, request, session, message=message)


def _ranges_page(ctx: WebContext, request: Request, session: Session, *, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, message: str = "", status: int = 200) -> Response:  # fmt: skip
    ranges = [{"prefix": p, "first": a, "last": b, "left": b - n + 1} for p, a, b, n in ctx.outbox.tracking_ranges()]
    return page(ctx, request, "ranges.html.j2", session, status=status, ranges=ranges, values=values or {},
                errors=errors or {}, message=message)  # fmt: skip


@router.post("/admin/ranges")
async def ranges_add(request: Request, ctx: Ctx, session: Head) -> Response:
    from msedocs.delivery.tracking import TrackingRange

    form = await form_of(request, session)
    values = {k: _text(form, k, 20).strip() for k in ("index", "month", "first", "last")}
    errors: dict[str, str] = {}
    if not (len(values["index"]) == 6 and values["index"].isdigit()):
        errors["index"] = "Индекс отделения связи — 6 цифр"
    if not (values["month"].isdigit() and 0 <= int(values["month"]) <= 99):
        errors["month"] = "Номер месяца — число от 0 до 99, как выдала почта"
    for key in ("first", "last"):
        if not (values[key].isdigit() and int(values[key]) <= 99999):
            errors[key] = "Число от 0 до 99999"
    if not errors and int(values["first"]) > int(values["last"]):
        errors["last"] = "Последний номер не может быть меньше первого"
    if not errors:
        rng = TrackingRange(values["index"], int(values["month"]), int(values["first"]), int(values["last"]))
        try:
            ctx.outbox.add_tracking_range(rng)
        except InputError:
            errors["index"] = "Диапазон с этим индексом и месяцем уже есть с другими номерами"
        else:
            return _ranges_page(ctx, request, session, message="Диапазон добавлен.")
    return _ranges_page(ctx, request, session, values=values, errors=errors, status=422)


# -- pages shown as they are (their forms post to the routes above) ---------------------------------


def _shown(path: str, render: Callable[..., Response], *roles: str) -> None:
    """``GET path``: the page ``render(ctx, request, session)`` draws, for ``roles``."""
    allowed = need(*roles)

    def endpoint(request: Request, ctx: Ctx, session: Session = Depends(allowed)) -> Response:  # noqa: B008
        return render(ctx, request, session)

    router.add_api_route(path, endpoint, methods=["GET"], name=path.strip("/").replace("/", "-"))


_shown("/today", _today_page, *CLERKS)
_shown("/handover", _handover_page, *CLERKS)
_shown("/returns", _returns_page, *CLERKS)
_shown("/admin/users", _users_page, "admin")
_shown("/admin/ranges", _ranges_page, "head", "admin")


# -- mounting --------------------------------------------------------------------------------------


def install(app: Any, db_url: str, pki_dir: str | None) -> None:
    """Mount the pages, their static files and their error pages on ``app``."""
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    ctx = WebContext(db_url, pki_dir)
    app.state.web = ctx
    app.include_router(router)
    app.mount("/clerk/static", StaticFiles(directory=str(STATIC_DIR)), name="clerk-static")

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NeedSignIn)
        url = "/clerk/login?" + urlencode({"next": exc.next_url})
        if request.headers.get("hx-request") == "true":
            return _headers(Response(status_code=204, headers={"HX-Redirect": url}))
        return redirect(url)

    async def on_denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        session = current_session(request, ctx)
        return page(ctx, request, "error.html.j2", session, status=exc.status, message=exc.message)

    previous_http = app.exception_handlers.get(StarletteHTTPException)

    async def on_http(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/clerk") and isinstance(exc, StarletteHTTPException):
            message = {404: "Такой страницы нет.", 405: "Так эту страницу открыть нельзя."}.get(
                exc.status_code, "Запрос не выполнен.")  # fmt: skip
            return page(ctx, request, "error.html.j2", None, status=exc.status_code, message=message)
        assert previous_http is not None
        return await previous_http(request, exc)

    app.add_exception_handler(NeedSignIn, on_sign_in)
    app.add_exception_handler(Denied, on_denied)
    app.add_exception_handler(StarletteHTTPException, on_http)

