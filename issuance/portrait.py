"""Portrait capture and quality checks: face/eyes (Haar cascades), ICAO/ISO 19794-5 rules, token crop, compression.

Pipeline: :func:`capture_from_camera` or :func:`load_portrait` → :func:`assess_portrait` (every rule measured,
each failing rule reported with its measured value and threshold) → :func:`crop_token` (ISO/IEC 19794-5
§8.4 token frame, from the eye centres) → :func:`compress_portrait` (JPEG or JPEG 2000 under a byte budget,
by bisection on quality). :func:`process_portrait` runs it all.

Geometry of the token frame (ISO/IEC 19794-5 §8.4.1, "Token Face Image Type"): image width W, height
W / 0.75; the eye midpoint at x = 0.5 W and y = 0.6 W from the top; the eye distance 0.25 W.

Decision (Law on Identification 2023, VN_CARD.md "Validity": under-6s have no portrait requirement): for a
citizen under 6 a portrait is optional; when one is supplied, only "exactly one face", exposure and sharpness
(at a relaxed threshold) can reject it; eyes, roll, head size/centring and background are reported as
warnings, because a small child cannot hold the pose. The face must still be found to crop the token.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from reader.capture.errors import CaptureError
from reader.capture.haar import CascadeNotFoundError, detect
from reader.capture.images import ImageInput, load_image

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"
SAMPLE_PORTRAIT = Path(__file__).parent / "data" / "sample_portrait.jpg"


class PortraitError(Exception):
    """The portrait cannot be processed at all (unreadable image, no camera, nothing fits the budget)."""

    def __init__(self, detail: str, *, code: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"[{code}] {detail}")


@dataclass(frozen=True)
class PortraitRules:
    """Thresholds of the quality rules (ICAO 9303-3 §3.9 / ISO/IEC 19794-5 §7 style; values are our choice).

    All measurements are taken on the source image at the token's scale unless said otherwise.
    """

    token_width: int = 240  # px; height = 320. 19794-5 token minimum: W = 240 (eye distance 60 px)
    # Decision: accept a source eye distance down to 40 px (the token is then upscaled at most 1.5×).
    min_eye_distance_px: float = 40.0
    max_roll_deg: float = 8.0  # tilt of the eye line
    # head width in the token (face box width at token scale / W); 19794-5 token: head ≈ 0.5-0.6 W
    head_width: tuple[float, float] = (0.4, 0.72)
    max_centre_offset: float = 0.22  # face centre's distance from (0.5 W, 0.4 H), as a fraction of W / H
    max_outside_frame: float = 0.04  # fraction of the token frame that falls outside the source image
    background_min_luma: float = 140.0  # light background (0-255)
    background_max_std: float = 22.0  # uniform background
    min_sharpness: float = 40.0  # variance of the Laplacian over the face, at token scale
    exposure_luma: tuple[float, float] = (70.0, 215.0)  # mean luma of the face
    max_clipped: float = 0.06  # fraction of face pixels at 0-5 or 250-255
    min_face_neighbours: int = 5  # cascade neighbours for a face to count


@dataclass(frozen=True)
class RuleResult:
    """One rule: stable ``code``, pass/fail, what was measured and the threshold it was held to."""

    rule: str
    passed: bool
    measured: float
    threshold: str
    detail: str = ""
    blocking: bool = True  # False: reported as a warning (relaxed rule, e.g. under-6s)

    def __post_init__(self) -> None:  # plain Python types (JSON columns, APIs), whatever numpy returned
        object.__setattr__(self, "measured", float(self.measured))
        object.__setattr__(self, "passed", bool(self.passed))

    @property
    def code(self) -> str:
        return f"portrait.{self.rule}"

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "code": self.code, "passed": self.passed, "measured": round(self.measured, 3),
                "threshold": self.threshold, "blocking": self.blocking, "detail": self.detail}


@dataclass(frozen=True)
class PortraitAssessment:
    """The outcome of every rule, plus the face and eye geometry found (source image coordinates)."""

    results: tuple[RuleResult, ...]
    face: tuple[int, int, int, int] | None
    eyes: tuple[tuple[float, float], tuple[float, float]] | None  # (left-in-image, right-in-image) centres
    under_six: bool = False

    @property
    def passed(self) -> bool:
        return all(r.passed or not r.blocking for r in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.blocking)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and not r.blocking)

    def result(self, rule: str) -> RuleResult:
        return next(r for r in self.results if r.rule == rule)


@dataclass(frozen=True)
class PortraitResult:
    assessment: PortraitAssessment
    token: np.ndarray | None = field(repr=False)  # BGR token image
    encoded: bytes | None = field(repr=False)  # JPEG / JPEG 2000 bytes for DG2
    mime: str = ""
    quality: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.assessment.passed and self.encoded is not None


# ------------------------------------------------------------------------------------------------ capture

def load_portrait(source: ImageInput) -> np.ndarray:
    """A portrait image from a file, bytes or array (BGR); :class:`PortraitError` ``portrait.image_invalid``."""
    try:
        return load_image(source)
    except CaptureError as exc:
        raise PortraitError(exc.detail, code="portrait.image_invalid") from exc


def capture_from_camera(device: int = 0, *, warmup_frames: int = 5, timeout_s: float = 5.0) -> np.ndarray:
    """One frame from a camera (OpenCV ``VideoCapture``), after letting exposure settle for a few frames."""
    cap = cv2.VideoCapture(device)
    try:
        if not cap.isOpened():
            raise PortraitError(f"camera {device} cannot be opened", code="portrait.camera_unavailable")
        deadline = time.monotonic() + timeout_s
        frame = None
        got = 0
        while got <= warmup_frames and time.monotonic() < deadline:
            ok, img = cap.read()
            if ok and img is not None:
                frame, got = img, got + 1
        if frame is None:
            raise PortraitError(f"camera {device} gave no frame", code="portrait.camera_unavailable")
        return load_portrait(frame)
    finally:
        cap.release()


# ------------------------------------------------------------------------------------------------- checks

def _token_geometry(eyes: tuple[tuple[float, float], tuple[float, float]], width: int
                    ) -> tuple[np.ndarray, float, float]:
    """Affine map source → token (rotation removes roll), the eye distance, and the roll in degrees."""
    (lx, ly), (rx, ry) = eyes
    dist = float(np.hypot(rx - lx, ry - ly))
    roll = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    scale = 0.25 * width / max(dist, 1e-6)
    mid = ((lx + rx) / 2, (ly + ry) / 2)
    m = cv2.getRotationMatrix2D(mid, roll, scale)
    m[0, 2] += 0.5 * width - mid[0]
    m[1, 2] += 0.6 * width - mid[1]
    return m, dist, roll


def _find_eyes(gray: np.ndarray, face: tuple[int, int, int, int]
               ) -> tuple[list[tuple[float, float, int]], tuple[tuple[float, float], tuple[float, float]] | None]:
    x, y, w, h = face
    roi = gray[y:y + int(h * 0.6), x:x + w]
    found = detect(roi, EYE_CASCADE, min_size=max(8, w // 8), max_size=w // 2, min_neighbors=3)
    centres = [(x + ex + ew / 2, y + ey + eh / 2, nb) for ex, ey, ew, eh, nb in found
               if ey + eh / 2 < 0.5 * h]
    left = [c for c in centres if c[0] < x + w / 2]
    right = [c for c in centres if c[0] >= x + w / 2]
    if not left or not right:
        return centres, None
    lb = max(left, key=lambda c: c[2])
    rb = max(right, key=lambda c: c[2])
    return centres, ((lb[0], lb[1]), (rb[0], rb[1]))


def assess_portrait(image: np.ndarray, *, age_years: float | None = None,
                    rules: PortraitRules | None = None) -> PortraitAssessment:
    """Measure every quality rule on ``image`` (BGR). Never raises for a bad photo: rules fail instead."""
    rules = rules or PortraitRules()
    under_six = age_years is not None and age_years < 6
    relaxed = not under_six  # True: the rule blocks
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    results: list[RuleResult] = []
    try:
        # a portrait face fills a good part of the frame: searching from 1/5 of the short side keeps the
        # pyramid small (faces much smaller than the main one are not counted anyway)
        faces = detect(gray, FACE_CASCADE, min_size=max(40, min(h, w) // 5), min_neighbors=3)
    except CascadeNotFoundError as exc:
        raise PortraitError(str(exc), code="portrait.cascade_missing") from exc
    strong = [f for f in faces if f[4] >= rules.min_face_neighbours]
    if strong:
        biggest = strong[0][2]
        strong = [f for f in strong if f[2] >= 0.45 * biggest]  # a face in the background poster still counts
    results.append(RuleResult("face_count", len(strong) == 1, float(len(strong)), "== 1",
                              "exactly one face must be visible"))
    if len(strong) != 1:
        return PortraitAssessment(tuple(results), None, None, under_six)
    fx, fy, fw, fh, _ = strong[0]
    face = (fx, fy, fw, fh)
    centres, eyes = _find_eyes(gray, face)
    n_eyes = 2.0 if eyes else float(min(len(centres), 1))
    results.append(RuleResult("eyes_open", eyes is not None, n_eyes, "2 open eyes detected",
                              "both eyes must be open and visible", blocking=relaxed))
    if eyes is None:
        # Decision: without eye centres, estimate them from the face box (typical proportions) so the other
        # rules can still be measured and reported; eyes_open already fails.
        eyes = ((fx + 0.3 * fw, fy + 0.38 * fh), (fx + 0.7 * fw, fy + 0.38 * fh))
    matrix, dist, roll = _token_geometry(eyes, rules.token_width)
    results.append(RuleResult("roll", abs(roll) <= rules.max_roll_deg, abs(roll), f"<= {rules.max_roll_deg}°",
                              "the eye line must be level", blocking=relaxed))
    results.append(RuleResult("resolution", dist >= rules.min_eye_distance_px, dist,
                              f">= {rules.min_eye_distance_px} px between eye centres",
                              "the face is too small in the picture"))
    # Decision: the token frame is placed from the eyes, so the head's size in it measures whether the
    # eyes found are consistent with the head (wrong eye detections, extreme faces), 19794-5 §8.4.
    head = fw * 0.25 / max(dist, 1e-6)
    lo, hi = rules.head_width
    results.append(RuleResult("head_size", lo <= head <= hi, head, f"{lo}..{hi} of the token width",
                              "head size in the token frame out of range", blocking=relaxed))
    # Decision: centring is measured in the camera frame (the token is centred on the eyes by construction):
    # the citizen must stand in the middle of the camera's view.
    # (horizontally at the middle, vertically at 40 % from the top, where a portrait's face sits)
    offset = max(abs((fx + fw / 2) / w - 0.5), abs((fy + fh / 2) / h - 0.4))
    results.append(RuleResult("centring", offset <= rules.max_centre_offset, offset,
                              f"<= {rules.max_centre_offset} of the photo size from (0.5, 0.4)",
                              "the face must be in the middle of the photo", blocking=relaxed))
    tw, th = rules.token_width, round(rules.token_width / 0.75)
    inside = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, (tw, th), flags=cv2.INTER_NEAREST)
    outside = float(np.count_nonzero(inside == 0)) / inside.size
    results.append(RuleResult("frame", outside <= rules.max_outside_frame, outside,
                              f"<= {rules.max_outside_frame} of the token frame outside the photo",
                              "the head is too close to the edge of the photo (or too large)", blocking=relaxed))
    token = cv2.warpAffine(image, matrix, (tw, th), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    tgray = cv2.cvtColor(token, cv2.COLOR_BGR2GRAY)
    # background: the token's upper corners beside the head and the strip above it
    strips = [tgray[0:int(0.35 * th), 0:int(0.08 * tw)], tgray[0:int(0.35 * th), int(0.92 * tw):],
              tgray[0:int(0.06 * th), :]]
    bg = np.concatenate([s.ravel() for s in strips]).astype(np.float64)
    results.append(RuleResult("background_light", bg.mean() >= rules.background_min_luma, float(bg.mean()),
                              f">= {rules.background_min_luma} mean luma", "the background must be light",
                              blocking=relaxed))
    # uniformity: spread after removing a smooth shading gradient per strip (each strip's own mean)
    spread = float(np.sqrt(np.mean([s.astype(np.float64).var() for s in strips])))
    results.append(RuleResult("background_uniform", spread <= rules.background_max_std, spread,
                              f"<= {rules.background_max_std} luma std", "the background must be plain",
                              blocking=relaxed))
    # face region in the token: from just above the eye line (0.45 H) to about the chin, between the eyes'
    # outer corners
    fr = tgray[int(0.40 * th):int(0.70 * th), int(0.30 * tw):int(0.70 * tw)]
    sharp = float(cv2.Laplacian(fr, cv2.CV_64F).var())
    min_sharp = rules.min_sharpness * (0.5 if under_six else 1.0)
    results.append(RuleResult("sharpness", sharp >= min_sharp, sharp, f">= {min_sharp} Laplacian variance",
                              "the picture is blurred"))
    mean = float(fr.mean())
    elo, ehi = rules.exposure_luma
    results.append(RuleResult("exposure", elo <= mean <= ehi, mean, f"{elo}..{ehi} mean face luma",
                              "the face is under- or over-exposed"))
    clipped = float(np.count_nonzero((fr <= 5) | (fr >= 250))) / max(fr.size, 1)
    results.append(RuleResult("clipping", clipped <= rules.max_clipped, clipped,
                              f"<= {rules.max_clipped} of face pixels clipped", "highlights or shadows are lost"))
    return PortraitAssessment(tuple(results), face, eyes, under_six)


def crop_token(image: np.ndarray, assessment: PortraitAssessment, rules: PortraitRules | None = None
               ) -> np.ndarray:
    """The ISO/IEC 19794-5 token frame (W × 4W/3, eyes level at 0.6 W, eye distance 0.25 W), BGR."""
    rules = rules or PortraitRules()
    if assessment.eyes is None:
        raise PortraitError("no face to crop", code="portrait.no_face")
    matrix, _, _ = _token_geometry(assessment.eyes, rules.token_width)
    tw, th = rules.token_width, round(rules.token_width / 0.75)
    return cv2.warpAffine(image, matrix, (tw, th), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


# ------------------------------------------------------------------------------------------- compression

def _encode(token: np.ndarray, fmt: str, quality: int) -> bytes:
    rgb = Image.fromarray(cv2.cvtColor(token, cv2.COLOR_BGR2RGB))
    buf = io.BytesIO()
    if fmt == "jpeg":
        rgb.save(buf, "JPEG", quality=quality, optimize=True)
    else:
        # JPEG 2000 (ISO/IEC 15444-1) via Pillow/OpenJPEG: "quality" maps to a PSNR target in dB
        rgb.save(buf, "JPEG2000", quality_mode="dB", quality_layers=[float(quality)], irreversible=True)
    return buf.getvalue()


def compress_portrait(token: np.ndarray, *, max_bytes: int = 18_000, fmt: str = "jpeg",
                      min_quality: int = 20) -> tuple[bytes, int]:
    """Encode under ``max_bytes`` at the highest quality that fits, found by bisection (size grows with quality).

    ``fmt``: ``"jpeg"`` (quality 1-95) or ``"jp2"`` (target PSNR 20-60 dB). Raises ``portrait.too_large`` when
    even ``min_quality`` does not fit (a token of 300 × 400 fits in ~6 KB at quality 20).
    """
    if fmt not in ("jpeg", "jp2"):
        raise PortraitError(f"unknown format {fmt!r}", code="portrait.format_unknown")
    lo, hi = (min_quality, 95) if fmt == "jpeg" else (max(20, min_quality), 60)
    best: tuple[bytes, int] | None = None
    smallest = _encode(token, fmt, lo)
    if len(smallest) > max_bytes:
        raise PortraitError(f"{len(smallest)} bytes at the lowest quality, budget {max_bytes}",
                            code="portrait.too_large")
    best = (smallest, lo)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        data = _encode(token, fmt, mid)
        if len(data) <= max_bytes:
            best, lo = (data, mid), mid
        else:
            hi = mid - 1
    return best


def process_portrait(source: ImageInput, *, age_years: float | None = None, max_bytes: int = 18_000,
                     fmt: str = "jpeg", rules: PortraitRules | None = None) -> PortraitResult:
    """Load, assess, crop and compress. The token and bytes are produced only when the assessment passes."""
    start = time.perf_counter()
    rules = rules or PortraitRules()
    image = load_portrait(source)
    assessment = assess_portrait(image, age_years=age_years, rules=rules)
    if not assessment.passed or assessment.eyes is None:
        return PortraitResult(assessment, None, None, seconds=time.perf_counter() - start)
    token = crop_token(image, assessment, rules)
    data, quality = compress_portrait(token, max_bytes=max_bytes, fmt=fmt)
    mime = "image/jpeg" if fmt == "jpeg" else "image/jp2"
    return PortraitResult(assessment, token, data, mime, quality, time.perf_counter() - start)


def sample_portrait_bytes() -> bytes:
    """The demo/test portrait shipped in ``issuance/data`` (provenance in its README)."""
    return SAMPLE_PORTRAIT.read_bytes()


__all__ = [
    "PortraitAssessment",
    "PortraitError",
    "PortraitResult",
    "PortraitRules",
    "RuleResult",
    "assess_portrait",
    "capture_from_camera",
    "compress_portrait",
    "crop_token",
    "load_portrait",
    "process_portrait",
    "sample_portrait_bytes",
]
