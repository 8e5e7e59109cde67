"""Identifiers of order 692n (point 8: «методом введения идентификаторов»).

``PD<category>-<12 random consonants><check consonant>``, e.g. ``PD4-KXQWPTRMZHBDF``: the prefix
names the category (1-8 of point 6), the random part is drawn anew for every value of every
referral (``secrets``, 20^12 ≈ 2^52), so the same citizen in two referrals has unrelated
identifiers, and the check letter catches a mistyped one. The format is defined in
:mod:`msedocs.model.identifiers` (the case model recognises it); an identifier has one digit, its
category, so neither it nor the digits stripped out of it can pass the СНИЛС (11 digits) or ЕНП
(16 digits) checks.
"""

from __future__ import annotations

import secrets

from msedocs.model.identifiers import PD_ALPHABET, PD_RANDOM_LENGTH, pd_check_letter, pd_token_category


def new_token(category: int, taken: set[str] | None = None) -> str:
    if not 1 <= category <= 8:
        raise ValueError("category is 1-8 (order 692n, appendix 1 point 6)")
    while True:
        body = "".join(secrets.choice(PD_ALPHABET) for _ in range(PD_RANDOM_LENGTH))
        token = f"PD{category}-{body}{pd_check_letter(category, body)}"
        if taken is None or token not in taken:
            if taken is not None:
                taken.add(token)
            return token


def category_of(token: str) -> int | None:
    return pd_token_category(token)
