"""SecurityInfos, EF.CardAccess, DG14, EF.CardSecurity (ICAO 9303-11 §9.2, BSI TR-03110-3 A.1)."""
import dataclasses
import hashlib
import json
import pathlib

import pytest
from asn1crypto import cms, core, keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.errors import ICAOError, LDSError
from icao9303.lds import oids
from icao9303.lds.security_infos import (
    DG14,
    ActiveAuthenticationInfo,
    CardAccess,
    CardSecurity,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfo,
    SecurityInfos,
    SubjectPublicKeyInfo,
    TerminalAuthenticationInfo,
)
from icao9303.tlv import encode_tlv
from tests.test_icao_hypothesis_settings import FUZZ

VECTORS = pathlib.Path(__file__).parent / "vectors" / "icao9303"


def read_hex(name: str) -> bytes:
    lines = (line.split("#", 1)[0] for line in (VECTORS / name).read_text().splitlines())
    return bytes.fromhex("".join(lines).replace(" ", ""))


def test_card_access_g1():
    raw = read_hex("card_access_9303_11_g1.hex")
    ca = CardAccess.from_bytes(raw)
    assert ca.to_bytes() == raw
    (pace,) = ca.security_infos.pace_infos
    assert isinstance(pace, PACEInfo)
    assert pace.protocol == oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    assert pace.protocol_name == "id-PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert pace["version"].native == 2 and pace["parameter_id"].native == 13
    assert oids.cipher_of(pace.protocol) == ("AES", 128)


def ca_key_info(key_id=None):
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    spki = keys.PublicKeyInfo.load(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    value = {"protocol": oids.ID_PK_ECDH, "chip_authentication_public_key": spki}
    if key_id is not None:
        value["key_id"] = key_id
    return ChipAuthenticationPublicKeyInfo(value)


def vn_infos(with_unknown=True, two_keys=False):
    infos = [
        PACEInfo({"protocol": oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, "version": 2, "parameter_id": 13}),
        ChipAuthenticationInfo({"protocol": oids.ID_CA_ECDH_AES_CBC_CMAC_128, "version": 1,
                                **({"key_id": 1} if two_keys else {})}),
        TerminalAuthenticationInfo({"protocol": oids.ID_TA, "version": 1}),
        ActiveAuthenticationInfo({"protocol": oids.ID_AA, "version": 1,
                                  "signature_algorithm": oids.ECDSA_WITH_SHA256}),
        ca_key_info(1 if two_keys else None),
    ]
    if two_keys:
        infos.append(ca_key_info(2))
    if with_unknown:
        infos.append(SecurityInfo({"protocol": "1.3.6.1.4.1.99999.1", "required_data": core.Integer(7)}))
    return SecurityInfos.build(infos)


def test_dg14_round_trip_and_views():
    dg14 = DG14(vn_infos())
    raw = dg14.to_bytes()
    assert raw[0] == 0x6E
    back = DG14.from_bytes(raw)
    assert back.to_bytes() == raw
    si = back.security_infos
    assert len(si.pace_infos) == 1 and len(si.chip_authentication_infos) == 1
    assert len(si.terminal_authentication_infos) == 1
    assert si.active_authentication_infos[0]["signature_algorithm"].dotted == oids.ECDSA_WITH_SHA256
    assert len(si.unknown) == 1 and si.unknown[0].protocol == "1.3.6.1.4.1.99999.1"
    key = si.chip_authentication_public_key()
    assert key["chip_authentication_public_key"]["algorithm"]["algorithm"].native == "ec"
    types = {d["type"] for d in si.describe()}
    assert types >= {"PACEInfo", "SecurityInfo", "ChipAuthenticationPublicKeyInfo"}
    assert dataclasses.replace(si, raw=None).to_bytes() == si.to_bytes()  # DER re-encoding is identical


def test_several_ca_keys_picked_by_key_id():
    si = SecurityInfos.from_bytes(vn_infos(two_keys=True).to_bytes())
    with pytest.raises(LDSError):
        si.chip_authentication_public_key()
    assert si.chip_authentication_public_key(2)["key_id"].native == 2
    with pytest.raises(LDSError):
        si.chip_authentication_public_key(3)


def test_elements_kept_as_read():
    """A non-DER element (long-form length) survives parse -> to_bytes unchanged (LESSONS: hash as read)."""
    elem = bytes.fromhex("30 81 12 06 0A 04007F00070202040202 020102 02010D".replace(" ", ""))
    raw = b"\x31\x15" + elem
    si = SecurityInfos.from_bytes(raw)
    assert si.to_bytes() == raw
    assert si.pace_infos[0]["parameter_id"].native == 13


def make_card_security(infos: SecurityInfos) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    econtent = infos.to_asn1()
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["security_object"]},
        {"type": "message_digest", "values": [hashlib.sha256(econtent.dump()).digest()]},
    ])
    sd = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "security_object", "content": econtent},
        "signer_infos": [{
            "version": "v3",
            "sid": {"subject_key_identifier": b"\x01" * 20},
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256())),
        }],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


