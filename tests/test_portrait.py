"""Portrait capture and quality rules (issuance.portrait): every rule fails on a crafted image, with its reason."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from issuance.portrait import (
    PortraitError,
    PortraitRules,
    assess_portrait,
    capture_from_camera,
    compress_portrait,
    crop_token,
    load_portrait,
    process_portrait,
    sample_portrait_bytes,
)
from reader.capture.haar import detect, find_cascade


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return load_portrait(sample_portrait_bytes())


@pytest.fixture(scope="module")
def geometry(sample):
    a = assess_portrait(sample)
    assert a.passed, [r.as_dict() for r in a.failures]
    return a


def test_sample_passes_every_rule_and_fits_the_budget(sample, geometry):
    assert {r.rule for r in geometry.results} == {
        "face_count", "eyes_open", "roll", "resolution", "head_size", "centring", "frame",
        "background_light", "background_uniform", "sharpness", "exposure", "clipping"}
    assert all(r.passed for r in geometry.results)
    result = process_portrait(sample_portrait_bytes(), max_bytes=18_000)
    assert result.passed and result.mime == "image/jpeg"
    assert 10_000 < len(result.encoded) <= 18_000
    with Image.open(io.BytesIO(result.encoded)) as img:
        assert img.size == (240, 320)  # ISO/IEC 19794-5 token, W × 4W/3


def test_token_geometry_puts_the_eyes_where_19794_5_says(sample, geometry):
    token = crop_token(sample, geometry)
    again = assess_portrait(cv2.copyMakeBorder(token, 40, 40, 40, 40, cv2.BORDER_REPLICATE))
    assert again.eyes is not None
    (lx, ly), (rx, ry) = again.eyes
    w = 240
    assert abs((lx + rx) / 2 - 40 - 0.5 * w) < 0.05 * w
    assert abs((ly + ry) / 2 - 40 - 0.6 * w) < 0.05 * w
    assert abs(np.hypot(rx - lx, ry - ly) - 0.25 * w) < 0.06 * w


@pytest.mark.parametrize("fmt,budget", [("jpeg", 15_000), ("jpeg", 8_000), ("jp2", 15_000)])
def test_compression_bisects_quality_under_the_budget(sample, geometry, fmt, budget):
    token = crop_token(sample, geometry)
    data, quality = compress_portrait(token, max_bytes=budget, fmt=fmt)
    assert len(data) <= budget
    from issuance.portrait import _encode

    if quality < (95 if fmt == "jpeg" else 60):
        assert len(_encode(token, fmt, quality + 1)) > budget  # the best quality that fits
    magic = b"\xff\xd8" if fmt == "jpeg" else b"\x00\x00\x00\x0cjP"
    assert data.startswith(magic)


def test_impossible_budget_is_a_clear_error(sample, geometry):
    with pytest.raises(PortraitError) as err:
        compress_portrait(crop_token(sample, geometry), max_bytes=500)
    assert err.value.code == "portrait.too_large"


# ------------------------------------------------------------------------------------ crafted failures

def _rotate(img, eyes, angle):
    (lx, ly), (rx, ry) = eyes
    m = cv2.getRotationMatrix2D(((lx + rx) / 2, (ly + ry) / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def _close_eyes(img, eyes):
    out = img.copy()
    for ex, ey in eyes:
        skin = img[int(ey + 18), int(ex)].tolist()
        cv2.ellipse(out, (int(ex), int(ey)), (11, 7), 0, 0, 360, skin, -1)
        cv2.line(out, (int(ex - 10), int(ey + 2)), (int(ex + 10), int(ey + 2)), (60, 50, 50), 2)  # eyelid
    return out


def _spread_eyes(img, eyes, d):
    """Move each eye d px outward (the skin below fills the hole): eyes too wide for the head."""
    out, r = img.copy(), 13
    patches = [img[int(ey) - r:int(ey) + r, int(ex) - r:int(ex) + r].copy() for ex, ey in eyes]
    for ex, ey in eyes:
        ex, ey = int(ex), int(ey)
        out[ey - r + 4:ey + r - 4, ex - r:ex + r] = img[ey + r:ey + 3 * r - 8, ex - r:ex + r]
    for (ex, ey), patch, dx in zip(eyes, patches, (-d, d)):
        out[int(ey) - r:int(ey) + r, int(ex) + dx - r:int(ex) + dx + r] = patch
    return out


def _background(img, face, fill):
    h, w = img.shape[:2]
    fx, fy, fw, fh = face
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (fx + fw // 2, fy + fh // 2), (int(fw * 0.75), fh), 0, 0, 360, 255, -1)
    mask[int(fy + fh * 0.9):] = 255
    out = img.copy()
    out[mask == 0] = fill(h, w)[mask == 0]
    return out


def _stripes(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    s = ((xx // 6 + yy // 6) % 2 * 140 + 100).astype(np.uint8)
    return np.stack([s] * 3, -1)


CRAFTS = {
    "face_count": [
        lambda s, a: np.full((400, 300, 3), 230, np.uint8),  # nobody
        lambda s, a: cv2.hconcat([s, s]),  # two people
    ],
    "eyes_open": [lambda s, a: _close_eyes(s, a.eyes)],
    "roll": [lambda s, a: _rotate(s, a.eyes, -10)],
    "resolution": [lambda s, a: cv2.resize(s, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)],
    "head_size": [lambda s, a: _spread_eyes(s, a.eyes, 9)],
    "centring": [lambda s, a: cv2.copyMakeBorder(s, 0, 0, 0, 2 * s.shape[1], cv2.BORDER_CONSTANT,
                                                 value=tuple(int(v) for v in s[5, 5]))],
    "frame": [lambda s, a: s[95:]],  # the head at the top edge: no room for the token frame
    "background_light": [lambda s, a: _background(s, a.face, lambda h, w: np.full((h, w, 3), 50, np.uint8))],
    "background_uniform": [lambda s, a: _background(s, a.face, _stripes)],
    "sharpness": [lambda s, a: cv2.GaussianBlur(s, (0, 0), 3.0)],
    "exposure": [
        lambda s, a: (s * 0.3).astype(np.uint8),
        lambda s, a: np.clip(s.astype(np.float32) * 1.2 + 70, 0, 255).astype(np.uint8),
    ],
    "clipping": [lambda s, a: np.clip((s.astype(np.float32) - 150) * 4 + 150, 0, 255).astype(np.uint8)],
}
CASES = [(rule, i) for rule, makers in CRAFTS.items() for i in range(len(makers))]


@pytest.mark.parametrize("rule,variant", CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_each_rule_fails_on_its_crafted_image(sample, geometry, rule, variant):
    image = CRAFTS[rule][variant](sample, geometry)
    a = assess_portrait(image)
    assert not a.passed
    failed = {r.rule: r for r in a.failures}
    assert rule in failed, [r.as_dict() for r in a.results]
    r = failed[rule]
    assert r.code == f"portrait.{rule}" and r.threshold and r.detail
    assert np.isfinite(r.measured)
    if variant == 0 and rule in ("face_count", "sharpness"):
        result = process_portrait(image)
        assert not result.passed and result.encoded is None and result.token is None


def test_under_six_relaxes_pose_and_background_but_not_exposure(sample, geometry):
    tilted = _rotate(sample, geometry.eyes, -10)
    assert not assess_portrait(tilted, age_years=30).passed
    child = assess_portrait(tilted, age_years=4)
    assert child.passed and child.under_six
    assert "roll" in {r.rule for r in child.warnings}
    closed = assess_portrait(_close_eyes(sample, geometry.eyes), age_years=5.9)
    assert "eyes_open" in {r.rule for r in closed.warnings}
    dark = (sample * 0.3).astype(np.uint8)
    assert "exposure" in {r.rule for r in assess_portrait(dark, age_years=4).failures}


# ------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("data", [b"", b"not an image", sample_portrait_bytes()[:1500], b"\xff\xd8\xff" * 10])
def test_unreadable_portraits_raise_a_clear_error(data):
    with pytest.raises(PortraitError) as err:
        process_portrait(data)
    assert err.value.code == "portrait.image_invalid"


def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims 900 Mpx (a decompression bomb): only the header is real."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(
        b"IEND", b"")


def test_huge_dimensions_are_refused_before_decoding():
    with pytest.raises(PortraitError) as err:
        load_portrait(huge_png())
    assert err.value.code == "portrait.image_invalid" and "too large" in err.value.detail


def test_missing_camera_is_a_clear_error():
    with pytest.raises(PortraitError) as err:
        capture_from_camera(97, timeout_s=0.5)
    assert err.value.code == "portrait.camera_unavailable"


def test_rules_are_configurable(sample):
    strict = PortraitRules(min_sharpness=10_000.0)
    assert "sharpness" in {r.rule for r in assess_portrait(sample, rules=strict).failures}


def test_cascades_come_with_opencv_and_count_the_merged_detections(sample):
    assert find_cascade("haarcascade_frontalface_default.xml").endswith(".xml")
    gray = cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY)
    faces = detect(gray, "haarcascade_frontalface_default.xml", min_size=40, min_neighbors=3)
    assert len(faces) == 1 and faces[0][4] >= PortraitRules().min_face_neighbours
    assert detect(np.zeros((200, 200), np.uint8), "haarcascade_frontalface_default.xml") == []
