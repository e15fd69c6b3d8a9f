"""DG2 (ICAO 9303-10 §4.7.2): the encoded face in CBEFF templates, ISO/IEC 19794-5 records, 39794-5 kept.

Structure (9303-10 §4.7.2.1, ISO/IEC 7816-11 CBEFF)::

    75 { 7F61 { 02 count,
                7F60 { A1 { 80 version, 81 type, 82 subtype, 83 date, 85 validity, 86 creator,
                            87 format owner, 88 format type },
                       5F2E data block | 7F2E data block } ... } }

A ``5F2E`` block holds an ISO/IEC 19794-5:2005 face record (``'FAC\\0'``, version ``'010\\0'``) with
one or more images (JPEG or JPEG 2000). A ``7F2E`` block holds an ISO/IEC 39794-5 face image
data block (tagged BER); it is kept as raw bytes and its image found by a documented best effort.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from icao9303.errors import LDSError, TLVError
from icao9303.lds.base import lds_children, lds_unwrap
from icao9303.tlv import TLVNode, encode_tlv, parse_tlv

__all__ = [
    "BDB_39794_TAG",
    "BDB_TAG",
    "BHT_TAG",
    "BIT_GROUP_TAG",
    "BIT_TAG",
    "DG2",
    "DG2_TAG",
    "FORMAT_OWNER_ISO_SC37",
    "FORMAT_TYPE_FACE_19794_5",
    "BiometricInformationTemplate",
    "Face39794Record",
    "FaceImageInfo",
    "FaceRecord",
    "FeaturePoint",
]

DG2_TAG = 0x75
BIT_GROUP_TAG = 0x7F61
BIT_TAG = 0x7F60
BHT_TAG = 0xA1
BDB_TAG = 0x5F2E
BDB_39794_TAG = 0x7F2E
_COUNT_TAG = 0x02

FORMAT_OWNER_ISO_SC37 = b"\x01\x01"  # ISO/IEC JTC 1/SC 37 (CBEFF format owner)
FORMAT_TYPE_FACE_19794_5 = b"\x00\x08"  # face image, ISO/IEC 19794-5
_BIOMETRIC_TYPE_FACE = b"\x02"

_FAC = b"FAC\x00"
_VERSION_2005 = b"010\x00"
_HEADER = struct.Struct(">4s4sIH")  # format identifier, version, record length, number of images
_FACIAL_INFO = struct.Struct(">IHBBB3sH3s3s")  # 20 bytes (19794-5 §5.5)
_FEATURE_POINT = struct.Struct(">BBHHH")  # 8 bytes (§5.6)
_IMAGE_INFO = struct.Struct(">BBHHBBHH")  # 12 bytes (§5.7)

IMAGE_DATA_TYPE_JPEG = 0x00
IMAGE_DATA_TYPE_JPEG2000 = 0x01


def _err(msg: str, reason: str = "lds.value") -> LDSError:
    return LDSError(f"DG2: {msg}", file="DG2", reason=reason)


@dataclass(frozen=True)
class FeaturePoint:
    """ISO/IEC 19794-5 §5.6 feature point: type, point code (MPEG-4 major.minor), x, y."""

    feature_type: int
    feature_point: int
    x: int
    y: int
    reserved: int = 0


@dataclass(frozen=True)
class FaceImageInfo:
    """One facial record data of ISO/IEC 19794-5:2005 (facial information §5.5, feature points §5.6,
    image information §5.7, image data §5.8). Defaults describe a full-frontal JPEG portrait."""

    image_data: bytes
    width: int
    height: int
    image_data_type: int = IMAGE_DATA_TYPE_JPEG
    face_image_type: int = 1  # full frontal
    image_colour_space: int = 1  # 24-bit RGB
    source_type: int = 2  # digital camera ("static photo from digital still camera")
    device_type: int = 0
    quality: int = 0
    gender: int = 0
    eye_colour: int = 0
    hair_colour: int = 0
    feature_mask: int = 0
    expression: int = 0
    pose_angle: tuple[int, int, int] = (0, 0, 0)
    pose_angle_uncertainty: tuple[int, int, int] = (0, 0, 0)
    feature_points: tuple[FeaturePoint, ...] = ()

    def __repr__(self) -> str:
        return (
            f"FaceImageInfo({self.mime_type}, {self.width}x{self.height}, {len(self.image_data)} bytes, "
            f"{len(self.feature_points)} feature points)"
        )

    @property
    def mime_type(self) -> str:
        return "image/jp2" if self.image_data_type == IMAGE_DATA_TYPE_JPEG2000 else "image/jpeg"

    def to_bytes(self) -> bytes:
        points = b"".join(
            _FEATURE_POINT.pack(p.feature_type, p.feature_point, p.x, p.y, p.reserved)
            for p in self.feature_points
        )
        length = _FACIAL_INFO.size + len(points) + _IMAGE_INFO.size + len(self.image_data)
        try:
            info = _FACIAL_INFO.pack(
                length,
                len(self.feature_points),
                self.gender,
                self.eye_colour,
                self.hair_colour,
                self.feature_mask.to_bytes(3, "big"),
                self.expression,
                bytes(self.pose_angle),
                bytes(self.pose_angle_uncertainty),
            )
            image = _IMAGE_INFO.pack(
                self.face_image_type,
                self.image_data_type,
                self.width,
                self.height,
                self.image_colour_space,
                self.source_type,
                self.device_type,
                self.quality,
            )
        except (struct.error, OverflowError, ValueError) as exc:
            raise _err(f"face image field out of range ({exc})") from exc
        return info + points + image + self.image_data

    @classmethod
    def parse(cls, data: bytes, offset: int) -> tuple[FaceImageInfo, int]:
        """One facial record data at `offset`; returns it and the offset after it."""
        if len(data) - offset < _FACIAL_INFO.size + _IMAGE_INFO.size:
            raise _err("facial record data truncated")
        (length, n_points, gender, eye, hair, mask, expression, pose, pose_unc) = _FACIAL_INFO.unpack_from(
            data, offset
        )
        end = offset + length
        fixed = _FACIAL_INFO.size + n_points * _FEATURE_POINT.size + _IMAGE_INFO.size
        if length < fixed or end > len(data):
            raise _err("facial record data length inconsistent")
        pos = offset + _FACIAL_INFO.size
        points = []
        for _ in range(n_points):
            points.append(FeaturePoint(*_FEATURE_POINT.unpack_from(data, pos)))
            pos += _FEATURE_POINT.size
        (face_type, data_type, width, height, colour, source, device, quality) = _IMAGE_INFO.unpack_from(
            data, pos
        )
        pos += _IMAGE_INFO.size
        info = cls(
            image_data=bytes(data[pos:end]),
            width=width,
            height=height,
            image_data_type=data_type,
            face_image_type=face_type,
            image_colour_space=colour,
            source_type=source,
            device_type=device,
            quality=quality,
            gender=gender,
            eye_colour=eye,
            hair_colour=hair,
            feature_mask=int.from_bytes(mask, "big"),
            expression=expression,
            pose_angle=(pose[0], pose[1], pose[2]),
            pose_angle_uncertainty=(pose_unc[0], pose_unc[1], pose_unc[2]),
            feature_points=tuple(points),
        )
        return info, end


@dataclass(frozen=True)
class FaceRecord:
    """An ISO/IEC 19794-5:2005 facial record: header (``'FAC\\0'``, ``'010\\0'``, length, count) + images."""

    images: tuple[FaceImageInfo, ...]
    version: bytes = _VERSION_2005

    def to_bytes(self) -> bytes:
        body = b"".join(i.to_bytes() for i in self.images)
        return _HEADER.pack(_FAC, self.version, _HEADER.size + len(body), len(self.images)) + body

    @classmethod
    def from_bytes(cls, data: bytes) -> FaceRecord:
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise _err("face record header truncated")
        fmt, version, length, count = _HEADER.unpack_from(data, 0)
        if fmt != _FAC:
            raise _err("face record does not start with 'FAC\\0'")
        if length != len(data):
            raise _err(f"face record length {length} but {len(data)} bytes present")
        if count == 0:
            raise _err("face record without images")
        images = []
        pos = _HEADER.size
        for _ in range(count):
            img, pos = FaceImageInfo.parse(data, pos)
            images.append(img)
        if pos != len(data):
            raise _err("bytes after the last facial record data")
        return cls(tuple(images), version)


_JPEG_SOI = b"\xff\xd8"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_CODESTREAM = b"\xff\x4f\xff\x51"


@dataclass(frozen=True)
class Face39794Record:
    """An ISO/IEC 39794-5 face image data block (the value of ``7F2E``), kept byte for byte.

    Decision: 39794-5 is parsed as a BER-TLV tree only; `image_data` is the first primitive data
    object whose value starts with a JPEG SOI or a JPEG 2000 signature/codestream marker (the
    representation's image data element), which avoids binding to one edition's tag numbers.
    """

    raw: bytes
    nodes: tuple[TLVNode, ...] = field(compare=False, repr=False, default=())

    @classmethod
    def from_bytes(cls, data: bytes) -> Face39794Record:
        try:
            nodes = parse_tlv(bytes(data))
        except TLVError as exc:
            raise _err(f"39794-5 block: {exc.message}", "lds.tlv") from exc
        return cls(bytes(data), nodes)

    def to_bytes(self) -> bytes:
        return self.raw

    @property
    def image_data(self) -> bytes | None:
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            if node.children is not None:
                stack.extend(reversed(node.children))
            elif node.value.startswith((_JPEG_SOI, _JP2_SIGNATURE, _J2K_CODESTREAM)):
                return node.value
        return None


@dataclass(frozen=True)
class BiometricInformationTemplate:
    """One ``7F60`` BIT: the biometric header template (``A1``, as ordered (tag, value) pairs) and the
    biometric data block: `face` parsed (19794-5 for ``5F2E``, 39794-5 for ``7F2E``)."""

    header: tuple[tuple[int, bytes], ...]
    face: FaceRecord | Face39794Record
    data_tag: int = BDB_TAG

    @classmethod
    def for_face(
        cls, face: FaceRecord, *, creation_date: bytes | None = None
    ) -> BiometricInformationTemplate:
        """The BIT ICAO 9303-10 §4.7.2.1 prescribes for a 19794-5 face: version 0101, type face (02),
        format owner 0101 (SC 37), format type 0008."""
        header: list[tuple[int, bytes]] = [(0x80, b"\x01\x01"), (0x81, _BIOMETRIC_TYPE_FACE), (0x82, b"\x00")]
        if creation_date is not None:
            header.append((0x83, creation_date))
        header += [(0x87, FORMAT_OWNER_ISO_SC37), (0x88, FORMAT_TYPE_FACE_19794_5)]
        return cls(tuple(header), face, BDB_TAG)

    def header_value(self, tag: int) -> bytes | None:
        for t, v in self.header:
            if t == tag:
                return v
        return None

    @property
    def format_owner(self) -> bytes | None:
        return self.header_value(0x87)

    @property
    def format_type(self) -> bytes | None:
        return self.header_value(0x88)

    def to_bytes(self) -> bytes:
        bht = encode_tlv(BHT_TAG, [encode_tlv(t, v) for t, v in self.header])
        return encode_tlv(BIT_TAG, [bht, encode_tlv(self.data_tag, self.face.to_bytes())])

    @classmethod
    def from_node(cls, node: TLVNode) -> BiometricInformationTemplate:
        if node.tag != BIT_TAG or node.children is None:
            raise _err("biometric information group holds a non-7F60 object")
        kids = node.children
        if len(kids) != 2 or kids[0].tag != BHT_TAG or kids[0].children is None:
            raise _err("7F60 must hold A1 (header) then the data block")
        header = tuple((c.tag, c.value) for c in kids[0].children)
        block = kids[1]
        if block.tag == BDB_TAG:
            face: FaceRecord | Face39794Record = FaceRecord.from_bytes(block.value)
        elif block.tag == BDB_39794_TAG:
            face = Face39794Record.from_bytes(block.value)
        else:
            raise _err(f"unknown biometric data block tag {block.tag:X}")
        return cls(header, face, block.tag)


@dataclass(frozen=True)
class DG2:
    """DG2: one biometric information group template (``7F61``) with one or more BITs."""

    templates: tuple[BiometricInformationTemplate, ...]
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_image(
        cls, image: bytes, width: int, height: int, *, jpeg2000: bool = False, **face_fields: object
    ) -> DG2:
        """DG2 with one full-frontal portrait (`image` JPEG or JPEG 2000 bytes)."""
        info = FaceImageInfo(
            bytes(image),
            width,
            height,
            IMAGE_DATA_TYPE_JPEG2000 if jpeg2000 else IMAGE_DATA_TYPE_JPEG,
            **face_fields,
        )  # type: ignore[arg-type]
        return cls((BiometricInformationTemplate.for_face(FaceRecord((info,))),))

    @classmethod
    def from_bytes(cls, data: bytes) -> DG2:
        nodes = lds_children(lds_unwrap(data, DG2_TAG, "DG2"), "DG2")
        if len(nodes) != 1 or nodes[0].tag != BIT_GROUP_TAG or nodes[0].children is None:
            raise _err("DG2 must hold one 7F61 biometric information group template")
        group = nodes[0].children
        if not group or group[0].tag != _COUNT_TAG:
            raise _err("7F61 must start with the 02 instance count")
        count = int.from_bytes(group[0].value, "big") if group[0].value else -1
        bits = tuple(BiometricInformationTemplate.from_node(n) for n in group[1:])
        if count != len(bits) or count == 0:
            raise _err(f"instance count {count} but {len(bits)} templates")
        return cls(bits, bytes(data))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        count = encode_tlv(_COUNT_TAG, bytes([len(self.templates)]))
        return encode_tlv(
            DG2_TAG, encode_tlv(BIT_GROUP_TAG, [count, *(t.to_bytes() for t in self.templates)])
        )

    @property
    def face_images(self) -> list[tuple[str, bytes]]:
        """(MIME type, image bytes) of every face image, in order."""
        out: list[tuple[str, bytes]] = []
        for bit in self.templates:
            if isinstance(bit.face, FaceRecord):
                out.extend((img.mime_type, img.image_data) for img in bit.face.images)
            else:
                data = bit.face.image_data
                if data is not None:
                    mime = "image/jpeg" if data.startswith(_JPEG_SOI) else "image/jp2"
                    out.append((mime, data))
        return out

    @property
    def face_image(self) -> bytes | None:
        """The first portrait's image bytes, or None."""
        images = self.face_images
        return images[0][1] if images else None

    def describe(self) -> dict[str, object]:
        bits = []
        for bit in self.templates:
            entry: dict[str, object] = {
                "header": {f"{t:02X}": v.hex() for t, v in bit.header},
                "data_block": f"{bit.data_tag:X}",
            }
            if isinstance(bit.face, FaceRecord):
                entry["face_record"] = "ISO/IEC 19794-5"
                entry["images"] = [
                    {
                        "mime_type": i.mime_type,
                        "width": i.width,
                        "height": i.height,
                        "bytes": len(i.image_data),
                        "feature_points": len(i.feature_points),
                    }
                    for i in bit.face.images
                ]
            else:
                entry["face_record"] = "ISO/IEC 39794-5"
                entry["bytes"] = len(bit.face.raw)
            bits.append(entry)
        return {"file": "DG2", "templates": bits}
