"""The command line as a user meets it: exit codes, messages, files written or not."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from msedocs.cli import main
from tests.conftest import CASES_DIR, ROOT, case_form_pairs, require_tool

BAD = ROOT / "fixtures" / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
MSEDOCS = [sys.executable, "-m", "msedocs"]


def _make_big(directory: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_big", BAD / "make_big.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make(directory)


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*MSEDOCS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_forms_lists_every_form(capsys):
    assert main(["forms", "--json"]) == 0
    forms = {f["id"]: f for f in json.loads(capsys.readouterr().out)}
    assert {"by-act", "by-conclusion", "by-referral", "by-referral-slip"} <= set(forms)
    assert forms["by-act"]["formats"] == ["xml", "pdf", "docx"]
    assert "004_5509ffa87cccaffb.txt" in forms["by-act"]["source"]
    # one registry: the journals and the session protocol are listed with the forms, each with its kind
    assert forms["by-act"]["kind"] == "form" and forms["by-protocol"]["kind"] == "protocol"
    assert {f["id"] for f in forms.values() if f["kind"] == "journal"} == {
        "by-journal-protocols", "by-journal-cards", "by-journal-certificates", "by-journal-mpr"
    }  # fmt: skip


def test_schema_is_json_schema_of_the_case(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "MSE case"
    assert "patient" in schema["properties"] and "patient" in schema["required"]


def test_render_writes_files_and_manifest(tmp_path):
    out = tmp_path / "out"
    result = run(
        [
            "render",
            str(CASES_DIR / "adult_first_group_ii.json"),
            "--form",
            "by-act",
            "--form",
            "by-conclusion",
            "--format",
            "xml,pdf",
            "--out",
            str(out),
        ]
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["forms"] == ["by-act", "by-conclusion"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["by-act.xml", "by-act.pdf", "by-conclusion.xml", "by-conclusion.pdf", "manifest.json"]
    )
    for entry in manifest["files"]:
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]


def test_render_all_skips_forms_that_do_not_apply(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(CASES_DIR / "referral_only.json"), "--all", "--format", "xml", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["by-referral.xml", "manifest.json"]


def test_form_that_does_not_apply_is_an_error_when_asked_for(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["render", str(CASES_DIR / "referral_only.json"), "--form", "by-act", "--out", str(out)])
    assert code == 2
    assert "by-act" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_form_id(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["render", str(CASES_DIR / "adult_first_group_ii.json"), "--form", "by-nothing", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown form id 'by-nothing'" in err and "by-act" in err
    assert not out.exists()


def test_unknown_format(tmp_path, capsys):
    code = main(
        [
            "render",
            str(CASES_DIR / "adult_first_group_ii.json"),
            "--all",
            "--format",
            "odt",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "odt" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_exit_2_message_no_files(name, tmp_path, capsys):
    expected = EXPECTED[name]
    path = _make_big(tmp_path) if expected.get("generated_by") else BAD / name
    out = tmp_path / "out"
    code = main(["render", str(path), "--all", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected["path"] in err and expected["contains"] in err, err
    assert "Traceback" not in err
    assert not out.exists()
    assert len(err) < 2000, "the message quotes too much of the input"


def test_bad_input_through_a_real_process(tmp_path):
    out = tmp_path / "out"
    result = run(["render", str(BAD / "group_for_child.json"), "--all", "--out", str(out)])
    assert result.returncode == 2
    assert "decision.group" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["journal"], "Missing argument 'ID'"),
        (["fixtures", "generate", "--count", "0", "--seed", "1", "--out", "x.jsonl"], "'--count'"),
        (["render", "--bogus"], "No such option: --bogus"),
        (["verify"], "Missing argument"),
    ],
)
def test_usage_errors_exit_2_with_the_usage(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Usage: msedocs" in err
    assert "internal error" not in err


def test_help_reflows_docstrings_and_keeps_placeholders():
    """`--help` reads as prose on a wide terminal: docstrings reflowed (not cut where the source
    wraps) and `<form id>`-style placeholders shown, not eaten as markup."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250", "TERM": "dumb"}
    top = subprocess.run([*MSEDOCS, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert top.returncode == 0
    assert "render every form in XML, PDF/A-3b and DOCX, sign each document (test PKI, B-T)" in top.stdout
    assert "OUT/<form id>.<ext> plus OUT/manifest.json" in top.stdout
    assert "OUT/<id>.<ext> plus OUT/manifest.json" in top.stdout


def test_missing_file(tmp_path, capsys):
    assert main(["render", str(tmp_path / "nope.json"), "--all", "--out", str(tmp_path / "o")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_validate_good_and_broken_xml(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "render",
                str(CASES_DIR / "adult_first_group_ii.json"),
                "--form",
                "by-act",
                "--format",
                "xml",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    xml = out / "by-act.xml"
    assert main(["validate", str(xml)]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken.xml"
    text = xml.read_text()
    text = text.replace("<birthDate>1978-05-26</birthDate>", "<birthDate>26.05.1978</birthDate>")
    text = text.replace("<option>male</option>", "<option>m</option>", 1)
    broken.write_text(text)
    assert main(["validate", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "birthDate" in err and "26.05.1978" not in err  # a birth date is personal data: its kind, not the value
    assert "a value of 10 characters (text)" in err
    assert "/*/*[" in err  # the XPath of the element
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "26.05.1978" in s)
    assert f"broken.xml:{line}:" in err
    assert "2 violation(s)" in err


def test_validate_refuses_entities(tmp_path, capsys):
    evil = tmp_path / "evil.xml"
    evil.write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<act xmlns="urn:msedocs:form:by-act:1" formId="by-act">&x;</act>'
    )
    assert main(["validate", str(evil), "--form", "by-act"]) == 1
    err = capsys.readouterr().err
    assert "root:" not in err and "DOCTYPE" in err


def test_demo_runs_from_any_directory(tmp_path):
    result = run(["demo"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    demo = tmp_path / "msedocs-demo"
    case_dirs = sorted(p.name for p in demo.iterdir() if p.is_dir() and p.name not in ("pki", "post"))
    assert case_dirs == sorted(p.stem for p in CASES_DIR.glob("*.json"))
    manifest = json.loads((demo / "adult_first_group_ii" / "manifest.json").read_text())
    forms = sorted(f for c, f in case_form_pairs() if c == "adult_first_group_ii")
    assert sorted(manifest["forms"]) == forms
    assert len(manifest["files"]) == 4 * len(forms)  # xml, pdf, docx and the docx's .p7s
    assert all(f["signature"]["level"] == "B-T" for f in manifest["files"] if f["format"] != "docx")
    assert "documents for" in result.stdout and "duplicates 0" in result.stdout
    assert "worker delivered 1" in result.stdout and "registered mail: list 1" in result.stdout
    assert list((demo / "post").rglob("*.csv")), "no form-103 list for the paper extract"
    verify = run(["verify", str(demo / "adult_first_group_ii" / "by-act.pdf"), "--pki", str(demo / "pki")])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the Russian extract's visible stamp, set in the forms' bundled font (no system font needed)
    extract = demo / "ru_not_recognised_portal" / "ru-extract.pdf"
    fonts = subprocess.run([require_tool("pdffonts"), str(extract)], capture_output=True, text=True).stdout
    assert "LiberationSerif-Identity-H" in fonts and "DejaVu" not in fonts, fonts
    text = subprocess.run([require_tool("pdftotext"), str(extract), "-"], capture_output=True, text=True).stdout
    assert "ДОКУМЕНТ ПОДПИСАН" in text and "ЭЛЕКТРОННОЙ ПОДПИСЬЮ" in text
    with pikepdf.open(extract) as pdf:  # in the room the extract reserves below the signature line
        _, dest = list(pdf.Root.Names.Dests.Names)
        (widget,) = [a for a in pdf.pages[0].Annots if a.get("/FT") == "/Sig"]
        x1, _, _, y2 = (float(v) for v in widget.Rect)
        assert (x1, y2) == (round(float(dest[2])), round(float(dest[3])))


# --- batches: streamed, checked first, all or nothing ---------------------------------------


def _small_case_line() -> str:
    """A valid case as one short JSON line, its case_id a placeholder «{id}»."""
    case = json.loads((CASES_DIR / "referral_only.json").read_text(encoding="utf-8"))
    r = case["referral"]
    for key in ("incapacity", "hospitalisations", "rehab_results", "information_documents", "activity_other"):
        r.pop(key, None)
    r["anamnesis"] = r["condition"] = r["diagnostics"] = r["diagnosis"]["main"] = "текст"
    r["diagnosis"].pop("concomitant")
    for key in ("identity_document", "workplace", "occupation", "education", "marital_status"):
        case["patient"].pop(key)
    case["case_id"] = "CASEID"
    return json.dumps(case, ensure_ascii=False).replace("{", "{{").replace("}", "}}").replace("CASEID", "{id}")


def _batch(path: Path, count: int, broken: set[int] = frozenset()) -> Path:
    line = _small_case_line()
    with path.open("w", encoding="utf-8") as handle:
        for number in range(1, count + 1):
            handle.write("{not json\n" if number in broken else line.format(id=f"BY-{number:06d}") + "\n")
    return path


#: Runs a command and reports its exit code, stderr and the peak memory of the process tree.
_PROBE = """
import json, resource, subprocess, sys
try:
    r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)
    rc, err = r.returncode, r.stderr
except subprocess.TimeoutExpired:
    rc, err = "timeout", ""
print(json.dumps({"rc": rc, "err": err, "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}))
"""


def test_huge_batch_with_a_broken_third_line_is_refused_at_once_in_flat_memory(tmp_path):
    big = _batch(tmp_path / "big.jsonl", 100_000, broken={3})
    assert big.stat().st_size > 100 * 1024 * 1024
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [*MSEDOCS, "render", str(big), "--all", "--format", "xml", "--out", str(out)]
    probe = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(probe.stdout)
    assert report["rc"] == 2, report  # well within the 60 s of the probe
    err = report["err"]
    assert f"{big}:3: (record): invalid JSON" in err, err
    assert f"checking stopped at {big}:1003 after 1 invalid case(s)" in err, err
    assert report["rss_mb"] < 300, report
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["big.jsonl"]


def test_batch_with_a_case_id_twice_is_refused_naming_both(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    text = (CASES_DIR / "adult_first_group_ii.json").read_text(encoding="utf-8")
    (folder / "a.json").write_text(text, encoding="utf-8")
    (folder / "b.json").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["render", str(folder), "--all", "--format", "xml", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'b.json'}: case_id: the same case_id as {folder / 'a.json'}" in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cases"]


def test_batch_renders_case_by_case_and_renders_again_over_its_output(tmp_path, capsys):
    batch = _batch(tmp_path / "two.jsonl", 2)
    out = tmp_path / "out"
    for _ in range(2):
        assert main(["render", str(batch), "--all", "--format", "xml", "--out", str(out)]) == 0
        printed = capsys.readouterr().out.split()
        assert printed == [str(out / f"BY-{n:06d}" / "by-referral.xml") for n in (1, 2)]
        assert sorted(p.name for p in out.iterdir()) == ["BY-000001", "BY-000002"]
        for n in (1, 2):
            manifest = json.loads((out / f"BY-{n:06d}" / "manifest.json").read_text())
            assert manifest["case_id"] == f"BY-{n:06d}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "two.jsonl"]  # no staging folder left


def test_queue_that_cannot_open_the_outbox_renders_nothing(tmp_path):
    not_a_db = tmp_path / "outbox.txt"
    not_a_db.write_text("not a database\n")
    out = tmp_path / "out"
    case = CASES_DIR / "ru_not_recognised_portal.json"
    result = run(["render", str(case), "--form", "ru-extract", "--sign", "--queue", "--db", f"sqlite:///{not_a_db}",
                  "--pki", str(tmp_path / "pki"), "--out", str(out)])  # fmt: skip
    assert result.returncode != 0 and "outbox.txt" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "pki").exists()  # refused before signing or rendering


def test_queue_of_a_case_without_delivery_is_refused_before_rendering(tmp_path, capsys):
    out = tmp_path / "out"
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0
    code = main(["render", str(CASES_DIR / "adult_first_group_ii.json"), "--all", "--sign", "--queue",
                 "--db", url, "--out", str(out)])  # fmt: skip
    assert code == 2
    assert "delivery: is required to queue the documents" in capsys.readouterr().err
    assert not out.exists()


def test_queue_failing_after_rendering_leaves_no_output(tmp_path, capsys, monkeypatch):
    from msedocs import queueing
    from msedocs.errors import DeliveryError

    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0

    def refuse(*args, **kwargs):
        raise DeliveryError("the outbox went away")

    monkeypatch.setattr(queueing, "queue_cases", refuse)
    out = tmp_path / "out"
    case = CASES_DIR / "ru_not_recognised_portal.json"
    code = main(["render", str(case), "--form", "ru-extract", "--format", "xml", "--sign", "--queue",
                 "--db", url, "--pki", str(tmp_path / "pki"), "--out", str(out)])  # fmt: skip
    assert code == 1 and "the outbox went away" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def _two_russian_cases(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("ru_not_recognised_portal.json", "ru_not_recognised_paper_mail.json"):
        (folder / name).write_bytes((CASES_DIR / name).read_bytes())
    return folder


def test_a_document_queued_once_is_not_queued_again(tmp_path, capsys):
    """A second `render --queue` of a case whose extract is in the outbox is refused before
    rendering (the extract would otherwise go out twice), for the whole batch: nothing written,
    nothing queued, the item named."""
    from msedocs.delivery import Outbox

    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0
    common = ["--form", "ru-extract", "--format", "xml,pdf", "--sign", "--queue", "--db", url,
              "--pki", str(tmp_path / "pki")]  # fmt: skip
    assert main(["render", str(CASES_DIR / "ru_not_recognised_portal.json"), *common,
                 "--out", str(tmp_path / "first")]) == 0  # fmt: skip
    capsys.readouterr()
    code = main(["render", str(_two_russian_cases(tmp_path)), *common, "--out", str(tmp_path / "again")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "ru_not_recognised_portal.json: (outbox) ru-extract.pdf: is already queued for this case as outbox item 1" \
        in err
    assert "ru_not_recognised_paper_mail" not in err  # the other case could be queued
    assert not (tmp_path / "again").exists()
    with Outbox(url) as outbox:
        assert outbox.counts()["queued"] == 1


def test_a_batch_is_queued_all_or_none(tmp_path, capsys, monkeypatch):
    """The second case of a batch failing in the outbox leaves the first unqueued too (one
    transaction), and no files: a run can simply be repeated, and nothing goes out twice."""
    from msedocs import queueing
    from msedocs.delivery import Outbox
    from msedocs.errors import DeliveryError

    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0
    real = queueing.request_for
    seen: list[str] = []

    def second_fails(case, signed, paper):
        seen.append(case.case_id)
        if len(seen) == 2:
            raise DeliveryError("the outbox refused the second case")
        return real(case, signed, paper)

    monkeypatch.setattr(queueing, "request_for", second_fails)
    out, folder = tmp_path / "out", _two_russian_cases(tmp_path)
    code = main(["render", str(folder), "--form", "ru-extract", "--format", "xml", "--sign",
                 "--queue", "--db", url, "--pki", str(tmp_path / "pki"), "--out", str(out)])  # fmt: skip
    assert code == 1 and "the outbox refused the second case" in capsys.readouterr().err
    assert len(seen) == 2 and not out.exists()
    with Outbox(url) as outbox:
        assert outbox.counts()["queued"] == 0
    monkeypatch.setattr(queueing, "request_for", real)  # the same run again now queues both
    assert main(["render", str(folder), "--form", "ru-extract", "--format",
                 "xml", "--sign", "--queue", "--db", url, "--pki", str(tmp_path / "pki"), "--out", str(out)]) == 0
    with Outbox(url) as outbox:
        assert outbox.counts()["queued"] == 2


#: A synthetic name typed into fields where it does not belong.
NAME = "Зьміцер-Тэставы Квазімодавіч"


@pytest.mark.parametrize(
    "where",
    [
        "patient.sex",
        "jurisdiction",
        "referral.place",
        "referral.kinds.0",
        "decision.group",
        "decision.date",
        "patient.insurance.snils",
        "patient.insurance.oms_policy",
        "patient.id_number",
        "patient.birth_date",
        "referral.diagnosis.icd10.0",
        "patient.contacts.phones.0",
        "patient.contacts.email",
        "case_id",
        "patient.addresses.registration.postcode",
        "referral.activity_limits.0.fc",
        "decision.recognised",
        "examination.outcomes.0",
        "schema_version",
        "referral.diagnosis.main",
    ],
)
def test_personal_data_typed_in_the_wrong_place_is_never_echoed(where, tmp_path, capsys):
    data = json.loads((CASES_DIR / "adult_first_group_ii.json").read_text(encoding="utf-8"))
    node = data
    *parents, leaf = where.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    value = NAME * 400 if where == "referral.diagnosis.main" else NAME  # too long: its length, not its text
    if leaf.isdigit():
        node[int(leaf)] = value
    else:
        node[leaf] = value
    case = tmp_path / "case.json"
    case.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["render", str(case), "--all", "--format", "xml", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert where.split(".")[-1 if not leaf.isdigit() else -2] in err, err
    assert "Зьміцер" not in err and "Квазімодавіч" not in err, err


@pytest.mark.parametrize(
    "command",
    [
        ["journal", "by-journal-protocols", "--from", "2026-01-01", "--to", "2026-12-31", "--cases"],
        ["protocol", "--cases"],
    ],
    ids=["journal", "protocol"],
)
def test_journal_and_protocol_refuse_a_case_twice(command, tmp_path, capsys):
    """The same act twice would be two rows of the register, two blocks of the protocol."""
    folder = tmp_path / "cases"
    folder.mkdir()
    text = (CASES_DIR / "adult_first_group_ii.json").read_text(encoding="utf-8")
    for name in ("a.json", "b.json"):
        (folder / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main([*command, str(folder), "--format", "xml", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'b.json'}: case_id: the same case_id as {folder / 'a.json'}" in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", [["journal", "by-journal-protocols", "--from", "2026-01-01", "--to", "2026-12-31",
                                      "--cases"], ["protocol", "--cases"]], ids=["journal", "protocol"])  # fmt: skip
def test_journal_and_protocol_refuse_an_empty_jsonl(command, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert main([*command, str(empty), "--out", str(tmp_path / "out")]) == 2
    assert f"{empty}: no cases in this file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
