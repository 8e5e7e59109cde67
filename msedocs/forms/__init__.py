"""The form registry: one :class:`FormSpec` per statutory document, by form id.

Adding a form means one module here (its items), one template folder and one XSD.
"""

from __future__ import annotations

from ..errors import UnknownFormError
from .spec import FormSpec, ItemDef, Source, format_date

_MODULES = ("act", "conclusion", "referral", "slip", "ru_extract", "ipmra", "exam_programme",
            "card", "mpr_conclusion")  # fmt: skip


def _load() -> dict[str, FormSpec]:
    import importlib

    forms: dict[str, FormSpec] = {}
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if isinstance(value, FormSpec):
                forms[value.id] = value
    return dict(sorted(forms.items()))


REGISTRY: dict[str, FormSpec] = _load()


def get_form(form_id: str) -> FormSpec:
    try:
        return REGISTRY[form_id]
    except KeyError:
        raise UnknownFormError(
            f"unknown form id {form_id!r}; known forms: {', '.join(REGISTRY)} (see `msedocs forms`)"
        ) from None


__all__ = ["REGISTRY", "FormSpec", "ItemDef", "Source", "format_date", "get_form"]
