"""Active Authentication: 9303-11 Appendix F representative, RSA ISO/IEC 9796-2 and ECDSA in both roles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from icao9303.crypto.aa import (
    active_authentication_le,
    active_authentication_sign,
    internal_authenticate_command,
    iso9796_2_message_representative,
    verify_active_authentication,
)
from icao9303.crypto.errors import AuthenticationError
from icao9303.lds import oids

F = json.loads((Path(__file__).parent / "vectors/icao9303/crypto/appendix_f_aa.json").read_text())
H = bytes.fromhex
CHALLENGE = bytes.fromhex("F173589974BF40C6")


@pytest.fixture(scope="module")
def rsa_keys():
    return {bits: rsa.generate_private_key(65537, bits) for bits in (1024, 2048, 3072)}


def test_appendix_f_message_representative_and_command():
    f = iso9796_2_message_representative(F["modulus_bytes"], H(F["m1"]), H(F["rnd_ifd"]), "sha1")
    assert f == H(F["f"])
    assert hashlib.sha1(H(F["m1"]) + H(F["rnd_ifd"])).digest() == H(F["digest"])
    assert internal_authenticate_command(H(F["rnd_ifd"])) == H(F["internal_authenticate"])


def test_appendix_f_signature_with_our_key_reproduces_f(rsa_keys):
    key = rsa_keys[1024]
    sig = active_authentication_sign(key, H(F["rnd_ifd"]), m1=H(F["m1"]))
    n = key.public_key().public_numbers().n
    assert pow(int.from_bytes(sig, "big"), 65537, n).to_bytes(128, "big") == H(F["f"])
    verify_active_authentication(key.public_key(), H(F["rnd_ifd"]), sig)


@pytest.mark.parametrize("bits", [1024, 2048, 3072])
@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_rsa_sign_verify(rsa_keys, bits, hash_name):
    key = rsa_keys[bits]
    sig = active_authentication_sign(key, CHALLENGE, hash_algorithm=hash_name)
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    verify_active_authentication(der, CHALLENGE, sig)
    with pytest.raises(AuthenticationError) as exc:
        verify_active_authentication(der, b"\x00" * 8, sig)
    assert exc.value.reason == "auth.aa_signature"
    bad = bytearray(sig)
    bad[10] ^= 1
    with pytest.raises(AuthenticationError):
        verify_active_authentication(der, CHALLENGE, bytes(bad))


def test_rsa_explicit_sha1_trailer(rsa_keys):
    key = rsa_keys[1024]
    sig = active_authentication_sign(key, CHALLENGE, explicit_trailer=True)
    verify_active_authentication(key.public_key(), CHALLENGE, sig)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.BrainpoolP256R1(), ec.BrainpoolP384R1(), ec.SECP521R1()])
@pytest.mark.parametrize("fmt", ["plain", "der"])
def test_ecdsa_sign_verify(curve, fmt):
    key = ec.generate_private_key(curve)
    sig = active_authentication_sign(key, CHALLENGE, hash_algorithm="sha256", signature_format=fmt)
    if fmt == "plain":
        assert len(sig) == 2 * ((curve.key_size + 7) // 8)
    verify_active_authentication(key.public_key(), CHALLENGE, sig, signature_algorithm=oids.ECDSA_WITH_SHA256)
    with pytest.raises(AuthenticationError):
        verify_active_authentication(
            key.public_key(), CHALLENGE[::-1], sig, signature_algorithm=oids.ECDSA_PLAIN_SHA256
        )


def test_ecdsa_on_curve_cryptography_lacks():
    """brainpoolP320r1 (id 14): verified through the group arithmetic (ecdsa), key as (group, point)."""
    import ecdsa

    from icao9303.crypto import standardized_domain_parameters

    group = standardized_domain_parameters(14)
    sk = ecdsa.SigningKey.generate(curve=ecdsa.curves.BRAINPOOLP320r1)
    digest = hashlib.sha256(CHALLENGE).digest()
    sig = sk.sign_digest(digest, sigencode=ecdsa.util.sigencode_string, allow_truncate=True)
    point = b"\x04" + sk.get_verifying_key().to_string()
    verify_active_authentication((group, point), CHALLENGE, sig, signature_algorithm=oids.ECDSA_PLAIN_SHA256)
    with pytest.raises(AuthenticationError):
        verify_active_authentication((group, point), b"\x01" * 8, sig, signature_algorithm=oids.ECDSA_PLAIN_SHA256)


def test_le_from_key_size(rsa_keys):
    assert active_authentication_le(rsa_keys[1024].public_key()) == 256  # 128 bytes: short Le 00
    assert active_authentication_le(rsa_keys[2048].public_key()) == 256
    assert active_authentication_le(rsa_keys[3072].public_key()) == 384  # needs extended length
    assert active_authentication_le(ec.generate_private_key(ec.SECP521R1()).public_key()) == 256
    assert internal_authenticate_command(CHALLENGE, 384) == H("00880000000008") + CHALLENGE + H("0180")
