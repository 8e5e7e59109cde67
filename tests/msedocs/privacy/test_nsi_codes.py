"""The НСИ codes the СЭМД package leaves open: msedocs' reading, its override, and documents that contradict it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msedocs.cli import main
from msedocs.errors import InputError
from msedocs.referrals import cda, codes, semd, synth

from .conftest import generated


def _map(semd_pkg: semd.Package, data: bytes):  # type: ignore[no-untyped-def]
    tree, problems = semd.validate(data, "doc.xml", semd_pkg)
    assert problems == [], [p.format("doc.xml") for p in problems]  # the package accepts it: the reading decides
    return cda.to_referral(tree, "doc.xml")


def _absent_and_present() -> tuple[bytes, bytes]:
    absent = next(generated(i) for i in range(50) if generated(i).in_absentia)
    present = next(generated(i) for i in range(50) if not generated(i).in_absentia)
    return synth.to_cda(absent), synth.to_cda(present)


FORM = b'code="%s" codeSystem="1.2.643.5.1.13.13.99.2.970"'


def test_the_default_reading(semd_pkg: semd.Package, monkeypatch) -> None:
    monkeypatch.delenv(codes.ENV, raising=False)
    absent, present = _absent_and_present()
    assert _map(semd_pkg, absent).in_absentia and not _map(semd_pkg, present).in_absentia
    assert codes.reading().consent_form == {"1": "in_absentia", "2": "in_person"}


def test_a_code_outside_the_reading_is_refused(semd_pkg: semd.Package, monkeypatch) -> None:
    monkeypatch.delenv(codes.ENV, raising=False)
    absent, _ = _absent_and_present()
    odd = absent.replace(FORM % b"1", FORM % b"3").replace("Без личного присутствия".encode(), "Иная".encode())
    with pytest.raises(InputError, match="code '3', which the reading in force"):
        _map(semd_pkg, odd)


def test_a_display_name_contradicting_the_reading_is_refused(semd_pkg: semd.Package, monkeypatch,
                                                             tmp_path: Path) -> None:  # fmt: skip
    absent, present = _absent_and_present()
    # the document names code 2 «без личного присутствия» while the reading takes 2 as in person
    monkeypatch.delenv(codes.ENV, raising=False)
    swapped = absent.replace(FORM % b"1", FORM % b"2")
    with pytest.raises(InputError, match="named «Без личного присутствия» .* takes that code as in_person"):
        _map(semd_pkg, swapped)
    # an operator whose НСИ has 2 = without presence says so, and the same document is read that way
    conf = tmp_path / "nsi.json"
    conf.write_text(json.dumps({"consent_form": {"2": "in_absentia", "1": "in_person"}}))
    monkeypatch.setenv(codes.ENV, str(conf))
    assert _map(semd_pkg, swapped).in_absentia
    with pytest.raises(InputError, match=f"{codes.ENV}="):
        _map(semd_pkg, absent)  # code 1 «Без личного присутствия» now contradicts the reading


def test_purposes_older_oid_and_unknown_codes(semd_pkg: semd.Package, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(codes.ENV, raising=False)
    absent, _ = _absent_and_present()
    purpose = _map(semd_pkg, absent).referral.purposes
    older = absent.replace(b'codeSystem="1.2.643.5.1.13.13.99.2.315"', b'codeSystem="1.2.643.5.1.13.2.1.1.218"')
    assert older != absent and _map(semd_pkg, older).referral.purposes == purpose  # 121.sch accepts either OID
    code = next(k for k, v in codes.PURPOSE_CODES.items() if v[0] == purpose[0].value)
    unknown = absent.replace(b'code="%s" codeSystem="1.2.643.5.1.13.13.99.2.315"' % code.encode(),
                             b'code="77" codeSystem="1.2.643.5.1.13.13.99.2.315"')  # fmt: skip
    with pytest.raises(InputError, match="purpose code '77'"):
        _map(semd_pkg, unknown)
    conf = tmp_path / "nsi.json"
    conf.write_text(json.dumps({"purposes": {"77": "onset_time"}, "fields": {"special_route": "4060"}}))
    monkeypatch.setenv(codes.ENV, str(conf))
    ref = _map(semd_pkg, unknown)
    assert [p.value for p in ref.referral.purposes] == ["onset_time"]
    assert ref.special_route is False  # 4060 (cannot attend) is false in generated documents


@pytest.mark.parametrize("content,message", [
    ('{"consent_form": {"1": "maybe"}}', "in_absentia or in_person"),
    ('{"consent_form": {"1": "in_person"}}', "no code for in_absentia"),
    ('{"purposes": {"1": "holiday"}}', "holiday"),
    ('{"fields": {"route": "7012"}}', "unknown"),
    ('{"colour": 1}', "an object with"),
    ("[", "not JSON"),
])  # fmt: skip
def test_a_bad_reading_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    conf = tmp_path / "nsi.json"
    conf.write_text(content)
    with pytest.raises(InputError, match=message):
        codes.load_reading(conf)


def test_cli_prints_the_reading_in_force(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv(codes.ENV, raising=False)
    assert main(["referrals", "nsi-codes"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["source"] == "msedocs' default reading" and got["fields"]["special_route"] == "7012"
    conf = tmp_path / "nsi.json"
    conf.write_text('{"fields": {"special_route": "9999"}}')
    monkeypatch.setenv(codes.ENV, str(conf))
    assert main(["referrals", "nsi-codes"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["source"] == f"{codes.ENV}={conf}" and got["fields"]["special_route"] == "9999"
    assert got["consent_form"] == {"1": "in_absentia", "2": "in_person"}
