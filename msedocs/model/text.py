"""Which characters a string of the case may hold: one rule for every string of the model.

Every model of the case derives from :class:`CheckedModel`, whose validator looks at each
string field (and each string of a list field) once it is read, so no field can let a character
through that would break the XML, reverse text in a PDF or hide in a name (whitespace at either
end of a string, line breaks included, is trimmed first, as every text field is):

- nowhere: control characters (U+0000-U+001F but tab and line breaks in free text, U+007F-U+009F),
  lone surrogates (U+D800-U+DFFF), Unicode non-characters (U+FDD0-U+FDEF, U+xxFFFE, U+xxFFFF),
  bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and zero-width
  characters (U+200B-U+200D, U+2060, U+FEFF), and the line and paragraph separators U+2028, U+2029;
- in free text (fields typed :data:`Text`: complaints, anamnesis, findings…) a tab (U+0009) and
  line breaks (U+000A, U+000D) are kept; in every other string (names, identifiers, numbers,
  addresses, one-line fields) they are refused too.

A string that breaks the rule is refused with its JSON path and the character as U+XXXX,
never with the string itself (it may be personal data).
"""

from __future__ import annotations

import re
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


class _FreeText:
    """Marker in ``Annotated[str, ...]``: a free-text field, which may hold line breaks and tabs."""

    def __repr__(self) -> str:
        return "FREE_TEXT"


FREE_TEXT = _FreeText()

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr((plane << 16) | 0xFFFE)}{chr((plane << 16) | 0xFFFF)}" for plane in range(17)
)
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029" + _NONCHARACTERS + _BIDI + _ZERO_WIDTH
#: A character refused in free text, and in any other string.
BAD_IN_TEXT = re.compile(f"[{_ALWAYS}]")
BAD_IN_LINE = re.compile(f"[{_ALWAYS}\t\n\r]")


def describe(char: str) -> str:
    """«U+202E (a bidirectional control)»: the character named, never printed."""
    code = ord(char)
    if char in "\t\n\r\u2028\u2029":
        kind = "a tab" if char == "\t" else "a line break"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        kind = "a Unicode non-character"
    elif re.match(f"[{_BIDI}]", char):
        kind = "a bidirectional control"
    elif re.match(f"[{_ZERO_WIDTH}]", char):
        kind = "a zero-width character"
    else:
        kind = "a control character"
    return f"U+{code:04X} ({kind})"


def character_problem(value: str, free_text: bool) -> str | None:
    """Why ``value`` is refused, or None."""
    found = (BAD_IN_TEXT if free_text else BAD_IN_LINE).search(value)
    if found is None:
        return None
    where = "free text" if free_text else "a name, identifier, address or one-line field"
    also = "" if free_text else " (line breaks and tabs are kept only in free text)"
    return f"character {describe(found.group())} at position {found.start() + 1} is not allowed in {where}{also}"


def _is_free_text(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(m is FREE_TEXT for m in annotation.__metadata__) or _is_free_text(typing.get_args(annotation)[0])
    return any(_is_free_text(arg) for arg in typing.get_args(annotation))


@cache
def free_text_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if any(m is FREE_TEXT for m in field.metadata) or _is_free_text(field.annotation)
    )


class CheckedModel(BaseModel):
    """Base of every model of the case: the character rule above on each of its strings."""

    @field_validator("*", mode="after")
    @classmethod
    def _characters(cls, value: Any, info: ValidationInfo) -> Any:
        free = info.field_name in free_text_fields(cls)
        if type(value) is str:
            if msg := character_problem(value, free):
                raise PydanticCustomError("characters", msg)
        elif isinstance(value, list | tuple):
            problems = [
                (f"[{i}]", msg)
                for i, item in enumerate(value)
                if type(item) is str and (msg := character_problem(item, free))
            ]
            if problems:
                raise PydanticCustomError(
                    "case_rules", "; ".join(f"{p}: {m}" for p, m in problems), {"problems": problems}
                )
        return value
