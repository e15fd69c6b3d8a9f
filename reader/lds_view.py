"""The reader's view of the LDS files it reads: EF.COM's DG list, DG1's MRZ fields, DG13, the DG2
portrait, DG15's key — through `icao9303.lds` where it offers the file class, with small TLV-only
extractors otherwise (kept here, in one place, so they can be dropped when `icao9303.lds` has them).

Every function raises `reader.errors.MalformedFileError` (with the file name as `step`) on bad bytes.
"""
from __future__ import annotations

import importlib
from typing import Any

from icao9303 import tlv
from icao9303.errors import ICAOError
from reader.errors import MalformedFileError
from reader.reading import file_for_tag

__all__ = ["com_dg_numbers", "dg1_fields", "dg2_portrait", "dg13_fields", "dg15_public_key_info"]

_ASN1 = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, RecursionError)


def _lds(module: str) -> Any | None:
    try:
        return importlib.import_module(f"icao9303.lds.{module}")
    except ModuleNotFoundError:
        return None


def _unwrap(data: bytes, tag: int, name: str) -> bytes:
    try:
        return tlv.unwrap_tlv(bytes(data), tag)
    except ICAOError as exc:
        raise MalformedFileError(f"{name}: {exc.reason}", step=name) from exc


def com_dg_numbers(data: bytes) -> list[int]:
    """EF.COM (ICAO 9303-10 §4.6.1): the data group numbers of its tag list (DO 5C)."""
    body = _unwrap(data, 0x60, "EF.COM")
    try:
        nodes = tlv.parse_tlv(body)
    except ICAOError as exc:
        raise MalformedFileError(f"EF.COM: {exc.reason}", step="EF.COM") from exc
    tag_list = next((n.value for n in nodes if n.tag == 0x5C), None)
    if tag_list is None:
        raise MalformedFileError("EF.COM has no tag list (5C)", step="EF.COM")
    out = []
    for t in tag_list:
        f = file_for_tag(t)
        if f is None or f.number is None:
            raise MalformedFileError(f"EF.COM lists unknown tag {t:02X}", step="EF.COM")
        out.append(f.number)
    return out


def _td1_fields(mrz: str) -> dict[str, str]:
    l1, l2, l3 = mrz[0:30], mrz[30:60], mrz[60:90]
    surname, _, given = l3.partition("<<")
    return {
        "document_code": l1[0:2].rstrip("<"), "issuing_state": l1[2:5].rstrip("<"),
        "document_number": l1[5:14].rstrip("<"), "optional_data_1": l1[15:30].rstrip("<"),
        "date_of_birth": l2[0:6], "sex": l2[7], "date_of_expiry": l2[8:14],
        "nationality": l2[15:18].rstrip("<"), "optional_data_2": l2[18:29].rstrip("<"),
        "surname": surname.replace("<", " ").strip(), "given_names": given.replace("<", " ").strip(),
    }


def dg1_fields(data: bytes) -> tuple[str, dict[str, str]]:
    """DG1 (ICAO 9303-10 §4.7.1): (the MRZ text, its fields). VN: personal_id = the 12-digit ID in
    the TD1 optional data (VN_CARD.md)."""
    body = _unwrap(data, 0x61, "DG1")
    try:
        mrz_bytes = tlv.unwrap_tlv(body, 0x5F1F)
        mrz = mrz_bytes.decode("ascii")
    except (ICAOError, UnicodeDecodeError) as exc:
        raise MalformedFileError("DG1: no MRZ data object 5F1F", step="DG1") from exc
    if len(mrz) == 90:
        fields = _td1_fields(mrz)
        opt = fields["optional_data_1"]
        digits = "".join(ch for ch in opt if ch.isdigit())
        if len(digits) >= 12:
            fields["personal_id"] = digits[:12]
    elif len(mrz) == 88:
        l1, l2 = mrz[:44], mrz[44:]
        surname, _, given = l1[5:44].partition("<<")
        fields = {"document_code": l1[0:2].rstrip("<"), "issuing_state": l1[2:5],
                  "document_number": l2[0:9].rstrip("<"), "nationality": l2[10:13].rstrip("<"),
                  "date_of_birth": l2[13:19], "sex": l2[20], "date_of_expiry": l2[21:27],
                  "surname": surname.replace("<", " ").strip(),
                  "given_names": given.replace("<", " ").strip()}
    else:
        raise MalformedFileError(f"DG1: MRZ of {len(mrz)} characters", step="DG1")
    return mrz, fields


