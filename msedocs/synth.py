"""Synthetic cases for tests, demos and benchmarks: `msedocs fixtures generate`.

Each generated case is one of the sample cases (every decision kind, children and adults,
Belarusian and Russian; each sample once in every run of as many cases as there are
samples, so any count from that on has them all) given a new invented person: name,
identification number or СНИЛС and ОМС policy computed to pass their checks, new document
numbers (the same sample number in two places of a case stays the same new number, as an
extract's number follows its act's), and every date moved by the same number of days so
the case's story and ages stay as they were. The same seed gives the same cases.
Belarusian cases are put under one commission, as a journal is kept per commission. Every
case is validated before it is written.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from generators.resources import as_path

from .errors import InputError, output_errors
from .model import load_case
from .model.identifiers import by_id_check_digit, oms_check_digit, snils_check_number

#: The sample cases (fixtures/cases/*.json), shipped in the package.
SAMPLES = as_path(files("msedocs") / "resources" / "cases")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A run of digits in a document number that is not a year.
SERIAL = re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d+")
NUMBER_KEYS = ("number", "act_number")
COMMISSION = "Первая Минская городская МРЭК общего профиля"

SURNAMES = {
    "male": ["Ковалёў", "Шчарбіцкі", "Дуброўскі", "Жукоўскі", "Васілеўскі", "Мялешка", "Лойка", "Сташкевіч",
             "Бандарэнка", "Гурыновіч", "Кавалёнак", "Пятроўскі", "Іваноў", "Сёмушкін", "Харытонаў"],
    "female": ["Ковалёва", "Шчарбіцкая", "Дуброўская", "Жукоўская", "Васілеўская", "Мялешка", "Лойка",
               "Сташкевіч", "Бандарэнка", "Гурыновіч", "Кавалёнак", "Пятроўская", "Іванова", "Сёмушкіна"],
}  # fmt: skip
FIRST = {
    "male": ["Андрэй", "Алесь", "Уладзімір", "Пётр", "Ігар", "Сяргей", "Мікалай", "Ягор", "Фёдар", "Яўген"],
    "female": ["Алёна", "Вольга", "Ганна", "Марына", "Наталля", "Святлана", "Людміла", "Ірына", "Таццяна"],
}  # fmt: skip
MIDDLE = {
    "male": ["Іванавіч", "Пятровіч", "Сяргеевіч", "Міхайлавіч", "Уладзіміравіч", "Андрэевіч", "Фёдаравіч"],
    "female": ["Іванаўна", "Пятроўна", "Сяргееўна", "Міхайлаўна", "Уладзіміраўна", "Андрэеўна", "Фёдараўна"],
}  # fmt: skip
RU_NAMES = {
    "male": (["Соколов", "Воробьёв", "Ершов", "Фёдоров", "Королёв"], ["Алексей", "Пётр", "Семён", "Артём"],
             ["Алексеевич", "Петрович", "Семёнович", "Артёмович"]),
    "female": (["Соколова", "Воробьёва", "Ершова", "Фёдорова", "Королёва"], ["Алёна", "Дарья", "Ксения", "Софья"],
               ["Алексеевна", "Петровна", "Семёновна", "Артёмовна"]),
}  # fmt: skip
REGIONS = "ABCHKEM"


def samples() -> list[dict[str, Any]]:
    """The bundled sample cases (``msedocs/resources/cases``), as JSON dicts, in file name order."""
    files = sorted(SAMPLES.glob("*.json"))
    return [json.loads(p.read_text(encoding="utf-8")) for p in files]


def _shift_dates(node: Any, delta: timedelta) -> Any:
    if isinstance(node, dict):
        return {k: _shift_dates(v, delta) for k, v in node.items()}
    if isinstance(node, list):
        return [_shift_dates(v, delta) for v in node]
    if isinstance(node, str) and ISO_DATE.match(node):
        return (date.fromisoformat(node) + delta).isoformat()
    return node


def _renumber(node: Any, rng: random.Random, new: dict[str, str]) -> Any:
    """Every document number's first run of digits (not a year) replaced by random digits of
    the same width, the same run by the same digits throughout the case (``new``)."""
    if isinstance(node, dict):
        return {k: _new_number(v, rng, new) if k in NUMBER_KEYS and isinstance(v, str) else _renumber(v, rng, new)
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_renumber(v, rng, new) for v in node]
    return node


def _new_number(number: str, rng: random.Random, new: dict[str, str]) -> str:
    def replace(run: re.Match[str]) -> str:
        old = run.group()
        if old not in new:
            new[old] = f"{rng.randrange(1, 10 ** len(old)):0{len(old)}d}"
        return new[old]

    return SERIAL.sub(replace, number, count=1)


def by_id_number(birth: date, sex: str, rng: random.Random) -> str:
    century = 3 if birth.year < 2000 else 5
    head = f"{century + (sex == 'female')}{birth:%d%m%y}{rng.choice(REGIONS)}{rng.randrange(1000):03d}PB"
    return head + str(by_id_check_digit(head + "0"))


def snils(rng: random.Random) -> str:
    digits = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    check = snils_check_number(digits)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {check:02d}"


def oms(birth: date, rng: random.Random) -> str:
    first15 = f"{rng.randrange(10, 99)}{rng.randrange(10)}{birth:%Y%m%d}{rng.randrange(10000):04d}"
    return first15 + str(oms_check_digit(first15))


def _person(case: dict[str, Any], rng: random.Random, index: int) -> None:
    patient = case["patient"]
    sex = patient["sex"]
    if case.get("jurisdiction", "BY") == "BY":
        pools = (SURNAMES[sex], FIRST[sex], MIDDLE[sex])
    else:
        pools = RU_NAMES[sex]
    patient["name"] = {"last": rng.choice(pools[0]), "first": rng.choice(pools[1]), "middle": rng.choice(pools[2])}
    birth = date.fromisoformat(patient["birth_date"])
    if case.get("jurisdiction", "BY") == "BY":
        patient["id_number"] = by_id_number(birth, sex, rng)
        case["commission"]["name"] = COMMISSION
        mpr = case.get("mpr")
        if mpr and "МРЭК" in mpr.get("sent_to", ""):  # the office's consultation was asked by this MREK
            mpr["sent_to"] = COMMISSION
    else:
        insurance = patient.setdefault("insurance", {})
        if insurance.get("snils"):
            insurance["snils"] = snils(rng)
        if insurance.get("oms_policy"):
            insurance["oms_policy"] = oms(birth, rng)
    case["case_id"] = f"SYN-{case.get('jurisdiction', 'BY')}-{index:07d}"


def generate(count: int, seed: int, start: date = date(2026, 1, 5), end: date = date(2026, 11, 20)):
    """``count`` valid synthetic cases as JSON dicts, the same for the same seed."""
    rng = random.Random(seed)
    bundled = samples()
    span = (end - start).days
    order: list[int] = []
    for index in range(1, count + 1):
        if not order:  # every sample once in each run of len(bundled) cases, in a random order
            order = rng.sample(range(len(bundled)), len(bundled))
        sample = bundled[order.pop()]
        for _attempt in range(20):
            anchor = date.fromisoformat(sample["referral"]["date"])
            target = start + timedelta(days=rng.randrange(span))
            case = _renumber(_shift_dates(sample, target - anchor), rng, {})
            _person(case, rng, index)
            try:
                load_case(case)
            except InputError:
                continue  # a shifted date crossed an age boundary; draw again
            yield case
            break
        else:  # pragma: no cover - the samples are valid; this would be a defect
            raise InputError(f"could not generate a valid case #{index} in 20 attempts")


def write(count: int, seed: int, out: Path) -> Path:
    """A folder of case files, or one JSON Lines file when ``out`` ends in .jsonl."""
    if count < 1:
        raise InputError("--count must be at least 1")
    with output_errors(out, "synthetic cases"):
        return _write(generate(count, seed), out)


def _write(cases: Iterator[dict[str, Any]], out: Path) -> Path:
    if out.suffix == ".jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for case in cases:
                handle.write(json.dumps(case, ensure_ascii=False) + "\n")
        tmp.replace(out)
        return out
    from .pipeline import staged

    with staged(out) as staging:  # all files or none
        for case in cases:
            path = staging / f"{case['case_id']}.json"
            path.write_text(json.dumps(case, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out
