"""ICAO 9303-11 Appendices G (PACE-GM), H (PACE-IM) and I (PACE-CAM) byte for byte, terminal and chip role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icao9303.crypto import MRZKey, PINKey, kdf_pi, standardized_domain_parameters
from icao9303.crypto.pace import (
    PACEChip,
    PACETerminal,
    pace_algorithm,
    pseudo_random_mapping,
    verify_pace_cam,
)
from icao9303.tlv import encode_tlv

V = json.loads((Path(__file__).parent / "vectors/icao9303/crypto/appendix_g_h_i_pace.json").read_text())
EXAMPLES = {e["name"]: e for e in V["examples"]}


def H(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def I(text: str) -> int:  # noqa: E743
    return int("".join(text.split()), 16)


def _password(e):
    pw = e["password"]
    if pw["type"] == "MRZ":
        return MRZKey(pw["document_number"], pw["date_of_birth"], pw["date_of_expiry"])
    return PINKey(pw["value"])


def _chip_static_key(e) -> int | None:
    if "cam" not in e:
        return None
    n = standardized_domain_parameters(e["parameter_id"]).order
    ca = I(e["cam"]["chip_authentication_data"])
    return (I(e["chip"]["mapping_private_key"]) * pow(ca, -1, n)) % n  # SK_IC = SK_map,IC · CA_IC^-1


def _terminal(e) -> PACETerminal:
    t = e["terminal"]
    return PACETerminal(
        _password(e),
        e["oid"],
        e["parameter_id"],
        mapping_private_key=I(t["mapping_private_key"]) if "mapping_private_key" in t else None,
        terminal_nonce=H(t["terminal_nonce"]) if "terminal_nonce" in t else None,
        ephemeral_private_key=I(t["ephemeral_private_key"]),
    )


def _chip(e) -> PACEChip:
    c = e["chip"]
    return PACEChip(
        _password(e),
        e["oid"],
        e["parameter_id"],
        nonce=H(e["nonce_s"]),
        mapping_private_key=I(c["mapping_private_key"]) if "mapping_private_key" in c else None,
        ephemeral_private_key=I(c["ephemeral_private_key"]),
        chip_authentication_private_key=_chip_static_key(e),
        car=tuple(H(x) for x in e.get("chip_car", ())),
    )


def _responses(e) -> list[bytes]:
    """The chip's response data of steps 1-4: printed APDUs when the appendix has them, else built
    from the printed values (Appendix H prints values, not APDUs)."""
    if "apdus" in e:
        return [H(r)[:-2] for _, r in e["apdus"][1:]]
    step2 = encode_tlv(0x82, H(e["pk_map_ic"])) if "pk_map_ic" in e else b""
    return [
        encode_tlv(0x7C, encode_tlv(0x80, H(e["nonce_z"]))),
        encode_tlv(0x7C, step2),
        encode_tlv(0x7C, encode_tlv(0x84, H(e["pk_dh_ic"]))),
        encode_tlv(0x7C, encode_tlv(0x86, H(e["t_ic"]))),
    ]


def _command_data(apdu: bytes) -> bytes:
    if apdu[4] == 0:  # extended
        return apdu[7 : 7 + int.from_bytes(apdu[5:7], "big")]
    return apdu[5 : 5 + apdu[4]]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_password_key(name):
    e = EXAMPLES[name]
    key = _password(e)
    if "k" in e:
        assert key.pace_secret() == H(e["k"])
    assert kdf_pi(key, pace_algorithm(e["oid"]).cipher) == H(e["k_pi"])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_terminal_role(name):
    e = EXAMPLES[name]
    terminal = _terminal(e)
    responses = _responses(e)
    if "apdus" in e:
        assert terminal.mse_set_at_command() == H(e["apdus"][0][0])
    commands = []
    for step, response in enumerate(responses, start=1):
        commands.append(getattr(terminal, f"step{step}_command")())
        result = getattr(terminal, f"step{step}_response")(response)
    if "apdus" in e:
        assert [c.hex().upper() for c in commands] == [H(c).hex().upper() for c, _ in e["apdus"][1:]]
    else:
        assert H(e["pk_dh_ifd"]) in commands[2]
        assert encode_tlv(0x85, H(e["t_ifd"])) in commands[3]
    assert (result.ks_enc, result.ks_mac) == (H(e["ks_enc"]), H(e["ks_mac"]))
    assert result.chip_ephemeral_public_key == H(e["pk_dh_ic"])
    assert result.terminal_ephemeral_public_key == H(e["pk_dh_ifd"])
    if "cam" in e:
        assert result.chip_authentication_data == H(e["cam"]["chip_authentication_data"])
        verify_pace_cam(result, H(e["cam"]["pk_ic"]))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_chip_role(name):
    e = EXAMPLES[name]
    chip = _chip(e)
    terminal = _terminal(e)
    expected = _responses(e)
    for step in range(1, 5):
        command = getattr(terminal, f"step{step}_command")()
        if "apdus" in e:
            assert command == H(e["apdus"][step][0])
        answer = getattr(chip, f"step{step}")(_command_data(command))
        assert answer == expected[step - 1], f"step {step}"
        getattr(terminal, f"step{step}_response")(answer)
    assert chip.result == terminal.result


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_intermediate_values(name):
    """Mapping and key agreement values the appendices print, recomputed from the printed inputs."""
    e = EXAMPLES[name]
    group = standardized_domain_parameters(e["parameter_id"])
    alg = pace_algorithm(e["oid"])
    assert alg.cipher.decrypt_cbc(H(e["k_pi"]), H(e["nonce_z"])) == H(e["nonce_s"])
    s = I(e["nonce_s"])
    if "r_st" in e:
        r, rp = pseudo_random_mapping(
            alg.cipher, H(e["nonce_s"]), H(e["terminal"]["terminal_nonce"]), group.prime
        )
        assert r == H(e["r_st"])
        assert rp == I(e["rp_st"])
        mapped = group.integrated_map(rp)
    else:
        sk_t = I(e["terminal"]["mapping_private_key"])
        sk_c = I(e["chip"]["mapping_private_key"])
        assert group.encode(group.multiply(sk_t)) == H(e["pk_map_ifd"])
        assert group.encode(group.multiply(sk_c)) == H(e["pk_map_ic"])
        h = group.agree(sk_t, group.decode(H(e["pk_map_ic"])))
        assert group.encode(h) == H(e["h"])
        assert group.encode(group.agree(sk_c, group.decode(H(e["pk_map_ifd"])))) == H(e["h"])
        mapped = group.combine(s, h)
    assert group.encode(mapped) == H(e["mapped_generator"])
    g2 = group.with_generator(mapped)
    sk_ifd = I(e["terminal"]["ephemeral_private_key"])
    assert g2.encode(g2.multiply(sk_ifd)) == H(e["pk_dh_ifd"])
    assert g2.encode(g2.multiply(I(e["chip"]["ephemeral_private_key"]))) == H(e["pk_dh_ic"])
    assert g2.shared_secret(g2.agree(sk_ifd, g2.decode(H(e["pk_dh_ic"])))) == H(e["shared_secret"])


def test_cam_values_of_appendix_i():
    e = EXAMPLES["I.1"]
    cam = e["cam"]
    alg = pace_algorithm(e["oid"])
    assert alg.cipher.encrypt_block(H(e["ks_enc"]), b"\xff" * 16) == H(cam["iv"])
    sk_ic = _chip_static_key(e)
    group = standardized_domain_parameters(13)
    assert group.encode(group.multiply(sk_ic)) == H(cam["pk_ic"])
    assert H(cam["pk_ic"]) in H(cam["chip_authentication_public_key_info"])


def test_cam_rejects_another_chip_key():
    e = EXAMPLES["I.1"]
    terminal = _terminal(e)
    for step, response in enumerate(_responses(e), start=1):
        getattr(terminal, f"step{step}_command")()
        result = getattr(terminal, f"step{step}_response")(response)
    group = standardized_domain_parameters(13)
    from icao9303.crypto.errors import AuthenticationError

    with pytest.raises(AuthenticationError) as exc:
        verify_pace_cam(result, group.encode(group.multiply(12345)))
    assert exc.value.reason == "auth.cam"
