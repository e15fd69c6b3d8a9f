"""Reader-layer errors and the stable reason codes of the verification report.

Every failure the reader can meet maps to exactly one `ReasonCode`; the codes are part of the
public contract (the station API stores and returns them), so values never change once released:
add new members, never rename. Exceptions carry structured fields (status word, protocol step)
and never secrets (keys, MRZ, CAN) in their message or repr (house rules).
"""
from __future__ import annotations

import enum


class ReasonCode(enum.StrEnum):
    """Stable outcome codes of every check in a `VerificationReport` (values are the JSON form)."""

    OK = "OK"
    NOT_PERFORMED = "NOT_PERFORMED"
    # -- the reader and the card ---------------------------------------------------------------
    NO_READER = "NO_READER"
    NO_CARD = "NO_CARD"
    CARD_REMOVED = "CARD_REMOVED"
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    CARD_ERROR = "CARD_ERROR"
    # -- access control (ICAO 9303-11 §4) -------------------------------------------------------
    ACCESS_DENIED = "ACCESS_DENIED"            # wrong access key (BAC/PACE authentication failed)
    PACE_REQUIRED = "PACE_REQUIRED"            # policy demands PACE, the chip or key does not give it
    PACE_FAILED = "PACE_FAILED"                # PACE protocol error other than a wrong password
    BAC_FAILED = "BAC_FAILED"
    SM_ERROR = "SM_ERROR"                      # secure messaging MAC / format error (9303-11 §9.8)
    # -- reading -------------------------------------------------------------------------------
    FILE_NOT_FOUND = "FILE_NOT_FOUND"
    EAC_REQUIRED = "EAC_REQUIRED"              # e.g. DG3: 6982 without Extended Access Control
    MALFORMED_FILE = "MALFORMED_FILE"          # TLV / ASN.1 of a file does not parse
    # -- passive authentication (ICAO 9303-11 §5.1, 9303-12) -----------------------------------
    SOD_SIGNATURE_INVALID = "SOD_SIGNATURE_INVALID"
    DS_NOT_TRUSTED = "DS_NOT_TRUSTED"          # no path from the DS to a trusted CSCA
    DS_EXPIRED = "DS_EXPIRED"
    DS_NOT_YET_VALID = "DS_NOT_YET_VALID"
    DS_REVOKED = "DS_REVOKED"
    CSCA_EXPIRED = "CSCA_EXPIRED"
    CSCA_REVOKED = "CSCA_REVOKED"
    CRL_UNAVAILABLE = "CRL_UNAVAILABLE"        # no valid CRL for an issuer at the validation time
    KEY_USAGE_INVALID = "KEY_USAGE_INVALID"
    CERT_INVALID = "CERT_INVALID"              # any other path/profile defect
    UNKNOWN_ALGORITHM = "UNKNOWN_ALGORITHM"
    LEGACY_ALGORITHM = "LEGACY_ALGORITHM"      # SHA-1 accepted knowingly by a legacy policy
    DG_HASH_MISMATCH = "DG_HASH_MISMATCH"
    DG_NOT_IN_SOD = "DG_NOT_IN_SOD"            # a DG read from the chip has no hash in the SOD
    COM_SOD_MISMATCH = "COM_SOD_MISMATCH"      # EF.COM tag list differs from the SOD DG list
    MRZ_MISMATCH = "MRZ_MISMATCH"              # DG1 does not match the key the chip was opened with
    # -- chip / active authentication -----------------------------------------------------------
    CA_FAILED = "CA_FAILED"
    CA_NOT_SUPPORTED = "CA_NOT_SUPPORTED"
    CAM_FAILED = "CAM_FAILED"
    AA_FAILED = "AA_FAILED"
    AA_NOT_SUPPORTED = "AA_NOT_SUPPORTED"
    AA_CHALLENGE_MISMATCH = "AA_CHALLENGE_MISMATCH"  # evidence answers another challenge than expected
    # -- evidence --------------------------------------------------------------------------------
    EVIDENCE_INVALID = "EVIDENCE_INVALID"      # a bundle that does not parse / wrong version
    INTERNAL_ERROR = "INTERNAL_ERROR"          # a bug: never expected, always reported, never a crash


class ReaderError(Exception):
    """Base of the reader layer. `reason` is the stable code; `step` names the protocol step."""

    reason: ReasonCode = ReasonCode.CARD_ERROR

    def __init__(self, message: str, *, reason: ReasonCode | None = None, step: str | None = None,
                 sw: int | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.step = step
        self.sw = sw

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.step:
            parts.append(f"step={self.step}")
        if self.sw is not None:
            parts.append(f"sw={self.sw:04X}")
        return " ".join(parts) + f" [{self.reason.value}]"


class TransportError(ReaderError):
    """The channel to the card failed (reader gone, protocol error); the card state is unknown."""

    reason = ReasonCode.TRANSPORT_ERROR


class NoReaderError(TransportError):
    reason = ReasonCode.NO_READER


class NoCardError(TransportError):
    reason = ReasonCode.NO_CARD


class CardRemovedError(TransportError):
    """The card left the field: the session (SM keys, selection) is gone."""

    reason = ReasonCode.CARD_REMOVED


class TransientTransportError(TransportError):
    """A communication error after which the card may still be there (reconnect + resume)."""

    reason = ReasonCode.TRANSPORT_ERROR


class CardStatusError(ReaderError):
    """The card answered a status word other than 9000 where the step needed success."""

    reason = ReasonCode.CARD_ERROR


class AccessDeniedError(ReaderError):
    reason = ReasonCode.ACCESS_DENIED


class SecureMessagingError(ReaderError):
    reason = ReasonCode.SM_ERROR


class MalformedFileError(ReaderError):
    reason = ReasonCode.MALFORMED_FILE


class EvidenceError(ReaderError):
    reason = ReasonCode.EVIDENCE_INVALID
