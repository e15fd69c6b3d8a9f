"""Key derivation of ICAO 9303-11 §9.7: KDF(K, c), 3DES parity, BAC key seed and PACE passwords (KDF_π).

The access passwords (`MRZKey`, `CANKey`, `PINKey`, `PUKKey`) never show their value in a repr, a log
line or an exception message.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from icao9303.crypto.cipher import AES_128, AES_192, AES_256, DES3, CipherAlgorithm, SymmetricCipher
from icao9303.crypto.errors import CryptoError, UnsupportedAlgorithmError

__all__ = [
    "KDF_ENC",
    "KDF_MAC",
    "KDF_PI",
    "AccessKey",
    "CANKey",
    "MRZKey",
    "PINKey",
    "PUKKey",
    "PasswordType",
    "adjust_parity",
    "bac_keys",
    "kdf",
    "kdf_pi",
    "session_keys",
]

KDF_ENC = 1
"""Counter c for the encryption key (9303-11 §9.7.1)."""
KDF_MAC = 2
"""Counter c for the MAC key."""
KDF_PI = 3
"""Counter c for the PACE password key Kπ (9303-11 §9.7.3)."""


def adjust_parity(key: bytes) -> bytes:
    """Set the DES parity bit (least significant bit) of each byte so every byte has odd parity
    (9303-11 §9.7.1.1; FIPS 46-3)."""
    out = bytearray(key)
    for i, b in enumerate(out):
        ones = bin(b >> 1).count("1")
        out[i] = (b & 0xFE) | (0 if ones % 2 else 1)
    return bytes(out)


def kdf(shared_secret: bytes, counter: int, cipher: SymmetricCipher) -> bytes:
    """KDF(K, c) of ICAO 9303-11 §9.7.1: keydata = H(K ‖ c), c a 32-bit big-endian counter.

    - 3DES: SHA-1, octets 1-8 = Ka and 9-16 = Kb, parity adjusted (two-key 3DES);
    - AES-128: SHA-1, octets 1-16;
    - AES-192: SHA-256, octets 1-24;
    - AES-256: SHA-256, octets 1-32.
    """
    data = bytes(shared_secret) + counter.to_bytes(4, "big")
    if cipher.algorithm is CipherAlgorithm.DES3:
        return adjust_parity(hashlib.sha1(data).digest()[:16])  # noqa: S324 - mandated by 9303-11 §9.7.1
    if cipher.key_length == 16:
        return hashlib.sha1(data).digest()[:16]  # noqa: S324 - mandated by 9303-11 §9.7.1.2
    if cipher.key_length in (24, 32):
        return hashlib.sha256(data).digest()[: cipher.key_length]
    raise UnsupportedAlgorithmError(f"no KDF for {cipher.name}", what="cipher")


def session_keys(shared_secret: bytes, cipher: SymmetricCipher) -> tuple[bytes, bytes]:
    """(KSenc, KSmac) = (KDF(K, 1), KDF(K, 2)) (9303-11 §9.7.4)."""
    return kdf(shared_secret, KDF_ENC, cipher), kdf(shared_secret, KDF_MAC, cipher)


class PasswordType(enum.IntEnum):
    """PACE password references of MSE:Set AT tag 0x83 (9303-11 §4.4.4.1; TR-03110-3 §D.2)."""

    MRZ = 1
    CAN = 2
    PIN = 3
    PUK = 4


def _check_digit(text: str) -> str:
    # ICAO 9303-3 §4.9: weights 7-3-1, '<' = 0, A-Z = 10-35. (Kept here so that key derivation does not
    # depend on the MRZ parser; icao9303.mrz uses the same rule.)
    total = 0
    for i, ch in enumerate(text):
        if ch.isdigit():
            v = ord(ch) - 48
        elif "A" <= ch <= "Z":
            v = ord(ch) - 55
        else:
            v = 0
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


class AccessKey:
    """A password for BAC or PACE. `pace_secret()` is the octet string K = f(π) of 9303-11 §9.7.3
    that enters KDF_π; the value itself is never shown in a repr."""

    password_type: PasswordType

    def pace_secret(self) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


@dataclass(frozen=True, repr=False)
class MRZKey(AccessKey):
    """The MRZ access key: document number, date of birth and date of expiry (YYMMDD), as printed in
    the MRZ (document number without its filler is accepted; '<' is padded up to 9 characters).

    `mrz_information` = document number ‖ check digit ‖ birth date ‖ check digit ‖ expiry ‖ check
    digit (9303-11 §9.7.2, Appendix D.2); the key seed of BAC and the PACE secret are SHA-1 of it.
    Decision: a document number longer than 9 characters is used whole with its check digit, as in
    Appendix D.2 (``D23145890734`` → ``D231458907349``).
    """

    document_number: str
    date_of_birth: str
    date_of_expiry: str
    password_type: PasswordType = field(default=PasswordType.MRZ, init=False)

    @property
    def mrz_information(self) -> bytes:
        doc = str(self.document_number).upper().ljust(9, "<")
        dob, doe = str(self.date_of_birth), str(self.date_of_expiry)
        if len(dob) != 6 or len(doe) != 6 or not (dob + doe).isascii() or not (dob + doe).isdigit():
            raise CryptoError("MRZ dates must be six digits (YYMMDD)", reason="crypto.access_key")
        if not doc.isascii() or any(not (c.isdigit() or "A" <= c <= "Z" or c == "<") for c in doc):
            raise CryptoError("document number has characters outside A-Z 0-9 <", reason="crypto.access_key")
        return (doc + _check_digit(doc) + dob + _check_digit(dob) + doe + _check_digit(doe)).encode("ascii")

    def key_seed(self) -> bytes:
        """Kseed = the first 16 octets of SHA-1(MRZ_information) (9303-11 §9.7.2)."""
        return hashlib.sha1(self.mrz_information).digest()[:16]  # noqa: S324 - mandated by 9303-11

    def pace_secret(self) -> bytes:
        """K = SHA-1(MRZ_information) (9303-11 §9.7.3)."""
        return hashlib.sha1(self.mrz_information).digest()  # noqa: S324 - mandated by 9303-11


@dataclass(frozen=True, repr=False)
class _TextPassword(AccessKey):
    value: str

    def pace_secret(self) -> bytes:
        """K = the password as ISO/IEC 8859-1 characters (9303-11 §9.7.3; TR-03110-2 for PIN/PUK)."""
        try:
            return str(self.value).encode("latin-1")
        except UnicodeEncodeError as exc:
            raise CryptoError("password has characters outside ISO/IEC 8859-1", reason="crypto.access_key") from exc


@dataclass(frozen=True, repr=False)
class CANKey(_TextPassword):
    """The Card Access Number (VN: the last 6 digits of the personal ID)."""

    password_type: PasswordType = field(default=PasswordType.CAN, init=False)


@dataclass(frozen=True, repr=False)
class PINKey(_TextPassword):
    """A PIN (TR-03110; used by the BSI worked examples, e.g. PIN ``123456``)."""

    password_type: PasswordType = field(default=PasswordType.PIN, init=False)


@dataclass(frozen=True, repr=False)
class PUKKey(_TextPassword):
    """A PUK (TR-03110)."""

    password_type: PasswordType = field(default=PasswordType.PUK, init=False)


def kdf_pi(key: AccessKey, cipher: SymmetricCipher) -> bytes:
    """Kπ = KDF_π(π) = KDF(f(π), 3) (9303-11 §9.7.3)."""
    return kdf(key.pace_secret(), KDF_PI, cipher)


def bac_keys(key: MRZKey) -> tuple[bytes, bytes]:
    """Document Basic Access Keys (KEnc, KMAC) = KDF(Kseed, 1), KDF(Kseed, 2) with 3DES
    (9303-11 §9.7.2, Appendix D.2)."""
    seed = key.key_seed()
    return kdf(seed, KDF_ENC, DES3), kdf(seed, KDF_MAC, DES3)


CIPHERS_BY_NAME: dict[str, SymmetricCipher] = {
    "3DES": DES3,
    "AES-128": AES_128,
    "AES-192": AES_192,
    "AES-256": AES_256,
}
