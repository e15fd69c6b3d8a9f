"""Image loading for capture: path, bytes or array in; a bounded BGR ``numpy`` image out, or ImageError."""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from reader.capture.errors import IMAGE_EMPTY, IMAGE_TOO_LARGE, IMAGE_TOO_SMALL, IMAGE_UNREADABLE, ImageError

# Decision: refuse images above 50 Mpx or 64 MB before decoding (a phone photo is ~12-48 Mpx); a
# decompression bomb must not exhaust memory. Below 32 px on a side nothing on a card can be read.
MAX_PIXELS = 50_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MIN_SIDE = 32

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray


# Decision: capture never needs more than ~16 Mpx (a card filling a 4K frame); bigger photos are reduced by an
# integer factor while decoding (JPEG DCT scaling, else a box filter), which bounds time and memory downstream.
WORK_PIXELS = 16_000_000


def _reduction(width: int, height: int) -> int:
    pixels = width * height
    return 1 if pixels <= WORK_PIXELS else int(np.ceil(np.sqrt(pixels / WORK_PIXELS)))


def _decode(data: bytes) -> np.ndarray:
    """Decode with Pillow: size checked from the header before any pixel is decoded; EXIF orientation applied.

    Decision: Pillow rather than ``cv2.imdecode`` because it reports truncation as an exception (OpenCV
    prints to stderr and may return a partial image) and lets us bound the size before decoding.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            opened = Image.open(io.BytesIO(data))
        with opened as img:
            width, height = img.size
            _check_dims(height, width)
            factor = _reduction(width, height)
            if factor > 1 and img.format == "JPEG":
                img.draft("RGB", (width // factor, height // factor))  # DCT scaling: decode smaller
            img.load()
            if max(1, _reduction(*img.size)) > 1:
                img = img.reduce(_reduction(*img.size))
            img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB")
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("image is too large", code=IMAGE_TOO_LARGE) from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, MemoryError) as exc:
        raise ImageError("not an image, or a truncated one", code=IMAGE_UNREADABLE) from exc
    except Exception as exc:
        raise ImageError("not an image, or a truncated one", code=IMAGE_UNREADABLE) from exc
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)


def _check_dims(height: int, width: int) -> None:
    if height * width > MAX_PIXELS:
        raise ImageError(f"image is too large: {width}x{height} pixels (limit {MAX_PIXELS})", code=IMAGE_TOO_LARGE)
    if min(height, width) < MIN_SIDE:
        raise ImageError(f"image is {width}x{height} pixels (minimum side {MIN_SIDE})", code=IMAGE_TOO_SMALL)


def load_image(source: ImageInput) -> np.ndarray:
    """Decode ``source`` (path, encoded bytes, or an already decoded array) to a BGR ``uint8`` image."""
    if isinstance(source, np.ndarray):
        arr = source
        if arr.size == 0:
            raise ImageError("empty array", code=IMAGE_EMPTY)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise ImageError(f"array of shape {arr.shape} is not an image", code=IMAGE_UNREADABLE)
        _check_dims(arr.shape[0], arr.shape[1])
        if arr.dtype != np.uint8:
            if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
                raise ImageError(f"array dtype {arr.dtype} is not an image", code=IMAGE_UNREADABLE)
            finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
            top = 1.0 if finite.max(initial=0) <= 1.0 else 255.0
            arr = np.clip(finite * (255.0 / top), 0, 255).astype(np.uint8)
        if arr.ndim == 2:
            return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
        if arr.shape[2] == 1:
            return cv2.cvtColor(arr[:, :, 0], cv2.COLOR_GRAY2BGR)
        if arr.shape[2] == 4:
            return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGRA2BGR)
        return np.ascontiguousarray(arr)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageError(f"cannot open image file ({exc.strerror})", code=IMAGE_UNREADABLE) from exc
        if size > MAX_FILE_BYTES:
            raise ImageError(f"image file is {size} bytes (limit {MAX_FILE_BYTES})", code=IMAGE_TOO_LARGE)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read image file ({exc.strerror})", code=IMAGE_UNREADABLE) from exc
    else:
        raise ImageError(f"unsupported input type {type(source).__name__}", code=IMAGE_UNREADABLE)
    if not data:
        raise ImageError("empty input", code=IMAGE_EMPTY)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"image is {len(data)} bytes (limit {MAX_FILE_BYTES})", code=IMAGE_TOO_LARGE)
    img = _decode(data)
    _check_dims(img.shape[0], img.shape[1])
    return img


def to_gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
