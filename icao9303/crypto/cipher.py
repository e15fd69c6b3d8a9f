"""Block-cipher building blocks of ICAO 9303-11: 3DES/AES in CBC, ISO/IEC 9797-1 padding, retail MAC, CMAC.

`SymmetricCipher` names one of the four cipher choices of 9303-11 (3DES with 112-bit keys, AES-128,
AES-192, AES-256) and offers exactly the operations the protocols need: CBC encryption with a given
IV, ISO/IEC 9797-1 padding method 2, and the 8-byte MAC (3DES: ISO/IEC 9797-1 MAC algorithm 3 with
DES, "retail MAC"; AES: CMAC [SP 800-38B] truncated to 8 bytes, 9303-11 §9.8.7.2). Everything runs
on `cryptography`'s primitives.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from icao9303.crypto.errors import SMError, UnsupportedAlgorithmError

__all__ = [
    "AES_128",
    "AES_192",
    "AES_256",
    "DES3",
    "CipherAlgorithm",
    "SymmetricCipher",
    "pad",
    "unpad",
]

MAC_LENGTH = 8
"""Length of every SM MAC and PACE authentication token (9303-11 §9.8.6.2, §9.8.7.2, §4.4.3.4)."""


class CipherAlgorithm(enum.Enum):
    """The block cipher family named by a protocol OID (…-3DES-CBC-CBC or …-AES-CBC-CMAC-xxx)."""

    DES3 = "3DES"
    AES = "AES"


def pad(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: append 0x80, then zeros up to a multiple of `block_size`."""
    data = bytes(data) + b"\x80"
    return data + bytes(-len(data) % block_size)


def unpad(data: bytes, block_size: int = 16) -> bytes:
    """Remove ISO/IEC 9797-1 padding method 2; `SMError` (``sm.padding``) if there is none."""
    stripped = bytes(data).rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= block_size:
        raise SMError("ISO/IEC 9797-1 padding method 2 not found", reason="sm.padding")
    return stripped[:-1]


def _ecb(algorithm, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithm, modes.ECB())  # noqa: S305 - single-block primitive of retail MAC / SSC IV
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


@dataclass(frozen=True, slots=True)
class SymmetricCipher:
    """One cipher choice of ICAO 9303-11: algorithm and key length in bytes (3DES keys are 16 bytes,
    two-key 3DES; 9303-11 §9.7.1.1)."""

    algorithm: CipherAlgorithm
    key_length: int

    @property
    def block_size(self) -> int:
        """Cipher block size in bytes: 8 for 3DES, 16 for AES; also the SSC length (9303-11 §9.8)."""
        return 8 if self.algorithm is CipherAlgorithm.DES3 else 16

    @property
    def name(self) -> str:
        return "3DES" if self.algorithm is CipherAlgorithm.DES3 else f"AES-{self.key_length * 8}"

    def _check_key(self, key: bytes) -> None:
        if len(key) != self.key_length:
            raise UnsupportedAlgorithmError(f"{self.name} needs a {self.key_length}-byte key", what="key_length")

    def _algorithm(self, key: bytes):
        self._check_key(key)
        if self.algorithm is CipherAlgorithm.DES3:
            return TripleDES(key + key[:8])  # two-key 3DES: K1 K2 K1
        return AES(key)

    def encrypt_cbc(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        """CBC encryption (ISO/IEC 10116) of block-aligned `data`; IV all zeros unless given."""
        if len(data) % self.block_size:
            raise SMError("data to encrypt is not block aligned", reason="sm.padding")
        enc = Cipher(self._algorithm(key), modes.CBC(iv or bytes(self.block_size))).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt_cbc(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        """CBC decryption; `SMError` (``sm.padding``) when `data` is not a whole number of blocks."""
        if not data or len(data) % self.block_size:
            raise SMError("cryptogram is not a whole number of cipher blocks", reason="sm.padding")
        dec = Cipher(self._algorithm(key), modes.CBC(iv or bytes(self.block_size))).decryptor()
        return dec.update(data) + dec.finalize()

    def encrypt_block(self, key: bytes, block: bytes) -> bytes:
        """E(K, block) for one block (used for the AES SM IV = E(KSenc, SSC), 9303-11 §9.8.7.1)."""
        return _ecb(self._algorithm(key), block)

    def mac(self, key: bytes, data: bytes, *, padded: bool = False) -> bytes:
        """The 8-byte MAC of `data`.

        3DES: ISO/IEC 9797-1 MAC algorithm 3 with DES, IV = 0, padding method 2 (9303-11 §9.8.6.2).
        AES: CMAC truncated to 8 bytes (9303-11 §9.8.7.2, §4.4.3.4).

        With ``padded=False`` the input is taken as the message: 3DES pads it with method 2, CMAC pads
        internally (the PACE authentication token, §4.4.3.4: "padding is performed internally").
        With ``padded=True`` the caller already applied method 2 (secure messaging, §9.8.6.2 /
        §9.8.7.2 "N = SSC ‖ ... padded"); nothing more is added for either cipher.
        """
        if self.algorithm is CipherAlgorithm.DES3:
            self._check_key(key)
            if padded and len(data) % 8:
                raise SMError("MAC input is not padded", reason="sm.padding")
            message = bytes(data) if padded else pad(data, 8)
            ka, kb = key[:8], key[8:16]
            # DES-CBC with Ka over all blocks (single DES = 3DES with K1 = K2 = K3), then E_Ka(D_Kb(h)).
            enc = Cipher(TripleDES(ka * 3), modes.CBC(bytes(8))).encryptor()
            h = (enc.update(message) + enc.finalize())[-8:]
            h = _ecb(TripleDES(kb * 3), h, decrypt=True)
            return _ecb(TripleDES(ka * 3), h)
        c = CMAC(self._algorithm(key))
        c.update(data)
        return c.finalize()[:MAC_LENGTH]


DES3 = SymmetricCipher(CipherAlgorithm.DES3, 16)
AES_128 = SymmetricCipher(CipherAlgorithm.AES, 16)
AES_192 = SymmetricCipher(CipherAlgorithm.AES, 24)
AES_256 = SymmetricCipher(CipherAlgorithm.AES, 32)
