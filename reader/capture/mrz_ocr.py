"""MRZ (TD1, 3 × 30) from a photo of a card back: locate, rectify, segment, classify (OCR-B), verify.

Steps:

1. find the card's outline and undo the perspective to a canonical ID-1 image (or, failing that, deskew
   the whole image on its text lines);
2. find three consecutive text rows of about 30 evenly pitched glyphs (ICAO 9303-3 §4.1: 10 characters per
   inch, so the pitch is known relative to the card width);
3. fit a 30-cell grid on each row and classify every cell with :mod:`reader.capture.ocrb`;
4. decode each position within the characters its TD1 field allows (ICAO 9303-5 §4.2.2, VN_CARD.md "MRZ"),
   then verify the check digits (ICAO 9303-3 §4.9) and correct a character only where one substitution,
   among the classifier's runners-up and the common confusions (0/O, 1/I, 8/B, 5/S, 2/Z), makes a failing
   check digit hold — a correction is never made on a guess the check digits cannot prove.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from reader.capture import _vn
from reader.capture.errors import (
    MRZ_CHECK_DIGIT,
    MRZ_FORMAT,
    MRZ_LOW_CONFIDENCE,
    MRZ_NOT_FOUND,
    MRZ_SEGMENTATION,
    MRZReadError,
)
from reader.capture.images import to_gray
from reader.capture.ocrb import MRZ_ALPHABET, classify, normalize_glyph

ID1_ASPECT = 85.60 / 53.98
CARD_W = 1200  # canonical card width in px after rectification (≈ 14 px/mm; MRZ pitch ≈ 35.6 px)
MRZ_LINE_PITCH_RATIO = 4.0 / 2.54  # line spacing / character pitch of a TD1 MRZ (as card_face prints it)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
FILLER = "<"
ALNUM = LETTERS + DIGITS
CONFUSIONS = {"0": "OQD", "O": "0Q", "Q": "O0", "D": "0", "1": "I", "I": "1", "8": "B", "B": "8",
              "5": "S", "S": "5", "2": "Z", "Z": "2", "6": "G", "G": "6"}
_INDEX = {c: i for i, c in enumerate(MRZ_ALPHABET)}


def _allowed_td1(vn: bool) -> list[list[str]]:
    """Characters allowed at each TD1 position (ICAO 9303-5 §4.2.2); ``vn`` tightens to VN_CARD.md's rules."""
    l1 = [LETTERS, LETTERS + FILLER, LETTERS, LETTERS, LETTERS]
    # Decision: with issuing state VNM the document number is ID digits 4-12 and the optional data is the
    # 12-digit ID, "<<", and its check digit (VN_CARD.md); other states get ICAO's generic alphanumerics.
    l1 += [DIGITS] * 9 if vn else [ALNUM + FILLER] * 9
    l1 += [DIGITS]
    l1 += ([DIGITS] * 12 + [FILLER, FILLER, DIGITS]) if vn else [ALNUM + FILLER] * 15
    l2 = [DIGITS] * 7 + ["MF" + FILLER] + [DIGITS] * 7 + [LETTERS] * 3
    l2 += [FILLER] * 11 if vn else [ALNUM + FILLER] * 11
    l2 += [DIGITS]
    l3 = [LETTERS + FILLER] * 30
    return [l1, l2, l3]


def _checks(vn: bool) -> list[tuple[str, list[tuple[int, int]], tuple[int, int]]]:
    """(name, data positions, check-digit position) for TD1 (ICAO 9303-5 §4.2.2) plus VN's ID check digit."""
    def span(line: int, a: int, b: int) -> list[tuple[int, int]]:
        return [(line, i) for i in range(a, b)]

    checks = [
        ("document_number", span(0, 5, 14), (0, 14)),
        ("date_of_birth", span(1, 0, 6), (1, 6)),
        ("date_of_expiry", span(1, 8, 14), (1, 14)),
        ("composite", span(0, 5, 30) + span(1, 0, 7) + span(1, 8, 15) + span(1, 18, 29), (1, 29)),
    ]
    if vn:
        checks.append(("personal_id", span(0, 15, 27), (0, 29)))
    return checks


