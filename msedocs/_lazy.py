"""Public names of a msedocs package loaded on first use (PEP 562): ``msedocs.delivery``, whose
worker and stub start as ``python -m`` and must not import themselves twice. (``signing`` keeps
its own: it imports nothing of msedocs but the errors and the contract.)"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def loader(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: a name of ``where`` (name → its module, relative to
    the package, e.g. ``".store"``) is imported from its module on first use and kept in the
    package's namespace; any other name is an AttributeError."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = namespace[name] = getattr(importlib.import_module(module, package), name)
        return value

    return __getattr__
