"""`render --workers N`: a batch rendered by spawned, recycled worker processes gives the same
files as one process, in input order, all or nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from msedocs import pipeline
from msedocs import workers as batch_workers
from msedocs.cli import main
from msedocs.errors import MsedocsError
from tests.conftest import CASE_FILES, case, require_tool

#: Belarusian and Russian fixtures, every kind of form between them (kept short: 2 shared cores).
NAMES = ["adult_first_group_ii", "child_with_representative", "referral_only", "ru_not_recognised_portal"]


def _jsonl(path: Path, names: list[str]) -> Path:
    lines = [json.dumps(json.loads((CASE_FILES[0].parent / f"{n}.json").read_text("utf-8")), ensure_ascii=False)
             for n in names]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _pdf_text(path: Path) -> str:
    out = subprocess.run([require_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def test_workers_1_and_2_give_identical_xml_and_pdf_text(tmp_path, capsys):
    batch = _jsonl(tmp_path / "cases.jsonl", NAMES)
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"out{workers}"
        assert main(["render", str(batch), "--all", "--format", "xml,pdf", "--out", str(outs[workers]),
                     "--workers", str(workers)]) == 0  # fmt: skip
        printed = capsys.readouterr().out.split()
        assert printed[0].startswith(str(outs[workers]))
    one, two = outs[1], outs[2]
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert sum(1 for f in files if f.suffix == ".pdf") >= len(NAMES)
    for f in files:
        if f.suffix == ".xml":
            assert (one / f).read_bytes() == (two / f).read_bytes(), f
        elif f.suffix == ".pdf":
            assert _pdf_text(one / f) == _pdf_text(two / f), f
    for name in NAMES:  # each case's manifest lists the same files (sizes of the XML too)
        case_id = case(name).case_id
        m1 = json.loads((one / case_id / "manifest.json").read_text("utf-8"))
        m2 = json.loads((two / case_id / "manifest.json").read_text("utf-8"))
        assert [e["file"] for e in m1["files"]] == [e["file"] for e in m2["files"]]


def test_pool_keeps_input_order_across_recycled_workers():
    cases = [case(n) for n in NAMES + NAMES[:2]]
    got = list(pipeline.render_batch(cases, ("xml",), workers=2, tasks_per_worker=1))
    assert [c.case_id for c, _ in got] == [c.case_id for c in cases]
    serial = list(pipeline.render_batch(cases, ("xml",), workers=1))
    assert [[d.content for d in docs] for _, docs in got] == [[d.content for d in docs] for _, docs in serial]


def test_a_failing_case_in_a_worker_is_raised_and_nothing_is_written(tmp_path, capsys):
    batch = _jsonl(tmp_path / "cases.jsonl", NAMES[:3])
    out = tmp_path / "out"
    # by-act does not apply to the referral-only case: that worker's error stops the whole batch
    assert main(["render", str(batch), "--form", "by-act", "--format", "xml", "--out", str(out),
                 "--workers", "2"]) == 2  # fmt: skip
    assert "do not apply" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl"]  # no staging folder left


def test_worker_error_keeps_its_type():
    cases = [case(n) for n in NAMES[:3]]
    with pytest.raises(MsedocsError, match="do not apply"):
        list(pipeline.render_batch(cases, ("xml",), ["by-act"], workers=2))


def test_default_workers_one_per_usable_core_for_more_than_a_few_cases(monkeypatch):
    monkeypatch.setattr(batch_workers, "usable_cores", lambda: 2)
    assert [pipeline.default_workers(n) for n in (1, pipeline.FEW_CASES, pipeline.FEW_CASES + 1, 1000)] == [1, 1, 2, 2]
    monkeypatch.setattr(batch_workers, "usable_cores", lambda: 16)
    assert pipeline.default_workers(10) == 10  # never more workers than cases
    monkeypatch.undo()
    import os

    assert 1 <= pipeline.usable_cores() <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert pipeline.usable_cores() == len(os.sched_getaffinity(0))


def test_render_without_workers_uses_the_cores_on_a_batch_and_gives_the_same_files(tmp_path, capsys, monkeypatch):
    names = [p.stem for p in CASE_FILES][: pipeline.FEW_CASES + 1]
    assert len(names) == pipeline.FEW_CASES + 1
    batch = _jsonl(tmp_path / "cases.jsonl", names)
    asked: list[int] = []
    inner = pipeline.render_batch

    def spy(*args, **kwargs):
        asked.append(kwargs["workers"])
        return inner(*args, **kwargs)

    monkeypatch.setattr(pipeline, "render_batch", spy)
    monkeypatch.setattr(batch_workers, "usable_cores", lambda: 2)
    outs = {}
    for label, extra in (("default", []), ("one", ["--workers", "1"])):
        outs[label] = tmp_path / label
        assert main(["render", str(batch), "--all", "--format", "xml", "--out", str(outs[label]), *extra]) == 0
        capsys.readouterr()
    assert asked == [2, 1]
    files = sorted(p.relative_to(outs["one"]) for p in outs["one"].rglob("*.xml"))
    assert len(files) >= len(names)
    assert files == sorted(p.relative_to(outs["default"]) for p in outs["default"].rglob("*.xml"))
    for f in files:
        assert (outs["default"] / f).read_bytes() == (outs["one"] / f).read_bytes(), f
    # a single case file is rendered in this process, whatever the cores
    single = tmp_path / "single"
    assert main(["render", str(CASE_FILES[0]), "--all", "--format", "xml", "--out", str(single)]) == 0
    assert asked[-1] == 1


def test_workers_from_a_fork_server_started_earlier_get_the_batchs_environment(tmp_path, monkeypatch):
    """Workers are forked from a fork server (Linux) that outlives a batch; a key's password set
    after the server started still reaches them, as it reaches a spawned worker."""
    from msedocs.sign import SigningOptions, load
    from signing.pki import DEFAULT_TEST_PASSWORD, init_pki

    assert batch_workers.worker_context("typst").get_start_method() == "forkserver"
    pki = init_pki(tmp_path / "pki")
    roles = json.loads((pki.dir / "pki.json").read_text(encoding="utf-8"))["roles"]
    config = tmp_path / "signing.toml"
    config.write_text('[signing]\nlevel = "B-B"\n' + "".join(
        f'[signing.signers.{role}]\ntitle = "{about["title"]}"\npkcs12 = "{pki.key_path(role)}"\n'
        'password_env = "MSEDOCS_TEST_KEY_PASSWORD"\n' for role, about in roles.items()
    ), encoding="utf-8")  # fmt: skip
    monkeypatch.delenv("MSEDOCS_TEST_KEY_PASSWORD", raising=False)
    batch_workers.start_worker_server("typst")  # started (or already running) without the password
    monkeypatch.setenv("MSEDOCS_TEST_KEY_PASSWORD", DEFAULT_TEST_PASSWORD)
    profile = load(SigningOptions(config=config))
    got = list(pipeline.render_batch([case(n) for n in NAMES[:2]], ("xml",), workers=2, profile=profile))
    assert [c.case_id for c, _ in got] == [case(n).case_id for n in NAMES[:2]]
    for _, docs in got:
        assert docs and all(b"<ds:Signature" in d.content for d in docs if d.filename.endswith(".xml"))


PRESTART = """
import sys
from multiprocessing import forkserver
from pathlib import Path

