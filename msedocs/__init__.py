"""msedocs: statutory documents of medical-social expertise from case data.

The stable public surface is listed in ``__all__``; everything else may change.
"""

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
__version__ = "0.1.0"
