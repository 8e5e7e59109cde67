"""The clerk's whole day in Debian's Chromium against a real ``msedocs serve``: sign in (by
keyboard), see the due items (overdue in red, due today highlighted), search and sort, print a
batch (the downloaded PDF's pages and text checked with pdfinfo and pdftotext, the CSV read),
hand over with tracking numbers (a wrong check digit and a repeated number refused in the page),
record a return (a missing reason refused with what was typed kept), the item's page (previews,
signatures, history), sign out; and the same actions with JavaScript off. A screenshot of each
page is saved in the artifacts folder."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from msedocs.delivery.tracking import check_digit

from .conftest import FULL_NAMES, PASSWORDS, Site

pytestmark = pytest.mark.usefixtures("artifacts")


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    (folder / f"{name}.html").write_text(page.content(), encoding="utf-8")


def sign_in_by_keyboard(page: Page, site: Site, name: str) -> None:
    page.goto(site.url + "/clerk/today")
    expect(page).to_have_url(re.compile(r"/clerk/login\?next="))
    expect(page.get_by_label("Имя пользователя")).to_be_focused()  # autofocus: typing starts at once
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Пароль")).to_be_focused()
    page.keyboard.type(PASSWORDS[name])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/clerk/today$"))


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_text("Вы вышли из системы.")).to_be_visible()


def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    pages = ["-f", str(first), "-l", str(last or first)] if first else []
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert found
    return int(found.group(1))


def assert_blank_right_of(png: Path, message) -> None:
    """Nothing drawn in the screenshot to the right of ``message``: no faint copy of it, as the
    browser's validation bubble leaves while it fades."""
    from PIL import Image

    box = message.bounding_box()
    assert box is not None
    left = int(box["x"] + box["width"]) + 10
    with Image.open(png) as image:
        area = image.convert("L").crop((left, int(box["y"]), 900, int(box["y"] + box["height"]) + 10))
        darkest = area.getextrema()[0]
    assert darkest >= 250, f"something drawn right of the message (darkest grey {darkest})"


def page_kinds(pack: Path) -> tuple[list[str], list[str]]:
    """Each page's text and what it is: cover, document, envelope, list or blank."""
    texts = [pdf_text(pack, n) for n in range(1, pdf_pages(pack) + 1)]
    kinds = []
    for text in texts:
        if "О направлении выписки" in text:
            kinds.append("cover")
        elif "ЗАКАЗНОЕ" in text:
            kinds.append("envelope")
        elif "внутренних почтовых отправлений" in text:
            kinds.append("list")
        elif not text.strip():
            kinds.append("blank")
        else:
            kinds.append("document")
    return texts, kinds


def row(page: Page, case_id: str):
    return page.locator("tbody tr", has_text=case_id)


