"""The LDS file table (ICAO 9303-10 §4: DG number, tag, FID, SFI) and the TLV helpers LDS classes share."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import cms, core

from icao9303.errors import LDSError, TLVError
from icao9303.tlv import TLVNode, encode_tlv, parse_tlv, unwrap_tlv

__all__ = [
    "FILES",
    "BytesEquality",
    "LDSFileInfo",
    "encode_objects",
    "file_info",
    "lds_children",
    "lds_unwrap",
    "register_econtent_type",
]


@dataclass(frozen=True, slots=True)
class LDSFileInfo:
    """One row of 9303-10 §4 table "LDS1 elementary files": name, DG number (None for EFs), tag, FID, SFI."""

    name: str
    dg: int | None
    tag: int | None
    fid: int
    sfi: int
    description: str


FILES: tuple[LDSFileInfo, ...] = (
    LDSFileInfo("EF.COM", None, 0x60, 0x011E, 0x1E, "common data: LDS version, Unicode version, tag list"),
    LDSFileInfo("DG1", 1, 0x61, 0x0101, 0x01, "MRZ"),
    LDSFileInfo("DG2", 2, 0x75, 0x0102, 0x02, "encoded face"),
    LDSFileInfo("DG3", 3, 0x63, 0x0103, 0x03, "encoded fingers"),
    LDSFileInfo("DG4", 4, 0x76, 0x0104, 0x04, "encoded irises"),
    LDSFileInfo("DG5", 5, 0x65, 0x0105, 0x05, "displayed portrait"),
    LDSFileInfo("DG6", 6, 0x66, 0x0106, 0x06, "reserved for future use"),
    LDSFileInfo("DG7", 7, 0x67, 0x0107, 0x07, "displayed signature or usual mark"),
    LDSFileInfo("DG8", 8, 0x68, 0x0108, 0x08, "data feature(s)"),
    LDSFileInfo("DG9", 9, 0x69, 0x0109, 0x09, "structure feature(s)"),
    LDSFileInfo("DG10", 10, 0x6A, 0x010A, 0x0A, "substance feature(s)"),
    LDSFileInfo("DG11", 11, 0x6B, 0x010B, 0x0B, "additional personal detail(s)"),
    LDSFileInfo("DG12", 12, 0x6C, 0x010C, 0x0C, "additional document detail(s)"),
    LDSFileInfo("DG13", 13, 0x6D, 0x010D, 0x0D, "optional detail(s) (Vietnam: national data)"),
    LDSFileInfo("DG14", 14, 0x6E, 0x010E, 0x0E, "security options (SecurityInfos)"),
    LDSFileInfo("DG15", 15, 0x6F, 0x010F, 0x0F, "Active Authentication public key info"),
    LDSFileInfo("DG16", 16, 0x70, 0x0110, 0x10, "person(s) to notify"),
    LDSFileInfo("EF.SOD", None, 0x77, 0x011D, 0x1D, "document security object"),
    # Files of the master file (9303-10 §3.11): no wrapping application tag.
    LDSFileInfo("EF.CardAccess", None, None, 0x011C, 0x1C, "SecurityInfos for PACE (MF)"),
    LDSFileInfo("EF.CardSecurity", None, None, 0x011D, 0x1D, "signed SecurityInfos (MF)"),
    LDSFileInfo("EF.ATR/INFO", None, None, 0x2F01, 0x01, "answer to reset / extended length info (MF)"),
    LDSFileInfo("EF.DIR", None, None, 0x2F00, 0x1E, "application directory (MF)"),
)
"""Decision: FID 011D names EF.SOD inside the eMRTD application and EF.CardSecurity in the MF;
lookups by FID return EF.SOD (the LDS file); use the name for EF.CardSecurity."""


def file_info(key: int | str) -> LDSFileInfo:
    """Look a file up by name ("DG1", "EF.COM"; any case), DG number (1-16), tag (0x61) or FID (0x0101).

    Integers 1-16 are DG numbers, 0x60-0x77 tags, larger values FIDs.
    """
    for info in FILES:
        if isinstance(key, str):
            if info.name.upper() == key.upper() or (info.dg is not None and key.upper() == f"EF.DG{info.dg}"):
                return info
        elif 1 <= key <= 16:
            if info.dg == key:
                return info
        elif key <= 0xFF:
            if info.tag == key:
                return info
        elif info.fid == key:
            return info
    raise LDSError(f"no LDS file {key!r}", reason="lds.unknown_file")


def lds_unwrap(data: bytes, tag: int, file: str) -> bytes:
    """The value of the single data object `tag` that `data` must be (TLVError -> LDSError)."""
    try:
        return unwrap_tlv(bytes(data), tag)
    except TLVError as exc:
        raise LDSError(f"{file}: {exc.message}", file=file, reason="lds.tlv") from exc


def lds_children(value: bytes, file: str) -> tuple[TLVNode, ...]:
    """The data objects inside a file's template, parsed as a tree (TLVError -> LDSError)."""
    try:
        return parse_tlv(bytes(value))
    except TLVError as exc:
        raise LDSError(f"{file}: {exc.message}", file=file, reason="lds.tlv") from exc


def encode_objects(objects: list[tuple[int, bytes]]) -> bytes:
    return b"".join(encode_tlv(t, v) for t, v in objects)


class BytesEquality:
    """Equality and hash by encoding, for LDS classes holding asn1crypto objects (which compare by
    identity). Subclasses are dataclasses declared with ``eq=False``."""

    def to_bytes(self) -> bytes:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.to_bytes()))


def register_econtent_type(oid: str, name: str, spec: type[core.Asn1Value]) -> None:
    """Teach asn1crypto's CMS an eContentType (RFC 5652 §5.2): `oid` <-> `name`, eContent parsed as `spec`.

    Idempotent and independent of import order: asn1crypto builds `ContentType._reverse_map` (name ->
    OID) once, lazily, and never again; resetting it to None after it was built (what this module did
    before) made every later ``ContentType("signed_data")`` fail with a TypeError. So the entry is added
    to the map that exists, or left for asn1crypto to build from `_map`.
    """
    cms.ContentType._map[oid] = name
    reverse = cms.ContentType.__dict__.get("_reverse_map")
    if reverse is not None:
        reverse[name] = oid
    cms.EncapsulatedContentInfo._oid_specs[name] = spec
