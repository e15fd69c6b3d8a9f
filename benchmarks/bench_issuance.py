"""Benchmark: per-card personalization through the real PC/SC stack, split by phase, with the file key store
and with SoftHSM2 (PKCS#11); and the portrait pipeline's time per image. Each beside its floor.

Per card: detection (reset, ATR, GET DATA serial), composition (MRZ, DG1/2/3/13, CardAccess), on-chip key
generation, signing (EF.SOD and EF.CardSecurity by the Document Signer in the key store), writes (every file,
access keys, lock), and the read-back a counter does (PACE/BAC, all DGs, PA, CA/PACE-CAM, AA). Floors: the
same number of APDUs to a bare echo card on the same pcscd (the transport's share), and raw `cryptography`
ECDSA P-256 signing (the signature's share).

Run: .venv/bin/python benchmarks/bench_issuance.py [cards_per_profile]
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reader.pcscd import private_socket_path, start_pcscd, wait_card_state  # noqa: E402

private_socket_path()  # before pyscard opens any context

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from firmware_profiles.chip import VirtualChip  # noqa: E402
from firmware_profiles.vpcd import EchoCard, VpcdBridge  # noqa: E402
from issuance.enrollment import Actor, approve, attach_portrait, create_application  # noqa: E402
from issuance.personalize import IssuanceContext, personalize_application  # noqa: E402
from issuance.portrait import process_portrait, sample_portrait_bytes  # noqa: E402
from issuance.station import manufacture_blank_card, own_trust_store, transport_key_function  # noqa: E402
from population.db import make_engine, session_scope, upgrade_database  # noqa: E402
from population.testing import make_citizen  # noqa: E402
from reader.transport import PcscTransport  # noqa: E402

PROFILES = ("vn-cccd-2021", "vn-cc-2024", "legacy-bac")
PHASES = ("detect", "compose", "keygen", "sign", "write", "readback", "total")


def softhsm_keystore(base: Path) -> Any:
    from pki.pkcs11store import PKCS11KeyStore

    tokens = base / "tokens"
    tokens.mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "12345678",
                    "--pin", "123456"], check=True, capture_output=True)
    return PKCS11KeyStore("/usr/lib/softhsm/libsofthsm2.so", "bench", "123456")


def station(base: Path, keystore: Any) -> IssuanceContext:
    from pki.workspace import PKI

    pki = PKI(base / "pki", keystore, fsync_audit=False)
    pki.init()
    pki.keystore.generate_secret("card-batch-master")
    engine = make_engine(f"sqlite:///{base / 'db.sqlite3'}")
    upgrade_database(engine)
    return IssuanceContext(engine=engine, pki=pki, trust_store=own_trust_store(pki),
                           transport_key_for=transport_key_function(pki.keystore))


def echo_floor(pcsc: Any, apdus: int) -> float:
    """Seconds for `apdus` 16-byte round trips to a bare echo card on the same pcscd."""
    bridge = VpcdBridge(EchoCard(), "127.0.0.1", pcsc.port(1)).start()
    try:
        wait_card_state(pcsc.reader(1), True)
        with PcscTransport(pcsc.reader(1)) as t:
            cmd = bytes.fromhex("00B0000010")
            for _ in range(20):
                t.transmit(cmd)
            t0 = time.perf_counter()
            for _ in range(apdus):
                t.transmit(cmd)
            return time.perf_counter() - t0
    finally:
        bridge.stop()


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    base = Path(tempfile.mkdtemp(prefix="cancuoc-bench-issuance-"))
    pcsc = start_pcscd(base / "pcscd")
    try:
        portrait = process_portrait(sample_portrait_bytes(), age_years=30)
        print(f"# personalization through pyscard -> pcscd -> vpcd -> virtual chip; {n} cards per row; ms (median)")
        print(f"{'profile':<13} {'keys':<9} " + " ".join(f"{p:>9}" for p in PHASES)
              + f" {'APDUs':>6} {'written':>8} {'echo-floor':>10}")
        from pki.keystore import FileKeyStore

        stores = {"file": lambda d: FileKeyStore(d / "keys", "bench passphrase"), "softhsm2": softhsm_keystore}
        sign_rows = []
        for store_name, make_store in stores.items():
            d = base / store_name
            d.mkdir()
            ctx = station(d, make_store(d))
            for profile in PROFILES:
                samples: dict[str, list[float]] = {p: [] for p in PHASES}
                apdus = written = 0
                for _ in range(n):
                    with session_scope(ctx.engine) as db:
                        pid = make_citizen(db).personal_id
                        app = create_application(db, pid, reason="first_card", actor=Actor("officer"))
                        attach_portrait(db, app.id, actor=Actor("officer"), result=portrait)
                        approve(db, app.id, actor=Actor("supervisor"))
                        app_id = app.id
                    bridge = VpcdBridge(VirtualChip(manufacture_blank_card(ctx, profile)), "127.0.0.1",
                                        pcsc.port(0)).start()
                    try:
                        wait_card_state(pcsc.reader(0), True)
                        with PcscTransport(pcsc.reader(0)) as t:
                            out = personalize_application(ctx, app_id, t, actor=Actor("perso"))
                    finally:
                        bridge.stop()
                        wait_card_state(pcsc.reader(0), False)
                    if not out.issued:
                        print(f"{profile}: not issued: {out.reason} {out.detail}")
                        return 1
                    for p in PHASES:
                        samples[p].append(out.timings.get(p, 0.0) * 1000)
                    apdus, written = out.apdus, out.bytes_written
                floor = echo_floor(pcsc, apdus) * 1000
                print(f"{profile:<13} {store_name:<9} "
                      + " ".join(f"{statistics.median(samples[p]):>9.1f}" for p in PHASES)
                      + f" {apdus:>6} {written:>8} {floor:>10.1f}")
                sign_rows.append((store_name, profile, statistics.median(samples["sign"])))
        # floor for the signing phase: raw cryptography ECDSA P-256 sign
        key = ec.generate_private_key(ec.SECP256R1())
        t0 = time.perf_counter()
        for _ in range(200):
            key.sign(b"x" * 64, ec.ECDSA(hashes.SHA256()))
        raw = (time.perf_counter() - t0) / 200 * 1000
        print(f"# floor: raw cryptography ECDSA P-256 sign {raw:.3f} ms (the sign phase makes 1-2 signatures)")

        print("\n# portrait pipeline (detect, 19794-5 checks, token crop, JPEG under 18 KB), ms per image")
        data = sample_portrait_bytes()
        import cv2
        import numpy as np

        times, floor = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            process_portrait(data, age_years=30)
            times.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            cv2.imencode(".jpg", img)
            floor.append((time.perf_counter() - t0) * 1000)
        print(f"{'portrait pipeline':<30} {statistics.median(times):>9.1f}")
        print(f"{'floor: decode + encode only':<30} {statistics.median(floor):>9.1f}")
    finally:
        pcsc.stop()
        shutil.rmtree(base, ignore_errors=True)
    _ = dt
    return 0


if __name__ == "__main__":
    sys.exit(main())
