"""KDF for every cipher, standardized domain parameters 0-18, explicit domain parameters (PACEDomainParameterInfo,
DG14) and PACE over proprietary parameters."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import core, keys

from icao9303.crypto import (
    AES_128,
    AES_192,
    AES_256,
    DES3,
    STANDARDIZED_DOMAIN_PARAMETERS,
    CANKey,
    adjust_parity,
    group_from_algorithm,
    kdf,
    perform_pace,
    standardized_domain_parameters,
)
from icao9303.crypto.errors import ProtocolError, UnsupportedAlgorithmError
from icao9303.lds import oids

SECRET = bytes.fromhex("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")


def test_kdf_constructions():
    """9303-11 §9.7.1: SHA-1 for 3DES (parity adjusted) and AES-128, SHA-256 for AES-192/256."""
    for counter in (1, 2, 3):
        d = SECRET + counter.to_bytes(4, "big")
        assert kdf(SECRET, counter, DES3) == adjust_parity(hashlib.sha1(d).digest()[:16])
        assert kdf(SECRET, counter, AES_128) == hashlib.sha1(d).digest()[:16]
        assert kdf(SECRET, counter, AES_192) == hashlib.sha256(d).digest()[:24]
        assert kdf(SECRET, counter, AES_256) == hashlib.sha256(d).digest()
    for byte in kdf(SECRET, 1, DES3):
        assert bin(byte).count("1") % 2 == 1  # odd parity


def test_standardized_parameters_table():
    assert list(STANDARDIZED_DOMAIN_PARAMETERS) == [0, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    sizes = {
        0: 128,
        1: 256,
        2: 256,
        8: 24,
        9: 24,
        10: 28,
        11: 28,
        12: 32,
        13: 32,
        14: 40,
        15: 48,
        16: 48,
        17: 64,
        18: 66,
    }
    for pid, size in sizes.items():
        group = standardized_domain_parameters(pid)
        assert group.field_length == size and group.parameter_id == pid
        if group.is_ec:
            g = group.generator()
            assert group.multiply(group.order, g) == group.multiply(0, g)  # n·G = O
        else:
            assert pow(group.g, group.q, group.p) == 1 and group.g != 1
    for rfu in (3, 7, 19, 31):
        with pytest.raises(UnsupportedAlgorithmError):
            standardized_domain_parameters(rfu)


def _explicit_ec(pid: int) -> keys.PublicKeyAlgorithm:
    group = standardized_domain_parameters(pid)
    n = group.field_length
    curve = group.curve
    spec = keys.SpecifiedECDomain(
        {
            "version": "ecdpVer1",
            "field_id": {"field_type": "prime_field", "parameters": curve.p()},
            "curve": {"a": (curve.a() % curve.p()).to_bytes(n, "big"), "b": curve.b().to_bytes(n, "big")},
            "base": group.encode(group.generator()),
            "order": group.order,
            "cofactor": 1,
        }
    )
    return keys.PublicKeyAlgorithm({"algorithm": "ec", "parameters": keys.ECDomainParameters("specified", spec)})


@pytest.mark.parametrize("pid", [8, 13, 17])
def test_explicit_ec_parameters_are_recognized(pid):
    group = group_from_algorithm(_explicit_ec(pid))
    assert group.parameter_id == pid  # matched to the standardized set
    named = keys.PublicKeyAlgorithm(
        {
            "algorithm": "ec",
            "parameters": keys.ECDomainParameters(
                "named", {8: "secp192r1", 13: "brainpoolp256r1", 17: "brainpoolp512r1"}[pid]
            ),
        }
    )
    assert group_from_algorithm(named).parameter_id == pid


def test_explicit_dh_parameters_are_recognized():
    from icao9303.crypto.ca import _AlgorithmIdentifier, _DomainParameters

    g = standardized_domain_parameters(2)
    params = _DomainParameters({"p": g.p, "g": g.g, "q": g.q})

    alg = _AlgorithmIdentifier({"algorithm": oids.ID_DH_PUBLIC_NUMBER, "parameters": core.Any.load(params.dump())})
    assert group_from_algorithm(alg.dump()).parameter_id == 2
    bad = _DomainParameters({"p": g.p, "g": 5, "q": g.q})
    alg = _AlgorithmIdentifier({"algorithm": oids.ID_DH_PUBLIC_NUMBER, "parameters": core.Any.load(bad.dump())})
    with pytest.raises(ProtocolError):
        group_from_algorithm(alg.dump())


def test_pace_over_proprietary_parameters_from_card_access():
    """PACEInfo with a proprietary parameterId (32) and the PACEDomainParameterInfo holding explicit
    brainpoolP256r1 parameters: MSE carries 84 = 32, the math runs on the explicit curve."""
    from icao9303.lds.security_infos import PACEDomainParameterInfo, PACEInfo, SecurityInfos
    from tests.test_icao_crypto_end_to_end import MiniChip

    info = PACEInfo({"protocol": oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, "version": 2, "parameter_id": 32})
    dpi = PACEDomainParameterInfo(
        {"protocol": oids.ID_PACE_ECDH_GM, "domain_parameter": _explicit_ec(13), "parameter_id": 32}
    )
    card_access = SecurityInfos.build([info, dpi])
    chip = MiniChip(CANKey("123456"), pace_domain=group_from_algorithm(_explicit_ec(13)))
    seen = []
    original = chip.transmit

    def spy(apdu: bytes) -> bytes:
        seen.append(apdu)
        return original(apdu)

    chip.transmit = spy  # type: ignore[method-assign]
    result = perform_pace(chip, CANKey("123456"), info, card_access=card_access)
    assert seen[0].endswith(bytes.fromhex("840120"))
    assert result.secure_messaging().alive


@pytest.mark.parametrize("pid", [8, 10, 12, 13, 15, 16, 17, 18])
def test_cryptography_and_ecdsa_agree(pid):
    """Key pairs / ECKA through `cryptography` on standardized curves equal the `ecdsa` arithmetic."""
    group = standardized_domain_parameters(pid)
    a, pa = group.keypair()
    b, pb = group.keypair()
    assert group.encode(pa) == group.encode(group.multiply(a))  # cryptography key pair, checked with ecdsa
    via_openssl = group.key_agreement(a, pb)
    via_ecdsa = group.shared_secret(group.agree(a, pb))
    assert via_openssl == via_ecdsa == group.key_agreement(b, pa)
    assert len(via_openssl) == group.field_length
