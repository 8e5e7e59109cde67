"""ru-extract: the extract from the MSE act for a citizen not recognised as disabled
(order 692n, appendix 2 points 5-7), its two variants, and what a Russian case needs."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import warnings
from typing import Any

import docx
import pikepdf
import pytest
from docx.table import Table

from msedocs.contract import StampRoom
from msedocs.errors import FormNotApplicableError, InputError
from msedocs.forms import REGISTRY
from msedocs.forms.ru_extract import APPEAL, ESIGN_STATEMENT
from msedocs.model import Case, load_case
from msedocs.model import identifiers as ids
from msedocs.model.ru import format_passport
from msedocs.pipeline import render, render_form
from signing import stamp
from tests.conftest import CASES_DIR, case, require_tool

FORM = REGISTRY["ru-extract"]
PORTAL = "ru_not_recognised_portal"
PAPER = "ru_not_recognised_paper_mail"
RECOGNISED = "ru_recognised_group_ii"
QUALIFIED = "Документ подписан усиленной квалифицированной электронной подписью"

#: Order 692n, appendix 2 point 7, as published (seed 000, line 160).
POINT_7 = (
    "Гражданин (его законный или уполномоченный представитель) может обжаловать решение бюро, "
    "принятое на основе поступившего из медицинской организации направления на медико-социальную "
    "экспертизу, по которому был ограничен доступ к персональным данным, в главное бюро по адресу "
    "регистрации по месту жительства (месту пребывания), адресу фактического проживания в месячный "
    "срок со дня получения решения на основании заявления, поданного в бюро по адресу регистрации "
    "по месту жительства (месту пребывания), адресу фактического проживания, либо в главное бюро по "
    "адресу регистрации по месту жительства (месту пребывания), адресу фактического проживания "
    "в письменной форме на бумажном носителе или в электронном виде с использованием единого портала."
)
#: Its last paragraph (seed 000, line 172): an appeal through the portal is signed electronically.
POINT_7_SIGNATURE = (
    "Заявление об обжаловании решения бюро, поданное гражданином (его законным или уполномоченным "
    "представителем) в форме электронного документа с использованием единого портала, должно быть "
    "подписано электронной подписью в соответствии с Федеральным законом от 6 апреля 2011 г. № 63-ФЗ "
    "«Об электронной подписи»."
)
PORTAL_FULL_NAME = (
    "федеральной государственной информационной системы «Единый портал государственных и муниципальных услуг (функций)»"
)


def norm(text: str) -> str:
    text = re.sub(r"Страница \d+ из \d+", " ", text)
    text = re.sub(r"-\s+", "-", text)  # a word broken at a hyphen at the end of a line
    return re.sub(r"\s+", " ", text).strip()


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run([require_tool("pdftotext"), "-raw", "-", "-"], input=pdf, capture_output=True, check=True)
    return norm(out.stdout.decode())


def docx_text(content: bytes) -> str:
    """Paragraphs and table cells (the signature block is a table) in document order."""
    parts: list[str] = []
    for block in docx.Document(io.BytesIO(content)).iter_inner_content():
        if isinstance(block, Table):
            parts.extend(cell.text for row in block.rows for cell in row.cells)
        else:
            parts.append(block.text)
    return norm("\n".join(parts))


def rendered(name: str, fmt: str, *, paper: bool) -> bytes:
    (doc,) = render_form(case(name), FORM, (fmt,), paper=paper)
    return doc.content


def ru_dict(name: str = PORTAL) -> dict[str, Any]:
    return json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_clean(data: dict[str, Any]) -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_case(data)


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as info:
        load_case(data)
    return [(p.path, p.message) for p in info.value.problems]


# --- when the form applies ---------------------------------------------------------------------


def test_applies_to_russian_cases_not_recognised_only() -> None:
    assert FORM.applies_to(case(PORTAL)) and FORM.applies_to(case(PAPER))
    recognised = case(RECOGNISED)
    assert recognised.decision is not None and recognised.decision.recognised
    assert not FORM.applies_to(recognised)
    assert not FORM.applies_to(case("not_recognised"))  # a Belarusian case


def test_rendering_for_a_recognised_case_is_refused() -> None:
    with pytest.raises(FormNotApplicableError, match="ru-extract"):
        render(case(RECOGNISED), "ru-extract", "pdf")


def test_fixtures_show_their_delivery() -> None:
    portal, paper = case(PORTAL), case(PAPER)
    assert portal.delivery is not None and portal.delivery.channel == "portal"
    assert paper.delivery is not None and paper.delivery.channel == "paper"
    assert paper.delivery.postal_address is not None
    assert re.fullmatch(r"\d{6}", paper.delivery.postal_address.postcode)
    assert case(RECOGNISED).extract is None and case(RECOGNISED).delivery is None


# --- the two variants --------------------------------------------------------------------------


@pytest.mark.parametrize("name", [PORTAL, PAPER])
def test_pdf_paper_variant_has_the_seal_and_no_esignature(name: str) -> None:
    text = pdf_text(rendered(name, "pdf", paper=True))
    assert "М.П." in text
    assert "(подпись)" in text
    assert "Документ подписан" not in text and "Сведения о сертификатах" not in text


@pytest.mark.parametrize("name", [PORTAL, PAPER])
def test_pdf_electronic_variant_states_the_qualified_signature(name: str) -> None:
    text = pdf_text(rendered(name, "pdf", paper=False))
    assert QUALIFIED in text
    assert norm(ESIGN_STATEMENT) in text
    assert "М.П." not in text
    assert "(подпись)" not in text


def stamp_anchors(pdf: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        names = doc.Root.get("/Names")
        dests = names.get("/Dests") if names is not None else None
        return [str(n) for n in dests.Names[::2]] if dests is not None else []


def test_electronic_pdf_reserves_room_for_the_stamp_the_paper_one_does_not() -> None:
    """The visible signature stamp goes where the electronic extract leaves room for it,
    below the head's signature line, so it never covers the text; paper has the seal."""
    electronic = rendered(PORTAL, "pdf", paper=False)
    assert stamp_anchors(electronic) == [stamp.ANCHOR]
    assert stamp_anchors(rendered(PORTAL, "pdf", paper=True)) == []
    room = REGISTRY[FORM.id].stamp_room()
    assert room == StampRoom(stamp.ANCHOR, stamp.WIDTH, stamp.HEIGHT)  # one signer
    assert REGISTRY["by-act"].stamp_room() is None  # Belarusian forms carry no visible stamp


