"""EF.COM (ICAO 9303-10 §4.6.1): LDS version, Unicode version and the list of data group tags present."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from icao9303.errors import LDSError
from icao9303.lds.base import file_info, lds_children, lds_unwrap
from icao9303.tlv import encode_tlv

__all__ = ["COM_TAG", "EFCOM"]

COM_TAG = 0x60
_LDS_VERSION_TAG = 0x5F01
_UNICODE_VERSION_TAG = 0x5F36
_TAG_LIST_TAG = 0x5C


@dataclass(frozen=True)
class EFCOM:
    """EF.COM: ``60 { 5F01 LDS version "aabb", 5F36 Unicode version "aabbcc", 5C tag list }``.

    `lds_version` is the 4-character form ("0108" = LDS 1.8), `unicode_version` the 6-character
    form ("040000" = Unicode 4.0.0), `tag_list` the DG tags in file order (0x61, 0x75, ...).
    """

    lds_version: str
    unicode_version: str
    tag_list: tuple[int, ...]
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not re.fullmatch("[0-9]{4}", self.lds_version):
            raise LDSError("EF.COM: LDS version must be 4 digits", file="EF.COM", reason="lds.value")
        if not re.fullmatch("[0-9]{6}", self.unicode_version):
            raise LDSError("EF.COM: Unicode version must be 6 digits", file="EF.COM", reason="lds.value")
        if any(not 0 < t <= 0xFF for t in self.tag_list):
            raise LDSError("EF.COM: tag list entries are one-byte tags", file="EF.COM", reason="lds.value")

    @classmethod
    def for_data_groups(
        cls, dgs: list[int] | tuple[int, ...], *, lds_version: str = "0108", unicode_version: str = "040000"
    ) -> EFCOM:
        """EF.COM listing the given DG numbers (e.g. Vietnam: 1, 2, 3, 13, 14, 15)."""
        tags = []
        for n in dgs:
            info = file_info(int(n))
            assert info.tag is not None
            tags.append(info.tag)
        return cls(lds_version, unicode_version, tuple(tags))

    @classmethod
    def from_bytes(cls, data: bytes) -> EFCOM:
        nodes = lds_children(lds_unwrap(data, COM_TAG, "EF.COM"), "EF.COM")
        found = {n.tag: n.value for n in nodes}
        if len(found) != len(nodes) or set(found) - {_LDS_VERSION_TAG, _UNICODE_VERSION_TAG, _TAG_LIST_TAG}:
            raise LDSError("EF.COM: unexpected or repeated data objects", file="EF.COM", reason="lds.value")
        try:
            lds = found[_LDS_VERSION_TAG].decode("ascii")
            uni = found[_UNICODE_VERSION_TAG].decode("ascii")
            tags = tuple(found[_TAG_LIST_TAG])
        except KeyError as exc:
            raise LDSError("EF.COM: missing data object", file="EF.COM", reason="lds.missing") from exc
        except UnicodeDecodeError as exc:
            raise LDSError("EF.COM: version not ASCII", file="EF.COM", reason="lds.value") from exc
        return cls(lds, uni, tags, bytes(data))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_tlv(
            COM_TAG,
            [
                encode_tlv(_LDS_VERSION_TAG, self.lds_version.encode("ascii")),
                encode_tlv(_UNICODE_VERSION_TAG, self.unicode_version.encode("ascii")),
                encode_tlv(_TAG_LIST_TAG, bytes(self.tag_list)),
            ],
        )

    @property
    def data_groups(self) -> tuple[int, ...]:
        """DG numbers of `tag_list` (tags not in the LDS table are left out)."""
        out = []
        for tag in self.tag_list:
            try:
                info = file_info(tag)
            except LDSError:
                continue
            if info.dg is not None:
                out.append(info.dg)
        return tuple(out)

    def describe(self) -> dict[str, object]:
        return {
            "file": "EF.COM",
            "lds_version": self.lds_version,
            "unicode_version": self.unicode_version,
            "tag_list": [f"{t:02X}" for t in self.tag_list],
            "data_groups": list(self.data_groups),
        }
