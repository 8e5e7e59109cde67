"""`msedocs validate` on untrusted files: bounded size, time and memory, clean refusals, no
personal data echoed. Each refusal is checked as the user meets it: exit code and message."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

from generators import xml as xml_gen
from msedocs.cli import main
from msedocs.forms import REGISTRY
from msedocs.pipeline import render_form
from tests.conftest import ROOT, case

MSEDOCS = [sys.executable, "-m", "msedocs"]


@cache
def xml_of(name: str, form_id: str) -> bytes:
    """A fixture's XML in a form (rendered alone: no PDF, no DOCX)."""
    (doc,) = render_form(case(name), REGISTRY[form_id], ("xml",))
    return doc.content


IMPAIRMENT_ROW = b"<row><kind>1.4</kind><degree>2.3</degree></row>"


def _limit_memory() -> None:  # a defect must fail its test, not exhaust the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*MSEDOCS, *args], capture_output=True, text=True, env=env, timeout=timeout, preexec_fn=_limit_memory
    )


def act_xml() -> bytes:
    return xml_of("adult_first_group_ii", "by-act")


def with_rows(rows: int) -> bytes:
    """The act with its impairments item holding ``rows`` rows."""
    content = act_xml()
    start = content.index(b"<impairments>") + len(b"<impairments>")
    end = content.index(b"</impairments>")
    return content[:start] + IMPAIRMENT_ROW * rows + content[end:]


