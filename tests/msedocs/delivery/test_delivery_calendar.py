"""Working days by the Russian and Belarusian production calendars, on known dates."""

from __future__ import annotations

import datetime as dt
import importlib.metadata

import pytest

from msedocs.delivery import add_working_days, extract_due_date, is_working_day, working_days_between
from msedocs.errors import InputError

D = dt.date


def test_holidays_package_is_the_pinned_version() -> None:
    # The production calendars change by decree; the data tested below is that of this release.
    assert importlib.metadata.version("holidays") == "0.109"


@pytest.mark.parametrize(
    ("day", "country", "working"),
    [
        (D(2025, 11, 1), "RU", True),  # Saturday, worked in exchange for Monday 3 November
        (D(2025, 11, 3), "RU", False),  # the day off moved from 1 November
        (D(2025, 11, 4), "RU", False),  # Unity Day
        (D(2026, 12, 31), "RU", False),  # day off moved from Saturday 3 January 2026
        (D(2025, 12, 31), "RU", False),
        (D(2026, 1, 9), "RU", False),
        (D(2026, 1, 12), "RU", True),
        (D(2025, 1, 11), "BY", True),  # Saturday, worked for Monday 6 January
        (D(2025, 1, 6), "BY", False),
        (D(2025, 1, 7), "BY", False),  # Orthodox Christmas
        (D(2025, 12, 20), "BY", True),  # Saturday, worked for Friday 26 December
        (D(2025, 12, 26), "BY", False),
        (D(2025, 11, 7), "BY", False),  # October Revolution Day, a working day in Russia
        (D(2025, 11, 7), "RU", True),
        (D(2025, 11, 8), "RU", False),  # an ordinary Saturday
    ],
)
def test_known_days(day: dt.date, country: str, working: bool) -> None:
    assert is_working_day(day, country) is working


@pytest.mark.parametrize(
    ("decision", "country", "due"),
    [
        # Fri 31 Oct 2025: Sat 1 Nov (worked), Wed 5, Thu 6 (3 and 4 Nov off)
        (D(2025, 10, 31), "RU", D(2025, 11, 6)),
        # Tue 30 Dec 2025: 31 Dec off, 1-11 Jan 2026 holidays and weekend, then 12, 13, 14 Jan
        (D(2025, 12, 30), "RU", D(2026, 1, 14)),
        # a decision on a day off counts from the next working day
        (D(2025, 11, 2), "RU", D(2025, 11, 7)),
        # Fri 10 Jan 2025 in Belarus: Sat 11 Jan worked, Mon 13, Tue 14
        (D(2025, 1, 10), "BY", D(2025, 1, 14)),
        # Wed 24 Dec 2025 in Belarus: 25 (holiday), 26 (moved), weekend, then 29, 30, 31
        (D(2025, 12, 24), "BY", D(2025, 12, 31)),
        (D(2025, 11, 5), "BY", D(2025, 11, 11)),  # 6, 10, 11: 7 Nov is a holiday in Belarus only
        (D(2025, 11, 5), "RU", D(2025, 11, 10)),  # … in Russia 6, 7, 10 (weekend)
    ],
)
def test_extract_due_date(decision: dt.date, country: str, due: dt.date) -> None:
    assert extract_due_date(decision, country) == due


def test_add_working_days_edges() -> None:
    assert add_working_days(D(2025, 11, 2), 0, "RU") == D(2025, 11, 2)
    assert add_working_days(D(2025, 11, 5), -1, "RU") == D(2025, 11, 1)
    assert add_working_days(D(2025, 11, 6), 1, "RU") == D(2025, 11, 7)
    assert working_days_between(D(2025, 10, 31), D(2025, 11, 6), "RU") == 3
    assert working_days_between(D(2025, 11, 6), D(2025, 10, 31), "RU") == -3


def test_country_is_checked() -> None:
    assert is_working_day(D(2025, 11, 1), "ru")
    with pytest.raises(InputError, match="unknown production calendar"):
        add_working_days(D(2025, 1, 1), 1, "KZ")
