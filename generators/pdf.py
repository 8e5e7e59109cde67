"""PDF renderer: Jinja2 → HTML → WeasyPrint, A4, PDF/A-3b with the form's XML attached.

The Jinja environment, the font configuration and the parsed stylesheet are built once
per process and reused for every document: parsing CSS and loading fonts is most of
the cost of a small document. Fonts come only from ``templates/fonts`` (bundled), so
the output never depends on the machine's fonts. WeasyPrint itself is imported at the first
layout, not with this module: a process that lays its forms out with Typst never loads it
(a third of a second of start-up).
"""

from __future__ import annotations

import atexit
import io
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
import pydyf

from msedocs.contract import Document, SessionProtocol

from .common import TEMPLATES_DIR, GeneratorError, esign_statement, footnote_parts

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

PDF_VARIANT = "pdf/a-3b"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["esign_statement"] = esign_statement
    env.globals["footnote_parts"] = footnote_parts
    return env


@cache
def _style() -> tuple[FontConfiguration, CSS]:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    css = CSS(filename=str(TEMPLATES_DIR / "form.css"), font_config=font_config)
    # dropped at exit while WeasyPrint's modules are still whole: imported late, they may be torn
    # down first, and FontConfiguration's finaliser then fails («'NoneType' object is not callable»)
    atexit.register(_style.cache_clear)
    return font_config, css


def _template(form_id: str) -> jinja2.Template:
    """A form whose layout is special has its own template; every other one is the base's."""
    try:
        return environment().get_template(f"{form_id}/form.html.j2")
    except jinja2.TemplateNotFound:
        return environment().get_template("base.html.j2")


def render_html(data: Document | SessionProtocol, *, paper: bool = True) -> str:
    """The document's HTML: its own template, or the base template every form shares."""
    form_id = data.form_id
    try:
        template = _template(form_id)
        return template.render(data=data, paper=paper)
    except jinja2.TemplateError as exc:
        raise GeneratorError(f"{form_id}: HTML template failed: {exc}") from exc


def html_to_pdf(html: str, *, xml: bytes | None = None, name: str = "form", title: str = "") -> bytes:
    from weasyprint import HTML, Attachment

    font_config, css = _style()
    attachments = []
    if xml is not None:
        attachments.append(
            Attachment(
                file_obj=io.BytesIO(xml),
                name=f"{name}.xml",
                description=f"{title} (XML)",
                relationship="Data",
            )
        )
    document = HTML(string=html, base_url=str(TEMPLATES_DIR) + "/")
    pdf: bytes = document.write_pdf(
        stylesheets=[css],
        font_config=font_config,
        pdf_variant=PDF_VARIANT,
        attachments=attachments,
        uncompressed_pdf=False,
        finisher=_unique_associated_files,
    )
    return pdf


def _unique_associated_files(_document: Any, pdf: Any) -> None:
    """WeasyPrint 70 lists each attached file twice in the catalog's /AF (once from the
    EmbeddedFiles name tree, once as a file specification); PDF/A-3 wants each once."""
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def render(data: Document | SessionProtocol, *, xml: bytes | None = None, paper: bool = True) -> bytes:
    """The form (or the session protocol) as PDF/A-3b; ``xml`` (the same document's XML) is
    embedded as an associated file."""
    return html_to_pdf(render_html(data, paper=paper), xml=xml, name=data.form_id, title=data.title)
