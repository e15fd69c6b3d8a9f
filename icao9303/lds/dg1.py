"""DG1 (ICAO 9303-10 §4.7.1): the MRZ data element, ``61 { 5F1F MRZ }``."""

from __future__ import annotations

from dataclasses import dataclass, field

from icao9303.errors import LDSError, MRZError
from icao9303.lds.base import lds_children, lds_unwrap
from icao9303.mrz import MRZ, parse_mrz
from icao9303.tlv import encode_tlv

__all__ = ["DG1", "DG1_TAG", "MRZ_TAG"]

DG1_TAG = 0x61
MRZ_TAG = 0x5F1F


@dataclass(frozen=True)
class DG1:
    """DG1: the MRZ as one run of characters (TD1 90, TD3 88). The repr shows no MRZ content."""

    mrz: MRZ
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes, *, verify: bool = True) -> DG1:
        """Parse DG1; with `verify` (default) every MRZ check digit is checked.

        Decision: Vietnam-specific MRZ rules are not enforced here (a reader reports them separately);
        a wrong ICAO check digit is an error because DG1 is signed as written.
        """
        nodes = lds_children(lds_unwrap(data, DG1_TAG, "DG1"), "DG1")
        if len(nodes) != 1 or nodes[0].tag != MRZ_TAG:
            raise LDSError("DG1 must hold exactly one 5F1F MRZ data object", file="DG1", reason="lds.value")
        try:
            text = nodes[0].value.decode("ascii")
            mrz = parse_mrz(text, verify=verify, verify_vn=False)
        except UnicodeDecodeError as exc:
            raise LDSError("DG1: MRZ is not ASCII", file="DG1", reason="lds.value") from exc
        except MRZError as exc:
            err = LDSError(
                f"DG1: {exc.message} (field {exc.field}, position {exc.position})",
                file="DG1",
                reason="lds.mrz",
            )
            err.details.update(field=exc.field, line=exc.line, position=exc.position, mrz_reason=exc.reason)
            raise err from exc
        if len(text) not in (88, 90) or "\n" in text:
            raise LDSError(
                "DG1: MRZ must be 88 or 90 characters without separators", file="DG1", reason="lds.value"
            )
        return cls(mrz, bytes(data))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_tlv(DG1_TAG, encode_tlv(MRZ_TAG, "".join(self.mrz.lines).encode("ascii")))

    def __repr__(self) -> str:
        return f"DG1({self.mrz!r})"

    def describe(self) -> dict[str, object]:
        return {"file": "DG1", **self.mrz.to_dict()}
