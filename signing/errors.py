"""Errors raised by the signing package.

Every error derives from :class:`SigningFailure`, which is an
:class:`msedocs.errors.SigningError` (so also an :class:`msedocs.errors.MsedocsError`
and a :class:`RuntimeError`): callers catch "anything signing went wrong with" in one
clause, or any msedocs error with ``except msedocs.MsedocsError``. ``signing`` imports
:mod:`msedocs.errors`, the error root, and nothing else of msedocs::

    msedocs.errors.SigningError (MsedocsError, RuntimeError)
    └── SigningFailure                          exit code 1
        ├── ConfigurationError (InputError)     bad profile, config file or environment value: exit code 2
        ├── KeyLoadError                        a key or certificate could not be loaded (file, password, token)
        ├── PkiError                            the test PKI is missing, incomplete or could not be created
        ├── TimestampError                      the timestamp authority failed or answered badly
        ├── RevocationError                     validation data (OCSP, CRL) could not be obtained
        └── UnsupportedDocumentError (InputError)  verify was given something it cannot read: exit code 2

:class:`ConfigurationError` and :class:`UnsupportedDocumentError` are the user's to fix, so
they are also :class:`msedocs.errors.InputError` (and so :class:`ValueError`), exit code 2.

Verification never raises for a bad *signature*: it returns a report whose
indication says what is wrong. It raises only when the input is not a document
it can look at (:class:`UnsupportedDocumentError`).
"""

from __future__ import annotations

from msedocs.errors import InputError, SigningError


class SigningFailure(SigningError):
    """Root of every error in :mod:`signing`."""


class ConfigurationError(SigningFailure, InputError):
    """A signing profile, configuration file or environment variable is invalid."""

    exit_code = 2


class KeyLoadError(SigningFailure):
    """A private key or certificate could not be loaded (path, password, PKCS#11 token)."""


class PkiError(SigningFailure):
    """The test PKI directory is missing, incomplete, or could not be created."""


class TimestampError(SigningFailure):
    """The RFC 3161 timestamp authority failed or returned an unusable token."""


class RevocationError(SigningFailure):
    """Revocation data (OCSP responses, CRLs) needed for B-LT could not be obtained."""


class UnsupportedDocumentError(SigningFailure, InputError):
    """The file given to verification is unreadable or of an unknown format."""

    exit_code = 2
