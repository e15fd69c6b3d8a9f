"""Benchmark: APDU round trip through pyscard -> pcscd -> vpcd -> virtual chip, beside its floor.

Starts a private pcscd (the test fixture's code: own socket, own vpcd ports), plugs in a bare echo
card (the floor: the same stack with no card logic) and a locked vn-cccd-2021 virtual chip, and times
APDUs (median and p95 over N round trips): a plain SELECT, and a 223-byte READ BINARY inside BAC
secure messaging. The same APDUs through the in-process transport show the cost of the stack itself.
The chip's simulated time (its profile's timing model) is printed for comparison; it is not measured.

Run: .venv/bin/python benchmarks/bench_pcsc.py [N]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_profiles.chip import ChipTransport  # noqa: E402
from firmware_profiles.vpcd import EchoCard, VpcdBridge  # noqa: E402
from reader import pcscd as fixture  # noqa: E402
from reader.transport import PcscTransport  # noqa: E402
from tests.test_chip_helpers import open_bac, personalize  # noqa: E402

SELECT = bytes.fromhex("00A4040C07A0000002471001")
READ_223 = bytes.fromhex("00B08200DF")


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(min(20, n)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def row(path: str, card: str, apdu: str, n: int, med: float, p95: float, note: str = "") -> None:
    print(f"{path:<22} {card:<14} {apdu:<22} {n:>6} {med:>10.3f} {p95:>10.3f}  {note}")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    workdir = Path(tempfile.mkdtemp(prefix="bench-pcsc-"))
    stack = fixture.start_pcscd(workdir, fixture.private_socket_path())
    try:
        print(f"{'path':<22} {'card':<14} {'apdu':<22} {'n':>6} {'median ms':>10} {'p95 ms':>10}")
        # the floor: a bare echo card on the same stack
        echo = VpcdBridge(EchoCard(), port=stack.port(1)).start()
        fixture.wait_card_state(stack.reader(1), True)
        with PcscTransport(stack.reader(1)) as t:
            med, p95 = timed(lambda: t.transmit(SELECT), n)
            row("pyscard>pcscd>vpcd", "echo (floor)", "SELECT (plain)", n, med, p95)
        echo.remove()

        chip, _state, _ = personalize("vn-cccd-2021", dg2_size=3000)
        bridge = VpcdBridge(chip, port=stack.port(0)).start()
        fixture.wait_card_state(stack.reader(0), True)
        with PcscTransport(stack.reader(0)) as t:
            med, p95 = timed(lambda: t.transmit(SELECT), n)
            c0, a0 = chip.chip_time_s, chip.apdu_count
            row("pyscard>pcscd>vpcd", "vn-cccd-2021", "SELECT (plain)", n, med, p95)
            sm = open_bac(t)
            c0, a0 = chip.chip_time_s, chip.apdu_count
            med, p95 = timed(lambda: sm.transmit(READ_223), n)
            sim = (chip.chip_time_s - c0) / max(1, chip.apdu_count - a0) * 1000
            row("pyscard>pcscd>vpcd", "vn-cccd-2021", "READ 223 B (BAC SM)", n, med, p95,
                f"simulated chip time {sim:.1f} ms/APDU")
        bridge.remove()

        t2 = ChipTransport(EchoCard())
        med, p95 = timed(lambda: t2.transmit(SELECT), n)
        row("in-process", "echo (floor)", "SELECT (plain)", n, med, p95)
        t3 = ChipTransport(chip)
        t3.reset()
        med, p95 = timed(lambda: t3.transmit(SELECT), n)
        row("in-process", "vn-cccd-2021", "SELECT (plain)", n, med, p95)
        sm3 = open_bac(t3)
        med, p95 = timed(lambda: sm3.transmit(READ_223), n)
        row("in-process", "vn-cccd-2021", "READ 223 B (BAC SM)", n, med, p95)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
