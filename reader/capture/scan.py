"""``scan_image``: the access key from a card photo (QR first, then MRZ), as one result with reason codes."""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import cv2
import numpy as np

from reader.capture import _vn
from reader.capture.errors import (
    QR_NOT_FOUND,
    QR_PAYLOAD_INVALID,
    SCAN_NOTHING_FOUND,
    CaptureError,
)
from reader.capture.images import ImageInput, load_image
from reader.capture.mrz_ocr import MRZReading, read_mrz
from reader.capture.qr_image import decode_qr
from reader.capture.qr_payload import AccessKeys, CardQR, derive_access_keys, parse_qr_payload

log = logging.getLogger(__name__)

SCAN_INTERNAL = "scan.internal_error"
SCAN_QR_MRZ_MISMATCH = "scan.qr_mrz_mismatch"
Mode = Literal["auto", "qr", "mrz", "all"]


class ScanKind(StrEnum):
    QR = "qr"
    MRZ = "mrz"


@dataclass(frozen=True)
class ScanFailure:
    """Why one stage did not produce a result: a stable ``code`` and a text free of personal data."""

    stage: str  # "image", "qr", "mrz", "scan"
    code: str
    detail: str


@dataclass(frozen=True)
class ScanResult:
    """What a card photo gave: the fields, the derived access keys, and every failure with its code.

    ``ok`` is True when a QR payload parsed or an MRZ passed all its check digits. ``kind`` says which one
    supplied ``fields`` (with ``mode="all"`` the MRZ's real expiry replaces the QR's derived one).
    """

    source: str
    ok: bool
    kind: ScanKind | None
    fields: dict[str, str] = field(default_factory=dict)
    access_keys: AccessKeys | None = None
    confidence: float = 0.0
    failures: tuple[ScanFailure, ...] = ()
    methods: dict[str, str] = field(default_factory=dict)  # stage → how it was found ("plain", "card", ...)
    seconds: float = 0.0

    def __repr__(self) -> str:  # fields and keys are personal data / secrets: never in reprs or logs
        codes = [f.code for f in self.failures]
        kind = self.kind.value if self.kind else None
        return f"ScanResult(ok={self.ok}, kind={kind!r}, failures={codes}, <redacted>)"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.failures)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "ok": self.ok,
            "kind": self.kind.value if self.kind else None,
            "fields": dict(self.fields),
            "access_keys": self.access_keys.as_dict() if self.access_keys else None,
            "confidence": round(self.confidence, 3),
            "failures": [{"stage": f.stage, "code": f.code, "detail": f.detail} for f in self.failures],
            "methods": dict(self.methods),
            "seconds": round(self.seconds, 4),
        }


def qr_fields(card: CardQR) -> dict[str, str]:
    return {
        "personal_id": card.personal_id,
        "cmnd": card.cmnd,
        "full_name": card.full_name,
        "date_of_birth": card.date_of_birth.isoformat(),
        "sex": card.sex,
        "address": card.address,
        "date_of_issue": card.date_of_issue.isoformat(),
        "generation": card.generation.value,
    }


def mrz_fields(lines: tuple[str, str, str]) -> dict[str, str]:
    """TD1 fields (ICAO 9303-5 §4.2.2, parsed by ``icao9303.mrz``) with VN's personal ID (VN_CARD.md)."""
    m = _vn.parse_mrz(lines)
    out = {
        "document_code": m.document_code,
        "issuing_state": m.issuing_state,
        "document_number": m.document_number,
        "sex": m.sex,
        "nationality": m.nationality,
        "surname": m.primary_identifier,
        "given_names": m.secondary_identifier,
        "full_name": m.name,
        "date_of_birth_mrz": m.date_of_birth,
        "date_of_expiry_mrz": m.date_of_expiry,
    }
    pid = m.personal_id
    birth = m.birth_date()
    if pid:
        out["personal_id"] = pid
        # Decision: the birth century comes from the personal ID's century digit (VN_CARD.md), not from a
        # pivot year: a 1925-born holder's "25" is unambiguous then.
        try:
            year = _vn.parse_personal_id(pid).birth_year
            birth = dt.date(year, int(m.date_of_birth[2:4]), int(m.date_of_birth[4:6]))
        except (_vn.PersonalIDError, ValueError):
            pass
    if birth:
        out["date_of_birth"] = birth.isoformat()
    expiry = m.expiry_date()
    out["date_of_expiry"] = expiry.isoformat() if expiry else ""
    out["no_expiry"] = "true" if m.date_of_expiry == _vn.NO_EXPIRY_YYMMDD else "false"
    return out


def mrz_access_keys(lines: tuple[str, str, str]) -> AccessKeys:
    m = _vn.parse_mrz(lines)
    pid = m.personal_id
    return AccessKeys(
        can=_vn.can_from_personal_id(pid) if pid else "",
        document_number=m.document_number,
        date_of_birth=m.date_of_birth,
        date_of_expiry=m.date_of_expiry,
        no_expiry=m.date_of_expiry == _vn.NO_EXPIRY_YYMMDD,
        expiry_derived=False,
    )


