"""One error tree: every exception class of msedocs, generators and signing derives from
``msedocs.MsedocsError``, and the root loads without the rest of msedocs, so generators and
signing import it and the contract of the documents (``msedocs.contract``), and nothing else
of msedocs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from msedocs.errors import MsedocsError
from tests.packages import PACKAGES, every_module, module_names

#: Warning categories are issued, not raised: they are not errors and stay out of the tree.
WARNINGS = {"msedocs.model.load.CaseWarning"}


def _exception_classes() -> list[type[BaseException]]:
    return [
        value
        for module in every_module()
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
    ]


def test_every_exception_class_derives_from_msedocs_error():
    classes = _exception_classes()
    assert len(classes) > 20  # the walk found the tree
    names = {cls: f"{cls.__module__}.{cls.__qualname__}" for cls in classes}
    warnings = {names[cls] for cls in classes if issubclass(cls, Warning)}
    assert warnings == WARNINGS
    strays = [names[cls] for cls in classes if not issubclass(cls, Warning) and not issubclass(cls, MsedocsError)]
    assert strays == []


def _loaded_after(code: str) -> set[str]:
    """The modules of msedocs, generators and signing loaded by ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return {name for name in out.split() if name.split(".")[0] in PACKAGES}


def test_the_error_root_loads_nothing_else():
    assert _loaded_after("import msedocs.errors") == {"msedocs", "msedocs.errors"}
    assert _loaded_after("import msedocs") == {"msedocs", "msedocs.errors"}


def test_the_contract_loads_nothing_else():
    """The contract between the forms and the generators depends on the standard library only."""
    assert _loaded_after("import msedocs.contract") == {"msedocs", "msedocs.errors", "msedocs.contract"}


def test_the_forms_import_neither_generators_nor_signing():
    """The forms build the contract's objects; the generators and signing read them."""
    loaded = _loaded_after("import msedocs.forms")
    assert {name for name in loaded if name.split(".")[0] in ("generators", "signing")} == set()


@pytest.mark.parametrize("package, others", [("generators", set()), ("signing", {"generators"})])
def test_generators_and_signing_import_only_the_error_root_and_the_contract_of_msedocs(package, others):
    imports = "\n".join(f"import {name}" for name in module_names(package))
    loaded = _loaded_after(imports)
    allowed = {"msedocs", "msedocs.errors", "msedocs.contract"}
    assert {name for name in loaded if name.split(".")[0] == "msedocs"} == allowed
    assert {name for name in loaded if name.split(".")[0] in others} == set()
