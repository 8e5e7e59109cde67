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
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


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


def prepare() -> None:
    """Everything above, each step on its own (one that fails leaves the others done)."""
    for step in (_stamp_font, _docx_templates):
        try:
            step()
        except Exception:  # an optimisation only: the worker meets the same problem and reports it
            log.debug("zygote: %s failed", step.__name__, exc_info=True)
    gc.freeze()


prepare()
