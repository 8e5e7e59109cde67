"""The building blocks of the case model: the base of every part, the string types, and the
parts that other modules of the model share (a person's name, an address, an organisation,
a disability status).

They live here, below :mod:`.case` and :mod:`.rehab`, so that both import them and neither
imports the other's module in a circle.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from .enums import DisabilityGroup, HealthLossDegree
from .text import FREE_TEXT, CheckedModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=8000), FREE_TEXT]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
#: Digits of a postcode; what joins a name's parts and an address's (the forms' XSD limits count them).
POSTCODE_DIGITS = 6
NAME_SEP = " "
ADDRESS_SEP = ", "


class Part(CheckedModel):
    """Base of every part: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class PersonName(Part):
    """Фамилия, собственное имя, отчество (если таковое имеется)."""

    last: Name
    first: Name
    middle: Name | None = None

    @property
    def full(self) -> str:
        return NAME_SEP.join(p for p in (self.last, self.first, self.middle) if p)

    @property
    def initials(self) -> str:
        """«И.О. Фамилия», as under a signature."""
        ini = "".join(f"{p[0]}." for p in (self.first, self.middle) if p)
        return f"{ini} {self.last}"


class Address(Part):
    postcode: Annotated[
        str, StringConstraints(pattern=rf"^\d{{{POSTCODE_DIGITS}}}$", max_length=POSTCODE_DIGITS)
    ] | None = None
    line: Line

    def __str__(self) -> str:
        return f"{self.postcode}{ADDRESS_SEP}{self.line}" if self.postcode else self.line


class Organisation(Part):
    name: Line
    address: Address


class DisabilityStatus(Part):
    """A group (adults) or a degree of health loss (children); neither = not disabled."""

    group: DisabilityGroup | None = None
    degree: HealthLossDegree | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DisabilityStatus:
        if self.group and self.degree:
            raise PydanticCustomError("status", "give either a group or a degree, not both")
        return self
