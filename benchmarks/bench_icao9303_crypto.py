"""Benchmark of icao9303.crypto: PACE-GM handshakes and secure messaging throughput, beside their floors.

Prints (not a test, no asserts):
- PACE-GM brainpoolP256r1 AES-128 handshakes per second, terminal and chip in one process, beside the
  floor of the raw EC arithmetic the protocol needs (the same number of scalar multiplications done
  directly on `ecdsa` points) and beside `cryptography`'s ECDH (which cannot do the mapped generator);
- SM wrap+unwrap MB/s (terminal protect → chip unprotect → chip protect → terminal unprotect, i.e. each
  payload byte encrypted/MACed twice and decrypted/verified twice) for AES-128 and 3DES, at 223-byte
  and 4 KiB reads, beside the raw `cryptography` CBC encryption and MAC speed over the same bytes.

Run: .venv/bin/python benchmarks/bench_icao9303_crypto.py [--seconds 1.0]
"""
from __future__ import annotations

import argparse
import time

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from icao9303.apdu import CommandAPDU
from icao9303.crypto import AES_128, DES3, CANKey, SecureMessaging, standardized_domain_parameters
from icao9303.crypto.pace import PACEChip, PACETerminal
from icao9303.lds import oids


def _rate(fn, seconds: float) -> tuple[float, int]:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed, n


def _handshake() -> None:
    key = CANKey("123456")
    oid = oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    terminal, chip = PACETerminal(key, oid, 13), PACEChip(key, oid, 13)
    for step in range(1, 5):
        command = getattr(terminal, f"step{step}_command")()
        getattr(terminal, f"step{step}_response")(getattr(chip, f"step{step}")(command[5:-1]))
    assert terminal.result is not None


def _raw_scalar_mults() -> None:
    # GM with ECDH per side: mapping key pair, H, s·G + H, ephemeral key pair, shared secret = 5 mults
    # (+1 addition); both sides: 10.
    group = standardized_domain_parameters(13)
    g = group.generator()
    for _ in range(2):
        a = group.random_scalar()
        p = g * a
        h = p * group.random_scalar()
        g2 = g * group.random_scalar() + h
        q = g2 * group.random_scalar()
        _ = (q * group.random_scalar()).x()


def _cryptography_ecdh() -> None:
    for _ in range(2):
        a = ec.generate_private_key(ec.BrainpoolP256R1())
        b = ec.generate_private_key(ec.BrainpoolP256R1())
        a.exchange(ec.ECDH(), b.public_key())
        a2 = ec.generate_private_key(ec.BrainpoolP256R1())
        a2.exchange(ec.ECDH(), b.public_key())


def _sm_round(cipher, size: int):
    key = b"\x11" * cipher.key_length
    terminal = SecureMessaging(cipher, key, b"\x22" * cipher.key_length)
    chip = SecureMessaging(cipher, key, b"\x22" * cipher.key_length)
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    command = CommandAPDU(0x00, 0xD6, 0x00, 0x00, payload).to_bytes()
    response = payload + b"\x90\x00"

    def run() -> None:
        plain = chip.unprotect_command(terminal.protect_command(command))
        assert len(plain.data) == size
        terminal.unprotect_response(chip.protect_response(response))

    return run


def _raw_round(cipher, size: int):
    key = b"\x11" * cipher.key_length
    data = bytes(size + (-size % cipher.block_size))
    if cipher is DES3:
        alg = TripleDES(key + key[:8])
    else:
        alg = AES(key)

    def run() -> None:
        # the same work as one SM round trip: 2 encryptions, 2 decryptions, 4 MACs over the payload
        for _ in range(2):
            enc = Cipher(alg, modes.CBC(bytes(cipher.block_size))).encryptor()
            ct = enc.update(data) + enc.finalize()
            dec = Cipher(alg, modes.CBC(bytes(cipher.block_size))).decryptor()
            dec.update(ct) + dec.finalize()
            for _ in range(2):
                if cipher is DES3:
                    e = Cipher(TripleDES(key[:8] * 3), modes.CBC(bytes(8))).encryptor()
                    e.update(ct) + e.finalize()
                else:
                    c = CMAC(AES(key))
                    c.update(ct)
                    c.finalize()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    s = args.seconds
    print(f"{'measurement':58} {'value':>12}  floor")
    rate, _ = _rate(_handshake, s)
    floor, _ = _rate(_raw_scalar_mults, s)
    ossl, _ = _rate(_cryptography_ecdh, s)
    print(f"{'PACE-GM brainpoolP256r1 AES-128 handshakes/s (both sides)':58} {rate:12.1f}  "
          f"raw ecdsa arithmetic (10 scalar mults) {floor:.1f}/s; cryptography ECDH x3 per side {ossl:.1f}/s")
    for cipher in (AES_128, DES3):
        for size in (223, 4096):
            r, _ = _rate(_sm_round(cipher, size), s)
            raw, _ = _rate(_raw_round(cipher, size), s)
            label = f"SM wrap+unwrap {cipher.name} {size}-byte payload, MB/s (both directions)"
            # payload bytes moved per round: command + response
            print(f"{label:58} {r * 2 * size / 1e6:12.2f}  raw cryptography CBC+MAC same work "
                  f"{raw * 2 * size / 1e6:.2f} MB/s")


if __name__ == "__main__":
    main()
