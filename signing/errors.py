"""Errors raised by the signing package.

Every error derives from :class:`SigningFailure`, which is also a
:class:`RuntimeError`, so callers can catch "anything signing went wrong with"
in one clause (the msedocs CLI maps it to ``msedocs.errors.SigningError``)::

    SigningFailure (RuntimeError)
    ├── ConfigurationError (ValueError)   bad profile, config file or environment value
    ├── KeyLoadError                      a key or certificate could not be loaded (file, password, token)
    ├── PkiError                          the test PKI is missing, incomplete or could not be created
    ├── TimestampError                    the timestamp authority failed or answered badly
    ├── RevocationError                   validation data (OCSP, CRL) could not be obtained
    └── UnsupportedDocumentError (ValueError)  verify was given something it cannot read

Verification never raises for a bad *signature*: it returns a report whose
indication says what is wrong. It raises only when the input is not a document
it can look at (:class:`UnsupportedDocumentError`).
"""

from __future__ import annotations


class SigningFailure(RuntimeError):
    """Root of every error in :mod:`signing`."""


class ConfigurationError(SigningFailure, ValueError):
    """A signing profile, configuration file or environment variable is invalid."""


class KeyLoadError(SigningFailure):
    """A private key or certificate could not be loaded (path, password, PKCS#11 token)."""


class PkiError(SigningFailure):
    """The test PKI directory is missing, incomplete, or could not be created."""


class TimestampError(SigningFailure):
    """The RFC 3161 timestamp authority failed or returned an unusable token."""


class RevocationError(SigningFailure):
    """Revocation data (OCSP responses, CRLs) needed for B-LT could not be obtained."""


class UnsupportedDocumentError(SigningFailure, ValueError):
    """The file given to verification is unreadable or of an unknown format."""
