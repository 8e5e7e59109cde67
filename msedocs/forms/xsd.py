"""Generate a form's XSD from its :class:`FormSpec`.

The schemas in ``xsd/`` are built by ``python scripts/build_xsd.py`` and committed, so
integrators read them as files; a test checks that they equal what this module
generates, so the declarations and the published schema never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lxml import etree

from ..model.enums import Labelled
from .journals import JournalSpec
from .session import CATEGORIES, DATES, SessionSpec
from .spec import COMMON_NAMESPACE, FORMS_VERSION, Column, FormSpec, ItemDef

XS = "http://www.w3.org/2001/XMLSchema"
#: The W3C XML Signature namespace: the enveloped XAdES signatures of a signed document.
DS = "http://www.w3.org/2000/09/xmldsig#"
#: The W3C schema of that namespace, bundled in ``xsd/`` (hand-kept, only its DOCTYPE removed).
DS_SCHEMA = "xmldsig-core-schema.xsd"
NSMAP: dict[str | None, str] = {"xs": XS, "c": COMMON_NAMESPACE, "ds": DS}

#: The most ds:Signature elements a document carries: one per signer, in parallel; the largest
#: signature set is a chairman and ten members (the case model's limit), with room to countersign.
MAX_XML_SIGNATURES = 20

DS_IMPORT_DOC = (
    "Схема XML-подписи W3C (http://www.w3.org/2000/09/xmldsig#), приложенная к схемам форм "
    f"как {DS_SCHEMA}: читается из локального файла, никогда не из сети."
)
DS_SIGNATURE_DOC = (
    "Электронные подписи документа (XAdES, ETSI EN 319 132-1): по одному элементу ds:Signature на "
    "каждого подписывающего (параллельные подписи, enveloped), последними дочерними элементами корня, "
    f"после signatures; не более {MAX_XML_SIGNATURES}. Неподписанный документ их не содержит. "
    f"Выбор: импорт схемы XML-подписи W3C ({DS_SCHEMA}, приложена, без DTD), а не подстановочный "
    "элемент (xs:any), чтобы строение подписи проверялось строго; свойства XAdES (xades:QualifyingProperties, "
    "включая штампы времени, данные проверки и объявление набора подписей в xades:SigPolicyQualifier) "
    "находятся в ds:Object, содержимое которого схема W3C проверяет в режиме lax."
)


def _xs(tag: str) -> str:
    return f"{{{XS}}}{tag}"


def _doc(parent: etree._Element, text: str) -> None:
    ann = etree.SubElement(parent, _xs("annotation"))
    doc = etree.SubElement(ann, _xs("documentation"))
    doc.text = text


def _enum_type(parent: etree._Element, enum: Iterable[Labelled], item: ItemDef | None = None) -> None:
    st = etree.SubElement(parent, _xs("simpleType"))
    restriction = etree.SubElement(st, _xs("restriction"), base="xs:token")
    for member in enum:
        e = etree.SubElement(restriction, _xs("enumeration"), value=member.value)
        _doc(e, item.option_label(member) if item else member.label)


#: The most acts one commission session examines: far above a day's work.
SESSION_ACTS = 1000

#: c:Text's maxLength (xsd/common.xsd, hand-kept).
TEXT_MAX_LENGTH = 8000

SIMPLE = {"text": "c:Text", "date": "xs:date", "int": "xs:nonNegativeInteger"}


def _column(seq: etree._Element, col: Column) -> None:
    el = etree.SubElement(seq, _xs("element"), name=col.key, minOccurs="0")
    _doc(el, col.title)
    if col.type == "enum":
        assert col.enum is not None
        _enum_type(el, col.enum)
    elif col.key == "fc":
        el.set("type", "c:FunctionalClass")
    else:
        el.set("type", SIMPLE[col.type])


def _item(seq: etree._Element, item: ItemDef) -> None:
    el = etree.SubElement(seq, _xs("element"), name=item.key)
    if not item.required:
        el.set("minOccurs", "0")
    _doc(el, item.documentation)
    if item.kind == "text" and item.max_length and not item.xsd_type:
        # the case model's limit: a restriction of c:Text, or (a list of texts joined, longer than
        # c:Text's 8000, which a restriction cannot raise) of xs:string with c:Text's minLength
        wide = item.max_length > TEXT_MAX_LENGTH
        base = "xs:string" if wide else "c:Text"
        restriction = etree.SubElement(etree.SubElement(el, _xs("simpleType")), _xs("restriction"), base=base)
        if wide:
            etree.SubElement(restriction, _xs("minLength"), value="1")
        etree.SubElement(restriction, _xs("maxLength"), value=str(item.max_length))
        return
    if item.kind in SIMPLE:
        el.set("type", item.xsd_type or SIMPLE[item.kind])
        return
    ct = etree.SubElement(el, _xs("complexType"))
    inner = etree.SubElement(ct, _xs("sequence"))
    if item.kind == "group":
        for child in item.children:
            _item(inner, child)
    elif item.kind == "choice":
        assert item.enum is not None
        opt = etree.SubElement(
            inner, _xs("element"), name="option", minOccurs="0",
            maxOccurs=str(len(item.enum)) if item.multi else "1",
        )  # fmt: skip
        _doc(opt, "Выбранный (подчеркнутый) вариант" + ("; может быть несколько" if item.multi else ""))
        _enum_type(opt, item.enum, item)
        if item.other is not None:
            other = etree.SubElement(inner, _xs("element"), name="other", type="c:Text", minOccurs="0")
            _doc(other, "другое (указать)")
    elif item.kind == "records":
        row = etree.SubElement(inner, _xs("element"), name="row", minOccurs="0", maxOccurs=str(item.max_rows))
        _doc(row, "Строка: " + ", ".join(c.title for c in item.columns))
        row_seq = etree.SubElement(etree.SubElement(row, _xs("complexType")), _xs("sequence"))
        for col in item.columns:
            _column(row_seq, col)
        if item.total is not None:
            total = etree.SubElement(inner, _xs("element"), name="total", type="c:Text", minOccurs="0")
            _doc(total, item.total_label or "Итого")
        if item.other is not None:
            other = etree.SubElement(inner, _xs("element"), name="other", type="c:Text", minOccurs="0")
            _doc(other, "другое (указать)")


def _skeleton(
    form_id: str, namespace: str, xml_root: str, schema_doc: str, root_doc: str
) -> tuple[etree._Element, etree._Element, etree._Element]:
    """A form schema's frame: the schema (with common.xsd imported), the root element's complex
    type with its formId and version attributes, and the sequence its content goes in."""
    nsmap: dict[str | None, str] = {None: namespace, **NSMAP}
    root = etree.Element(
        _xs("schema"), nsmap=nsmap, targetNamespace=namespace, elementFormDefault="qualified", version=FORMS_VERSION
    )
    _doc(root, f"{schema_doc}. Форма msedocs «{form_id}», версия {FORMS_VERSION}.")
    etree.SubElement(root, _xs("import"), namespace=COMMON_NAMESPACE, schemaLocation="common.xsd")
    _doc(etree.SubElement(root, _xs("import"), namespace=DS, schemaLocation=DS_SCHEMA), DS_IMPORT_DOC)
    top = etree.SubElement(root, _xs("element"), name=xml_root)
    _doc(top, root_doc)
    ct = etree.SubElement(top, _xs("complexType"))
    seq = etree.SubElement(ct, _xs("sequence"))
    return root, ct, seq


def _finish(root: etree._Element, ct: etree._Element, form_id: str) -> bytes:
    seq = ct.find(_xs("sequence"))
    assert seq is not None
    signatures = etree.SubElement(
        seq, _xs("element"), ref="ds:Signature", minOccurs="0", maxOccurs=str(MAX_XML_SIGNATURES)
    )  # where signing.xades puts them: the root's last children
    _doc(signatures, DS_SIGNATURE_DOC)
    etree.SubElement(ct, _xs("attribute"), name="formId", type="xs:token", fixed=form_id, use="required")
    etree.SubElement(ct, _xs("attribute"), name="version", type="xs:token", fixed=FORMS_VERSION, use="required")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_xsd(spec: FormSpec) -> bytes:
    """The XSD 1.0 of one form, every element annotated with the statute's item and wording."""
    schema_doc = f"{spec.title}. Источник: {spec.source}"
    root, ct, seq = _skeleton(spec.id, spec.namespace, spec.xml_root, schema_doc, spec.title)
    if spec.header:
        header = etree.SubElement(seq, _xs("element"), name="header")
        _doc(header, "Реквизиты формы над заголовком и под ним")
        hseq = etree.SubElement(etree.SubElement(header, _xs("complexType")), _xs("sequence"))
        for h in spec.header:
            _item(hseq, h)
    for item in spec.items:
        _item(seq, item)
    if spec.signers:
        sig = etree.SubElement(seq, _xs("element"), name="signatures", type="c:Signatures")
        _doc(sig, "Подписи: " + "; ".join(s.title for s in spec.signers))
    else:  # an unsigned form (e.g. the MREK card): the element stays, always empty
        sig = etree.SubElement(seq, _xs("element"), name="signatures")
        _doc(sig, "Форма не подписывается")
        etree.SubElement(sig, _xs("complexType"))
    etree.SubElement(ct, _xs("attribute"), name="caseId", type="c:CaseId", use="required")
    return _finish(root, ct, spec.id)


