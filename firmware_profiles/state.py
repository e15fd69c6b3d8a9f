"""Card state: what a chip keeps in its non-volatile memory (files, keys, counters, life cycle), persisted.

A `CardState` is the virtual chip's EEPROM. It is saved to a JSON file (atomically: write a temporary
file, fsync, rename) after every change a real chip would commit, so a card survives a restart of the
process that runs it, as a real card survives leaving the reader. The state file holds the chip's
private keys and access-key material exactly as a chip's EEPROM does: protect it like the card itself.
Nothing volatile (selection, session keys, PACE/BAC progress) is ever in it.

Transport keys (the key a blank card is personalized with) are diversified from a batch master key by
the chip serial number, see `diversify_transport_key`.
"""
from __future__ import annotations

import enum
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.serialization import load_der_private_key

from firmware_profiles.errors import CardStateError, ProfileError
from firmware_profiles.profile import FirmwareProfile, load_profile

__all__ = [
    "STATE_VERSION",
    "CardState",
    "LifeCycle",
    "StoredFile",
    "diversify_transport_key",
    "new_blank_card",
]

STATE_VERSION = 1
_SERIAL_RE = re.compile(r"^[0-9A-F]{16}$")


class LifeCycle(enum.StrEnum):
    """Card life cycle (ISO/IEC 7816-4 §7.4.10 life cycle status byte in brackets).

    - ``blank`` (03, initialisation): as delivered; only the personalization dialect answers, and
      only after transport-key authentication; no eMRTD access keys yet.
    - ``personalized`` (03, still initialisation): personalization has written something (files, keys
      or access keys); the dialect still answers after transport-key authentication. A card pulled
      mid-personalization stays here.
    - ``locked`` (05, operational activated): the dialect is closed forever; the transport key is
      erased; no write command ever works again; the eMRTD application answers BAC/PACE.
    """

    BLANK = "blank"
    PERSONALIZED = "personalized"
    LOCKED = "locked"

    @property
    def lcs_byte(self) -> int:
        return 0x05 if self is LifeCycle.LOCKED else 0x03


@dataclass(repr=False)
class StoredFile:
    """One transparent EF on the chip: where it lives, its declared size and its content so far."""

    df: str
    fid: int
    size: int
    data: bytearray

    def __repr__(self) -> str:  # contents are personal data (DG1 holds the MRZ): never in a repr
        return f"StoredFile(df={self.df!r}, fid={self.fid:04X}, size={self.size})"

    def to_json(self) -> dict[str, Any]:
        return {"df": self.df, "fid": f"{self.fid:04X}", "size": self.size, "data": bytes(self.data).hex()}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> StoredFile:
        data = bytearray(bytes.fromhex(obj["data"]))
        size = int(obj["size"])
        if len(data) != size or obj["df"] not in ("MF", "eMRTD"):
            raise CardStateError("stored file inconsistent", reason="state.invalid")
        return cls(obj["df"], int(obj["fid"], 16), size, data)


def diversify_transport_key(master: bytes | Callable[[bytes], bytes], serial: str) -> bytes:
    """The 16-byte transport key of the chip with serial number `serial`.

    Decision: TK = AES-CMAC(master, 0x01 ‖ serial bytes) (SP 800-38B CMAC, full 16 bytes), the shape of
    NXP AN10922's AES-128 key diversification with diversification constant 01 and the 8-byte chip
    serial as diversification input. `master` is the 16/24/32-byte batch master key, or - so the
    master key never leaves the issuer's key store - a callable computing AES-CMAC(master, message)
    inside the store (pki's key store offers one); its result must be 16 bytes.
    """
    message = b"\x01" + _serial_bytes(serial)
    if callable(master):
        tk = bytes(master(message))
    else:
        if len(master) not in (16, 24, 32):
            raise CardStateError("batch master key must be an AES key", reason="state.invalid_key")
        mac = CMAC(AES(bytes(master)))
        mac.update(message)
        tk = mac.finalize()
    if len(tk) != 16:
        raise CardStateError("diversified transport key must be 16 bytes", reason="state.invalid_key")
    return tk


def _serial_bytes(serial: str) -> bytes:
    s = serial.upper()
    if not _SERIAL_RE.match(s):
        raise CardStateError("chip serial must be 16 hexadecimal characters (8 bytes)",
                             reason="state.invalid_serial")
    return bytes.fromhex(s)


