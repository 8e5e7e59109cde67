"""msedocs.zygote: what the fork server prepares before batch workers are forked from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from msedocs.workers import WORKER_MODULES

PROBE = """
import gc, json, os, threading
import importlib
for name in {modules!r}:
    if name != "__main__":
        importlib.import_module(name)
from generators import docx
from msedocs.forms import REGISTRY
from signing import pades
from msedocs.sign import STAMP_FONT
from msedocs import zygote
from msedocs.synth import samples
from msedocs.model import load_case
from msedocs.pipeline import render_form
import hashlib, io, zipfile
case = load_case(samples()[0])
parts = {{}}
for form_id, spec in sorted(REGISTRY.items()):
    if docx.has_template(form_id) and spec.applies_to(case):
        (doc,) = render_form(case, spec, ("docx",), paper=False)
        with zipfile.ZipFile(io.BytesIO(doc.content)) as z:
            parts[form_id] = hashlib.sha256(b"".join(z.read(n) for n in sorted(z.namelist()))).hexdigest()
print(json.dumps({{
    "origin": zygote.origin,
    "parts": parts,
    "threads": threading.active_count(),
    "tasks": len(os.listdir("/proc/self/task")),
    "prepared": len(docx._prepared),
    "with_docx": sum(1 for f in REGISTRY if docx.has_template(f)),
    "whole": sum(1 for p in docx._prepared.values() if p is docx._WHOLE),
    "fonts": sorted(pades._fonts),
    "stamp_font": str(STAMP_FONT),
    "frozen": gc.get_freeze_count(),
}}))
"""


def probe(modules: tuple[str, ...], cache: Path) -> dict:
    env = {**os.environ, "MSEDOCS_CACHE_DIR": str(cache)}
    run = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def test_the_fork_server_prepares_templates_and_the_stamp_font_without_a_thread(tmp_path):
    """Every bundled DOCX template prepared (the samples reach each form), the stamp's font
    rescaled, the collector frozen, and still one thread: a fork copies only the calling
    thread, so a thread started here would leave the workers with locks nobody releases. The
    same when the preparations come from the cache the first run wrote."""
    for engine, modules in WORKER_MODULES.items():
        assert modules[-1] == "msedocs.zygote", engine  # last, so that it freezes what the others loaded
        cache = tmp_path / engine
        made, adopted = probe(modules, cache), probe(modules, cache)
        assert (made["origin"], adopted["origin"]) == ("made", "cache"), engine
        (state,) = cache.glob("worker-state-*.marshal")
        stale = cache / "worker-state-0123.marshal"  # an earlier version's: removed when a new one is made
        stale.write_bytes(b"old")
        state.unlink()
        assert probe(modules, cache)["origin"] == "made" and state.exists() and not stale.exists()
        for seen in (made, adopted):
            assert seen["threads"] == 1 and seen["tasks"] == 1, (engine, seen)
            assert seen["prepared"] == seen["with_docx"] >= 9 and seen["whole"] == 0, (engine, seen)
            assert seen["fonts"] == [seen["stamp_font"]], (engine, seen)  # the font msedocs stamps in
            assert seen["stamp_font"].endswith("LiberationSerif-Regular.ttf"), seen
            assert seen["frozen"] > 10_000, (engine, seen)
        assert len(made["parts"]) >= 3 and adopted["parts"] == made["parts"], engine  # the same DOCX parts


def test_a_damaged_or_foreign_cache_is_made_again(tmp_path):
    """A cache file that cannot be loaded is made again and replaced; one in a folder that others
    may write to is not used (what it holds is loaded as code)."""
    modules = WORKER_MODULES["typst"]
    cache = tmp_path / "cache"
    assert probe(modules, cache)["origin"] == "made"
    (state,) = cache.glob("worker-state-*.marshal")
    state.write_bytes(state.read_bytes()[:1000])
    assert probe(modules, cache)["origin"] == "made"
    assert probe(modules, cache)["origin"] == "cache"  # replaced whole
    cache.chmod(0o777)
    try:
        assert probe(modules, cache)["origin"] == "made"
    finally:
        cache.chmod(0o700)
