"""Benchmark of pki/: EF.SOD signatures per second (file store and SoftHSM2; ECDSA P-256 and RSA-3072-PSS)
beside raw `cryptography` signing, and DS → CSCA path validations per second with a warm cache.

Run: ``.venv/bin/python benchmarks/bench_pki.py [--seconds 2]``. Creates its own SoftHSM2 token in a temp dir.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DGS = {n: hashlib.sha256(bytes([n]) * 1000).digest() for n in (1, 2, 13, 14, 15)}


def rate(func: Callable[[], object], seconds: float) -> float:
    func()  # warm up (key decryption, caches)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        func()
        count += 1
    return count / (time.perf_counter() - start)


def softhsm_token(base: Path) -> tuple[str, str]:
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            shutil.which("softhsm2-util") or "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--so-pin",
            "12345678",
            "--pin",
            "123456",
        ],
        check=True,
        capture_output=True,
    )
    return "bench", "123456"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    from pki.keystore import FileKeyStore
    from pki.truststore import TrustStore
    from pki.validation import validate_ds_path
    from pki.workspace import PKI, IssuerPolicy

    base = Path(tempfile.mkdtemp(prefix="bench_pki_"))
    label, pin = softhsm_token(base)
    from pki.pkcs11store import PKCS11KeyStore

    t0 = datetime.now(UTC) - timedelta(minutes=1)
    rows: list[tuple[str, float, str]] = []

    # floors: raw cryptography signing of the same signed-attributes-sized input (~100 bytes)
    data = os.urandom(100)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    floor_ec = rate(lambda: ec_key.sign(data, ec.ECDSA(hashes.SHA256())), args.seconds)
    floor_rsa = rate(lambda: rsa_key.sign(data, pss, hashes.SHA256()), args.seconds)
    rows.append(("raw cryptography ECDSA P-256 sign", floor_ec, "floor"))
    rows.append(("raw cryptography RSA-3072-PSS sign", floor_rsa, "floor"))

    for ds_key, floor in (("ec:P-256", floor_ec), ("rsa:3072", floor_rsa)):
        policy = IssuerPolicy(csca_key="ec:P-384", ds_key=ds_key, ds_hash="sha256", mls_key="ec:P-256")
        for store_name in ("file", "softhsm2"):
            home = base / f"{store_name}-{ds_key.replace(':', '')}"
            if store_name == "file":
                store = FileKeyStore(home / "keys", "bench passphrase")
            else:
                store = PKCS11KeyStore(MODULE, label, pin)
            pki = PKI(home / "pki", store)
            pki.init(policy, now=t0)
            r = rate(lambda pki=pki: pki.sign_sod(DGS, "ID"), args.seconds)
            rows.append(
                (f"sign_sod {ds_key} via {store_name} store (audit fsync)", r, f"{100 * r / floor:.0f}% of raw")
            )
            if store_name == "softhsm2":
                store.close()
            elif ds_key == "ec:P-256":  # where the time goes: the same without fsync of the audit trail
                quick = PKI(home / "pki", store, fsync_audit=False)
                r = rate(lambda quick=quick: quick.sign_sod(DGS, "ID"), args.seconds)
                rows.append((f"sign_sod {ds_key} via file store (no audit fsync)", r, f"{100 * r / floor:.0f}% of raw"))

    # path validation, warm cache: DS -> link -> CSCA after a rollover, CRLs checked each time
    home = base / "validation"
    pki = PKI(home / "pki", FileKeyStore(home / "keys", "pw"), fsync_audit=False)
    pki.init(IssuerPolicy(), now=t0)
    old_ds = pki.certificates("ds")[0]
    out = pki.rollover_csca(now=t0 + timedelta(seconds=1))
    trust = TrustStore()
    trust.add_csca(out["csca"])
    trust.add_link(out["old_with_new"])
    for crl in pki.latest_crls():
        trust.add_crl(crl)
    new_ds = pki.current_ds()[1]
    at = datetime.now(UTC)
    r_direct = rate(lambda: validate_ds_path(new_ds, at, trust), args.seconds)
    r_link = rate(lambda: validate_ds_path(old_ds, at, trust), args.seconds)
    rows.append(("validate_ds_path DS->CSCA, warm cache", r_direct, "(CRL + time checks per call)"))
    rows.append(("validate_ds_path DS->link->CSCA, warm cache", r_link, "(CRL + time checks per call)"))

    width = max(len(name) for name, _, _ in rows)
    print(f"{'operation':<{width}}  {'ops/s':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10.1f}  {note}")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
