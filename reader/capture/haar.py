"""Face and eye detection with OpenCV's own Haar cascades (``cv2.CascadeClassifier`` and the trained
cascade files shipped in the wheel as ``cv2.data.haarcascades``).

Decision: the project pins ``opencv-python-headless`` to the 4.x line. OpenCV 5 moved
``CascadeClassifier`` to opencv_contrib and dropped ``cv2.data``; rather than re-implement the
detector, we stay on the release that ships it (4.x is maintained alongside 5.x).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np


class CascadeNotFoundError(FileNotFoundError):
    """The cascade XML is not installed (it comes with opencv-python-headless 4.x: ``cv2.data``)."""


def find_cascade(name: str) -> str:
    """Path of a cascade file: ``$CANCUOC_CASCADE_DIR`` first, then ``cv2.data.haarcascades``."""
    dirs: list[str] = []
    if os.environ.get("CANCUOC_CASCADE_DIR"):
        dirs.append(os.environ["CANCUOC_CASCADE_DIR"])
    data = getattr(cv2, "data", None)
    if data is not None and getattr(data, "haarcascades", None):
        dirs.append(data.haarcascades)
    for d in dirs:
        path = Path(d) / name
        if path.is_file():
            return str(path)
    raise CascadeNotFoundError(f"{name} not found (opencv-python-headless 4.x ships it in cv2.data)")


@functools.lru_cache(maxsize=8)
def _classifier(path: str) -> cv2.CascadeClassifier:
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise CascadeNotFoundError(f"{path} is not a cascade OpenCV can load")
    return classifier


def detect(gray: np.ndarray, cascade_name: str, *, scale_factor: float = 1.1, min_neighbors: int = 3,
           min_size: int = 0, max_size: int = 0) -> list[tuple[int, int, int, int, int]]:
    """Objects found by a cascade in a grayscale image: (x, y, w, h, neighbours), biggest first.

    ``neighbours`` is the number of raw detections merged into the box (OpenCV's ``numDetections`` from
    ``detectMultiScale2``): how sure the detector is, which the portrait rules threshold."""
    classifier = _classifier(find_cascade(cascade_name))
    found, counts = classifier.detectMultiScale2(
        np.ascontiguousarray(gray, np.uint8), scaleFactor=scale_factor, minNeighbors=min_neighbors,
        minSize=(min_size, min_size), maxSize=(max_size, max_size) if max_size else (0, 0))
    boxes = [(int(x), int(y), int(w), int(h), int(n)) for (x, y, w, h), n in zip(found, counts, strict=True)]
    return sorted(boxes, key=lambda b: -b[2] * b[3])
