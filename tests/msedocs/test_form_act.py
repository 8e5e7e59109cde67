"""The examination act (appendix 3 to the Instruction): items 1-46 evaluated for every fixture."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from msedocs.contract import Document, Item
from msedocs.forms.act import ACT, NO_TERM
from msedocs.forms.spec import format_date
from msedocs.model import Case, load_case

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fixtures" / "cases").glob("*.json"))
BASE = ROOT / "fixtures" / "cases" / "adult_first_group_ii.json"

SUB_ITEMS = (
    "22.1", "22.2", "25.1", "25.2", "31.1", "31.2", "31.3", "32.1", "32.2",
    "33.1", "33.2", "33.3", "33.4", "40.1", "40.2", "43.1", "43.2", "43.3",
)  # fmt: skip
FOOTNOTED = {"13": 1, "25.1": 2, "30": 3, "31.1": 3, "32.1": 4, "33.1": 4}
DATE_DISPLAY = re.compile(
    r"^«\d{2}» (января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря) \d{4} г\.$"
)
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


def _base() -> dict[str, Any]:
    return json.loads(BASE.read_text(encoding="utf-8"))


def _not_recognised() -> dict[str, Any]:
    d = _base()
    dec = d["decision"]
    for key in ("group", "cause", "term_text", "valid_from", "valid_until", "certificate_issued", "labour"):
        dec.pop(key, None)
    dec["recognised"] = False
    dec["supplements"] = ["none"]
    dec["programmes_formed"] = []
    d["examination"]["prognosis"] = None
    dec["justification"] = {"impairments": "легкие нарушения", "limitations": "ФК 1"}
    return d


def _child() -> dict[str, Any]:
    d = _base()
    d["case_id"] = "BY-variant-child"
    d["patient"]["birth_date"] = "2015-03-10"
    d["patient"]["workplace"] = None
    d["patient"]["occupation"] = None
    d["patient"]["contacts"] = {"phones": []}
    d["patient"]["addresses"].pop("actual")
    d["representative"] = {
        "name": {"last": "Ковалёва", "first": "Вольга"},
        "addresses": {"registration": {"line": "г. Минск, ул. Сухая, д. 7, кв. 12"}},
        "basis": "мать",
    }
    e = d["examination"]
    e["kind"] = "repeated"
    e["purposes"] = ["reexamination", "onset_time"]
    e["ipra_medical"] = "full"
    e["ipra_professional"] = "not_done"
    e["ipra_social"] = "partial"
    e.pop("sick_leave")
    e["incapacity_continuous_days"] = None
    e["incapacity_interrupted_days"] = None
    dec = d["decision"]
    dec.pop("group")
    dec["degree"] = "2"
    dec["status_before"] = {"degree": "1"}
    dec["programmes_formed"] = ["ipra_child"]
    dec["onset_date"] = "2020-01-15"
    dec["constant_care"] = "нуждается"
    dec.pop("labour")
    return d


def _central_in_absentia() -> dict[str, Any]:
    d = _base()
    d["case_id"] = "BY-variant-central"
    d["commission"]["central"] = True
    d["commission"]["members"] = []
    e = d["examination"]
    e.update(
        kind="repeated",
        presence="in_absentia",
        place="health_organisation",
        purposes=["reexamination", "work_capacity_loss"],
        purpose_other="по запросу суда",
        central_purposes=["appeal", "correction"],
        central_purpose_other="по жалобе пациента",
        prp_fulfilment="partial",
        additional_exam="refused",
        consultation_rnpc={"result": "done", "details": "диагноз подтвержден"},
        outcomes=["completed", "to_rnpc"],
        outcome_other="иное",
    )
    dec = d["decision"]
    dec.pop("valid_until")
    dec.update(
        group="I",
        no_term=True,
        status_before={"group": "III"},
        cause_before="общее заболевание",
        cause="трудовое увечье",
        term_text="без указания срока переосвидетельствования",
        supplements=["vision", "hearing"],
        missed_period={"start": "2026-01-01", "end": "2026-03-31"},
        certificate_withdrawn={"series": "МИ", "number": "0111111"},
        review={
            "commission": "Первая Минская городская МРЭК общего профиля",
            "date": "2026-09-01",
            "number": "301",
            "result": "cancelled",
        },
        work_capacity_loss={
            "before": "30 % (несчастный случай на производстве 01.02.2024)",
            "cases": [
                {
                    "percent": 40,
                    "case": "несчастный случай на производстве",
                    "case_date": "2024-02-01",
                    "document": "акт о несчастном случае на производстве формы Н-1 № 12",
                },
                {
                    "percent": 20,
                    "case": "профессиональное заболевание",
                    "case_date": "2025-06-10",
                    "document": "акт о случае профессионального заболевания № 3",
                },
            ],
            "total_percent": 60,
            "valid_from": "2026-11-03",
            "no_term": True,
            "term_text": "без указания срока переосвидетельствования",
        },
    )
    dec["justification"] = {
        "impairments": "резко выраженные нарушения сенсорных функций",
        "limitations": "ФК 4",
        "anatomical_defect": "анофтальм",
        "prognosis": None,
        "prognosis_other": "неясный",
    }
    return d


VARIANTS = {
    "variant-not-recognised": _not_recognised,
    "variant-child": _child,
    "variant-central-in-absentia": _central_in_absentia,
}


def _cases() -> Iterator[Any]:
    for path in FIXTURES:
        if ACT.applies_to(load_case(path)):  # the act exists once there is an examination and a decision
            yield pytest.param(lambda p=path: load_case(p), id=path.stem)
    for name, make in VARIANTS.items():
        yield pytest.param(lambda n=name, m=make: load_case(m(), name=n), id=name)


ALL_CASES = list(_cases())


def walk(items: Sequence[Item]) -> Iterator[Item]:
    for it in items:
        yield it
        yield from walk(it.children)


def by_no(data: Document, no: str) -> Item:
    found = [it for it in walk(data.items) if it.no == no]
    assert len(found) == 1, f"item {no}: found {len(found)}"
    return found[0]


def child(item: Item, key: str) -> Item:
    found = [c for c in item.children if c.key == key]
    assert len(found) == 1, f"{item.no}/{key}"
    return found[0]


def selected(item: Item) -> list[str]:
    return [o.value for o in item.options if o.selected]


def _load(make: Any) -> tuple[Case, Document]:
    case = make()
    assert ACT.applies_to(case)
    return case, ACT.data(case)


@pytest.mark.parametrize("make", ALL_CASES)
def test_structure(make: Any) -> None:
    case = make()
    assert ACT.applies_to(case)
    data = ACT.data(case)
    assert data.form_id == "by-act"
    top = [it.no for it in data.items if it.no]
    assert top == [str(n) for n in range(1, 47)]
    numbers = [it.no for it in walk(data.items) if it.no]
    for no in SUB_ITEMS:
        assert no in numbers, no
    assert len(numbers) == len(set(numbers))
    assert [c.key for c in by_no(data, "25.1").children] == ["medical", "professional", "social"]
    assert [c.label for c in by_no(data, "27").children] == [
        "центральной МРЭК",
        "ГУ РНПЦ медэкспертизы и реабилитации",
    ]
    assert [c.kind for c in by_no(data, "5").children] == ["choice", "choice"]
    assert [h.key for h in data.header] == ["commissionName", "act"]
    assert [c.key for c in data.header[1].children] == ["date", "number"]


@pytest.mark.parametrize("make", ALL_CASES)
def test_keys_are_xml_names_unique_among_siblings(make: Any) -> None:
    case = make()
    data = ACT.data(case)

    def check(items: Sequence[Item]) -> None:
        keys = [it.key for it in items]
        assert len(keys) == len(set(keys)), keys
        for it in items:
            assert XML_NAME.match(it.key), it.key
            check(it.children)
            for col in it.table.columns if it.table else ():
                assert XML_NAME.match(col.key), col.key

    check(data.header)
    check(data.items)


@pytest.mark.parametrize("make", ALL_CASES)
def test_footnotes(make: Any) -> None:
    data = ACT.data(make())
    marked = {it.no: it.footnote for it in walk(data.items) if it.footnote}
    assert marked == FOOTNOTED
    assert data.footnotes == (
        "1 Заполняется при наличии законного представителя пациента.",
        "2 Заполняется при переосвидетельствовании.",
        "3 Указывается число, месяц, год завершения МСЭ.",
        "4 Заполняется при переосвидетельствовании.",
    )


@pytest.mark.parametrize("make", ALL_CASES)
def test_values_follow_the_case(make: Any) -> None:
    case = make()
    assert ACT.applies_to(case)
    data = ACT.data(case)
    e, d = case.examination, case.decision
    assert e is not None and d is not None
    header = {h.key: h for h in data.header}
    assert header["commissionName"].value == case.commission.name
    assert child(header["act"], "date").display == format_date(e.act_date)
    assert child(header["act"], "number").value == e.act_number

    assert by_no(data, "12").value == case.patient.sex.value
    assert selected(by_no(data, "12")) == [case.patient.sex.value]
    five = by_no(data, "5")
    assert child(five, "kind").value == e.kind.value
    assert selected(child(five, "presence")) == [e.presence.value]
    assert by_no(data, "4").value == e.place.value
    assert set(by_no(data, "28").value) == {o.value for o in e.outcomes}
    assert set(by_no(data, "34").value) == {s.value for s in d.supplements}
    assert by_no(data, "9").display == case.patient.name.full
    assert child(by_no(data, "30"), "date").display == format_date(d.date)
    assert by_no(data, "2").display == format_date(e.start_date)

    after = by_no(data, "31.2").display
    if not d.recognised:  # printed in the form matching the patient's sex
        assert after == ("инвалидом не признан" if case.patient.sex.value == "male" else "инвалидом не признана")
    elif d.group is not None:
        assert after == d.group.label
    else:
        assert d.degree is not None and d.degree.label in after

    validity = by_no(data, "41")
    assert child(validity, "noTerm").value == ("no_term" if d.no_term else None)
    assert [o.label for o in child(validity, "noTerm").options] == [NO_TERM]

    rep = by_no(data, "13").value
    assert rep == (case.representative.name.full if case.representative else None)

    signatures = {s.role: s for s in data.signatures}
    assert signatures["chairman"].names == (case.commission.chairman.initials,)
    assert signatures["chairman"].seal is True
    assert signatures["member"].names == (tuple(m.initials for m in case.commission.members) or ("",))


@pytest.mark.parametrize("make", ALL_CASES)
def test_dates_display_in_the_form_style(make: Any) -> None:
    data = ACT.data(make())
    dates = [it for it in walk(data.header + data.items) if it.kind == "date"]
    assert dates
    for it in dates:
        if it.value is None:
            assert it.display == ""
        else:
            assert DATE_DISPLAY.match(it.display), (it.key, it.display)
    for it in walk(data.items):
        if it.table is None:
            continue
        for row in it.table.rows:
            for col in it.table.columns:
                if col.type == "date" and row.cell(col.key).value:
                    assert DATE_DISPLAY.match(row.cell(col.key).display)


@pytest.mark.parametrize("make", ALL_CASES)
def test_json_serialisable(make: Any) -> None:
    """The document holds plain values only (texts, numbers, no dates or enums): as plain dicts
    it goes to JSON and back unchanged (tuples as lists)."""

    def listed(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: listed(v) for k, v in node.items()}
        return [listed(v) for v in node] if isinstance(node, tuple | list) else node

    data = asdict(ACT.data(make()))
    assert json.loads(json.dumps(data, ensure_ascii=False)) == listed(data)


def test_fixture_adult_first_group_ii() -> None:
    case, data = _load(lambda: load_case(BASE))
    assert by_no(data, "1").value == "УЗ «23-я городская поликлиника г. Минска»"
    assert [c.display for c in data.header[1].children] == ["«05» ноября 2026 г.", "2026-0457"]
    protocol = by_no(data, "3")
    assert [c.display for c in protocol.children] == ["«05» ноября 2026 г.", "211"]
    assert selected(by_no(data, "6")) == ["examination"]
    assert by_no(data, "6").other is None
    assert by_no(data, "12").display == "мужской"
    eighteen = by_no(data, "18")
    assert [c.value for c in eighteen.children] == [112, 157]
    assert [c.value for c in by_no(data, "19").children] == ["ЛН", "0012345"]
    assert by_no(data, "21").display == "I69.3"
    assert by_no(data, "22.2").label == "сопутствующие заболевания"
    limits = {o.value: o.detail for o in by_no(data, "24").options if o.selected}
    assert limits == {"self_care": "1", "mobility": "2", "work": "2"}
    assert by_no(data, "29").value == "doubtful"
    assert by_no(data, "31.1").value is None
    assert by_no(data, "31.3").value == "на срок до 30.11.2027"
    assert by_no(data, "32.2").value == "общее заболевание"
    assert by_no(data, "33.2").table.rows == ()
    assert selected(by_no(data, "34")) == ["locomotor"]
    assert selected(by_no(data, "39")) == ["ipra_adult"]
    validity = by_no(data, "41")
    assert [c.display for c in validity.children] == ["«03» ноября 2026 г.", "«30» ноября 2027 г.", ""]
    assert child(validity, "noTerm").suffix == "(нужное указать, подчеркнуть)"
    assert by_no(data, "43.3").value == "doubtful"
    assert [c.value for c in by_no(data, "44").children] == ["МИ", "0457812"]
    assert all(c.value is None for c in by_no(data, "46").children)
    assert [p for p in data.items if p.key == "phones"][0].display == "+375 29 000-00-01"


def test_child_case() -> None:
    case, data = _load(lambda: load_case(_child(), name="child"))
    assert by_no(data, "13").value == "Ковалёва Вольга"
    assert by_no(data, "31.1").value == "категория «ребенок-инвалид», первая степень утраты здоровья"
    assert by_no(data, "31.2").value == "категория «ребенок-инвалид», вторая степень утраты здоровья"
    assert selected(by_no(data, "6")) == ["reexamination", "onset_time"]
    ipra = by_no(data, "25.1")
    assert [c.value for c in ipra.children] == ["full", "not_done", "partial"]
    assert by_no(data, "35").display == "«15» января 2020 г."
    assert by_no(data, "37").value == "нуждается"
    assert by_no(data, "40.1").value is None
    assert [c.value for c in by_no(data, "18").children] == [None, None]
    assert [c.value for c in by_no(data, "19").children] == [None, None]
    assert [p for p in data.items if p.key == "phones"][0].value is None


def test_central_in_absentia_case() -> None:
    case, data = _load(lambda: load_case(_central_in_absentia(), name="central"))
    assert selected(child(by_no(data, "5"), "presence")) == ["in_absentia"]
    assert child(by_no(data, "5"), "kind").display == "повторное"
    six = by_no(data, "6")
    assert selected(six) == ["reexamination"]  # the act lists no work-capacity purpose
    assert six.other == (
        "определение степени утраты профессиональной (общей) трудоспособности в процентах, по запросу суда"
    )
    seven = by_no(data, "7")
    assert selected(seven) == ["appeal", "correction"] and seven.other == "по жалобе пациента"
    assert by_no(data, "25.2").value == "partial"
    assert by_no(data, "26").value == "refused"
    rnpc = child(by_no(data, "27"), "rnpc")
    assert rnpc.value == "done" and rnpc.other == "диагноз подтвержден"
    assert child(by_no(data, "27"), "centralMrek").value is None
    assert by_no(data, "28").other == "иное"
    assert by_no(data, "31.1").value == "III группа"
    assert by_no(data, "32.1").value == "общее заболевание"
    assert by_no(data, "33.1").value.startswith("30 %")
    rows = by_no(data, "33.2").table.rows
    assert [r.cell("percent").value for r in rows] == [40, 20]
    assert rows[0].cell("caseDate").display == "«01» февраля 2024 г."
    assert by_no(data, "33.3").value == 60
    assert by_no(data, "33.4").value == NO_TERM
    assert selected(by_no(data, "34")) == ["vision", "hearing"]
    assert [c.display for c in by_no(data, "38").children] == [
        "«01» января 2026 г.",
        "«31» марта 2026 г.",
    ]
    validity = by_no(data, "41")
    assert [c.value for c in validity.children] == ["2026-11-03", None, "no_term"]
    wcl_validity = by_no(data, "42")
    assert [c.value for c in wcl_validity.children] == ["2026-11-03", None, "no_term"]
    assert by_no(data, "43.2").value == "анофтальм"
    assert by_no(data, "43.3").value is None and by_no(data, "43.3").other == "неясный"
    assert [c.value for c in by_no(data, "45").children] == ["МИ", "0111111"]
    review = by_no(data, "46")
    assert [c.display for c in review.children] == [
        "Первая Минская городская МРЭК общего профиля",
        "«01» сентября 2026 г.",
        "301",
        "отменяется",
    ]
    assert data.signatures[1].names == ("",)


def test_not_recognised_case() -> None:
    case, data = _load(lambda: load_case(_not_recognised(), name="not-recognised"))
    # the XML's value as printed: «признан(а)» in the form matching the patient's sex
    assert (
        by_no(data, "31.2").value
        == {"male": "инвалидом не признан", "female": "инвалидом не признана"}[case.patient.sex.value]
    )
    assert by_no(data, "32.2").value is None
    assert [c.value for c in by_no(data, "41").children] == [None, None, None]
    assert selected(by_no(data, "34")) == ["none"]
    assert by_no(data, "29").value is None


def test_not_applicable_without_examination_or_decision() -> None:
    raw = _base()
    del raw["examination"], raw["decision"]
    case = load_case(raw, name="referral-only")
    assert not ACT.applies_to(case)
    data = ACT.data(case)  # getters tolerate the missing parts
    assert [it.no for it in data.items if it.no] == [str(n) for n in range(1, 47)]
    assert by_no(data, "2").value is None


def test_registered() -> None:
    from msedocs.forms import REGISTRY

    assert REGISTRY["by-act"] is ACT
    assert ACT.data(load_case(BASE)) == ACT.data(load_case(BASE))  # deterministic


def test_item_28_whole_wording_with_the_chosen_part_underlined() -> None:
    """Item 28 prints the statute's whole wording (line 4303), the chosen outcomes underlined, with
    «освидетельствование не завершено» when one of the outcomes under it is chosen."""
    case, data = _load(lambda: load_case(_central_in_absentia(), name="central"))
    item = by_no(data, "28")
    sex = {"male": "направлен", "female": "направлена"}[case.patient.sex.value]
    assert "".join(r.text for r in item.runs) == (
        "освидетельствование завершено; освидетельствование не завершено "
        f"({sex} на консультацию (в центральную МРЭК, в ГУ РНПЦ медэкспертизы и реабилитации, "
        "составлена программа дополнительного обследования пациента МРЭК, "
        "отказ от явки на освидетельствование для завершения МСЭ)"
    )
    assert [r.text for r in item.runs if r.chosen] == [
        "освидетельствование завершено",
        "освидетельствование не завершено",
        "в ГУ РНПЦ медэкспертизы и реабилитации",
    ]
