"""What batch workers are forked from: imported by name into multiprocessing's fork server
(:data:`msedocs.workers.WORKER_MODULES`, last), before the server forks its first worker.

Importing this module prepares, once for every worker the server forks, what is the same in all
of them and costly the first time in each (measured 7 December 2026, one core of this VM):

- the visible stamp's font (:data:`msedocs.sign.STAMP_FONT`, the forms' Liberation Serif, subset
  and rescaled by fontTools for pyHanko: about 0.15 s);
- every bundled form's DOCX template (opened by python-docx, cleaned up by docxtpl, compiled by
  Jinja, its unchanging parts written once: 30-80 ms a template, 0.4 s for the nine a national
  day uses), by rendering each form's DOCX once for the first bundled sample case it applies to;

then freezes the garbage collector's view of everything loaded (``gc.freeze``), so that a
forked worker's collections neither walk nor copy the shared pages.

Nothing here starts a thread or opens a key, which a fork would not carry over safely: Typst's
compiler starts threads at its first compile and stays each worker's, as do the signing keys
(they are the batch's, not the server's). A failure here only costs the workers their head
start: each prepares what it needs when it first needs it, and reports any real problem then.

What these steps produce is kept on disk (:mod:`msedocs.cachedir`, ``worker-state-<key>.marshal``:
the templates' prepared parts, the Jinja code compiled for them, the rescaled font) and adopted
by the next run's server instead of being made again (a few milliseconds instead of 0.6 s,
measured 8 December 2026). The key is a digest of everything the result depends on: the Python
bytecode's magic number, the versions of docxtpl, python-docx, Jinja2, lxml, fontTools and
pyHanko, the code that prepares (``generators/docx.py``, ``signing/pades.py``), every bundled
template and the font; any change makes a new key (and the file of the old one is removed), and
a file that cannot be read or adopted is made again.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import importlib.util
import logging
import marshal
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Where this process's workers' preparations came from: "cache", "made" (and written to the
#: cache), or "made, not cached" (no cache folder this user alone can write).
origin = ""


def _stamp_font() -> None:
    from signing.pades import prepare_stamp_font

    from .sign import STAMP_FONT

    prepare_stamp_font(STAMP_FONT)


def _docx_templates() -> None:
    from generators import docx as docx_gen

    from .forms import REGISTRY
    from .model import load_case
    from .pipeline import render_form
    from .synth import samples

    pending = {form_id for form_id in REGISTRY if docx_gen.has_template(form_id)}
    for sample in samples():
        if not pending:
            return
        case = load_case(sample)
        for form_id in sorted(pending):
            spec = REGISTRY[form_id]
            if spec.applies_to(case):
                render_form(case, spec, ("docx",), paper=False)
                pending.discard(form_id)


def state_key() -> str:
    """The digest naming the cached preparations (see the module's docstring)."""
    from generators import docx as docx_gen
    from signing import pades

    from .sign import STAMP_FONT

    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    for module in ("docxtpl", "docx", "jinja2", "lxml", "fontTools", "pyhanko.version"):
        digest.update(f"{module}={importlib.import_module(module).__version__};".encode())
    templates = sorted(docx_gen.TEMPLATES_DIR.glob("*/form.docx"))
    for path in (Path(docx_gen.__file__), Path(pades.__file__), *templates, STAMP_FONT):
        digest.update(f"{path.parent.name}/{path.name}:".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def _state() -> dict[str, Any]:
    from generators import docx as docx_gen
    from signing import pades

    return {"docx": docx_gen.prepared_state(), "fonts": pades.prepared_stamp_fonts()}


def _adopt(data: bytes) -> None:
    from generators import docx as docx_gen
    from signing import pades

    state = marshal.loads(data)
    docx_gen.adopt_state(state["docx"])
    pades.adopt_stamp_fonts(state["fonts"])


def prepare() -> None:
    """Everything above, adopted from the cache when it holds it; otherwise each step on its own
    (one that fails leaves the others done), and the result cached."""
    global origin
    from . import cachedir

    try:
        name: str | None = f"worker-state-{state_key()}.marshal"
    except Exception:  # a file the key is made of cannot be read: prepare without the cache
        log.debug("zygote: no cache key", exc_info=True)
        name = None
    data = cachedir.read_private(name) if name else None
    if data is not None:
        try:
            _adopt(data)
            origin = "cache"
        except Exception:  # a damaged or foreign file: made again and replaced
            log.debug("zygote: cached state not adopted", exc_info=True)
    if origin != "cache":
        for step in (_stamp_font, _docx_templates):
            try:
                step()
            except Exception:  # an optimisation only: the worker meets the same problem and reports it
                log.debug("zygote: %s failed", step.__name__, exc_info=True)
        origin = "made, not cached"
        if name:
            try:
                kept = cachedir.write(name, marshal.dumps(_state()))
                origin = "made"
                for stale in kept.parent.glob("worker-state-*.marshal"):  # an earlier version's
                    if stale != kept:
                        stale.unlink(missing_ok=True)
            except (OSError, ValueError):  # no folder to write to; a value marshal cannot write
                log.debug("zygote: state not cached", exc_info=True)
    gc.freeze()


prepare()
