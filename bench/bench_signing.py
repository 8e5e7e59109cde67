"""Signing benchmark: everything side by side from one run.

    python bench/bench_signing.py [--n 50]

1. PAdES B-B of a one-page form: stock pyHanko (``SimpleSigner.load`` + ``sign_pdf`` per
   document, RSA-2048) vs ``signing.sign_pdf`` with the key loaded once. Target: ≥ 5×.
2. XAdES B-B vs a raw RSA-2048 signature plus exclusive c14n of the same document.
   Target: within 3×.
3. B-T overhead with the in-process timestamp authority (XAdES, PAdES, CAdES). Target: ≤ 5 ms.

Medians of wall-clock times; a fresh test PKI in a temp dir; every figure from this run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import timeit
import warnings
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from lxml import etree  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402

from signing import Level, init_pki, pki_profile, sign_detached, sign_pdf, sign_xml  # noqa: E402
from signing.keys import SoftwareKey  # noqa: E402

FORM_HTML = """
<html><head><meta charset="utf-8"><style>
body { font-family: 'DejaVu Serif'; font-size: 10pt } td { border: 1px solid #000; padding: 3pt }
</style></head><body>
<h2>Заключение МРЭК № 123/2026</h2>
<table>{rows}</table>
<p>Председатель МРЭК ______________ / Петров П. П. /</p>
</body></html>
"""

FORM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Conclusion xmlns="urn:msedocs:bench:1" Id="doc">
{items}
</Conclusion>
"""


def median_ms(fn: Callable[[], object], n: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    gc.collect()
    return statistics.median(timeit.repeat(fn, setup=gc.enable, number=1, repeat=n)) * 1000


def make_pdf() -> bytes:
    import weasyprint

    rows = "".join(f"<tr><td>{i}</td><td>Пункт заключения {i}</td><td>значение {i * 7}</td></tr>" for i in range(30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pdf = weasyprint.HTML(string=FORM_HTML.replace("{rows}", rows)).write_pdf(pdf_variant="pdf/a-3b")
        gc.collect()
    assert pdf is not None
    return pdf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="timed iterations per measurement")
    args = ap.parse_args()
    n = args.n

    tmp = Path(tempfile.mkdtemp(prefix="msedocs-bench-"))
    pki = init_pki(tmp / "pki")
    bb, bt = pki_profile(pki.dir, Level.B_B), pki_profile(pki.dir, Level.B_T)
    signer = bb.signer("chairman")
    assert isinstance(signer.key, SoftwareKey)

    # stock pyHanko needs PEM files
    key_pem = tmp / "chairman.key.pem"
    key_pem.write_bytes(
        signer.key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_pem = pki.cert_path("chairman")
    chain = [str(pki.dir / "ca.pem"), str(pki.root_path)]

    pdf = make_pdf()
    xml = FORM_XML.replace(
        "{items}",
        "\n".join(f'  <Item n="{i}"><Text>Пункт заключения {i}</Text><Value>{i * 7}</Value></Item>' for i in range(30)),
    ).encode()

    def stock_pades() -> bytes:
        s = signers.SimpleSigner.load(str(key_pem), str(cert_pem), ca_chain_files=chain)
        assert s is not None
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
        )
        out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=s)
        return out.getvalue()

    def ours_pades_bb() -> bytes:
        return sign_pdf(pdf, [signer], bb)

    def ours_pades_bt() -> bytes:
        return sign_pdf(pdf, [signer], bt)

    def ours_xades_bb() -> bytes:
        return sign_xml(xml, [signer], bb)

    def ours_xades_bt() -> bytes:
        return sign_xml(xml, [signer], bt)

    key = signer.key.private_key

    def raw_rsa_c14n() -> bytes:
        tree = etree.fromstring(xml).getroottree()
        data = etree.tostring(tree, method="c14n", exclusive=True)
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def ours_cades_bb() -> bytes:
        return sign_detached(pdf, [signer], bb)

    def ours_cades_bt() -> bytes:
        return sign_detached(pdf, [signer], bt)

    results = {
        "stock pyHanko PAdES B-B (SimpleSigner.load + sign_pdf)": median_ms(stock_pades, max(10, n // 2)),
        "signing.sign_pdf B-B": median_ms(ours_pades_bb, n),
        "signing.sign_pdf B-T": median_ms(ours_pades_bt, n),
        "raw RSA-2048 sign + exc-c14n": median_ms(raw_rsa_c14n, n * 2),
        "signing.sign_xml B-B": median_ms(ours_xades_bb, n * 2),
        "signing.sign_xml B-T": median_ms(ours_xades_bt, n * 2),
        "signing.sign_detached B-B": median_ms(ours_cades_bb, n),
        "signing.sign_detached B-T": median_ms(ours_cades_bt, n),
    }
    width = max(len(k) for k in results)
    print(f"PDF form: {len(pdf)} bytes; XML: {len(xml)} bytes; RSA-2048; medians of {n}+ runs\n")
    for name, ms in results.items():
        print(f"  {name:<{width}}  {ms:8.2f} ms")

    r = list(results.values())
    pades_speedup = r[0] / r[1]
    xades_ratio = r[4] / r[3]
    bt_xades, bt_pades, bt_cades = r[5] - r[4], r[2] - r[1], r[7] - r[6]
    print()
    print(f"  PAdES B-B speed-up over stock pyHanko:  {pades_speedup:6.1f}x   (target >= 5x)   "
          f"{'OK' if pades_speedup >= 5 else 'MISSED'}")  # fmt: skip
    print(f"  XAdES B-B / (raw RSA + c14n):           {xades_ratio:6.2f}x   (target <= 3x)   "
          f"{'OK' if xades_ratio <= 3 else 'MISSED'}")  # fmt: skip
    for label, extra in (("XAdES", bt_xades), ("PAdES", bt_pades), ("CAdES", bt_cades)):
        print(f"  B-T overhead, {label}:                    {extra:6.2f} ms  (target <= 5 ms) "
              f"{'OK' if extra <= 5 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