def test_card_security():
    raw = make_card_security(vn_infos(with_unknown=False))
    cs = CardSecurity.from_bytes(raw)
    assert cs.to_bytes() == raw
    assert len(cs.security_infos.chip_authentication_public_key_infos) == 1
    assert cs.signed_attrs_bytes()[0] == 0x31
    assert hashlib.sha256(cs.econtent_bytes).digest() == \
        cs.signed_data["signer_infos"][0]["signed_attrs"][1]["values"][0].native


@pytest.mark.parametrize("data", ["", "31", "3102 0400", "3103 300106", "6E00", "3105 3003 020101"])
def test_malformed(data):
    raw = bytes.fromhex(data.replace(" ", ""))
    with pytest.raises(LDSError):
        CardAccess.from_bytes(raw)
    with pytest.raises(LDSError):
        DG14.from_bytes(b"\x6e" + bytes([len(raw)]) + raw)
    with pytest.raises(LDSError):
        CardSecurity.from_bytes(raw)


def test_empty_set_is_allowed_but_empty():
    assert CardAccess.from_bytes(b"\x31\x00").security_infos.infos == ()


_SAMPLE = DG14(vn_infos()).to_bytes()


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_mutated_dg14_gives_lds_error_only(data):
    raw = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        DG14.from_bytes(bytes(raw))
    except ICAOError as exc:
        assert isinstance(exc, LDSError)


@settings(FUZZ, max_examples=150)
@given(st.binary(max_size=120))
def test_random_bytes(data):
    for parser in (CardAccess.from_bytes, CardSecurity.from_bytes, DG14.from_bytes):
        try:
            parser(data)
        except LDSError:
            pass


def test_malformed_known_entry_and_bare_unknown_entry_are_kept():
    bad_pace = bytes.fromhex("300F060A04007F00070202040202" + "0C0178")  # version as a UTF8String
    bare = bytes.fromhex("3006060452010203")  # unknown protocol, no requiredData
    good = bytes.fromhex("3012060A04007F0007020204020202010202010D")
    body = bad_pace + bare + good
    raw = bytes([0x31, len(body)]) + body
    si = SecurityInfos.from_bytes(raw)
    assert si.to_bytes() == raw
    assert [i.protocol for i in si.malformed] == [oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128]
    assert [i.protocol for i in si.unknown] == ["2.2.1.2.3"]
    assert len(si.pace_infos) == 1


# --- standardizedDomainParameters in ChipAuthenticationPublicKeyInfo (9303-11 Appendix I, TR-03110) ------
CA_KEY_VECTORS = json.loads((VECTORS / "ca_public_key_infos.json").read_text())["infos"]
CRYPTO_VECTORS = VECTORS / "crypto"


def test_ca_key_vectors_match_the_crypto_transcriptions():
    """The vectors here are the bytes engineer B transcribed for the PACE-CAM / CA examples."""
    pace = json.loads((CRYPTO_VECTORS / "appendix_g_h_i_pace.json").read_text())
    bsi = json.loads((CRYPTO_VECTORS / "tr03110_worked_example.json").read_text())
    (i1,) = [e for e in pace["examples"] if e["name"] == "I.1"]
    theirs = {
        "appendix_i1": i1["cam"]["chip_authentication_public_key_info"],
        "tr03110_ecdh": bsi["chip_authentication"]["chip_authentication_public_key_info"],
        "tr03110_dh": bsi["dh"]["chip_authentication"]["chip_authentication_public_key_info"],
    }
    assert {v["name"]: v["der"].upper() for v in CA_KEY_VECTORS} == {k: v.upper() for k, v in theirs.items()}


