"""msedocs: statutory documents of medical-social expertise from case data.

The stable public surface is listed in ``__all__``; everything else may change.

The errors load with the package; everything else on first use (PEP 562), so that
``import msedocs.errors``, which ``generators`` and ``signing`` do, loads nothing else
of msedocs (nor the generators, nor signing).
"""

import importlib as _importlib
import typing as _typing

from .errors import (
    DeliveryError,
    FormNotApplicableError,
    InputError,
    MsedocsError,
    OutputError,
    Problem,
    SchemaError,
    SigningError,
    TemplateError,
    UnknownFormError,
)

#: A public name that loads on first use → the module it comes from.
_LAZY = {
    "RenderedDocument": "generators.common",
    "AlreadyQueuedError": "msedocs.delivery.store",
    "BadOutboxError": "msedocs.delivery.store",
    "InvalidTransitionError": "msedocs.delivery.store",
    "OutboxUnavailableError": "msedocs.delivery.store",
    "KekError": "msedocs.privacy.kek",
    "ErasedError": "msedocs.privacy.vault",
    "RevealRefused": "msedocs.referrals.store",
    "SemdPackageError": "msedocs.referrals.semd",
    "NoBureauError": "msedocs.routing.router",
    "REGISTRY": "msedocs.forms",
    "FormSpec": "msedocs.forms",
    "get_form": "msedocs.forms",
    "Case": "msedocs.model",
    "CaseWarning": "msedocs.model",
    "load_case": "msedocs.model",
    "render": "msedocs.pipeline",
    "render_package": "msedocs.pipeline",
    "write_package": "msedocs.pipeline",
}

#: Subpackages and modules that ``import msedocs`` used to load, still reachable as attributes.
_SUBMODULES = frozenset({"forms", "model", "pipeline", "sign"})


def _version() -> str:
    """The one source is pyproject.toml, through the installed metadata (read on first use:
    importlib.metadata costs some 30 ms to import, in every process, workers too)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("msedocs")
    except PackageNotFoundError:  # pragma: no cover - imported from a checkout that was never installed
        return "0+unknown"


def __getattr__(name: str) -> _typing.Any:
    if name == "__version__":
        value = globals()[name] = _version()
        return value
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if _typing.TYPE_CHECKING:
    from generators.common import RenderedDocument

    from .delivery.store import AlreadyQueuedError, BadOutboxError, InvalidTransitionError, OutboxUnavailableError
    from .forms import REGISTRY, FormSpec, get_form
    from .model import Case, CaseWarning, load_case
    from .pipeline import render, render_package, write_package
    from .privacy.kek import KekError
    from .privacy.vault import ErasedError
    from .referrals.semd import SemdPackageError
    from .referrals.store import RevealRefused
    from .routing.router import NoBureauError

__all__ = [
    "REGISTRY",
    "AlreadyQueuedError",
    "BadOutboxError",
    "Case",
    "CaseWarning",
    "DeliveryError",
    "ErasedError",
    "FormNotApplicableError",
    "FormSpec",
    "InputError",
    "InvalidTransitionError",
    "KekError",
    "MsedocsError",
    "NoBureauError",
    "OutboxUnavailableError",
    "OutputError",
    "Problem",
    "RenderedDocument",
    "RevealRefused",
    "SchemaError",
    "SemdPackageError",
    "SigningError",
    "TemplateError",
    "UnknownFormError",
    "__version__",
    "get_form",
    "load_case",
    "render",
    "render_package",
    "write_package",
]
