"""Identifiers: category-prefixed, random per referral, never a valid СНИЛС or ЕНП."""

from __future__ import annotations

import re

from msedocs.model.identifiers import is_pd_token, oms_error, snils_error
from msedocs.privacy.tokens import category_of, new_token


def _snils_shapes(digits: str) -> list[str]:
    return [f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"] if len(digits) >= 11 else []


def test_no_identifier_passes_the_snils_or_enp_check() -> None:
    for category in range(1, 9):
        for _ in range(2000):
            tok = new_token(category)
            assert category_of(tok) == category and tok.startswith(f"PD{category}-")
            assert snils_error(tok) is not None and oms_error(tok) is not None
            digits = re.sub(r"\D", "", tok)
            assert len(digits) == 1  # only its category: nothing 11 or 16 digits long can be read out of it
            for shape in _snils_shapes(digits):
                assert snils_error(shape) is not None
            assert oms_error(digits) is not None


def test_identifiers_are_random_and_checked() -> None:
    seen = {new_token(4) for _ in range(5000)}
    assert len(seen) == 5000
    tok = next(iter(seen))
    wrong = tok[:-1] + ("B" if tok[-1] != "B" else "C")
    assert is_pd_token(tok, 4) and not is_pd_token(wrong) and not is_pd_token(tok, 5)
