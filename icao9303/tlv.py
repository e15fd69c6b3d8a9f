"""BER-TLV data objects as used on the chip (ISO/IEC 7816-4 §5.2, ICAO 9303-10 §4): tags, lengths, trees.

Tags are handled as integers of their full encoding (``0x61``, ``0x5F1F``, ``0x7F61``). Every length
is checked against the bytes that remain, nesting depth and the total number of nodes are bounded,
so hostile bytes raise `TLVError` and never recurse without bound, hang or allocate without bound.

Decision: indefinite length (``80``) is rejected (ISO/IEC 7816-4 §5.2 allows only definite lengths
in interindustry BER-TLV); non-minimal long forms (``81 05``) are accepted on decoding, because
chips have been seen to write them, and never produced on encoding. Lengths take at most 4 length
bytes (``84 xx xx xx xx``); tags at most 4 bytes (ISO/IEC 7816-4 uses up to 3).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from icao9303.errors import TLVError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "TLVNode",
    "decode_length",
    "decode_tag",
    "decode_tlv",
    "encode_length",
    "encode_tag",
    "encode_tlv",
    "is_constructed",
    "iter_tlv",
    "parse_tlv",
    "parse_tlv_one",
    "tlv_header",
    "unwrap_tlv",
]

MAX_DEPTH = 16
"""Deepest nesting `parse_tlv` follows (DG2 needs 5; 16 leaves room for every LDS file)."""

MAX_NODES = 4096
"""Most data objects `parse_tlv` builds from one input."""

_MAX_TAG_BYTES = 4
_MAX_LENGTH_BYTES = 4


def is_constructed(tag: int) -> bool:
    """True when the tag's first byte has b6 set (constructed data object, ISO/IEC 7816-4 §5.2.2)."""
    if tag < 0:
        raise TLVError("negative tag", reason="tlv.bad_tag")
    first = tag
    while first > 0xFF:
        first >>= 8
    return bool(first & 0x20)


def encode_tag(tag: int) -> bytes:
    """The bytes of a tag given as the integer of its encoding (``0x5F1F`` -> ``5F 1F``)."""
    if not isinstance(tag, int) or tag <= 0 or tag > 0xFFFFFFFF:
        raise TLVError(f"tag {tag!r} cannot be encoded", reason="tlv.encode")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    # Check that the integer is a well-formed tag: multi-byte iff the first byte says so.
    try:
        decoded, end = decode_tag(raw, 0)
    except TLVError as exc:
        raise TLVError(f"tag {tag:X} is not a well-formed BER tag", reason="tlv.encode") from exc
    if end != len(raw) or decoded != tag:
        raise TLVError(f"tag {tag:X} is not a well-formed BER tag", reason="tlv.encode")
    return raw


