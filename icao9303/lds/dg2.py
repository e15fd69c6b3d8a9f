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
    "FORMAT_TYPE_FACE_39794_5",
    "BiometricInformationTemplate",
    "DateTimeBlock39794",
    "Face39794Record",
    "FaceImageInfo",
    "FaceImageInformation2D",
    "FaceRecord",
    "FaceRepresentation39794",
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


# --- ISO/IEC 39794-5 (tagged BER) --------------------------------------------------------------------
#
# Structure (ISO/IEC 39794-5:2019 ASN.1 module, AUTOMATIC TAGS; ICAO "ISO/IEC 39794-5 Application
# Profile for eMRTDs" v1.00 table 2 "Data structure under DO 7F2E"; the tag numbers below are the ones
# JMRTD's org.jmrtd.lds.iso39794 package quotes from the module and reads real documents with)::
#
#   7F2E { A1 { 65 FaceImageDataBlock ::= [APPLICATION 5] SEQUENCE {
#       versionBlock [0] { generation [0] INTEGER, year [1] INTEGER },
#       representationBlocks [1] SEQUENCE OF RepresentationBlock ::= SEQUENCE {
#           representationId [0] INTEGER,
#           imageRepresentation [1] CHOICE { base [0] CHOICE { imageRepresentation2DBlock [0] SEQUENCE {
#               representationData2D [0] OCTET STRING,                      -- the JPEG / JPEG 2000 image
#               imageInformation2DBlock [1] SEQUENCE {
#                   imageDataFormat [0] code, faceImageKind2D [1] code OPTIONAL,
#                   postAcquisitionProcessingBlock [2] OPTIONAL, lossyTransformationAttempts [3] code OPTIONAL,
#                   cameraToSubjectDistance [4] INTEGER OPTIONAL, sensorDiagonal [5] INTEGER OPTIONAL,
#                   lensFocalLength [6] INTEGER OPTIONAL, imageSizeBlock [7] { width [0], height [1] } OPTIONAL,
#                   imageFaceMeasurementsBlock [8] OPTIONAL, imageColourSpace [9] code OPTIONAL,
#                   referenceColourMappingBlock [10] OPTIONAL, ... },
#               captureDevice2DBlock [2] OPTIONAL, ... } } },
#           captureDateTimeBlock [2] { year [0], month [1], day [2], hour [3], minute [4], second [5],
#                                      millisecond [6] } OPTIONAL,
#           qualityBlocks [3] OPTIONAL, padDataBlock [4] OPTIONAL, sessionId [5] INTEGER OPTIONAL,
#           derivedFrom [6] INTEGER OPTIONAL, captureDeviceBlock [7] OPTIONAL,
#           identityMetadataBlock [8] OPTIONAL, landmarkBlocks [9] OPTIONAL, ... } } } }
#
# A "code" is CHOICE { code [0] INTEGER, extensionBlock [1] { [0] INTEGER } }; INTEGERs are implicitly
# tagged two's-complement octets.
#
# Decisions:
# - What sits between 7F2E and the version block is read in three forms: ``A1 { 65 { ... } }`` (what JMRTD
#   writes and reads), ``A1 { A0 ... A1 ... }`` (A1 standing for the [APPLICATION 5] tag) and a bare
#   ``65 { ... }``; new blocks are written in the first form. The form read is kept in `wrapper`.
# - Blocks this module does not model (quality, PAD, capture device, identity metadata, landmarks,
#   post-acquisition processing, face measurements, colour mapping, extensions) are kept as encoded
#   (tag, bytes) in `other` and re-encoded in tag order; a parsed record always writes back its bytes.
# - A block whose structure differs from the above is still kept (DG2 stays readable): the deviations are
#   listed in `issues` and the image is then found by looking for a JPEG / JPEG 2000 signature.

