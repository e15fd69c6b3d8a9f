"""`parse_lds_file`: any LDS file by name, DG number, tag or FID (ICAO 9303-10 §4), or detected by tag."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from icao9303.errors import LDSError, TLVError
from icao9303.lds.base import FILES, LDSFileInfo, file_info
from icao9303.lds.com import EFCOM
from icao9303.lds.details import DG11, DG12
from icao9303.lds.dg1 import DG1
from icao9303.lds.dg2 import DG2
from icao9303.lds.dg13 import DG13
from icao9303.lds.dg15 import DG15
from icao9303.lds.security_infos import DG14, CardAccess, CardSecurity
from icao9303.lds.sod import SOD
from icao9303.tlv import tlv_header

__all__ = ["PARSERS", "detect_file", "parse_lds_file"]

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "EF.COM": EFCOM.from_bytes,
    "DG1": DG1.from_bytes,
    "DG2": DG2.from_bytes,
    "DG11": DG11.from_bytes,
    "DG12": DG12.from_bytes,
    "DG13": DG13.from_bytes,
    "DG14": DG14.from_bytes,
    "DG15": DG15.from_bytes,
    "EF.SOD": SOD.from_bytes,
    "EF.CardAccess": CardAccess.from_bytes,
    "EF.CardSecurity": CardSecurity.from_bytes,
}
"""File name -> parser; every parser raises only LDSError on bad input."""


def detect_file(data: bytes) -> LDSFileInfo:
    """Which LDS file `data` is, from its first tag. Decision: a file starting with SET (31) is taken
    as EF.CardAccess and one starting with SEQUENCE (30) as EF.CardSecurity."""
    try:
        tag = tlv_header(bytes(data[:16]))[0]
    except TLVError as exc:
        raise LDSError(f"cannot detect the LDS file: {exc.message}", reason="lds.unknown_file") from exc
    if tag == 0x31:
        return file_info("EF.CardAccess")
    if tag == 0x30:
        return file_info("EF.CardSecurity")
    for info in FILES:
        if info.tag == tag:
            return info
    raise LDSError(f"no LDS file has tag {tag:X}", reason="lds.unknown_file")


def parse_lds_file(file: int | str | None, data: bytes) -> Any:
    """Parse `data` as the LDS file named by `file` (name, DG number 1-16, tag or FID; None = detect).

    Returns the file's class (`DG1`, `SOD`, ...). Files without a class here (DG3-DG10, DG16) raise
    LDSError with reason ``lds.unsupported``.
    """
    info = detect_file(data) if file is None else file_info(file)
    parser = PARSERS.get(info.name)
    if parser is None:
        raise LDSError(f"{info.name} has no parser", file=info.name, reason="lds.unsupported")
    return parser(bytes(data))
