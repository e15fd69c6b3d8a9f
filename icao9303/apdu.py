"""Command and response APDUs (ISO/IEC 7816-4 §5.1), status-word constants, the one table of SW meanings.

`CommandAPDU` covers cases 1-4 in short and extended encodings; `ResponseAPDU` is data + SW1 SW2.
`SW_TABLE` is the single place that says what a status word means and which `CardError` subclass it
raises (STYLE §7); `ResponseAPDU.check()` and `raise_for_sw()` use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from icao9303.errors import (
    APDUError,
    AuthenticationBlockedError,
    CardError,
    CardFileNotFoundError,
    ConditionsNotSatisfiedError,
    NotSupportedError,
    SecureMessagingStatusError,
    SecurityStatusNotSatisfiedError,
    VerificationFailedError,
    WrongDataError,
    WrongLengthError,
)

__all__ = [
    "INS_EXTERNAL_AUTHENTICATE",
    "INS_GENERAL_AUTHENTICATE",
    "INS_GET_CHALLENGE",
    "INS_INTERNAL_AUTHENTICATE",
    "INS_MSE",
    "INS_READ_BINARY",
    "INS_READ_BINARY_ODD",
    "INS_SELECT",
    "INS_UPDATE_BINARY",
    "SW_TABLE",
    "CommandAPDU",
    "ResponseAPDU",
    "StatusWord",
    "raise_for_sw",
    "sw_info",
    "sw_meaning",
]

# Instruction bytes used by ICAO 9303-10/-11 (ISO/IEC 7816-4 §5.4 table 4 and §7-11).
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_UPDATE_BINARY = 0xD6
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_PSO = 0x2A
INS_VERIFY = 0x20
INS_RESET_RETRY_COUNTER = 0x2C
INS_GET_DATA = 0xCA
INS_PUT_DATA = 0xDA
INS_CREATE_FILE = 0xE0
INS_ACTIVATE_FILE = 0x44
INS_TERMINATE_DF = 0xE6
INS_GENERATE_ASYMMETRIC_KEY_PAIR = 0x46

# Status words (ISO/IEC 7816-4 §5.6, tables 5-6).
SW_OK = 0x9000
SW_WARNING_CORRUPTED = 0x6281
SW_END_OF_FILE = 0x6282
SW_VERIFICATION_FAILED = 0x6300
SW_EXECUTION_ERROR = 0x6400
SW_MEMORY_FAILURE = 0x6581
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
SW_SM_NOT_SUPPORTED = 0x6882
SW_LAST_COMMAND_EXPECTED = 0x6883
SW_COMMAND_CHAINING_NOT_SUPPORTED = 0x6884
SW_COMMAND_NOT_ALLOWED = 0x6900
SW_COMMAND_INCOMPATIBLE = 0x6981
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTHENTICATION_BLOCKED = 0x6983
SW_REFERENCE_DATA_NOT_USABLE = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_COMMAND_NOT_ALLOWED_NO_EF = 0x6986
SW_SM_DATA_OBJECTS_MISSING = 0x6987
SW_SM_DATA_OBJECTS_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_NOT_ENOUGH_MEMORY = 0x6A84
SW_NC_INCONSISTENT_WITH_TLV = 0x6A85
SW_INCORRECT_P1P2 = 0x6A86
SW_NC_INCONSISTENT_WITH_P1P2 = 0x6A87
SW_REFERENCE_DATA_NOT_FOUND = 0x6A88
SW_FILE_ALREADY_EXISTS = 0x6A89
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00


@dataclass(frozen=True, slots=True)
class StatusWord:
    """What a status word means: text, stable reason code, the error class raised for it (None = success)."""

    meaning: str
    reason: str
    error: type[CardError] | None


SW_TABLE: dict[int, StatusWord] = {
    SW_OK: StatusWord("normal processing", "card.ok", None),
    SW_WARNING_CORRUPTED: StatusWord(
        "part of returned data may be corrupted", "card.data_corrupted", CardError
    ),
    SW_END_OF_FILE: StatusWord("end of file reached before Ne bytes", "card.end_of_file", None),
    SW_VERIFICATION_FAILED: StatusWord(
        "verification failed", "card.verification_failed", VerificationFailedError
    ),
    SW_EXECUTION_ERROR: StatusWord("execution error, state unchanged", "card.execution_error", CardError),
    SW_MEMORY_FAILURE: StatusWord("memory failure", "card.memory_failure", CardError),
    SW_WRONG_LENGTH: StatusWord("wrong length", "card.wrong_length", WrongLengthError),
    SW_LOGICAL_CHANNEL_NOT_SUPPORTED: StatusWord(
        "logical channel not supported", "card.not_supported", NotSupportedError
    ),
    SW_SM_NOT_SUPPORTED: StatusWord(
        "secure messaging not supported", "card.secure_messaging", SecureMessagingStatusError
    ),
    SW_LAST_COMMAND_EXPECTED: StatusWord("last command of the chain expected", "card.chaining", CardError),
    SW_COMMAND_CHAINING_NOT_SUPPORTED: StatusWord(
        "command chaining not supported", "card.not_supported", NotSupportedError
    ),
    SW_COMMAND_NOT_ALLOWED: StatusWord(
        "command not allowed", "card.conditions_not_satisfied", ConditionsNotSatisfiedError
    ),
    SW_COMMAND_INCOMPATIBLE: StatusWord(
        "command incompatible with file structure", "card.wrong_data", WrongDataError
    ),
    SW_SECURITY_STATUS_NOT_SATISFIED: StatusWord(
        "security status not satisfied", "card.security_status_not_satisfied", SecurityStatusNotSatisfiedError
    ),
    SW_AUTHENTICATION_BLOCKED: StatusWord(
        "authentication method blocked", "card.authentication_blocked", AuthenticationBlockedError
    ),
    SW_REFERENCE_DATA_NOT_USABLE: StatusWord(
        "reference data not usable", "card.reference_data_not_usable", ConditionsNotSatisfiedError
    ),
    SW_CONDITIONS_NOT_SATISFIED: StatusWord(
        "conditions of use not satisfied", "card.conditions_not_satisfied", ConditionsNotSatisfiedError
    ),
    SW_COMMAND_NOT_ALLOWED_NO_EF: StatusWord(
        "command not allowed (no current EF)", "card.no_current_ef", ConditionsNotSatisfiedError
    ),
    SW_SM_DATA_OBJECTS_MISSING: StatusWord(
        "expected secure messaging data objects missing",
        "card.sm_objects_missing",
        SecureMessagingStatusError,
    ),
    SW_SM_DATA_OBJECTS_INCORRECT: StatusWord(
        "incorrect secure messaging data objects", "card.sm_objects_incorrect", SecureMessagingStatusError
    ),
    SW_WRONG_DATA: StatusWord(
        "incorrect parameters in the command data field", "card.wrong_data", WrongDataError
    ),
    SW_FUNCTION_NOT_SUPPORTED: StatusWord("function not supported", "card.not_supported", NotSupportedError),
    SW_FILE_NOT_FOUND: StatusWord(
        "file or application not found", "card.file_not_found", CardFileNotFoundError
    ),
    SW_RECORD_NOT_FOUND: StatusWord("record not found", "card.record_not_found", CardFileNotFoundError),
    SW_NOT_ENOUGH_MEMORY: StatusWord(
        "not enough memory space in the file", "card.not_enough_memory", CardError
    ),
    SW_NC_INCONSISTENT_WITH_TLV: StatusWord(
        "Nc inconsistent with TLV structure", "card.wrong_data", WrongDataError
    ),
    SW_INCORRECT_P1P2: StatusWord("incorrect parameters P1-P2", "card.wrong_p1p2", WrongDataError),
    SW_NC_INCONSISTENT_WITH_P1P2: StatusWord("Nc inconsistent with P1-P2", "card.wrong_data", WrongDataError),
    SW_REFERENCE_DATA_NOT_FOUND: StatusWord(
        "referenced data or reference data not found", "card.reference_data_not_found", CardFileNotFoundError
    ),
    SW_FILE_ALREADY_EXISTS: StatusWord(
        "file already exists", "card.file_exists", ConditionsNotSatisfiedError
    ),
    SW_WRONG_P1P2: StatusWord("wrong parameters P1-P2", "card.wrong_p1p2", WrongDataError),
    SW_INS_NOT_SUPPORTED: StatusWord(
        "instruction code not supported or invalid", "card.ins_not_supported", NotSupportedError
    ),
    SW_CLA_NOT_SUPPORTED: StatusWord("class not supported", "card.cla_not_supported", NotSupportedError),
    SW_UNKNOWN: StatusWord("no precise diagnosis", "card.unknown", CardError),
}


def sw_info(sw: int) -> StatusWord:
    """The `StatusWord` entry for `sw`, including the ranges 61xx, 6Cxx, 63Cx and unlisted words."""
    if sw in SW_TABLE:
        return SW_TABLE[sw]
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x61:
        return StatusWord(f"{sw2 or 256} response bytes still available", "card.bytes_available", None)
    if sw1 == 0x6C:
        return StatusWord(f"wrong Le; {sw2 or 256} bytes available", "card.wrong_le", WrongLengthError)
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return StatusWord(
            f"verification failed, {sw2 & 0x0F} tries left",
            "card.verification_failed",
            VerificationFailedError,
        )
    if sw1 in (0x62, 0x63):
        return StatusWord("warning, state of non-volatile memory may have changed", "card.warning", CardError)
    return StatusWord("unknown status word", "card.unknown", CardError)


def sw_meaning(sw: int) -> str:
    """Human text for a status word, e.g. ``"6982 security status not satisfied"``."""
    return f"{sw:04X} {sw_info(sw).meaning}"


def raise_for_sw(sw: int, step: str | None = None) -> None:
    """Raise the `CardError` subclass `SW_TABLE` assigns to `sw`; return for 9000, 61xx and 6282."""
    info = sw_info(sw)
    if info.error is None:
        return
    where = f" in {step}" if step else ""
    raise info.error(f"card answered {sw_meaning(sw)}{where}", sw=sw, step=step, reason=info.reason)


def _check_byte(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise APDUError(f"{name} must be a byte, got {value!r}", reason="apdu.bad_header")


@dataclass(frozen=True, slots=True)
class CommandAPDU:
    """A command APDU (ISO/IEC 7816-4 §5.1): header CLA INS P1 P2, command data (Nc bytes), and Ne.

    `ne` is the maximum number of response bytes expected: None = no Le field (cases 1 and 3);
    256 (short) or 65536 (extended) are written as Le = ``00`` / ``0000``. `extended` None chooses the
    encoding automatically (extended iff Nc > 255 or Ne > 256); True/False force it.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _check_byte(name, getattr(self, name))
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > 65535:
            raise APDUError("command data longer than 65535 bytes", reason="apdu.too_long")
        if self.ne is not None and not 1 <= self.ne <= 65536:
            raise APDUError(f"Ne {self.ne} out of range 1..65536", reason="apdu.bad_le")
        if self.extended is False and (len(self.data) > 255 or (self.ne or 0) > 256):
            raise APDUError("short encoding cannot carry this Nc/Ne", reason="apdu.too_long")

    @property
    def nc(self) -> int:
        return len(self.data)

    @property
    def is_extended(self) -> bool:
        if self.extended is not None:
            return self.extended
        return len(self.data) > 255 or (self.ne or 0) > 256

    @property
    def case(self) -> int:
        """ISO/IEC 7816-4 case: 1 no data/no Le, 2 Le only, 3 data only, 4 data and Le."""
        return 1 + (1 if self.ne is not None else 0) + (2 if self.data else 0)

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    def to_bytes(self) -> bytes:
        out = bytearray(self.header)
        nc, ne = len(self.data), self.ne
        if not self.is_extended:
            if nc:
                out.append(nc)
                out += self.data
            if ne is not None:
                out.append(ne & 0xFF)  # 256 -> 00
            return bytes(out)
        if nc:
            out += b"\x00" + nc.to_bytes(2, "big") + self.data
            if ne is not None:
                out += (ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        elif ne is not None:
            out += b"\x00" + (ne & 0xFFFF).to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def from_bytes(cls, apdu: bytes) -> CommandAPDU:
        """Decode any of cases 1, 2S, 3S, 4S, 2E, 3E, 4E (ISO/IEC 7816-4 §5.1, table 1)."""
        apdu = bytes(apdu)
        if len(apdu) < 4:
            raise APDUError(f"command APDU of {len(apdu)} bytes, header needs 4", reason="apdu.too_short")
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        n = len(body)
        if n == 0:
            return cls(cla, ins, p1, p2, b"", None, False)
        if n == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256, False)
        if body[0] != 0:
            nc = body[0]
            if n == 1 + nc:
                return cls(cla, ins, p1, p2, body[1:], None, False)
            if n == 2 + nc:
                return cls(cla, ins, p1, p2, body[1 : 1 + nc], body[-1] or 256, False)
            raise APDUError("short Lc does not match the body length", reason="apdu.bad_lc")
        # body[0] == 0 and n >= 2: extended
        if n == 3:
            le = int.from_bytes(body[1:3], "big")
            return cls(cla, ins, p1, p2, b"", le or 65536, True)
        if n < 3:
            raise APDUError("extended length field truncated", reason="apdu.bad_lc")
        nc = int.from_bytes(body[1:3], "big")
        if nc == 0:
            raise APDUError("extended Lc of zero", reason="apdu.bad_lc")
        if n == 3 + nc:
            return cls(cla, ins, p1, p2, body[3:], None, True)
        if n == 5 + nc:
            le = int.from_bytes(body[-2:], "big")
            return cls(cla, ins, p1, p2, body[3 : 3 + nc], le or 65536, True)
        raise APDUError("extended Lc does not match the body length", reason="apdu.bad_lc")

    def __repr__(self) -> str:
        # Command data may be secret (SM payloads, PIN): show only its length.
        return (
            f"CommandAPDU(cla={self.cla:02X}, ins={self.ins:02X}, p1={self.p1:02X}, p2={self.p2:02X}, "
            f"nc={len(self.data)}, ne={self.ne}, extended={self.is_extended})"
        )


@dataclass(frozen=True, slots=True)
class ResponseAPDU:
    """A response APDU: response data field followed by the trailer SW1 SW2 (ISO/IEC 7816-4 §5.1)."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if not isinstance(self.sw, int) or not 0 <= self.sw <= 0xFFFF:
            raise APDUError(f"status word {self.sw!r} out of range", reason="apdu.bad_sw")

    @classmethod
    def from_bytes(cls, response: bytes) -> ResponseAPDU:
        response = bytes(response)
        if len(response) < 2:
            raise APDUError(f"response APDU of {len(response)} bytes, SW needs 2", reason="apdu.too_short")
        return cls(response[:-2], int.from_bytes(response[-2:], "big"))

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @property
    def meaning(self) -> str:
        return sw_meaning(self.sw)

    def check(self, step: str | None = None) -> ResponseAPDU:
        """Return self on success (9000, 61xx, 6282), else raise the `CardError` of `SW_TABLE`."""
        raise_for_sw(self.sw, step)
        return self

    def __repr__(self) -> str:
        return f"ResponseAPDU(len={len(self.data)}, sw={self.sw:04X})"