FORMAT_TYPE_FACE_39794_5 = b"\x00\x2a"
"""CBEFF format type of an ISO/IEC 39794-5 face image data block, ``g3-binary-face-image`` (IBIA CBEFF
registry of biometric data block format identifiers, owner 0101 = ISO/IEC JTC 1/SC 37)."""

VERSION_39794_5 = (3, 2019)
"""VersionBlock (generation, year) written by this module: third-generation format, ISO/IEC 39794-5:2019."""

IMAGE_DATA_FORMATS = {0: "unknown", 2: "jpeg", 3: "jpeg2000Lossy", 4: "jpeg2000Lossless"}
FACE_IMAGE_KINDS = {0: "mrtd", 1: "generalPurpose"}
LOSSY_TRANSFORMATION_ATTEMPTS = {0: "unknown", 1: "zero", 2: "one", 3: "moreThanOne"}
IMAGE_COLOUR_SPACES = {
    0: "unknown", 1: "other", 2: "rgb24Bit", 3: "rgb48Bit", 4: "yuv422", 5: "greyscale8Bit", 6: "greyscale16Bit"
}
_REPRESENTATION_BLOCK_NAMES = {
    3: "qualityBlocks", 4: "padDataBlock", 7: "captureDeviceBlock", 8: "identityMetadataBlock", 9: "landmarkBlocks",
}
_APPLICATION_5 = 0x65


def _ctx(tag: int) -> int | None:
    """The number of a context-specific tag (80-BE single byte, 9F/BF xx multi-byte), else None."""
    raw = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    if raw[0] & 0xC0 != 0x80:
        return None
    if raw[0] & 0x1F != 0x1F:
        return raw[0] & 0x1F
    number = 0
    for b in raw[1:]:
        number = (number << 7) | (b & 0x7F)
    return number


def _ctx_tag(number: int, constructed: bool) -> int:
    first = 0xA0 if constructed else 0x80
    if number < 31:
        return first | number
    parts = [number & 0x7F]
    number >>= 7
    while number:
        parts.append(0x80 | (number & 0x7F))
        number >>= 7
    return int.from_bytes(bytes([first | 0x1F, *reversed(parts)]), "big")


def _int_value(n: int) -> bytes:
    return n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True)


class _Reader:
    """Reads context-tagged SEQUENCE members and collects deviations instead of failing."""

    def __init__(self) -> None:
        self.issues: list[str] = []

    def members(self, node: TLVNode | None, where: str) -> dict[int, TLVNode]:
        if node is None:
            return {}
        if node.children is None:
            self.issues.append(f"{where}: primitive where a SEQUENCE is expected")
            return {}
        out: dict[int, TLVNode] = {}
        for child in node.children:
            number = _ctx(child.tag)
            if number is None:
                self.issues.append(f"{where}: non-context tag {child.tag:X}")
            elif number in out:
                self.issues.append(f"{where}: [{number}] repeated")
            else:
                out[number] = child
        return out

    def integer(self, node: TLVNode | None, where: str) -> int | None:
        if node is None:
            return None
        if node.children is not None or not node.value:
            self.issues.append(f"{where}: not an INTEGER")
            return None
        if len(node.value) > 8:  # every INTEGER of the module is far smaller; keeps dumps printable
            self.issues.append(f"{where}: INTEGER of {len(node.value)} octets")
            return None
        return int.from_bytes(node.value, "big", signed=True)

    def code(self, node: TLVNode | None, where: str) -> int | None:
        """CHOICE { code [0] INTEGER, extensionBlock [1] { [0] INTEGER } } (or a bare implicit INTEGER)."""
        if node is None:
            return None
        if node.children is None:
            return self.integer(node, where)
        m = self.members(node, where)
        if 0 in m:
            return self.integer(m[0], where)
        if 1 in m:
            return self.integer(self.members(m[1], where).get(0), where)
        self.issues.append(f"{where}: empty code")
        return None


def _code_node(number: int, value: int) -> bytes:
    return encode_tlv(_ctx_tag(number, True), encode_tlv(0x80, _int_value(value)))


