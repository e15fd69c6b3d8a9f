"""DG15 (ICAO 9303-10 §4.7.15, 9303-11 §6.1): the Active Authentication key, 6F { SubjectPublicKeyInfo }."""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import keys

from icao9303.errors import LDSError
from icao9303.lds.base import BytesEquality, lds_unwrap
from icao9303.lds.security_infos import ASN1_ERRORS
from icao9303.tlv import encode_tlv

__all__ = ["DG15", "DG15_TAG"]

DG15_TAG = 0x6F


@dataclass(frozen=True, eq=False)
class DG15(BytesEquality):
    """DG15: SubjectPublicKeyInfo (RFC 5280 §4.1) of the chip's AA key (RSA or EC)."""

    public_key_info: keys.PublicKeyInfo
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> DG15:
        body = lds_unwrap(data, DG15_TAG, "DG15")
        try:
            info = keys.PublicKeyInfo.load(body, strict=True)
            info.native  # noqa: B018 - force the full parse
            info["algorithm"]["algorithm"].native  # noqa: B018
        except ASN1_ERRORS as exc:
            raise LDSError(
                f"DG15: malformed SubjectPublicKeyInfo ({type(exc).__name__})", file="DG15", reason="lds.asn1"
            ) from exc
        return cls(info, bytes(data))

    @classmethod
    def from_public_key_der(cls, spki_der: bytes) -> DG15:
        """DG15 from the DER of a SubjectPublicKeyInfo (e.g. `cryptography`'s public_bytes)."""
        return cls.from_bytes(encode_tlv(DG15_TAG, bytes(spki_der)))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_tlv(DG15_TAG, self.public_key_info.dump())

    @property
    def spki_bytes(self) -> bytes:
        """The SubjectPublicKeyInfo DER as read (load with `cryptography` `load_der_public_key`)."""
        return lds_unwrap(self.to_bytes(), DG15_TAG, "DG15")

    @property
    def algorithm(self) -> str:
        """ "rsa", "ec", ... (asn1crypto's name)."""
        return str(self.public_key_info["algorithm"]["algorithm"].native)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": "DG15", "algorithm": self.algorithm}
        try:
            out["bit_size"] = self.public_key_info.bit_size
            if self.algorithm == "ec":
                kind, name = self.public_key_info.curve
                out["curve"] = name if kind == "named" else "explicit"
        except ASN1_ERRORS:
            pass
        return out
