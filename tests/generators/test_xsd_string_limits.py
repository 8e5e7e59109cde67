"""The case model's string limits are the XSD's, per element: a name, address, number or short
text longer than the model could ever produce makes the XML invalid; a case at the model's limits
is never refused (rendering checks its XML against the same schema)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pydantic import BaseModel

from msedocs.cli import main
from msedocs.forms import REGISTRY
from msedocs.forms.spec import ItemDef, address_limit, name_limit, text_limit
from msedocs.forms.xsd import TEXT_MAX_LENGTH
from msedocs.model import load_case
from msedocs.model.case import (
    POSTCODE_DIGITS,
    Case,
    Commission,
    Examination,
    IdentityDocument,
    Organisation,
    Patient,
)
from msedocs.pipeline import render_form
from tests.conftest import CASE_FILES, ROOT, case

XSD_DIR = ROOT / "xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"


def test_the_limits_follow_the_model():
    assert name_limit() == 3 * 200 + 2  # last, first, middle of 200, two spaces
    assert address_limit() == POSTCODE_DIGITS + 2 + 500  # «246000, line»
    assert text_limit(Examination, "act_number") == 40
    assert text_limit(IdentityDocument, "series") == 10
    for model, field in ((Case, "patient"), (Examination, "documents")):
        with pytest.raises(ValueError, match="no string with a max_length"):
            text_limit(model, field)


def test_c_text_max_length_is_common_xsd_s():
    common = etree.parse(str(XSD_DIR / "common.xsd"))
    (value,) = common.xpath("//xs:simpleType[@name='Text']//xs:maxLength/@value", namespaces={"xs": XS[1:-1]})
    assert int(value) == TEXT_MAX_LENGTH


def _limits(form_id: str) -> dict[str, int]:
    """{element name: maxLength} of a form's top-level and header items (no duplicates among them)."""
    tree = etree.parse(str(XSD_DIR / f"{form_id}.xsd"))
    out: dict[str, int] = {}
    for el in tree.iter(f"{XS}element"):
        restriction = el.find(f"{XS}simpleType/{XS}restriction")
        if restriction is not None and (m := restriction.find(f"{XS}maxLength")) is not None:
            out.setdefault(el.get("name"), int(m.get("value")))
    return out


@pytest.mark.parametrize(
    ("form_id", "key", "limit"),
    [
        ("by-act", "patientName", name_limit()),
        ("by-act", "registrationAddress", address_limit()),
        ("by-act", "referringOrganisation", text_limit(Organisation, "name")),
        ("by-referral", "maritalStatus", text_limit(Patient, "marital_status")),
        ("by-referral-slip", "commissionAddress", address_limit()),
        ("ru-extract", "bureauName", text_limit(Commission, "name")),
    ],
)
def test_the_schema_carries_the_model_s_limit(form_id: str, key: str, limit: int):
    assert _limits(form_id)[key] == limit


def _with_text(content: bytes, key: str, text: str) -> bytes:
    """The document with the first ``<key>`` element's text replaced."""
    new, count = re.subn(
        rf"(<{key}>)[^<]*(</{key}>)".encode(), lambda m: m.group(1) + text.encode() + m.group(2), content, count=1
    )
    assert count == 1, key
    return new


def _xmllint(schema: Path, path: Path) -> int:
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.fail("xmllint is not installed: run `python3 dev.py setup` as root (Debian package needed)")
    return subprocess.run([xmllint, "--noout", "--schema", str(schema), str(path)], capture_output=True).returncode


