"""The modules of msedocs, generators and signing, for tests that look at all of them."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

PACKAGES = ("msedocs", "generators", "signing")

#: Not imported by the walk: ``__main__`` runs the CLI; the Alembic scripts run only under Alembic.
SKIPPED = (
    "msedocs.__main__",
    "msedocs.delivery.migrations",
    "msedocs.referrals.migrations",
    "msedocs.api.migrations",
)


def module_names(package: str) -> list[str]:
    """``package`` and every module under it, but the skipped ones."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if not any(info.name == s or info.name.startswith(f"{s}.") for s in SKIPPED):
            names.append(info.name)
    return names


def every_module() -> list[ModuleType]:
    """Every module of the three packages, imported."""
    return [importlib.import_module(name) for package in PACKAGES for name in module_names(package)]
