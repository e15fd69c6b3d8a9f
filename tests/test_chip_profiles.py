"""Firmware profiles load and validate; card state persists; transport-key diversification."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_profiles import (
    CardState,
    CardStateError,
    LifeCycle,
    ProfileError,
    detect_profile,
    diversify_transport_key,
    list_profiles,
    load_profile,
    new_blank_card,
    parse_profile,
)


def _raw(name: str) -> dict:
    return json.loads(resources.files("firmware_profiles.profiles").joinpath(f"{name}.json").read_text())


def test_shipped_profiles():
    assert list_profiles() == ["legacy-bac", "vn-cc-2024", "vn-cccd-2021"]
    p21, p24, legacy = (load_profile(n) for n in ("vn-cccd-2021", "vn-cc-2024", "legacy-bac"))
    assert p21.aid == bytes.fromhex("A0000002471001")
    assert p21.pace is not None and p21.pace.mappings == ("GM",) and p21.pace.parameter_ids == (13,)
    assert p21.file_by_name("EF.CardAccess").fid == 0x011C and p21.file_by_name("EF.CardAccess").df == "MF"
    assert p21.file_by_name("DG3").read == "eac"
    assert {f.name for f in p21.files} >= {"EF.COM", "EF.SOD", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15"}
    assert p24.apdu.extended_length and "CAM" in p24.pace.mappings
    assert p24.memory_capacity > p21.memory_capacity
    assert legacy.pace is None and legacy.chip_authentication is None and legacy.bac
    assert legacy.apdu.max_read_binary == 223 and not legacy.apdu.extended_length
    assert legacy.active_authentication.algorithm == "RSA" and legacy.active_authentication.key_size == 1024
    with pytest.raises(ProfileError) as e:
        load_profile("no-such-chip")
    assert e.value.reason == "profile.unknown"


def test_detect_profile_by_atr_and_historical_bytes():
    for name in list_profiles():
        p = load_profile(name)
        assert detect_profile(p.atr) is p
    p = load_profile("vn-cc-2024")
    # the same historical bytes behind a different interface-byte layout (T=1 only, TA1 present)
    hist = p.historical_bytes
    body = bytes([0x90 | len(hist), 0x96, 0x81, 0x01]) + hist
    tck = 0
    for b in body:
        tck ^= b
    assert detect_profile(b"\x3b" + body + bytes([tck])) is p
    with pytest.raises(ProfileError) as e:
        detect_profile(bytes.fromhex("3B00"))
    assert e.value.reason == "profile.atr_unknown"


MUTATIONS = json.loads((Path(__file__).parent / "vectors" / "chip" / "profile_mutations.json").read_text())


@pytest.mark.parametrize("mutation", MUTATIONS["mutations"], ids=lambda m: m["why"])
def test_invalid_profiles_rejected(mutation):
    path, value, field = mutation["path"], mutation["value"], mutation["field"]
    raw = _raw("vn-cccd-2021")
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ProfileError) as e:
        parse_profile(raw, source="mutant")
    assert e.value.reason == "profile.invalid"
    assert e.value.field.startswith(field)


def test_profile_is_frozen():
    p = load_profile("vn-cccd-2021")
    with pytest.raises(AttributeError):
        p.bac = False  # type: ignore[misc]


def test_transport_key_diversification():
    master = bytes(range(16))
    serial = "0011223344556677"
    tk = diversify_transport_key(master, serial)
    mac = CMAC(AES(master))
    mac.update(bytes.fromhex("01" + serial))
    assert tk == mac.finalize()
    # the callable form (key store) gives the same key; different serials give different keys
    def in_store(msg: bytes) -> bytes:
        c = CMAC(AES(master))
        c.update(msg)
        return c.finalize()

    assert diversify_transport_key(in_store, serial.lower()) == tk
    assert diversify_transport_key(master, "0011223344556678") != tk
    with pytest.raises(CardStateError):
        diversify_transport_key(master, "not-a-serial")


def test_card_state_round_trip(tmp_path):
    tk = bytes(16)
    path = tmp_path / "card.json"
    state = new_blank_card("vn-cccd-2021", "00112233aabbccdd", tk, path=path)
    assert state.lifecycle is LifeCycle.BLANK and state.serial == "00112233AABBCCDD"
    assert "transport" not in repr(state) and tk.hex() not in repr(state)
    again = CardState.load(path)
    assert again.to_json() == state.to_json()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text("{not json")
    with pytest.raises(CardStateError):
        CardState.load(path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(CardStateError) as e:
        CardState.load(path)
    assert e.value.reason == "state.version"


def test_reprs_carry_no_secrets_or_personal_data():
    from firmware_profiles.chip import SeedKey, VirtualChip
    from firmware_profiles.state import StoredFile

    state = new_blank_card("vn-cccd-2021", "00112233aabbccdd", bytes(range(16)))
    state.can = "123456"
    state.mrz_secret = bytes(range(20, 40))
    state.files[("eMRTD", 0x0101)] = StoredFile("eMRTD", 0x0101, 3, bytearray(b"MRZ"))
    chip = VirtualChip(state)
    text = " ".join(repr(x) for x in (state, chip, state.files[("eMRTD", 0x0101)], SeedKey(bytes(20)),
                                      chip._session))
    for secret in ("123456", bytes(range(16)).hex(), bytes(range(20, 40)).hex(), "MRZ"):
        assert secret not in text


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12)
    | st.sampled_from(["A0000002471001", "3B00", "0101", "GM", "AES-128", "sm", "MF", "blank"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                      max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_hostile_profile_and_state_documents_raise_only_our_errors(data):
    # a real document with one subtree replaced by junk, or junk outright
    raw = _raw(data.draw(st.sampled_from(["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])))
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(raw)))
        raw[key] = data.draw(_JSON)
        doc = raw
    else:
        doc = data.draw(_JSON)
    try:
        parse_profile(doc, source="fuzz")
    except ProfileError:
        pass
    state = new_blank_card("vn-cccd-2021", "0011223344556677", bytes(16)).to_json()
    key = data.draw(st.sampled_from(sorted(state)))
    state[key] = data.draw(_JSON)
    try:
        CardState.from_json(state if data.draw(st.booleans()) else data.draw(_JSON))
    except CardStateError:
        pass
