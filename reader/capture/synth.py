"""Simulated card photographs (seeded): perspective, blur, noise, glare, JPEG — for tests and benchmarks."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotoParams:
    """How hard a simulated photograph is. Angles in degrees, sizes relative to the card width."""

    tilt: float = 0.12  # max corner displacement (fraction of card width) for the perspective
    rotation: float = 8.0  # max in-plane rotation
    blur_sigma: float = 1.2  # Gaussian blur (px at the output scale)
    noise_sigma: float = 6.0  # additive Gaussian noise (0-255)
    glare: float = 0.45  # peak brightness added by one elliptical glare spot (0-1)
    jpeg_quality: int = 80
    output_width: int = 2000  # a card of ~1400 px: about what a phone frames when told to fill the view
    background: tuple[int, int, int] = (60, 70, 80)


def photograph(card: np.ndarray, seed: int, params: PhotoParams | None = None) -> np.ndarray:
    """Place a rendered card (BGR) on a textured background, as a hand-held phone would see it."""
    p = params or PhotoParams()
    rng = np.random.default_rng(seed)
    ch, cw = card.shape[:2]
    out_w = p.output_width
    out_h = round(out_w * 0.75)
    scale = out_w * rng.uniform(0.62, 0.78) / cw
    # destination corners: scaled card, rotated, centred with jitter, each corner moved for perspective
    w, h = cw * scale, ch * scale
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    angle = np.radians(rng.uniform(-p.rotation, p.rotation))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rot.T
    corners += rng.uniform(-p.tilt, p.tilt, size=(4, 2)) * w * 0.5
    corners += np.array([out_w / 2, out_h / 2]) + rng.uniform(-0.04, 0.04, size=2) * out_w
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    # smooth fields are made at 1/8 scale and enlarged: same look, a fraction of the time; OpenCV does the
    # full-size arithmetic (numpy temporaries on a 1.5 Mpx × 3 float image dominate otherwise)
    sw, sh = out_w // 8, out_h // 8
    small_tex = cv2.GaussianBlur(rng.normal(0, 40, (sh, sw)).astype(np.float32), (0, 0), 1.0)
    colour = np.array(p.background, np.float32) + rng.normal(0, 1, 3).astype(np.float32) * 8
    small_bg = np.clip(small_tex[:, :, None] + colour[None, None, :], 0, 255).astype(np.uint8)
    img = cv2.resize(small_bg, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    cv2.warpPerspective(card, matrix, (out_w, out_h), dst=img, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_TRANSPARENT)
    # uneven light (multiplicative), then a glare spot (additive)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = yy / sh, xx / sw
    shade = 1.0 - 0.18 * ((xx - rng.uniform(0, 1)) ** 2 + (yy - rng.uniform(0, 1)) ** 2)
    light = np.zeros((sh, sw), np.float32)
    if p.glare > 0:
        gx, gy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
        sx, sy = rng.uniform(0.05, 0.15), rng.uniform(0.04, 0.1) * out_w / out_h
        light = (np.exp(-(((xx - gx) / sx) ** 2 + ((yy - gy) / sy) ** 2) / 2) * p.glare * 255).astype(np.float32)
    shade3 = cv2.merge([cv2.resize(shade.astype(np.float32), (out_w, out_h))] * 3)
    light3 = cv2.merge([cv2.resize(light, (out_w, out_h), interpolation=cv2.INTER_CUBIC)] * 3)
    imgf = cv2.add(cv2.multiply(img.astype(np.float32), shade3), light3)
    if p.blur_sigma > 0:
        imgf = cv2.GaussianBlur(imgf, (0, 0), p.blur_sigma)
    if p.noise_sigma > 0:
        noise = np.empty_like(imgf)
        cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
        cv2.randn(noise, (0, 0, 0), (p.noise_sigma,) * 3)
        imgf = cv2.add(imgf, noise)
    img8 = cv2.convertScaleAbs(imgf)  # saturating cast to uint8
    if p.jpeg_quality < 100:
        ok, enc = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        if ok:
            img8 = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img8
