"""The verification report: every check with its outcome and stable reason code, the document data,
timings and APDU counters — one frozen dataclass with a JSON form (the station API's contract).

Decision (verdict): a report PASSES when no check failed, Passive Authentication ran to the end, and
— when the SOD says the chip carries DG14 or DG15 — Chip Authentication (or PACE-CAM) or Active
Authentication passed. A chip with neither DG14 nor DG15 cannot be told from a clone: the verdict is
then WARNING (authentic data, clone check impossible), never PASSED.
"""
from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reader.errors import ReasonCode

__all__ = ["AccessInfo", "ApduStats", "Check", "DocumentData", "Outcome", "VerificationReport",
           "decide_verdict"]


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One check. `id` is stable and dotted: ``access``, ``read.DG3``, ``pa.sod_signature``,
    ``pa.ds_path``, ``pa.dg_hash.DG2``, ``pa.com_sod``, ``pa.dg1_access_key``, ``ca``, ``aa`` ...
    `detail` is for people and never holds secrets."""

    id: str
    outcome: Outcome
    reason: ReasonCode = ReasonCode.OK
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "outcome": self.outcome.value, "reason": self.reason.value,
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Check:
        return cls(str(d["id"]), Outcome(d["outcome"]), ReasonCode(d["reason"]), str(d.get("detail", "")))

    @classmethod
    def passed(cls, id: str, detail: str = "") -> Check:
        return cls(id, Outcome.PASSED, ReasonCode.OK, detail)

    @classmethod
    def failed(cls, id: str, reason: ReasonCode, detail: str = "") -> Check:
        return cls(id, Outcome.FAILED, reason, detail)

    @classmethod
    def skipped(cls, id: str, reason: ReasonCode = ReasonCode.NOT_PERFORMED,
                detail: str = "") -> Check:
        return cls(id, Outcome.SKIPPED, reason, detail)

    @classmethod
    def warning(cls, id: str, reason: ReasonCode, detail: str = "") -> Check:
        return cls(id, Outcome.WARNING, reason, detail)


@dataclass(frozen=True)
class AccessInfo:
    """How the chip was opened (ICAO 9303-11 §4): ``PACE`` or ``BAC``; PACE mapping (GM/IM/CAM),
    the PACEInfo protocol OID and parameter id, the password type (``MRZ``/``CAN``)."""

    method: str
    password_type: str
    mapping: str | None = None
    protocol_oid: str | None = None
    parameter_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "password_type": self.password_type, "mapping": self.mapping,
                "protocol_oid": self.protocol_oid, "parameter_id": self.parameter_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccessInfo:
        return cls(d["method"], d["password_type"], d.get("mapping"), d.get("protocol_oid"),
                   d.get("parameter_id"))


@dataclass(frozen=True)
class ApduStats:
    """Wire counters of the read: APDUs, bytes each way, time on the wire, read-engine figures."""

    count: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    wire_time: float = 0.0
    read_commands: int = 0
    step_downs: int = 0
    resumes: int = 0
    read_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DocumentData:
    """The holder's data: DG1 (ICAO 9303-10 §4.7.1, TD1 MRZ fields) and DG13 (VN national data,
    VN_CARD.md) decoded, and the portrait from DG2 (raw JPEG / JPEG 2000 as stored on the chip)."""

    mrz_fields: Mapping[str, str] = field(default_factory=dict)
    dg13: Mapping[str, Any] = field(default_factory=dict)
    portrait: bytes | None = None
    portrait_format: str | None = None   # "jpeg" / "jp2"
    portrait_path: str | None = None

    def __repr__(self) -> str:
        return f"DocumentData(portrait={'yes' if self.portrait else 'no'}, <redacted>)"

    def to_dict(self, *, include_portrait: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"mrz_fields": dict(self.mrz_fields), "dg13": _jsonable(self.dg13),
                             "portrait_format": self.portrait_format, "portrait_path": self.portrait_path,
                             "portrait_size": len(self.portrait) if self.portrait else 0}
        if include_portrait and self.portrait:
            d["portrait"] = base64.b64encode(self.portrait).decode()
        return d

    def save_portrait(self, path: str | Path) -> Path | None:
        """Write the portrait image as read from the chip; returns the path (suffix from the format)."""
        if not self.portrait:
            return None
        p = Path(path)
        if not p.suffix:
            p = p.with_suffix(".jp2" if self.portrait_format == "jp2" else ".jpg")
        p.write_bytes(self.portrait)
        return p


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


_PA_REQUIRED = ("pa.sod_signature", "pa.ds_path")
_CLONE_CHECKS = ("ca", "aa")


def decide_verdict(checks: Iterable[Check], *, clone_check_possible: bool) -> tuple[Outcome, ReasonCode]:
    """The verdict rule of the module docstring: (outcome, first failing reason or OK)."""
    checks = list(checks)
    for c in checks:
        if c.outcome is Outcome.FAILED:
            return Outcome.FAILED, c.reason
    by_id = {c.id: c for c in checks}
    for cid in _PA_REQUIRED:
        c = by_id.get(cid)
        if c is None or c.outcome is not Outcome.PASSED:
            return Outcome.FAILED, c.reason if c is not None and c.reason is not ReasonCode.OK \
                else ReasonCode.NOT_PERFORMED
    hashes = [c for c in checks if c.id.startswith("pa.dg_hash.")]
    if not hashes:
        return Outcome.FAILED, ReasonCode.NOT_PERFORMED
    clone_ok = any(by_id.get(cid) is not None and by_id[cid].outcome is Outcome.PASSED
                   for cid in _CLONE_CHECKS)
    if clone_check_possible and not clone_ok:
        return Outcome.FAILED, ReasonCode.NOT_PERFORMED
    warnings = [c for c in checks if c.outcome is Outcome.WARNING]
    if not clone_ok:
        return Outcome.WARNING, ReasonCode.CA_NOT_SUPPORTED
    if warnings:
        return Outcome.WARNING, warnings[0].reason
    return Outcome.PASSED, ReasonCode.OK


@dataclass(frozen=True)
class VerificationReport:
    """The result of `inspect_card` / `reverify`: JSON via `to_dict()` / `to_json()`.

    `verdict` and `reason` summarize (`decide_verdict`); `checks` is every check in order;
    `evidence` is the bundle to send to a server (None when the read failed before any file).
    `validated_at` is the explicit validation time of Passive Authentication."""

    verdict: Outcome
    reason: ReasonCode
    checks: tuple[Check, ...]
    validated_at: datetime
    document: DocumentData | None = None
    access: AccessInfo | None = None
    chip_authentication: str | None = None   # "CA", "PACE-CAM" or None
    active_authentication: bool = False
    files_read: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    apdu: ApduStats | None = None
    evidence: Any = None          # reader.evidence.EvidenceBundle (Any: avoids an import cycle)
    offline: bool = False         # True when produced by `reverify` from a bundle
    atr: str | None = None

    def __repr__(self) -> str:
        return (f"VerificationReport(verdict={self.verdict.value}, reason={self.reason.value}, "
                f"checks={len(self.checks)}, offline={self.offline}, <document redacted>)")

    @property
    def ok(self) -> bool:
        return self.verdict is Outcome.PASSED

    def check(self, check_id: str) -> Check | None:
        for c in self.checks:
            if c.id == check_id:
                return c
        return None

    @property
    def reasons(self) -> tuple[ReasonCode, ...]:
        """Every non-OK reason code among the checks, in order, without duplicates."""
        seen: list[ReasonCode] = []
        for c in self.checks:
            if c.outcome in (Outcome.FAILED, Outcome.WARNING) and c.reason not in seen:
                seen.append(c.reason)
        return tuple(seen)

    def to_dict(self, *, include_evidence: bool = False, include_portrait: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": "cancuoc-verification-report/1",
            "verdict": self.verdict.value,
            "reason": self.reason.value,
            "validated_at": self.validated_at.isoformat(),
            "offline": self.offline,
            "access": self.access.to_dict() if self.access else None,
            "chip_authentication": self.chip_authentication,
            "active_authentication": self.active_authentication,
            "files_read": list(self.files_read),
            "checks": [c.to_dict() for c in self.checks],
            "document": self.document.to_dict(include_portrait=include_portrait) if self.document else None,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "apdu": self.apdu.to_dict() if self.apdu else None,
            "atr": self.atr,
        }
        if include_evidence and self.evidence is not None:
            d["evidence"] = self.evidence.to_dict()
        return d

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(**kw), ensure_ascii=False, indent=1)
