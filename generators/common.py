"""What every generator shares: where templates and schemas live, the rendered document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
XSD_DIR = ROOT / "xsd"
FONTS_DIR = TEMPLATES_DIR / "fonts"

MEDIA_TYPES = {
    "xml": "application/xml",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class RenderedDocument:
    """One rendered document: what a case system stores or sends on."""

    form_id: str
    format: str
    content: bytes
    media_type: str
    filename: str

    @classmethod
    def of(cls, form_id: str, fmt: str, content: bytes) -> RenderedDocument:
        return cls(form_id, fmt, content, MEDIA_TYPES[fmt], f"{form_id}.{fmt}")


class GeneratorError(RuntimeError):
    """A generator failed; ``problems`` lists (path, message, line) where known."""

    def __init__(self, message: str, problems: list[tuple[str, str, int | None]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
