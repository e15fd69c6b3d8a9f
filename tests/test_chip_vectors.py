"""The virtual chip replays the ICAO 9303-11 worked examples from the chip side, byte for byte
(Appendix D BAC + secure messaging, Appendix G.1 PACE-GM, Appendix I.1 PACE-CAM); see
tests/vectors/chip/README.md for where the values come from."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from firmware_profiles import CardState, LifeCycle
from firmware_profiles.chip import VirtualChip
from firmware_profiles.state import StoredFile
from icao9303.crypto.domain_params import standardized_domain_parameters
from icao9303.crypto.kdf import MRZKey

VECTORS = Path(__file__).parent / "vectors" / "icao9303" / "crypto"
BAC = json.loads((VECTORS / "appendix_d_bac.json").read_text())
PACE = {e["name"]: e for e in json.loads((VECTORS / "appendix_g_h_i_pace.json").read_text())["examples"]}
AID = bytes.fromhex("A0000002471001")


def _scripted_rng(*values: bytes):
    queue = list(values)

    def rng(n: int) -> bytes:
        v = queue.pop(0)
        assert len(v) == n
        return v

    return rng


def _locked_state(profile: str, mrz_information: bytes, **files: bytes) -> CardState:
    st = CardState(profile_name=profile, serial="0011223344556677", lifecycle=LifeCycle.LOCKED,
                   mrz_secret=hashlib.sha1(mrz_information).digest())
    fids = {"EF.COM": 0x011E}
    for name, data in files.items():
        st.files[("eMRTD", fids[name])] = StoredFile("eMRTD", fids[name], len(data), bytearray(data))
    return st


def test_appendix_d_bac_and_secure_messaging_chip_side():
    ef_com = bytes.fromhex("60145F0104303130365F36063034303030305C026175")
    state = _locked_state("legacy-bac", BAC["mrz_information"].encode(), **{"EF.COM": ef_com})
    chip = VirtualChip(state, rng=_scripted_rng(bytes.fromhex(BAC["rnd_ic"]), bytes.fromhex(BAC["k_ic"])))
    chip.power_on()
    assert chip.process_apdu(b"\x00\xa4\x04\x0c\x07" + AID) == b"\x90\x00"
    assert chip.process_apdu(bytes.fromhex(BAC["get_challenge_apdu"])).hex().upper() == BAC["rnd_ic"] + "9000"
    answer = chip.process_apdu(bytes.fromhex(BAC["external_authenticate_apdu"]))
    assert answer.hex().upper() == BAC["chip_response"] + "9000"
    for step in BAC["secure_messaging"]:
        assert chip.process_apdu(bytes.fromhex(step["protected_command"])).hex().upper() == \
            step["protected_response"], step["step"]


@pytest.mark.parametrize("name", ["G.1", "I.1"])
def test_appendix_g_i_pace_chip_side(name):
    ex = PACE[name]
    pw = ex["password"]
    key = MRZKey(document_number=pw["document_number"], date_of_birth=pw["date_of_birth"],
                 date_of_expiry=pw["date_of_expiry"])
    profile = "vn-cccd-2021" if name == "G.1" else "vn-cc-2024"
    state = _locked_state(profile, key.mrz_information)
    fixed = {"nonce": bytes.fromhex(ex["nonce_s"]),
             "mapping_private_key": int(ex["chip"]["mapping_private_key"], 16),
             "ephemeral_private_key": int(ex["chip"]["ephemeral_private_key"], 16)}
    if name == "I.1":
        curve = ec.BrainpoolP256R1()
        n = standardized_domain_parameters(13).order  # brainpoolP256r1
        ca_ic = int(ex["cam"]["chip_authentication_data"], 16)
        sk_ic = (fixed["mapping_private_key"] * pow(ca_ic, -1, n)) % n
        private = ec.derive_private_key(sk_ic, curve)
        point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
        assert point.hex().upper() == ex["cam"]["pk_ic"]
        state.ca_private_key = private.private_bytes(serialization.Encoding.DER,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    chip = VirtualChip(state, pace_fixed=fixed)
    chip.power_on()
    for command, response in ex["apdus"]:
        assert chip.process_apdu(bytes.fromhex(command)).hex().upper() == response.upper(), command
    assert chip.internal_errors == 0
