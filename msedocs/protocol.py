"""The protocol of a commission session over the cases examined in it (appendix 13)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from generators import docx as docx_gen
from generators import pdf as pdf_gen
from generators import xml as xml_gen
from generators.common import RenderedDocument

from .errors import InputError
from .forms.session import PROTOCOL, Session, session_of
from .forms.xsd import SESSION_ACTS
from .model import BatchReader, Case
from .pipeline import parse_formats
from .sign import FormSigner, sign_rendered


def build(
    cases_path: str | Path,
    number: str | None = None,
    date: dt.date | None = None,
    formats: Sequence[str] = ("xml", "pdf", "docx"),
    *,
    paper: bool = True,
    signer: FormSigner | None = None,
) -> list[RenderedDocument]:
    """The protocol of the session ``number``/``date`` (or of the only session in the batch)."""
    formats = parse_formats(formats)
    # Two passes over the batch, neither holding more than the cases of the chosen session:
    # the sessions the batch holds (every case checked, each case_id once), then that session's cases.
    reader = BatchReader(cases_path)
    sessions = {s for s in (session_of(x.case) for x in reader if x.case is not None) if s is not None}
    reader.raise_for_problems("invalid case data; no protocol written")
    chosen = [s for s in sessions if (number is None or s.number == number) and (date is None or s.date == date)]
    if len(chosen) != 1:
        listed = "; ".join(str(s) for s in sorted(sessions, key=lambda s: (s.date, s.number))) or "none"
        what = "no session matches" if not chosen else "several sessions match"
        raise InputError(f"{what}; give --number and --date. Sessions in the batch: {listed}")
    session: Session = chosen[0]
    again = BatchReader(cases_path)
    cases: list[Case] = [x.case for x in again if x.case is not None and session_of(x.case) == session]
    again.raise_for_problems("invalid case data; no protocol written")
    if len(cases) > SESSION_ACTS:
        raise InputError(
            f"session {session}: {len(cases)} acts, more than the {SESSION_ACTS} one protocol holds "
            "(xsd/by-protocol.xsd); no protocol written"
        )
    data = PROTOCOL.data(cases, session)
    xml = xml_gen.render_protocol(data)
    if signer is not None:  # signed before it is embedded in the PDF
        xml = signer.xml(xml)
    docs = []
    for fmt in formats:
        if fmt == "xml":
            content = xml
        elif fmt == "pdf":
            content = pdf_gen.render(data, xml=xml, paper=paper)
        else:
            content = docx_gen.render_protocol(data, paper=paper)
        docs.extend(sign_rendered(signer, PROTOCOL.id, fmt, content))
    return docs
