"""Errors raised by msedocs.

Every error derives from :class:`MsedocsError`, so callers can catch "any msedocs
error" with one clause. Each subclass also derives from the matching builtin::

    MsedocsError (Exception)
    ├── InputError (ValueError)          bad case data, bad file, bad option: exit code 2
    │   └── UnknownFormError (KeyError)  a form id that is not in the registry
    ├── FormNotApplicableError           a form asked for by id that does not apply to the case
    ├── TemplateError (RuntimeError)     a template failed to render
    ├── SchemaError (ValueError)         an XML document does not validate against its XSD
    ├── SigningError (RuntimeError)      a document could not be signed
    └── DeliveryError (RuntimeError)     the outbox or a delivery channel failed

The CLI prints the message and exits with :attr:`MsedocsError.exit_code`,
never with a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in the input: where (a JSON path or XPath) and what rule it breaks."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}" if self.path else "(document)"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class MsedocsError(Exception):
    """Root of every msedocs error."""

    exit_code = 1

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"  {p}" for p in self.problems)


class InputError(MsedocsError, ValueError):
    """The input (case data, a file, an option) is wrong; the user can fix it."""

    exit_code = 2


class UnknownFormError(InputError, KeyError):
    """A form id that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return MsedocsError.__str__(self)


class FormNotApplicableError(InputError):
    """A form was asked for by id but does not apply to the case."""


class TemplateError(MsedocsError, RuntimeError):
    """A template failed to render: a defect in msedocs, not in the input."""


class SchemaError(MsedocsError, ValueError):
    """An XML document does not validate against its XSD."""


class SigningError(MsedocsError, RuntimeError):
    """A document could not be signed (key, certificate, timestamp authority)."""


class DeliveryError(MsedocsError, RuntimeError):
    """The outbox or a delivery channel failed."""