def test_the_clerks_day(page: Page, site: Site, artifacts: Path) -> None:
    overdue, due_today, later = site.cases

    # -- the administrator registers the post office's range of tracking numbers ---------------
    page.goto(site.url + "/clerk/login")
    shot(page, artifacts, "01-login")
    sign_in_by_keyboard(page, site, "root")
    page.get_by_role("link", name="Диапазоны ШПИ").click()
    expect(page.get_by_text("Диапазонов нет")).to_be_visible()
    page.get_by_label("Индекс отделения").fill("443001")
    page.get_by_label("Номер месяца").fill("12")
    page.get_by_label("Первый номер").fill("1")
    page.get_by_label("Последний номер").fill("ab")
    page.get_by_role("button", name="Добавить").click()
    expect(page.locator("#last-error")).to_have_text("Число от 0 до 99999")  # next to its field
    expect(page.get_by_label("Индекс отделения")).to_have_value("443001")  # nothing typed is lost
    page.get_by_label("Последний номер").fill("500")
    page.get_by_role("button", name="Добавить").click()
    expect(page.get_by_text("Диапазон добавлен.")).to_be_visible()
    shot(page, artifacts, "02-ranges")
    page.get_by_role("link", name="Пользователи").click()
    expect(page.get_by_role("cell", name="anna", exact=True)).to_be_visible()
    shot(page, artifacts, "03-users")
    sign_out(page)
    shot(page, artifacts, "04-signed-out")

    # -- the clerk: today's items ---------------------------------------------------------------
    sign_in_by_keyboard(page, site, "anna")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Сегодня")
    expect(page.get_by_text(FULL_NAMES["anna"])).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(row(page, overdue.case_id)).to_have_class(re.compile(r"\boverdue\b"))
    expect(row(page, overdue.case_id)).to_contain_text("просрочено на")
    expect(row(page, due_today.case_id)).to_have_class(re.compile(r"\btoday\b"))
    expect(row(page, due_today.case_id)).to_contain_text("срок сегодня")
    expect(row(page, later.case_id)).to_contain_text("осталось 3 раб. дн.")
    red = row(page, overdue.case_id).locator(".deadline").evaluate("e => getComputedStyle(e).color")
    assert red == "rgb(164, 0, 29)", red  # overdue in red (#a4001d, 7.7:1 on its background)
    expect(row(page, later.case_id)).to_contain_text(later.name)
    expect(row(page, later.case_id)).to_contain_text("460014, Оренбургская обл.")
    assert "156-234-789" not in page.content()  # no portal account (СНИЛС), no diagnosis
    assert "Ишемическая" not in page.content()
    shot(page, artifacts, "05-today")
    page.emulate_media(media="print")  # printable: the list without navigation, filters or buttons
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="Напечатать отмеченные")).to_be_hidden()
    expect(page.locator("tbody tr")).to_have_count(3)
    shot(page, artifacts, "05-today-print")
    page.emulate_media(media="screen")

    # search by case number and by the extract's number (htmx: the table reloads as you type)
    page.get_by_label("Поиск").fill("000701")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=000701"))
    page.get_by_label("Поиск").fill("567.3.702")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(row(page, later.case_id)).to_be_visible()
    shot(page, artifacts, "06-today-search")
    page.get_by_label("Поиск").fill("")
    expect(page.locator("tbody tr")).to_have_count(3)
    # sorted by the addressee (a column header is a link), then descending by due date
    page.get_by_role("link", name="Адресат и адрес").click()
    names = page.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert [n.split()[0] for n in names] == ["Андреев", "Борисов", "Григорьев"], names
    page.get_by_label("Сортировка").select_option("due")
    page.get_by_label("Порядок").select_option("desc")
    expect(page.locator("tbody tr").first).to_contain_text(later.case_id)
    page.get_by_label("Состояние").select_option("printed")
    expect(page.get_by_text("Нет отправлений по этим условиям.")).to_be_visible()
    page.get_by_role("link", name="Сбросить").click()

    # -- «Все на сегодня» prints the overdue one and today's, not the one due later ---------------
    page.get_by_role("button", name="Напечатать отмеченные").click()  # nothing chosen: refused
    expect(page.get_by_role("alert")).to_contain_text("Отметьте отправления")
    expect(page.locator(".summary")).to_contain_text("из них просрочено: 1")
    expect(page.locator(".summary")).to_contain_text("срок сегодня: 1")
    page.get_by_role("button", name=re.compile(r"Все на сегодня \(2\)")).click()
    expect(page).to_have_url(re.compile(r"/clerk/batches/\d+$"), timeout=30_000)  # at once: built in the background
    if page.locator("#batch-state").is_visible():
        shot(page, artifacts, "07-batch-building")
    expect(page.get_by_text("Пакет готов")).to_be_visible(timeout=120_000)  # the page polls, then shows it
    expect(page.get_by_text("Пакет готов")).to_be_visible()
    shot(page, artifacts, "07-batch")
    # when it was made: in the bureau's time (default Europe/Minsk), its offset said, the moment exact
    with sqlite3.connect(site.folder / "data" / "outbox.sqlite3") as db:
        made = db.execute("SELECT created_at FROM web_batches WHERE id = ?", (page.url.rsplit("/", 1)[1],)).fetchone()
    minsk = dt.datetime.fromisoformat(made[0]).replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/Minsk"))
    expect(page.locator(".lead")).to_contain_text(f"{minsk:%d.%m.%Y %H:%M} UTC+3")
    expect(page.locator(".lead time")).to_have_attribute("datetime", minsk.isoformat(timespec="seconds"))
    expect(page.locator("footer")).to_contain_text("Europe/Minsk")
    tracking = page.locator("tbody td.mono").all_inner_texts()
    numbers = [t.replace(" ", "") for t in tracking]
    assert len(numbers) == 2 and all(len(n) == 14 for n in numbers), numbers
    with page.expect_download() as got:
        page.get_by_role("link", name=re.compile("Весь пакет одним файлом")).click()
    pack = artifacts / "pack.pdf"
    got.value.save_as(pack)
    with page.expect_download() as got:
        page.get_by_role("link", name=re.compile(r"CSV для загрузки")).click()
    table = list(csv.reader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig")), delimiter=";"))
    assert table[0][:3] == ["number", "tracking_number", "addressee"]
    assert sorted(r[1] for r in table[1:]) == sorted(numbers)
    assert {r[2] for r in table[1:]} == {overdue.name, due_today.name}

    # the one PDF in page order: each item's cover letter and extract, then the envelopes, then the
    # list; for duplex printing (the default) each item and the list start on an odd page
    texts, kinds = page_kinds(pack)
    assert kinds[-1] == "list" and kinds.count("envelope") == 2 and kinds.count("cover") == 2, kinds
    first_envelope = kinds.index("envelope")
    assert set(kinds[:first_envelope]) <= {"cover", "document", "blank"} and kinds[0] == "cover", kinds
    assert [k for k in kinds[first_envelope:] if k != "blank"] == ["envelope", "envelope", "list"], kinds
    odd = [n for n, kind in enumerate(kinds, 1) if kind in ("cover", "list")]
    assert all(n % 2 == 1 for n in odd), kinds
    for n, kind in enumerate(kinds):  # a blank page only where the one before ends an odd page
        if kind == "blank":
            assert n % 2 == 1 and kinds[n + 1] in ("cover", "envelope", "list"), kinds
    expect(page.get_by_role("status")).to_contain_text(f"Пакет готов: {len(kinds)} стр., для двусторонней печати")
    assert "ВЫПИСКА" in texts[1].upper()
    envelopes = re.sub(r"\s", "", "".join(texts[first_envelope:-1]))  # printed letter-spaced under the barcode
    assert all(n in envelopes for n in numbers)
    listed = texts[-1]
    assert overdue.name in listed and due_today.name in listed and later.name not in listed
    assert all(n in re.sub(r"\s", "", listed) for n in numbers)

    # the one due later is still queued, and not due: «Все на сегодня» has nothing to print
    page.get_by_role("link", name="Сегодня").click()
    expect(row(page, later.case_id)).to_contain_text("ожидает печати")
    expect(row(page, overdue.case_id)).to_contain_text("напечатано, не передано")
    page.get_by_role("button", name=re.compile(r"Все на сегодня \(0\)")).click()
    expect(page.get_by_role("alert")).to_contain_text("На сегодня печатать нечего")
    expect(row(page, later.case_id)).to_contain_text("ожидает печати")
    # it is printed when chosen (keyboard: Space on its box, Enter on the button), on a list of its
    # own, here for one-sided printing: no blank pages
    row(page, later.case_id).get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    page.get_by_label("Двусторонняя печать").focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Двусторонняя печать")).not_to_be_checked()
    page.get_by_role("button", name="Напечатать отмеченные").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Пакет готов")).to_be_visible(timeout=120_000)
    with page.expect_download() as got:
        page.get_by_role("link", name=re.compile("Весь пакет одним файлом")).click()
    got.value.save_as(artifacts / "pack-one-sided.pdf")
    _texts, one_sided = page_kinds(artifacts / "pack-one-sided.pdf")
    assert "blank" not in one_sided and one_sided[0] == "cover" and one_sided[-2:] == ["envelope", "list"], one_sided
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Пакеты печати").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    shot(page, artifacts, "08-batches")

    # -- hand-over: the check digit and repeats refused in the page, then the two handed over ---
    page.get_by_role("link", name="Передача на почту").click()
    field = page.get_by_label("ШПИ переданных отправлений")
    wrong = numbers[0][:13] + str((int(numbers[0][13]) + 1) % 10)
    page.route("**/clerk/check-tracking", lambda route: route.abort())  # the page's own check, server unasked
    field.fill(wrong)
    expect(page.locator("#numbers-check .error")).to_contain_text("контрольная цифра не сходится")
    assert field.evaluate("e => !e.checkValidity()")
    page.unroute("**/clerk/check-tracking")
    field.fill("")
    field.fill(wrong)  # and the server's verdict replaces it
    expect(page.locator("#numbers-check .check-bad")).to_contain_text("контрольная цифра не сходится")
    page.evaluate("""() => { window.bubbles = []; document.getElementById("numbers").addEventListener("invalid",
        e => setTimeout(() => window.bubbles.push(!e.defaultPrevented))); }""")
    page.get_by_role("button", name="Отметить переданными").click()  # the browser refuses to send it
    expect(page.get_by_text("Отмечено переданными")).to_have_count(0)
    expect(field).to_be_focused()  # back at the field, its message next to it
    # polled from here: wait_for_function evaluates a string, which the page's CSP (no unsafe-eval) refuses
    for _ in range(100):
        if page.evaluate("window.bubbles.length"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("window.bubbles") == [False]  # and no browser bubble repeating it over the page
    page.wait_for_timeout(300)  # a bubble would be fading in by now
    shot(page, artifacts, "09-handover-wrong-digit")
    assert_blank_right_of(artifacts / "09-handover-wrong-digit.png", page.locator("#numbers-check .check-bad"))
    field.fill(f"{numbers[0]}\n{numbers[0]}")
    expect(page.locator("#numbers-check")).to_contain_text("уже введён в строке 1")
    spaced = f"{numbers[0][:6]} {numbers[0][6:8]} {numbers[0][8:13]} {numbers[0][13]}"
    field.fill(f"{spaced}\n{numbers[1]}")  # as printed under the barcode, or scanned
    expect(page.locator("#numbers-check .check-ok")).to_have_count(2)
    page.get_by_role("button", name="Отметить переданными").click()
    expect(page.get_by_text("Отмечено переданными на почту: 2.")).to_be_visible()
    expect(page.locator("#printed-title")).to_contain_text("1")
    shot(page, artifacts, "10-handover-done")

    # -- a return: the missing reason refused next to its field, nothing typed lost --------------
    page.get_by_role("link", name="Возвраты").click()
    page.get_by_label("ШПИ").fill(numbers[0])
    expect(page.locator("#tracking-check .check-ok")).to_have_count(1)
    page.get_by_label("Возвращено отправителю").check()
    page.get_by_role("button", name="Записать").click()
    expect(page.locator("#reason-error")).to_have_text("Выберите причину возврата")
    expect(page.get_by_label("ШПИ")).to_have_value(numbers[0])
    expect(page.get_by_label("Возвращено отправителю")).to_be_checked()
    shot(page, artifacts, "11-returns-error")
    page.get_by_label("Причина возврата").select_option(label="истёк срок хранения")
    page.get_by_role("button", name="Записать").click()
    expect(page.get_by_role("status")).to_contain_text("возвращено")
    expect(page.locator("#returned-title")).to_contain_text("1")
    shot(page, artifacts, "12-returns")

    # -- the item's page: documents with previews, signatures, history, deadline ----------------
    page.get_by_role("link", name=re.compile(r"^\d+$")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(overdue.case_id)
    expect(page.get_by_text("Подписи действительны")).to_have_count(2, timeout=60_000)  # PDF and XML
    signed = page.locator("#signatures td time")  # the signatures' times, in the bureau's time too
    expect(signed).to_have_count(2)
    for text in signed.all_inner_texts():
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d UTC\+3", text), text
    history = page.locator("#history-title + table")
    for what in ("поставлено в очередь", "включено в список и напечатано", "список ф. 103 № 1", "пакет № 1",
                 "передано на почту", "возвращено отправителю", "истёк срок хранения", FULL_NAMES["anna"]):  # fmt: skip
        expect(history).to_contain_text(what)
    images = page.locator(".pages img")
    expect(images.first).to_be_visible()
    for image in images.all():  # loaded lazily: each as it comes into view
        image.scroll_into_view_if_needed()
        page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
    widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) >= 2 and all(w > 500 for w in widths), widths  # A4 at 100 dpi: 827 px
    assert "Ишемическая" not in page.content()
    shot(page, artifacts, "13-item")
    page.get_by_role("button", name="Отправить повторно").click()
    expect(page.locator("dl.facts")).to_contain_text("ожидает печати")

    # a clerk on an administrator's page
    page.goto(site.url + "/clerk/admin/users")
    expect(page.get_by_role("alert")).to_contain_text("только ролям: администратор")
    shot(page, artifacts, "14-forbidden")
    sign_out(page)
    page.goto(site.url + "/clerk/today")
    expect(page).to_have_url(re.compile(r"/clerk/login"))

    # the head sees the access log: who opened which item, nothing else
    sign_in_by_keyboard(page, site, "head")
    page.get_by_role("link", name="Журнал доступа").click()
    expect(page.locator("tbody").first).to_contain_text("просмотр")
    expect(page.locator("tbody").first).to_contain_text("anna")
    assert "Григорьев" not in page.content()  # who opened which item: no addressee
    shot(page, artifacts, "15-access-log")
    sign_out(page)


def test_without_javascript(browser: Browser, site: Site, artifacts: Path) -> None:
    """Plain form posts: sign in, filter, a wrong tracking number refused by the server with the
    typed text kept, a return refused, and the print button works."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1366, "height": 768}, locale="ru-RU")
    page = context.new_page()
    try:
        page.goto(site.url + "/clerk/login")
        page.get_by_label("Имя пользователя").fill("anna")
        page.get_by_label("Пароль").fill(PASSWORDS["anna"])
        page.get_by_role("button", name="Войти").click()
        expect(page).to_have_url(re.compile(r"/clerk/today$"))
        page.get_by_label("Состояние").select_option("all")
        page.get_by_role("button", name="Показать").click()
        expect(page).to_have_url(re.compile(r"status=all"))
        expect(page.locator("tbody tr")).to_have_count(3)
        shot(page, artifacts, "20-nojs-today")
        page.get_by_role("link", name="Передача на почту").click()
        wrong = "44300112000019"
        assert check_digit(wrong[:13]) != 9
        page.get_by_label("ШПИ переданных отправлений").fill(f"{wrong}\n12345")
        page.get_by_role("button", name="Отметить переданными").click()
        expect(page.locator("#numbers-error")).to_contain_text("Ошибки в 2 из 2 строк; ничего не отмечено")
        expect(page.locator("#numbers-check")).to_contain_text("контрольная цифра не сходится")
        expect(page.locator("#numbers-check")).to_contain_text("в ШПИ 14 цифр, введено 5")
        expect(page.get_by_label("ШПИ переданных отправлений")).to_have_value(f"{wrong}\n12345")
        shot(page, artifacts, "21-nojs-handover-refused")
        page.get_by_role("link", name="Возвраты").click()
        page.get_by_label("ШПИ").fill(wrong)
        page.get_by_role("button", name="Записать").click()
        expect(page.locator("#tracking-error")).to_contain_text("Контрольная цифра не сходится")
        expect(page.get_by_label("ШПИ")).to_have_value(wrong)
        shot(page, artifacts, "22-nojs-returns-refused")
        page.get_by_role("link", name="Сегодня").click()
        everything = page.get_by_role("button", name=re.compile(r"Все на сегодня"))
        if "(0)" not in everything.inner_text():  # after the day above: the returned one, queued again
            everything.click()
            expect(page.get_by_text("Пакет готов")).to_be_visible(timeout=120_000)
            shot(page, artifacts, "23-nojs-batch")
        page.get_by_role("button", name="Выйти").click()
        expect(page.get_by_text("Вы вышли из системы.")).to_be_visible()
    finally:
        context.close()


def test_admin_manages_users(page: Page, site: Site, artifacts: Path) -> None:
    """The administrator creates a user, changes its role and password and disables it from the
    page, each refusal next to its field with nothing typed lost; the head reads it in the log."""
    sign_in_by_keyboard(page, site, "root")
    page.get_by_role("link", name="Пользователи").click()
    new = page.locator("form", has=page.get_by_role("button", name="Создать"))
    new.get_by_label("Имя пользователя").fill("boris")
    new.get_by_label("ФИО").fill("Борисов Борис Борисович")
    new.get_by_label("Роль", exact=True).select_option(label="делопроизводитель")
    new.get_by_label("Пароль (не короче").fill("Пароль-Бориса-111")
    new.get_by_label("Пароль ещё раз").fill("Пароль-Бориса-112")
    new.get_by_role("button", name="Создать").click()
    expect(page.locator("#password_again-error")).to_have_text("Пароли не совпадают")
    expect(page.get_by_label("Имя пользователя (для входа)")).to_have_value("boris")
    expect(page.get_by_label("ФИО (для истории отправлений)")).to_have_value("Борисов Борис Борисович")
    new.get_by_label("Пароль (не короче").fill("Пароль-Бориса-111")
    new.get_by_label("Пароль ещё раз").fill("Пароль-Бориса-111")
    new.get_by_role("button", name="Создать").click()
    expect(page.get_by_role("status")).to_have_text("Пользователь boris создан.")

    page.get_by_label("Роль пользователя boris").select_option(label="руководитель")
    page.get_by_role("button", name="Сменить роль пользователя boris").click()
    expect(page.get_by_role("status")).to_contain_text("Роль пользователя boris: руководитель")
    expect(page.get_by_label("Роль пользователя boris")).to_have_value("head")
    page.get_by_label("Роль пользователя root").select_option(label="делопроизводитель")  # one's own: refused
    page.get_by_role("button", name="Сменить роль пользователя root").click()
    expect(page.locator("p.error[id^=role-]")).to_contain_text("Свою роль изменить нельзя")

    reset = page.locator("form[action='/clerk/admin/users/password']")
    reset.get_by_label("Пользователь").select_option("boris")
    reset.get_by_label("Новый пароль (не короче").fill("Новый-пароль-Бориса-2")
    reset.get_by_label("Новый пароль ещё раз").fill("Новый-пароль-Бориса-3")
    reset.get_by_role("button", name="Задать пароль").click()
    expect(page.locator("#new_password_again-error")).to_have_text("Пароли не совпадают")
    expect(reset.get_by_label("Пользователь")).to_have_value("boris")  # the choice kept
    reset.get_by_label("Новый пароль (не короче").fill("Новый-пароль-Бориса-2")
    reset.get_by_label("Новый пароль ещё раз").fill("Новый-пароль-Бориса-2")
    reset.get_by_role("button", name="Задать пароль").click()
    expect(page.get_by_role("status")).to_contain_text("Пароль пользователя boris изменён")
    shot(page, artifacts, "30-users-managed")
    sign_out(page)

    # boris signs in with the new password, as the head now: the log shows what was done to him
    page.goto(site.url + "/clerk/login")
    page.get_by_label("Имя пользователя").fill("boris")
    page.get_by_label("Пароль").fill("Новый-пароль-Бориса-2")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Борисов Борис Борисович")).to_be_visible()
    page.get_by_role("link", name="Журнал доступа").click()
    actions = page.locator("#admin-title + table tbody")
    for what in ("создан: делопроизводитель", "изменена роль: делопроизводитель → руководитель",
                 "задан новый пароль"):  # fmt: skip
        expect(actions.locator("tr", has_text=what)).to_contain_text("boris")
    expect(actions.locator("tr", has_text="задан новый пароль")).to_contain_text("root")
    assert "Новый-пароль-Бориса-2" not in page.content() and "argon2" not in page.content()
    shot(page, artifacts, "31-admin-log")
    sign_out(page)

    # disabled by the administrator: boris can no longer sign in
    sign_in_by_keyboard(page, site, "root")
    page.get_by_role("link", name="Пользователи").click()
    page.get_by_role("button", name="Отключить boris").click()
    expect(page.get_by_role("status")).to_contain_text("Пользователь boris отключён")
    sign_out(page)
    page.get_by_label("Имя пользователя").fill("boris")
    page.get_by_label("Пароль").fill("Новый-пароль-Бориса-2")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Неверное имя пользователя или пароль.")).to_be_visible()
