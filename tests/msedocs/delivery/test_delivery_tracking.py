"""Russian Post tracking numbers: check digits and a range allocator that never reuses a number."""

from __future__ import annotations

import threading

import pytest

from msedocs.delivery import Outbox, TrackingRange, check_digit, is_valid, make_tracking_number
from msedocs.errors import DeliveryError, InputError


def reference_check_digit(first13: str) -> int:
    """The published formula, written out position by position (1-based)."""
    odd = sum(int(first13[p - 1]) for p in range(1, 14, 2))
    even = sum(int(first13[p - 1]) for p in range(2, 13, 2))
    return (10 - (3 * odd + even) % 10) % 10


@pytest.mark.parametrize(
    ("first13", "digit"),
    [
        ("1010001100001", 7),  # odd positions 1+1+0+1+0+0+1 = 4, even 0+0+0+1+0+0 = 1: 10 - 13 % 10
        ("0000000000000", 0),  # (10 - 0) % 10
        ("1000000000000", 7),  # 3 * 1 = 3
        ("0100000000000", 9),  # 1
        ("1010000000000", 4),  # 3 * 2 = 6
        ("2200030100001", 5),  # odd 2+0+0+0+0+0+1 = 3, even 2+0+3+1+0+0 = 6: 10 - 15 % 10
    ],
)
def test_check_digit_vectors(first13: str, digit: int) -> None:
    assert check_digit(first13) == digit == reference_check_digit(first13)


def test_check_digit_matches_reference_everywhere() -> None:
    for n in range(0, 10**13, 7_777_777_777):
        s = f"{n:013d}"
        assert check_digit(s) == reference_check_digit(s)


def test_make_and_validate() -> None:
    number = make_tracking_number("101000", 11, 1)
    assert number == "10100011000017"
    assert is_valid(number)
    assert not is_valid("10100011000018")
    assert not is_valid("1010001100001")
    assert not is_valid("1010001100001X")
    with pytest.raises(InputError):
        check_digit("12345")


def test_range_parsing() -> None:
    r = TrackingRange.parse("101000:11:1-99999")
    assert (r.prefix, r.first_serial, r.last_serial) == ("10100011", 1, 99999)
    for bad in ("10100:11:1-5", "101000:11:9-5", "101000:11:1-100000", "nonsense"):
        with pytest.raises(InputError):
            TrackingRange.parse(bad)


def test_allocator_sequential_exhaustion_and_no_reuse(db_url: str) -> None:
    with Outbox(db_url) as ob:
        ob.add_tracking_range(TrackingRange("101000", 11, 1, 3))
        ob.add_tracking_range(TrackingRange("101000", 11, 1, 3))  # idempotent
        with pytest.raises(InputError):
            ob.add_tracking_range(TrackingRange("101000", 11, 1, 4))
        with ob.engine.begin() as conn:
            first = ob._next_tracking_number(conn)
            ob._next_tracking_number(conn)
            conn.rollback()  # a rolled back allocation is given out again: nothing used it
    with Outbox(db_url) as ob:  # reopened: the counter lives in the database
        with ob.engine.begin() as conn:
            numbers = [ob._next_tracking_number(conn) for _ in range(3)]
        assert numbers[0] == first == "10100011000017"
        assert [n[8:13] for n in numbers] == ["00001", "00002", "00003"]
        assert all(is_valid(n) for n in numbers)
        with pytest.raises(DeliveryError, match="no tracking numbers left"), ob.engine.begin() as conn:
            ob._next_tracking_number(conn)
        ob.add_tracking_range(TrackingRange("101000", 12, 10, 11))
        with ob.engine.begin() as conn:
            assert ob._next_tracking_number(conn)[:13] == "1010001200010"


def test_allocator_is_safe_between_concurrent_processes(db_url: str) -> None:
    with Outbox(db_url) as ob:
        ob.add_tracking_range(TrackingRange("220030", 1, 1, 99999))
    got: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        with Outbox(db_url) as mine:  # own engine, own connections
            for _ in range(25):
                with mine.engine.begin() as conn:
                    n = mine._next_tracking_number(conn)
                with lock:
                    got.append(n)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(got) == 100
    assert len(set(got)) == 100