def _int_node(number: int, value: int) -> bytes:
    return encode_tlv(_ctx_tag(number, False), _int_value(value))


def _sequence(items: list[tuple[int, bytes]]) -> bytes:
    """Members in tag-number order (the order of the ASN.1 module)."""
    return b"".join(item for _, item in sorted(items, key=lambda i: i[0]))


@dataclass(frozen=True)
class DateTimeBlock39794:
    """DateTimeBlock (ISO/IEC 39794-1): year and, optionally, month ... millisecond."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None

    _NAMES = ("year", "month", "day", "hour", "minute", "second", "millisecond")

    def encode(self, number: int) -> bytes:
        items = [(i, _int_node(i, getattr(self, n))) for i, n in enumerate(self._NAMES) if getattr(self, n) is not None]
        return encode_tlv(_ctx_tag(number, True), _sequence(items))

    @classmethod
    def read(cls, node: TLVNode, r: _Reader) -> DateTimeBlock39794 | None:
        m = r.members(node, "captureDateTimeBlock")
        values = {n: r.integer(m.get(i), f"captureDateTimeBlock.{n}") for i, n in enumerate(cls._NAMES)}
        if values["year"] is None:
            r.issues.append("captureDateTimeBlock: no year")
            return None
        return cls(**values)  # type: ignore[arg-type]

    def __str__(self) -> str:
        date = "-".join(f"{v:02d}" for v in (self.year, self.month, self.day) if v is not None)
        time = ":".join(f"{v:02d}" for v in (self.hour, self.minute, self.second) if v is not None)
        return f"{date}T{time}" if time else date


_INFO_CODES = {
    0: "image_data_format", 1: "face_image_kind", 3: "lossy_transformation_attempts", 9: "image_colour_space"
}
_INFO_INTS = {4: "camera_to_subject_distance", 5: "sensor_diagonal", 6: "lens_focal_length"}


@dataclass(frozen=True)
class FaceImageInformation2D:
    """ImageInformation2DBlock of ISO/IEC 39794-5 (codes as integers; see the *_NAMES tables)."""

    image_data_format: int
    face_image_kind: int | None = None
    lossy_transformation_attempts: int | None = None
    camera_to_subject_distance: int | None = None
    sensor_diagonal: int | None = None
    lens_focal_length: int | None = None
    width: int | None = None
    height: int | None = None
    image_colour_space: int | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    """Members not modelled here: (tag number, the member's full encoding)."""

    def encode(self, number: int) -> bytes:
        items = [(i, _code_node(i, getattr(self, n))) for i, n in _INFO_CODES.items() if getattr(self, n) is not None]
        items += [(i, _int_node(i, getattr(self, n))) for i, n in _INFO_INTS.items() if getattr(self, n) is not None]
        if self.width is not None and self.height is not None:
            items.append((7, encode_tlv(0xA7, _int_node(0, self.width) + _int_node(1, self.height))))
        items += list(self.other)
        return encode_tlv(_ctx_tag(number, True), _sequence(items))

    @classmethod
    def read(cls, node: TLVNode, r: _Reader) -> FaceImageInformation2D:
        m = r.members(node, "imageInformation2DBlock")
        values: dict[str, object] = {}
        for i, name in _INFO_CODES.items():
            values[name] = r.code(m.pop(i, None), name)
        for i, name in _INFO_INTS.items():
            values[name] = r.integer(m.pop(i, None), name)
        size = r.members(m.pop(7, None), "imageSizeBlock")
        values["width"] = r.integer(size.get(0), "width")
        values["height"] = r.integer(size.get(1), "height")
        if values["image_data_format"] is None:
            r.issues.append("imageInformation2DBlock: no imageDataFormat")
            values["image_data_format"] = 0
        other = tuple((i, n.to_bytes()) for i, n in sorted(m.items()))
        return cls(**values, other=other)  # type: ignore[arg-type]

    @property
    def mime_type(self) -> str:
        return "image/jp2" if self.image_data_format in (3, 4) else "image/jpeg"


@dataclass(frozen=True)
class FaceRepresentation39794:
    """One RepresentationBlock of ISO/IEC 39794-5 with a 2D image."""

    representation_id: int
    image_data: bytes | None
    image_information: FaceImageInformation2D | None
    capture_date_time: DateTimeBlock39794 | None = None
    session_id: int | None = None
    derived_from: int | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    """Members of the representation block not modelled here: (tag number, full encoding)."""
    other_2d: tuple[tuple[int, bytes], ...] = ()
    """Members of the 2D image block besides the image and its information (e.g. [2] captureDevice2DBlock)."""

    def __repr__(self) -> str:
        size = len(self.image_data) if self.image_data is not None else 0
        return f"FaceRepresentation39794(id {self.representation_id}, {size} image bytes)"

    def encode(self) -> bytes:
        block_2d: list[tuple[int, bytes]] = list(self.other_2d)
        if self.image_data is not None:
            block_2d.append((0, encode_tlv(0x80, self.image_data)))
        if self.image_information is not None:
            block_2d.append((1, self.image_information.encode(1)))
        image = encode_tlv(0xA1, encode_tlv(0xA0, encode_tlv(0xA0, _sequence(block_2d))))
        items: list[tuple[int, bytes]] = [(0, _int_node(0, self.representation_id)), (1, image), *self.other]
        if self.capture_date_time is not None:
            items.append((2, self.capture_date_time.encode(2)))
        if self.session_id is not None:
            items.append((5, _int_node(5, self.session_id)))
        if self.derived_from is not None:
            items.append((6, _int_node(6, self.derived_from)))
        return encode_tlv(0x30, _sequence(items))

    @classmethod
    def read(cls, node: TLVNode, r: _Reader) -> FaceRepresentation39794:
        m = r.members(node, "representationBlock")
        rep_id = r.integer(m.pop(0, None), "representationId")
        if rep_id is None:
            r.issues.append("representationBlock: no representationId")
        image_data = None
        info = None
        other_2d: tuple[tuple[int, bytes], ...] = ()
        base = r.members(m.pop(1, None), "imageRepresentation").get(0)
        block_2d = r.members(base, "imageRepresentationBase").get(0)
        if block_2d is None:
            r.issues.append("representationBlock: no imageRepresentation2DBlock")
        else:
            b = r.members(block_2d, "imageRepresentation2DBlock")
            data = b.pop(0, None)
            if data is None or data.children is not None:
                r.issues.append("imageRepresentation2DBlock: no representationData2D")
            else:
                image_data = data.value
            info_node = b.pop(1, None)
            info = FaceImageInformation2D.read(info_node, r) if info_node is not None else None
            other_2d = tuple((i, n.to_bytes()) for i, n in sorted(b.items()))
        when = m.pop(2, None)
        return cls(
            representation_id=rep_id if rep_id is not None else -1,
            image_data=image_data,
            image_information=info,
            capture_date_time=DateTimeBlock39794.read(when, r) if when is not None else None,
            session_id=r.integer(m.pop(5, None), "sessionId"),
            derived_from=r.integer(m.pop(6, None), "derivedFrom"),
            other=tuple((i, n.to_bytes()) for i, n in sorted(m.items())),
            other_2d=other_2d,
        )

    @property
    def mime_type(self) -> str:
        if self.image_information is not None:
            return self.image_information.mime_type
        data = self.image_data or b""
        return "image/jpeg" if data.startswith(_JPEG_SOI) else "image/jp2"

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"representation_id": self.representation_id}
        info = self.image_information
        if info is not None:
            out["image_data_format"] = IMAGE_DATA_FORMATS.get(info.image_data_format, info.image_data_format)
            if info.face_image_kind is not None:
                out["face_image_kind"] = FACE_IMAGE_KINDS.get(info.face_image_kind, info.face_image_kind)
            if info.width is not None:
                out["width"], out["height"] = info.width, info.height
            if info.image_colour_space is not None:
                out["image_colour_space"] = IMAGE_COLOUR_SPACES.get(info.image_colour_space, info.image_colour_space)
            if info.lossy_transformation_attempts is not None:
                out["lossy_transformation_attempts"] = LOSSY_TRANSFORMATION_ATTEMPTS.get(
                    info.lossy_transformation_attempts, info.lossy_transformation_attempts)
        out["mime_type"] = self.mime_type
        out["bytes"] = len(self.image_data) if self.image_data is not None else 0
        if self.capture_date_time is not None:
            out["capture_date_time"] = str(self.capture_date_time)
        for name in ("session_id", "derived_from"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.other:
            out["other_blocks"] = [_REPRESENTATION_BLOCK_NAMES.get(i, f"[{i}]") for i, _ in self.other]
        return out


@dataclass(frozen=True)
class Face39794Record:
    """An ISO/IEC 39794-5 face image data block (the value of ``7F2E``); byte-exact as read.

    Build one with `Face39794Record.build([...])`; parse with `from_bytes`. See the module's decisions
    for the wrapper forms, unknown blocks and deviations (`issues`).
    """

    raw: bytes
    nodes: tuple[TLVNode, ...] = field(compare=False, repr=False, default=())
    version: tuple[int, int] | None = None
    representations: tuple[FaceRepresentation39794, ...] = ()
    wrapper: str = "A1/65"
    issues: tuple[str, ...] = field(default=(), compare=False)
    other: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)
    """Members of the face image data block besides [0] and [1] (extensions), kept encoded."""

    @classmethod
    def build(
        cls,
        representations: list[FaceRepresentation39794] | tuple[FaceRepresentation39794, ...],
        *,
        version: tuple[int, int] = VERSION_39794_5,
    ) -> Face39794Record:
        reps = tuple(representations)
        if not reps:
            raise _err("a 39794-5 face image data block needs a representation")
        items = [
            (0, encode_tlv(0xA0, _int_node(0, version[0]) + _int_node(1, version[1]))),
            (1, encode_tlv(0xA1, b"".join(r.encode() for r in reps))),
        ]
        body = encode_tlv(0xA1, encode_tlv(_APPLICATION_5, _sequence(items)))
        return cls.from_bytes(body)

    @classmethod
    def from_image(
        cls, image: bytes, width: int, height: int, *, jpeg2000: bool = False, **fields_: object
    ) -> Face39794Record:
        """One representation (id 0) of a portrait for an MRTD: JPEG (code 2) or lossy JPEG 2000 (3)."""
        info = FaceImageInformation2D(
            3 if jpeg2000 else 2, face_image_kind=0, width=width, height=height, image_colour_space=2
        )
        return cls.build([FaceRepresentation39794(0, bytes(image), info, **fields_)])  # type: ignore[arg-type]

    @classmethod
    def from_bytes(cls, data: bytes) -> Face39794Record:
        data = bytes(data)
        try:
            nodes = parse_tlv(data)
        except TLVError as exc:
            raise _err(f"39794-5 block: {exc.message}", "lds.tlv") from exc
        r = _Reader()
        version = None
        reps: list[FaceRepresentation39794] = []
        other: tuple[tuple[int, bytes], ...] = ()
        wrapper = "?"
        block: TLVNode | None = None
        if len(nodes) != 1:
            r.issues.append(f"7F2E holds {len(nodes)} data objects, not one")
        elif nodes[0].tag == 0xA1 and nodes[0].children is not None:
            kids = nodes[0].children
            if len(kids) == 1 and kids[0].tag == _APPLICATION_5:
                wrapper, block = "A1/65", kids[0]
            else:
                wrapper, block = "A1", nodes[0]
        elif nodes[0].tag == _APPLICATION_5:
            wrapper, block = "65", nodes[0]
        else:
            r.issues.append(f"7F2E starts with {nodes[0].tag:X}, not A1")
        if block is not None:
            m = r.members(block, "faceImageDataBlock")
            v = r.members(m.pop(0, None), "versionBlock")
            generation, year = r.integer(v.get(0), "generation"), r.integer(v.get(1), "year")
            if generation is None or year is None:
                r.issues.append("faceImageDataBlock: no versionBlock")
            else:
                version = (generation, year)
            blocks = m.pop(1, None)
            if blocks is None or blocks.children is None or not blocks.children:
                r.issues.append("faceImageDataBlock: no representationBlocks")
            else:
                # JMRTD also reads a single RepresentationBlock written without its SEQUENCE OF.
                kids = blocks.children
                items = kids if all(k.tag == 0x30 for k in kids) else (blocks,)
                reps = [FaceRepresentation39794.read(k, r) for k in items]
            other = tuple((i, n.to_bytes()) for i, n in sorted(m.items()))
        return cls(data, nodes, version, tuple(reps), wrapper, tuple(r.issues), other)

    def to_bytes(self) -> bytes:
        return self.raw

    @property
    def conformant(self) -> bool:
        return not self.issues

    @property
    def image_data(self) -> bytes | None:
        """The first representation's image; without a conformant structure, the first primitive data
        object holding a JPEG / JPEG 2000 signature (best effort, see the decisions)."""
        for rep in self.representations:
            if rep.image_data is not None:
                return rep.image_data
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            if node.children is not None:
                stack.extend(reversed(node.children))
            elif node.value.startswith((_JPEG_SOI, _JP2_SIGNATURE, _J2K_CODESTREAM)):
                return node.value
        return None

    @property
    def images(self) -> list[tuple[str, bytes]]:
        """(MIME type, bytes) of every representation's image (the best-effort one if none parsed)."""
        out = [(r.mime_type, r.image_data) for r in self.representations if r.image_data is not None]
        if not out and (data := self.image_data) is not None:
            out.append(("image/jpeg" if data.startswith(_JPEG_SOI) else "image/jp2", data))
        return out

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"face_record": "ISO/IEC 39794-5", "bytes": len(self.raw), "wrapper": self.wrapper}
        if self.version is not None:
            out["version"] = {"generation": self.version[0], "year": self.version[1]}
        out["representations"] = [r.describe() for r in self.representations]
        if self.issues:
            out["issues"] = list(self.issues)
        return out


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

    @classmethod
    def for_face_39794(
        cls, face: Face39794Record, *, creation_date: bytes | None = None
    ) -> BiometricInformationTemplate:
        """The BIT for an ISO/IEC 39794-5 block: as `for_face` but format type 002A
        (g3-binary-face-image) and the constructed data block 7F2E (9303-10 8th ed. §4.7.2)."""
        header: list[tuple[int, bytes]] = [(0x80, b"\x01\x01"), (0x81, _BIOMETRIC_TYPE_FACE), (0x82, b"\x00")]
        if creation_date is not None:
            header.append((0x83, creation_date))
        header += [(0x87, FORMAT_OWNER_ISO_SC37), (0x88, FORMAT_TYPE_FACE_39794_5)]
        return cls(tuple(header), face, BDB_39794_TAG)

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
    def from_image_39794(
        cls, image: bytes, width: int, height: int, *, jpeg2000: bool = False, **fields_: object
    ) -> DG2:
        """DG2 with one portrait in the ISO/IEC 39794-5 format (``7F2E``), see `Face39794Record.from_image`."""
        record = Face39794Record.from_image(image, width, height, jpeg2000=jpeg2000, **fields_)
        return cls((BiometricInformationTemplate.for_face_39794(record),))

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
                out.extend(bit.face.images)
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
                entry.update(bit.face.describe())
            bits.append(entry)
        return {"file": "DG2", "templates": bits}
