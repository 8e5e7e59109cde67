"""Working-day arithmetic by the Russian and Belarusian production calendars.

Both calendars come from the ``holidays`` package (version pinned in pyproject.toml), which
models public holidays, days off moved by government decree (``Day off (substituted from …)``)
and Saturdays made working days in exchange (``weekend_workdays``). Its data for a year is only
as good as the decrees published when that version of the package was released: update the pin
when the government publishes next year's transfers.

"In 3 working days from the day of the decision" is read as: counting starts the day after the
decision, so a decision on Friday 31 October 2025 (Russia) is due on Thursday 6 November 2025
(Saturday 1 November was a working day, 3 and 4 November were days off).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Literal

import holidays

from msedocs.errors import InputError

Country = Literal["RU", "BY"]
COUNTRIES: tuple[Country, ...] = ("RU", "BY")

#: Working days the citizen's extract has to reach him (order 692n, appendix 2, point 6).
EXTRACT_DEADLINE_WORKING_DAYS = 3


@cache
def _calendar(country: str) -> holidays.HolidayBase:
    if country not in COUNTRIES:
        raise InputError(f"country: unknown production calendar {country!r}; expected one of RU, BY")
    return holidays.country_holidays(country)


def check_country(country: str) -> Country:
    """Return ``country`` upper-cased if it is a known calendar, else raise :class:`InputError`."""
    code = country.upper()
    _calendar(code)
    return code  # type: ignore[return-value]


def is_working_day(day: dt.date, country: str = "RU") -> bool:
    """True if ``day`` is a working day in ``country`` (``RU`` or ``BY``)."""
    return bool(_calendar(check_country(country)).is_working_day(day))


def add_working_days(day: dt.date, n: int, country: str = "RU") -> dt.date:
    """The ``n``-th working day after ``day`` (before it if ``n`` is negative).

    ``n == 0`` returns ``day`` itself, working or not.
    """
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    current = day
    while remaining:
        current += dt.timedelta(days=step)
        if is_working_day(current, country):
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date, country: str = "RU") -> int:
    """Working days in the half-open interval ``(start, end]`` (negative if ``end < start``)."""
    if end < start:
        return -working_days_between(end, start, country)
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if is_working_day(current, country):
            count += 1
    return count


def extract_due_date(decision_date: dt.date, country: str = "RU") -> dt.date:
    """The day by which the extract must be in the citizen's portal account or handed to the post."""
    return add_working_days(decision_date, EXTRACT_DEADLINE_WORKING_DAYS, country)


def parse_day(value: str | None, error: str) -> dt.date:
    """A command's day: ``value`` (YYYY-MM-DD), today if it is None; InputError(``error``) if it
    is no date."""
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(error) from None
