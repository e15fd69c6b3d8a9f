"""Capture: the access key from the card face — QR payloads and MRZ OCR from images (``cancuoc scan``).

Public API (stable; everything else is internal):

* :func:`scan_image` ``(source: path | bytes | ndarray, *, mode="auto"|"qr"|"mrz"|"all") -> ScanResult`` —
  never raises on bad input; ``ScanResult.ok``, ``.kind`` (``ScanKind.QR``/``MRZ``), ``.fields``
  (str → str), ``.access_keys`` (:class:`AccessKeys`), ``.confidence``, ``.failures`` (stage, code, detail),
  ``.to_dict()``.
* :class:`AccessKeys` — ``can``, ``document_number``, ``date_of_birth``, ``date_of_expiry`` (YYMMDD,
  ``991231`` = no expiry), ``no_expiry``, ``expiry_derived``, ``mrz_information`` (BAC K_seed input).
* QR payload (VN_CARD.md): :func:`parse_qr_payload` ``(text) -> CardQR``,
  :func:`format_qr_payload` ``(CardQR, generation=None) -> str``, :func:`derive_access_keys`
  ``(CardQR) -> AccessKeys``, :class:`QRGeneration` (``CCCD_2021`` 7 fields, ``CARD_2024`` 11 fields).
* Images: :func:`decode_qr` ``(ndarray, *, first_only=True, binary=True, effort="full") -> list[QRDecode]``
  (zbar binary mode so no charset guess applies; OpenCV views: binarised, rectified card, adaptive, warped),
  :func:`repair_charset` ``(bytes) -> (str, bool)``, :func:`read_mrz` ``(ndarray) -> MRZReading``
  (``.lines`` 3 × 30, check digits verified), :func:`load_image`.
* Errors: :class:`CaptureError` (``.code`` stable reason code, ``.detail``) and its subclasses
  :class:`ImageError`, :class:`QRPayloadError`, :class:`MRZReadError`; codes in ``reader.capture.errors``.

* Supporting modules: ``reader.capture.ocrb`` (OCR-B glyph classifier), ``reader.capture.haar`` (OpenCV Haar
  cascades evaluated with numpy: OpenCV 5 has no ``CascadeClassifier``; used by ``issuance.portrait``),
  ``reader.capture.synth`` (seeded simulated card photographs for tests and benchmarks).

Personal data and access keys never appear in reprs, exception messages or logs.
"""
from reader.capture.errors import CaptureError, ImageError, MRZReadError, NotFoundError, QRPayloadError
from reader.capture.images import load_image
from reader.capture.mrz_ocr import MRZReading, read_mrz
from reader.capture.qr_image import QRDecode, decode_qr, repair_charset
from reader.capture.qr_payload import (
    AccessKeys,
    CardQR,
    QRGeneration,
    derive_access_keys,
    format_qr_payload,
    parse_qr_payload,
)
from reader.capture.scan import ScanFailure, ScanKind, ScanResult, scan_image

__all__ = [
    "AccessKeys",
    "CaptureError",
    "CardQR",
    "ImageError",
    "MRZReadError",
    "MRZReading",
    "NotFoundError",
    "QRDecode",
    "QRGeneration",
    "QRPayloadError",
    "ScanFailure",
    "ScanKind",
    "ScanResult",
    "decode_qr",
    "derive_access_keys",
    "format_qr_payload",
    "load_image",
    "parse_qr_payload",
    "read_mrz",
    "repair_charset",
    "scan_image",
]
