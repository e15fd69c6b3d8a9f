"""DG11 (additional personal details) and DG12 (additional document details), ICAO 9303-10 §4.7.11-12.

Both are ``tag { 5C tag list, data objects in that order }``. Text is UTF-8 (9303-10 §4.7.11 allows
"<" as name separator). Dates: the specification says ``yyyymmdd`` ASCII (8 bytes); some documents
write 4 BCD bytes (LESSONS), so both are read and the form read is remembered for writing back.
Objects not defined here are kept in `other` (tag, value) and written back in place.

Decisions (each read form is remembered so that re-encoding the fields gives the bytes read):
- Text is UTF-8 (9303-10 §4.7.11); text that is not UTF-8 is read as ISO/IEC 8859-1 (what LDS 1.7-era
  documents wrote) and reported in `issues`, instead of making the whole file unreadable.
- The "other names" / "other persons" group is ``A0 { 02 count, 5F0F|5F1A name ... }``; some early
  documents write the names as top-level 5F0F / 5F1A objects (JMRTD reads both): accepted, reported.
- The tag list (5C) should name every data object present; in it, 5F0F / 5F1A stand for the A0 group
  as well as A0 itself. A mismatch is reported in `issues`, not fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from icao9303.errors import LDSError
from icao9303.lds.base import lds_children, lds_unwrap
from icao9303.tlv import TLVNode, encode_tlv

__all__ = ["DG11", "DG11_TAG", "DG12", "DG12_TAG", "decode_date", "encode_date", "split_tag_list"]

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


def _lenient_text(value: bytes) -> tuple[str, str]:
    """(text, "utf-8" | "latin-1"): UTF-8, else ISO/IEC 8859-1 (see the module's decisions)."""
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return value.decode("latin-1"), "latin-1"


def split_tag_list(value: bytes, file: str) -> tuple[int, ...]:
    """The tags of a 5C tag list (BER tags one after another, ISO/IEC 7816-4 §8.4.3 / 9303-10 §4.7.11)."""
    from icao9303.errors import TLVError
    from icao9303.tlv import decode_tag

    tags = []
    pos = 0
    try:
        while pos < len(value):
            tag, pos = decode_tag(value, pos)
            tags.append(tag)
    except TLVError as exc:
        raise LDSError(f"{file}: tag list: {exc.message}", file=file, reason="lds.tlv") from exc
    return tuple(tags)


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
_LIST_FIELDS = frozenset({"place_of_birth", "permanent_address", "other_valid_td_numbers"})
"""Fields whose parts 9303-10 separates with '<'."""


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
        listed = split_tag_list(nodes[0].value, file)
        by_tag = {tag: (name, kind) for name, tag, kind in cls._FIELDS}
        legacy_name_tag = _NAME_IN_GROUP[cls._TAG]
        names_field = next(name for name, _, kind in cls._FIELDS if kind == "names")
        values: dict[str, object] = {}
        forms: dict[str, str] = {}
        other: list[tuple[int, bytes]] = []
        order: list[int] = []
        issues: list[str] = []
        for node in nodes[1:]:
            order.append(node.tag)
            if node.tag == legacy_name_tag:  # early documents: names outside the A0 group
                if names_field in values and forms.get(names_field) != "legacy":
                    raise LDSError(f"{file}: names both in A0 and outside it", file=file, reason="lds.value")
                text, enc = _lenient_text(node.value)
                values[names_field] = (*values.get(names_field, ()), text)  # type: ignore[misc]
                forms[names_field] = "legacy"
                if enc != "utf-8":
                    issues.append(f"{node.tag:X}: text is not UTF-8, read as ISO/IEC 8859-1")
                continue
            if node.tag not in by_tag:
                other.append((node.tag, node.value))
                continue
            name, kind = by_tag[node.tag]
            if name in values:
                raise LDSError(f"{file}: {node.tag:X} repeated", file=file, reason="lds.value")
            if kind == "text":
                values[name], enc = _lenient_text(node.value)
                if enc != "utf-8":
                    forms[name] = enc
                    issues.append(f"{node.tag:X}: text is not UTF-8, read as ISO/IEC 8859-1")
            elif kind in ("date", "datetime"):
                values[name], forms[name] = decode_date(
                    node.value, file=file, length=8 if kind == "date" else 14
                )
            elif kind == "bytes":
                values[name] = node.value
            else:
                values[name] = cls._parse_names(node, file)
        if forms.get(names_field) == "legacy":
            issues.append(f"names as top-level {legacy_name_tag:X} objects, not in an A0 group")
        present = {_OTHER_NAMES_GROUP if t == legacy_name_tag else t for t in order}
        in_list = {_OTHER_NAMES_GROUP if t == legacy_name_tag else t for t in listed}
        if present != in_list or len(listed) != len(set(listed)):
            issues.append(
                "tag list " + " ".join(f"{t:X}" for t in listed)
                + " does not match the data objects " + " ".join(f"{t:X}" for t in order)
            )
        return cls(
            **values,
            other=tuple(other),
            date_forms=tuple(sorted(forms.items())),  # type: ignore[call-arg]
            tag_order=tuple(order),
            tag_list=nodes[0].value,
            issues=tuple(issues),
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

    def _encode_field(self, name: str, tag: int, kind: str) -> tuple[int, bytes] | None:
        """(tag the object is found under in the body, its encoding), or None when absent."""
        value = getattr(self, name)
        if value is None:
            return None
        form = dict(self.date_forms).get(name)  # type: ignore[attr-defined]
        if kind == "text":
            return tag, encode_tlv(tag, value.encode("latin-1" if form == "latin-1" else "utf-8"))
        if kind in ("date", "datetime"):
            return tag, encode_tlv(tag, encode_date(value, form or "ascii"))
        if kind == "bytes":
            return tag, encode_tlv(tag, value)
        name_tag = _NAME_IN_GROUP[self._TAG]
        if form == "legacy":
            return name_tag, b"".join(encode_tlv(name_tag, n.encode("utf-8")) for n in value)
        if len(value) > 255:
            raise LDSError(f"{self._FILE}: more than 255 names", file=self._FILE, reason="lds.value")
        inner = [encode_tlv(_COUNT, bytes([len(value)]))]
        inner += [encode_tlv(_NAME_IN_GROUP[self._TAG], n.encode("utf-8")) for n in value]
        return tag, encode_tlv(tag, inner)

    def to_bytes(self) -> bytes:
        if self.raw is not None:  # type: ignore[attr-defined]
            return self.raw  # type: ignore[attr-defined]
        encoded: dict[int, bytes] = {}
        default_order: list[int] = []
        for name, tag, kind in self._FIELDS:
            item = self._encode_field(name, tag, kind)
            if item is not None:
                encoded[item[0]] = item[1]
                default_order.append(item[0])
        others = list(self.other)  # type: ignore[attr-defined]
        order = list(self.tag_order) or default_order  # type: ignore[attr-defined]
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
        for tag in default_order:
            if tag in encoded:
                body.append(encoded.pop(tag))
                tags.append(tag)
        for t, v in others:
            body.append(encode_tlv(t, v))
            tags.append(t)
        tag_list = b"".join(t.to_bytes(2 if t > 0xFF else 1, "big") for t in tags)
        if self.tag_list and set(tags) == set(self.tag_order):  # type: ignore[attr-defined]
            tag_list = self.tag_list  # type: ignore[attr-defined]  # same objects as read: the list as written
        return encode_tlv(self._TAG, [encode_tlv(_TAG_LIST, tag_list), *body])

    def parts(self, name: str) -> tuple[str, ...] | None:
        """A '<'-separated field (place of birth, permanent address, other TD numbers) split into its
        parts (9303-10 §4.7.11), or None when absent."""
        if name not in _LIST_FIELDS:
            raise KeyError(name)
        value = getattr(self, name, None)
        return None if value is None else tuple(value.split("<"))

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self._FILE}
        kinds = {name: kind for name, _, kind in self._FIELDS}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in ("raw", "tag_order", "tag_list", "date_forms", "issues"):
                continue
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            kind = kinds.get(f.name)
            if isinstance(value, bytes):
                value = f"{_image_kind(value)}, {len(value)} bytes"
            elif f.name == "other":
                value = {f"{t:X}": v.hex() for t, v in value}
            elif kind == "date" and len(value) == 8:
                value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
            elif kind == "datetime" and len(value) == 14:
                value = f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[8:10]}:{value[10:12]}:{value[12:]}"
            elif f.name in _LIST_FIELDS and "<" in value:
                value = list(self.parts(f.name) or ())
            elif f.name == "full_name" and "<<" in value:
                primary, _, secondary = value.partition("<<")
                value = {"primary_identifier": primary, "secondary_identifier": secondary.replace("<", " ")}
            out[f.name] = value
        out["tag_list"] = [f"{t:X}" for t in split_tag_list(self.tag_list, self._FILE)] if self.tag_list else []  # type: ignore[attr-defined]
        if self.issues:  # type: ignore[attr-defined]
            out["issues"] = list(self.issues)  # type: ignore[attr-defined]
        return out


def _image_kind(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "JPEG image"
    if data.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000 image"
    return "binary"


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
    issues: tuple[str, ...] = field(default=(), compare=False)
    """Deviations from 9303-10 found when reading (see the module's decisions); empty when built."""
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
    issues: tuple[str, ...] = field(default=(), compare=False)
    """Deviations from 9303-10 found when reading (see the module's decisions); empty when built."""
    raw: bytes | None = field(default=None, compare=False, repr=False)
