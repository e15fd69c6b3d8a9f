"""QR codes from images: pyzbar, then OpenCV locating / perspective correction / binarisation; charsets."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from pyzbar import pyzbar
from pyzbar.wrapper import (
    zbar_image_scanner_set_config,
    zbar_image_set_data,
    zbar_image_set_format,
    zbar_image_set_size,
    zbar_scan_image,
)

from reader.capture.images import to_gray

log = logging.getLogger(__name__)

# zbar converts QR bytes to UTF-8 through iconv from a *guessed* charset when the symbol has no ECI
# designator; UTF-8 Vietnamese bytes that happen to be valid Shift-JIS (or Big5) come back as kana/kanji.
_GUESSED_CHARSETS = (
    "shift_jis", "cp932", "shift_jisx0213", "big5", "big5hkscs", "euc_jp", "gbk", "euc_kr", "latin-1",
)


@dataclass(frozen=True)
class QRDecode:
    """One decoded QR symbol: the text, the raw bytes zbar returned, how it was found and repaired."""

    text: str
    raw: bytes
    method: str  # "plain", "binarized", "warped", ...
    charset_repaired: bool
    polygon: tuple[tuple[int, int], ...]

    def __repr__(self) -> str:
        return f"QRDecode(method={self.method!r}, charset_repaired={self.charset_repaired}, <redacted>)"


def repair_charset(raw: bytes) -> tuple[str, bool]:
    """Text of ``raw`` (what zbar returned, as UTF-8) undoing a wrong Shift-JIS / Big5 / Latin-1 guess.

    Decision: the card QR is UTF-8 (VN_CARD.md). If zbar's output, re-encoded in the charset zbar may have
    guessed, is valid UTF-8 *and differs*, that is the original text. Pure ASCII never changes.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        return text, False
    if text.isascii():
        return text, False
    for charset in _GUESSED_CHARSETS:
        try:
            candidate = text.encode(charset).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if candidate == text:
            continue
        try:  # a true round trip: the repaired text, mis-decoded the same way, gives zbar's text back
            if candidate.encode("utf-8").decode(charset) != text:
                continue
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return candidate, True
    return text, False


# zbar >= 0.23.1: ZBAR_CFG_BINARY (zbar.h ``zbar_config_e``, right after ZBAR_CFG_ASCII) returns the QR's
# data bytes as encoded, with no charset conversion at all; pyzbar's enum predates it.
ZBAR_CFG_BINARY = 4


def _zbar_raw(gray: np.ndarray) -> list[tuple[bytes, tuple[tuple[int, int], ...]]] | None:
    """QR symbols as raw bytes via zbar's binary mode; ``None`` when this zbar lacks binary mode.

    Uses pyzbar's ctypes bindings (its ``decode`` cannot set the binary config).
    """
    from ctypes import c_void_p, cast

    pixels = np.ascontiguousarray(gray, np.uint8).tobytes()
    height, width = gray.shape
    with pyzbar._image_scanner() as scanner:
        zbar_image_scanner_set_config(scanner, 0, pyzbar.ZBarConfig.CFG_ENABLE, 0)  # 0: all symbologies
        zbar_image_scanner_set_config(scanner, pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarConfig.CFG_ENABLE, 1)
        if zbar_image_scanner_set_config(scanner, pyzbar.ZBarSymbol.QRCODE, ZBAR_CFG_BINARY, 1) != 0:
            return None
        with pyzbar._image() as img:
            zbar_image_set_format(img, pyzbar._FOURCC["L800"])
            zbar_image_set_size(img, width, height)
            zbar_image_set_data(img, cast(pixels, c_void_p), len(pixels), None)
            if zbar_scan_image(scanner, img) < 0:
                return []
            return [(sym.data, tuple((p.x, p.y) for p in sym.polygon))
                    for sym in pyzbar._decode_symbols(pyzbar._symbols_for_image(img))]


def _zbar(gray: np.ndarray, use_binary: bool) -> list[tuple[str, bytes, bool, tuple[tuple[int, int], ...]]]:
    """(text, raw, charset_repaired, polygon) per symbol."""
    if use_binary:
        raw_symbols = _zbar_raw(gray)
        if raw_symbols is not None:
            out = []
            for raw, poly in raw_symbols:
                try:
                    out.append((raw.decode("utf-8"), raw, False, poly))
                except UnicodeDecodeError:
                    out.append((raw.decode("latin-1"), raw, False, poly))
            return out
    # zbar converted the bytes to text from its guessed charset: undo a wrong guess
    out = []
    for sym in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        text, repaired = repair_charset(sym.data)
        out.append((text, sym.data, repaired, tuple((p.x, p.y) for p in sym.polygon)))
    return out


