"""Shared helpers for the chip tests (no tests here): personalize a card, BAC/PACE, whole-file reads."""
from __future__ import annotations

from firmware_profiles import diversify_transport_key, load_profile, new_blank_card
from firmware_profiles.chip import ChipTransport, VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from firmware_profiles.security_infos import card_access_bytes, dg14_security_infos
from icao9303.crypto import MRZKey
from icao9303.tlv import encode_tlv

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
SERIAL = "0011223344556677"
TK = diversify_transport_key(MASTER, SERIAL)
# VN_CARD.md specimen 1: document number 090012345, born 900315, expires 300315; CAN = last 6 of the ID.
MRZ_KEY = MRZKey(document_number="090012345", date_of_birth="900315", date_of_expiry="300315")
CAN = "012345"

CONTENT = {
    "EF.COM": bytes.fromhex("60185F0104303130375F36063034303030305C066175636D6E6F"),
    "DG1": b"\x61\x5d\x5f\x1f\x5a" + b"IDVNM0900123450079090012345<<0"
           b"9003152M3003150VNM<<<<<<<<<<<8NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
    "DG13": b"\x6d\x03\x30\x01\x00",
    "EF.SOD": b"\x77\x03\x30\x01\x00",
}


def dg2_content(size: int) -> bytes:
    """A DG2-shaped TLV (tag 75) of exactly `size` bytes with a recognizable pattern."""
    from icao9303.tlv import encode_tlv

    for header in (2, 3, 4):
        out = encode_tlv(0x75, bytes((i * 7 + 3) & 0xFF for i in range(size - header)))
        if len(out) == size:
            return out
    raise ValueError(f"no DG2 of exactly {size} bytes")


def personalize(profile_name: str, *, dg2_size: int = 3000, lock: bool = True, path=None,
                serial: str = SERIAL):
    """A card of `profile_name` personalized through the dialect; returns (chip, state, public keys)."""
    profile = load_profile(profile_name)
    tk = diversify_transport_key(MASTER, serial)
    state = new_blank_card(profile, serial, tk, path=path)
    chip = VirtualChip(state)
    t = ChipTransport(chip)
    s = PersonalizationSession(t, profile)
    s.authenticate(tk)
    if profile.file_by_fid(0x011C, "MF") is not None:
        s.write_file("EF.CardAccess", card_access_bytes(profile))
    for name in ("EF.COM", "DG1", "DG13"):
        s.write_file(name, CONTENT[name])
    s.write_file("DG2", dg2_content(dg2_size))
    if profile.file_by_fid(0x0103, "eMRTD") is not None:
        s.write_file("DG3", b"\x63\x03\x02\x01\x00")
    keys = {}
    if profile.chip_authentication is not None:
        keys["CA"] = s.generate_key_pair("CA")
    if profile.active_authentication is not None:
        keys["AA"] = s.generate_key_pair("AA")
    if "CA" in keys:
        s.write_file("DG14", encode_tlv(0x6E, dg14_security_infos(profile, keys["CA"])))
    if "AA" in keys:
        s.write_file("DG15", encode_tlv(0x6F, keys["AA"]))
    s.write_file("EF.SOD", CONTENT["EF.SOD"])
    s.set_access_keys(MRZ_KEY, CAN if profile.pace else None)
    if lock:
        s.lock()
    chip.power_off()
    return chip, state, keys


def tx(transport, apdu: bytes | str) -> tuple[bytes, int]:
    """Send an APDU (bytes or hex); return (data, sw)."""
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    r = transport.transmit(raw)
    return r[:-2], int.from_bytes(r[-2:], "big")


def open_bac(transport, key=MRZ_KEY):
    """SELECT the eMRTD AID, run BAC, return the SM transport (B's terminal role)."""
    from icao9303.crypto import SecureMessagingTransport, perform_bac

    assert tx(transport, "00A4040C07A0000002471001")[1] == 0x9000
    return SecureMessagingTransport(transport, perform_bac(transport, key).secure_messaging())


def open_pace(transport, oid: str, password, parameter_id: int = 13):
    """Run PACE (B's PACETerminal) with the AID selected afterwards; return (SM transport, result)."""
    from icao9303.crypto import SecureMessagingTransport
    from icao9303.crypto.pace import PACETerminal

    term = PACETerminal(password, oid, parameter_id)

    def step(cmd: bytes) -> bytes:
        data, sw = tx(transport, cmd)
        assert sw == 0x9000, f"{sw:04X}"
        return data

    step(term.mse_set_at_command())
    term.step1_response(step(term.step1_command()))
    term.step2_response(step(term.step2_command()))
    term.step3_response(step(term.step3_command()))
    result = term.step4_response(step(term.step4_command()))
    sm = SecureMessagingTransport(transport, result.secure_messaging())
    assert tx(sm, "00A4040C07A0000002471001")[1] == 0x9000
    return sm, result


def read_file(transport, fid: int, chunk: int = 223) -> bytes:
    """SELECT EF by FID then READ BINARY it whole (length from the TLV header), `chunk` bytes a time."""
    from icao9303.apdu import CommandAPDU
    from icao9303.tlv import encode_tlv, tlv_header, unwrap_tlv

    _, sw = tx(transport, bytes([0, 0xA4, 2, 0x0C, 2]) + fid.to_bytes(2, "big"))
    assert sw == 0x9000, f"select {fid:04X}: {sw:04X}"
    head, sw = tx(transport, "00B0000004")
    assert sw == 0x9000, f"read {fid:04X}: {sw:04X}"
    _tag, hlen, vlen = tlv_header(head)
    total = hlen + vlen
    out = b""
    while len(out) < total:
        n = min(chunk, total - len(out))
        off = len(out)
        if off <= 0x7FFF:
            data, sw = tx(transport, bytes([0, 0xB0, off >> 8, off & 0xFF, n & 0xFF]))
        else:  # odd INS B1: offset in DO'54', answer in DO'53' (ICAO 9303-10 §3.5.1)
            cmd = CommandAPDU(0, 0xB1, 0, 0, encode_tlv(0x54, off.to_bytes(3, "big")), n + 3)
            data, sw = tx(transport, cmd.to_bytes())
            data = unwrap_tlv(data, 0x53)
        assert sw == 0x9000, f"read {fid:04X} at {off}: {sw:04X}"
        out += data
    return out
