"""msedocs: statutory documents of medical-social expertise from case data.

The stable public surface is listed in ``__all__``; everything else may change.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from generators.common import RenderedDocument

from .errors import InputError, MsedocsError, OutputError
from .forms import REGISTRY, FormSpec, get_form
from .model import Case, CaseWarning, load_case
from .pipeline import render, render_package, write_package

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
try:
    __version__ = _version("msedocs")  # the one source is pyproject.toml, through the installed metadata
except PackageNotFoundError:  # pragma: no cover - imported from a checkout that was never installed
    __version__ = "0+unknown"
