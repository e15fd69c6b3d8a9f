"""BSI TR-03110 worked example (PACE, SM, Chip Authentication) and Chip Authentication v1 in both roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icao9303.crypto import AES_128, PINKey, SecureMessaging, kdf_pi, session_keys
from icao9303.crypto.ca import (
    ChipAuthenticationChip,
    ChipAuthenticationTerminal,
    ca_algorithm,
    chip_authentication_key,
    select_chip_authentication,
)
from icao9303.crypto.errors import ProtocolError, UnsupportedAlgorithmError
from icao9303.crypto.pace import PACEChip, PACETerminal
from icao9303.lds import oids

V = json.loads((Path(__file__).parent / "vectors/icao9303/crypto/tr03110_worked_example.json").read_text())


def H(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def I(text: str) -> int:  # noqa: E743
    return int("".join(text.split()), 16)


def test_bsi_pace_both_roles():
    p = V["pace"]
    key = PINKey(V["password"]["value"])
    assert AES_128.decrypt_cbc(kdf_pi(key, AES_128), H(p["nonce_z"])) == H(p["nonce_s"])
    terminal = PACETerminal(
        key,
        p["oid"],
        p["parameter_id"],
        mapping_private_key=I(p["map_pcd_private_key"]),
        ephemeral_private_key=I(p["pcd_private_key"]),
    )
    chip = PACEChip(
        key,
        p["oid"],
        p["parameter_id"],
        nonce=H(p["nonce_s"]),
        mapping_private_key=I(p["map_picc_private_key"]),
        ephemeral_private_key=I(p["picc_private_key"]),
    )
    commands = []
    for step in range(1, 5):
        command = getattr(terminal, f"step{step}_command")()
        commands.append(command)
        getattr(terminal, f"step{step}_response")(getattr(chip, f"step{step}")(command[5:-1]))
    result = terminal.result
    assert H(p["map_pcd_public_key"]) in commands[1]
    assert H(p["pcd_public_key"]) in commands[2]
    assert H(p["t_pcd"]) in commands[3]
    assert result.chip_ephemeral_public_key == H(p["picc_public_key"])
    assert (result.ks_enc, result.ks_mac) == (H(p["ks_enc"]), H(p["ks_mac"]))
    assert chip.result == result
    group = terminal._mapped
    assert group.encode(group.generator()) == H(p["mapped_generator"])
    secret = group.shared_secret(group.agree(I(p["pcd_private_key"]), group.decode(H(p["picc_public_key"]))))
    assert secret == H(p["shared_secret"])


def test_bsi_secure_messaging_primitives():
    p, sm_v = V["pace"], V["secure_messaging"]
    sm = SecureMessaging(AES_128, H(p["ks_enc"]), H(p["ks_mac"]), sm_v["encrypt"]["ssc"])
    assert sm._encrypt(H(sm_v["encrypt"]["data"])) == H(sm_v["encrypt"]["cryptogram"])
    sm = SecureMessaging(AES_128, H(p["ks_enc"]), H(p["ks_mac"]), sm_v["mac"]["ssc"])
    assert sm._mac(H(sm_v["mac"]["data"])) == H(sm_v["mac"]["mac"])
    # The same MAC seen end to end: a chip response 99 02 9000 ‖ 8E at SSC 2 verifies.
    terminal = SecureMessaging(AES_128, H(p["ks_enc"]), H(p["ks_mac"]), 1)
    response = H("990290008E08") + H(sm_v["mac"]["mac"]) + H("9000")
    assert terminal.unprotect_response(response) == H("9000")


def test_bsi_chip_authentication_key_agreement():
    ca = V["chip_authentication"]
    key = chip_authentication_key(H(ca["chip_authentication_public_key_info"]))
    assert key.public_key == H(ca["picc_public_key"])
    assert key.key_id == 1 and key.group.parameter_id == 13
    assert key.group.encode(key.group.multiply(I(ca["picc_private_key"]))) == H(ca["picc_public_key"])
    terminal = ChipAuthenticationTerminal(ca["oid"], key, ephemeral_private_key=I(ca["pcd_private_key"]))
    assert terminal.ephemeral_public_key == H(ca["pcd_public_key"])
    group = key.group
    secret = group.shared_secret(group.agree(I(ca["pcd_private_key"]), group.decode(key.public_key)))
    assert secret == H(ca["shared_secret"])
    # CA version 2 of the worked example: keys from K ‖ r (cross-check of K and the KDF).
    assert session_keys(secret + H(ca["ca2_nonce"]), AES_128) == (H(ca["ca2_ks_enc"]), H(ca["ca2_ks_mac"]))
    # CA version 1 (this package): keys from K alone.
    assert (terminal.result.ks_enc, terminal.result.ks_mac) == session_keys(secret, AES_128)


def test_ca_v1_aes_both_roles_and_apdus():
    ca = V["chip_authentication"]
    key = chip_authentication_key(H(ca["chip_authentication_public_key_info"]))
    terminal = ChipAuthenticationTerminal(ca["oid"], key, ephemeral_private_key=I(ca["pcd_private_key"]))
    mse, ga = terminal.commands()
    assert mse == H("002241A40F800A04007F00070202030202840101")  # no Le on MSE (LESSONS)
    assert ga == H("00860000457C43804104") + H(ca["pcd_public_key"])[1:] + b"\x00"
    chip = ChipAuthenticationChip(I(ca["picc_private_key"]), key.group, key_id=1)
    chip.mse_set_at(mse[5:])
    response, result = chip.general_authenticate(ga[5:-1])
    assert response == H("7C00")
    assert result.ks_enc == terminal.result.ks_enc and result.ks_mac == terminal.result.ks_mac
    assert result.secure_messaging().ssc == 0


@pytest.mark.parametrize("parameter_id", [0, 2, 12, 13])
def test_ca_v1_3des_both_roles(parameter_id):
    from icao9303.crypto import standardized_domain_parameters

    group = standardized_domain_parameters(parameter_id)
    sk, pk = group.keypair()
    from icao9303.crypto.ca import ChipAuthenticationKey

    protocol = oids.ID_PK_ECDH if group.is_ec else oids.ID_PK_DH
    oid = oids.ID_CA_ECDH_3DES_CBC_CBC if group.is_ec else oids.ID_CA_DH_3DES_CBC_CBC
    key = ChipAuthenticationKey(protocol, group, group.encode(pk), 7)
    terminal = ChipAuthenticationTerminal(oid, key)
    (kat,) = terminal.commands()
    assert kat[:4] == H("002241A6") and kat.endswith(H("840107"))
    chip = ChipAuthenticationChip(sk, group, key_id=7)
    result = chip.mse_set_kat(kat[5 : 5 + kat[4]] if kat[4] else kat[7:])
    assert (result.ks_enc, result.ks_mac) == (terminal.result.ks_enc, terminal.result.ks_mac)
    assert result.cipher.name == "3DES"
    with pytest.raises(ProtocolError) as exc:
        ChipAuthenticationChip(sk, group, key_id=8).mse_set_kat(kat[5 : 5 + kat[4]] if kat[4] else kat[7:])
    assert exc.value.status_word == 0x6A88


def _dg14_key(public_key: bytes, key_id: int) -> bytes:
    """A DG14-style ChipAuthenticationPublicKeyInfo with the named curve brainpoolP256r1."""
    from asn1crypto import keys

    spki = keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": keys.ECDomainParameters("named", "brainpoolp256r1"),
            },
            "public_key": public_key,
        }
    )
    from icao9303.lds.security_infos import ChipAuthenticationPublicKeyInfo

    return ChipAuthenticationPublicKeyInfo(
        {"protocol": oids.ID_PK_ECDH, "chip_authentication_public_key": spki, "key_id": key_id}
    ).dump()


def test_select_chip_authentication_by_key_id():
    from icao9303.lds.security_infos import SecurityInfos
    from icao9303.tlv import encode_tlv

    ca = V["chip_authentication"]
    pk = H(ca["picc_public_key"])
    ca_info = H("3012060A04007F00070202030202020101020101")  # id-CA-ECDH-AES-128, v1, keyId 1
    ca_info2 = H("3012060A04007F00070202030204020101020102")  # id-CA-ECDH-AES-256, v1, keyId 2
    infos = SecurityInfos.from_bytes(encode_tlv(0x31, _dg14_key(pk, 1) + _dg14_key(pk, 2) + ca_info + ca_info2))
    oid, key = select_chip_authentication(infos)
    assert (oid, key.key_id) == (oids.ID_CA_ECDH_AES_CBC_CMAC_256, 2)  # strongest pairing
    assert key.public_key == pk and key.group.parameter_id == 13
    oid, key = select_chip_authentication(infos, key_id=1)
    assert (oid, key.key_id) == (oids.ID_CA_ECDH_AES_CBC_CMAC_128, 1)
    with pytest.raises(ProtocolError):
        select_chip_authentication(infos, key_id=3)
    # No ChipAuthenticationInfo: 3DES implied.
    only_key = SecurityInfos.from_bytes(encode_tlv(0x31, _dg14_key(pk, 1)))
    assert select_chip_authentication(only_key)[0] == oids.ID_CA_ECDH_3DES_CBC_CBC
    # The same key read from the Appendix-I style info (standardizedDomainParameters) gives the same key.
    assert chip_authentication_key(H(ca["chip_authentication_public_key_info"])).public_key == pk


def test_ca_algorithm_rejects_unknown():
    with pytest.raises(UnsupportedAlgorithmError):
        ca_algorithm("0.4.0.127.0.7.2.2.3.3.1")
    assert ca_algorithm(oids.ID_CA_DH_AES_CBC_CMAC_192).cipher.key_length == 24


def test_bsi_dh_pace_both_roles():
    p = V["dh"]["pace"]
    key = PINKey(V["password"]["value"])
    assert AES_128.decrypt_cbc(kdf_pi(key, AES_128), H(p["nonce_z"])) == H(p["nonce_s"])
    terminal = PACETerminal(
        key,
        p["oid"],
        p["parameter_id"],
        mapping_private_key=I(p["map_pcd_private_key"]),
        ephemeral_private_key=I(p["pcd_private_key"]),
    )
    chip = PACEChip(
        key,
        p["oid"],
        p["parameter_id"],
        nonce=H(p["nonce_s"]),
        mapping_private_key=I(p["map_picc_private_key"]),
        ephemeral_private_key=I(p["picc_private_key"]),
    )
    commands = []
    for step in range(1, 5):
        command = getattr(terminal, f"step{step}_command")()
        commands.append(command)
        data = command[5:-1] if command[4] else command[7:-2]
        getattr(terminal, f"step{step}_response")(getattr(chip, f"step{step}")(data))
    assert H(p["map_pcd_public_key"]) in commands[1]
    assert H(p["pcd_public_key"]) in commands[2]
    assert H(p["t_pcd"]) in commands[3]
    mapped = terminal._mapped
    assert mapped.encode(mapped.generator()) == H(p["mapped_generator"])
    assert mapped.shared_secret(mapped.agree(I(p["pcd_private_key"]), mapped.decode(H(p["picc_public_key"])))) == H(
        p["shared_secret"]
    )
    result = terminal.result
    assert result.chip_ephemeral_public_key == H(p["picc_public_key"])
    assert (result.ks_enc, result.ks_mac) == (H(p["ks_enc"]), H(p["ks_mac"]))
    assert chip.result == result


def test_bsi_dh_secure_messaging_primitives():
    p, sm_v = V["dh"]["pace"], V["dh"]["secure_messaging"]
    sm = SecureMessaging(AES_128, H(p["ks_enc"]), H(p["ks_mac"]), sm_v["encrypt"]["ssc"])
    assert sm._encrypt(H(sm_v["encrypt"]["data"])) == H(sm_v["encrypt"]["cryptogram"])
    sm = SecureMessaging(AES_128, H(p["ks_enc"]), H(p["ks_mac"]), sm_v["mac"]["ssc"])
    assert sm._mac(H(sm_v["mac"]["data"])) == H(sm_v["mac"]["mac"])


def test_bsi_dh_chip_authentication():
    ca = V["dh"]["chip_authentication"]
    key = chip_authentication_key(H(ca["chip_authentication_public_key_info"]))
    assert key.protocol == oids.ID_PK_DH and key.group.parameter_id == 0 and key.key_id == 1
    assert key.public_key == H(ca["picc_public_key"])
    assert key.group.encode(key.group.multiply(I(ca["picc_private_key"]))) == key.public_key
    terminal = ChipAuthenticationTerminal(ca["oid"], key, ephemeral_private_key=I(ca["pcd_private_key"]))
    assert terminal.ephemeral_public_key == H(ca["pcd_public_key"])
    group = key.group
    secret = group.shared_secret(group.agree(I(ca["pcd_private_key"]), group.decode(key.public_key)))
    assert secret == H(ca["shared_secret"])
    assert session_keys(secret + H(ca["ca2_nonce"]), AES_128) == (H(ca["ca2_ks_enc"]), H(ca["ca2_ks_mac"]))
    mse, ga = terminal.commands()
    chip = ChipAuthenticationChip(I(ca["picc_private_key"]), group, key_id=1)
    chip.mse_set_at(mse[5:])
    data = ga[5:-1] if ga[4] else ga[7:-2]
    _, result = chip.general_authenticate(data)
    assert (
        (result.ks_enc, result.ks_mac)
        == session_keys(secret, AES_128)
        == (
            terminal.result.ks_enc,
            terminal.result.ks_mac,
        )
    )