def validate(tmp_path: Path, content: bytes, *args: str, capsys) -> tuple[int, str]:
    path = tmp_path / "doc.xml"
    path.write_bytes(content)
    code = main(["validate", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- 1. what is read: regular files only, within a size limit ------------------------------------


def test_fifo_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run(["validate", str(fifo)], timeout=20)
    assert time.monotonic() - started < 20
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr and "pipe.xml" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_device_is_refused(special: str):
    result = run(["validate", special], timeout=20)
    assert result.returncode == 2, result.stderr
    assert f"{special}: not a regular file" in result.stderr


def test_directory_is_refused(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_form_over_the_size_limit_is_refused_at_once(tmp_path: Path):
    big = tmp_path / "big.xml"
    content = act_xml()
    with big.open("wb") as f:  # valid up to the limit and past it: the size alone refuses it
        f.write(content[: content.index(b"<impairments>")])
        f.write(b"<impairments>")
        f.write(IMPAIRMENT_ROW * (xml_gen.MAX_FORM_BYTES // len(IMPAIRMENT_ROW) + 1))
        f.write(content[content.index(b"</impairments>") :])
    started = time.monotonic()
    result = run(["validate", str(big)])
    assert time.monotonic() - started < 15
    assert result.returncode == 2, result.stderr
    limit = f"{xml_gen.MAX_FORM_BYTES:,}".replace(",", " ")
    assert f"big.xml: {big.stat().st_size:,}".replace(",", " ") in result.stderr
    assert f"more than the {limit} bytes a by-act document may have" in result.stderr
    assert "Traceback" not in result.stderr


def test_over_the_journal_limit_is_refused_whatever_the_form(tmp_path: Path, capsys):
    big = tmp_path / "sparse.xml"
    with big.open("wb") as f:  # a sparse file: its size without its bytes
        f.truncate(xml_gen.MAX_JOURNAL_BYTES + 1)
    assert main(["validate", str(big), "--form", "by-journal-cards"]) == 2
    err = capsys.readouterr().err
    limit = f"{xml_gen.MAX_JOURNAL_BYTES:,}".replace(",", " ")
    assert f"more than the {limit} bytes any document may have" in err


def test_a_journal_is_validated(tmp_path: Path, capsys):
    out = tmp_path / "j"
    code = main(
        [
            "journal",
            "by-journal-cards",
            "--cases",
            str(ROOT / "fixtures" / "cases"),
            "--from",
            "2020-01-01",
            "--to",
            "2030-12-31",
            "--format",
            "xml",
            "--out",
            str(out),
            "--commission",
            "Первая Минская городская МРЭК общего профиля",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["validate", str(out / "by-journal-cards.xml")]) == 0
    assert "valid (by-journal-cards)" in capsys.readouterr().out


# -- 2. the form's limits are the schema's -------------------------------------------------------


def test_more_rows_than_the_model_allows_is_invalid(tmp_path: Path, capsys):
    assert validate(tmp_path, with_rows(13), capsys=capsys)[0] == 0
    code, out = validate(tmp_path, with_rows(14), capsys=capsys)
    assert code == 1
    assert "row': This element is not expected" in out and "/*[14]:" in out  # the 14th row


def test_many_rows_under_the_size_limit_stay_in_bounded_memory(tmp_path: Path):
    rows = (xml_gen.MAX_FORM_BYTES - 20_000) // len(IMPAIRMENT_ROW)
    path = tmp_path / "rows.xml"
    path.write_bytes(with_rows(rows))
    result = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss=%M", *MSEDOCS, "validate", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "not expected" in result.stderr
    rss_kb = int(re.search(r"maxrss=(\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    assert rss_kb < 200_000, f"{rss_kb} kB"


def test_every_repeated_element_of_every_schema_is_bounded():
    from lxml import etree

    xs = "{http://www.w3.org/2001/XMLSchema}"
    for path in sorted((ROOT / "xsd").glob("*.xsd")):
        if path.name == "xmldsig-core-schema.xsd":  # the W3C's, as published; its ds:Signature is bounded
            continue  # where the forms refer to it (test_signed_xml_schema.py), its inside by the size limit
        tree = etree.parse(str(path))
        unbounded = [el.get("name") for el in tree.iter(f"{xs}element") if el.get("maxOccurs") == "unbounded"]
        journal = path.stem.startswith("by-journal-")
        assert unbounded == (["entry"] if journal else []), f"{path.name}: {unbounded}"
        if path.stem == "common":
            continue
        for el in tree.iter(f"{xs}element"):
            if el.get("type") in ("xs:string", "xs:token"):
                pytest.fail(f"{path.name}: {el.get('name')} is a string without a maximum length")


# -- 3. hostile XML: a clean refusal, bounded time ------------------------------------------------

ACT_OPEN = b'<examinationAct xmlns="urn:msedocs:form:by-act:1" formId="by-act" version="1" caseId="X-1">'
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE examinationAct [\n<!ENTITY a "aaaaaaaaaa">\n'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'.encode() for i in range(9))
    + b"]>\n"
    + ACT_OPEN
    + b"&j;</examinationAct>"
)

HOSTILE = {
    "billion laughs": (LAUGHS, 1, "DOCTYPE"),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + ACT_OPEN
        + b"&x;</examinationAct>",
        1,
        "DOCTYPE",
    ),
    "external DTD": (
        b'<?xml version="1.0"?><!DOCTYPE examinationAct SYSTEM "http://127.0.0.1:9/a.dtd">'
        + ACT_OPEN
        + b"</examinationAct>",
        1,
        "DOCTYPE",
    ),
    "undeclared entity": (ACT_OPEN + b"&x;</examinationAct>", 1, "not well-formed"),
    "xinclude": (
        ACT_OPEN.replace(b">", b' xmlns:xi="http://www.w3.org/2001/XInclude">', 1)
        + b'<xi:include href="/etc/passwd" parse="text"/></examinationAct>',
        1,
        "not expected",
    ),
    "deep nesting": (ACT_OPEN + b"<header>" * 50_000 + b"</header>" * 50_000 + b"</examinationAct>", 1, "too deep"),
    "deep nesting, streamed": (
        ACT_OPEN + b"<header>" * 200_000 + b"</header>" * 200_000 + b"</examinationAct>",
        1,
        "not expected",
    ),
    "huge attribute": (
        ACT_OPEN.replace(b'caseId="X-1"', b'caseId="' + b"A" * 3_000_000 + b'"') + b"</examinationAct>",
        1,
        "caseId",
    ),
    "huge text": (
        ACT_OPEN
        + b"<header><commissionName>"
        + "Ж".encode() * 1_500_000
        + b"</commissionName></header></examinationAct>",
        1,
        "commissionName",
    ),
    "UTF-16": (
        ('<?xml version="1.0" encoding="UTF-16"?>' + ACT_OPEN.decode() + "</examinationAct>").encode("utf-16"),
        1,
        "only UTF-8",
    ),
    "windows-1251": (
        b'<?xml version="1.0" encoding="windows-1251"?>' + ACT_OPEN + b"</examinationAct>",
        1,
        "only UTF-8",
    ),
    "EBCDIC": (b'<?xml version="1.0" encoding="EBCDIC-US"?>' + ACT_OPEN + b"</examinationAct>", 1, "only UTF-8"),
    "bad UTF-8": (
        ACT_OPEN + b"<header><commissionName>\xd0\x28\xff</commissionName></header></examinationAct>",
        1,
        "UTF-8",
    ),
    "empty": (b"", 1, "not well-formed"),
    "binary": (bytes(range(256)) * 10, 1, "only UTF-8"),
    "binary, ASCII first": (b"<root>" + bytes(range(256)) * 10, 1, "not well-formed"),
    "truncated": (ACT_OPEN + b"<header><commissionName>x", 1, "not well-formed"),
    "no root formId": (b"<a/>", 1, "formId"),
    "unknown formId": (
        ACT_OPEN.replace(b'formId="by-act"', b'formId="by-nothing"') + b"</examinationAct>",
        2,
        "unknown form id",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_refused_cleanly(name: str, tmp_path: Path, capsys):
    content, expected_code, reason = HOSTILE[name]
    started = time.monotonic()
    code, out = validate(tmp_path, content, capsys=capsys)
    assert time.monotonic() - started < 10, name
    assert code == expected_code, out
    assert reason in out, out
    assert "Traceback" not in out and "internal error" not in out
    assert "root:" not in out  # nothing of /etc/passwd
    assert len(out) < 4000, "a refusal is a few lines, not the input echoed back"


def test_hostile_xml_in_a_subprocess_within_bounded_memory(tmp_path: Path):
    path = tmp_path / "laughs.xml"
    path.write_bytes(LAUGHS)
    result = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss=%M", *MSEDOCS, "validate", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 1 and "DOCTYPE" in result.stderr
    assert int(re.search(r"maxrss=(\d+)", result.stderr).group(1)) < 200_000  # type: ignore[union-attr]


# -- 4. no personal data in the messages ---------------------------------------------------------

SECRET_NAME = "Ковалёў O'Brien"


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        (b"<birthDate>1978-05-26</birthDate>", f"<birthDate>{SECRET_NAME}</birthDate>", "birthDate"),
        (b"<idNumber>3260578B005PB1</idNumber>", f"<idNumber>{SECRET_NAME}</idNumber>", "idNumber"),
        (b"<option>male</option>", f"<option>{SECRET_NAME}</option>", "option"),
        (b'caseId="BY-2026-000101"', f'caseId="{SECRET_NAME}"', "caseId"),
        (b'formId="by-act" version="1"', f'formId="by-act" version="{SECRET_NAME}"', "version"),
        (
            b"<birthDate>1978-05-26</birthDate>",
            f"<birthDate>1978-05-26</birthDate><{SECRET_NAME.split()[0]}/>",
            "not expected",
        ),
    ],
)
def test_messages_name_the_kind_of_value_not_the_value(old, new, element, tmp_path: Path, capsys):
    content = act_xml()
    assert old in content
    code, out = validate(tmp_path, content.replace(old, new.encode(), 1), capsys=capsys)
    assert code == 1
    assert element in out
    for part in SECRET_NAME.split():
        assert part not in out, out
    assert "Ковал" not in out and "Brien" not in out


def test_a_value_is_described_by_its_kind_and_length(tmp_path: Path, capsys):
    content = act_xml().replace(b"<birthDate>1978-05-26</birthDate>", "<birthDate>Иван</birthDate>".encode())
    code, out = validate(tmp_path, content, capsys=capsys)
    assert code == 1
    assert "birthDate" in out and "xs:date" in out
    assert "a value of 4 characters (letters)" in out, out


# -- the schema's limits never refuse what the case model admits ----------------------------------


def test_a_case_at_the_models_limits_renders_valid_xml(tmp_path: Path):
    """Fifty documents of 500 characters (the model's limits) once overflowed c:Text's 8000."""
    import json

    case = json.loads((ROOT / "fixtures" / "cases" / "adult_first_group_ii.json").read_text(encoding="utf-8"))
    case["examination"]["documents"] = ["д" * 499 + str(i % 10) for i in range(50)]
    case["examination"]["impairments"] = [{"kind": f"1.{i}", "degree": "2.3"} for i in range(1, 14)]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    result = run(["render", str(path), "--form", "by-act", "--format", "xml", "--out", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr
    assert run(["validate", str(tmp_path / "out" / "by-act.xml")]).returncode == 0
