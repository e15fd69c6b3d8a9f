"""Benchmark of the reader through the real PC/SC stack (pcscd + vsmartcard-vpcd + pyscard).

For each firmware profile: a full `inspect_card` (PACE/BAC + every DG incl. a ~20 KB DG2 + CA/PACE-CAM
+ AA + Passive Authentication) — wall time, APDU count and bytes, and the simulated contactless time at
424 kbit/s (bits on the air + the profile's timing model of the chip). Floor: the same number of APDUs
to a bare echo card through the same stack. Then offline re-verification of evidence bundles per
second beside raw `cryptography` ECDSA P-256 verifications per second (a reverify does 2 of them:
SOD signature, DS certificate; the path is cached by the trust store; plus the AA check).

Run: .venv/bin/python benchmarks/bench_reader.py [--runs N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reader import pcscd

PROFILES = ("vn-cccd-2021", "vn-cc-2024", "legacy-bac")
AIR_BITRATE = 424_000  # ISO/IEC 14443 fc/32


def bench_profiles(stack, runs: int) -> list[dict]:
    from firmware_profiles.vpcd import EchoCard, VpcdBridge
    from reader.access import can_key, mrz_key_from_text
    from reader.inspect import inspect_card
    from reader.reading import ReadSizeMemory
    from reader.testing import NOW, personalize
    from reader.transport import PcscTransport

    rows = []
    # floor: echo card round trip per APDU through pcscd
    with VpcdBridge(EchoCard(), "127.0.0.1", stack.port(0)) as _bridge:
        pcscd.wait_card_state(stack.reader(0), True)
        with PcscTransport(stack.reader(0)) as t:
            apdu = bytes.fromhex("00B0000000")
            for _ in range(20):
                t.transmit(apdu)
            n = 300
            t0 = time.perf_counter()
            for _ in range(n):
                t.transmit(apdu)
            echo_per_apdu = (time.perf_counter() - t0) / n
    pcscd.wait_card_state(stack.reader(0), False)
    for profile in PROFILES:
        card = personalize(profile, dg2_size=20_000)
        ts = card.pki.trust_store()
        key = can_key(card.can) if card.profile.pace else mrz_key_from_text(card.mrz)
        bridge = VpcdBridge(card.chip, "127.0.0.1", stack.port(0))
        bridge.start()
        try:
            pcscd.wait_card_state(stack.reader(0), True)
            walls, reports, chip_times = [], [], []
            memory = ReadSizeMemory()
            for i in range(runs + 1):
                chip_before = card.chip.chip_time_s
                with PcscTransport(stack.reader(0)) as t:
                    t0 = time.perf_counter()
                    r = inspect_card(t, key, ts, at=NOW, memory=memory)
                    wall = time.perf_counter() - t0
                if r.verdict.value != "passed":
                    raise SystemExit(f"{profile}: inspection failed: {r.reason.value}")
                if i:  # the first run warms caches (path validation, read size memory)
                    walls.append(wall)
                    reports.append(r)
                    chip_times.append(card.chip.chip_time_s - chip_before)
        finally:
            bridge.remove()
            pcscd.wait_card_state(stack.reader(0), False)
        r = reports[-1]
        air = (r.apdu.bytes_sent + r.apdu.bytes_received) * 8 / AIR_BITRATE
        rows.append({
            "profile": profile, "wall_ms": statistics.median(walls) * 1000, "apdus": r.apdu.count,
            "sent": r.apdu.bytes_sent, "received": r.apdu.bytes_received, "read_size": r.apdu.read_size,
            "air_ms": air * 1000, "chip_ms": statistics.median(chip_times) * 1000,
            "sim_ms": (air + statistics.median(chip_times)) * 1000,
            "floor_ms": echo_per_apdu * r.apdu.count * 1000,
            "access": f"{r.access.method}{'-' + r.access.mapping if r.access.mapping else ''}",
            "evidence": r.evidence, "ts": ts, "challenge": r.evidence.aa_challenge,
        })
    return rows


def bench_reverify(rows: list[dict], seconds: float = 2.0) -> list[tuple[str, float]]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from reader import EvidenceBundle, reverify
    from reader.testing import NOW

    out = []
    for row in rows:
        text = row["evidence"].to_json()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            rep = reverify(EvidenceBundle.from_json(text), row["ts"], NOW, expected_aa_challenge=row["challenge"])
            n += 1
        assert rep.verdict.value == "passed", rep.reason
        out.append((f"reverify {row['profile']} (JSON parse + PA + AA)", n / (time.perf_counter() - t0)))
    key = ec.generate_private_key(ec.SECP256R1())
    sig = key.sign(b"x" * 200, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pub.verify(sig, b"x" * 200, ec.ECDSA(hashes.SHA256()))
        n += 1
    out.append(("floor: raw cryptography ECDSA P-256 verify", n / (time.perf_counter() - t0)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reader-"))
    stack = pcscd.start_pcscd(workdir, pcscd.private_socket_path())
    try:
        rows = bench_profiles(stack, args.runs)
    finally:
        stack.stop()
    print(f"Full inspection through pcscd + vpcd (median of {args.runs}; DG2 ~20 KB; access + all DGs + "
          "CA/CAM + AA + PA)")
    print(f"{'profile':<14}{'access':<10}{'wall ms':>9}{'floor ms':>10}{'APDUs':>7}{'sent B':>8}{'recv B':>8}"
          f"{'read':>7}{'air ms':>8}{'chip ms':>9}{'sim ms':>8}")
    for r in rows:
        print(f"{r['profile']:<14}{r['access']:<10}{r['wall_ms']:>9.1f}{r['floor_ms']:>10.1f}{r['apdus']:>7}"
              f"{r['sent']:>8}{r['received']:>8}{r['read_size']:>7}{r['air_ms']:>8.1f}{r['chip_ms']:>9.1f}"
              f"{r['sim_ms']:>8.1f}")
    print("  floor = the same APDU count to a bare echo card through the same stack; air = bytes at 424 kbit/s;")
    print("  chip = the profile's timing model (per-APDU, per-byte, crypto); sim = air + chip")
    print()
    print("Offline re-verification of evidence bundles")
    for label, rate in bench_reverify(rows):
        print(f"  {label:<58}{rate:>10.0f} /s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
