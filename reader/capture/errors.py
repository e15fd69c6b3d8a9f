"""Capture errors: one hierarchy with stable reason codes for every way an image or payload can fail."""
from __future__ import annotations

from typing import ClassVar


class CaptureError(Exception):
    """Base of every error raised by ``reader.capture``.

    ``code`` is a stable reason code (dotted, lower case) that callers and the CLI can switch on;
    ``detail`` is a short human text that never contains personal data, MRZ, CAN or QR text.
    """

    default_code: ClassVar[str] = "capture.error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        self.code = code or self.default_code
        self.detail = detail
        super().__init__(f"[{self.code}] {detail}")


class ImageError(CaptureError):
    """The input is not a usable image (empty, truncated, not an image, too large)."""

    default_code = "image.unreadable"


class QRPayloadError(CaptureError):
    """QR text that is not a Vietnamese card payload (VN_CARD.md "QR code")."""

    default_code = "qr.payload_invalid"


class NotFoundError(CaptureError):
    """No QR code and no MRZ could be read in the image."""

    default_code = "scan.nothing_found"


class MRZReadError(CaptureError):
    """An MRZ band was seen but could not be read into a TD1 MRZ whose check digits hold."""

    default_code = "mrz.unreadable"


# Stable reason codes (kept in one place so tests, CLI and API agree).
IMAGE_EMPTY = "image.empty"
IMAGE_UNREADABLE = "image.unreadable"
IMAGE_TOO_LARGE = "image.too_large"
IMAGE_TOO_SMALL = "image.too_small"
QR_NOT_FOUND = "qr.not_found"
QR_PAYLOAD_INVALID = "qr.payload_invalid"
QR_NOT_UTF8 = "qr.not_utf8"
MRZ_NOT_FOUND = "mrz.not_found"
MRZ_SEGMENTATION = "mrz.segmentation_failed"
MRZ_CHECK_DIGIT = "mrz.check_digit_failed"
MRZ_FORMAT = "mrz.format_invalid"
MRZ_LOW_CONFIDENCE = "mrz.low_confidence"
SCAN_NOTHING_FOUND = "scan.nothing_found"
