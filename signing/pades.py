"""PAdES (ETSI EN 319 142-1) with pyHanko at B-B, B-T and B-LT; sequential signatures.

Each signer adds one incremental update with a ``/ETSI.CAdES.detached`` signature, so the
PDF/A-3b identification (XMP metadata of the original revision) is untouched. The key is
loaded once (:class:`signing._cms.LoadedKeySigner`); that, and reusing the parsed font for
the stamp, is where the speed-up over stock ``SimpleSigner.load`` + ``sign_pdf`` comes from.

- B-B: CAdES signed attributes (signing-certificate-v2, signer-attributes-v2 with the role);
  ``/Reason`` is the role title, ``/Name`` the signer's common name.
- B-T: a signature timestamp from the profile's TSA.
- B-LT: a DSS with the certificates, OCSP responses and CRLs of the signer and the TSA.

Optional visible stamp in Russian practice: a framed block "ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ
ПОДПИСЬЮ" with the certificate's serial number, owner and validity period, in a TrueType
font with Cyrillic (embedded as a subset), in the room the document reserves for it (the
named destination ``esign-stamp``; see :mod:`signing.stamp`) or else at the bottom left
of the last page.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from . import stamp
from ._async import run_sync
from ._cms import cades_attrs, pyhanko_signer
from .declaration import Declaration
from .errors import SigningFailure
from .formats import Format, register
from .keys import Signer
from .pades_verify import verify_pades
from .profile import Level, SigningProfile
from .services import is_ca, timestamper_for, tsa_certificates, validation_data_for

__all__ = ["DEFAULT_STAMP_FONT", "prepare_stamp_font", "sign_pdf", "stamp_text"]

DEFAULT_STAMP_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
"""Font of the visible stamp when the caller gives none (DejaVu Serif has Cyrillic)."""

STAMP_FONT_SIZE = 7

logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class _NoFetchWarningFilter(logging.Filter):
    """Drop pyHanko's warning that fetching is off: for B-LT we hand it all the validation data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_NoFetchWarningFilter())


#: A stamp's embedded font program by (font, glyphs used): fontTools' subsetting and writing of
#: the subset took some 30 ms a stamp, and a signer's stamp uses the same glyphs every time.
_subsets: dict[tuple[str, frozenset[int]], bytes] = {}
_SUBSETS_KEPT = 256


