"""The bureau's copy of a referral: each value of the eight categories replaced by an identifier.

:func:`depersonalise` returns the copy (an :class:`~msedocs.referrals.model.IncomingReferral`
whose category fields hold identifiers, ready for ``to_case(..., depersonalised=True)``) and the
values it took out (for the vault). What each category becomes in the copy:

1. ``patient.name``: last = the identifier, first = «(обезличено)», no middle name;
2. ``patient.addresses``: each address line = its identifier, no postcode;
3. ``patient.contacts``: each phone and the e-mail = an identifier;
4. ``patient.insurance.snils``, 5. ``…oms_policy``: the identifier;
6. ``patient.identity_document``: number = the identifier, kind «документ, удостоверяющий
   личность», issuer «(обезличено)», no series, no date;
7. ``representative``: name and address = one identifier, no contacts, document or basis;
8. ``previous_experts``: each name = an identifier, position «(обезличено)».

Then every other string of the copy (anamnesis, condition, diagnostics, workplace…) is scanned
for the referral's own values: names in any case form (stems with Russian endings, ё = е, with
or without initials), numbers with or without separators (СНИЛС, ОМС, passport series and
number, phones with +7 / 8 / no prefix), e-mails, and addresses (whole, and from the street on);
each match is replaced by the value's identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from msedocs.model.case import PersonName
from msedocs.referrals.model import IncomingReferral

from .tokens import new_token
from .vault import VaultValue

MARK = "(обезличено)"
_ENDINGS = "(?:а|я|ы|и|е|у|ю|ой|ей|ою|ею|ом|ем|ым|им|ых|их|ыми|ими|ами|ями|ов|ев|ь|й)?"
_CYR = "А-Яа-яЁё"


def _stem(word: str) -> str:
    w = word
    for suffix in ("ий", "ый", "ой", "ая", "яя"):
        if w.endswith(suffix) and len(w) > 4:
            return w[: -len(suffix)]
    if w[-1] in "аяйьоеыи" and len(w) > 3:
        return w[:-1]
    return w


def _yo(text: str) -> str:
    return "".join("[её]" if ch in "её" else ("[ЕЁ]" if ch in "ЕЁ" else re.escape(ch)) for ch in text)


def name_pattern(word: str) -> re.Pattern[str] | None:
    """A name in any case form: its stem and a Russian ending, as a whole word (ё = е)."""
    if len(word) < 3:
        return None
    stem = _stem(word)
    return re.compile(rf"(?<![{_CYR}]){_yo(stem)}{_ENDINGS}(?![{_CYR}])", re.IGNORECASE)


def digits_pattern(digits: str, *, phone: bool = False) -> re.Pattern[str]:
    """Digits with any separators (space, hyphen, brackets, dots) between them; a phone also with
    +7, 8 or no country prefix."""
    sep = r"[\s\-().]*"
    if phone and len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
        prefix = rf"(?:(?:\+?7|8){sep})?"
    else:
        prefix = ""
    body = sep.join(re.escape(d) for d in digits)
    return re.compile(rf"(?<!\d){prefix}{body}(?!\d)")


def _address_patterns(line: str, postcode: str | None) -> list[re.Pattern[str]]:
    out = [re.compile(re.escape(line), re.IGNORECASE)]
    parts = [p.strip() for p in line.split(",")]
    for i, part in enumerate(parts):
        if re.match(r"(ул|пр|просп|пер|б-р|бул|ш|наб|пл|мкр|проезд)\.?\s", part, re.IGNORECASE):
            tail = ",\\s*".join(_yo(p) for p in parts[i:])
            out.append(re.compile(tail, re.IGNORECASE))
            if i + 1 < len(parts):  # the street and the house, without the flat
                out.append(re.compile(",\\s*".join(_yo(p) for p in parts[i:i + 2]), re.IGNORECASE))
            break
    if postcode:
        out.append(re.compile(rf"(?<!\d){postcode}(?!\d)"))
    return out


class _Collector:
    def __init__(self) -> None:
        self.values: list[VaultValue] = []
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        self.taken: set[str] = set()

    def token(self, category: int, path: str, value: str, patterns: list[re.Pattern[str]] | None = None) -> str:
        tok = new_token(category, self.taken)
        self.values.append(VaultValue(tok, category, path, value))
        for p in patterns or []:
            self.patterns.append((p, tok))
        return tok

    def person(self, category: int, path: str, name: PersonName) -> str:
        pats: list[re.Pattern[str]] = [re.compile(re.escape(name.full), re.IGNORECASE)]
        for part in (name.last, name.first, name.middle):
            if part and (p := name_pattern(part)):
                pats.append(p)
        return self.token(category, path, name.full, pats)


def depersonalise(ref: IncomingReferral) -> tuple[IncomingReferral, list[VaultValue]]:
    col = _Collector()
    data: dict[str, Any] = ref.model_dump(mode="json", exclude_none=True)
    p = ref.patient
    d = data["patient"]
    d["name"] = {"last": col.person(1, "patient.name", p.name), "first": MARK}
    for kind, addr in (("registration", p.addresses.registration), ("actual", p.addresses.actual)):
        if addr is not None:
            tok = col.token(2, f"patient.addresses.{kind}", str(addr), _address_patterns(addr.line, addr.postcode))
            d["addresses"][kind] = {"line": tok}
    d["contacts"] = {"phones": [col.token(3, f"patient.contacts.phones[{i}]", ph,
                                          [digits_pattern(re.sub(r"\D", "", ph), phone=True)])
                                for i, ph in enumerate(p.contacts.phones)]}  # fmt: skip
    if p.contacts.email:
        d["contacts"]["email"] = col.token(3, "patient.contacts.email", p.contacts.email,
                                           [re.compile(re.escape(p.contacts.email), re.IGNORECASE)])  # fmt: skip
    ins = d.get("insurance", {})
    if p.insurance.snils:
        ins["snils"] = col.token(4, "patient.insurance.snils", p.insurance.snils,
                                 [digits_pattern(re.sub(r"\D", "", p.insurance.snils))])  # fmt: skip
    if p.insurance.oms_policy:
        ins["oms_policy"] = col.token(5, "patient.insurance.oms_policy", p.insurance.oms_policy,
                                      [digits_pattern(p.insurance.oms_policy)])  # fmt: skip
    if (doc := p.identity_document) is not None:
        pats = [digits_pattern(re.sub(r"\D", "", (doc.series or "") + doc.number))]
        if len(re.sub(r"\D", "", doc.number)) >= 6:
            pats.append(digits_pattern(re.sub(r"\D", "", doc.number)))
        value = f"{doc.kind} {doc.series or ''} {doc.number}, {doc.issuer}, {doc.issue_date or ''}"
        tok = col.token(6, "patient.identity_document", " ".join(value.split()), pats)
        d["identity_document"] = {"kind": "документ, удостоверяющий личность", "number": tok, "issuer": MARK}
    if (rep := ref.representative) is not None:
        tok = col.person(7, "representative", rep.name)
        extra = []
        for addr in (rep.addresses.registration, rep.addresses.actual):
            if addr is not None:
                extra += _address_patterns(addr.line, addr.postcode)
        extra += [digits_pattern(re.sub(r"\D", "", ph), phone=True) for ph in rep.contacts.phones]
        if rep.identity_document is not None:
            extra.append(digits_pattern(re.sub(r"\D", "", (rep.identity_document.series or "")
                                               + rep.identity_document.number)))  # fmt: skip
        col.patterns += [(x, tok) for x in extra]
        col.values[-1] = VaultValue(tok, 7, "representative", rep.model_dump_json(exclude_none=True))
        data["representative"] = {"name": {"last": tok, "first": MARK}, "addresses": {"registration": {"line": tok}}}
    data["previous_experts"] = []
    for i, e in enumerate(ref.previous_experts):
        tok = col.person(8, f"previous_experts[{i}]", e.name)
        col.values[-1] = VaultValue(tok, 8, f"previous_experts[{i}]", e.model_dump_json(exclude_none=True))
        data["previous_experts"].append({"name": {"last": tok, "first": MARK}, "position": MARK})
    # longest patterns first, so that a whole address goes before its street, a full name before a part
    col.patterns.sort(key=lambda pt: -len(pt[0].pattern))
    protected = {v.token for v in col.values}
    data = _scan(data, lambda s: _replace(s, col.patterns, protected), skip=_SLOTS)
    return IncomingReferral.model_validate(data), col.values


#: The category slots themselves (already identifiers), not scanned.
_SLOTS = {("patient", "name"), ("patient", "addresses"), ("patient", "contacts"), ("patient", "insurance"),
          ("patient", "identity_document"), ("representative",), ("previous_experts",)}  # fmt: skip


_INITIALS = r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?"


def _replace(text: str, patterns: list[tuple[re.Pattern[str], str]], protected: set[str]) -> str:
    for pattern, tok in patterns:
        text = pattern.sub(tok, text)
    for tok in protected:  # a person's initials beside their identifier are part of the name (category 1, 7, 8)
        if tok[2] in "178" and tok in text:
            text = re.sub(rf"{tok}\s+{_INITIALS}|{_INITIALS}\s?{tok}", tok, text)
    return text


def _scan(node: Any, fix: Callable[[str], str], skip: set[tuple[str, ...]], path: tuple[str, ...] = ()) -> Any:
    if path in skip:
        return node
    if isinstance(node, dict):
        return {k: _scan(v, fix, skip, (*path, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_scan(v, fix, skip, path) for v in node]
    if isinstance(node, str) and path and path[-1] not in ("source", "external_id", "postcode"):
        return fix(node)
    return node
