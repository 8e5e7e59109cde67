"""`render --sign --queue` checks what the outbox needs of every case of a batch (decision,
delivery, documents not queued yet) before anything is written: a Belarusian case among Russian
ones stops the whole batch with its file named and why, and no file, PKI or outbox item is made."""

from __future__ import annotations

from msedocs.cli import main
from msedocs.delivery import Outbox
from tests.conftest import CASES_DIR


def test_a_belarusian_case_in_a_queued_batch_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("adult_first_group_ii.json", "ru_not_recognised_paper_mail.json"):
        (folder / name).write_bytes((CASES_DIR / name).read_bytes())
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert main(["queue", "init", "--db", url]) == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    code = main(["render", str(folder), "--all", "--sign", "--queue", "--db", url, "--pki", str(tmp_path / "pki"),
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{folder / 'adult_first_group_ii.json'}: delivery: is required to queue the documents" in err, err
    assert "ru_not_recognised_paper_mail" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no PKI, no staging folder
    with Outbox(url) as ob:
        assert sum(ob.counts().values()) == 0
