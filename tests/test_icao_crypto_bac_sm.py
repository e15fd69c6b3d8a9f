"""ICAO 9303-11 Appendix D (BAC and 3DES secure messaging) byte for byte, both roles; SM failure rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icao9303.apdu import CommandAPDU
from icao9303.crypto import (
    AES_128,
    AES_256,
    DES3,
    BACChip,
    BACTerminal,
    MRZKey,
    SecureMessaging,
    SecureMessagingTransport,
    SMError,
    bac_keys,
)
from icao9303.crypto.errors import AuthenticationError, ProtocolError

H = bytes.fromhex
D = json.loads((Path(__file__).parent / "vectors/icao9303/crypto/appendix_d_bac.json").read_text())


def _key() -> MRZKey:
    return MRZKey(**D["mrz"])


def test_d2_mrz_information_and_basic_access_keys():
    key = _key()
    assert key.mrz_information == D["mrz_information"].encode()
    assert key.key_seed() == H(D["k_seed"])
    assert bac_keys(key) == (H(D["k_enc"]), H(D["k_mac"]))
    long = D["long_document_number"]
    assert MRZKey(long["document_number"], long["date_of_birth"], long["date_of_expiry"]).mrz_information == (
        long["mrz_information"].encode()
    )


def test_d3_terminal_builds_external_authenticate_and_derives_session_keys():
    terminal = BACTerminal(_key(), rnd_ifd=H(D["rnd_ifd"]), k_ifd=H(D["k_ifd"]))
    assert terminal.get_challenge_command() == H(D["get_challenge_apdu"])
    assert terminal.external_authenticate_command(H(D["rnd_ic"])) == H(D["external_authenticate_apdu"])
    result = terminal.process_response(H(D["chip_response"]))
    assert (result.ks_enc, result.ks_mac, result.ssc) == (H(D["ks_enc"]), H(D["ks_mac"]), H(D["ssc"]))


def test_d3_chip_checks_and_answers():
    chip = BACChip(_key(), rnd_ic=H(D["rnd_ic"]), k_ic=H(D["k_ic"]))
    assert chip.get_challenge() == H(D["rnd_ic"])
    response, result = chip.external_authenticate(H(D["e_ifd"] + D["m_ifd"]))
    assert response == H(D["chip_response"])
    assert (result.ks_enc, result.ks_mac, result.ssc) == (H(D["ks_enc"]), H(D["ks_mac"]), H(D["ssc"]))


def test_bac_wrong_key_and_sequence():
    chip = BACChip(MRZKey("L898902C", "690806", "940624"))
    with pytest.raises(ProtocolError) as exc:
        chip.external_authenticate(H(D["e_ifd"] + D["m_ifd"]))
    assert exc.value.reason == "protocol.sequence"
    chip.get_challenge()
    with pytest.raises(AuthenticationError) as exc:
        chip.external_authenticate(H(D["e_ifd"] + D["m_ifd"]))
    assert exc.value.status_word == 0x6300
    terminal = BACTerminal(_key(), rnd_ifd=H(D["rnd_ifd"]), k_ifd=H(D["k_ifd"]))
    terminal.external_authenticate_command(H("0011223344556677"))
    with pytest.raises(AuthenticationError):
        terminal.process_response(H(D["chip_response"]))
    with pytest.raises(ProtocolError):
        terminal.process_response(b"\x00" * 39)


def test_bac_repr_hides_secrets():
    key = _key()
    assert "L898902C" not in repr(key)
    assert "L898902C" not in repr(BACTerminal(key))
    assert D["ks_enc"].lower() not in repr(BACChip(key)).lower()


def _sm() -> SecureMessaging:
    return SecureMessaging(DES3, H(D["ks_enc"]), H(D["ks_mac"]), H(D["ssc"]))


def test_d4_terminal_protects_and_unprotects():
    sm = _sm()
    for step in D["secure_messaging"]:
        assert sm.protect_command(H(step["command"])) == H(step["protected_command"]), step["step"]
        assert sm.ssc_bytes == H(step["ssc_command"])
        assert sm.unprotect_response(H(step["protected_response"])) == H(step["response"])
        assert sm.ssc_bytes == H(step["ssc_response"])


def test_d4_chip_unprotects_and_protects():
    sm = _sm()
    for step in D["secure_messaging"]:
        plain = sm.unprotect_command(H(step["protected_command"]))
        assert plain.to_bytes() == H(step["command"]), step["step"]
        assert sm.protect_response(H(step["response"])) == H(step["protected_response"])


def test_sm_mac_failure_kills_session():
    sm = _sm()
    sm.protect_command(H("00A4020C02011E"))
    bad = bytearray(H(D["secure_messaging"][0]["protected_response"]))
    bad[-3] ^= 1
    with pytest.raises(SMError) as exc:
        sm.unprotect_response(bytes(bad))
    assert exc.value.reason == "sm.mac"
    assert not sm.alive
    with pytest.raises(SMError) as exc:
        sm.protect_command(H("00B0000004"))
    assert exc.value.reason == "sm.session_dead"


def test_sm_unprotected_error_is_not_counted_and_kills_session():
    sm = _sm()
    sm.protect_command(H("00B0000004"))
    ssc = sm.ssc
    with pytest.raises(SMError) as exc:
        sm.unprotect_response(H("6700"))
    assert exc.value.reason == "sm.unprotected_response"
    assert exc.value.sw == 0x6700
    assert sm.ssc == ssc  # the chip did not protect a response: nothing counted for it
    assert not sm.alive


def test_chip_rejects_bad_command_mac_and_plain_command():
    chip = _sm()
    bad = bytearray(H(D["secure_messaging"][0]["protected_command"]))
    bad[-2] ^= 0x80
    with pytest.raises(SMError) as exc:
        chip.unprotect_command(bytes(bad))
    assert exc.value.status_word == 0x6988
    assert not chip.alive
    chip = _sm()
    with pytest.raises(SMError) as exc:
        chip.unprotect_command(H("00B0000004"))
    assert exc.value.status_word == 0x6987


@pytest.mark.parametrize("cipher", [DES3, AES_128, AES_256], ids=lambda c: c.name)
@pytest.mark.parametrize(
    "command,response",
    [
        ("00A4020C02011E", "9000"),
        ("00B0000000", "AB" * 256 + "9000"),
        ("00B00000000000", "CD" * 1000 + "9000"),  # extended Le = 65536
        ("00B1000004540200E0", "53820100" + "11" * 256 + "9000"),  # odd INS: DO'85'
        ("00D60000" + "00" + (300).to_bytes(2, "big").hex() + "EE" * 300, "9000"),  # extended Lc
        ("0088000008" + "01" * 8 + "00", "77" * 128 + "9000"),
        ("00B0000010", "6282"),  # warning status, no data
        ("00B0000010", "6A82"),  # protected error status
    ],
)
def test_sm_round_trip_both_roles(cipher, command, response):
    terminal = SecureMessaging(cipher, b"\x11" * cipher.key_length, b"\x22" * cipher.key_length, 5)
    chip = SecureMessaging(cipher, b"\x11" * cipher.key_length, b"\x22" * cipher.key_length, 5)
    for _ in range(3):
        protected = terminal.protect_command(H(command))
        plain = chip.unprotect_command(protected)
        original = CommandAPDU.from_bytes(H(command))
        assert (plain.header, plain.data, plain.ne) == (original.header, original.data, original.ne)
        assert terminal.unprotect_response(chip.protect_response(H(response))) == H(response)
        assert terminal.ssc == chip.ssc


def test_sm_preserves_command_fields():
    for cmd in [
        CommandAPDU(0x00, 0xB0, 0x81, 0x00, b"", 65536),
        CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001")),
        CommandAPDU(0x00, 0xD6, 0x00, 0x00, b"\x00" * 1000),
        CommandAPDU(0x00, 0x88, 0x00, 0x00, b"\x01" * 8, 512),
    ]:
        terminal = SecureMessaging(AES_128, b"\x01" * 16, b"\x02" * 16)
        chip = SecureMessaging(AES_128, b"\x01" * 16, b"\x02" * 16)
        plain = chip.unprotect_command(terminal.protect_command(cmd))
        assert (plain.cla, plain.ins, plain.p1, plain.p2, plain.data, plain.ne) == (
            cmd.cla,
            cmd.ins,
            cmd.p1,
            cmd.p2,
            cmd.data,
            cmd.ne,
        )


class _Echo:
    def __init__(self, chip: SecureMessaging) -> None:
        self.chip = chip
        self.seen: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.seen.append(apdu)
        try:
            cmd = self.chip.unprotect_command(apdu)
        except SMError as exc:
            return exc.status_word.to_bytes(2, "big")
        return self.chip.protect_response(cmd.data + b"\x90\x00")


def test_secure_messaging_transport_and_dead_session():
    chip = SecureMessaging(AES_128, b"\x01" * 16, b"\x02" * 16)
    inner = _Echo(chip)
    transport = SecureMessagingTransport(inner, SecureMessaging(AES_128, b"\x01" * 16, b"\x02" * 16))
    assert transport.transmit(H("00D6000003010203")) == H("0102039000")
    assert inner.seen[0][0] == 0x0C
    # A terminal with the wrong MAC key: the chip answers plain 6988, the terminal's session dies.
    transport.replace_session(SecureMessaging(AES_128, b"\x01" * 16, b"\x03" * 16, chip.ssc))
    with pytest.raises(SMError) as exc:
        transport.transmit(H("00D6000003010203"))
    assert exc.value.reason == "sm.unprotected_response" and exc.value.sw == 0x6988
    assert not transport.sm.alive and not chip.alive
