"""The modules of msedocs, generators and signing, for tests that look at all of them."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

PACKAGES = ("msedocs", "generators", "signing")

#: Not imported by the walk: a ``__main__`` runs a program (the CLI, the server); an Alembic
#: chain's scripts (``…migrations``) run only under Alembic.
SKIPPED_LAST = {"__main__", "migrations"}


def module_names(package: str) -> list[str]:
    """``package`` and every module under it, but the skipped ones."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if not SKIPPED_LAST & set(info.name.split(".")):
            names.append(info.name)
    return names


def every_module() -> list[ModuleType]:
    """Every module of the three packages, imported."""
    return [importlib.import_module(name) for package in PACKAGES for name in module_names(package)]
