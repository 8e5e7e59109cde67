"""Errors raised by msedocs, its generators and its signing package.

Every error derives from :class:`MsedocsError`, so callers can catch "any msedocs
error" with one clause; ``generators`` and ``signing`` raise subclasses, never
errors of their own roots, so no layer translates another's errors. Each subclass
also derives from the matching builtin::

    MsedocsError (Exception)
    ├── InputError (ValueError)          bad case data, bad file, bad option: exit code 2
    │   ├── UnknownFormError (KeyError)  a form id that is not in the registry
    │   ├── FormNotApplicableError       a form asked for by id that does not apply to the case
    │   ├── delivery.BadOutboxError      --db names no usable outbox
    │   ├── delivery.AlreadyQueuedError  a document of the case is already in the outbox
    │   ├── privacy.KekError, privacy.ErasedError, referrals.SemdPackageError,
    │   │   referrals.RevealRefused, routing.NoBureauError   (order 692n referrals)
    │   ├── generators.xml.TooLarge      a document to validate is over its size limit
    │   ├── signing.ConfigurationError   (also a SigningFailure) bad signing profile or configuration
    │   └── signing.UnsupportedDocumentError  (also a SigningFailure) verify cannot read the file
    ├── TemplateError (RuntimeError)     a template failed to render
    │   └── generators.GeneratorError    a generator failed (template, worker, schema file)
    │       └── generators.XmlSchemaError  (also a SchemaError) generated XML off its XSD
    ├── SchemaError (ValueError)         an XML document does not validate against its XSD
    ├── SigningError (RuntimeError)      a document could not be signed
    │   └── signing.SigningFailure       every error of ``signing``: KeyLoadError, PkiError,
    │                                    TimestampError, RevocationError, and the two above
    ├── DeliveryError (RuntimeError)     the outbox or a delivery channel failed
    │   ├── delivery.OutboxUnavailableError  the outbox database cannot be reached or is busy
    │   └── delivery.InvalidTransitionError  an item is not in a state that allows the transition
    └── OutputError (OSError)            an output folder or file could not be written:
                                         exit 2 when the path given cannot hold output
                                         (not a folder, no permission, read-only), 1 when
                                         the machine failed (disk full, I/O error)

(``delivery`` is :mod:`msedocs.delivery.store`, ``generators`` :mod:`generators.common`;
``privacy``, ``referrals`` and ``routing`` are subpackages of msedocs.)
The CLI prints the message and exits with :attr:`MsedocsError.exit_code`,
never with a traceback unless ``--debug`` is given.

This module imports nothing else of msedocs, so ``generators`` and ``signing`` import it
(and only it) without loading the rest of the package.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


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


class OutputError(MsedocsError, OSError):
    """An output folder or file could not be written. Nothing is left half-written: outputs
    are staged and moved into place only when complete."""

    #: errno values that mean "the path given cannot hold output": the user can fix it.
    USER_ERRNOS = frozenset(
        {errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT,
         errno.ENAMETOOLONG, errno.ELOOP}
    )

    def __init__(self, message: str, *, user_error: bool = True) -> None:
        super().__init__(message)
        self.exit_code = 2 if user_error else 1


@contextmanager
def output_errors(target: str | Path, what: str = "output") -> Iterator[None]:
    """Translate the operating system's refusal to write under ``target`` into an
    :class:`OutputError` naming the path given and the reason (one seam, as httpx's
    ``map_exceptions``), instead of an internal error with a traceback."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno in (errno.EEXIST, errno.ENOTDIR) and (blocker := _file_in_the_way(Path(target))):
            reason = f"{blocker} is in the way and is not a folder"
        raise OutputError(
            f"{target}: cannot write the {what}: {reason}", user_error=exc.errno in OutputError.USER_ERRNOS
        ) from None


def _file_in_the_way(target: Path) -> Path | None:
    """The nearest of ``target`` and its parents that exists and is not a folder."""
    for path in (target, *target.parents):
        if path.exists() or path.is_symlink():
            return None if path.is_dir() else path
    return None
