"""Russian Post domestic tracking numbers (ШПИ) and the ranges they are taken from.

A domestic tracking number has 14 digits: the 6-digit index of the post office that issued the
range, a 2-digit month number, a 5-digit serial and a check digit::

    check = (10 - (3 * sum(odd positions 1..13) + sum(even positions 2..12)) % 10) % 10

Ranges are stored in the outbox database (table ``tracking_ranges``) and a serial is taken by an
atomic ``UPDATE … RETURNING``, so two workers never get the same number and a number is never
given out twice, even after a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from msedocs.errors import InputError

_DIGITS13 = re.compile(r"^\d{13}$")
_DIGITS14 = re.compile(r"^\d{14}$")


def check_digit(first13: str) -> int:
    """Check digit for the first 13 digits of a domestic tracking number."""
    if not _DIGITS13.match(first13):
        raise InputError(f"tracking number: expected 13 digits before the check digit, got {first13!r}")
    digits = [int(c) for c in first13]
    odd = sum(digits[0::2])  # positions 1, 3, …, 13
    even = sum(digits[1::2])  # positions 2, 4, …, 12
    return (10 - (3 * odd + even) % 10) % 10


def is_valid(number: str) -> bool:
    """True if ``number`` is 14 digits with a matching check digit."""
    return bool(_DIGITS14.match(number)) and check_digit(number[:13]) == int(number[13])


def make_tracking_number(post_office_index: str, month: int, serial: int) -> str:
    """Assemble a tracking number from its parts and append the check digit."""
    first13 = f"{post_office_index}{month:02d}{serial:05d}"
    return first13 + str(check_digit(first13))


@dataclass(frozen=True)
class TrackingRange:
    """A range of tracking numbers issued to the bureau by its post office."""

    post_office_index: str
    """6-digit index of the issuing post office."""
    month: int
    """Month number printed in positions 7-8 (1-99 as issued by the post)."""
    first_serial: int
    """First 5-digit serial of the range (inclusive)."""
    last_serial: int
    """Last 5-digit serial of the range (inclusive)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{6}", self.post_office_index):
            raise InputError(f"tracking range: post office index must be 6 digits, got {self.post_office_index!r}")
        if not 0 <= self.month <= 99:
            raise InputError(f"tracking range: month must be 0-99, got {self.month}")
        if not 0 <= self.first_serial <= self.last_serial <= 99999:
            raise InputError(
                f"tracking range: serials must satisfy 0 <= first <= last <= 99999, "
                f"got {self.first_serial}-{self.last_serial}"
            )

    @property
    def prefix(self) -> str:
        """The 8 digits shared by every number of the range."""
        return f"{self.post_office_index}{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> TrackingRange:
        """Parse ``INDEX:MM:FIRST-LAST``, e.g. ``101000:11:1-99999``."""
        m = re.fullmatch(r"\s*(\d{6}):(\d{1,2}):(\d{1,5})-(\d{1,5})\s*", text)
        if not m:
            raise InputError(f"tracking range: expected INDEX:MM:FIRST-LAST (e.g. 101000:11:1-99999), got {text!r}")
        return cls(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))
