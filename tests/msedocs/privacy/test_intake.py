"""Intake: the official XSD and schematron, hostile XML, the mapping, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msedocs.cli import main
from msedocs.errors import InputError
from msedocs.referrals import semd, synth

from .conftest import generated, incoming


def test_generated_documents_pass_the_official_xsd_and_schematron(semd_pkg: semd.Package) -> None:
    for i in range(25):
        tree, problems = semd.validate(synth.to_cda(generated(i)), f"gen{i}", semd_pkg)
        assert problems == [], [p.format(f"gen{i}") for p in problems]


def test_the_schematron_runs_and_reports_file_line_rule_message(semd_pkg: semd.Package) -> None:
    data = synth.to_cda(generated(0))
    bad = data.replace(b'<realmCode code="RU"/>', b'<realmCode code="BY"/>')
    _, problems = semd.validate(bad, "bad.xml", semd_pkg)
    assert [p.format("bad.xml") for p in problems] == [
        "bad.xml:3: У1-9#33: У1-9. Элемент ClinicalDocument/realmCode должен иметь значение атрибута @code "
        "равное 'RU'."
    ]
    no_language = data.replace(b'<languageCode code="ru-RU"/>', b"", 1)
    _, problems = semd.validate(no_language, "t.xml", semd_pkg)
    assert [p.rule.split("#")[0] for p in problems] == ["У1-17"] and problems[0].line == 2  # the root element


def test_xsd_failure_is_reported_with_its_line(semd_pkg: semd.Package) -> None:
    data = synth.to_cda(generated(1)).replace(b"<languageCode", b"<bogus/><languageCode", 1)
    _, problems = semd.validate(data, "x.xml", semd_pkg)
    assert problems and problems[0].rule == "xsd" and problems[0].line > 1


def test_hostile_xml_is_refused(semd_pkg: semd.Package) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><ClinicalDocument xmlns="urn:hl7-org:v3">&x;</ClinicalDocument>'  # noqa: E501
    with pytest.raises(InputError, match="DOCTYPE|entit"):
        semd.validate(bomb, "bomb.xml", semd_pkg)
    external = b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'
    with pytest.raises(InputError):
        semd.validate(external, "ext.xml", semd_pkg)


def test_mapping_to_the_case_model(semd_pkg: semd.Package) -> None:
    r = generated(3)
    ref = incoming(semd_pkg, 3)
    p = ref.patient
    assert (p.name.last, p.name.first, p.name.middle) == (r.patient.last, r.patient.first, r.patient.middle)
    assert p.birth_date == r.birth_date and p.sex.value == r.patient.sex
    assert p.insurance.snils == r.snils and p.insurance.oms_policy == r.oms
    assert p.addresses.registration.line == r.registration.line
    assert p.addresses.registration.postcode == r.registration.postcode
    assert p.identity_document is not None and p.identity_document.number == r.passport[1]
    assert ref.referral.diagnosis.icd10 == [r.icd10]
    assert ref.referral.number == r.number and ref.referral.date == r.date
    assert ref.referring_organisation.name == r.organisation
    assert ref.in_absentia == r.in_absentia and ref.special_route == r.special_route
    assert ref.referral.vkk.chairman.last == r.chairman.last
    with_guardian = next(i for i in range(200) if generated(i).guardian is not None)
    rep = incoming(semd_pkg, with_guardian).representative
    assert rep is not None and rep.name.last == generated(with_guardian).guardian.person.last


def test_cli_ingest_invalid_exits_2_and_stores_nothing(tmp_path: Path, semd_pkg: semd.Package, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    bad = tmp_path / "bad.xml"
    bad.write_bytes(synth.to_cda(generated(0)).replace(b'<realmCode code="RU"/>', b'<realmCode code="BY"/>'))
    (tmp_path / "kek").write_bytes(b"k" * 32)
    args = ["--db", db, "--semd-dir", str(semd_pkg.root), "--kek", f"file:{tmp_path / 'kek'}"]
    assert main(["referrals", "ingest", str(bad), *args]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: У1-9#33: У1-9." in err and "nothing stored" in err
    assert main(["bureaus", "add", "gb1", "--name", "ГБ", "--db", db]) == 0
    capsys.readouterr()
    assert main(["bureaus", "list", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)[0]["open_count"] == 0


def test_cli_ingest_semd_and_case_json(tmp_path: Path, semd_pkg: semd.Package, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "kek").write_bytes(b"k" * 32)
    out = tmp_path / "semd"
    assert main(["fixtures", "generate", "--format", "semd", "--count", "2", "--out", str(out)]) == 0
    assert main(["bureaus", "add", "gb1", "--name", "ГБ 1", "--db", db]) == 0
    assert main(["bureaus", "add", "a1", "--name", "По адресу", "--kind", "address", "--area", "630", "--db", db]) == 0
    args = ["--db", db, "--semd-dir", str(semd_pkg.root), "--kek", f"file:{tmp_path / 'kek'}"]
    assert main(["referrals", "ingest", str(out / "referral-0001.xml"), *args]) == 0
    case = Path(__file__).resolve().parents[3] / "fixtures" / "cases" / "ru_not_recognised_portal.json"
    assert main(["referrals", "ingest", str(case), *args]) == 0
    text = capsys.readouterr().out
    assert "depersonalised" in text and "category 4: PD4-" in text
    assert main(["audit", "verify", "--db", db]) == 0


#: Broken variants of a generated referral: (what is changed, replacement), each failing other rules.
MUTATIONS = [
    (b'<realmCode code="RU"/>', b'<realmCode code="BY"/>'),
    (b'<languageCode code="ru-RU"/>', b""),
    (b'extension="976-253-735 58"', b'extension="97625373"'),
    (b"<postalCode>101447</postalCode>", b"<postalCode>10144</postalCode>"),
    (b'<code code="34" codeSystem', b'<code code="35" codeSystem'),
    (b'<templateId root="1.2.643.5.1.13.13.14.34.9.6"/>', b'<templateId root="1.2.643.5.1.13.13.14.34.9.5"/>'),
    (b'<effectiveTime value="202609301000+0300"/>', b'<effectiveTime value="2026093010"/>'),
    (b'<birthTime value="19950322"/>', b'<birthTime value="1995"/>'),
    (b'<versionNumber value="1"/>', b'<versionNumber value="0"/>'),
    (b'codeSystemVersion="1.1"', b'codeSystemVersion=""'),  # the XSD refuses it: the schematron does not run
]


def test_the_optimised_schematron_gives_schxslts_own_verdicts(semd_pkg: semd.Package) -> None:
    """The stylesheet msedocs runs (compact SVRL, no metadata, report not regrouped) fails the same
    assertions, at the same places, with the same texts, as SchXslt's unmodified compilation."""
    from lxml import etree

    sch = semd.schematron(semd_pkg)
    plain = sch._proc.new_xslt30_processor().compile_stylesheet(
        stylesheet_text=sch.compile_schxslt(semd_pkg.schematron.read_bytes(), compact=False, metadata=True))

    def verdicts(data: bytes, executable=None) -> list[tuple[str | None, str | None, str]]:
        tree = semd.parse(data)
        if semd.xsd_problems(tree, semd_pkg):
            return [("xsd", None, "")]
        stripped = etree.tostring(semd.strip_default_namespace(tree), encoding="utf-8")
        report = sch.run(stripped, executable)
        return sorted((f.get("id"), f.get("location"), " ".join("".join(f.itertext()).split()))
                      for f in report.iter(f"{{{semd.SVRL}}}failed-assert", f"{{{semd.SVRL}}}successful-report"))

    base = synth.to_cda(generated(0))
    failing = 0
    for old, new in MUTATIONS:
        assert old in base, old
        data = base.replace(old, new)
        ours = verdicts(data)
        assert ours == verdicts(data, plain), old
        failing += bool(ours) and ours[0][0] != "xsd"
    assert failing >= 8  # most mutations reach the schematron and fail something there
    for i in range(3):
        good = synth.to_cda(generated(i))
        assert verdicts(good) == verdicts(good, plain) == []
