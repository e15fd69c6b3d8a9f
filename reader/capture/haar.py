"""Haar cascade detection (OpenCV's trained cascade XML files) evaluated with numpy.

OpenCV 5 moved ``cv2.CascadeClassifier`` out of the main modules (it is in opencv_contrib's ``xobjdetect``), and
its wheel no longer ships ``cv2.data.haarcascades``. The trained cascades themselves (Viola-Jones / Lienhart,
Intel licence) are in Debian's ``opencv-data`` package. This module loads them and evaluates them the way
OpenCV's ``HaarEvaluator`` does (cascadedetect.cpp): integral images, variance normalisation over the window
shrunk by one pixel, stage sums against stage thresholds, an image pyramid, and ``groupRectangles``-style
merging of neighbouring hits. When a ``cv2.CascadeClassifier`` exists, :func:`detect` uses it instead.
"""
from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CASCADE_DIRS = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)


class CascadeNotFoundError(FileNotFoundError):
    """The cascade XML is not installed (Debian package ``opencv-data``)."""


def find_cascade(name: str) -> str:
    """Path of a cascade file: ``$CANCUOC_CASCADE_DIR``, ``cv2.data.haarcascades`` if present, then Debian's."""
    dirs: list[str] = []
    if os.environ.get("CANCUOC_CASCADE_DIR"):
        dirs.append(os.environ["CANCUOC_CASCADE_DIR"])
    data = getattr(cv2, "data", None)
    if data is not None and getattr(data, "haarcascades", None):
        dirs.append(data.haarcascades)
    dirs.extend(CASCADE_DIRS)
    for d in dirs:
        path = Path(d) / name
        if path.is_file():
            return str(path)
    raise CascadeNotFoundError(f"{name} not found (install the Debian package opencv-data)")


@dataclass(frozen=True)
class _Weak:
    lefts: np.ndarray
    rights: np.ndarray
    features: np.ndarray
    thresholds: np.ndarray
    leaves: np.ndarray


@dataclass(frozen=True, eq=False)  # identity hash: cached per loaded file
class Cascade:
    width: int
    height: int
    stages: tuple[tuple[float, tuple[_Weak, ...]], ...]
    rects: tuple[np.ndarray, ...]  # per feature: (k, 5) x, y, w, h, weight


def _floats(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


@functools.lru_cache(maxsize=8)
def load_cascade(path: str) -> Cascade:
    """Parse an OpenCV (new-format, HAAR, BOOST) cascade file."""
    root = ET.parse(path).getroot()  # noqa: S314 - trusted local file
    casc = root.find("cascade")
    if casc is None or (casc.findtext("featureType") or "").strip() != "HAAR":
        raise ValueError(f"{path}: not a new-format HAAR cascade")
    width = int(casc.findtext("width") or 0)
    height = int(casc.findtext("height") or 0)
    stages = []
    for stage in casc.find("stages") or []:
        thr = float(stage.findtext("stageThreshold") or 0)
        weaks = []
        for weak in stage.find("weakClassifiers") or []:
            nodes = _floats(weak.findtext("internalNodes"))
            leaves = np.array(_floats(weak.findtext("leafValues")), np.float64)
            n = len(nodes) // 4
            arr = np.array(nodes, np.float64).reshape(n, 4)
            weaks.append(_Weak(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2].astype(int), arr[:, 3],
                               leaves))
        stages.append((thr, tuple(weaks)))
    rects = []
    for feat in casc.find("features") or []:
        if (feat.findtext("tilted") or "0").strip() == "1":
            raise ValueError(f"{path}: tilted features are not supported")
        rs = [_floats(r.text) for r in feat.find("rects") or []]
        rects.append(np.array(rs, np.float64))
    return Cascade(width, height, tuple(stages), tuple(rects))


