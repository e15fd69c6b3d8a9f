"""The evidence bundle of a read: everything needed to re-verify a card offline, without the card.

Format ``cancuoc-evidence/1`` (JSON, bytes as base64):

* ``files`` — every file exactly as read (EF.COM, EF.SOD, DGs, EF.CardAccess, EF.CardSecurity):
  hashes and signatures are checked over these bytes, never over a re-encoding (LESSONS.md);
* ``unreadable`` — files the chip refused, with their reason code (e.g. DG3 → EAC_REQUIRED);
* ``access`` — how the chip was opened and ``key_digest``, SHA-256 over the access key seed (the
  BAC/PACE MRZ information or the CAN), so the DG1 ↔ access key check can be redone without the key;
* ``aa`` — the Active Authentication challenge and the chip's signature (ICAO 9303-11 §6.1);
* ``chip_authentication`` — CA (9303-11 §6.2: key id, protocol OID, the chip public key used) or
  PACE-CAM (§4.4.3.5: the mapping public key PK_Map,IC and CA_IC) data;
* ``certificates`` — DER of the certificates used (the DS from the SOD, the CSCA / link chain found);
* ``session_checks`` — what only the live session could observe (access, read errors, CA's SM
  confirmation): carried for the record, marked as reported by the reader.

Decision: the bundle holds no secret beyond the personal data the card itself gives to anyone who
opens it; the access key is present only as a digest, and no session key is ever stored.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reader.errors import EvidenceError, ReasonCode
from reader.report import AccessInfo, Check

__all__ = ["FORMAT", "EvidenceBundle", "access_key_digest"]

FORMAT = "cancuoc-evidence/1"
MAX_BUNDLE_BYTES = 8 << 20  # hostile input bound: a real bundle is ~30-60 KB


def access_key_digest(password_type: str, seed: str) -> str:
    """SHA-256 (hex) over ``cancuoc-access-key/1|<MRZ|CAN>|<seed>``; the seed is the MRZ information
    of ICAO 9303-11 §4.3.2 (document number, birth, expiry, each with check digit) or the CAN."""
    return hashlib.sha256(f"cancuoc-access-key/1|{password_type}|{seed}".encode()).hexdigest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: Any, what: str) -> bytes:
    if not isinstance(s, str):
        raise EvidenceError(f"{what}: base64 string expected")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EvidenceError(f"{what}: bad base64") from exc


def _unhex(s: Any, what: str) -> bytes:
    if not isinstance(s, str):
        raise EvidenceError(f"{what}: hex string expected")
    try:
        return bytes.fromhex(s)
    except ValueError as exc:
        raise EvidenceError(f"{what}: bad hex") from exc


@dataclass(frozen=True)
class EvidenceBundle:
    """See the module docstring. Build with the reader; serialize with `to_json()` / `to_bytes()`;
    load with `EvidenceBundle.from_json()` (raises `EvidenceError` on anything malformed)."""

    files: Mapping[str, bytes]
    read_at: datetime
    access: AccessInfo | None = None
    access_key_digest: str | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)
    aa_challenge: bytes | None = None
    aa_signature: bytes | None = None
    chip_authentication: Mapping[str, Any] | None = None
    certificates: tuple[bytes, ...] = ()
    session_checks: tuple[Check, ...] = ()
    atr: str | None = None

    def __repr__(self) -> str:
        # the files hold the MRZ and personal data: never in a repr (house rules)
        return (f"EvidenceBundle(files={sorted(self.files)}, read_at={self.read_at.isoformat()}, "
                f"aa={'yes' if self.aa_signature else 'no'}, <redacted>)")

    def to_dict(self) -> dict[str, Any]:
        ca = None
        if self.chip_authentication is not None:
            ca = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in self.chip_authentication.items()}
        return {
            "format": FORMAT,
            "read_at": self.read_at.isoformat(),
            "atr": self.atr,
            "files": {name: _b64(data) for name, data in self.files.items()},
            "unreadable": dict(self.unreadable),
            "access": self.access.to_dict() if self.access else None,
            "access_key_digest": self.access_key_digest,
            "aa": None if self.aa_challenge is None else {
                "challenge": self.aa_challenge.hex(),
                "signature": self.aa_signature.hex() if self.aa_signature is not None else None},
            "chip_authentication": ca,
            "certificates": [_b64(c) for c in self.certificates],
            "session_checks": [c.to_dict() for c in self.session_checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_bytes(self) -> bytes:
        return self.to_json().encode()

    @classmethod
    def from_dict(cls, d: Any) -> EvidenceBundle:
        try:
            if not isinstance(d, Mapping) or d.get("format") != FORMAT:
                raise EvidenceError(f"not a {FORMAT} bundle")
            files_in = d.get("files")
            if not isinstance(files_in, Mapping):
                raise EvidenceError("files missing")
            files = {str(k): _unb64(v, f"files.{k}") for k, v in files_in.items()}
            read_at = datetime.fromisoformat(str(d["read_at"]))
            access = AccessInfo.from_dict(d["access"]) if d.get("access") else None
            aa = d.get("aa")
            aa_ch = aa_sig = None
            if aa is not None:
                if not isinstance(aa, Mapping):
                    raise EvidenceError("aa must be an object")
                aa_ch = _unhex(aa.get("challenge"), "aa.challenge")
                aa_sig = _unhex(aa["signature"], "aa.signature") if aa.get("signature") is not None else None
            ca_in = d.get("chip_authentication")
            ca = None
            if ca_in is not None:
                if not isinstance(ca_in, Mapping):
                    raise EvidenceError("chip_authentication must be an object")
                ca = {}
                for k, v in ca_in.items():
                    if k.endswith(("_public", "_ic", "_key")) and isinstance(v, str):
                        ca[k] = _unhex(v, f"chip_authentication.{k}")
                    else:
                        ca[k] = v
            unreadable = d.get("unreadable") or {}
            if not isinstance(unreadable, Mapping):
                raise EvidenceError("unreadable must be an object")
            for v in unreadable.values():
                ReasonCode(v)
            certs = tuple(_unb64(c, "certificates[]") for c in d.get("certificates") or [])
            checks = tuple(Check.from_dict(c) for c in d.get("session_checks") or [])
            digest = d.get("access_key_digest")
            if digest is not None and (not isinstance(digest, str) or len(digest) != 64
                                       or any(c not in "0123456789abcdef" for c in digest)):
                raise EvidenceError("access_key_digest must be 64 lowercase hex digits")
            return cls(files=files, read_at=read_at, access=access, access_key_digest=digest,
                       unreadable={str(k): str(v) for k, v in unreadable.items()},
                       aa_challenge=aa_ch, aa_signature=aa_sig, chip_authentication=ca,
                       certificates=certs, session_checks=checks,
                       atr=d.get("atr") if isinstance(d.get("atr"), str) else None)
        except EvidenceError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EvidenceError(f"malformed evidence bundle ({type(exc).__name__})") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> EvidenceBundle:
        if len(text) > MAX_BUNDLE_BYTES:
            raise EvidenceError("evidence bundle too large")
        try:
            d = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EvidenceError("evidence bundle is not JSON") from exc
        return cls.from_dict(d)