@pytest.mark.parametrize("name", [PORTAL, PAPER])
def test_docx_paper_variant_has_the_seal_and_no_esignature(name: str) -> None:
    text = docx_text(rendered(name, "docx", paper=True))
    assert "М.П." in text
    assert "Документ подписан" not in text and "Сведения о сертификатах" not in text


@pytest.mark.parametrize("name", [PORTAL, PAPER])
def test_docx_electronic_variant_has_no_seal(name: str) -> None:
    text = docx_text(rendered(name, "docx", paper=False))
    assert "М.П." not in text
    assert "электронной подписью" in text


def test_docx_electronic_variant_states_the_qualified_signature() -> None:
    """The same statement as the PDF's, from one place (generators.common.esign_statement)."""
    docx = docx_text(rendered(PORTAL, "docx", paper=False))
    pdf = pdf_text(rendered(PORTAL, "pdf", paper=False))
    statement = f"{ESIGN_STATEMENT}. Сведения о сертификатах подписей — в файле подписи."
    assert norm(statement) in norm(docx) and norm(statement) in pdf


# --- the values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values"),
    [
        (
            PORTAL,
            [
                "Соколова Елена Викторовна",
                "«14» марта 1979 г.",
                "№ 1412.12.55/2026 от «29» сентября 2026 г.",
                "№ 1412.12.55/2026-В от «30» сентября 2026 г.",
                "Бюро медико-социальной экспертизы № 12",
                "644043, г. Омск, ул. Экспертная, д. 12",
                "630099, г. Новосибирск, ул. Тестовая, д. 11, кв. 45",
                "Дата проведения медико-социальной экспертизы «29» сентября 2026 г.",
                "освидетельствование гражданина, установление группы инвалидности",
                "гражданка не признана инвалидом",
                "Руководитель бюро (уполномоченное должностное лицо)",
                "А.П. Кузнецов",
            ],
        ),
        (
            PAPER,
            [
                "Григорьев Пётр Семёнович",
                "«02» ноября 1968 г.",
                "№ 567.3.63/2026 от «20» октября 2026 г.",
                "№ 567.3.63/2026-В от «22» октября 2026 г.",
                "443001, г. Самара, ул. Экспертная, д. 3",
                "460014, г. Оренбург, пр-т Проверочный, д. 21, кв. 7",
                "гражданин не признан инвалидом",
                "Н.Ю. Орлова",
            ],
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_values_in_both_formats(name: str, values: list[str], fmt: str) -> None:
    content = rendered(name, fmt, paper=True)
    text = pdf_text(content) if fmt == "pdf" else docx_text(content)
    assert "ВЫПИСКА ИЗ АКТА МЕДИКО-СОЦИАЛЬНОЙ ЭКСПЕРТИЗЫ ГРАЖДАНИНА" in text.upper()
    missing = [v for v in values if norm(v) not in text]
    assert not missing


def test_xml_carries_extract_and_act_numbers() -> None:
    (doc,) = render_form(case(PORTAL), FORM, ("xml",))
    xml = doc.content.decode()
    assert "<number>1412.12.55/2026-В</number>" in xml and "<date>2026-09-30</date>" in xml
    assert "<mseDate>2026-09-29</mseDate>" in xml
    assert 'role="bureau_head"' in xml


# --- the right to appeal -----------------------------------------------------------------------


def test_appeal_follows_point_7() -> None:
    assert APPEAL.replace(PORTAL_FULL_NAME, "единого портала", 1) == f"{POINT_7} {POINT_7_SIGNATURE}"


@pytest.mark.parametrize("paper", [True, False])
def test_appeal_is_printed(paper: bool) -> None:
    text = pdf_text(rendered(PORTAL, "pdf", paper=paper))
    assert norm(APPEAL) in text
    for phrase in (
        "в главное бюро по адресу регистрации по месту жительства (месту пребывания)",
        "в месячный срок со дня получения решения",
        "в письменной форме на бумажном носителе или в электронном виде",
        "«Единый портал государственных и муниципальных услуг (функций)»",
        "должно быть подписано электронной подписью",
    ):
        assert phrase in text


# --- the Russian case: СНИЛС, ОМС, passport, delivery, extract ---------------------------------


def test_snils_vector_and_required() -> None:
    assert ids.snils_error("112-233-445 95") is None
    assert case(PORTAL).patient.insurance.snils == "112-233-445 95"
    data = ru_dict()
    data["patient"]["insurance"]["snils"] = "112-233-445 96"
    assert ("patient.insurance.snils", "СНИЛС check number does not match (expected 95)") in problems(data)
    del data["patient"]["insurance"]["snils"]
    assert any(
        path == "patient.insurance.snils" and "is required for a Russian case" in msg for path, msg in problems(data)
    )


def test_snils_not_checked_up_to_001_001_998() -> None:
    data = ru_dict()
    data["patient"]["insurance"]["snils"] = "001-001-998 00"
    assert load_clean(data).patient.insurance.snils == "001-001-998 00"


def test_oms_vector() -> None:
    assert ids.oms_check_digit("845199912289999") == 0
    data = ru_dict()
    data["patient"]["insurance"]["oms_policy"] = "8451999122899990"
    assert load_clean(data).patient.insurance.oms_policy == "8451999122899990"
    data["patient"]["insurance"]["oms_policy"] = "8451999122899991"
    assert (
        "patient.insurance.oms_policy",
        "ОМС policy number check digit does not match (expected 0)",
    ) in problems(data)


def test_oms_is_optional() -> None:
    data = ru_dict()
    del data["patient"]["insurance"]["oms_policy"]
    assert load_clean(data).patient.insurance.oms_policy is None


def test_passport() -> None:
    assert format_passport("4603", "123456") == "46 03 123456"
    assert format_passport("46 03", "123456") == "46 03 123456"
    data = ru_dict()
    data["patient"]["identity_document"]["series"] = "4603"
    assert load_clean(data).patient.identity_document is not None
    data["patient"]["identity_document"]["number"] = "12345"
    assert any(path == "patient.identity_document.number" and "6 digits" in msg for path, msg in problems(data))


def test_paper_delivery_needs_a_postal_address_with_index() -> None:
    data = ru_dict(PAPER)
    del data["delivery"]["postal_address"]
    assert any(path == "delivery.postal_address" for path, _ in problems(data))
    data = ru_dict(PAPER)
    data["delivery"]["postal_address"]["postcode"] = "46001"
    assert any(path == "delivery.postal_address.postcode" for path, _ in problems(data))
    data = ru_dict(PAPER)
    data["delivery"]["channel"] = "mail"
    assert any(path == "delivery.channel" for path, _ in problems(data))


def test_not_recognised_needs_extract_and_delivery() -> None:
    data = ru_dict()
    del data["extract"], data["delivery"]
    paths = {path for path, _ in problems(data)}
    assert {"extract", "delivery"} <= paths


def test_extract_not_before_decision_and_only_when_not_recognised() -> None:
    data = ru_dict()
    data["extract"]["date"] = "2026-09-28"
    assert any(path == "extract.date" for path, _ in problems(data))
    data = ru_dict(RECOGNISED)
    data["extract"] = {"number": "1", "date": "2026-08-26"}
    assert any(path == "extract" and "not recognised" in msg for path, msg in problems(data))


def test_extract_is_for_russian_cases_only() -> None:
    data = json.loads((CASES_DIR / "not_recognised.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["extract"] = {"number": "1", "date": "2026-09-04"}
    assert any(path == "extract" and "Russian" in msg for path, msg in problems(data))


def test_russian_case_needs_no_id_number() -> None:
    assert case(PORTAL).patient.id_number is None


# --- СНИЛС edge rules (shared/IDENTIFIERS.md) --------------------------------------------------


@pytest.mark.parametrize(
    ("first9", "weighted_sum", "check"),
    [
        ("100582052", 99, 99),  # below 100: the sum itself
        ("050234316", 100, 0),  # 100 gives 00
        ("016103396", 101, 0),  # 101 gives 00
        ("700201621", 102, 1),  # above 101: sum mod 101
        ("820981233", 201, 0),  # above 101, remainder 100 gives 00
        ("368898975", 302, 0),  # likewise (302 mod 101 = 100)
        ("913702858", 202, 0),  # 202 mod 101 = 0
    ],
)
def test_snils_check_number_edges(first9: str, weighted_sum: int, check: int) -> None:
    assert sum(int(d) * w for d, w in zip(first9, range(9, 0, -1), strict=True)) == weighted_sum
    assert ids.snils_check_number(first9) == check
    printed = f"{first9[:3]}-{first9[3:6]}-{first9[6:]}"
    assert ids.snils_error(f"{printed} {check:02d}") is None
    wrong = (check + 1) % 100
    assert ids.snils_error(f"{printed} {wrong:02d}") == f"check number does not match (expected {check:02d})"


def test_snils_checked_from_001_001_999() -> None:
    assert ids.snils_error("001-001-998 55") is None  # at 001-001-998: any check number
    assert ids.snils_error("001-001-999 65") is None
    assert ids.snils_error("001-001-999 00") == "check number does not match (expected 65)"
    data = ru_dict()
    data["patient"]["insurance"]["snils"] = "001-001-999 00"
    assert ("patient.insurance.snils", "СНИЛС check number does not match (expected 65)") in problems(data)


# --- ОМС: digits in odd positions from the right doubled (shared/IDENTIFIERS.md) ----------------


@pytest.mark.parametrize(
    ("first15", "check"),
    [
        ("000000000000001", 8),  # last digit: odd position from the right, doubled: 2
        ("000000000000010", 9),  # second from the right: even position, as it is: 1
        ("000000000000005", 9),  # doubled 5 = 10, digits added: 1
        ("100000000000000", 8),  # fifteenth from the right: odd, doubled
        ("845199912289999", 0),
    ],
)
def test_oms_check_digit_positions(first15: str, check: int) -> None:
    assert ids.oms_check_digit(first15) == check
    assert ids.oms_error(first15 + str(check)) is None
    assert ids.oms_error(first15 + str((check + 1) % 10)) == f"check digit does not match (expected {check})"


@pytest.mark.parametrize("name", [PORTAL, PAPER])
def test_fixture_oms_policies_pass(name: str) -> None:
    policy = case(name).patient.insurance.oms_policy
    assert policy is not None and ids.oms_error(policy) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("series", "53 1A"), ("series", "531"), ("series", "53 133"), ("number", "0006123"), ("number", "00061A")],
)
def test_passport_series_4_digits_number_6_digits(field: str, value: str) -> None:
    data = ru_dict(PAPER)
    data["patient"]["identity_document"][field] = value
    found = [msg for path, msg in problems(data) if path == f"patient.identity_document.{field}"]
    assert found and ("4 digits" if field == "series" else "6 digits") in found[0]
    assert value not in found[0]  # a passport is personal data (category 6): described, never echoed


# --- the act the extract is drawn from ---------------------------------------------------------


def test_not_recognised_needs_the_act() -> None:
    data = ru_dict(PAPER)
    del data["examination"]
    assert any(path == "examination" and "act of the MSE" in msg for path, msg in problems(data))


def test_xsd_requires_the_extract_act_and_purpose() -> None:
    from lxml import etree

    from tests.conftest import ROOT

    schema_doc = etree.parse(str(ROOT / "xsd" / "ru-extract.xsd"))
    schema = etree.XMLSchema(schema_doc)
    (doc,) = render_form(case(PAPER), FORM, ("xml",))
    xml = etree.fromstring(doc.content)
    assert schema.validate(xml), schema.error_log
    ns = {"f": FORM.namespace}
    for xpath in ("f:act", "f:act/f:number", "f:act/f:date", "f:header/f:extract/f:number", "f:msePurpose"):
        broken = copy.deepcopy(xml)
        (el,) = broken.xpath(xpath, namespaces=ns)
        el.getparent().remove(el)
        assert not schema.validate(broken), f"{xpath} is optional in the XSD"


@pytest.mark.parametrize(
    "name",
    [
        "ru_not_recognised_without_examination.json",
        "ru_passport_number_five_digits.json",
        "ru_snils_sum_over_101.json",
        "ru_snils_remainder_100.json",
        "ru_paper_without_postal_address.json",
    ],
)
@pytest.mark.parametrize("electronic", [False, True])
def test_cli_refuses_bad_russian_input(name: str, electronic: bool, tmp_path: Any, capsys: Any) -> None:
    from msedocs.cli import main
    from tests.conftest import ROOT

    bad = ROOT / "fixtures" / "bad"
    expected = json.loads((bad / "expected.json").read_text(encoding="utf-8"))[name]
    out = tmp_path / "out"
    argv = ["render", str(bad / name), "--form", "ru-extract", "--out", str(out)]
    code = main([*argv, "--electronic"] if electronic else argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{expected['path']}: " in err and expected["contains"] in err, err
    assert not out.exists()


def test_appeal_is_the_forms_wording_not_a_filled_blank() -> None:
    """The filled-in values are underlined as on paper; the right to appeal, the form's own
    wording, is plain text in both the PDF's HTML and the DOCX."""
    from lxml import etree

    from generators.pdf import render_html

    data = FORM.data(case(PAPER))
    html = etree.HTML(render_html(data))
    filled = ["".join(v.itertext()) for v in html.iterfind(".//span[@class='v']")]
    assert data.items[1].display in filled  # the citizen's name, a filled blank
    assert not any("обжаловать" in v for v in filled)
    assert "обжаловать решение бюро" in "".join(html.itertext())
    document = docx.Document(io.BytesIO(rendered(PAPER, "docx", paper=True)))
    runs = [r for p in document.paragraphs for r in p.runs]
    appeal = [r for r in runs if "обжаловать решение бюро" in r.text]
    assert appeal and not any(r.underline for r in appeal)
    assert any(r.underline for r in runs if data.items[1].display in r.text)


def test_docx_number_and_date_under_the_title_are_centred_as_in_the_pdf() -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    extract = case(PAPER).extract
    document = docx.Document(io.BytesIO(rendered(PAPER, "docx", paper=True)))
    (line,) = [p for p in document.paragraphs if p.text.startswith(f"№ {extract.number}")]
    assert line.alignment == WD_ALIGN_PARAGRAPH.CENTER
