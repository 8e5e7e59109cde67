"""What every registered document is: a form, a journal or the session protocol.

:class:`DocumentSpec` is the one protocol the registry (:mod:`msedocs.forms`), the render loop
(``msedocs.pipeline.render_document``), ``msedocs forms``, ``msedocs validate``, the XSD builder
and the DOCX template builder read. Three kinds satisfy it:

============  ============================  ==========================================
kind          spec                          data built from
============  ============================  ==========================================
``form``      :class:`~.spec.FormSpec`      one case: ``data(case)``
``journal``   :class:`~.journals.JournalSpec`  rows spooled from many cases:
                                            ``data(rows, commission, start, end)``
``protocol``  :class:`~.session.SessionSpec`   the cases of one session: ``data(cases, session)``
============  ============================  ==========================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..contract import DocumentData
    from .spec import Signer, Source

DocumentKind = Literal["form", "journal", "protocol"]
KINDS: tuple[DocumentKind, ...] = ("form", "journal", "protocol")


@runtime_checkable
class DocumentSpec(Protocol):
    """A statutory document as the registry knows it."""

    @property
    def id(self) -> str:
        """The form id: ``templates/<id>/``, ``xsd/<id>.xsd``, the root's ``formId``."""

    @property
    def kind(self) -> DocumentKind:
        """form, journal or protocol: how its data is built and which renderers it takes."""

    @property
    def title(self) -> str:
        """The statute's title of the document."""

    @property
    def source(self) -> Source:
        """Where the statute defines it (seed, appendix, lines)."""

    @property
    def xml_root(self) -> str:
        """The XML root element's name."""

    @property
    def namespace(self) -> str:
        """The XML namespace, versioned: ``urn:msedocs:form:<id>:<version>``."""

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats it is rendered in (xml, pdf, docx)."""

    @property
    def signers(self) -> tuple[Signer, ...]:
        """Who signs it: its signature lines, each with its signing role."""

    def data(self, *args: Any, **kwargs: Any) -> DocumentData:
        """The one filled-in document that feeds XML, PDF and DOCX (its arguments depend on the
        kind): a :class:`~msedocs.contract.Document`, :class:`~msedocs.contract.Journal` or
        :class:`~msedocs.contract.SessionProtocol`."""

    def xsd(self) -> bytes:
        """Its XSD 1.0, generated from the declarations (``xsd/<id>.xsd`` is this, committed)."""
