"""The error hierarchy of the icao9303 layer: one base class, structured fields, stable reason codes.

Every parser and builder in `icao9303` raises an `ICAOError` subclass and nothing else on bad input
(STYLE §7, DESIGN "Failure rules"). Each error carries a stable, dotted `reason` code that callers
(reader reports, station API, audit log) may store and compare; the human message may change.

Messages never contain secret material (MRZ text, CAN, keys): an `MRZError` names the field and the
position, never the characters found there.

Other areas subclass `ICAOError` in their own modules (e.g. `icao9303.crypto` adds its crypto errors).
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "APDUError",
    "AuthenticationBlockedError",
    "CardError",
    "CardFileNotFoundError",
    "ConditionsNotSatisfiedError",
    "ICAOError",
    "LDSError",
    "MRZError",
    "NotSupportedError",
    "PersonalIDError",
    "SecureMessagingStatusError",
    "SecurityStatusNotSatisfiedError",
    "TLVError",
    "VerificationFailedError",
    "WrongDataError",
    "WrongLengthError",
]


class ICAOError(Exception):
    """Base of every error raised by `icao9303`.

    `reason` is a stable machine-readable code (e.g. ``"tlv.truncated"``); `details` holds further
    structured fields (offsets, tags, file names) that are never secret.
    """

    default_reason: str = "icao.error"

    def __init__(self, message: str, *, reason: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason: str = reason or self.default_reason
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form: error class, reason code, message and the structured fields."""
        return {"error": type(self).__name__, "reason": self.reason, "message": self.message, **self.details}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class TLVError(ICAOError):
    """Malformed BER-TLV (ISO/IEC 7816-4 §5.2): truncated, bad tag/length, too deep, too many nodes.

    Reason codes: ``tlv.truncated``, ``tlv.bad_tag``, ``tlv.bad_length``, ``tlv.length_overflow``,
    ``tlv.depth``, ``tlv.too_many_nodes``, ``tlv.unexpected_tag``, ``tlv.trailing_data``, ``tlv.encode``.
    """

    default_reason = "tlv.error"

    def __init__(
        self, message: str, *, reason: str | None = None, offset: int | None = None, tag: int | None = None
    ) -> None:
        super().__init__(message, reason=reason, offset=offset, tag=tag)
        self.offset = offset
        self.tag = tag


class APDUError(ICAOError):
    """A malformed command or response APDU (ISO/IEC 7816-4 §5.1). Reason codes ``apdu.*``."""

    default_reason = "apdu.malformed"


class CardError(ICAOError):
    """The card answered with a status word other than success (ISO/IEC 7816-4 §5.6).

    `sw` is the 16-bit status word, `step` names the protocol step that sent the command (e.g.
    ``"PACE step 2"``, ``"READ BINARY DG2"``). `apdu.SW_TABLE` maps status words to the subclasses.
    """

    default_reason = "card.error"

    def __init__(
        self, message: str, *, sw: int, step: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason, sw=f"{sw:04X}", step=step)
        self.sw = sw
        self.step = step


class WrongLengthError(CardError):
    """6700 / 6Cxx: wrong length (Lc or Le)."""

    default_reason = "card.wrong_length"


class SecurityStatusNotSatisfiedError(CardError):
    """6982: security status not satisfied (e.g. DG3 without EAC, file read before access control)."""

    default_reason = "card.security_status_not_satisfied"


class AuthenticationBlockedError(CardError):
    """6983: authentication method blocked."""

    default_reason = "card.authentication_blocked"


class VerificationFailedError(CardError):
    """6300 / 63Cx: verification failed (63Cx: x retries left)."""

    default_reason = "card.verification_failed"


class ConditionsNotSatisfiedError(CardError):
    """6985 / 6986 / 6984: conditions of use not satisfied, command not allowed, reference data unusable."""

    default_reason = "card.conditions_not_satisfied"


class SecureMessagingStatusError(CardError):
    """6987 / 6988 / 6882: expected SM data objects missing or incorrect, SM not supported."""

    default_reason = "card.secure_messaging"


class CardFileNotFoundError(CardError):
    """6A82 / 6A83 / 6A88: file, record or referenced data not found."""

    default_reason = "card.file_not_found"


class WrongDataError(CardError):
    """6A80 / 6A85 / 6A86 / 6A87 / 6B00: incorrect parameters in the data field or P1-P2."""

    default_reason = "card.wrong_data"


class NotSupportedError(CardError):
    """6A81 / 6D00 / 6E00 / 6881: function, instruction, class or logical channel not supported."""

    default_reason = "card.not_supported"


class MRZError(ICAOError):
    """A machine readable zone that does not follow ICAO 9303-3/-5/-4.

    `field` names the MRZ field (``"document_number"``, ``"date_of_birth"``, ...), `position` is the
    1-based character position in its line (or None for whole-MRZ problems), `line` the 1-based line.
    Reason codes: ``mrz.length``, ``mrz.charset``, ``mrz.format``, ``mrz.check_digit``, ``mrz.value``.
    """

    default_reason = "mrz.error"

    def __init__(
        self,
        message: str,
        *,
        field: str,
        position: int | None = None,
        line: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, field=field, position=position, line=line)
        self.field = field
        self.position = position
        self.line = line


class PersonalIDError(ICAOError):
    """An invalid Vietnamese 12-digit personal identification number (VN_CARD.md).

    `field` is the part at fault (``"length"``, ``"province"``, ``"century_sex"``, ``"birth_year"``),
    `position` its 1-based position. Reason codes ``vn.id.*``. The number itself is never in the message.
    """

    default_reason = "vn.id.invalid"

    def __init__(
        self, message: str, *, field: str, position: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason, field=field, position=position)
        self.field = field
        self.position = position


class LDSError(ICAOError):
    """A logical data structure file (ICAO 9303-10) that cannot be parsed or built.

    `file` names the LDS file (``"DG1"``, ``"EF.SOD"``, ...). Reason codes: ``lds.bad_tag``,
    ``lds.asn1``, ``lds.missing``, ``lds.value``, ``lds.unsupported``, ``lds.unknown_file``, ``lds.tlv``.
    """

    default_reason = "lds.error"

    def __init__(self, message: str, *, file: str | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason=reason, file=file)
        self.file = file
