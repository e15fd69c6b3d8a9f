"""Fuzz the virtual chip (hypothesis): random and mutated APDUs, plain and inside secure messaging, in
every lifecycle state. Always a status word, never an internal error, never a secret in a response,
never a change of non-volatile state after a rejected command (retry counters excepted: counting
wrong keys is their job), and never any change at all to a locked card's files, keys or lifecycle."""
from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_profiles import LifeCycle, new_blank_card
from firmware_profiles.chip import ChipTransport, VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from icao9303.crypto import SecureMessaging
from tests.test_chip_helpers import CAN, SERIAL, TK, open_bac, open_pace, personalize

AID = bytes.fromhex("A0000002471001")

def _valid() -> list[bytes]:
    """Well-formed commands of every kind the chip knows, to mutate (plain; SM states wrap them)."""
    hexes = [
        "00A4040C07A0000002471001", "00A4020C020101", "00A4020C02011C", "00A4000C023F00", "00A402000201020",
        "00B0000004", "00B0810000", "00B0830004", "00B100000454020100FF", "0084000008",
        "0082000028" + "00" * 40 + "28", "0022C1A40F800A04007F00070202040202830102",
        "0022C1A412800A04007F0007020204060283010184010D", "002241A40C800A04007F00070202030202",
        "10860000027C0000", "00860000047C02850100", "00880000080102030405060708 00",
        "00CA9F7F00", "00E000000F620D80020010830201018201018801 08", "00D6000003010203",
        "00D7000007540200005301FF", "0046000100", "0046000200", "0046000300",
        "00DA01011A" + "41" * 26, "00DA010206" + "313233343536", "0044000000",
    ]
    out = []
    for h in hexes:
        h = h.replace(" ", "")
        if len(h) % 2:
            h = h[:-1]
        out.append(bytes.fromhex(h))
    return out


VALID_APDUS = _valid()


def _durable(state) -> dict:
    d = state.to_json()
    d.pop("auth_failures")
    d.pop("transport_auth_failures")
    return d


def _secrets(state) -> list[bytes]:
    out = []
    for pkcs8 in (state.ca_private_key, state.aa_private_key):
        if pkcs8 is None:
            continue
        key = load_der_private_key(pkcs8, None)
        numbers = key.private_numbers()
        if hasattr(numbers, "private_value"):
            v = numbers.private_value
        else:
            v = numbers.d
        out.append(v.to_bytes((v.bit_length() + 7) // 8, "big")[:16])
        out.append(pkcs8[-32:])
    for value in (state.transport_key, state.mrz_secret, TK):
        if value:
            out.append(value[:12])
    return out


@pytest.fixture(scope="module")
def bases():
    """Non-volatile states to start from: blank, half-personalized, locked, per profile."""
    out = {}
    for name in ("vn-cccd-2021", "vn-cc-2024", "legacy-bac"):
        _chip, locked, _ = personalize(name, dg2_size=500)
        out[(name, "locked")] = locked
        half = new_blank_card(name, SERIAL, TK)
        chip = VirtualChip(half)
        s = PersonalizationSession(ChipTransport(chip), name)
        s.authenticate(TK)
        s.write_file("DG1", b"\x61\x03\x5f\x1f\x00")
        out[(name, "personalized")] = half
        out[(name, "blank")] = new_blank_card(name, SERIAL, TK)
    return out


def _session(chip: VirtualChip, kind: str, lifecycle: str) -> SecureMessaging | None:
    t = ChipTransport(chip)
    if kind == "plain":
        return None
    if kind == "bac" and lifecycle == "locked":
        return open_bac(t).sm
    if kind == "pace" and lifecycle == "locked" and chip.profile.pace is not None:
        from firmware_profiles.security_infos import pace_oids
        from icao9303.crypto import CANKey

        return open_pace(t, pace_oids(chip.profile)[-1], CANKey(CAN))[0].sm
    if kind == "transport" and lifecycle != "locked":
        s = PersonalizationSession(t, chip.profile)
        s.authenticate(TK)
        return s._sm.sm  # the terminal's SM session object
    return None


def _mutate(data: st.DataObject, apdu: bytes) -> bytes:
    b = bytearray(apdu)
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "header", "len"]))
        if op == "flip" and b:
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut" and b:
            del b[data.draw(st.integers(0, len(b) - 1)):]
        elif op == "insert":
            i = data.draw(st.integers(0, len(b)))
            b[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "header" and len(b) >= 4:
            b[data.draw(st.integers(0, 3))] = data.draw(st.integers(0, 255))
        elif op == "len" and len(b) >= 5:
            b[4] = data.draw(st.integers(0, 255))
    return bytes(b)


CASES = [
    (profile, lifecycle, session)
    for profile in ("vn-cccd-2021", "vn-cc-2024", "legacy-bac")
    for lifecycle, session in (("blank", "plain"), ("blank", "transport"), ("personalized", "plain"),
                               ("personalized", "transport"), ("locked", "plain"), ("locked", "bac"),
                               ("locked", "pace"))
    if not (profile == "legacy-bac" and session == "pace")
]


@pytest.mark.parametrize(("profile", "lifecycle", "session"), CASES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_chip(bases, profile, lifecycle, session, data):
    state = copy.deepcopy(bases[(profile, lifecycle)])
    state.path = None
    chip = VirtualChip(state)
    sm = _session(chip, session, lifecycle)
    secrets = _secrets(state)
    locked_before = _durable(state) if state.lifecycle is LifeCycle.LOCKED else None
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["random", "mutated", "sm"] if sm else ["random", "mutated"]))
        if kind == "random":
            apdu = data.draw(st.binary(min_size=0, max_size=300))
        else:
            apdu = _mutate(data, data.draw(st.sampled_from(VALID_APDUS)))
            if kind == "sm" and sm is not None and sm.alive:
                try:
                    apdu = sm.protect_command(apdu)
                except Exception:
                    continue
                if data.draw(st.booleans()):
                    apdu = _mutate(data, apdu)
        before = _durable(state)
        response = chip.process_apdu(apdu)
        assert isinstance(response, bytes) and len(response) >= 2
        assert chip.internal_errors == 0, apdu.hex()
        for secret in secrets:
            assert secret not in response
        assert CAN.encode() not in response or state.lifecycle is not LifeCycle.LOCKED
        sw: int | None = int.from_bytes(response[-2:], "big")
        if kind == "sm" and len(response) > 2:  # protected answer: the real SW is in DO'99'
            try:
                sw = int.from_bytes(sm.unprotect_response(response)[-2:], "big")
            except Exception:
                sw = None
        if sw is not None and sw not in (0x9000, 0x6282) and sw >> 8 != 0x61:
            assert _durable(state) == before, f"state changed after {sw:04X} to {apdu.hex()}"
        if locked_before is not None:
            assert _durable(state) == locked_before