def dg13_fields(data: bytes) -> dict[str, Any]:
    """DG13 (VN national data, VN_CARD.md): through `icao9303.lds` when it has a DG13 class, else
    the SET of SEQUENCE { INTEGER n, value } decoded generically into {n: value}."""
    mod = _lds("dg13") or _lds("vn")
    if mod is not None and hasattr(mod, "DG13"):
        try:
            dg = mod.DG13.from_bytes(bytes(data))
            for attr in ("to_dict", "as_dict", "fields"):
                if hasattr(dg, attr):
                    v = getattr(dg, attr)
                    return dict(v() if callable(v) else v)
            return {"value": str(dg)}
        except ICAOError as exc:
            raise MalformedFileError(f"DG13: {exc.reason}", step="DG13") from exc
    from asn1crypto import core

    body = _unwrap(data, 0x6D, "DG13")
    try:
        seq = core.Sequence.load(body, strict=True)
        out: dict[str, Any] = {}
        for item in seq:
            if isinstance(item, core.Set) or item.tag == 17:
                for entry in core.SetOf.load(item.dump()) if not isinstance(item, core.Set) else item:
                    parsed = core.Sequence.load(entry.dump())
                    vals = [v.native for v in parsed]
                    if vals and isinstance(vals[0], int):
                        out[str(vals[0])] = vals[1] if len(vals) == 2 else vals[1:]
        return out
    except _ASN1 as exc:
        raise MalformedFileError(f"DG13: malformed ASN.1 ({type(exc).__name__})", step="DG13") from exc


_JP2_SIG = bytes.fromhex("0000000C6A5020200D0A870A")
_J2K_SOC = bytes.fromhex("FF4FFF51")


def dg2_portrait(data: bytes) -> tuple[bytes, str] | None:
    """DG2 (ICAO 9303-10 §4.7.2, ISO/IEC 19794-5 in CBEFF): (image bytes, "jpeg" | "jp2") of the first
    face, or None when DG2 has no image. The biometric data block (5F2E / 7F2E) holds the ISO 19794-5
    record; the image starts at the JPEG SOI or the JPEG 2000 signature."""
    body = _unwrap(data, 0x75, "DG2")
    try:
        nodes = tlv.parse_tlv(body)
    except ICAOError as exc:
        raise MalformedFileError(f"DG2: {exc.reason}", step="DG2") from exc

    def blocks(ns: Any) -> Any:
        for n in ns:
            if n.tag in (0x5F2E, 0x7F2E):
                yield n.value
            elif n.children:
                yield from blocks(n.children)

    for block in blocks(nodes):
        for sig, fmt in ((b"\xff\xd8\xff", "jpeg"), (_JP2_SIG, "jp2"), (_J2K_SOC, "jp2")):
            i = block.find(sig)
            if i >= 0:
                return block[i:], fmt
    return None


def dg15_public_key_info(data: bytes) -> Any:
    """DG15 (ICAO 9303-10 §4.7.15): the Active Authentication SubjectPublicKeyInfo (asn1crypto)."""
    from asn1crypto import keys

    body = _unwrap(data, 0x6F, "DG15")
    try:
        info = keys.PublicKeyInfo.load(body, strict=True)
        info.native  # noqa: B018 - full parse now
        return info
    except _ASN1 as exc:
        raise MalformedFileError(f"DG15: malformed SubjectPublicKeyInfo ({type(exc).__name__})",
                                 step="DG15") from exc