class _SubsetOnceAccumulator(GlyphAccumulator):
    """pyHanko's glyph accumulator, with the TrueType subset for a set of glyphs made once per
    process (the same bytes pyHanko's would write: it subsets with the same options, keeping
    the glyph ids, and pyHanko's stream object compresses them the same way)."""

    def __init__(self, *args: Any, font_key: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_key = font_key

    def prepare_write(self) -> None:
        if self._write_prepared or self._subset_created or type(self.cidfont_obj) is not CIDFontType2:
            return super().prepare_write()  # type: ignore[no-any-return]
        key = (self._font_key, frozenset(self._glyphs))
        with _font_lock:
            program = _subsets.get(key)
        if program is None:
            self._extract_subset()
            out = BytesIO()
            self.tt.save(out)
            program = out.getvalue()
            with _font_lock:
                if len(_subsets) >= _SUBSETS_KEPT:
                    _subsets.clear()
                _subsets[key] = program
        self._subset_created = True
        cidfont = self.cidfont_obj

        def set_font_file(writer: BasePdfFileWriter) -> generic.IndirectObject:  # CIDFontType2's, with the bytes
            stream = generic.StreamObject(stream_data=program)
            stream.compress()
            ref = writer.add_object(stream)
            cidfont._font_descriptor[generic.pdf_name("/FontFile2")] = ref
            return ref

        cidfont.set_font_file = set_font_file  # type: ignore[method-assign]
        super().prepare_write()


@dataclass(frozen=True)
class _InMemoryFont(GlyphAccumulatorFactory):
    """pyHanko's font factory, but reading the font file once instead of opening it per stamp."""

    font_bytes: bytes = b""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _SubsetOnceAccumulator(
            font_key=self.font_file,
            writer=writer,
            font_handle=BytesIO(self.font_bytes),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


_fonts: dict[str, GlyphAccumulatorFactory] = {}
_font_lock = threading.Lock()
_tsa_certs: dict[object, list[x509.Certificate]] = {}


def _font(path: Path) -> GlyphAccumulatorFactory:
    key = str(path)
    with _font_lock:
        f = _fonts.get(key)
        if f is None:
            if not path.is_file():
                raise SigningFailure(f"stamp font {path} does not exist")
            f = _fonts[key] = _InMemoryFont(font_file=key, font_size=STAMP_FONT_SIZE, font_bytes=_prepare_font(path))
        return f


def prepare_stamp_font(path: Path = DEFAULT_STAMP_FONT) -> None:
    """Prepare a stamp font now rather than at the first visible stamp (once per process; a
    process that forks workers prepares it for all of them). A font that is not there is left
    for the first stamp to report."""
    if path.is_file():
        _font(path)


def prepared_stamp_fonts() -> dict[str, bytes]:
    """The stamp fonts this process has prepared (:func:`_prepare_font`), by path, for a process
    that adopts them (:func:`adopt_stamp_fonts`) rather than rescaling them again."""
    with _font_lock:
        return {key: f.font_bytes for key, f in _fonts.items() if isinstance(f, _InMemoryFont)}


def adopt_stamp_fonts(fonts: dict[str, bytes]) -> None:
    """Take stamp fonts prepared by another process from the same font files and fontTools."""
    with _font_lock:
        for key, data in fonts.items():
            _fonts[key] = _InMemoryFont(font_file=key, font_size=STAMP_FONT_SIZE, font_bytes=data)


_STAMP_UNICODES = [
    *range(0x20, 0x7F),  # ASCII
    *range(0xA0, 0x180),  # Latin-1, Latin Extended-A
    *range(0x400, 0x530),  # Cyrillic, Cyrillic Supplement
    *range(0x2010, 0x2070),  # dashes, quotes, bullets
    0x2116,  # №
]


def _prepare_font(path: Path) -> bytes:
    """The font's bytes, rescaled to 1000 units per em if needed.

    pyHanko 0.38 writes glyph widths and TJ adjustments in font units, which PDF reads as
    thousandths of an em: a 2048-unit TrueType font (DejaVu) comes out letter-spaced. We
    subset to the scripts a stamp uses and rescale with fontTools once per process.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    data = path.read_bytes()
    font = TTFont(BytesIO(data))
    if font["head"].unitsPerEm == 1000:
        return data
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    subsetter = subset.Subsetter(opts)
    subsetter.populate(unicodes=_STAMP_UNICODES)
    subsetter.subset(font)
    scale_upem(font, 1000)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


def stamp_text(cert: x509.Certificate) -> str:
    """The stamp's lines for ``cert`` (serial in hex, owner, validity period)."""
    return (
        "ДОКУМЕНТ ПОДПИСАН\nЭЛЕКТРОННОЙ ПОДПИСЬЮ\n"
        f"Сертификат: {cert.serial_number:X}\n"
        f"Владелец: {_cn(cert)}\n"
        f"Действителен с {cert.not_valid_before_utc:%d.%m.%Y} по {cert.not_valid_after_utc:%d.%m.%Y}"
    )


class _PdfAKeepingWriter(IncrementalPdfFileWriter):
    """Keeps ``/Info /Producer`` equal to the XMP ``pdf:Producer`` (PDF/A requires them equivalent).

    pyHanko writes ``pyHanko x.y`` into the XMP packet but appends it to an existing
    ``/Producer`` in ``/Info``; we make ``/Info`` say what the XMP says.

    Also prepares the update for writing once per write: pyHanko's incremental ``write`` runs
    ``_prep_dom_for_writing`` (font subsets, ``/Info`` and the XMP packet parsed, updated and
    re-serialised) and then its base class's ``write`` runs it again, the same work twice.
    """

    _prepared_for_write = False

    def write(self, stream: Any) -> None:
        self._prepared_for_write = False
        try:
            super().write(stream)
        finally:
            self._prepared_for_write = False

    def write_in_place(self) -> None:
        self._prepared_for_write = False
        try:
            super().write_in_place()
        finally:
            self._prepared_for_write = False

    def _prep_dom_for_writing(self) -> None:
        if self._prepared_for_write:  # the second call within one write: nothing changed since the first
            return
        super()._prep_dom_for_writing()
        self._prepared_for_write = True

    def _update_meta(self) -> None:
        super()._update_meta()
        info_ref = self._info
        if info_ref is None or "/Metadata" not in self.root:
            return
        info = info_ref.get_object()
        if "/Producer" in info and str(info["/Producer"]) != VENDOR:
            info["/Producer"] = generic.TextStringObject(VENDOR)
            self.mark_update(info_ref)


def _stamp_anchor(reader: PdfFileReader) -> tuple[int, tuple[float, float]] | None:
    """The page index and top-left corner of the room the document reserves for its stamps
    (the named destination :data:`signing.stamp.ANCHOR`), if it has one."""
    names = reader.root.get("/Names")
    dests = names.get("/Dests") if names is not None else None
    dest = _name_tree_get(dests, stamp.ANCHOR) if dests is not None else None
    if isinstance(dest, generic.DictionaryObject):
        dest = dest.get("/D")
    if not isinstance(dest, generic.ArrayObject) or len(dest) < 4 or dest[1] != "/XYZ":
        return None
    page_ref = dest.raw_get(0)
    for index in range(int(reader.root["/Pages"]["/Count"])):
        if reader.find_page_for_modification(index)[0] == page_ref:
            return index, (float(dest[2]), float(dest[3]))
    return None


def _name_tree_get(node: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """``key``'s value in a name tree (ISO 32000-1, 7.9.6)."""
    if "/Names" in node:
        pairs = node["/Names"]
        for i in range(0, len(pairs) - 1, 2):
            if str(pairs[i]) == key:
                return pairs[i + 1].get_object()
        return None
    for kid in node.get("/Kids", []):
        kid = kid.get_object()
        limits = kid.get("/Limits")
        if limits is None or str(limits[0]) <= key <= str(limits[1]):
            found = _name_tree_get(kid, key)
            if found is not None:
                return found
    return None


def existing_sig_fields(reader: PdfFileReader) -> list[str]:
    return [name for name, _, _ in fields.enumerate_sig_fields(reader)]


def free_name(existing: list[str], stem: str) -> str:
    n = 1
    while f"{stem}{n}" in existing:
        n += 1
    return f"{stem}{n}"


def _tsa_leaf_certs(profile: SigningProfile) -> list[x509.Certificate]:
    ts = timestamper_for(profile)
    with _font_lock:
        hit = _tsa_certs.get(ts)
    if hit is None:
        token = ts.timestamp_token(bytes(32), "sha256")
        hit = tsa_certificates(token)
        with _font_lock:
            _tsa_certs[ts] = hit
    return hit


_reserve: dict[tuple[int, int, bool], int] = {}


def _bytes_reserved(signer: Signer, profile: SigningProfile, timestamper: Any) -> int:
    """Room for the CMS in /Contents (hex digits), estimated once per signer and TSA, not per PDF.

    pyHanko otherwise builds a throw-away signature for every document to size it.
    """
    key = (id(signer), id(timestamper), timestamper is not None)
    with _font_lock:
        hit = _reserve.get(key)
    if hit is not None:
        return hit
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    dummy = pyhanko_signer(signer).async_sign(
        bytes(hashlib.new(profile.digest).digest_size),
        profile.digest,
        use_pades=True,
        dry_run=True,
        timestamper=timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(cades_signed_attrs=cades_attrs(signer.title)),
    )
    size = len(run_sync(dummy).dump()) * 2
    reserved = size + 2 * (size // 4) + 2048  # pyHanko's 50 % margin, plus room for a longer TSA reply
    with _font_lock:
        _reserve[key] = reserved
    return reserved


def _validation_context(signer: Signer, profile: SigningProfile) -> ValidationContext:
    return validation_context(signer.certificate, signer.chain, profile)


def validation_context(
    certificate: x509.Certificate, chain: Sequence[x509.Certificate], profile: SigningProfile
) -> ValidationContext:
    """An offline validation context (no fetching, hard-fail revocation) holding the certificates,
    OCSP responses and CRLs of ``certificate`` with its ``chain`` and of the profile's TSA: what
    B-LT puts in the DSS. :class:`RevocationError` when there is no source or one is revoked."""
    tsa = _tsa_leaf_certs(profile)
    leaves = [certificate, *[c for c in tsa if not is_ca(c)]]
    data = validation_data_for(profile, leaves, extra=[*chain, *tsa])
    roots = [c for c in data.certificates if c.issuer == c.subject] or list(chain[-1:])
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in roots],
        other_certs=[asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in data.certificates],
        crls=data.crls,
        ocsps=data.ocsps,
        allow_fetching=False,
        revocation_mode="hard-fail",
    )


def sign_pdf(
    pdf: bytes,
    signers: Sequence[Signer],
    profile: SigningProfile,
    visible_stamp: bool = False,
    *,
    stamp_font: str | Path | None = None,
    declare: bool = True,
) -> bytes:
    """Sign ``pdf`` once per signer, sequentially (each in its own incremental update).

    With ``visible_stamp`` each signature gets a framed stamp on the last page, stacked
    from the bottom left; ``stamp_font`` is a TTF/OTF with Cyrillic (default DejaVu Serif).
    Every signature declares all ``signers`` and the level (:mod:`signing.declaration`), so
    cutting the PDF back to an earlier revision is noticed, unless ``declare`` is false.
    """
    if not signers:
        raise SigningFailure("sign_pdf needs at least one signer")
    declaration = Declaration.for_signers(signers, profile.level.value) if declare else None
    data = pdf
    for i, signer in enumerate(signers):
        archive = profile.level >= Level.B_LTA and i == len(signers) - 1
        data = _sign_once(
            data, signer, profile, visible_stamp, Path(stamp_font or DEFAULT_STAMP_FONT), declaration, archive
        )
    return data


def _sign_once(
    pdf: bytes,
    signer: Signer,
    profile: SigningProfile,
    visible: bool,
    font: Path,
    declaration: Declaration | None,
    archive: bool = False,
) -> bytes:
    try:
        writer = _PdfAKeepingWriter(BytesIO(pdf), strict=False)
    except Exception as exc:
        raise SigningFailure(f"cannot read the PDF to sign: {exc}") from exc
    existing = existing_sig_fields(writer.prev)
    n = len(existing) + 1
    field_name = f"Signature{n}"
    while field_name in existing:
        n += 1
        field_name = f"Signature{n}"

    level = profile.level
    meta = pyhanko_signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=profile.digest,
        subfilter=SigSeedSubFilter.PADES,
        reason=signer.title,
        name=_cn(signer.certificate),
        cades_signed_attr_spec=cades_attrs(signer.title, declaration),
        embed_validation_info=level >= Level.B_LT,
        validation_context=_validation_context(signer, profile) if level >= Level.B_LT else None,
        # B-LTA, after the last signer: DSS (signer and TSA paths, VRI), document timestamp, DSS for its TSA
        use_pades_lta=archive,
        timestamp_field_name=free_name(existing, "ArchiveTimeStamp") if archive else None,
    )
    timestamper = timestamper_for(profile) if level >= Level.B_T else None
    stamp_style = None
    field_spec = None
    text_params = None
    if visible:
        stamp_style = TextStampStyle(
            stamp_text="%(stamp)s",
            text_box_style=TextBoxStyle(font=_font(font), font_size=STAMP_FONT_SIZE, leading=STAMP_FONT_SIZE + 2),
            border_width=1,
        )
        anchor = _stamp_anchor(writer.prev)
        page, top_left = anchor if anchor else (int(writer.root["/Pages"]["/Count"]) - 1, None)
        field_spec = SigFieldSpec(sig_field_name=field_name, on_page=page, box=stamp.box(n - 1, top_left))
        text_params = {"stamp": stamp_text(signer.certificate)}
    pdf_signer = pyhanko_signers.PdfSigner(
        meta,
        signer=pyhanko_signer(signer),
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=field_spec,
    )
    out = BytesIO()
    try:
        reserved = _bytes_reserved(signer, profile, timestamper)
        if declaration is not None:  # the estimate is made without it: hex digits of the attribute, and slack
            reserved += 2 * _policy_size(declaration) + 64
        run_sync(
            pdf_signer.async_sign_pdf(writer, output=out, appearance_text_params=text_params, bytes_reserved=reserved)
        )
    except SigningFailure:
        raise
    except Exception as exc:
        raise SigningFailure(f"PAdES signing as {signer.role} failed: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _policy_size(declaration: Declaration) -> int:
    """The encoded size of the declaration's signature-policy attribute (the same for every
    document its signers sign)."""
    return len(declaration.cms_policy().dump())


FORMAT = register(
    Format(name="PAdES", media_types=("application/pdf",), signer=sign_pdf, verifier=verify_pades, magic=(b"%PDF-",))
)
"""PAdES in the format registry (:mod:`signing.formats`)."""