def build_journal_xsd(spec: JournalSpec) -> bytes:
    """The XSD 1.0 of a journal: a header and one entry per row, columns as elements."""
    root, ct, seq = _skeleton(
        spec.id, spec.namespace, spec.xml_root, f"Журнал {spec.title}. Источник: {spec.source}", f"ЖУРНАЛ {spec.title}"
    )
    header = etree.SubElement(seq, _xs("element"), name="header")
    _doc(header, "Реквизиты журнала")
    hseq = etree.SubElement(etree.SubElement(header, _xs("complexType")), _xs("sequence"))
    for name, type_, text in (
        ("commission", "c:Text", "наименование медико-реабилитационной экспертной комиссии"),
        ("started", "xs:date", "Начат"),
        ("finished", "xs:date", "Окончен"),
    ):
        _doc(etree.SubElement(hseq, _xs("element"), name=name, type=type_), text)
    entries = etree.SubElement(seq, _xs("element"), name="entries")
    _doc(entries, "Записи журнала в порядке дат")
    eseq = etree.SubElement(etree.SubElement(entries, _xs("complexType")), _xs("sequence"))
    entry = etree.SubElement(eseq, _xs("element"), name="entry", minOccurs="0", maxOccurs="unbounded")
    _doc(entry, "Одна строка журнала")
    rseq = etree.SubElement(etree.SubElement(entry, _xs("complexType")), _xs("sequence"))
    _doc(etree.SubElement(rseq, _xs("element"), name="no", type="xs:positiveInteger"), "1. № п/п")
    for i, col in enumerate(spec.columns, start=2):
        el = etree.SubElement(
            rseq, _xs("element"), name=col.key, minOccurs="0", type="xs:date" if col.type == "date" else "c:Text"
        )
        _doc(el, f"{i}. {col.label}")
    return _finish(root, ct, spec.id)


