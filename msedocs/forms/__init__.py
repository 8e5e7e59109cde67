"""The document registry: every statutory document msedocs renders, by form id.

One registry, :data:`DOCUMENTS`, holds the forms, the journals and the session protocol alike
(each a :class:`DocumentSpec`). It is discovered, not listed: every module of this package is
imported and each :class:`DocumentSpec` it defines at module level is registered
(:func:`register_module`). :data:`REGISTRY` (the forms, by id) and :data:`JOURNALS` are views
of it. Forms kept outside the package are registered with :func:`load_folder` (every ``*.py``
of a folder) or :func:`register`.

Adding a form means one module here declaring its :class:`FormSpec` (and, only if its layout
is special, ``templates/<id>/form.html.j2``); its XSD and DOCX template are generated from
the declaration (see the README).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar, cast

from ..contract import format_date
from ..errors import UnknownFormError
from .document import KINDS, DocumentKind, DocumentSpec
from .journals import JournalSpec
from .session import SessionSpec
from .spec import FormSpec, ItemDef, Source

#: Every registered document, forms first (by id), then the journals and the protocol in the
#: order their modules declare them.
DOCUMENTS: dict[str, DocumentSpec] = {}

S = TypeVar("S", bound=DocumentSpec)


class KindView(Mapping[str, S], Generic[S]):
    """The registered documents of one kind, by id: a live view of :data:`DOCUMENTS`
    (forms sorted by id, journals in their declaration order)."""

    def __init__(self, kind: DocumentKind) -> None:
        self.kind = kind

    def _specs(self) -> dict[str, S]:
        found = {i: cast(S, s) for i, s in DOCUMENTS.items() if s.kind == self.kind}
        return dict(sorted(found.items())) if self.kind == "form" else found

    def __getitem__(self, key: str) -> S:
        spec = DOCUMENTS[key]
        if spec.kind != self.kind:
            raise KeyError(key)
        return cast(S, spec)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs())

    def __len__(self) -> int:
        return len(self._specs())

    def __repr__(self) -> str:
        return f"KindView({self.kind!r}, {list(self)})"


REGISTRY: KindView[FormSpec] = KindView("form")
JOURNALS: KindView[JournalSpec] = KindView("journal")


def register(spec: S) -> S:
    """Register a document; the same id twice (a different spec) is refused."""
    if spec.kind not in KINDS:
        raise ValueError(f"{spec.id}: unknown kind {spec.kind!r}")
    known = DOCUMENTS.get(spec.id)
    if known is not None and known is not spec:
        raise ValueError(f"form id {spec.id!r} is declared twice")
    DOCUMENTS[spec.id] = spec
    return spec


def register_module(module: ModuleType) -> list[DocumentSpec]:
    """Register every :class:`DocumentSpec` a module defines at module level (a spec it only
    imports, such as the referral's slip, is registered once, by identity)."""
    found = [value for value in vars(module).values() if _is_spec(value)]
    return [register(spec) for spec in found]


def _is_spec(value: object) -> bool:
    return isinstance(value, (FormSpec, JournalSpec, SessionSpec)) or (
        not isinstance(value, type) and isinstance(value, DocumentSpec)
    )


def discover(package: ModuleType) -> list[DocumentSpec]:
    """Import every module of ``package`` and register the documents they declare."""
    found: list[DocumentSpec] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg:
            found += register_module(importlib.import_module(f"{package.__name__}.{info.name}"))
    return found


def load_folder(folder: str | Path) -> list[DocumentSpec]:
    """The discovery hook for forms kept outside this package: import every ``*.py`` of
    ``folder`` (as module ``msedocs_forms_ext.<stem>``) and register what they declare."""
    found: list[DocumentSpec] = []
    for path in sorted(Path(folder).glob("*.py")):
        name = f"msedocs_forms_ext.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        found += register_module(module)
    return found


def unregister(form_id: str) -> None:
    """Forget a registered document (tests that register a form of their own)."""
    DOCUMENTS.pop(form_id, None)


def get_form(form_id: str) -> FormSpec:
    try:
        return REGISTRY[form_id]
    except KeyError:
        raise UnknownFormError(
            f"unknown form id {form_id!r}; known forms: {', '.join(REGISTRY)} (see `msedocs forms`)"
        ) from None


def get_document(form_id: str) -> DocumentSpec | None:
    """Any registered document (form, journal or protocol) by id, or None."""
    return DOCUMENTS.get(form_id)


def _discover_own() -> None:
    found = discover(sys.modules[__name__])
    forms = sorted((s for s in found if s.kind == "form"), key=lambda s: s.id)
    others = [s for s in found if s.kind != "form"]
    DOCUMENTS.clear()
    DOCUMENTS.update({s.id: s for s in (*forms, *others)})


_discover_own()

__all__ = [
    "DOCUMENTS",
    "JOURNALS",
    "REGISTRY",
    "DocumentKind",
    "DocumentSpec",
    "FormSpec",
    "ItemDef",
    "Source",
    "discover",
    "format_date",
    "get_document",
    "get_form",
    "load_folder",
    "register",
    "register_module",
    "unregister",
]