@pytest.mark.parametrize(
    ("fixture", "form_id", "key", "limit"),
    [
        ("adult_first_group_ii", "by-act", "patientName", name_limit()),
        ("adult_first_group_ii", "by-act", "registrationAddress", address_limit()),
        ("adult_first_group_ii", "by-act", "referringOrganisation", text_limit(Organisation, "name")),
        ("adult_first_group_ii", "by-referral-slip", "commissionAddress", address_limit()),
        ("ru_not_recognised_portal", "ru-extract", "bureauName", text_limit(Commission, "name")),
        ("ru_not_recognised_portal", "ru-extract", "patientName", name_limit()),
        ("referral_only", "by-referral", "organisationName", text_limit(Organisation, "name")),
        ("referral_only", "by-referral", "maritalStatus", text_limit(Patient, "marital_status")),
    ],
)
def test_one_character_over_the_model_s_limit_is_invalid(fixture, form_id, key, limit, tmp_path: Path, capsys):
    (doc,) = render_form(case(fixture), REGISTRY[form_id], ("xml",))
    schema = XSD_DIR / f"{form_id}.xsd"
    path = tmp_path / "doc.xml"
    path.write_bytes(_with_text(doc.content, key, "Ж" * limit))  # at the limit: valid
    assert _xmllint(schema, path) == 0
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    path.write_bytes(_with_text(doc.content, key, "Ж" * (limit + 1)))  # one over: invalid
    assert _xmllint(schema, path) != 0
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert key in out.out + out.err


# -- a case at the model's limits: every limited string at its longest, every form renders ----------


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a (maybe optional, maybe list) field holds."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _model_of(arg)) is not None:
            return found
    return None


def _longest(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Every string of ``data`` with a model limit of at most 500 (names, lines, numbers) made that
    long, in place; postcodes present; free text (8000) left as it is."""
    for key, value in data.items():
        if key not in model.model_fields:
            continue
        info = model.model_fields[key]
        if isinstance(value, str):
            try:
                limit = text_limit(model, key)
            except ValueError:
                continue
            pattern = [getattr(m, "pattern", None) for m in info.metadata] + re.findall(
                r"pattern='([^']*)'", repr(info.annotation)
            )
            if limit <= 500 and not any(pattern):
                data[key] = "Ж" * limit
        elif isinstance(value, dict) and (sub := _model_of(info.annotation)) is not None:
            _longest(sub, value)
            if "line" in value and "postcode" in sub.model_fields:
                value["postcode"] = "2" * POSTCODE_DIGITS
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            if (sub := _model_of(info.annotation)) is not None:
                for row in value:
                    _longest(sub, row)


def _at_limits(path: Path, tmp_path: Path) -> Path:
    data = json.loads(path.read_text(encoding="utf-8"))
    _longest(Case, data)
    for name in [data["patient"]["name"], *([data["representative"]["name"]] if data.get("representative") else [])]:
        name.setdefault("middle", "Ж")
        for part in ("last", "first", "middle"):
            name[part] = "Ж" * 200
    out = tmp_path / path.name
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_a_case_at_the_model_s_limits_renders_every_form(path: Path, tmp_path: Path):
    loaded = load_case(_at_limits(path, tmp_path))
    assert len(loaded.patient.name.full) == name_limit()
    forms = [spec for spec in REGISTRY.values() if spec.applies_to(loaded)]
    assert forms == [spec for spec in REGISTRY.values() if spec.applies_to(case(path.stem))]
    for spec in forms:
        (doc,) = render_form(loaded, spec, ("xml",))  # checked against the schema: a limit too tight fails
        for key, limit in _limits(spec.id).items():
            for el in etree.fromstring(doc.content).iter(f"{{{spec.namespace}}}{key}"):
                assert el.text is None or len(el.text) <= limit
                if key == "patientName":  # the longest name reaches the schema's limit
                    assert el.text is not None and len(el.text) == limit


def test_every_limited_item_is_a_text_item():
    def walk(items: typing.Iterable[ItemDef]) -> typing.Iterator[ItemDef]:
        for item in items:
            yield item
            yield from walk(item.children)

    for spec in REGISTRY.values():
        for item in walk((*spec.header, *spec.items)):
            if item.max_length is not None:
                assert item.kind == "text" and item.xsd_type is None, (spec.id, item.key)
