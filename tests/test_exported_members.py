"""The public surface of msedocs, ``msedocs.__all__``, locked as httpx locks its own
(``tests/test_exported_members.py`` there): a name that appears or disappears without being
announced here fails this test first."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import msedocs
from msedocs.errors import MsedocsError
from tests.packages import every_module

EXPORTED = [
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

#: Exported names defined outside the msedocs package, and the package that defines them.
OWNERS = {"RenderedDocument": "generators"}


def test_the_exported_names_are_locked():
    assert msedocs.__all__ == EXPORTED


def test_constants_then_classes_then_the_rest_each_sorted():
    assert EXPORTED == sorted(EXPORTED, key=lambda name: (not name.isupper(), not name[0].isupper(), name))


def test_every_public_attribute_is_exported():
    public = {
        name
        for name in dir(msedocs)
        if not name.startswith("_") and not isinstance(getattr(msedocs, name), types.ModuleType)
    }
    assert public == {name for name in EXPORTED if not name.startswith("_")}


def test_every_exported_name_is_importable_from_its_package():
    for name in EXPORTED:
        value = getattr(msedocs, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            owner = OWNERS.get(name, "msedocs")
            assert value.__module__ == owner or value.__module__.startswith(f"{owner}."), (name, value.__module__)


def test_every_public_error_of_msedocs_is_exported():
    """A caller catches any error msedocs raises by a name of ``msedocs`` (those of generators
    and signing by a category: TemplateError, SchemaError, SigningError, InputError). An error a
    command line defines for itself (in a ``cli`` module), or the HTTP service for itself
    (``msedocs.api``: a face, answered as problems, never raised to a Python caller), is raised
    and caught there."""
    every_module()

    def subclasses(cls: type) -> set[type]:
        return {cls, *(c for sub in cls.__subclasses__() for c in subclasses(sub))}

    errors = [
        cls
        for cls in subclasses(MsedocsError)
        if cls.__module__.split(".")[0] == "msedocs"
        and not cls.__name__.startswith("_")
        and cls.__module__.rpartition(".")[2] != "cli"
        and not cls.__module__.startswith("msedocs.api.")
    ]
    missing = [f"{cls.__module__}.{cls.__name__}" for cls in errors if getattr(msedocs, cls.__name__, None) is not cls]
    assert len(errors) > 10 and missing == []


def _fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_lazy_names_are_listed_and_load_on_first_use():
    code = (
        "import sys, msedocs\n"
        "names = dir(msedocs)\n"
        "assert all(name in names for name in msedocs.__all__), names\n"
        "assert 'msedocs.pipeline' not in sys.modules\n"
        "from msedocs import *\n"
        "bound = set(globals())\n"
        "print(sorted(set(msedocs.__all__) - bound))\n"
    )
    assert _fresh(code) == "[]"
