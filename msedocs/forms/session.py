"""Протокол заседания МРЭК (appendix 13 to the resolution): one protocol per commission
session, one block per act examined in it.

A session is identified by the commission and the protocol's number and date
(``examination.protocol`` of each case). The block's categories of data are the statute's;
their values are read by the same functions as the columns of the journal of protocols
(appendix 4), which records the same facts row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..contract import ActBlock, CategoryRow, SessionProtocol, Signature, format_date
from ..errors import InputError
from ..model.case import Case
from ..model.enums import Jurisdiction
from . import journals as j
from .spec import Declared, Signer, Source, by_source, heading

Reader = Callable[[Case, Any], Any]


def _registration(case: Case, _: Any) -> str:
    """«Адрес места регистрации (места жительства или пребывания)»: the registered address,
    not the actual one (the journal's column 5 «Адрес места жительства или пребывания» is that)."""
    return str(case.patient.addresses.registration)


#: (XML name, the statute's «Категория данных», reader) in the order of the form.
CATEGORIES: tuple[tuple[str, str, Reader], ...] = (
    ("patient", "Фамилия, инициалы пациента", j._surname_initials),
    ("idNumber", "Идентификационный номер", j._id),
    ("birthDate", "Дата рождения", j._birth),
    ("address", "Адрес места регистрации (места жительства или пребывания)", _registration),
    ("referredBy", "Наименование организации, направившей пациента на медико-социальную экспертизу", j._referring),
    ("diagnosis", "Клинико-функциональный диагноз, код по МКБ-10² основного(ых) заболевания(й)", j._diagnosis),
    (
        "before",
        "Группа инвалидности (степень утраты здоровья), длительность временной нетрудоспособности "
        "до настоящего освидетельствования",
        j._before,
    ),
    ("decision", "Решение МРЭК¹", lambda k, e: j.c.decision_text(k)),
    ("validity", "Срок действия заключения МРЭК¹", j._validity),
    ("labour", "Требования к характеру и условиям труда", j._labour),
    ("technicalMeans", "ТССР³", lambda k, e: k.decision.technical_means if k.decision else None),
    ("missedPeriod", "Данные об инвалидности за пропущенное время", j._missed),
    ("note", "Примечание", lambda k, e: j.c.review_note(k)),
)


#: Categories whose value is a date: xs:date in the XML, «23» ноября 2026 г. in print.
DATES = frozenset({"birthDate"})


@dataclass(frozen=True)
class Session:
    commission: str
    number: str
    date: dt.date

    def __str__(self) -> str:
        return f"№ {self.number} от {self.date.isoformat()} ({self.commission})"


def session_of(case: Case) -> Session | None:
    e = case.examination
    if case.jurisdiction != Jurisdiction.BY or e is None:
        return None
    return Session(case.commission.name, e.protocol.number, e.protocol.date)


@dataclass(frozen=True)
class SessionSpec(Declared):
    id: str
    title: str
    xml_root: str
    source: Source
    footnotes: tuple[str, ...]
    #: The signature lines: the chairman and the members of the commission, as the statute prints them.
    signers: tuple[Signer, ...] = (
        j.CHAIRMAN,
        Signer("member", "Члены МРЭК", lambda case: list(case.commission.members)),
    )
    formats: tuple[str, ...] = ("xml", "pdf", "docx")

    @property
    def kind(self) -> Literal["protocol"]:
        return "protocol"

    def block(self, case: Case) -> ActBlock:
        e = case.examination
        assert e is not None
        rows = []
        for key, label, read in CATEGORIES:
            value = read(case, e)
            if value in (None, ""):
                rows.append(CategoryRow(key, label, value=None, xml=None))
            elif isinstance(value, dt.date):
                rows.append(CategoryRow(key, label, value=format_date(value), xml=value.isoformat()))
            else:
                rows.append(CategoryRow(key, label, value=str(value), xml=str(value)))
        return ActBlock(e.act_number, tuple(rows))

    def data(self, cases: Iterable[Case], session: Session) -> SessionProtocol:
        """The protocol of one session: the acts of its cases in the order of their numbers."""
        members: list[str] = []
        chairman = ""
        blocks = []
        # acts in numeric order («2026-9» before «2026-10»), as the journal of protocols lists them
        for case in sorted(cases, key=lambda k: j.natural_key(k.examination.act_number) if k.examination else ""):
            if session_of(case) != session:
                continue
            blocks.append(self.block(case))
            chairman = chairman or case.commission.chairman.initials
            for m in case.commission.members:
                if m.initials not in members:
                    members.append(m.initials)
        if not blocks:
            raise InputError(f"no examined case belongs to the session {session}")
        return SessionProtocol(
            heading(self),
            commission=session.commission,
            number=session.number,
            date=session.date.isoformat(),
            date_display=format_date(session.date),
            acts=tuple(blocks),
            signatures=tuple(
                Signature(s.role, s.title, names)
                for s, names in zip(self.signers, ((chairman,), tuple(members) or ("",)), strict=True)
            ),
            footnotes=self.footnotes,
        )


PROTOCOL = SessionSpec(
    id="by-protocol",
    title="заседания медико-реабилитационной экспертной комиссии",
    xml_root="sessionProtocol",
    source=by_source("appendix 13", "2302-2363"),
    footnotes=(
        "1 Медико-реабилитационная экспертная комиссия.",
        "2 Международная статистическая классификация болезней и проблем, связанных со здоровьем, десятого пересмотра.",
        "3 Технические средства социальной реабилитации.",
    ),
)
