"""DG11 (additional personal details) and DG12 (additional document details), ICAO 9303-10 §4.7.11-12.

Both are ``tag { 5C tag list, data objects in that order }``. Text is UTF-8 (9303-10 §4.7.11 allows
"<" as name separator). Dates: the specification says ``yyyymmdd`` ASCII (8 bytes); some documents
write 4 BCD bytes (LESSONS), so both are read and the form read is remembered for writing back.
Objects not defined here are kept in `other` (tag, value) and written back in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from icao9303.errors import LDSError
from icao9303.lds.base import lds_children, lds_unwrap
from icao9303.tlv import TLVNode, encode_tlv

__all__ = ["DG11", "DG11_TAG", "DG12", "DG12_TAG", "decode_date", "encode_date"]

DG11_TAG = 0x6B
DG12_TAG = 0x6C
_TAG_LIST = 0x5C
_OTHER_NAMES_GROUP = 0xA0
_COUNT = 0x02


def decode_date(value: bytes, *, file: str, length: int = 8) -> tuple[str, str]:
    """(digits, "ascii" | "bcd") of a date data object: ``yyyymmdd`` (or ``yyyymmddhhmmss`` with
    `length` 14) as ASCII, or the same digits packed as BCD."""
    if len(value) == length and re.fullmatch(rb"[0-9]+", value):
        return value.decode("ascii"), "ascii"
    if len(value) == length // 2:
        digits = value.hex()
        if digits.isdigit():
            return digits, "bcd"
    raise LDSError(
        f"{file}: date is neither {length} ASCII digits nor {length // 2} BCD bytes",
        file=file,
        reason="lds.value",
    )


def encode_date(digits: str, form: str) -> bytes:
    return bytes.fromhex(digits) if form == "bcd" else digits.encode("ascii")


def _text(value: bytes, file: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LDSError(f"{file}: text is not UTF-8", file=file, reason="lds.value") from exc


# (python field, tag, kind) with kind "text" | "date" | "datetime" | "bytes" | "names"
_DG11_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("full_name", 0x5F0E, "text"),
    ("other_names", 0xA0, "names"),
    ("personal_number", 0x5F10, "text"),
    ("full_date_of_birth", 0x5F2B, "date"),
    ("place_of_birth", 0x5F11, "text"),
    ("permanent_address", 0x5F42, "text"),
    ("telephone", 0x5F12, "text"),
    ("profession", 0x5F13, "text"),
    ("title", 0x5F14, "text"),
    ("personal_summary", 0x5F15, "text"),
    ("proof_of_citizenship", 0x5F16, "bytes"),
    ("other_valid_td_numbers", 0x5F17, "text"),
    ("custody_information", 0x5F18, "text"),
)

_DG12_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("issuing_authority", 0x5F19, "text"),
    ("date_of_issue", 0x5F26, "date"),
    ("other_persons", 0xA0, "names"),
    ("endorsements_and_observations", 0x5F1B, "text"),
    ("tax_or_exit_requirements", 0x5F1C, "text"),
    ("image_of_front", 0x5F1D, "bytes"),
    ("image_of_rear", 0x5F1E, "bytes"),
    ("date_and_time_of_personalization", 0x5F55, "datetime"),
    ("personalization_system_serial_number", 0x5F56, "text"),
)

_NAME_IN_GROUP = {DG11_TAG: 0x5F0F, DG12_TAG: 0x5F1A}


class _DetailsMixin:
    """Shared parse/encode of DG11/DG12 (the classes differ only in their tag and field table)."""

    _TAG: int
    _FILE: str
    _FIELDS: tuple[tuple[str, int, str], ...]

    @classmethod
    def from_bytes(cls, data: bytes):  # type: ignore[no-untyped-def]
        file = cls._FILE
        nodes = lds_children(lds_unwrap(data, cls._TAG, file), file)
        if not nodes or nodes[0].tag != _TAG_LIST:
            raise LDSError(f"{file}: must start with the 5C tag list", file=file, reason="lds.value")
        by_tag = {tag: (name, kind) for name, tag, kind in cls._FIELDS}
        values: dict[str, object] = {}
        forms: dict[str, str] = {}
        other: list[tuple[int, bytes]] = []
        order: list[int] = []
        for node in nodes[1:]:
            order.append(node.tag)
            if node.tag not in by_tag:
                other.append((node.tag, node.value))
                continue
            name, kind = by_tag[node.tag]
            if name in values:
                raise LDSError(f"{file}: {node.tag:X} repeated", file=file, reason="lds.value")
            if kind == "text":
                values[name] = _text(node.value, file)
            elif kind in ("date", "datetime"):
                values[name], forms[name] = decode_date(
                    node.value, file=file, length=8 if kind == "date" else 14
                )
            elif kind == "bytes":
                values[name] = node.value
            else:
                values[name] = cls._parse_names(node, file)
        return cls(
            **values,
            other=tuple(other),
            date_forms=tuple(sorted(forms.items())),  # type: ignore[call-arg]
            tag_order=tuple(order),
            tag_list=nodes[0].value,
            raw=bytes(data),
        )

    @classmethod
    def _parse_names(cls, node: TLVNode, file: str) -> tuple[str, ...]:
        kids = node.children or ()
        if not kids or kids[0].tag != _COUNT:
            raise LDSError(f"{file}: A0 group must start with a count", file=file, reason="lds.value")
        names = tuple(_text(k.value, file) for k in kids[1:] if k.tag == _NAME_IN_GROUP[cls._TAG])
        if len(names) != len(kids) - 1 or int.from_bytes(kids[0].value, "big") != len(names):
            raise LDSError(f"{file}: A0 group count does not match", file=file, reason="lds.value")
        return names

    def _encode_field(self, name: str, tag: int, kind: str) -> bytes | None:
        value = getattr(self, name)
        if value is None:
            return None
        if kind == "text":
            return encode_tlv(tag, value.encode("utf-8"))
        if kind in ("date", "datetime"):
            form = dict(self.date_forms).get(name, "ascii")  # type: ignore[attr-defined]
            return encode_tlv(tag, encode_date(value, form))
        if kind == "bytes":
            return encode_tlv(tag, value)
        inner = [encode_tlv(_COUNT, bytes([len(value)]))]
        inner += [encode_tlv(_NAME_IN_GROUP[self._TAG], n.encode("utf-8")) for n in value]
        return encode_tlv(tag, inner)

    def to_bytes(self) -> bytes:
        if self.raw is not None:  # type: ignore[attr-defined]
            return self.raw  # type: ignore[attr-defined]
        encoded: dict[int, bytes] = {}
        for name, tag, kind in self._FIELDS:
            item = self._encode_field(name, tag, kind)
            if item is not None:
                encoded[tag] = item
        others = list(self.other)  # type: ignore[attr-defined]
        order = list(self.tag_order) or [t for _, t, _ in self._FIELDS]  # type: ignore[attr-defined]
        body: list[bytes] = []
        tags: list[int] = []
        for tag in order:
            if tag in encoded:
                body.append(encoded.pop(tag))
                tags.append(tag)
            else:
                for i, (t, v) in enumerate(others):
                    if t == tag:
                        body.append(encode_tlv(t, v))
                        tags.append(t)
                        del others[i]
                        break
        for tag in [t for _, t, _ in self._FIELDS]:
            if tag in encoded:
                body.append(encoded.pop(tag))
                tags.append(tag)
        for t, v in others:
            body.append(encode_tlv(t, v))
            tags.append(t)
        tag_list = b"".join(t.to_bytes(2 if t > 0xFF else 1, "big") for t in tags)
        return encode_tlv(self._TAG, [encode_tlv(_TAG_LIST, tag_list), *body])

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self._FILE}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in ("raw", "tag_order", "tag_list", "date_forms"):
                continue
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            if isinstance(value, bytes):
                value = f"{len(value)} bytes"
            elif f.name == "other":
                value = {f"{t:X}": v.hex() for t, v in value}
            out[f.name] = value
        return out


@dataclass(frozen=True)
class DG11(_DetailsMixin):
    """DG11, additional personal details (9303-10 §4.7.11). Dates as ``yyyymmdd`` strings."""

    _TAG = DG11_TAG
    _FILE = "DG11"
    _FIELDS = _DG11_FIELDS

    full_name: str | None = None
    other_names: tuple[str, ...] | None = None
    personal_number: str | None = None
    full_date_of_birth: str | None = None
    place_of_birth: str | None = None
    permanent_address: str | None = None
    telephone: str | None = None
    profession: str | None = None
    title: str | None = None
    personal_summary: str | None = None
    proof_of_citizenship: bytes | None = None
    other_valid_td_numbers: str | None = None
    custody_information: str | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    date_forms: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    tag_order: tuple[int, ...] = field(default=(), compare=False, repr=False)
    tag_list: bytes = field(default=b"", compare=False, repr=False)
    raw: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DG12(_DetailsMixin):
    """DG12, additional document details (9303-10 §4.7.12). Dates as ``yyyymmdd`` / ``yyyymmddhhmmss``."""

    _TAG = DG12_TAG
    _FILE = "DG12"
    _FIELDS = _DG12_FIELDS

    issuing_authority: str | None = None
    date_of_issue: str | None = None
    other_persons: tuple[str, ...] | None = None
    endorsements_and_observations: str | None = None
    tax_or_exit_requirements: str | None = None
    image_of_front: bytes | None = None
    image_of_rear: bytes | None = None
    date_and_time_of_personalization: str | None = None
    personalization_system_serial_number: str | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    date_forms: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    tag_order: tuple[int, ...] = field(default=(), compare=False, repr=False)
    tag_list: bytes = field(default=b"", compare=False, repr=False)
    raw: bytes | None = field(default=None, compare=False, repr=False)
