"""msedocs: statutory documents of medical-social expertise from case data.

The stable public surface is listed in ``__all__``; everything else may change.
The rendering functions load on first use (PEP 562), so that a process that only reads
case data or the registry (the HTTP service's own process) never imports WeasyPrint.
"""

from typing import TYPE_CHECKING, Any

from generators.common import RenderedDocument

from .errors import InputError, MsedocsError, OutputError
from .forms import REGISTRY, FormSpec, get_form
from .model import Case, CaseWarning, load_case

if TYPE_CHECKING:
    from .pipeline import render, render_package, write_package

_LAZY = {"render": ".pipeline", "render_package": ".pipeline", "write_package": ".pipeline"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msedocs' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "REGISTRY",
    "Case",
    "CaseWarning",
    "FormSpec",
    "InputError",
    "MsedocsError",
    "OutputError",
    "RenderedDocument",
    "get_form",
    "load_case",
    "render",
    "render_package",
    "write_package",
]
__version__ = "0.1.0"