@dataclass(frozen=True)
class MRZReading:
    """An MRZ read from an image whose check digits all hold."""

    lines: tuple[str, str, str] = field(repr=False)
    confidence: float  # 0..1: the lowest per-glyph similarity after decoding
    corrections: int  # characters changed because a check digit proved them
    method: str  # "card" (outline rectified) or "deskew" (whole image)

    def __repr__(self) -> str:
        return (f"MRZReading(confidence={self.confidence:.2f}, corrections={self.corrections}, "
                f"method={self.method!r}, <redacted>)")


# --------------------------------------------------------------------------------------------- geometry

def _order_quad(pts: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left, long side first."""
    pts = pts.astype(np.float32).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise from the left-most-upper in image coords
    start = int(np.argmin(pts.sum(axis=1)))
    pts = np.roll(pts, -start, axis=0)
    if np.linalg.norm(pts[1] - pts[0]) < np.linalg.norm(pts[3] - pts[0]):
        pts = np.roll(pts, -1, axis=0)  # portrait-held card: make the long edge the top
    return pts


def find_card_quads(gray: np.ndarray) -> list[np.ndarray]:
    """Candidate card outlines (4 corners, image coordinates), best first."""
    h, w = gray.shape
    scale = 800 / max(h, w) if max(h, w) > 800 else 1.0
    small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    masks = []
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    masks.append(otsu)
    edges = cv2.Canny(blur, 30, 90)
    masks.append(cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=2))
    quads: list[tuple[float, np.ndarray]] = []
    area_img = small.shape[0] * small.shape[1]
    for mask in masks:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for cnt in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            area = cv2.contourArea(cnt)
            if area < 0.12 * area_img or area > 0.98 * area_img:
                continue
            hull = cv2.convexHull(cnt)
            peri = cv2.arcLength(hull, True)
            approx = None
            for eps in (0.02, 0.03, 0.05):
                cand = cv2.approxPolyDP(hull, eps * peri, True)
                if len(cand) == 4:
                    approx = cand
                    break
            if approx is None:
                rect = cv2.minAreaRect(hull)
                if area / max(rect[1][0] * rect[1][1], 1) < 0.85:
                    continue
                approx = cv2.boxPoints(rect)
            quad = _order_quad(np.asarray(approx, np.float32)) / scale
            quads.append((area, quad))
    quads.sort(key=lambda t: -t[0])
    return [q for _, q in quads]


def rectify_card(gray: np.ndarray, quad: np.ndarray) -> np.ndarray:
    height = round(CARD_W / ID1_ASPECT)
    dst = np.array([[0, 0], [CARD_W - 1, 0], [CARD_W - 1, height - 1], [0, height - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(gray, matrix, (CARD_W, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


def _deskew(gray: np.ndarray) -> np.ndarray:
    """Rotate so the dominant text lines are horizontal (for images where no card outline is found)."""
    h, w = gray.shape
    scale = CARD_W / w
    img = cv2.resize(gray, (CARD_W, max(MIN_ROWS_PX, round(h * scale))), interpolation=cv2.INTER_AREA)
    ink = _ink_mask(img)
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (41, 3)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for cnt in contours:
        rect = cv2.minAreaRect(cnt)
        rw, rh = max(rect[1]), min(rect[1])
        if rw > 8 * max(rh, 1) and rw > 0.25 * CARD_W:
            box = cv2.boxPoints(rect)
            edges = [box[(i + 1) % 4] - box[i] for i in range(4)]
            dx, dy = max(edges, key=lambda e: float(np.hypot(*e)))
            angle = float(np.degrees(np.arctan2(dy, dx)))
            angle = (angle + 90) % 180 - 90  # the long edge's direction, in (-90, 90]
            if abs(angle) < 45:
                angles.append(angle)
                weights.append(rw)
    if not angles:
        return img
    angle = float(np.average(angles, weights=weights))
    if abs(angle) < 0.3:
        return img
    m = cv2.getRotationMatrix2D((img.shape[1] / 2, img.shape[0] / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


MIN_ROWS_PX = 120


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark ink on a light card: local (adaptive) threshold, robust to glare and shading."""
    den = cv2.GaussianBlur(gray, (3, 3), 0)
    return cv2.adaptiveThreshold(den, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 51, 18)


# ------------------------------------------------------------------------------------------ segmentation

@dataclass
class _Row:
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h of glyph components
    top: int
    bottom: int

    @property
    def yc(self) -> float:
        return (self.top + self.bottom) / 2


def _rows(ink: np.ndarray, pitch: float) -> list[_Row]:
    """Text rows made of glyph-sized components (height ≈ the MRZ character height)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if 0.45 * pitch <= h <= 1.6 * pitch and w <= 2.6 * pitch and area >= 0.02 * pitch * pitch:
            boxes.append((int(x), int(y), int(w), int(h)))
    boxes.sort(key=lambda b: b[1] + b[3] / 2)
    rows: list[_Row] = []
    for b in boxes:
        yc = b[1] + b[3] / 2
        for row in rows:
            if abs(row.yc - yc) < 0.45 * pitch:
                row.boxes.append(b)
                row.top = min(row.top, b[1])
                row.bottom = max(row.bottom, b[1] + b[3])
                break
        else:
            rows.append(_Row([b], b[1], b[1] + b[3]))
    return [r for r in rows if len(r.boxes) >= 12]


def _grid(row: _Row, pitch0: float) -> np.ndarray | None:
    """Centres of the row's 30 cells from a least-squares fit of x = x0 + k·pitch on single-glyph boxes."""
    boxes = sorted(row.boxes)
    heights = np.array([b[3] for b in boxes])
    hmed = float(np.median(heights))
    # single glyphs: full height, not wider than a cell, not a sliver (card edges, scratches)
    singles = [b for b in boxes if b[3] >= 0.55 * hmed and 0.2 * hmed <= b[2] <= 1.2 * pitch0]
    if len(singles) < 10:
        return None
    cx = np.array([b[0] + b[2] / 2 for b in singles])
    # the median centre as the origin: a stray mark at either end cannot shift the whole grid
    ref = cx[len(cx) // 2]
    ks = np.round((cx - ref) / pitch0)
    for _ in range(3):
        a = np.vstack([np.ones_like(ks), ks]).T
        (x0, p), *_ = np.linalg.lstsq(a, cx, rcond=None)
        resid = np.abs(cx - (x0 + p * ks))
        inliers = resid < 0.3 * p
        if inliers.sum() >= 10 and not inliers.all():
            cx, ks = cx[inliers], ks[inliers]
            (x0, p), *_ = np.linalg.lstsq(np.vstack([np.ones_like(ks), ks]).T, cx, rcond=None)
        ks = np.round((cx - x0) / p)
    kmin, kmax = int(ks.min()), int(ks.max())
    if kmax - kmin + 1 < 28 or not 0.8 * pitch0 < p < 1.25 * pitch0:
        return None
    if kmax - kmin + 1 > 30:
        # stray marks beside the zone: keep the 30-cell window holding the most glyphs
        best = max(range(kmin, kmax - 28), key=lambda s: int(((ks >= s) & (ks < s + 30)).sum()))
        kmin = best
    elif kmax - kmin + 1 < 30:
        return None  # a glyph at an end is missing: we cannot tell which end
    return x0 + p * (np.arange(30) + kmin)


def _cells(gray: np.ndarray, ink: np.ndarray, row: _Row, centres: np.ndarray, pitch: float) -> np.ndarray:
    """Feature vectors of the 30 cells of a row."""
    top = max(0, row.top - int(0.15 * pitch))
    bottom = min(ink.shape[0], row.bottom + int(0.15 * pitch))
    band = cv2.GaussianBlur(gray[top:bottom], (3, 3), 0)
    adaptive = ink[top:bottom]
    vecs = []
    half = pitch / 2
    for c in centres:
        a, b = max(0, round(c - half)), min(band.shape[1], round(c + half))
        # Otsu within each cell: glyph against its own background, whatever the light is there
        _, local = cv2.threshold(band[:, a:b], 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        cell = _main_glyph(cv2.bitwise_and(local, adaptive[:, a:b]))
        if cell is None:
            cell = _main_glyph(adaptive[:, a:b])
        vec = normalize_glyph(cell) if cell is not None else None
        if vec is None:
            raise MRZReadError("an MRZ cell holds no glyph", code=MRZ_SEGMENTATION)
        vecs.append(vec)
    return np.stack(vecs)


def _main_glyph(cell: np.ndarray) -> np.ndarray | None:
    """Keep the components of a cell that belong to its glyph (drop slivers of the neighbours and specks)."""
    if cell.size == 0:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cell, connectivity=8)
    if n <= 1:
        return None
    w = cell.shape[1]
    keep = np.zeros(n, bool)
    largest = stats[1:, cv2.CC_STAT_AREA].max()
    for i in range(1, n):
        x, _, cw, _, area = stats[i]
        touches_edge = x == 0 or x + cw >= w
        central = x < 0.75 * w and x + cw > 0.25 * w
        if area >= 0.12 * largest and central and (not touches_edge or area >= 0.5 * largest):
            keep[i] = True
    if not keep.any():
        return None
    return (keep[labels] * 255).astype(np.uint8)


# -------------------------------------------------------------------------------- decoding and checking

def _decode(scores: np.ndarray, allowed: list[list[str]]) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Best allowed character per position, plus ranked alternatives (runners-up and confusions)."""
    lines, alts = [], []
    for li in range(3):
        line, line_alts = [], []
        for pi in range(30):
            chars = allowed[li][pi]
            ranked = sorted(chars, key=lambda c: -scores[li, pi, _INDEX[c]])
            best = ranked[0]
            near = [c for c in ranked[1:4] if scores[li, pi, _INDEX[c]] >= scores[li, pi, _INDEX[best]] - 0.2]
            conf = [c for c in CONFUSIONS.get(best, "") if c in chars and c not in near]
            line.append(best)
            line_alts.append(near + conf)
        lines.append(line)
        alts.append(line_alts)
    return lines, alts


def _check_ok(lines: list[list[str]], data: list[tuple[int, int]], check: tuple[int, int]) -> bool:
    digit = lines[check[0]][check[1]]
    if not digit.isdigit():
        return False
    return _vn.check_digit("".join(lines[li][pi] for li, pi in data)) == digit


def _correct(lines: list[list[str]], alts: list[list[list[str]]], scores: np.ndarray,
             checks: list[tuple[str, list[tuple[int, int]], tuple[int, int]]]) -> int:
    """Fix failing check-digit groups by the single substitution that makes them hold; return #changes."""
    changes = 0
    ordered = [c for c in checks if c[0] != "composite"] + [c for c in checks if c[0] == "composite"]
    for name, data, check in ordered:
        if _check_ok(lines, data, check):
            continue
        covered_elsewhere = set()
        if name == "composite":
            for other, odata, ocheck in checks:
                if other != "composite":
                    covered_elsewhere.update(odata)
                    covered_elsewhere.add(ocheck)
        fixes = []
        for li, pi in [*data, check]:
            if (li, pi) in covered_elsewhere:
                continue  # already proven by its own check digit
            original = lines[li][pi]
            for alt in alts[li][pi]:
                lines[li][pi] = alt
                if _check_ok(lines, data, check):
                    cost = float(scores[li, pi, _INDEX[original]] - scores[li, pi, _INDEX[alt]])
                    fixes.append((cost, li, pi, alt))
                lines[li][pi] = original
        if not fixes:
            raise MRZReadError(f"check digit of {name} fails and no single correction fixes it",
                               code=MRZ_CHECK_DIGIT)
        fixes.sort()
        if len(fixes) > 1 and fixes[1][0] - fixes[0][0] < 0.02:
            raise MRZReadError(f"check digit of {name} fails and the correction is ambiguous",
                               code=MRZ_CHECK_DIGIT)
        _, li, pi, alt = fixes[0]
        lines[li][pi] = alt
        changes += 1
    for name, data, check in checks:
        if not _check_ok(lines, data, check):
            raise MRZReadError(f"check digit of {name} fails", code=MRZ_CHECK_DIGIT)
    return changes


def _flatten(gray: np.ndarray, pitch: float) -> np.ndarray:
    """Divide out the illumination (shading, glare): a grey closing wider than a glyph removes the dark ink
    and leaves the local background level, by which each pixel is divided."""
    k = int(pitch * 1.3) | 1
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    background = cv2.GaussianBlur(background, (0, 0), pitch / 4)
    flat = cv2.divide(gray.astype(np.float32), np.maximum(background.astype(np.float32), 1.0), scale=235.0)
    return np.clip(flat, 0, 255).astype(np.uint8)


def _read_rows(gray: np.ndarray, pitch: float) -> tuple[np.ndarray, list[_Row]]:
    gray = _flatten(gray, pitch)
    ink = _ink_mask(gray)
    rows = _rows(ink, pitch)
    good = []
    for row in rows:
        centres = _grid(row, pitch)
        if centres is not None:
            good.append((row, centres))
    # the MRZ: three consecutive rows, evenly spaced, aligned, lowest on the card
    for i in range(len(good) - 3, -1, -1):
        trio = good[i:i + 3]
        gaps = [trio[1][0].yc - trio[0][0].yc, trio[2][0].yc - trio[1][0].yc]
        if not all(1.0 * pitch < g < 2.4 * pitch for g in gaps) or abs(gaps[0] - gaps[1]) > 0.35 * pitch:
            continue
        if max(abs(t[1][0] - trio[0][1][0]) for t in trio) > 0.8 * pitch:
            continue
        feats = np.stack([_cells(gray, ink, row, centres, pitch) for row, centres in trio])
        return feats, [t[0] for t in trio]
    raise MRZReadError("no 3 × 30 MRZ band found", code=MRZ_NOT_FOUND)


def _glyph_chains(gray: np.ndarray) -> list[np.ndarray]:
    """Chains of glyph-like components, left to right, evenly pitched on one line (candidate MRZ lines).

    Each chain is an (n, 3) array of (x, y, height) glyph centres. A glyph links to the next one on its
    right at about one OCR-B pitch (≈ 1.05 × the capital height), at the same height and size.
    """
    ink = cv2.adaptiveThreshold(cv2.GaussianBlur(gray, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                cv2.THRESH_BINARY_INV, 31, 15)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hs = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    ws = stats[1:, cv2.CC_STAT_WIDTH].astype(np.float64)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    ok = (hs >= 8) & (hs <= 120) & (ws <= 1.6 * hs) & (areas >= 0.06 * hs * hs)
    idx = np.nonzero(ok)[0]
    if len(idx) < 30 or len(idx) > 20_000:
        return []
    # a glyph's box centre (not the ink centroid: '<' and '7' lean) and height
    pts = np.stack([stats[1:, 0][idx] + ws[idx] / 2, stats[1:, 1][idx] + hs[idx] / 2, hs[idx]], axis=1)
    del centroids, n
    order = np.argsort(pts[:, 0])
    pts = pts[order]
    xs = pts[:, 0]
    nxt = np.full(len(pts), -1)
    for i, (x, y, hgt) in enumerate(pts):
        lo, hi = np.searchsorted(xs, [x + 0.6 * hgt, x + 1.7 * hgt])
        best, best_d = -1, 1e9
        for j in range(lo, hi):
            xj, yj, hj = pts[j]
            if abs(yj - y) < 0.35 * hgt and 0.7 * hgt < hj < 1.4 * hgt:
                d = abs(xj - x - 1.05 * hgt) + abs(yj - y)
                if d < best_d:
                    best, best_d = j, d
        nxt[i] = best
    has_prev = np.zeros(len(pts), bool)
    has_prev[nxt[nxt >= 0]] = True
    chains = []
    for start in np.nonzero(~has_prev)[0]:
        chain = [start]
        while nxt[chain[-1]] >= 0 and len(chain) < 40:
            chain.append(nxt[chain[-1]])
        if len(chain) >= 26:
            chains.append(pts[chain])
    return chains


def _mrz_band_views(gray: np.ndarray, pitch: float) -> Iterator[np.ndarray]:
    """Views rectified on the MRZ itself: three parallel, evenly spaced glyph chains of about 30 glyphs give
    the homography to a canonical MRZ block, whatever the card's outline or background (a white desk)."""
    h, w = gray.shape
    scale = 1600 / max(h, w) if max(h, w) > 1600 else 1.0
    small = gray if scale == 1.0 else cv2.resize(gray, (round(w * scale), round(h * scale)),
                                                 interpolation=cv2.INTER_AREA)
    chains = sorted(_glyph_chains(small), key=lambda c: float(c[:, 1].mean()))
    line_pitch = pitch * MRZ_LINE_PITCH_RATIO
    used = 0
    for i in range(len(chains) - 2):
        trio = chains[i:i + 3]
        spans = [c[-1, :2] - c[0, :2] for c in trio]
        lengths = [float(np.linalg.norm(v)) for v in spans]
        if max(lengths) > 1.15 * min(lengths):
            continue
        dirs = [v / max(n, 1e-6) for v, n in zip(spans, lengths, strict=True)]
        if min(float(np.dot(dirs[0], d)) for d in dirs[1:]) < 0.995:
            continue
        mids = [c[:, :2].mean(axis=0) for c in trio]
        gaps = [float(np.linalg.norm(mids[1] - mids[0])), float(np.linalg.norm(mids[2] - mids[1]))]
        hgt = float(np.median(trio[0][:, 2]))
        if abs(gaps[0] - gaps[1]) > 0.3 * max(gaps) or not 1.1 * hgt < gaps[0] < 2.5 * hgt:
            continue
        # first and last glyph centres of lines 1 and 3 → glyph 0 and glyph 29 of a canonical MRZ
        src = np.array([trio[0][0, :2], trio[0][-1, :2], trio[2][-1, :2], trio[2][0, :2]], np.float32) / scale
        left = 2 * pitch
        top = 1.5 * line_pitch
        x0, x1 = left + 0.5 * pitch, left + 29.5 * pitch
        dst = np.array([[x0, top], [x1, top], [x1, top + 2 * line_pitch], [x0, top + 2 * line_pitch]],
                       np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        size = (round(left * 2 + 30 * pitch), round(5 * line_pitch))
        yield cv2.warpPerspective(gray, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        used += 1
        if used == 2:
            return


def _candidates(gray: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    for quad in find_card_quads(gray)[:2]:
        card = rectify_card(gray, quad)
        yield "card", card
        yield "card", cv2.rotate(card, cv2.ROTATE_180)
    for band in _mrz_band_views(gray, CARD_W * 2.54 / 85.60):
        yield "band", band
        yield "band", cv2.rotate(band, cv2.ROTATE_180)
    whole = _deskew(gray)
    yield "deskew", whole
    yield "deskew", cv2.rotate(whole, cv2.ROTATE_180)


# Decision: a read whose glyphs resemble OCR-B this little (mean best similarity) is not an MRZ read the right
# way up; garbage could otherwise pass the check digits by way of corrections. Clean prints score ≈ 0.95,
# harsh photos ≈ 0.85, upside-down lines ≈ 0.7.
MIN_MEAN_SIMILARITY = 0.78
CLEAR_SIMILARITY = 0.86  # a first view this clear is verified without scoring its 180° twin


def _scored(view: np.ndarray, pitch: float) -> tuple[np.ndarray, float]:
    feats, _ = _read_rows(view, pitch)
    scores_flat, _ = classify(feats.reshape(90, -1))
    scores = scores_flat.reshape(3, 30, -1)
    return scores, float(scores.max(axis=2).mean())


def read_mrz(image: np.ndarray) -> MRZReading:
    """Read and verify the TD1 MRZ in a card-back photo (BGR or gray); raise :class:`MRZReadError`."""
    gray = to_gray(image)
    pitch = CARD_W * 2.54 / 85.60
    errors: list[MRZReadError] = []
    views = _candidates(gray)  # lazily: later (costlier) candidates only when earlier ones fail
    # each view comes with its 180° twin: a clear read of the first is verified at once; otherwise both are
    # scored and whichever reads more like OCR-B is tried first
    for first in views:
        twin = next(views, None)
        pair = []
        for k, (method, view) in enumerate(v for v in (first, twin) if v is not None):
            try:
                scores, quality = _scored(view, pitch)
            except MRZReadError as exc:
                errors.append(exc)
                continue
            if k == 0 and quality >= CLEAR_SIMILARITY:
                try:
                    return _verified(scores, method)
                except MRZReadError as exc:
                    errors.append(exc)
                    continue
            pair.append((quality, method, scores))
        for quality, method, scores in sorted(pair, key=lambda t: -t[0]):
            if quality < MIN_MEAN_SIMILARITY:
                errors.append(MRZReadError(f"MRZ glyphs unclear (similarity {quality:.2f})", code=MRZ_LOW_CONFIDENCE))
                continue
            try:
                return _verified(scores, method)
            except MRZReadError as exc:
                errors.append(exc)
    # report the failure that got furthest (a check digit that failed beats "nothing found")
    rank = {MRZ_CHECK_DIGIT: 0, MRZ_FORMAT: 1, MRZ_LOW_CONFIDENCE: 2, MRZ_SEGMENTATION: 3}
    errors.sort(key=lambda e: rank.get(e.code, 9))
    raise errors[0] if errors else MRZReadError("no MRZ found", code=MRZ_NOT_FOUND)


def _verified(scores: np.ndarray, method: str) -> MRZReading:
    provisional, _ = _decode(scores, _allowed_td1(False))
    vn = "".join(provisional[0][2:5]) == "VNM"
    lines, alts = _decode(scores, _allowed_td1(vn))
    changes = _correct(lines, alts, scores, _checks(vn))
    text = tuple("".join(line) for line in lines)
    try:
        _vn.parse_mrz(text)  # icao9303.mrz: every check digit, and VN's rules for a VNM card
    except _vn.MRZError as exc:
        raise MRZReadError(f"the MRZ read is not valid ({exc.reason})",
                           code=MRZ_CHECK_DIGIT if exc.reason == "mrz.check_digit" else MRZ_FORMAT) from exc
    confidence = float(min(scores[li, pi, _INDEX[lines[li][pi]]] for li in range(3) for pi in range(30)))
    return MRZReading((text[0], text[1], text[2]), max(0.0, min(1.0, confidence)), changes, method)


def _pitch_guess(view: np.ndarray, default: float) -> float:
    """Pitch for a deskewed whole image: assume it is mostly card (then pitch ≈ the canonical one)."""
    return default
