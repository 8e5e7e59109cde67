"""The case model against the fixtures: good cases load cleanly, bad inputs give located problems,
identifier checks follow shared/IDENTIFIERS.md, and the schema marks the personal data."""

from __future__ import annotations

import copy
import importlib.util
import json
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from msedocs.errors import InputError
from msedocs.model import BatchReader, Case, CaseWarning, load_case
from msedocs.model import identifiers as ids
from msedocs.model.enums import (
    AdditionalExamResult,
    CentralPurpose,
    ConclusionReview,
    DisabilityGroup,
    ExaminationKind,
    ExaminationOutcome,
    ExaminationPlace,
    ExaminationPresence,
    ProgrammeFormed,
    Sex,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CASES = FIXTURES / "cases"
BAD = FIXTURES / "bad"
GOOD = sorted(CASES.glob("*.json"))
#: Belarusian fixtures; the Russian ones (ru_*.json, order 692n) are tested in test_form_ru_extract.py.
GOOD_BY = [p for p in GOOD if not p.name.startswith("ru_")]
EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
NOT_BAD_INPUTS = {"expected.json", "make_big.py"}
#: Fixture dates are all in 2026, before this day.
LAST_DAY = date(2026, 11, 23)


def load_clean(source: Any) -> Case:
    """load_case with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_case(source)


def good_dict(name: str = "adult_first_group_ii.json") -> dict[str, Any]:
    return json.loads((CASES / name).read_text(encoding="utf-8"))


# --- good fixtures ---------------------------------------------------------------------------


def test_fixture_set_is_complete() -> None:
    names = {p.name for p in GOOD}
    assert {
        "adult_first_group_ii.json",
        "child_with_representative.json",
        "reexamination_missed_period.json",
        "occupational_disease_percentages.json",
        "refused_additional_exam.json",
        "not_recognised.json",
        "central_mrek_review.json",
        "central_mrek_cancelled.json",
        "in_absentia.json",
        "referral_only.json",
    } <= names


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_loads_without_warning(path: Path) -> None:
    case = load_clean(path)
    assert case.case_id.startswith(f"{case.jurisdiction.value}-2026-")


@pytest.mark.parametrize("path", GOOD_BY, ids=lambda p: p.stem)
def test_good_fixture_dates_and_status(path: Path) -> None:
    case = load_clean(path)
    r, e, d = case.referral, case.examination, case.decision
    chain = [r.vkk_decision_date, r.date]
    if e:
        chain += [e.start_date, e.act_date]
    if d:
        chain.append(d.date)
    assert chain == sorted(chain)
    assert all(x.year == 2026 and x < LAST_DAY for x in chain)
    assert case.patient.birth_date <= r.vkk_decision_date
    if d is None:
        return
    age = case.age_at_decision
    assert age is not None
    if d.group is not None:
        assert age >= 18
    if d.degree is not None:
        assert age < 18
    assert d.conclusion is not None and d.slip_sent_date is not None
    assert d.conclusion.date <= d.conclusion.sent_date < LAST_DAY
    if d.recognised:
        assert d.valid_from is not None
    # the working-age adult's labour requirements (retirement age 2026: men 63, women 58)
    retirement = 63 if case.patient.sex is Sex.MALE else 58
    if d.recognised and d.group is not None and age < retirement:
        assert d.labour is not None


@pytest.mark.parametrize("path", GOOD_BY, ids=lambda p: p.stem)
def test_good_fixture_id_number_matches_birth_and_sex(path: Path) -> None:
    p = load_clean(path).patient
    assert p.id_number is not None
    assert ids.by_id_format_error(p.id_number) is None
    assert ids.by_id_check_error(p.id_number) is None
    assert p.id_number[1:7] == p.birth_date.strftime("%d%m%y")
    century = 0 if p.birth_date.year < 2000 else 2
    first = 3 + century + (1 if p.sex is Sex.FEMALE else 0)
    assert p.id_number[0] == str(first)


@pytest.mark.parametrize("path", GOOD_BY, ids=lambda p: p.stem)
def test_good_fixture_names_use_belarusian_letters(path: Path) -> None:
    case = load_clean(path)
    names = [case.patient.name, case.commission.chairman, *case.commission.members]
    names += [case.referral.vkk.chairman, *case.referral.vkk.members]
    if case.representative:
        names.append(case.representative.name)
    names += [x.name for x in case.previous_experts]
    text = " ".join(n.full for n in names).lower()
    for letter in "ёіў":
        assert letter in text, f"no {letter!r} in the names of {path.name}"


def _child(case: Case) -> None:
    assert case.age_at_decision is not None and case.age_at_decision < 18
    assert case.decision is not None and case.decision.degree is not None
    rep = case.representative
    assert rep is not None and rep.identity_document is not None and rep.addresses.registration
    assert case.patient.family_composition
    assert ProgrammeFormed.IPRA_CHILD in case.decision.programmes_formed


def _reexamination(case: Case) -> None:
    e, d = case.examination, case.decision
    assert e is not None and d is not None
    assert e.kind is ExaminationKind.REPEATED
    assert case.referral.status_before.group is DisabilityGroup.III
    assert d.group is DisabilityGroup.III and d.status_before and d.status_before.group is DisabilityGroup.III
    assert d.missed_period is not None and d.cause_before
    assert None not in (e.ipra_medical, e.ipra_professional, e.ipra_social)


def _occupational(case: Case) -> None:
    e, d = case.examination, case.decision
    assert e is not None and d is not None and d.work_capacity_loss is not None
    assert 2 <= len(d.work_capacity_loss.cases) <= 3
    assert d.work_capacity_loss.total_percent is not None
    assert ProgrammeFormed.PRP in d.programmes_formed and e.prp_fulfilment is not None


def _refused(case: Case) -> None:
    e, d = case.examination, case.decision
    assert e is not None and d is not None
    assert e.additional_exam is AdditionalExamResult.REFUSED
    assert {ExaminationOutcome.ADDITIONAL_PROGRAMME, ExaminationOutcome.NO_SHOW} & set(e.outcomes)


def _not_recognised(case: Case) -> None:
    d = case.decision
    assert d is not None and d.recognised is False
    assert d.group is None and d.degree is None and d.certificate_issued is None


def _central(result: ConclusionReview):
    def check(case: Case) -> None:
        e, d = case.examination, case.decision
        assert case.commission.central and e is not None and d is not None
        assert e.central_purposes == [CentralPurpose.APPEAL]
        assert d.review is not None and d.review.result is result
        assert case.previous_experts

    return check


def _in_absentia(case: Case) -> None:
    e = case.examination
    assert e is not None and e.presence is ExaminationPresence.IN_ABSENTIA
    assert e.place in (ExaminationPlace.HEALTH_ORGANISATION, ExaminationPlace.PENAL_INSTITUTION)
    assert e.place_other


def _referral_only(case: Case) -> None:
    assert case.examination is None and case.decision is None


SITUATIONS = {
    "child_with_representative": _child,
    "reexamination_missed_period": _reexamination,
    "occupational_disease_percentages": _occupational,
    "refused_additional_exam": _refused,
    "not_recognised": _not_recognised,
    "central_mrek_review": _central(ConclusionReview.CONFIRMED),
    "central_mrek_cancelled": _central(ConclusionReview.CANCELLED),
    "in_absentia": _in_absentia,
    "referral_only": _referral_only,
}


@pytest.mark.parametrize("stem", sorted(SITUATIONS))
def test_fixture_shows_its_situation(stem: str) -> None:
    SITUATIONS[stem](load_clean(CASES / f"{stem}.json"))


# --- bad fixtures ----------------------------------------------------------------------------


def test_every_bad_file_has_an_expectation() -> None:
    on_disk = {p.name for p in BAD.iterdir() if p.is_file() and p.name not in NOT_BAD_INPUTS}
    generated = {name for name, exp in EXPECTED.items() if "generated_by" in exp}
    assert on_disk == set(EXPECTED) - generated
    assert len(EXPECTED) >= 16


def _bad_params() -> list[Any]:
    params = []
    for name, exp in sorted(EXPECTED.items()):
        marks = [pytest.mark.xfail(reason=exp["model_bug"], strict=True)] if "model_bug" in exp else []
        params.append(pytest.param(name, exp, id=name.removesuffix(".json"), marks=marks))
    return params


def _make_big(directory: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_big", BAD / "make_big.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make(directory)


@pytest.mark.parametrize(("name", "exp"), _bad_params())
def test_bad_fixture_is_refused(name: str, exp: dict[str, Any], tmp_path: Path) -> None:
    path = _make_big(tmp_path) if exp.get("generated_by") == "make_big.py" else BAD / name
    assert path.name == name
    if path.suffix == ".jsonl":  # a batch: read as the commands read it
        reader = BatchReader(path)
        with pytest.raises(InputError) as batch_info:
            list(reader)
            reader.raise_for_problems("invalid case data")
        assert exp["path"] in str(batch_info.value) and exp["contains"] in str(batch_info.value)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as info:
            load_case(path)
    problems = info.value.problems
    found = [p for p in problems if p.path == exp["path"] and exp["contains"] in p.message]
    assert found, f"{exp} not in {problems}"
    if "line" in exp:
        assert found[0].line == exp["line"]


def test_big_string_is_generated_not_committed(tmp_path: Path) -> None:
    assert not (BAD / "big_string.json").exists()
    path = _make_big(tmp_path)
    assert 10 * 1024 * 1024 < path.stat().st_size < 16 * 1024 * 1024


def test_array_is_refused_with_a_problem() -> None:
    with pytest.raises(InputError) as info:
        load_case(BAD / "array.json")
    assert [(p.path, p.message) for p in info.value.problems] == [("(case)", "a case is a JSON object, got an array")]


def test_problems_are_reported_together() -> None:
    data = good_dict()
    data["patient"]["sex"] = "m"
    data["patient"]["contacts"]["phones"] = ["+375 29 ABC-00-01"]
    data["referral"]["activity_limits"][0]["fc"] = 5
    with pytest.raises(InputError) as info:
        load_case(data)
    paths = {p.path for p in info.value.problems}
    assert {"patient.sex", "patient.contacts.phones[0]", "referral.activity_limits[0].fc"} <= paths


# --- identifiers (shared/IDENTIFIERS.md) -----------------------------------------------------

BY_ID_VECTORS = ["3260578B005PB1", "4230478A031PB8", "7172252A001PB3"]


@pytest.mark.parametrize("number", BY_ID_VECTORS)
def test_by_id_vectors_pass(number: str) -> None:
    assert ids.by_id_format_error(number) is None
    assert ids.by_id_check_error(number) is None
    assert ids.by_id_check_digit(number) == int(number[13])


@pytest.mark.parametrize("number", BY_ID_VECTORS)
def test_by_id_changed_check_digit_is_a_warning(number: str) -> None:
    changed = number[:13] + str((int(number[13]) + 1) % 10)
    assert ids.by_id_format_error(changed) is None
    assert ids.by_id_check_error(changed) is not None
    data = good_dict()
    data["patient"]["id_number"] = changed
    with pytest.warns(CaseWarning, match=r"patient\.id_number: check character does not match"):
        case = load_case(data)
    assert case.patient.id_number == changed


@pytest.mark.parametrize(
    "number", ["3260578B005PB", "3260578X005PB1", "8260578B005PB1", "3260578B005RU1", "3260578b005pb1"]
)
def test_by_id_format_errors(number: str) -> None:
    assert ids.by_id_format_error(number) is not None


def test_snils() -> None:
    assert ids.snils_error("112-233-445 95") is None
    assert ids.snils_error("112-233-445 96") is not None
    assert ids.snils_check_number("112233445") == 95
    assert ids.snils_error("11223344595") is not None  # must be printed XXX-XXX-XXX YY
    assert ids.snils_error("001-001-998 00") is None  # not checked up to 001-001-998


def test_snils_through_the_model() -> None:
    data = good_dict()
    data["patient"]["insurance"] = {"snils": "112-233-445 95"}
    assert load_clean(data).patient.insurance.snils == "112-233-445 95"


def test_oms() -> None:
    assert ids.oms_check_digit("845199912289999") == 0
    assert ids.oms_error("8451999122899990") is None
    assert ids.oms_error("8451999122899991") is not None
    assert ids.oms_error("845199912289999") is not None


@pytest.mark.parametrize("code", ["I63.5", "G35", "M16.1", "I69.3", "E11.65"])
def test_icd10_pass(code: str) -> None:
    assert ids.icd10_error(code) is None


@pytest.mark.parametrize("code", ["I63.555", "i63", "I6", "I63.", "63.5", ""])
def test_icd10_fail(code: str) -> None:
    assert ids.icd10_error(code) is not None


@pytest.mark.parametrize("code", ["I63.555", "i63"])
def test_icd10_fail_through_the_model(code: str) -> None:
    data = good_dict()
    data["referral"]["diagnosis"]["icd10"] = [code]
    with pytest.raises(InputError) as info:
        load_case(data)
    assert any(p.path == "referral.diagnosis.icd10" for p in info.value.problems)


def test_icd10_message_names_the_position_not_the_value() -> None:
    data = good_dict()
    data["referral"]["diagnosis"]["icd10"] = ["I10", "I63.555"]
    with pytest.raises(InputError) as info:
        load_case(data)
    (problem,) = info.value.problems
    assert problem.path == "referral.diagnosis.icd10" and problem.message.startswith("[1] is not an ICD-10 code")
    assert "I63.555" not in problem.message  # whatever was typed there is never echoed


def _inn_digit(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


def _inn_person(first10: str) -> str:
    d11 = _inn_digit(first10, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
    return first10 + d11 + _inn_digit(first10 + d11, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))


def _inn_organisation(first9: str) -> str:
    return first9 + _inn_digit(first9, (2, 4, 10, 3, 5, 9, 4, 6, 8))


@pytest.mark.parametrize("first", ["5001007322", "7707083893", "0000000000"])
def test_inn_person(first: str) -> None:
    valid = _inn_person(first)
    assert ids.inn_error(valid) is None
    for pos in (0, 10, 11):
        changed = valid[:pos] + str((int(valid[pos]) + 1) % 10) + valid[pos + 1 :]
        assert ids.inn_error(changed) is not None, changed


@pytest.mark.parametrize("first", ["770708389", "500100732", "123456789"])
def test_inn_organisation(first: str) -> None:
    valid = _inn_organisation(first)
    assert ids.inn_error(valid) is None
    changed = valid[:9] + str((int(valid[9]) + 1) % 10)
    assert ids.inn_error(changed) is not None


@pytest.mark.parametrize("value", ["", "12345678901", "1234567890123", "77070838ab"])
def test_inn_length(value: str) -> None:
    assert ids.inn_error(value) is not None


# --- lax input the model should refuse ---------------------------------------------------------


def test_number_is_not_a_date() -> None:
    data = good_dict()
    data["patient"]["birth_date"] = 0  # lax pydantic would read 1970-01-01
    with pytest.raises(InputError):
        load_case(data)


# --- JSON Schema -----------------------------------------------------------------------------


def _pd_categories(node: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(node, dict):
        if "pd_category" in node:
            found.add(node["pd_category"])
        for value in node.values():
            found |= _pd_categories(value)
    elif isinstance(node, list):
        for value in node:
            found |= _pd_categories(value)
    return found


def test_schema_marks_the_eight_personal_data_categories() -> None:
    schema = Case.model_json_schema()
    assert _pd_categories(schema) == set(range(1, 9))
    defs = schema["$defs"]
    where = {
        1: defs["Patient"]["properties"]["name"],
        2: defs["Patient"]["properties"]["addresses"],
        3: defs["Patient"]["properties"]["contacts"],
        4: defs["Insurance"]["properties"]["snils"],
        5: defs["Insurance"]["properties"]["oms_policy"],
        6: defs["Patient"]["properties"]["identity_document"],
        7: schema["properties"]["representative"],
        8: schema["properties"]["previous_experts"],
    }
    for category, node in where.items():
        assert node["pd_category"] == category


def test_case_is_frozen() -> None:
    case = load_clean(good_dict())
    with pytest.raises(ValidationError, match="frozen"):
        case.case_id = "other"  # type: ignore[misc]
    assert copy.deepcopy(case) == case


# --- dates: birth from 1900, no event in the future, periods in order ---------------------------


def _with_dates(**changes: str) -> dict[str, Any]:
    data = good_dict()
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value
    return data


def test_future_is_today_with_a_day_of_grace() -> None:
    """A decision of today (or of tomorrow, for a clock in a time zone ahead) is accepted; the
    day after tomorrow is refused, whatever today is."""
    from datetime import timedelta

    today = date.today()
    for ahead in (0, 1):
        day = (today + timedelta(days=ahead)).isoformat()
        load_clean(_with_dates(decision__date=day, decision__conclusion__date=day, decision__conclusion__sent_date=day))
    late = (today + timedelta(days=2)).isoformat()
    with pytest.raises(InputError) as info:
        load_case(_with_dates(decision__date=late))
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("decision.date", f"{late} is in the future: a dated event is at the latest today")
    ]


def test_term_of_a_disability_may_lie_ahead() -> None:
    load_clean(_with_dates(decision__valid_until="2999-12-31"))


def test_every_dated_event_is_checked_not_only_the_decision() -> None:
    data = _with_dates(patient__identity_document__issue_date="2999-01-01", ipmra__fill_date="2999-01-02")
    with pytest.raises(InputError) as info:
        load_case(data)
    paths = {p.path for p in info.value.problems if "in the future" in p.message}
    assert paths == {"patient.identity_document.issue_date", "ipmra.fill_date"}


def test_synthetic_cases_pass_the_date_rules(tmp_path: Path) -> None:
    from msedocs import synth

    out = synth.write(200, 3, tmp_path / "g.jsonl")
    from msedocs.model import iter_cases

    bad = [(x.where, x.problems) for x in iter_cases(out) if x.case is None]
    assert bad == []
