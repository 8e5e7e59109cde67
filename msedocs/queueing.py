"""From a signed package to the outbox: what `msedocs render --sign --queue` does per case.

Only what the channel needs leaves the case:

- ``delivery.channel`` ``portal``: the portal account (the citizen's СНИЛС, by which the state
  portal knows the account) and the signed PDF and XML. **A paper fall-back is configured by
  giving ``delivery.postal_address`` with channel ``portal``**: then, and only then, the
  addressee's name, the address and the paper variant of the PDF (with "М.П.", unsigned, to be
  sealed) are kept too, so that an item the portal does not take can go by registered mail
  (see :mod:`msedocs.delivery`). Without a postal address the item never goes on paper and the
  outbox holds no name, no address and nothing printable.
- ``delivery.channel`` ``paper``: the addressee's name, the postal address and the documents;
  not the portal account.

Every item also keeps its sender, the bureau that decided (``case.commission``: its name and
address, not personal data), printed on the cover letter, the envelope and the form-103 list if it
goes by registered mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from generators.common import RenderedDocument

from .errors import InputError, Problem
from .model import Case


def recipient_of(case: Case):
    """What delivery needs of the case's recipient, and nothing more (see the module's doc)."""
    from .delivery import Recipient

    delivery = case.delivery
    if delivery is None:
        raise InputError(
            f"case {case.case_id}: delivery is required to queue its documents (portal or paper, with a postal address)"
        )
    address = delivery.postal_address
    paper = delivery.channel == "paper"
    return Recipient(
        portal_account=None if paper else case.patient.insurance.snils,
        name=case.patient.name.full if address else None,
        postcode=address.postcode if address else None,
        address=address.line if address else None,
        paper_requested=paper,
    )


def sender_of(case: Case):
    """The bureau sending the case's documents by registered mail: the case's commission."""
    from .delivery import Sender

    bureau = case.commission
    return Sender(name=bureau.name, address=bureau.address.line, postcode=bureau.address.postcode)


def paper_fallback_configured(case: Case) -> bool:
    """A portal delivery with a postal address may fall back to registered mail."""
    return case.delivery is not None and case.delivery.channel == "portal" and case.delivery.postal_address is not None


def request_for(case: Case, signed: Sequence[RenderedDocument], paper: Sequence[RenderedDocument]):
    """The outbox request for one case's signed documents (and their paper variants when they may
    be printed)."""
    from .delivery import EnqueueRequest, OutboxDocument

    if case.decision is None:
        raise InputError(f"case {case.case_id}: the decision date starts the delivery deadline; there is no decision")
    recipient = recipient_of(case)
    fallback = paper_fallback_configured(case)
    documents = [OutboxDocument.from_rendered(d) for d in signed if d.format in ("pdf", "xml")]
    if recipient.paper_requested or fallback:
        documents += [OutboxDocument.from_rendered(d, role="paper") for d in paper if d.format == "pdf"]
    return EnqueueRequest(
        documents, case.case_id, "auto", recipient, case.decision.date, case.jurisdiction.value,
        fallback_to_paper=fallback, sender=sender_of(case),
    )  # fmt: skip


def queue_case(
    case: Case, signed: Sequence[RenderedDocument], paper: Sequence[RenderedDocument], db_url: str | None = None
) -> int:
    """Queue one case's signed documents; returns the outbox item id. Creates the outbox if there
    is none yet (the demo). A document of the case already queued raises
    :class:`~msedocs.delivery.AlreadyQueuedError`: each is issued once."""
    from .delivery import Outbox

    with Outbox(db_url, create=True) as outbox:
        return outbox.enqueue_many([request_for(case, signed, paper)])[0]


def queue_cases(
    outbox, packages: Iterable[tuple[Case, Sequence[RenderedDocument], Sequence[RenderedDocument]]]
) -> list[int]:
    """Queue many cases in one transaction, all or none (`render --queue` of a batch): the
    packages are drawn one at a time, so they may be read from files as they are queued."""
    return outbox.enqueue_many(request_for(case, signed, paper) for case, signed, paper in packages)


def already_queued(outbox, case: Case, names: Iterable[str]) -> list[Problem]:
    """A problem per document of ``names`` the outbox already holds for the case (issued once)."""
    return [
        Problem(f"(outbox) {name}", f"is already queued for this case as outbox item {item}; a document is issued "
                f"once (see `msedocs queue show {item}`)")
        for name, item in outbox.issued(case.case_id, sorted(set(names)))
    ]  # fmt: skip
