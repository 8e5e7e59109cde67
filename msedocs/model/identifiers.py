"""Identifiers carried in case data and their checks (see shared/IDENTIFIERS.md).

Each check returns ``None`` when the value passes or a message naming the rule it breaks.
"""

from __future__ import annotations

import re

BY_ID_PATTERN = re.compile(r"^[1-7]\d{6}[ABCHKEM]\d{3}(PB|BA|BI)\d$")
ICD10_PATTERN = re.compile(r"^[A-Z]\d{2}(\.\d{1,2})?$")
SNILS_PATTERN = re.compile(r"^\d{3}-\d{3}-\d{3} \d{2}$")


def _char_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55  # A=10 ... Z=35


def by_id_check_digit(number: str) -> int:
    """Check digit of a Belarus identification number: weights 7,3,1 over the first 13 characters."""
    weights = (7, 3, 1)
    return sum(_char_value(ch) * weights[i % 3] for i, ch in enumerate(number[:13])) % 10


def by_id_format_error(number: str) -> str | None:
    if len(number) != 14:
        return f"must be 14 characters, got {len(number)}"
    if not BY_ID_PATTERN.match(number):
        return r"must match [1-7]\d{6}[ABCHKEM]\d{3}(PB|BA|BI)\d"
    return None


def by_id_check_error(number: str) -> str | None:
    expected = by_id_check_digit(number)
    if int(number[13]) != expected:
        return f"check character does not match (expected {expected}, weights 7,3,1 mod 10)"
    return None


def icd10_error(code: str) -> str | None:
    if not ICD10_PATTERN.match(code):
        return "is not an ICD-10 code (letter, two digits, optional '.' and one or two digits, e.g. I63.5)"
    return None


def snils_check_number(digits: str) -> int:
    """The СНИЛС check number of its first nine digits (0-99)."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    rest = total % 101
    return 0 if rest == 100 else rest


def snils_error(value: str) -> str | None:
    if not SNILS_PATTERN.match(value):
        return "must be printed as XXX-XXX-XXX YY (11 digits)"
    digits = re.sub(r"\D", "", value)
    if int(digits[:9]) <= 1001998:  # numbers up to 001-001-998 carry no check number
        return None
    expected = snils_check_number(digits)
    if int(digits[9:]) != expected:
        return f"check number does not match (expected {expected:02d})"
    return None


def oms_check_digit(first15: str) -> int:
    """Check digit of the 16-digit ОМС single policy number, over its first 15 digits."""
    from_right = first15[::-1]
    odd = "".join(from_right[0::2])[::-1]  # positions 1,3,5... counted from the right
    even = "".join(from_right[1::2])[::-1]
    number = even + str(int(odd) * 2)
    total = sum(int(d) for d in number)
    return (10 - total % 10) % 10


def oms_error(value: str) -> str | None:
    if not re.fullmatch(r"\d{16}", value):
        return "must be 16 digits"
    expected = oms_check_digit(value[:15])
    if int(value[15]) != expected:
        return f"check digit does not match (expected {expected})"
    return None


def inn_error(value: str) -> str | None:
    """ИНН of a person (12 digits) or an organisation (10 digits)."""

    def check(digits: str, weights: tuple[int, ...]) -> int:
        return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10

    if re.fullmatch(r"\d{10}", value):
        if check(value, (2, 4, 10, 3, 5, 9, 4, 6, 8)) != int(value[9]):
            return "check digit does not match"
        return None
    if re.fullmatch(r"\d{12}", value):
        w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
        w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
        if check(value, w11) != int(value[10]) or check(value, w12) != int(value[11]):
            return "check digits do not match"
        return None
    return "must be 10 digits (organisation) or 12 digits (person)"


# -- identifiers of order 692n (depersonalised cases) ------------------------------------------

#: The letters of an identifier's random part: consonants only (no word can be spelt, no digit
#: can be read into it), so that no identifier, nor the digits anyone strips out of it, can pass
#: the СНИЛС or ЕНП checks: its only digit is its category.
PD_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
PD_RANDOM_LENGTH = 12
#: ``PD<category>-<12 letters><check letter>``, e.g. ``PD4-KXQWPTRMZHBD-F``.
PD_TOKEN_PATTERN = re.compile(rf"^PD([1-8])-([{PD_ALPHABET}]{{{PD_RANDOM_LENGTH}}})([{PD_ALPHABET}])$")
PD_TOKEN_SEARCH = re.compile(rf"PD[1-8]-[{PD_ALPHABET}]{{{PD_RANDOM_LENGTH + 1}}}")


def pd_check_letter(category: int, body: str) -> str:
    """The check letter of an identifier: weighted sum of its category and letters, mod 20."""
    total = category * 7 + sum((i + 1) * PD_ALPHABET.index(ch) for i, ch in enumerate(body))
    return PD_ALPHABET[total % len(PD_ALPHABET)]


def pd_token_category(value: str) -> int | None:
    """The category (1-8) of an identifier of order 692n with a good check letter, else None."""
    m = PD_TOKEN_PATTERN.match(value)
    if m is None or pd_check_letter(int(m.group(1)), m.group(2)) != m.group(3):
        return None
    return int(m.group(1))


def is_pd_token(value: str, category: int | None = None) -> bool:
    found = pd_token_category(value)
    return found is not None and (category is None or found == category)
