"""Access control for the reader: EF.CardAccess, PACE first, BAC as fallback, under an explicit policy.

ICAO 9303-11 §4: the inspection system reads EF.CardAccess (plain, in the MF) and, if it lists a
PACEInfo, runs PACE (§4.4; GM, IM or CAM; ECDH or DH) with the MRZ or CAN password; a chip without
PACE (or a policy that allows the fallback) is opened with BAC (§4.3, MRZ key only). Both hand back a
secure-messaging transport (`icao9303.crypto.sm.SecureMessagingTransport`), on which the eMRTD
application is selected.

LESSONS.md applied here: the card is reset (and the MF selected) before EF.CardAccess, so a chip left
in the application by an earlier session cannot answer 6A82; MSE:Set AT carries the parameter id
(tag 84) as EF.CardAccess says and is retried without it on 6A80; SELECT and MSE carry no Le.

Decisions:
* PACEInfo choice when the chip lists several: CAM before GM before IM (CAM makes a separate Chip
  Authentication unnecessary), ECDH before DH, then the strongest cipher.
* A wrong access key is ACCESS_DENIED and never falls back to BAC (the same MRZ would fail again and
  count against the chip's retry counter); PACE failing for any other reason falls back to BAC when
  the policy allows it, and the report says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from icao9303.crypto.kdf import AccessKey, CANKey, MRZKey, PasswordType
from icao9303.errors import (
    AuthenticationBlockedError,
    CardError,
    ICAOError,
    VerificationFailedError,
)
from icao9303.transport import Transport
from reader.errors import (
    AccessDeniedError,
    ReaderError,
    ReasonCode,
    SecureMessagingError,
    TransportError,
)
from reader.evidence import access_key_digest
from reader.reading import FILES, FileReader, FileReadError, ReadSizeMemory, select_application, select_mf
from reader.report import AccessInfo

__all__ = [
    "AccessKey",
    "CANKey",
    "MRZKey",
    "ReadPolicy",
    "Session",
    "access_seed",
    "can_key",
    "mrz_key",
    "mrz_key_from_text",
    "open_session",
]


def can_key(can: str) -> CANKey:
    """The CAN password (VN: the last 6 digits of the 12-digit personal ID)."""
    can = can.strip()
    if not can.isdigit() or not 6 <= len(can) <= 10:
        raise ValueError("a CAN is 6 to 10 digits")
    return CANKey(can)


def mrz_key(document_number: str, date_of_birth: str, date_of_expiry: str) -> MRZKey:
    """The MRZ access key from the three MRZ fields (dates YYMMDD)."""
    return MRZKey(document_number.strip().upper(), date_of_birth.strip(), date_of_expiry.strip())


def mrz_key_from_text(mrz: str) -> MRZKey:
    """The MRZ access key from a whole MRZ (TD1 3×30 or TD3 2×44; lines separated by newlines or not).

    Only positions are used here (ICAO 9303-5 §4.2.2 TD1, 9303-4 §4.2.2 TD3); the check digits are
    verified by the chip itself when it derives the same key."""
    lines = [line.strip() for line in mrz.strip().replace("\r", "").split("\n") if line.strip()]
    text = "".join(lines)
    if len(text) == 90:
        doc = text[5:14]
        if text[14] == "<" and text[15:30].strip("<"):
            # a long document number continues in the optional data (9303-5 §4.2.2 note j)
            ext = text[15:30].split("<", 1)[0]
            doc = doc + ext[:-1]
        line2 = text[30:60]
        return mrz_key(doc.rstrip("<"), line2[0:6], line2[8:14])
    if len(text) == 88:
        line2 = text[44:88]
        return mrz_key(line2[0:9].rstrip("<"), line2[13:19], line2[21:27])
    raise ValueError("an MRZ has 3 lines of 30 (TD1) or 2 of 44 (TD3) characters")


def access_seed(key: AccessKey) -> tuple[str, str]:
    """(password type, seed) for `reader.evidence.access_key_digest`: the MRZ information or the CAN."""
    if isinstance(key, MRZKey):
        return "MRZ", key.mrz_information.decode("ascii")
    if isinstance(key, CANKey):
        return "CAN", key.value
    raise ValueError("only MRZ and CAN keys open an eMRTD")


@dataclass(frozen=True)
class ReadPolicy:
    """What `inspect_card` does and accepts; every field is a decision the caller makes explicit.

    Attributes:
        pace: ``"prefer"`` (PACE when EF.CardAccess offers it, else BAC), ``"require"`` (fail with
            PACE_REQUIRED if the chip or key cannot do PACE — e.g. the 2024 card), ``"never"`` (BAC only).
        bac_fallback: with ``pace="prefer"``, fall back to BAC when PACE fails for a reason other than a
            wrong key.
        read_portrait: read DG2 (False: "skip portrait", the hash of DG2 is then not checked).
        skip_dgs: data group numbers not to read at all.
        chip_authentication: ``"auto"`` (CA when DG14 is present and PACE-CAM was not done),
            ``"require"`` (CA_FAILED when it cannot be done), ``"skip"``.
        active_authentication: run AA when DG15 is present.
        allow_sha1: accept SHA-1 in the SOD / certificates (legacy chips): reported as LEGACY_ALGORITHM.
        max_resumes: reconnect-and-resume attempts per file after a transient transport error.
        pace_mappings: the PACE mappings allowed, in order of preference (module docstring decision).
        initial_read_size: first READ BINARY size when neither EF.ATR/INFO nor the ATR says more.
    """

    pace: Literal["prefer", "require", "never"] = "prefer"
    bac_fallback: bool = True
    read_portrait: bool = True
    skip_dgs: frozenset[int] = frozenset()
    chip_authentication: Literal["auto", "require", "skip"] = "auto"
    active_authentication: bool = True
    allow_sha1: bool = False
    max_resumes: int = 2
    initial_read_size: int = 223
    pace_mappings: tuple[str, ...] = ("CAM", "GM", "IM")

    @classmethod
    def for_profile(cls, profile_name: str, **overrides: Any) -> ReadPolicy:
        """The policy for a known card generation: the 2024 card (``vn-cc-2024``) must open with PACE
        and do Chip Authentication; the rest use the defaults."""
        base: dict[str, Any] = {}
        if profile_name == "vn-cc-2024":
            base = {"pace": "require", "bac_fallback": False, "chip_authentication": "require"}
        elif profile_name == "legacy-bac":
            base = {"allow_sha1": True}
        base.update(overrides)
        return cls(**base)


@dataclass
class Session:
    """An open chip session: the SM transport (application selected), how it was opened, and what
    PACE-CAM returned (for `reader.chipauth`)."""

    raw: Transport
    transport: Transport
    access: AccessInfo
    key_digest: str = field(repr=False)  # a digest of a 6-digit CAN is brute-forced in a second
    card_access: bytes | None
    atr_info: bytes | None
    pace_result: Any = None
    notes: list[str] = field(default_factory=list)


def _pace_mapping(oid: str) -> str:
    from icao9303.lds import oids

    base = oid.rsplit(".", 1)[0]
    return {oids.ID_PACE_DH_GM: "GM", oids.ID_PACE_ECDH_GM: "GM", oids.ID_PACE_DH_IM: "IM",
            oids.ID_PACE_ECDH_IM: "IM", oids.ID_PACE_ECDH_CAM: "CAM"}.get(base, "?")


def choose_pace_info(infos: list[Any], mappings: tuple[str, ...] = ("CAM", "GM", "IM")) -> Any | None:
    """The PACEInfo to use (module docstring decision; `mappings` in order of preference), or None."""
    usable = [i for i in infos if _pace_mapping(i.protocol) in mappings]
    if not usable:
        return None

    def rank(info: Any) -> tuple[int, int, int]:
        oid = info.protocol
        ecdh = 0 if ".4.2." in oid or ".4.4." in oid or ".4.6." in oid else 1
        return (mappings.index(_pace_mapping(oid)), ecdh, -int(oid.rsplit(".", 1)[1]))

    return sorted(usable, key=rank)[0]


def _reset(raw: Transport) -> None:
    """Reset the card before a session; `reconnect` where the transport has it (after the card left
    the field, PC/SC needs a new connection, not only a warm reset)."""
    reset = getattr(raw, "reconnect", None) or getattr(raw, "reset", None)
    if callable(reset):
        reset()


def _read_plain(raw: Transport, name: str, memory: ReadSizeMemory) -> bytes | None:
    """A file of the MF read without SM, or None when the chip does not have it."""
    try:
        return FileReader(raw, memory=memory, initial_size=223).read(FILES[name])
    except FileReadError as exc:
        if exc.reason in (ReasonCode.FILE_NOT_FOUND, ReasonCode.EAC_REQUIRED, ReasonCode.ACCESS_DENIED):
            return None
        raise
    except ReaderError as exc:
        if isinstance(exc, TransportError):
            raise
        return None


def _is_wrong_key(exc: BaseException) -> bool:
    if isinstance(exc, VerificationFailedError | AuthenticationBlockedError):
        return True
    reason = getattr(exc, "reason", "")
    return isinstance(reason, str) and reason.startswith("auth.")


def _sm_transport(raw: Transport, sm: Any) -> Transport:
    from icao9303.crypto.sm import SecureMessagingTransport

    return SecureMessagingTransport(raw, sm)


def _run_pace(raw: Transport, key: AccessKey, info: Any, card_access: Any) -> tuple[Transport, Any]:
    """PACE over `raw` with the chosen PACEInfo; retries MSE:Set AT without the parameter id on 6A80."""
    from icao9303.crypto import pace as pace_mod

    param_id = info["parameter_id"].native if "parameter_id" in info and info["parameter_id"].native \
        is not None else None
    try:
        result = pace_mod.perform_pace(raw, key, info, card_access=card_access, send_parameter_id=True)
    except CardError as exc:
        if exc.sw != 0x6A80 or param_id is None or "MSE" not in (exc.step or ""):
            raise
        result = pace_mod.perform_pace(raw, key, info, card_access=card_access, send_parameter_id=False)
    return _sm_transport(raw, result.secure_messaging()), result


def open_session(raw: Transport, key: AccessKey, policy: ReadPolicy | None = None, *,
                 memory: ReadSizeMemory | None = None) -> Session:
    """Reset, read EF.CardAccess (and EF.ATR/INFO), run PACE or BAC per `policy`, select the eMRTD
    application over SM. Raises `AccessDeniedError` (wrong key / blocked), `ReaderError` with
    PACE_REQUIRED / PACE_FAILED / BAC_FAILED / SM_ERROR, or a `TransportError`."""
    policy = policy or ReadPolicy()
    memory = memory if memory is not None else ReadSizeMemory()
    password_type, seed = access_seed(key)
    digest = access_key_digest(password_type, seed)
    _reset(raw)
    select_mf(raw)
    card_access_raw = _read_plain(raw, "EF.CardAccess", memory)
    atr_info = _read_plain(raw, "EF.ATR/INFO", memory)
    notes: list[str] = []
    pace_info = None
    card_access = None
    if card_access_raw is not None and policy.pace != "never":
        try:
            from icao9303.lds.security_infos import CardAccess

            card_access = CardAccess.from_bytes(card_access_raw)
            pace_info = choose_pace_info(card_access.security_infos.pace_infos, policy.pace_mappings)
        except ICAOError as exc:
            notes.append(f"EF.CardAccess unusable ({exc.reason})")
            if policy.pace == "require":
                raise ReaderError("EF.CardAccess is malformed", reason=ReasonCode.MALFORMED_FILE,
                                  step="EF.CardAccess") from exc
    if pace_info is None and policy.pace == "require":
        raise ReaderError("policy requires PACE but the chip offers none", reason=ReasonCode.PACE_REQUIRED,
                          step="EF.CardAccess")
    if pace_info is not None:
        try:
            transport, result = _run_pace(raw, key, pace_info, card_access)
            select_application(transport)
            mapping = _pace_mapping(pace_info.protocol)
            pid = pace_info["parameter_id"].native
            info = AccessInfo("PACE", password_type, mapping, pace_info.protocol, pid)
            return Session(raw, transport, info, digest, card_access_raw, atr_info, result, notes)
        except TransportError:
            raise
        except Exception as exc:
            if _is_wrong_key(exc):
                raise AccessDeniedError("the chip refused the access key (PACE)", step="PACE",
                                        sw=getattr(exc, "sw", None)) from exc
            if policy.pace == "require" or not policy.bac_fallback or not isinstance(key, MRZKey):
                reason = ReasonCode.SM_ERROR if _is_sm_error(exc) else ReasonCode.PACE_FAILED
                raise ReaderError(f"PACE failed ({getattr(exc, 'reason', type(exc).__name__)})",
                                  reason=reason, step="PACE", sw=getattr(exc, "sw", None)) from exc
            notes.append(f"PACE failed ({getattr(exc, 'reason', type(exc).__name__)}); BAC fallback")
            _reset(raw)
    if not isinstance(key, MRZKey):
        raise ReaderError("a CAN opens the chip only with PACE, which it does not offer",
                          reason=ReasonCode.PACE_REQUIRED, step="BAC")
    try:
        from icao9303.crypto.bac import perform_bac

        select_application(raw)
        result = perform_bac(raw, key)
        transport = _sm_transport(raw, result.secure_messaging())
    except TransportError:
        raise
    except Exception as exc:
        if _is_wrong_key(exc):
            raise AccessDeniedError("the chip refused the access key (BAC)", step="BAC",
                                    sw=getattr(exc, "sw", None)) from exc
        reason = ReasonCode.SM_ERROR if _is_sm_error(exc) else ReasonCode.BAC_FAILED
        raise ReaderError(f"BAC failed ({getattr(exc, 'reason', type(exc).__name__)})", reason=reason,
                          step="BAC", sw=getattr(exc, "sw", None)) from exc
    return Session(raw, transport, AccessInfo("BAC", password_type), digest, card_access_raw, atr_info,
                   None, notes)


def _is_sm_error(exc: BaseException) -> bool:
    if isinstance(exc, SecureMessagingError):
        return True
    reason = getattr(exc, "reason", "")
    return isinstance(reason, str) and reason.startswith("sm.")


__all__ += ["PasswordType", "choose_pace_info"]