def build_session_xsd(spec: SessionSpec) -> bytes:
    """The XSD 1.0 of the session protocol: a header, then one act block per examined patient."""
    schema_doc = f"Протокол {spec.title}. Источник: {spec.source}"
    root, ct, seq = _skeleton(spec.id, spec.namespace, spec.xml_root, schema_doc, f"ПРОТОКОЛ {spec.title}")
    for name, type_, text in (
        ("commission", "c:Text", "наименование медико-реабилитационной экспертной комиссии"),
        ("number", "c:Text", "№ протокола"),
        ("date", "xs:date", "от (дата заседания)"),
    ):
        _doc(etree.SubElement(seq, _xs("element"), name=name, type=type_), text)
    act = etree.SubElement(seq, _xs("element"), name="act", maxOccurs=str(SESSION_ACTS))
    _doc(act, "Акт освидетельствования в МРЭК: блок данных по одному освидетельствованию")
    act_ct = etree.SubElement(act, _xs("complexType"))
    aseq = etree.SubElement(act_ct, _xs("sequence"))
    for key, label, _read in CATEGORIES:
        type_ = "xs:date" if key in DATES else "c:Text"
        _doc(etree.SubElement(aseq, _xs("element"), name=key, type=type_, minOccurs="0"), label)
    number = etree.SubElement(act_ct, _xs("attribute"), name="number", type="c:Text", use="required")
    _doc(number, "Акт освидетельствования в МРЭК (номер)")
    _doc(etree.SubElement(seq, _xs("element"), name="signatures", type="c:Signatures"), "Подписи")
    return _finish(root, ct, spec.id)


def build_document_xsd(spec: Any) -> bytes:
    """The XSD 1.0 of any declared document, by its kind (:class:`.spec.Declared`)."""
    builders: dict[str, Callable[[Any], bytes]] = {
        "form": build_xsd,
        "journal": build_journal_xsd,
        "protocol": build_session_xsd,
    }
    return builders[spec.kind](spec)


def write_schemas(folder: Path) -> list[Path]:
    """``folder/<id>.xsd`` for every registered document (``scripts/build_xsd.py``)."""
    from . import DOCUMENTS

    written = []
    for spec in DOCUMENTS.values():
        path = folder / f"{spec.id}.xsd"
        path.write_bytes(spec.xsd())
        written.append(path)
    return written
