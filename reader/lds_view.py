"""The reader's view of the LDS files it reads — EF.COM's DG list, DG1's MRZ fields, DG13, the DG2
portrait, DG15's key — through `icao9303.lds` (A's file classes), mapped onto the reader's errors.

Every function raises `reader.errors.MalformedFileError` (with the file name as `step`) on bad bytes,
never an ICAO or asn1crypto error.
"""
from __future__ import annotations

from typing import Any

from icao9303.errors import ICAOError
from reader.errors import MalformedFileError
from reader.reading import file_for_tag

__all__ = ["com_dg_numbers", "dg1_fields", "dg2_portrait", "dg13_fields", "dg15_public_key_info"]

_ASN1 = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, RecursionError)


def _malformed(name: str, exc: BaseException) -> MalformedFileError:
    why = getattr(exc, "reason", type(exc).__name__)
    return MalformedFileError(f"{name} does not parse ({why})", step=name)


def com_dg_numbers(data: bytes) -> list[int]:
    """EF.COM (ICAO 9303-10 §4.6.1): the data group numbers of its tag list (DO 5C)."""
    from icao9303.lds.com import EFCOM

    try:
        com = EFCOM.from_bytes(bytes(data))
    except (ICAOError, *_ASN1) as exc:
        raise _malformed("EF.COM", exc) from exc
    out = []
    for t in com.tag_list:
        f = file_for_tag(t)
        if f is None or f.number is None:
            raise MalformedFileError(f"EF.COM lists unknown tag {t:02X}", step="EF.COM")
        out.append(f.number)
    return out


def dg1_fields(data: bytes) -> tuple[Any, dict[str, str]]:
    """DG1 (ICAO 9303-10 §4.7.1; every check digit verified): (the `icao9303.mrz.MRZ`, its fields as
    text; VN: `personal_id` = the 12-digit ID from the TD1 optional data, VN_CARD.md)."""
    from icao9303.lds.dg1 import DG1

    try:
        mrz = DG1.from_bytes(bytes(data)).mrz
        fields = {k: ("" if v is None else str(v)) for k, v in mrz.to_dict().items()}
    except (ICAOError, *_ASN1) as exc:
        raise _malformed("DG1", exc) from exc
    fields["surname"] = mrz.primary_identifier
    fields["given_names"] = mrz.secondary_identifier
    return mrz, fields


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    return getattr(v, "der", b"").hex()


def dg13_fields(data: bytes) -> dict[str, Any]:
    """DG13 (VN national data, VN_CARD.md) as {field name: text, or nested lists}; unknown fields kept
    under ``field_<n>``."""
    from icao9303.lds.dg13 import DG13

    try:
        dg = DG13.from_bytes(bytes(data))
    except (ICAOError, *_ASN1) as exc:
        raise _malformed("DG13", exc) from exc
    out: dict[str, Any] = {}
    for f in dg.fields:
        values = [_value(v) for v in f.values]
        out[f.name] = values[0] if len(values) == 1 else values
    return out


def dg2_portrait(data: bytes) -> tuple[bytes, str] | None:
    """DG2 (ICAO 9303-10 §4.7.2, ISO/IEC 19794-5 in CBEFF): (image bytes, "jpeg" | "jp2") of the first
    face image, or None when DG2 holds no image."""
    from icao9303.lds.dg2 import DG2

    try:
        images = DG2.from_bytes(bytes(data)).face_images
    except (ICAOError, *_ASN1) as exc:
        raise _malformed("DG2", exc) from exc
    if not images:
        return None
    mime, image = images[0]
    return bytes(image), "jp2" if "jp2" in mime else "jpeg"


def dg15_public_key_info(data: bytes) -> Any:
    """DG15 (ICAO 9303-10 §4.7.15): the Active Authentication SubjectPublicKeyInfo (asn1crypto)."""
    from icao9303.lds.dg15 import DG15

    try:
        info = DG15.from_bytes(bytes(data)).public_key_info
        info.native  # noqa: B018 - full parse now
        return info
    except (ICAOError, *_ASN1) as exc:
        raise _malformed("DG15", exc) from exc