def decode_tag(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Read one tag at `offset`; return ``(tag, offset_after_tag)`` (ISO/IEC 7816-4 §5.2.2.1)."""
    if offset >= len(data):
        raise TLVError("tag expected, input ends", reason="tlv.truncated", offset=offset)
    first = data[offset]
    if first in (0x00, 0xFF):
        raise TLVError(f"invalid tag byte {first:02X}", reason="tlv.bad_tag", offset=offset)
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TLVError("multi-byte tag truncated", reason="tlv.truncated", offset=pos)
            if pos - offset >= _MAX_TAG_BYTES:
                raise TLVError("tag longer than 4 bytes", reason="tlv.bad_tag", offset=offset)
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
    return tag, pos


def encode_length(length: int) -> bytes:
    """Minimal definite length encoding (ISO/IEC 7816-4 §5.2.2.2): ``< 0x80`` short form, else 81..84."""
    if not isinstance(length, int) or length < 0:
        raise TLVError(f"length {length!r} cannot be encoded", reason="tlv.encode")
    if length < 0x80:
        return bytes([length])
    n = (length.bit_length() + 7) // 8
    if n > _MAX_LENGTH_BYTES:
        raise TLVError("length needs more than 4 bytes", reason="tlv.encode")
    return bytes([0x80 | n]) + length.to_bytes(n, "big")


def decode_length(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Read one length at `offset`; return ``(length, offset_after_length)``. Not checked against data."""
    if offset >= len(data):
        raise TLVError("length expected, input ends", reason="tlv.truncated", offset=offset)
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    n = first & 0x7F
    if n == 0:
        raise TLVError("indefinite length not allowed", reason="tlv.bad_length", offset=offset)
    if n > _MAX_LENGTH_BYTES:
        raise TLVError(f"length field of {n} bytes", reason="tlv.bad_length", offset=offset)
    end = offset + 1 + n
    if end > len(data):
        raise TLVError("length field truncated", reason="tlv.truncated", offset=offset)
    return int.from_bytes(data[offset + 1 : end], "big"), end


def tlv_header(data: bytes) -> tuple[int, int, int]:
    """Parse only the tag and length at the start of `data`: ``(tag, header_length, value_length)``.

    The value need not be present yet: a reader uses this on the first bytes of a file to learn the
    file's total size (``header_length + value_length``).
    """
    data = bytes(data)
    tag, pos = decode_tag(data, 0)
    length, pos = decode_length(data, pos)
    return tag, pos, length


def encode_tlv(tag: int, value: bytes | Iterable[bytes]) -> bytes:
    """One data object: tag, minimal length, value (`value` may be several encoded children)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        value = b"".join(value)
    value = bytes(value)
    return encode_tag(tag) + encode_length(len(value)) + value


def _decode_at(data: bytes, offset: int, limit: int | None = None) -> tuple[int, int, int]:
    """(tag, value_start, value_end) of the data object at `offset`, length checked against `limit`."""
    if limit is None:
        limit = len(data)
    tag, pos = decode_tag(data, offset)
    if pos > limit:
        raise TLVError("tag runs past its parent", reason="tlv.truncated", offset=offset)
    length, pos = decode_length(data, pos)
    if pos > limit:
        raise TLVError("length runs past its parent", reason="tlv.truncated", offset=offset)
    if length > limit - pos:
        raise TLVError(
            f"length {length} exceeds the {limit - pos} bytes that remain",
            reason="tlv.length_overflow",
            offset=offset,
            tag=tag,
        )
    return tag, pos, pos + length


def decode_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """The first data object of `data`: ``(tag, value, rest)``."""
    data = bytes(data)
    tag, start, end = _decode_at(data, 0)
    return tag, data[start:end], data[end:]


def unwrap_tlv(data: bytes, expected_tag: int, *, allow_trailing: bool = False) -> bytes:
    """The value of the single data object `data` must consist of, with tag `expected_tag`."""
    tag, value, rest = decode_tlv(data)
    if tag != expected_tag:
        raise TLVError(
            f"tag {tag:X} where {expected_tag:X} was expected", reason="tlv.unexpected_tag", offset=0, tag=tag
        )
    if rest and not allow_trailing:
        raise TLVError(f"{len(rest)} bytes after the data object", reason="tlv.trailing_data", tag=tag)
    return value


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Each top-level data object of `data` as ``(tag, value)``, in order; the whole input must parse."""
    data = bytes(data)
    offset = 0
    while offset < len(data):
        tag, start, end = _decode_at(data, offset)
        yield tag, data[start:end]
        offset = end


@dataclass(frozen=True, slots=True)
class TLVNode:
    """One BER-TLV data object. `children` is a tuple for constructed tags, None for primitive ones."""

    tag: int
    value: bytes
    children: tuple[TLVNode, ...] | None = None

    @property
    def constructed(self) -> bool:
        return self.children is not None

    @classmethod
    def primitive(cls, tag: int, value: bytes) -> TLVNode:
        return cls(tag, bytes(value), None)

    @classmethod
    def build(cls, tag: int, children: Iterable[TLVNode]) -> TLVNode:
        """A constructed node from its children (its value is their encoding)."""
        kids = tuple(children)
        return cls(tag, b"".join(k.to_bytes() for k in kids), kids)

    def to_bytes(self) -> bytes:
        return encode_tlv(self.tag, self.value)

    def find(self, tag: int) -> TLVNode | None:
        """The first direct child with `tag`, or None."""
        for child in self.children or ():
            if child.tag == tag:
                return child
        return None

    def find_all(self, tag: int) -> list[TLVNode]:
        """All direct children with `tag`."""
        return [c for c in self.children or () if c.tag == tag]

    def require(self, tag: int) -> TLVNode:
        """The first direct child with `tag`; TLVError when missing."""
        node = self.find(tag)
        if node is None:
            raise TLVError(f"data object {tag:X} missing in {self.tag:X}", reason="tlv.missing", tag=tag)
        return node


class _Budget:
    __slots__ = ("left",)

    def __init__(self, n: int) -> None:
        self.left = n


def _parse(data: bytes, start: int, end: int, depth: int, max_depth: int, budget: _Budget) -> list[TLVNode]:
    nodes: list[TLVNode] = []
    offset = start
    while offset < end:
        budget.left -= 1
        if budget.left < 0:
            raise TLVError("too many data objects", reason="tlv.too_many_nodes", offset=offset)
        tag, vstart, vend = _decode_at(data, offset, end)
        if is_constructed(tag):
            if depth >= max_depth:
                raise TLVError(f"nesting deeper than {max_depth}", reason="tlv.depth", offset=offset, tag=tag)
            kids = _parse(data, vstart, vend, depth + 1, max_depth, budget)
            nodes.append(TLVNode(tag, data[vstart:vend], tuple(kids)))
        else:
            nodes.append(TLVNode(tag, data[vstart:vend], None))
        offset = vend
    return nodes


def parse_tlv(
    data: bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    recurse: bool = True,
) -> tuple[TLVNode, ...]:
    """Parse all of `data` into a tree; constructed tags (b6 set) are parsed into children.

    With ``recurse=False`` only the top level is split and every node is left primitive.
    """
    data = bytes(data)
    if not recurse:
        budget = _Budget(max_nodes)
        out = []
        for tag, value in iter_tlv(data):
            budget.left -= 1
            if budget.left < 0:
                raise TLVError("too many data objects", reason="tlv.too_many_nodes")
            out.append(TLVNode(tag, value, None))
        return tuple(out)
    return tuple(_parse(data, 0, len(data), 1, max_depth, _Budget(max_nodes)))


def parse_tlv_one(
    data: bytes, expected_tag: int | None = None, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> TLVNode:
    """Parse `data` as exactly one data object (optionally with `expected_tag`), no trailing bytes."""
    nodes = parse_tlv(data, max_depth=max_depth, max_nodes=max_nodes)
    if not nodes:
        raise TLVError("no data object", reason="tlv.truncated", offset=0)
    if len(nodes) != 1:
        raise TLVError(f"{len(nodes)} data objects where one was expected", reason="tlv.trailing_data")
    node = nodes[0]
    if expected_tag is not None and node.tag != expected_tag:
        raise TLVError(
            f"tag {node.tag:X} where {expected_tag:X} was expected", reason="tlv.unexpected_tag", tag=node.tag
        )
    return node