@dataclass
class CardState:
    """Non-volatile chip memory. Mutated only by the `VirtualChip` that runs it (and by tests).

    Attributes:
        profile_name: the firmware profile the chip runs.
        serial: chip serial number, 16 hex characters (8 bytes).
        lifecycle: see `LifeCycle`.
        transport_key: 16-byte personalization key (None once locked: erased at lock).
        files: EFs created so far, keyed by (df, fid).
        ca_private_key / aa_private_key: PKCS#8 DER of keys generated on the chip (never readable).
        mrz_secret: SHA-1 of the MRZ information (ICAO 9303-11 §9.7.2): BAC key seed source and PACE
            MRZ password; the MRZ itself is never stored.
        can: the Card Access Number (PACE password, ICAO 9303-11 §9.7.3) as digits.
        auth_failures: consecutive failed BAC/PACE authentications (persistent, for `Throttle`).
        transport_auth_failures: consecutive failed transport-key authentications (blocks at 10).
    """

    profile_name: str
    serial: str
    lifecycle: LifeCycle = LifeCycle.BLANK
    transport_key: bytes | None = None
    files: dict[tuple[str, int], StoredFile] = field(default_factory=dict)
    ca_private_key: bytes | None = None
    aa_private_key: bytes | None = None
    mrz_secret: bytes | None = None
    can: str | None = None
    auth_failures: int = 0
    transport_auth_failures: int = 0
    path: Path | None = field(default=None, compare=False)

    @property
    def profile(self) -> FirmwareProfile:
        return load_profile(self.profile_name)

    @property
    def memory_used(self) -> int:
        return sum(f.size for f in self.files.values())

    def __repr__(self) -> str:  # never show keys, MRZ material or CAN
        return (f"CardState(profile={self.profile_name!r}, serial={self.serial!r}, "
                f"lifecycle={self.lifecycle.value!r}, files={len(self.files)})")

    # -- persistence -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        def hx(b: bytes | None) -> str | None:
            return None if b is None else b.hex()

        return {
            "version": STATE_VERSION,
            "profile": self.profile_name,
            "serial": self.serial,
            "lifecycle": self.lifecycle.value,
            "transport_key": hx(self.transport_key),
            "files": [f.to_json() for f in self.files.values()],
            "ca_private_key": hx(self.ca_private_key),
            "aa_private_key": hx(self.aa_private_key),
            "mrz_secret": hx(self.mrz_secret),
            "can": self.can,
            "auth_failures": self.auth_failures,
            "transport_auth_failures": self.transport_auth_failures,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], *, path: Path | None = None) -> CardState:
        if not isinstance(obj, dict) or obj.get("version") != STATE_VERSION:
            raise CardStateError("unsupported card state version", reason="state.version")
        try:
            def hb(key: str) -> bytes | None:
                v = obj.get(key)
                return None if v is None else bytes.fromhex(v)

            files = [StoredFile.from_json(f) for f in obj["files"]]
            state = cls(
                profile_name=str(obj["profile"]),
                serial=str(obj["serial"]),
                lifecycle=LifeCycle(obj["lifecycle"]),
                transport_key=hb("transport_key"),
                files={(f.df, f.fid): f for f in files},
                ca_private_key=hb("ca_private_key"),
                aa_private_key=hb("aa_private_key"),
                mrz_secret=hb("mrz_secret"),
                can=obj.get("can"),
                auth_failures=int(obj.get("auth_failures", 0)),
                transport_auth_failures=int(obj.get("transport_auth_failures", 0)),
                path=path,
            )
        except CardStateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CardStateError(f"card state malformed ({exc.__class__.__name__})",
                                 reason="state.invalid") from None
        _serial_bytes(state.serial)
        if min(state.auth_failures, state.transport_auth_failures) < 0:
            raise CardStateError("negative retry counter", reason="state.invalid")
        if state.can is not None and not (isinstance(state.can, str) and state.can.isdigit()):
            raise CardStateError("CAN must be digits", reason="state.invalid")
        if (state.mrz_secret is not None and len(state.mrz_secret) != 20) or (
                state.transport_key is not None and len(state.transport_key) != 16):
            raise CardStateError("access key material has the wrong length", reason="state.invalid")
        for pkcs8 in (state.ca_private_key, state.aa_private_key):
            if pkcs8 is not None:
                try:
                    load_der_private_key(pkcs8, password=None)
                except (ValueError, TypeError):
                    raise CardStateError("a chip private key cannot be read", reason="state.invalid") from None
        try:
            state.profile  # noqa: B018 - validates the profile name
        except ProfileError:
            raise CardStateError("card state names an unknown firmware profile", reason="state.invalid") from None
        return state

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the state atomically to `path` (default: the path it was loaded from / last saved to)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CardStateError("no path to save the card state to", reason="state.io")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=1)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".card-", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except OSError as exc:
            raise CardStateError(f"cannot write card state ({exc.strerror})", reason="state.io") from None
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CardState:
        """Read a state file written by `save`."""
        p = Path(path)
        try:
            obj = json.loads(p.read_text("utf-8"))
        except OSError as exc:
            raise CardStateError(f"cannot read card state ({exc.strerror})", reason="state.io") from None
        except ValueError:
            raise CardStateError("card state is not JSON", reason="state.invalid") from None
        return cls.from_json(obj, path=p)

    def persist(self) -> None:
        """Save to `path` if the state has one (the chip calls this after every committed change)."""
        if self.path is not None:
            self.save()


def new_blank_card(profile: FirmwareProfile | str, serial: str, transport_key: bytes,
                   path: str | os.PathLike[str] | None = None) -> CardState:
    """A blank card fresh from the fab: no files, no keys, the given (already diversified) transport key.

    With `path`, the state is saved there at once.
    """
    prof = profile if isinstance(profile, FirmwareProfile) else load_profile(profile)
    serial = serial.upper()
    _serial_bytes(serial)
    if len(transport_key) != 16:
        raise CardStateError("transport key must be 16 bytes", reason="state.invalid_key")
    state = CardState(profile_name=prof.name, serial=serial, transport_key=bytes(transport_key))
    if path is not None:
        state.save(path)
    return state