import msedocs.cli  # what the msedocs program loads before its command runs
from msedocs import workers

workers.prestart(Path(sys.argv[1]), None if sys.argv[2] == "-" else int(sys.argv[2]), "typst")
started = forkserver._forkserver._forkserver_pid is not None
print(started, "msedocs.pipeline" in sys.modules, "msedocs.model" in sys.modules)
"""


def test_render_starts_a_batchs_fork_server_before_loading_the_pipeline(tmp_path):
    """``msedocs render`` starts the fork server of a batch that will have workers before it
    loads the pipeline, the forms or the case model (its imports run beside theirs); a few
    cases, one worker or a single case file start none."""
    import subprocess
    import sys

    many = _jsonl(tmp_path / "many.jsonl", [p.stem for p in CASE_FILES][: pipeline.FEW_CASES + 1])
    few = _jsonl(tmp_path / "few.jsonl", NAMES[:2])
    single = CASE_FILES[0]
    seen = {}
    for label, path, asked in (("many", many, "-"), ("few", few, "-"), ("few, -j 2", few, "2"),
                               ("many, -j 1", many, "1"), ("single", single, "-")):  # fmt: skip
        probe = subprocess.run([sys.executable, "-c", PRESTART, str(path), asked], capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr[-2000:]
        seen[label] = probe.stdout.split()
    assert seen == {
        "many": ["True", "False", "False"],
        "few": ["False", "False", "False"],
        "few, -j 2": ["True", "False", "False"],
        "many, -j 1": ["False", "False", "False"],
        "single": ["False", "False", "False"],
    }