def _source_name(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return f"<{type(source).__name__}>"


def scan_image(source: ImageInput, *, mode: Mode = "auto") -> ScanResult:
    """Decode the card QR and/or the MRZ in a photo; never raises for bad input (see ``failures``).

    ``mode``: ``auto`` = QR, then the MRZ only if no card QR was read (QR preprocessing last);
    ``qr``/``mrz`` = that one only;
    ``all`` = both, the MRZ's printed expiry replacing the one derived from the QR, and a
    ``scan.qr_mrz_mismatch`` failure when the two disagree.
    """
    if mode not in ("auto", "qr", "mrz", "all"):
        raise ValueError(f"mode must be auto, qr, mrz or all, not {mode!r}")  # API misuse, not bad input
    start = time.perf_counter()
    name = _source_name(source)
    failures: list[ScanFailure] = []
    methods: dict[str, str] = {}

    def done(**kw: object) -> ScanResult:
        return ScanResult(source=name, failures=tuple(failures), methods=methods,
                          seconds=time.perf_counter() - start, **kw)  # type: ignore[arg-type]

    try:
        image = load_image(source)
    except CaptureError as exc:
        failures.append(ScanFailure("image", exc.code, exc.detail))
        return done(ok=False, kind=None)

    card: CardQR | None = None
    reading: MRZReading | None = None
    if mode == "auto":
        # Decision: QR as the image is, then the MRZ, and only then the costly QR preprocessing: a back
        # without a QR (2021) is read without paying for it; a QR too damaged to read plainly costs one
        # MRZ attempt more.
        card = _scan_qr(image, failures, methods, effort="quick", report=False)
        if card is None:
            reading = _scan_mrz(image, failures, methods)
            if reading is not None and not any(f.stage == "qr" for f in failures):
                failures.insert(0, ScanFailure("qr", QR_NOT_FOUND, "no QR code found"))
        if card is None and reading is None:
            card = _scan_qr(image, failures, methods, effort="full")
    else:
        if mode in ("qr", "all"):
            card = _scan_qr(image, failures, methods, effort="full")
        if mode in ("mrz", "all"):
            reading = _scan_mrz(image, failures, methods)

    if card is not None:
        fields = qr_fields(card)
        keys = derive_access_keys(card)
        mismatch = False
        if reading is not None:
            mf = mrz_fields(reading.lines)
            mk = mrz_access_keys(reading.lines)
            mismatch = mf.get("personal_id") != card.personal_id or mk.date_of_birth != keys.date_of_birth
            if mismatch:
                # Decision: never mix two documents' data; keep the QR's fields and derived keys.
                failures.append(ScanFailure("scan", SCAN_QR_MRZ_MISMATCH,
                                            "the QR and the MRZ on this card disagree"))
        if reading is not None and not mismatch:
            fields["date_of_expiry"] = mf.get("date_of_expiry", "")
            fields["document_number"] = mk.document_number
            keys = AccessKeys(keys.can, mk.document_number, mk.date_of_birth, mk.date_of_expiry,
                              mk.no_expiry, expiry_derived=False)
        else:
            fields["date_of_expiry"] = "" if keys.no_expiry else _expiry_iso(keys.date_of_expiry)
            fields["document_number"] = keys.document_number
        fields["no_expiry"] = "true" if keys.no_expiry else "false"
        return done(ok=True, kind=ScanKind.QR, fields=fields, access_keys=keys, confidence=1.0)
    if reading is not None:
        return done(ok=True, kind=ScanKind.MRZ, fields=mrz_fields(reading.lines),
                    access_keys=mrz_access_keys(reading.lines), confidence=reading.confidence)
    # the summary code of every image that was readable but gave no access key, after the stages' own codes
    failures.append(ScanFailure("scan", SCAN_NOTHING_FOUND, "no card QR or MRZ could be read"))
    return done(ok=False, kind=None)


def _expiry_iso(yymmdd: str) -> str:
    try:
        return dt.date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])).isoformat()
    except ValueError:
        return ""


def _scan_qr(image: np.ndarray, failures: list[ScanFailure], methods: dict[str, str], *, effort: str,
             report: bool = True) -> CardQR | None:
    """The card QR, or None with the reason appended to ``failures`` (unless ``report`` is False and no QR
    was seen: a quick first look that a later full attempt will report)."""
    try:
        decodes = decode_qr(image, effort=effort)
    except (cv2.error, ValueError, MemoryError) as exc:
        log.debug("QR stage failed: %s", type(exc).__name__)
        failures.append(ScanFailure("qr", SCAN_INTERNAL, f"QR decoding failed ({type(exc).__name__})"))
        return None
    if not decodes:
        if report:
            failures.append(ScanFailure("qr", QR_NOT_FOUND, "no QR code found"))
        return None
    last: CaptureError | None = None
    for dec in decodes:
        try:
            card = parse_qr_payload(dec.text)
        except CaptureError as exc:
            last = exc
            continue
        methods["qr"] = dec.method + ("+charset_repair" if dec.charset_repaired else "")
        return card
    assert last is not None
    failures.append(ScanFailure("qr", QR_PAYLOAD_INVALID, last.detail))
    return None


def _scan_mrz(image: np.ndarray, failures: list[ScanFailure], methods: dict[str, str]) -> MRZReading | None:
    try:
        reading = read_mrz(image)
    except CaptureError as exc:
        failures.append(ScanFailure("mrz", exc.code, exc.detail))
        return None
    except (cv2.error, ValueError, IndexError, MemoryError) as exc:
        log.debug("MRZ stage failed: %s", type(exc).__name__)
        failures.append(ScanFailure("mrz", SCAN_INTERNAL, f"MRZ reading failed ({type(exc).__name__})"))
        return None
    methods["mrz"] = reading.method
    return reading