@pytest.mark.parametrize("vector", CA_KEY_VECTORS, ids=lambda v: v["name"])
def test_standardized_domain_parameters_key_info(vector):
    from icao9303.crypto.ca import chip_authentication_key

    der = bytes.fromhex(vector["der"])
    raw = encode_tlv(0x31, der)
    si = SecurityInfos.from_bytes(raw)
    assert si.to_bytes() == raw and si.malformed == [] and si.unknown == []
    info = si.chip_authentication_public_key()
    assert type(info) is ChipAuthenticationPublicKeyInfo
    assert info.dump() == der and info.protocol == vector["protocol"]
    assert info["key_id"].native == vector["key_id"]
    spki = info["chip_authentication_public_key"]
    assert isinstance(spki, SubjectPublicKeyInfo)
    assert spki["algorithm"]["algorithm"].native == "standardized_domain_parameters"
    assert spki.standardized_parameter_id == vector["parameter_id"]
    assert spki.bit_size == {13: 256, 0: 1024}[vector["parameter_id"]]
    assert dataclasses.replace(si, raw=None).to_bytes() == raw  # DER re-encoding is identical too
    # engineer B's reader of the key takes what this module returns
    key = chip_authentication_key(info)
    assert key.public_key == bytes.fromhex(vector["expected_key"])
    assert key.key_id == vector["key_id"] and key.protocol == vector["protocol"]
    described = si.describe()[0]["chip_authentication_public_key"]
    assert described["algorithm"] == "standardizedDomainParameters"
    assert described["parameter_id"] == vector["parameter_id"]
    assert described["public_key"] == spki.public_key_bytes.hex()


def test_standardized_key_native_forms():
    """EC ids give the ECPoint bytes, DH ids the INTEGER y (what `public_key.native` means in asn1crypto)."""
    by_name = {v["name"]: v for v in CA_KEY_VECTORS}
    ec = ChipAuthenticationPublicKeyInfo.load(bytes.fromhex(by_name["appendix_i1"]["der"]))
    assert ec["chip_authentication_public_key"]["public_key"].native == bytes.fromhex(
        by_name["appendix_i1"]["expected_key"])
    dh = ChipAuthenticationPublicKeyInfo.load(bytes.fromhex(by_name["tr03110_dh"]["der"]))
    assert dh["chip_authentication_public_key"]["public_key"].native == int(
        by_name["tr03110_dh"]["expected_key"], 16)


def test_standardized_key_info_built_from_fields_equals_appendix_i():
    vector = CA_KEY_VECTORS[0]
    spki = SubjectPublicKeyInfo({
        "algorithm": {"algorithm": "standardized_domain_parameters", "parameters": vector["parameter_id"]},
        "public_key": bytes.fromhex(vector["expected_key"]),
    })
    info = ChipAuthenticationPublicKeyInfo(
        {"protocol": oids.ID_PK_ECDH, "chip_authentication_public_key": spki, "key_id": vector["key_id"]})
    assert info.dump() == bytes.fromhex(vector["der"])


def test_asn1crypto_public_key_info_is_accepted_when_building():
    """Callers (firmware profiles, reader tests) build with `keys.PublicKeyInfo`: same bytes, lenient class."""
    info = ca_key_info(5)
    assert isinstance(info["chip_authentication_public_key"], SubjectPublicKeyInfo)
    back = ChipAuthenticationPublicKeyInfo.load(info.dump())
    assert back["chip_authentication_public_key"]["algorithm"]["parameters"].chosen.native == "brainpoolp256r1"
    assert back.dump() == info.dump()


def test_card_security_with_appendix_i_key():
    """EF.CardSecurity as 9303-11 Appendix I describes it: the PACEInfo and the chip's CA key."""
    pace = json.loads((CRYPTO_VECTORS / "appendix_g_h_i_pace.json").read_text())
    (i1,) = [e for e in pace["examples"] if e["name"] == "I.1"]
    infos = SecurityInfos.build([
        PACEInfo.load(bytes.fromhex(i1["pace_info"])),
        ChipAuthenticationPublicKeyInfo.load(bytes.fromhex(CA_KEY_VECTORS[0]["der"])),
    ])
    raw = make_card_security(infos)
    cs = CardSecurity.from_bytes(raw)
    assert cs.to_bytes() == raw and cs.security_infos.malformed == []
    assert cs.security_infos.pace_infos[0]["parameter_id"].native == 13
    spki = cs.security_infos.chip_authentication_public_key(13)["chip_authentication_public_key"]
    assert spki["public_key"].native == bytes.fromhex(CA_KEY_VECTORS[0]["expected_key"])
    dg14 = DG14.from_bytes(DG14(infos).to_bytes())
    assert dg14.security_infos.chip_authentication_public_key(13).dump() == bytes.fromhex(CA_KEY_VECTORS[0]["der"])
    # engineer B's selection over the parsed file (no ChipAuthenticationInfo: 3DES implied, 9303-11 §9.2.5)
    from icao9303.crypto.ca import select_chip_authentication

    oid, key = select_chip_authentication(dg14.security_infos)
    assert oid == oids.ID_CA_ECDH_3DES_CBC_CBC and key.key_id == 13
    assert key.public_key == bytes.fromhex(CA_KEY_VECTORS[0]["expected_key"])