def _evaluate(casc: Cascade, gray: np.ndarray, step: int) -> np.ndarray:
    """Window origins (x, y) in ``gray`` that pass every stage."""
    h, w = gray.shape
    if h < casc.height + 2 or w < casc.width + 2:
        return np.empty((0, 2), int)
    ii, sq = cv2.integral2(gray, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    stride = w + 1
    flat, flat_sq = ii.ravel(), sq.ravel()
    ys, xs = np.mgrid[0:h - casc.height:step, 0:w - casc.width:step]
    base = (ys * stride + xs).ravel()
    # variance normalisation over the window shrunk by 1 px (OpenCV's normrect)
    nw, nh = casc.width - 2, casc.height - 2
    o = np.array([stride + 1, stride + 1 + nw, (1 + nh) * stride + 1, (1 + nh) * stride + 1 + nw])
    s = flat[base + o[0]] - flat[base + o[1]] - flat[base + o[2]] + flat[base + o[3]]
    q = flat_sq[base + o[0]] - flat_sq[base + o[1]] - flat_sq[base + o[2]] + flat_sq[base + o[3]]
    nf = nw * nh * q - s * s
    nf = np.where(nf > 0, np.sqrt(np.maximum(nf, 1e-12)), 1.0)
    offsets = [
        (np.stack([r[:, 1] * stride + r[:, 0], r[:, 1] * stride + r[:, 0] + r[:, 2],
                   (r[:, 1] + r[:, 3]) * stride + r[:, 0], (r[:, 1] + r[:, 3]) * stride + r[:, 0] + r[:, 2]],
                  axis=1).astype(np.int64), r[:, 4])
        for r in casc.rects
    ]
    cache: dict[int, np.ndarray] = {}

    def feature(idx: int, b: np.ndarray, norm: np.ndarray) -> np.ndarray:
        offs, weights = offsets[idx]
        val = np.zeros(len(b))
        for (o0, o1, o2, o3), wgt in zip(offs, weights, strict=True):
            val += wgt * (flat[b + o0] - flat[b + o1] - flat[b + o2] + flat[b + o3])
        return val / norm

    for thr, weaks in casc.stages:
        if len(base) == 0:
            break
        cache.clear()
        total = np.zeros(len(base))
        for weak in weaks:
            if len(weak.features) == 1:  # a stump: one feature, two leaves
                val = feature(int(weak.features[0]), base, nf)
                total += np.where(val < weak.thresholds[0], weak.leaves[0], weak.leaves[1])
                continue
            node = np.zeros(len(base), int)
            out = np.full(len(base), np.nan)
            for _ in range(len(weak.features) + 1):
                active = np.isnan(out)
                if not active.any():
                    break
                for n_idx in np.unique(node[active]):
                    sel = active & (node == n_idx)
                    val = feature(int(weak.features[n_idx]), base[sel], nf[sel])
                    nxt = np.where(val < weak.thresholds[n_idx], weak.lefts[n_idx], weak.rights[n_idx])
                    leaf = nxt <= 0
                    idx = np.nonzero(sel)[0]
                    out[idx[leaf]] = weak.leaves[-nxt[leaf]]
                    node[idx[~leaf]] = nxt[~leaf]
            total += out
        keep = total >= thr
        base, nf = base[keep], nf[keep]
    return np.stack([base % stride, base // stride], axis=1)


def _is_stump_cascade(casc: Cascade) -> bool:
    return all(len(w.features) == 1 for _, weaks in casc.stages for w in weaks)


@functools.lru_cache(maxsize=8)
def _stump_tables(casc: Cascade) -> tuple[np.ndarray, list[tuple[float, np.ndarray, np.ndarray, np.ndarray,
                                                                 np.ndarray]]]:
    """Rect table (features × 3 × 5, zero-padded) and per stage: threshold, feature ids, node thresholds,
    left and right leaf values."""
    table = np.zeros((len(casc.rects), 3, 5))
    for i, r in enumerate(casc.rects):
        table[i, :len(r)] = r[:3]
    stages = []
    for thr, weaks in casc.stages:
        stages.append((thr, np.array([int(w.features[0]) for w in weaks]), np.array([w.thresholds[0] for w in weaks]),
                       np.array([w.leaves[0] for w in weaks]), np.array([w.leaves[1] for w in weaks])))
    return table, stages


def _evaluate_pyramid(casc: Cascade, gray: np.ndarray, scale_factor: float, min_size: int, max_size: int
                      ) -> list[tuple[int, int, int, int]]:
    """All scales at once: the integral images of the pyramid are concatenated so that every stage is one
    vectorised step over every window of every scale (numpy overhead per stage, not per window)."""
    table, stages = _stump_tables(casc)
    h, w = gray.shape
    flats, sqs, bases, strides, factors = [], [], [], [], []
    offset = 0
    factor = 1.0
    while True:
        win_w = round(casc.width * factor)
        sw, sh = round(w / factor), round(h / factor)
        if sw < casc.width + 2 or sh < casc.height + 2 or (max_size and win_w > max_size):
            break
        if win_w >= min_size:
            small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_LINEAR) if factor != 1.0 else gray
            ii, sq = cv2.integral2(small, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
            step = 1 if factor > 2 else 2
            ys, xs = np.mgrid[0:sh - casc.height:step, 0:sw - casc.width:step]
            stride = sw + 1
            b = (ys * stride + xs).ravel() + offset
            flats.append(ii.ravel())
            sqs.append(sq.ravel())
            bases.append(b)
            strides.append(np.full(len(b), stride))
            factors.append(np.full(len(b), factor))
            offset += ii.size
        factor *= scale_factor
    if not bases:
        return []
    flat, flat_sq = np.concatenate(flats), np.concatenate(sqs)
    base, stride, fac = np.concatenate(bases), np.concatenate(strides), np.concatenate(factors)
    nw, nh = casc.width - 2, casc.height - 2

    def rect_sum(arr: np.ndarray, b: np.ndarray, st: np.ndarray, x: np.ndarray, y: np.ndarray,
                 rw: np.ndarray, rh: np.ndarray) -> np.ndarray:
        i0 = b + y * st + x
        return arr[i0] - arr[i0 + rw] - arr[i0 + rh * st] + arr[i0 + rh * st + rw]

    one = np.ones(1, int)
    s = rect_sum(flat, base, stride, one, one, one * nw, one * nh)
    q = rect_sum(flat_sq, base, stride, one, one, one * nw, one * nh)
    nf = nw * nh * q - s * s
    nf = np.where(nf > 0, np.sqrt(np.maximum(nf, 1e-12)), 1.0)
    for thr, feats, node_thr, left, right in stages:
        if len(base) == 0:
            break
        rects = table[feats]  # (n, 3, 5)
        rx, ry, rw, rh = (rects[:, :, k].astype(np.int64) for k in range(4))
        wt = rects[:, :, 4]
        used = np.nonzero(np.any(wt != 0, axis=0))[0]  # rect slots some feature of this stage uses
        rx, ry, rw, rh, wt = rx[:, used], ry[:, used], rw[:, used], rh[:, used], wt[:, used]
        keep = np.empty(len(base), bool)
        # candidates of one pyramid level share a stride: the corner offsets are computed once per level
        for st_value in np.unique(stride):
            sel = np.nonzero(stride == st_value)[0]
            o0 = ry * st_value + rx
            o1, o2 = o0 + rw, o0 + rh * st_value
            o3 = o2 + rw
            chunk = max(1, 2_000_000 // o0.size)
            for a in range(0, len(sel), chunk):
                idx = sel[a:a + chunk]
                b = base[idx, None, None]
                sums = flat[b + o0] - flat[b + o1] - flat[b + o2] + flat[b + o3]
                val = np.einsum("cnr,nr->cn", sums, wt) / nf[idx, None]
                total = np.where(val < node_thr, left, right).sum(axis=1)
                keep[idx] = total >= thr
        base, stride, fac, nf = base[keep], stride[keep], fac[keep], nf[keep]
    hits = []
    starts = np.cumsum([0] + [f.size for f in flats])
    for b, st, f in zip(base, stride, fac, strict=True):
        level = int(np.searchsorted(starts, b, side="right") - 1)
        local = b - starts[level]
        hits.append((round(local % st * f), round(local // st * f), round(casc.width * f),
                     round(casc.height * f)))
    return hits


def group_rectangles(rects: list[tuple[int, int, int, int]], min_neighbors: int, eps: float = 0.2
                     ) -> list[tuple[int, int, int, int, int]]:
    """OpenCV ``groupRectangles``: cluster similar boxes, keep clusters with > min_neighbors, average them.

    Returns (x, y, w, h, neighbours).
    """
    n = len(rects)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            a, b = rects[i], rects[j]
            delta = eps * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
            if (abs(a[0] - b[0]) <= delta and abs(a[1] - b[1]) <= delta
                    and abs(a[0] + a[2] - b[0] - b[2]) <= delta and abs(a[1] + a[3] - b[1] - b[3]) <= delta):
                parent[find(i)] = find(j)
    clusters: dict[int, list[tuple[int, int, int, int]]] = {}
    for i in range(n):
        clusters.setdefault(find(i), []).append(rects[i])
    out = []
    for members in clusters.values():
        if len(members) <= min_neighbors:
            continue
        arr = np.array(members, np.float64).mean(axis=0)
        out.append((round(arr[0]), round(arr[1]), round(arr[2]), round(arr[3]), len(members)))
    # drop boxes inside a stronger one (as OpenCV does)
    final = []
    for r in out:
        inside = any(
            o is not r and o[4] >= max(3, r[4]) and r[0] >= o[0] - 0.2 * o[2] and r[1] >= o[1] - 0.2 * o[3]
            and r[0] + r[2] <= o[0] + 1.2 * o[2] and r[1] + r[3] <= o[1] + 1.2 * o[3]
            for o in out
        )
        if not inside:
            final.append(r)
    return final


def detect(gray: np.ndarray, cascade_name: str, *, scale_factor: float = 1.1, min_neighbors: int = 3,
           min_size: int = 0, max_size: int = 0) -> list[tuple[int, int, int, int, int]]:
    """Objects found by a cascade in a grayscale image: (x, y, w, h, neighbours), biggest first."""
    path = find_cascade(cascade_name)
    classifier = getattr(cv2, "CascadeClassifier", None)
    if classifier is not None:  # OpenCV 4 or a contrib build: the native implementation
        found = classifier(path).detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                                  minSize=(min_size, min_size))
        boxes = [(int(x), int(y), int(w), int(h), min_neighbors + 1) for x, y, w, h in found]
        return sorted(boxes, key=lambda b: -b[2] * b[3])
    casc = load_cascade(path)
    gray = np.ascontiguousarray(gray, np.uint8)
    # Decision: search from the smallest size asked for, not from the cascade's 24 px: pre-shrink the image
    # so min_size maps to ~1.25 windows (a portrait's face is big; this is what keeps numpy fast enough).
    pre = max(1.0, min_size / (casc.width * 1.25)) if min_size else 1.0
    if pre > 1.0:
        gray = cv2.resize(gray, (max(1, round(gray.shape[1] / pre)), max(1, round(gray.shape[0] / pre))),
                          interpolation=cv2.INTER_AREA)
        boxes = detect(gray, cascade_name, scale_factor=scale_factor, min_neighbors=min_neighbors,
                       min_size=0, max_size=round(max_size / pre) if max_size else 0)
        return [(round(x * pre), round(y * pre), round(bw * pre), round(bh * pre), nb)
                for x, y, bw, bh, nb in boxes]
    h, w = gray.shape
    gray = cv2.equalizeHist(gray)  # as the cascades were trained
    if _is_stump_cascade(casc):
        boxes = group_rectangles(_evaluate_pyramid(casc, gray, scale_factor, min_size, max_size), min_neighbors)
        return sorted(boxes, key=lambda b: -b[2] * b[3])
    hits: list[tuple[int, int, int, int]] = []
    factor = 1.0
    while True:
        win_w, win_h = round(casc.width * factor), round(casc.height * factor)
        sw, sh = round(w / factor), round(h / factor)
        if sw < casc.width + 2 or sh < casc.height + 2 or (max_size and win_w > max_size):
            break
        if win_w >= min_size:
            small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_LINEAR) if factor != 1.0 else gray
            step = 1 if factor > 2 else 2
            for x, y in _evaluate(casc, small, step):
                hits.append((round(x * factor), round(y * factor), win_w, win_h))
        factor *= scale_factor
    boxes = group_rectangles(hits, min_neighbors)
    return sorted(boxes, key=lambda b: -b[2] * b[3])
