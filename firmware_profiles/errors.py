"""The error hierarchy of firmware_profiles: profiles, card state files, personalization, the vpcd bridge.

Every error carries a stable dotted `reason` code (compare it, not the message) and structured fields
that are never secret: messages name files, fields and status words, never key bytes, MRZ or CAN.
"""
from __future__ import annotations

from typing import Any

from icao9303.errors import ICAOError


class FirmwareError(ICAOError):
    """Base of every error raised by `firmware_profiles`."""

    default_reason = "firmware.error"


class ProfileError(FirmwareError):
    """A firmware profile file that is missing or does not validate.

    Reason codes: ``profile.unknown`` (no such profile), ``profile.invalid`` (schema or consistency
    check failed; `field` names the offending field), ``profile.atr_unknown`` (no profile matches an ATR).
    """

    default_reason = "profile.invalid"

    def __init__(self, message: str, *, profile: str | None = None, field: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message, reason=reason, profile=profile, field=field)
        self.profile = profile
        self.field = field


class CardStateError(FirmwareError):
    """A card state file that cannot be read or written (``state.io``, ``state.invalid``, ``state.version``).
    """

    default_reason = "state.invalid"


class PersonalizationError(FirmwareError):
    """The chip refused a personalization command, or the dialect was driven out of order.

    `sw` is the status word the chip answered (None when the error is on the terminal side, e.g. a
    command sent before `authenticate`), `step` the dialect step (``"authenticate"``, ``"write_file"``...).
    Reason codes: ``perso.refused`` (chip answered an error SW), ``perso.not_authenticated``,
    ``perso.bad_response`` (chip answer malformed), ``perso.secure_messaging`` (SM failure),
    ``perso.argument``.
    """

    default_reason = "perso.refused"

    def __init__(self, message: str, *, step: str, sw: int | None = None, reason: str | None = None,
                 **details: Any) -> None:
        super().__init__(message, reason=reason, step=step, sw=None if sw is None else f"{sw:04X}", **details)
        self.step = step
        self.sw = sw


class BridgeError(FirmwareError):
    """The vpcd bridge could not connect or lost its connection (``bridge.connect``, ``bridge.protocol``)."""

    default_reason = "bridge.error"