_STD_13 = bytes.fromhex("300C060704007F0007010202010D")  # AlgorithmIdentifier standardizedDomainParameters, 13


@pytest.mark.parametrize("spki_body", [
    _STD_13,  # no subjectPublicKey
    _STD_13 + bytes.fromhex("03020180"),  # BIT STRING with 1 unused bit: not an ECPoint octet string
    _STD_13 + bytes.fromhex("0400"),  # OCTET STRING instead of BIT STRING
], ids=["no-key", "unused-bits", "octet-string"])
def test_broken_standardized_key_is_kept_as_malformed(spki_body):
    der = encode_tlv(0x30, encode_tlv(0x06, bytes.fromhex("04007F0007020201" "02")) + encode_tlv(0x30, spki_body))
    raw = encode_tlv(0x31, der)
    si = SecurityInfos.from_bytes(raw)
    assert si.to_bytes() == raw
    assert [i.protocol for i in si.malformed] == [oids.ID_PK_ECDH]
    assert si.chip_authentication_public_key_infos == []


def test_algorithm_names_do_not_depend_on_import_order():
    """asn1crypto builds an OID class's name map lazily; if asn1crypto's own map was built first the
    subclass must still know 'standardized_domain_parameters' (fresh interpreter: order is forced)."""
    import subprocess
    import sys

    code = (
        "from asn1crypto import keys; keys.PublicKeyAlgorithmId('ec');"
        "from icao9303.lds.security_infos import SubjectPublicKeyAlgorithmId as S;"
        "print(S('standardized_domain_parameters').dotted, S('ec').dotted)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).parent.parent, timeout=60)
    assert out.stdout.split() == [oids.STANDARDIZED_DOMAIN_PARAMETERS, oids.ID_EC_PUBLIC_KEY]


def test_domain_parameter_infos_accept_asn1crypto_algorithms():
    """PACEDomainParameterInfo / ChipAuthenticationDomainParameterInfo built with asn1crypto's
    PublicKeyAlgorithm keep its bytes; standardizedDomainParameters reads its id."""
    from asn1crypto import keys as a_keys

    from icao9303.lds.security_infos import ChipAuthenticationDomainParameterInfo, PACEDomainParameterInfo

    named = a_keys.PublicKeyAlgorithm({"algorithm": "ec", "parameters": a_keys.ECDomainParameters(
        name="named", value="1.3.36.3.3.2.8.1.1.7")})
    pace = PACEDomainParameterInfo({"protocol": oids.ID_PACE_ECDH_GM, "domain_parameter": named, "parameter_id": 31})
    assert pace["domain_parameter"].dump() == named.dump()
    raw = encode_tlv(0x31, pace.dump() + ChipAuthenticationDomainParameterInfo.load(
        encode_tlv(0x30, encode_tlv(0x06, bytes.fromhex("04007F0007020203" "02")) + _STD_13)).dump())
    si = SecurityInfos.from_bytes(raw)
    assert si.malformed == [] and si.to_bytes() == raw
    assert si.chip_authentication_domain_parameter_infos[0]["domain_parameter"].standardized_parameter_id == 13
    described = si.describe()
    assert described[0]["domain_parameter"]["parameters"] == "brainpoolp256r1"
    assert described[1]["domain_parameter"] == {"algorithm": "standardizedDomainParameters", "parameter_id": 13,
                                                "parameters": "BrainpoolP256r1"}


def test_huge_integer_is_dumped_as_hex():
    """A hostile 3000-octet INTEGER (beyond Python's int->str limit) still dumps."""
    huge = encode_tlv(0x02, b"\x01" + bytes(2999))
    raw = encode_tlv(0x31, encode_tlv(0x30, encode_tlv(0x06, bytes.fromhex("04007F00070202040202")) + huge))
    described = SecurityInfos.from_bytes(raw).describe()
    assert described[0]["version"].startswith("0x01") and json.dumps(described)
