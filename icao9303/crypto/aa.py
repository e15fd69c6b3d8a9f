"""Active Authentication (ICAO 9303-11 §6.1, Appendix F) for the chip (sign) and the terminal (verify).

- RSA: ISO/IEC 9796-2 digital signature scheme 1 with partial message recovery. The chip builds
  F = '6A' ‖ M1 ‖ H(M1 ‖ M2) ‖ T (M2 = the terminal's 8-byte challenge, M1 a nonce filling the
  modulus, T = 'BC' for SHA-1 or hash-id ‖ 'CC' for SHA-224/256/384/512) and returns S = F^d mod n.
- ECDSA over H(challenge) (BSI TR-03111 §4.2.1), the signature as plain r ‖ s (TR-03111 §5.2.1,
  the 9303 format) or DER; the terminal accepts both. The hash comes from ActiveAuthenticationInfo
  (DG14) `signatureAlgorithm`.

`cryptography` does not expose raw RSA, which ISO/IEC 9796-2 needs, so RSA is modular exponentiation
on the key's numbers; ECDSA uses `cryptography` (and `ecdsa` for curves `cryptography` cannot load,
e.g. DG15 keys with explicit parameters). `verify_active_authentication` raises, never returns a bool.

Decisions:
- Only partial recovery ('6A') is accepted: with total recovery ('4A') the challenge would not be
  covered by the signature (9303-11 Appendix F note 2).
- For RSA the verifier also accepts J = n − S^e mod n (ISO/IEC 9796-2 §B.6, alternative signature).
- Without a signature algorithm, ECDSA is verified with the hash matching the curve size (SHA-256
  up to 256-bit orders, SHA-384, SHA-512 above) — chips are required to publish it in DG14.
- Le for INTERNAL AUTHENTICATE (`active_authentication_le`, LESSONS): a short Le '00' (256) when the
  signature fits a short response (RSA ≤ 2048 bits, every ECDSA plain signature up to P-521),
  otherwise the exact size with extended length (RSA 3072/4096).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from icao9303.apdu import INS_INTERNAL_AUTHENTICATE, CommandAPDU
from icao9303.crypto.errors import AuthenticationError, ProtocolError, UnsupportedAlgorithmError
from icao9303.lds import oids

__all__ = [
    "active_authentication_le",
    "active_authentication_sign",
    "internal_authenticate_command",
    "iso9796_2_message_representative",
    "verify_active_authentication",
]

_P = "AA"

_HASHES: dict[str, tuple[int | None, Any]] = {
    # name: (ISO/IEC 10118-3 hash identifier for the explicit trailer, cryptography hash class)
    "sha1": (0x33, hashes.SHA1),
    "sha224": (0x38, hashes.SHA224),
    "sha256": (0x34, hashes.SHA256),
    "sha384": (0x36, hashes.SHA384),
    "sha512": (0x35, hashes.SHA512),
}
_BY_TRAILER_ID = {v[0]: k for k, v in _HASHES.items()}

_SIGNATURE_ALGORITHMS = {
    oids.ECDSA_WITH_SHA1: "sha1",
    oids.ECDSA_WITH_SHA224: "sha224",
    oids.ECDSA_WITH_SHA256: "sha256",
    oids.ECDSA_WITH_SHA384: "sha384",
    oids.ECDSA_WITH_SHA512: "sha512",
    oids.ECDSA_PLAIN_SHA1: "sha1",
    oids.ECDSA_PLAIN_SHA224: "sha224",
    oids.ECDSA_PLAIN_SHA256: "sha256",
    oids.ECDSA_PLAIN_SHA384: "sha384",
    oids.ECDSA_PLAIN_SHA512: "sha512",
}


def _hash_name(name_or_oid: str) -> str:
    name = _SIGNATURE_ALGORITHMS.get(name_or_oid, name_or_oid).lower().replace("-", "")
    if name not in _HASHES:
        raise UnsupportedAlgorithmError("hash or signature algorithm not supported", what=name_or_oid)
    return name


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _rsa_modulus_bytes(n: int) -> int:
    if n.bit_length() % 8:
        raise UnsupportedAlgorithmError("RSA modulus length must be a multiple of 8 bits", what="rsa_modulus")
    return n.bit_length() // 8


def iso9796_2_message_representative(
    modulus_bytes: int, m1: bytes, m2: bytes, hash_name: str = "sha1", *, explicit_trailer: bool | None = None
) -> bytes:
    """F = '6A' ‖ M1 ‖ H(M1 ‖ M2) ‖ T (ISO/IEC 9796-2 scheme 1, partial recovery; 9303-11 Appendix F
    steps 4-9). The trailer is 'BC' for SHA-1 unless `explicit_trailer`, else hash-id ‖ 'CC'."""
    name = _hash_name(hash_name)
    explicit = explicit_trailer if explicit_trailer is not None else name != "sha1"
    trailer = bytes([_HASHES[name][0], 0xCC]) if explicit else b"\xbc"  # type: ignore[list-item]
    digest = _digest(name, m1 + m2)
    if len(m1) != modulus_bytes - 1 - len(digest) - len(trailer):
        raise ProtocolError("M1 does not fill the modulus", protocol=_P, reason="protocol.length")
    return b"\x6a" + m1 + digest + trailer


def active_authentication_sign(
    private_key: Any,
    challenge: bytes,
    *,
    hash_algorithm: str = "sha1",
    signature_format: str = "plain",
    explicit_trailer: bool | None = None,
    m1: bytes | None = None,
) -> bytes:
    """Chip role: the answer to INTERNAL AUTHENTICATE for `challenge` (M2).

    `private_key`: a `cryptography` RSA or EC private key. RSA: ISO/IEC 9796-2 scheme 1 with
    `hash_algorithm` (SHA-1 → trailer 'BC'); `m1` fixes the nonce for test vectors. EC: ECDSA over
    H(challenge), `signature_format` "plain" (r ‖ s) or "der".
    """
    challenge = bytes(challenge)
    name = _hash_name(hash_algorithm)
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.private_numbers()
        n, d = numbers.public_numbers.n, numbers.d
        k = _rsa_modulus_bytes(n)
        explicit = explicit_trailer if explicit_trailer is not None else name != "sha1"
        m1_len = k - 1 - hashlib.new(name).digest_size - (2 if explicit else 1)
        m1 = secrets.token_bytes(m1_len) if m1 is None else bytes(m1)
        f = iso9796_2_message_representative(k, m1, challenge, name, explicit_trailer=explicit)
        return pow(int.from_bytes(f, "big"), d, n).to_bytes(k, "big")
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        digest = _digest(name, challenge)
        der = private_key.sign(digest, ec.ECDSA(Prehashed(_HASHES[name][1]())))
        if signature_format == "der":
            return der
        r, s = decode_dss_signature(der)
        size = (private_key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise UnsupportedAlgorithmError("Active Authentication key must be RSA or EC", what=type(private_key).__name__)


def _verify_rsa(public_key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> None:
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    k = _rsa_modulus_bytes(n)
    s = int.from_bytes(signature, "big")
    # Decision: a signature shorter than the modulus is the same integer without leading zeros; accepted.
    if len(signature) > k or not 0 < s < n:
        raise AuthenticationError("RSA signature has the wrong size", protocol=_P, reason="auth.aa_signature")
    j = pow(s, e, n)
    if j & 0xF != 0xC:
        j = n - j  # ISO/IEC 9796-2 alternative signature
    f = j.to_bytes(k, "big")
    if f[0] != 0x6A:
        raise AuthenticationError(
            "not an ISO/IEC 9796-2 partial-recovery representative", protocol=_P, reason="auth.aa_signature"
        )
    if f[-1] == 0xBC:
        name, t = "sha1", 1
    elif f[-1] == 0xCC and f[-2] in _BY_TRAILER_ID:
        name, t = _BY_TRAILER_ID[f[-2]], 2
    else:
        raise AuthenticationError("unknown ISO/IEC 9796-2 trailer", protocol=_P, reason="auth.aa_signature")
    lh = hashlib.new(name).digest_size
    if k < 1 + lh + t + 1:
        raise AuthenticationError("modulus too short for the hash", protocol=_P, reason="auth.aa_signature")
    m1, d = f[1 : k - t - lh], f[k - t - lh : k - t]
    if not hmac.compare_digest(_digest(name, m1 + challenge), d):
        raise AuthenticationError(
            "Active Authentication signature does not verify", protocol=_P, reason="auth.aa_signature"
        )


def _ec_signature_to_der(signature: bytes, order_bytes: int) -> bytes:
    if len(signature) == 2 * order_bytes:
        r = int.from_bytes(signature[:order_bytes], "big")
        s = int.from_bytes(signature[order_bytes:], "big")
        return encode_dss_signature(r, s)
    return signature  # DER (TR-03111 allows both on the wire; LESSONS "accept ECDSA signatures in DER")


def _verify_ec(public_key: ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes, name: str) -> None:
    order_bytes = (public_key.curve.key_size + 7) // 8
    der = _ec_signature_to_der(signature, order_bytes)
    try:
        public_key.verify(der, _digest(name, challenge), ec.ECDSA(Prehashed(_HASHES[name][1]())))
    except (InvalidSignature, ValueError) as exc:
        raise AuthenticationError(
            "Active Authentication signature does not verify", protocol=_P, reason="auth.aa_signature"
        ) from exc


def _verify_ec_group(public_key: tuple[Any, bytes], challenge: bytes, signature: bytes, name: str) -> None:
    import ecdsa
    from ecdsa.util import sigdecode_der, sigdecode_string

    group, point_bytes = public_key
    point = group.decode(point_bytes, protocol=_P)
    curve = ecdsa.curves.Curve("explicit", group.curve, group.generator(), None)
    key = ecdsa.VerifyingKey.from_public_point(point, curve=curve)
    decoder = sigdecode_string if len(signature) == 2 * group.order_length else sigdecode_der
    try:
        ok = key.verify_digest(signature, _digest(name, challenge), sigdecode=decoder, allow_truncate=True)
    except (ecdsa.BadSignatureError, ecdsa.der.UnexpectedDER, ValueError, AssertionError) as exc:
        raise AuthenticationError(
            "Active Authentication signature does not verify", protocol=_P, reason="auth.aa_signature"
        ) from exc
    if not ok:
        raise AuthenticationError(
            "Active Authentication signature does not verify", protocol=_P, reason="auth.aa_signature"
        )


def _default_ec_hash(bits: int) -> str:
    return "sha256" if bits <= 256 else "sha384" if bits <= 384 else "sha512"


def verify_active_authentication(
    public_key: Any, challenge: bytes, signature: bytes, *, signature_algorithm: str | None = None
) -> None:
    """Terminal role: verify the INTERNAL AUTHENTICATE answer for `challenge` with the DG15 key.

    `public_key`: a `cryptography` RSA/EC public key, DER SubjectPublicKeyInfo (DG15 content), or
    ``(ECGroup, encoded point)``. `signature_algorithm`: ActiveAuthenticationInfo's OID (ECDSA; RSA
    takes the hash from the trailer). Raises `AuthenticationError` (reason ``auth.aa_signature``).
    """
    challenge, signature = bytes(challenge), bytes(signature)
    key = _load_public_key(public_key)
    if isinstance(key, rsa.RSAPublicKey):
        _verify_rsa(key, challenge, signature)
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = _hash_name(signature_algorithm) if signature_algorithm else _default_ec_hash(key.curve.key_size)
        _verify_ec(key, challenge, signature, name)
        return
    group, _ = key
    name = _hash_name(signature_algorithm) if signature_algorithm else _default_ec_hash(group.order.bit_length())
    _verify_ec_group(key, challenge, signature, name)


def _load_public_key(public_key: Any) -> Any:
    if isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return public_key
    if isinstance(public_key, tuple):
        return public_key
    raw = public_key.dump() if hasattr(public_key, "dump") else bytes(public_key)
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(raw)
    except (ValueError, TypeError):
        key = None
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key
    # EC key with parameters `cryptography` cannot load (explicit, or a curve it lacks).
    from icao9303.crypto.ca import _SubjectPublicKeyInfo, group_from_algorithm

    try:
        spki = _SubjectPublicKeyInfo.load(raw)
        group = group_from_algorithm(spki["algorithm"], protocol=_P)
        point = bytes(spki["subject_public_key"].contents[1:])
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(
            "Active Authentication public key cannot be read", protocol=_P, reason="protocol.public_key"
        ) from exc
    if not group.is_ec:
        raise UnsupportedAlgorithmError("Active Authentication key must be RSA or EC", what="dh")
    return group, point


def active_authentication_le(public_key: Any, *, signature_format: str = "plain") -> int:
    """Ne for INTERNAL AUTHENTICATE from the key size (LESSONS): RSA the modulus length, ECDSA
    2 × order length (plain) or the largest DER encoding; 256 when that fits a short Le."""
    key = _load_public_key(public_key)
    if isinstance(key, rsa.RSAPublicKey):
        size = (key.key_size + 7) // 8
    else:
        bits = key.curve.key_size if isinstance(key, ec.EllipticCurvePublicKey) else key[0].order.bit_length()
        ol = (bits + 7) // 8
        size = 2 * ol if signature_format == "plain" else 2 * ol + 9
    return 256 if size <= 256 else size


def internal_authenticate_command(challenge: bytes, ne: int = 256) -> bytes:
    """INTERNAL AUTHENTICATE (00 88 00 00) with the 8-byte challenge; short Le unless `ne` > 256."""
    if len(challenge) != 8:
        raise ProtocolError("the AA challenge is 8 bytes", protocol=_P, reason="protocol.length")
    return CommandAPDU(0x00, INS_INTERNAL_AUTHENTICATE, 0x00, 0x00, bytes(challenge), ne).to_bytes()
