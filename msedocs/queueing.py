"""From a signed package to the outbox: what `msedocs render --sign --queue` does per case.

Only what delivery needs leaves the case: the portal account (the citizen's СНИЛС, by
which the state portal knows the account), and for paper the addressee and postal
address. Electronic documents are the signed PDF and XML; the paper variant of each PDF
(with "М.П.", unsigned, to be sealed) goes along for printing.
"""

from __future__ import annotations

from collections.abc import Sequence

from generators.common import RenderedDocument

from .errors import InputError
from .model import Case


def recipient_of(case: Case):
    from .delivery import Recipient

    delivery = case.delivery
    if delivery is None:
        raise InputError(
            f"case {case.case_id}: delivery is required to queue its documents (portal or paper, with a postal address)"
        )
    address = delivery.postal_address
    return Recipient(
        portal_account=case.patient.insurance.snils,
        name=case.patient.name.full,
        postcode=address.postcode if address else None,
        address=address.line if address else None,
        paper_requested=delivery.channel == "paper",
    )


def queue_case(
    case: Case, signed: Sequence[RenderedDocument], paper: Sequence[RenderedDocument], db_url: str | None = None
) -> int:
    """Queue one case's signed documents (and their paper variants); returns the outbox item id."""
    from .delivery import OutboxDocument, queue_documents

    if case.decision is None:
        raise InputError(f"case {case.case_id}: the decision date starts the delivery deadline; there is no decision")
    documents = [OutboxDocument.from_rendered(d) for d in signed if d.format in ("pdf", "xml")]
    documents += [OutboxDocument.from_rendered(d, role="paper") for d in paper if d.format == "pdf"]
    return queue_documents(
        documents,
        case.case_id,
        recipient_of(case),
        case.decision.date,
        country=case.jurisdiction.value,
        channel="auto",
        db_url=db_url,
    )
