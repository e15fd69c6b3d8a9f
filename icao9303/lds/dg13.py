"""Vietnam's DG13 (tag 6D): the national data of the chip ID card (VN_CARD.md "DG13").

``6D { SEQUENCE { INTEGER 1, OID 1.0.10646.1.0.8, SET { SEQUENCE { INTEGER n, value... } ... } } }``:
fields keyed by n (1 personal ID ... 16 card serial), absent fields left out, strings UTF8String (or
PrintableString for digits and dates), dates ``dd/MM/yyyy``. Unknown field numbers and unknown value
types are kept; a file read from a chip is written back byte for byte.

Decisions (the card's layout is only known from public parsers, see VN_CARD.md):
- field 13 (parents) is ``SEQUENCE { INTEGER 13, SEQUENCE { father }, SEQUENCE { mother } }``;
- strings made only of digits, ``/`` and spaces are written as PrintableString, others UTF8String;
- new files are written in DER (the SET sorted by encoding, X.690 §11.6); readers key by n, not order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import ClassVar, Union

from asn1crypto import core

from icao9303.errors import LDSError
from icao9303.lds.base import lds_unwrap
from icao9303.lds.security_infos import ASN1_ERRORS
from icao9303.tlv import encode_tlv

__all__ = ["DG13", "DG13_OID", "DG13_TAG", "FIELD_NAMES", "DG13Content", "DG13Field", "RawValue"]

DG13_TAG = 0x6D
DG13_OID = "1.0.10646.1.0.8"
_MAX_NESTING = 8

FIELD_NAMES: dict[int, str] = {
    1: "personal_id",
    2: "full_name",
    3: "date_of_birth",
    4: "sex",
    5: "nationality",
    6: "ethnicity",
    7: "religion",
    8: "place_of_origin",
    9: "place_of_residence",
    10: "identifying_features",
    11: "date_of_issue",
    12: "date_of_expiry",
    13: "parents",
    14: "spouse_name",
    15: "old_id_number",
    16: "card_serial",
}
_NUMBERS = {v: k for k, v in FIELD_NAMES.items()}


class _Entry(core.SequenceOf):
    """SEQUENCE { INTEGER n, value... } — read element by element."""

    _child_spec = core.Any


class _Entries(core.SetOf):
    _child_spec = _Entry


class DG13Content(core.Sequence):
    """The SEQUENCE inside tag 6D: version, OID 1.0.10646.1.0.8 (ISO/IEC 10646 UTF-8), the field SET."""

    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("oid", core.ObjectIdentifier),
        ("fields", _Entries),
    ]


@dataclass(frozen=True)
class RawValue:
    """A value of a type this module does not interpret, kept as its DER."""

    der: bytes


DG13Value = Union[str, "tuple[DG13Value, ...]", RawValue]


@dataclass(frozen=True)
class DG13Field:
    """Field number `number` with its values (strings, nested sequences as tuples, or raw values)."""

    number: int
    values: tuple[DG13Value, ...]

    @property
    def name(self) -> str:
        return FIELD_NAMES.get(self.number, f"field_{self.number}")

    @property
    def text(self) -> str | None:
        """The first string found (depth first), or None."""
        return _first_text(self.values)


def _first_text(values: tuple[DG13Value, ...]) -> str | None:
    for v in values:
        if isinstance(v, str):
            return v
        if isinstance(v, tuple):
            found = _first_text(v)
            if found is not None:
                return found
    return None


def _from_any(value: core.Any, depth: int) -> DG13Value:
    der = value.dump()
    tag = der[0]
    if tag == 0x0C:
        return core.UTF8String.load(der, strict=True).native
    if tag in (0x13, 0x16):  # PrintableString, IA5String
        cls = core.PrintableString if tag == 0x13 else core.IA5String
        return cls.load(der, strict=True).native
    if tag == 0x30:
        if depth >= _MAX_NESTING:
            raise LDSError("DG13: values nested too deeply", file="DG13", reason="lds.value")
        return tuple(_from_any(v, depth + 1) for v in _Entry.load(der, strict=True))
    return RawValue(der)


_PRINTABLE = re.compile(r"^[0-9/ ]+$")


def _to_asn1(value: DG13Value) -> core.Asn1Value:
    if isinstance(value, RawValue):
        return core.Any.load(value.der)
    if isinstance(value, tuple):
        return _Entry([_to_asn1(v) for v in value])
    if isinstance(value, str):
        return core.PrintableString(value) if _PRINTABLE.match(value) else core.UTF8String(value)
    raise LDSError(f"DG13: cannot encode {type(value).__name__}", file="DG13", reason="lds.value")


@dataclass(frozen=True)
class DG13:
    """Vietnam's DG13 as its fields, in the order read. Build new ones with `DG13.build(...)`."""

    fields: tuple[DG13Field, ...]
    version: int = 1
    oid: str = DG13_OID
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"DG13(fields={[f.number for f in self.fields]}, <redacted>)"

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        *,
        extra: dict[int, tuple[DG13Value, ...]] | None = None,
        father_name: str | None = None,
        mother_name: str | None = None,
        **named: str | None,
    ) -> DG13:
        """DG13 from named fields (`FIELD_NAMES` values, e.g. ``personal_id="079090012345"``,
        ``date_of_birth="15/03/1990"``), parents, and `extra` {n: values} for other numbers."""
        by_number: dict[int, tuple[DG13Value, ...]] = {}
        for name, value in named.items():
            if name not in _NUMBERS or name == "parents":
                raise LDSError(f"DG13: unknown field {name!r}", file="DG13", reason="lds.value")
            if value is not None:
                by_number[_NUMBERS[name]] = (value,)
        if father_name is not None or mother_name is not None:
            by_number[13] = ((father_name or "",), (mother_name or "",))
        for n, values in (extra or {}).items():
            by_number[int(n)] = tuple(values)
        draft = cls(tuple(DG13Field(n, v) for n, v in sorted(by_number.items())))
        # Fields in the order the DER SET puts them, so the object equals what parsing it gives.
        return replace(cls.from_bytes(draft.to_bytes()), raw=None)

    @classmethod
    def from_bytes(cls, data: bytes) -> DG13:
        body = lds_unwrap(data, DG13_TAG, "DG13")
        try:
            content = DG13Content.load(body, strict=True)
            version = content["version"].native
            oid = content["oid"].dotted
            out = []
            for entry in content["fields"]:
                items = list(entry)
                if not items:
                    raise LDSError("DG13: empty field", file="DG13", reason="lds.value")
                number = core.Integer.load(items[0].dump(), strict=True).native
                if not 0 <= number < 1 << 31:  # field numbers are small (VN_CARD.md: 1-16, more on 2024 cards)
                    raise LDSError("DG13: field number out of range", file="DG13", reason="lds.value")
                values = tuple(_from_any(v, 1) for v in items[1:])
                out.append(DG13Field(int(number), values))
        except LDSError:
            raise
        except ASN1_ERRORS as exc:
            msg = f"DG13: malformed ASN.1 ({type(exc).__name__})"
            raise LDSError(msg, file="DG13", reason="lds.asn1") from exc
        if not 0 <= version < 1 << 31:
            raise LDSError("DG13: version out of range", file="DG13", reason="lds.value")
        return cls(tuple(out), int(version), oid, bytes(data))

    def to_asn1(self) -> DG13Content:
        entries = []
        for f in self.fields:
            entries.append(_Entry([core.Integer(f.number), *(_to_asn1(v) for v in f.values)]))
        return DG13Content({"version": self.version, "oid": self.oid, "fields": entries})

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_tlv(DG13_TAG, self.to_asn1().dump())

    # --- fields ---------------------------------------------------------------------------------
    def get(self, number: int) -> DG13Field | None:
        for f in self.fields:
            if f.number == number:
                return f
        return None

    def text(self, number: int) -> str | None:
        f = self.get(number)
        return None if f is None else f.text

    @property
    def unknown_fields(self) -> tuple[DG13Field, ...]:
        return tuple(f for f in self.fields if f.number not in FIELD_NAMES)

    personal_id = property(lambda self: self.text(1))
    full_name = property(lambda self: self.text(2))
    date_of_birth = property(lambda self: self.text(3))
    sex = property(lambda self: self.text(4))
    nationality = property(lambda self: self.text(5))
    ethnicity = property(lambda self: self.text(6))
    religion = property(lambda self: self.text(7))
    place_of_origin = property(lambda self: self.text(8))
    place_of_residence = property(lambda self: self.text(9))
    identifying_features = property(lambda self: self.text(10))
    date_of_issue = property(lambda self: self.text(11))
    date_of_expiry = property(lambda self: self.text(12))
    spouse_name = property(lambda self: self.text(14))
    old_id_number = property(lambda self: self.text(15))
    card_serial = property(lambda self: self.text(16))

    @property
    def father_name(self) -> str | None:
        f = self.get(13)
        return _first_text(f.values[:1]) if f and f.values else None

    @property
    def mother_name(self) -> str | None:
        f = self.get(13)
        return _first_text(f.values[1:2]) if f and len(f.values) > 1 else None

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"file": "DG13", "version": self.version, "oid": self.oid}
        for f in self.fields:
            if f.number == 13:
                out["father_name"] = self.father_name
                out["mother_name"] = self.mother_name
            else:
                out[f.name] = f.text if f.text is not None else [_readable(v) for v in f.values]
        return out


def _readable(value: DG13Value) -> object:
    """A value for dumps: text as is, nested sequences as lists, other types as their DER in hex."""
    if isinstance(value, tuple):
        return [_readable(v) for v in value]
    if isinstance(value, RawValue):
        return f"DER {value.der.hex()}"
    return value