WORK_SIDE = 1600  # zbar's scanner works well at this size, and each pass costs ∝ pixels


def _variants(gray: np.ndarray, effort: str) -> Iterator[tuple[str, np.ndarray]]:
    """Ever harder (and costlier) views of the image, cheapest first; the first that decodes wins.

    ``effort``: ``"quick"`` = the image as it is; ``"hard"`` = only the costly views; ``"full"`` = both.
    """
    h, w = gray.shape
    work = gray
    if max(h, w) > WORK_SIDE:
        s = WORK_SIDE / max(h, w)
        work = cv2.resize(gray, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    if effort in ("quick", "full"):
        # Decision: a large photo (a 12-48 Mpx phone camera) is first read at 2600 px on its long side —
        # a card filling the view keeps ~10 px per QR module — since zbar's time grows with the pixels.
        if max(h, w) > 2600:
            s = 2600 / max(h, w)
            yield "plain", cv2.resize(gray, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        else:
            yield "plain", gray
    if effort == "quick":
        return
    if work is not gray:
        yield "downscaled", work
    blur = cv2.GaussianBlur(work, (3, 3), 0)
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    yield "binarized", otsu
    for card in _cards(gray):
        yield "card", card
    # glare and uneven light: local threshold
    wh, ww = work.shape
    block = max(31, (min(wh, ww) // 16) | 1)
    yield "adaptive", cv2.adaptiveThreshold(blur, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY,
                                            block, 8)
    if max(h, w) < 900:
        yield "upscaled", cv2.resize(gray, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
    for warped in _warped(work):
        yield "warped", warped


def _cards(gray: np.ndarray) -> Iterator[np.ndarray]:
    """The card outline rectified (as for the MRZ), at a resolution zbar reads well."""
    from reader.capture.mrz_ocr import ID1_ASPECT, find_card_quads

    for quad in find_card_quads(gray)[:1]:
        width = WORK_SIDE
        height = round(width / ID1_ASPECT)
        dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
        m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
        card = cv2.warpPerspective(gray, m, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        yield card


def _warped(gray: np.ndarray) -> Iterator[np.ndarray]:
    """Locate the QR with OpenCV's finder-pattern detector and undo the perspective."""
    try:
        ok, points = cv2.QRCodeDetector().detect(gray)
    except cv2.error:
        return
    if not ok or points is None:
        return
    quad = np.asarray(points, np.float32).reshape(-1, 2)[:4]
    side = float(max(np.linalg.norm(quad[i] - quad[(i + 1) % 4]) for i in range(4)))
    if not 20 <= side <= 4000:
        return
    size = int(side * 1.0) + 1
    margin = size // 6
    dst = np.array([[margin, margin], [margin + size, margin], [margin + size, margin + size],
                    [margin, margin + size]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad, dst)
    out = cv2.warpPerspective(gray, matrix, (size + 2 * margin, size + 2 * margin), borderValue=255)
    yield out
    _, otsu = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    yield otsu


def decode_qr(image: np.ndarray, *, first_only: bool = True, binary: bool = True, effort: str = "full"
              ) -> list[QRDecode]:
    """QR symbols found in ``image`` (BGR or gray), trying harder preprocessing only when needed.

    ``first_only``: stop at the first view that decodes anything (else try every view and merge).
    ``effort``: ``"quick"`` (the image as is), ``"hard"`` (only the preprocessed views) or ``"full"``.

    ``binary``: read the QR's bytes raw (zbar binary mode) and decode them as UTF-8 — the card QR's charset
    (VN_CARD.md) — so zbar's charset guess never applies; ``False`` uses zbar's text + :func:`repair_charset`.
    """
    gray = to_gray(image)
    found: list[QRDecode] = []
    seen: set[bytes] = set()
    for method, candidate in _variants(gray, effort):
        try:
            symbols = _zbar(np.ascontiguousarray(candidate), binary)
        except Exception as exc:
            log.debug("zbar failed on variant %s: %s", method, type(exc).__name__)
            continue
        for text, raw, repaired, polygon in symbols:
            if raw in seen:
                continue
            seen.add(raw)
            found.append(QRDecode(text=text, raw=raw, method=method, charset_repaired=repaired,
                                  polygon=polygon))
        if found and first_only:
            break
    return found
