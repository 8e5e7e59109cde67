"""msedocs.zygote: what the fork server prepares before batch workers are forked from it."""

from __future__ import annotations

import json
import subprocess
import sys

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
print(json.dumps({{
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


def test_the_fork_server_prepares_templates_and_the_stamp_font_without_a_thread():
    """Every bundled DOCX template prepared (the samples reach each form), the stamp's font
    rescaled, the collector frozen, and still one thread: a fork copies only the calling
    thread, so a thread started here would leave the workers with locks nobody releases."""
    for engine, modules in WORKER_MODULES.items():
        assert modules[-1] == "msedocs.zygote", engine  # last, so that it freezes what the others loaded
        probe = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules)], capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr[-2000:]
        seen = json.loads(probe.stdout)
        assert seen["threads"] == 1 and seen["tasks"] == 1, (engine, seen)
        assert seen["prepared"] == seen["with_docx"] >= 9 and seen["whole"] == 0, (engine, seen)
        assert seen["fonts"] == [seen["stamp_font"]], (engine, seen)  # the font msedocs stamps in
        assert seen["stamp_font"].endswith("LiberationSerif-Regular.ttf"), seen
        assert seen["frozen"] > 10_000, (engine, seen)
