"""OCR-B glyph classifier for MRZ characters, trained at first use on glyphs rendered from the OCR-B font.

ICAO 9303-3 §4.1: the MRZ uses OCR-B (ISO 1073-2) size 1, characters ``A-Z 0-9 <``. Stock tesseract models
misread these lines, so we render every MRZ character from ``fonts-ocr-b`` (``OCRB.otf``) at several sizes,
weights, blurs and sub-pixel offsets, normalise each glyph to a fixed box, and classify by nearest
neighbours (cosine distance on normalised pixels; OpenCV 5 no longer ships ``cv2.ml``; numpy suffices).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

MRZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
GLYPH_W, GLYPH_H = 16, 24
OCRB_PATHS = (
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
)


def find_ocrb_font() -> str:
    extra = os.environ.get("CANCUOC_OCRB_FONT")
    for path in ((extra,) if extra else ()) + OCRB_PATHS:
        if path and Path(path).is_file():
            return path
    raise FileNotFoundError("OCR-B font not found (Debian package fonts-ocr-b)")


def normalize_glyph(cell: np.ndarray) -> np.ndarray | None:
    """Ink mask of one character cell (uint8, ink > 0) → flattened unit feature vector, or None if blank.

    The ink's bounding box is scaled, keeping its aspect ratio, into a GLYPH_W × GLYPH_H box and centred, so
    narrow glyphs (``1``, ``I``) stay narrow; the box's aspect ratio is appended as a feature.
    """
    ys, xs = np.nonzero(cell > 0)
    if len(xs) < 3:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    crop = cell[y0:y1, x0:x1].astype(np.float32)
    h, w = crop.shape
    scale = min((GLYPH_W - 2) / w, (GLYPH_H - 2) / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    box = np.zeros((GLYPH_H, GLYPH_W), np.float32)
    ox, oy = (GLYPH_W - nw) // 2, (GLYPH_H - nh) // 2
    box[oy:oy + nh, ox:ox + nw] = small
    box = cv2.GaussianBlur(box, (3, 3), 0.8)
    vec = box.ravel()
    vec = vec - vec.mean()
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        return None
    aspect = np.array([w / h, h / max(w, 1) / 4.0], np.float32)
    out = np.concatenate([vec / norm, aspect * 0.6])
    return out / float(np.linalg.norm(out))


def _render(ch: str, font: ImageFont.FreeTypeFont, dx: float, dy: float) -> np.ndarray:
    size = font.size
    img = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(img).text((size // 2 + dx, size // 4 + dy), ch, font=font, fill=255)
    return np.asarray(img)


@dataclass(frozen=True)
class GlyphModel:
    features: np.ndarray  # (n, d)
    labels: np.ndarray  # (n,) indices into MRZ_ALPHABET


@functools.lru_cache(maxsize=1)
def glyph_model() -> GlyphModel:
    """Training set rendered from OCR-B: sizes × blur × weight × offsets per character (built once)."""
    path = find_ocrb_font()
    feats: list[np.ndarray] = []
    labels: list[int] = []
    rng = np.random.default_rng(9303)
    for size in (14, 20, 28, 40):
        font = ImageFont.truetype(path, size)
        for label, ch in enumerate(MRZ_ALPHABET):
            for variant in range(6):
                glyph = _render(ch, font, rng.uniform(0, 1), rng.uniform(0, 1)).astype(np.float32)
                if variant in (1, 4):
                    glyph = cv2.GaussianBlur(glyph, (0, 0), 0.4 + size / 40)
                if variant == 2:
                    glyph = cv2.dilate(glyph, np.ones((2, 2), np.uint8))
                if variant == 3:
                    glyph = cv2.erode(glyph, np.ones((2, 2), np.uint8)) if size >= 20 else glyph
                if variant == 5:
                    angle = rng.uniform(-4, 4)
                    m = cv2.getRotationMatrix2D((glyph.shape[1] / 2, glyph.shape[0] / 2), angle, 1.0)
                    glyph = cv2.warpAffine(glyph, m, (glyph.shape[1], glyph.shape[0]))
                mask = (glyph > (90 if variant != 4 else 140)).astype(np.uint8)
                vec = normalize_glyph(mask)
                if vec is not None:
                    feats.append(vec)
                    labels.append(label)
    return GlyphModel(np.stack(feats).astype(np.float32), np.array(labels))


def classify(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class scores for each glyph vector: (n, 37) cosine similarity, higher is better, and best labels.

    The score of a class is its nearest training glyph's similarity (1-NN per class), so callers can restrict
    a position to the classes its MRZ field allows and still rank the rest.
    """
    model = glyph_model()
    sims = vectors @ model.features.T  # (n, m)
    scores = np.full((vectors.shape[0], len(MRZ_ALPHABET)), -1.0, np.float32)
    for cls in range(len(MRZ_ALPHABET)):
        scores[:, cls] = sims[:, model.labels == cls].max(axis=1)
    return scores, scores.argmax(axis=1)
