"""Every document the bureau sees of a depersonalised referral holds no value of the eight categories."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import subprocess
import zipfile
from pathlib import Path

from msedocs.model import Case
from msedocs.pipeline import render_package
from msedocs.referrals.store import ReferralStore
from tests.conftest import CASES_DIR, require_tool

from .conftest import incoming


def _values(ref) -> list[str]:
    p = ref.patient
    out = [p.name.last, p.name.first, p.name.middle or "", str(p.addresses.registration), p.addresses.registration.line,
           p.insurance.snils or "", re.sub(r"\D", "", p.insurance.snils or ""), p.insurance.oms_policy or "",
           p.contacts.email or ""]  # fmt: skip
    out += [re.sub(r"\D", "", ph)[-10:] for ph in p.contacts.phones] + list(p.contacts.phones)
    if p.addresses.actual:
        out.append(p.addresses.actual.line)
    if d := p.identity_document:
        out += [d.number, f"{d.series} {d.number}"]
    if r := ref.representative:
        out += [r.name.last, r.name.first, r.addresses.registration.line]
    return [v for v in out if v and len(v) >= 4]


def _decided(case: Case) -> Case:
    sample = json.loads((CASES_DIR / "ru_not_recognised_portal.json").read_text(encoding="utf-8"))
    day = case.referral.date + dt.timedelta(days=5)
    exam = sample["examination"] | {"act_date": day.isoformat(), "start_date": day.isoformat(),
                                    "protocol": {"date": day.isoformat(), "number": "12/2026"}}  # fmt: skip
    data = case.model_dump(mode="json", exclude_none=True) | {
        "examination": exam, "decision": sample["decision"] | {"date": day.isoformat()},
        "extract": {"number": "12/2026-В", "date": (day + dt.timedelta(days=1)).isoformat()},
        "delivery": {"channel": "portal"}}  # fmt: skip
    return Case.model_validate(data)


def test_no_personal_data_in_any_byte_the_bureau_sees(store: ReferralStore, semd_pkg, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    pdftotext = require_tool("pdftotext")
    with_guardian = next(i for i in range(200) if incoming(semd_pkg, i).representative is not None)
    for i in (0, 1, with_guardian):
        ref = incoming(semd_pkg, i)
        res = store.ingest(ref)
        view = json.dumps(store.bureau_view(res.referral_id, res.assignment.bureau_id), ensure_ascii=False)
        case = _decided(store.bureau_case(res.referral_id, res.assignment.bureau_id))
        assert case.depersonalised
        docs = render_package(case, ("xml", "pdf", "docx"))
        assert {d.form_id for d in docs} == {"ru-extract"} and len(docs) == 3
        seen = {"view": view}
        for d in docs:
            if d.format == "xml":
                seen["xml"] = d.content.decode("utf-8")
            elif d.format == "pdf":
                seen["pdf-bytes"] = d.content.decode("latin-1")
                pdf = tmp_path / f"{i}.pdf"
                pdf.write_bytes(d.content)
                seen["pdf-text"] = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True,
                                                  capture_output=True, text=True).stdout  # fmt: skip
            else:
                with zipfile.ZipFile(io.BytesIO(d.content)) as z:
                    seen["docx"] = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        seen["logs"] = caplog.text
        flat = {k: " ".join(v.split()) for k, v in seen.items()}
        for value in _values(ref):
            for where, text in flat.items():
                assert value not in text and " ".join(value.split()) not in text, (i, where, len(value))
        token = case.patient.insurance.snils
        assert token and token.startswith("PD4-")
        assert case.patient.name.last in flat["xml"] and case.patient.name.last in flat["pdf-text"].replace(" ", "")
