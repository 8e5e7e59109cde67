"""The referral (appendix 10) and the MREK conclusion (appendix 11): items, options, tables."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from msedocs.contract import Item
from msedocs.forms.conclusion import CONCLUSION
from msedocs.forms.referral import PRINTED_PURPOSES, REFERRAL, DisabilityStatusBefore
from msedocs.forms.slip import SLIP
from msedocs.model.case import Case
from msedocs.model.load import load_case

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fixtures" / "cases").glob("*.json"))
BASE = ROOT / "fixtures" / "cases" / "adult_first_group_ii.json"
XML_NAME = re.compile(r"^(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9_.-]*$")


# --- synthetic variants of the adult case, for the parts the fixture does not cover --------------


def _child_with_representative(d: dict[str, Any]) -> None:
    d["case_id"] = "SYN-child"
    d["patient"]["birth_date"] = "2015-03-10"
    d["patient"]["identity_document"] = None
    d["patient"]["family_composition"] = "мать, отец, сестра 2010 г.р."
    d["representative"] = {
        "name": {"last": "Ковалёва", "first": "Ірына", "middle": "Пятроўна"},
        "addresses": {"registration": {"postcode": "220004", "line": "г. Минск, ул. Сухая, д. 7, кв. 12"}},
        "contacts": {"phones": ["+375 29 000-00-02"]},
        "identity_document": {
            "kind": "паспорт",
            "series": "MP",
            "number": "0000002",
            "issuer": "Московское РУВД г. Минска",
            "issue_date": "2012-01-15",
        },
        "basis": "мать",
    }
    r = d["referral"]
    r["status_before"] = {"degree": "2"}
    r["kinds"] = ["repeated"]
    r["information_sources"] = ["representative", "documents"]
    r["incapacity"] = []
    r["ipmra_fulfilment"] = None
    r["purposes"] = ["reexamination", "onset_time"]
    r["purpose_other"] = "по запросу управления по труду, занятости и социальной защите"
    d["examination"]["presence"] = "in_absentia"
    d["examination"]["kind"] = "repeated"
    dec = d["decision"]
    dec.update(
        group=None,
        degree="3",
        cause="ребенок-инвалид",
        supplements=["none"],
        programmes_formed=["ipra_child"],
        labour=None,
        onset_date="2020-05-01",
        constant_care="нуждается",
    )


def _not_recognised_central(d: dict[str, Any]) -> None:
    d["case_id"] = "SYN-not-recognised"
    d["commission"]["central"] = True
    d["referral"]["status_before"] = {"group": "III"}
    d["referral"]["purposes"] = ["reexamination", "work_capacity_loss"]
    dec = d["decision"]
    dec.update(
        recognised=False,
        group=None,
        cause=None,
        valid_from=None,
        valid_until=None,
        certificate_issued=None,
        programmes_formed=[],
        supplements=["none"],
        labour=None,
        work_capacity_loss={
            "cases": [
                {
                    "percent": 30,
                    "case": "несчастный случай на производстве",
                    "case_date": "2025-02-03",
                    "document": "акт о несчастном случае на производстве формы Н-1 № 5",
                },
                {
                    "percent": 20,
                    "case": "профессиональное заболевание",
                    "case_date": "2026-01-10",
                    "document": "акт о профессиональном заболевании № 2",
                },
            ],
            "total_percent": 40,
            "valid_from": "2026-11-03",
            "no_term": True,
        },
        review={
            "commission": "Вторая Минская городская МРЭК",
            "date": "2026-09-01",
            "number": "311",
            "result": "cancelled",
        },
    )


def _no_term(d: dict[str, Any]) -> None:
    d["case_id"] = "SYN-no-term"
    d["decision"].update(
        valid_until=None, no_term=True, missed_period={"start": "2026-01-01", "end": "2026-03-31"}
    )


def _referral_only(d: dict[str, Any]) -> None:
    d["case_id"] = "SYN-referral-only"
    d["examination"] = None
    d["decision"] = None
    d["referral"]["place"] = "health_organisation"
    d["referral"]["place_other"] = "неврологическое отделение"


def _decision_without_conclusion(d: dict[str, Any]) -> None:
    d["case_id"] = "SYN-no-conclusion"
    d["decision"]["conclusion"] = None


VARIANTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "child_with_representative": _child_with_representative,
    "not_recognised_central": _not_recognised_central,
    "no_term": _no_term,
    "referral_only": _referral_only,
    "decision_without_conclusion": _decision_without_conclusion,
}


def _variant(name: str) -> Case:
    data = json.loads(BASE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    VARIANTS[name](data)
    return load_case(data, name=name)


def _cases() -> Iterator[Any]:
    for path in FIXTURES:
        if not path.stem.startswith("ru_"):  # Belarusian forms
            yield pytest.param(lambda p=path: load_case(p), id=path.stem)
    for name in VARIANTS:
        yield pytest.param(lambda n=name: _variant(n), id=f"synthetic-{name}")


CASES = list(_cases())


# --- helpers -------------------------------------------------------------------------------------


def _by_no(items: Sequence[Item]) -> dict[str, Item]:
    out: dict[str, dict[str, Any]] = {}

    def walk(level: Sequence[Item]) -> None:
        for it in level:
            if it.no:
                out[it.no] = it
            walk(it.children)

    walk(items)
    return out


def _by_key(items: Sequence[Item]) -> dict[str, Item]:
    return {it.key: it for it in items}


def _child(item: Item, key: str) -> Item:
    return _by_key(item.children)[key]


def _selected(item: Item) -> list[str]:
    return [o.value for o in item.options if o.selected]


def _check_keys(items: Sequence[Item]) -> None:
    keys = [it.key for it in items]
    assert len(keys) == len(set(keys)), keys
    for it in items:
        assert XML_NAME.match(it.key), it.key
        for col in it.table.columns if it.table else ():
            assert XML_NAME.match(col.key), col.key
        _check_keys(it.children)


def _empty(item: Item) -> bool:
    return item.value in (None, [], "") and all(_empty(ch) for ch in item.children)


# --- the referral --------------------------------------------------------------------------------


@pytest.mark.parametrize("load", CASES)
def test_referral(load: Callable[[], Case]) -> None:
    case = load()
    assert REFERRAL.applies_to(case)
    data = REFERRAL.data(case)
    r = case.referral
    assert data.form_id == "by-referral"
    _check_keys(data.header)
    _check_keys(data.items)

    header = _by_key(data.header)
    assert list(header) == ["organisationName", "organisationAddress", "vkkDecisionDate", "place"]
    assert header["vkkDecisionDate"].value == r.vkk_decision_date.isoformat()
    assert header["place"].value == r.place.value
    assert _selected(header["place"]) == [r.place.value]
    assert header["place"].other == r.place_other

    numbers = [it.no for it in data.items if it.no]
    assert numbers == [str(n) for n in range(1, 32)]
    assert [it.key for it in data.items if not it.no] == [
        "phones",
        "representativePhones",
        "ipmraFulfilment",
    ]
    items = _by_no(data.items)
    assert [items[n].no for n in ("27.1", "27.2", "27.3")] == ["27.1", "27.2", "27.3"]
    for no in ("9", "13"):
        assert [ch.key for ch in items[no].children] == ["kind", "series", "number", "issuer", "issueDate"]
    doc = case.patient.identity_document
    if doc is not None:  # item 9 prints the kind of document as well as its series and number
        assert [ch.display for ch in items["9"].children][:3] == [doc.kind, doc.series or "", doc.number]
    assert items["13"].label_end == ","  # «…законного представителя пациента¹, серия»

    # choices
    assert items["4"].value == case.patient.sex.value
    assert items["15"].multi is True
    assert set(items["15"].value) == {k.value for k in r.kinds}
    assert set(items["20"].value) == {s.value for s in r.information_sources}
    assert items["20"].other == r.information_documents
    assert items["30"].value == (r.prognosis.value if r.prognosis else None)
    ipmra = _by_key(data.items)["ipmraFulfilment"]
    assert ipmra.value == (r.ipmra_fulfilment.value if r.ipmra_fulfilment else None)
    status = r.status_before
    expected = (
        f"group_{status.group.value}"
        if status.group
        else f"degree_{status.degree.value}"
        if status.degree
        else DisabilityStatusBefore.NOT_DISABLED.value
    )
    assert items["14"].value == expected and _selected(items["14"]) == [expected]
    printed = {m.value for m in PRINTED_PURPOSES}
    assert set(items["31"].value) == {p.value for p in r.purposes} & printed
    not_printed = [p.label for p in r.purposes if p.value not in printed]
    for text in not_printed + ([r.purpose_other] if r.purpose_other else []):
        assert text in (items["31"].other or "")

    # table 22 and its total
    t22 = items["22"]
    assert t22.footnote == 2 and t22.table.total_label == "Всего дней временной нетрудоспособности:"
    assert [c.key for c in t22.table.columns] == ["number", "start", "end", "days", "diagnosis"]
    assert len(t22.table.rows) == len(r.incapacity)
    assert [row.cell("number").value for row in t22.table.rows] == list(range(1, len(r.incapacity) + 1))
    assert sum(row.cell("days").value for row in t22.table.rows) == sum(p.days for p in r.incapacity)
    if r.incapacity:
        assert int(t22.table.total) == sum(p.days for p in r.incapacity)
    else:
        assert not t22.table.total
    assert len(items["23"].table.rows) == len(r.hospitalisations)
    assert [c.key for c in items["23"].table.columns] == ["start", "end", "place", "diagnosis"]

    # 27-29
    assert items["27.1"].display == ", ".join(r.diagnosis.icd10)
    assert len(items["28"].table.rows) == len(r.impairments)
    fc = {o.value: o for o in items["29"].options if o.selected}
    assert fc.keys() == {a.category.value for a in r.activity_limits}
    assert items["29"].label.startswith("Предварительная оценка ограничений категорий жизнедеятельности")

    # representative: items 10-13 marked with footnote 1, empty without a representative
    rep_items = [items[n] for n in ("10", "11", "12", "13")] + [
        _by_key(data.items)["representativePhones"]
    ]
    assert all(items[n].footnote == 1 for n in ("10", "11", "12", "13"))
    if case.representative is None:
        assert all(_empty(it) for it in rep_items)
    else:
        assert items["10"].value == case.representative.name.full
        assert items["11"].value == str(case.representative.addresses.registration)
        assert items["12"].value
        if case.representative.identity_document:
            assert _child(items["13"], "number").value == case.representative.identity_document.number

    # signatures, footnotes, the slip after the cut line
    sig = {s.role: s for s in data.signatures}
    assert sig["vkk_chairman"].seal is True
    assert sig["vkk_chairman"].names == (r.vkk.chairman.initials,)
    assert sig["vkk_member"].names == (tuple(m.initials for m in r.vkk.members) or ("",))
    assert [f[0] for f in data.footnotes] == ["1", "2", "3"]
    assert data.slip == SLIP.data(case)
    assert data.slip.form_id == "by-referral-slip"


# --- the conclusion ------------------------------------------------------------------------------


@pytest.mark.parametrize("load", CASES)
def test_conclusion(load: Callable[[], Case]) -> None:
    case = load()
    d = case.decision
    applies = d is not None and d.conclusion is not None
    assert CONCLUSION.applies_to(case) is applies
    if not applies:
        return
    assert d is not None and d.conclusion is not None
    data = CONCLUSION.data(case)
    _check_keys(data.header)
    _check_keys(data.items)

    header = _by_key(data.header)
    assert list(header) == ["commissionName", "issue", "sent"]
    assert header["commissionName"].label[:1].islower()  # printed as a caption above the title
    assert not header["issue"].label and header["issue"].inline
    assert _child(header["issue"], "number").value == d.conclusion.number
    assert _child(header["issue"], "date").value == d.conclusion.date.isoformat()
    assert _child(header["sent"], "date").value == d.conclusion.sent_date.isoformat()
    assert _child(header["sent"], "addressee").value == d.conclusion.sent_to

    assert [it.no for it in data.items] == [str(n) for n in range(1, 22)]
    items = _by_no(data.items)
    for sub in ("9.1", "9.2", "10.1", "10.2", "11.1", "11.2", "11.3", "11.4", "15.1", "15.2"):
        assert sub in items
    for no in ("11.1", "11.2", "11.3"):  # one blank each, no sub-labels of our own
        assert items[no].kind == "text" and items[no].children == ()
    assert _child(header["sent"], "addressee").caption == "(наименование органа, организации)"

    e = case.examination
    assert items["6"].multi
    assert items["6"].value == ((e.kind.value, e.presence.value) if e else ())

    adult = (case.age_at_decision or 0) >= 18
    if adult:
        assert items["9.1"].value == (d.group.label if d.group else None)
        assert items["9.2"].value == d.cause
        assert items["10.1"].value is None and items["10.2"].value is None
    else:
        assert items["10.1"].value == (d.degree.label if d.degree else None)
        assert items["10.2"].value == d.cause
        assert items["9.1"].value is None and items["9.2"].value is None

    w = d.work_capacity_loss
    for i, no in enumerate(("11.1", "11.2", "11.3")):
        ic = w.cases[i] if w and len(w.cases) > i else None
        if ic is None:
            assert items[no].value is None
        else:
            assert items[no].value.startswith(f"{ic.percent} %, {ic.case}")
    assert items["11.4"].value == (w.total_percent if w else None)

    assert items["12"].multi and set(items["12"].value) == {s.value for s in d.supplements}
    assert items["14"].multi and set(items["14"].value) == {p.value for p in d.programmes_formed}
    mp = d.missed_period
    assert _child(items["13"], "from").value == (mp.start.isoformat() if mp else None)
    assert items["18"].value == (d.onset_date.isoformat() if d.onset_date else None)

    v19 = items["19"]
    assert _child(v19, "until").value == (d.valid_until.isoformat() if d.valid_until else None)
    assert _child(v19, "noTerm").value == ("no_term" if d.no_term else None)
    assert _child(items["20"], "noTerm").value == ("no_term" if w and w.no_term else None)

    rv = d.review
    assert _child(items["21"], "result").value == (rv.result.value if rv else None)
    assert _child(items["21"], "commission").value == (rv.commission if rv else None)

    (sig,) = data.signatures
    assert sig.role == "chairman" and sig.seal and sig.seal_footnote == 1
    assert sig.name_first  # «(инициалы, фамилия) (подпись)», line 2232
    assert data.footnotes == ("1 Печать проставляется при оформлении заключения МРЭК на бумажном носителе.",)


def test_variants_cover_the_cases_of_interest() -> None:
    child = _variant("child_with_representative")
    assert child.representative is not None and (child.age_at_decision or 0) < 18
    assert not CONCLUSION.applies_to(_variant("referral_only"))
    assert not CONCLUSION.applies_to(_variant("decision_without_conclusion"))


def test_forms_registered() -> None:
    from msedocs.forms import REGISTRY

    assert REGISTRY["by-referral"] is REFERRAL
    assert REGISTRY["by-conclusion"] is CONCLUSION
