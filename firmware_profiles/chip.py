"""The virtual chip: an ISO/IEC 7816-4 card OS running the ICAO 9303 eMRTD application of a firmware profile.

`VirtualChip` implements `icao9303.transport.CardOS`. It answers the command set of an eMRTD applet
(ICAO 9303-10 §3.5 / 9303-11): SELECT, READ BINARY (even and odd INS), GET CHALLENGE, EXTERNAL
(MUTUAL) AUTHENTICATE, MSE:Set AT / Set KAT, GENERAL AUTHENTICATE (PACE steps chained with CLA b5),
INTERNAL AUTHENTICATE - plus the personalization dialect of its profile (CREATE FILE, UPDATE BINARY,
GENERATE ASYMMETRIC KEY PAIR, PUT DATA, ACTIVATE FILE). Every error is a status word of ISO/IEC
7816-4 §5.6 / ICAO 9303-11; nothing ever raises out of `process_apdu`.

Access rules:
- EFs with read condition ``sm`` are read only inside a BAC, PACE (or personalization) secure
  messaging session; ``eac`` EFs (DG3, DG4) always answer 6982 - this firmware grants no EAC.
- Any secure messaging error (MAC, missing/malformed DO, a plain APDU during SM) ends the session:
  the SM error is answered plain (6987/6988) and the access rights are gone (9303-11 §9.8.5).
- Private keys have no READ path at all; GENERATE returns only the public key.
- Wrong access keys are counted (persistently) and throttled as the profile's `Throttle` says.
- power_off / reset drop every volatile state: selection, SM keys, BAC/PACE/CA progress.

All protocol math is `icao9303.crypto` (chip role); this module only sequences it and keeps state.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from firmware_profiles.profile import EFSpec, FirmwareProfile
from firmware_profiles.state import CardState, LifeCycle, StoredFile
from icao9303 import apdu as iso
from icao9303.apdu import CommandAPDU
from icao9303.crypto.errors import AuthenticationError, ProtocolError, SMError
from icao9303.crypto.sm import SecureMessaging
from icao9303.errors import ICAOError
from icao9303.tlv import decode_tlv, encode_tlv, iter_tlv

__all__ = ["ChipTransport", "SeedKey", "VirtualChip", "curve_by_name"]

log = logging.getLogger(__name__)

MF = "MF"
APP = "eMRTD"

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}

ATR_INFO_FID = 0x2F01
ATR_INFO_SPEC = EFSpec(name="EF.ATR/INFO", fid=ATR_INFO_FID, sfi=1, df=MF, max_size=64, read="always")

TRANSPORT_AUTH_LIMIT = 10
"""Decision: after 10 consecutive failed transport-key authentications a blank card is unusable (6983)."""


def curve_by_name(name: str) -> ec.EllipticCurve:
    try:
        return _CURVES[name]()
    except KeyError:
        raise ValueError(f"unsupported curve {name}") from None


class _Reply(Exception):  # control flow inside the chip; never escapes process_apdu
    """Raised by a handler to answer a status word (with optional data)."""

    def __init__(self, sw: int, data: bytes = b"") -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw
        self.data = data


class SeedKey:
    """An access key given by its BAC key seed / PACE secret (what the chip stores instead of the MRZ).

    `icao9303.crypto` derives keys through ``key_seed()`` (BAC, 9303-11 §9.7.2) and ``pace_secret()``
    (PACE, §9.7.3); the chip keeps only SHA-1(MRZ information), so it offers exactly those two.
    """

    def __init__(self, secret: bytes, password_type: int = 1) -> None:
        self._secret = secret
        self.password_type = password_type

    def key_seed(self) -> bytes:
        return self._secret[:16]

    def pace_secret(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return "SeedKey(<redacted>)"


@dataclass(repr=False)
class _Session:
    """Volatile state: lost on power-off, reset, and (access part) on any SM error."""

    df: str = MF
    ef: tuple[str, int] | None = None
    challenge: bytes | None = None
    sm: SecureMessaging | None = None
    access: str | None = None  # "BAC", "PACE", "TRANSPORT"
    ca_done: bool = False
    pace: Any = None  # the PACE chip state machine while PACE runs
    pace_step: int = 0  # last PACE step answered
    ca_mse: Any = None  # CA parameters chosen by MSE:Set AT
    failures: int = 0  # failed authentications in this power session
    pending_sm: SecureMessaging | None = None  # replaces `sm` after the current response (CA)
    end_after_response: bool = False

    def drop_access(self) -> None:
        self.sm = None
        self.access = None
        self.ca_done = False
        self.pace = None
        self.ca_mse = None
        self.pending_sm = None


class VirtualChip:
    """A chip running `state.profile` over the non-volatile `state` (see the module docstring).

    `chip_time_s` accumulates simulated chip time (the profile's timing model); `last_apdu_time_s` is
    the time of the last APDU. `rng(n)` gives the chip's random bytes (GET CHALLENGE, BAC K.IC); a
    scripted `rng` and `pace_fixed` replay worked examples byte for byte.
    """

    def __init__(self, state: CardState, *, rng: Callable[[int], bytes] = os.urandom,
                 pace_fixed: dict[str, Any] | None = None, profile: FirmwareProfile | None = None) -> None:
        self.state = state
        # Test knob, only to replay published worked examples (ICAO 9303-11 Appendix G/I): fixed PACE
        # nonce / mapping / ephemeral private keys passed to the PACE chip role. Never set in production.
        self.pace_fixed = dict(pace_fixed or {})
        # `profile` runs a variant (e.g. a test profile from `parse_profile`) instead of the state's own.
        self.profile: FirmwareProfile = profile if profile is not None else state.profile
        self.rng = rng
        self.chip_time_s = 0.0
        self.last_apdu_time_s = 0.0
        self.apdu_count = 0
        self.internal_errors = 0  # APDUs answered 6F00 by the last-resort handler (a bug if ever > 0)
        self._powered = False
        self._session = _Session()
        self._apdu_time = 0.0

    @classmethod
    def open(cls, path: str | os.PathLike[str], **kwargs: Any) -> VirtualChip:
        """Run the card saved at `path`; every committed change is written back to it."""
        return cls(CardState.load(Path(path)), **kwargs)

    def __repr__(self) -> str:
        return f"VirtualChip(profile={self.profile.name!r}, lifecycle={self.state.lifecycle.value!r})"

    # -- CardOS ----------------------------------------------------------------------------------------

    def power_on(self) -> bytes:
        if not self._powered:
            self._powered = True
            self._session = _Session()
        return self.profile.atr

    def power_off(self) -> None:
        self._powered = False
        self._session = _Session()

    def reset(self) -> bytes:
        self.power_off()
        return self.power_on()

    @property
    def atr(self) -> bytes:
        return self.profile.atr

    def process_apdu(self, apdu: bytes) -> bytes:
        """Answer one command APDU. Never raises: an internal fault answers 6F00 and ends the session."""
        self._apdu_time = 0.0
        try:
            response = self._process(bytes(apdu))
        except Exception:  # last line of defence: a card never crashes the reader
            log.exception("virtual chip internal error")
            self.internal_errors += 1
            self._session.drop_access()
            response = b"\x6f\x00"
        t = self._apdu_time + (self.profile.timing.apdu_overhead_us
                               + self.profile.timing.per_byte_us * (len(apdu) + len(response))) / 1e6
        self.last_apdu_time_s = t
        self.chip_time_s += t
        self.apdu_count += 1
        return response

    # -- timing ----------------------------------------------------------------------------------------

    def _charge(self, op: str, count: float = 1.0) -> None:
        self._apdu_time += self.profile.timing.operations_ms.get(op, 0.0) * count / 1000.0

    # -- dispatch --------------------------------------------------------------------------------------

    def _process(self, raw: bytes) -> bytes:
        if not self._powered:
            self.power_on()  # contactless: the field powers the chip with the first command
        s = self._session
        limits = self.profile.apdu
        try:
            cmd = CommandAPDU.from_bytes(raw)
        except ICAOError:
            if s.sm is not None:
                s.drop_access()
            return _sw(iso.SW_WRONG_LENGTH)
        if (cmd.is_extended and not limits.extended_length) or cmd.nc > limits.max_command_data:
            if s.sm is not None:
                s.drop_access()
            return _sw(iso.SW_WRONG_LENGTH)
        cla = cmd.cla
        sm_bits = cla & 0x0C
        if s.sm is not None and (sm_bits != 0x0C or cla & 0x83):
            # 9303-11 §9.8.5: a command that is not SM-protected aborts the secure messaging session.
            s.drop_access()
        if cla == 0xFF or cla & 0x80:
            return _sw(iso.SW_CLA_NOT_SUPPORTED)
        if cla & 0x03:
            return _sw(iso.SW_LOGICAL_CHANNEL_NOT_SUPPORTED)
        if sm_bits == 0x0C:
            if s.sm is None or not s.sm.alive:
                s.drop_access()
                return _sw(iso.SW_SM_DATA_OBJECTS_MISSING)
            sm = s.sm
            try:
                inner = sm.unprotect_command(raw)
            except SMError as exc:
                s.drop_access()
                return _sw(exc.status_word)
            except ICAOError:
                s.drop_access()
                return _sw(iso.SW_SM_DATA_OBJECTS_INCORRECT)
            self._charge("sm_apdu")
            # Ne after unwrapping must also respect the chip's limits.
            if inner.ne is not None and inner.ne > limits.max_response_data:
                plain = _sw(iso.SW_WRONG_LENGTH)
            else:
                plain = self._dispatch(inner, protected=True)
            try:
                protected = sm.protect_response(plain)
            except SMError:
                s.drop_access()
                return _sw(iso.SW_SM_DATA_OBJECTS_INCORRECT)
            if s.end_after_response:
                s.end_after_response = False
                s.drop_access()
            elif s.pending_sm is not None:
                s.sm, s.pending_sm = s.pending_sm, None
            return protected
        if sm_bits:
            return _sw(iso.SW_SM_NOT_SUPPORTED)
        return self._dispatch(cmd, protected=False)

    def _dispatch(self, cmd: CommandAPDU, *, protected: bool) -> bytes:
        s = self._session
        chained = bool(cmd.cla & 0x10)
        ins = cmd.ins
        d = self.profile.personalization
        handlers: dict[int, Callable[[CommandAPDU, bool], bytes]] = {
            iso.INS_SELECT: self._select,
            iso.INS_READ_BINARY: self._read_binary,
            iso.INS_READ_BINARY_ODD: self._read_binary,
            iso.INS_GET_CHALLENGE: self._get_challenge,
            iso.INS_EXTERNAL_AUTHENTICATE: self._external_authenticate,
            iso.INS_MSE: self._mse,
            iso.INS_GENERAL_AUTHENTICATE: self._general_authenticate,
            iso.INS_INTERNAL_AUTHENTICATE: self._internal_authenticate,
            d.create_file_ins: self._create_file,
            d.write_ins: self._update_binary,
            d.generate_key_ins: self._generate_key_pair,
            d.put_data_ins: self._put_data,
            d.lock_ins: self._lock,
            iso.INS_GET_DATA: self._get_data,
        }
        if d.write_odd_ins is not None:
            handlers[d.write_odd_ins] = self._update_binary
        handler = handlers.get(ins)
        if handler is None:
            return _sw(iso.SW_INS_NOT_SUPPORTED)
        if chained and ins != iso.INS_GENERAL_AUTHENTICATE:
            return _sw(iso.SW_COMMAND_CHAINING_NOT_SUPPORTED)
        if ins != iso.INS_GENERAL_AUTHENTICATE and s.pace is not None:
            s.pace = None  # PACE interrupted by another command
        try:
            data = handler(cmd, protected)
        except _Reply as reply:
            return reply.data + reply.sw.to_bytes(2, "big")
        return data + b"\x90\x00"

    # -- helpers -------------------------------------------------------------------------------------

    def _spec(self, df: str, fid: int) -> EFSpec | None:
        if (df, fid) == (MF, ATR_INFO_FID) and self.profile.apdu.extended_length:
            return ATR_INFO_SPEC
        return self.profile.file_by_fid(fid, df)

    def _spec_by_sfi(self, sfi: int, df: str) -> EFSpec | None:
        if (df, sfi) == (MF, ATR_INFO_SPEC.sfi) and self.profile.apdu.extended_length:
            return ATR_INFO_SPEC
        return self.profile.file_by_sfi(sfi, df)

    def _file(self, df: str, fid: int) -> StoredFile:
        if (df, fid) == (MF, ATR_INFO_FID) and self.profile.apdu.extended_length:
            return self._atr_info()
        f = self.state.files.get((df, fid))
        if f is None:
            raise _Reply(iso.SW_FILE_NOT_FOUND)
        return f

    def _atr_info(self) -> StoredFile:
        """EF.ATR/INFO (ICAO 9303-10 §3.6.1, ISO/IEC 7816-4 §12.7.1): the chip OS's own file, built from
        the profile - extended length information DO'7F66' { INTEGER max Nc, INTEGER max Ne }.

        Decision: present exactly when the profile supports extended length (9303-10 requires it then),
        readable without access control, never written by personalization."""
        a = self.profile.apdu
        body = core.Integer(a.max_command_data).dump() + core.Integer(a.max_response_data).dump()
        data = encode_tlv(0x7F66, body)
        return StoredFile(MF, ATR_INFO_FID, len(data), bytearray(data))

    def _require_access(self, spec: EFSpec | None, protected: bool) -> None:
        s = self._session
        read = spec.read if spec is not None else "sm"
        if read == "always":
            return
        if read in ("eac", "never"):
            raise _Reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)
        # Decision: only BAC/PACE secure messaging opens the data groups; the personalization session
        # (transport key) writes them but does not read them back - the read-back is a reader's job.
        if not protected or s.access not in ("BAC", "PACE"):
            raise _Reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)

    def _personalizing(self, protected: bool) -> None:
        """Personalization commands: only in a transport-key SM session, never once locked."""
        if self.state.lifecycle is LifeCycle.LOCKED:
            raise _Reply(iso.SW_CONDITIONS_NOT_SATISFIED)
        if not protected or self._session.access != "TRANSPORT":
            raise _Reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)

    def _commit(self) -> None:
        """A personalization change: blank -> personalized, then persist."""
        if self.state.lifecycle is LifeCycle.BLANK:
            self.state.lifecycle = LifeCycle.PERSONALIZED
        self.state.persist()

    @staticmethod
    def _p1p2(cmd: CommandAPDU, *allowed: int) -> None:
        if (cmd.p1 << 8 | cmd.p2) not in allowed:
            raise _Reply(iso.SW_INCORRECT_P1P2)

    # -- SELECT (ISO/IEC 7816-4 §11.1.1) --------------------------------------------------------------

    def _select(self, cmd: CommandAPDU, protected: bool) -> bytes:
        s = self._session
        p1, p2 = cmd.p1, cmd.p2
        if p2 & 0xF3 != 0x00:  # only "first or only occurrence", FCI/FCP/none
            raise _Reply(iso.SW_INCORRECT_P1P2)
        if p2 & 0x0C == 0x0C and cmd.ne is not None and self.profile.apdu.le_without_response_data == "reject":
            raise _Reply(iso.SW_WRONG_LENGTH)
        if p1 == 0x04:  # by DF name
            if cmd.data != self.profile.aid:
                raise _Reply(iso.SW_FILE_NOT_FOUND)
            s.df, s.ef = APP, None
            if p2 & 0x0C == 0x0C or cmd.ne is None:
                return b""
            return encode_tlv(0x6F, encode_tlv(0x84, self.profile.aid))
        if p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
            s.df, s.ef = MF, None
            return b""
        if p1 in (0x00, 0x02):  # EF (or MF) by FID under the current DF
            if len(cmd.data) != 2:
                raise _Reply(iso.SW_WRONG_LENGTH if cmd.data else iso.SW_WRONG_DATA)
            fid = int.from_bytes(cmd.data, "big")
            df = s.df
        elif p1 == 0x08:  # path from the MF (ISO/IEC 7816-4 §7.1.1): only EFs directly under the MF
            if len(cmd.data) != 2:
                raise _Reply(iso.SW_FILE_NOT_FOUND if cmd.data else iso.SW_WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            df = MF
        elif p1 == 0x09:  # path from the current DF
            if len(cmd.data) != 2:
                raise _Reply(iso.SW_FILE_NOT_FOUND if cmd.data else iso.SW_WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            df = s.df
        elif p1 in (0x01, 0x03):
            raise _Reply(iso.SW_FILE_NOT_FOUND)  # no child DFs, no parent of the MF
        else:
            raise _Reply(iso.SW_INCORRECT_P1P2)
        f = self._file(df, fid)
        s.df, s.ef = df, (df, fid)
        if p2 & 0x0C == 0x0C or cmd.ne is None:
            return b""
        return self._fcp(f)

    @staticmethod
    def _fcp(f: StoredFile) -> bytes:
        return encode_tlv(0x62, [encode_tlv(0x80, f.size.to_bytes(2, "big")), encode_tlv(0x82, b"\x01"),
                                 encode_tlv(0x83, f.fid.to_bytes(2, "big"))])

    # -- READ BINARY (ISO/IEC 7816-4 §11.2.3; ICAO 9303-10 §3.5.1) ------------------------------------

    def _resolve_ef(self, cmd: CommandAPDU, odd: bool) -> tuple[tuple[str, int], int | None]:
        """(file key, offset or None for odd INS) of READ/UPDATE BINARY; selects an EF given by SFI/FID."""
        s = self._session
        p1, p2 = cmd.p1, cmd.p2
        if not odd:
            if p1 & 0x80:
                if p1 & 0x60:
                    raise _Reply(iso.SW_INCORRECT_P1P2)
                sfi = p1 & 0x1F
                spec = self._spec_by_sfi(sfi, s.df)
                if spec is None:
                    raise _Reply(iso.SW_FILE_NOT_FOUND)
                # Existence is checked after the access rule: no SM, no telling which DGs exist.
                return (s.df, spec.fid), p2
            if s.ef is None:
                raise _Reply(iso.SW_COMMAND_NOT_ALLOWED_NO_EF)
            return s.ef, (p1 << 8) | p2
        p1p2 = p1 << 8 | p2
        if p1p2 == 0:
            if s.ef is None:
                raise _Reply(iso.SW_COMMAND_NOT_ALLOWED_NO_EF)
            return s.ef, None
        if p1 == 0 and p2 & 0xE0 == 0:
            spec = self._spec_by_sfi(p2 & 0x1F, s.df)
            if spec is None:
                raise _Reply(iso.SW_FILE_NOT_FOUND)
            return (s.df, spec.fid), None
        return (s.df, p1p2), None

    @staticmethod
    def _odd_offset(data: bytes) -> tuple[int, bytes]:
        """Offset DO'54' (and the rest) of an odd-INS READ/UPDATE BINARY command data field."""
        try:
            tag, value, rest = decode_tlv(data)
        except ICAOError:
            raise _Reply(iso.SW_WRONG_DATA) from None
        if tag != 0x54 or not 1 <= len(value) <= 3:
            raise _Reply(iso.SW_WRONG_DATA)
        return int.from_bytes(value, "big"), rest

    def _read_binary(self, cmd: CommandAPDU, protected: bool) -> bytes:
        odd = cmd.ins == iso.INS_READ_BINARY_ODD
        key, offset = self._resolve_ef(cmd, odd)
        if odd:
            offset, rest = self._odd_offset(cmd.data)
            if rest:
                raise _Reply(iso.SW_WRONG_DATA)
        elif cmd.data:
            raise _Reply(iso.SW_WRONG_LENGTH)
        assert offset is not None
        self._require_access(self._spec(*key), protected)
        f = self._file(*key)
        self._session.ef = key  # a READ BINARY with SFI selects the EF (ISO/IEC 7816-4 §7.2.2)
        if cmd.ne is None:
            raise _Reply(iso.SW_WRONG_LENGTH)
        if offset >= f.size:
            raise _Reply(iso.SW_WRONG_P1P2)
        limits = self.profile.apdu
        ne = cmd.ne
        if odd:  # the response is DO'53': reserve its header inside Ne
            ne -= 2 if ne < 130 else 3 if ne < 259 else 4
            if ne <= 0:
                raise _Reply(iso.SW_WRONG_LENGTH)
        if ne > limits.max_read_binary:
            if limits.oversize_read == "wrong_length":
                raise _Reply(iso.SW_WRONG_LENGTH)
            if limits.oversize_read == "correct_le":
                raise _Reply(0x6C00 | (limits.max_read_binary & 0xFF))
            ne = limits.max_read_binary
        chunk = bytes(f.data[offset : offset + ne])
        body = encode_tlv(0x53, chunk) if odd else chunk
        # Decision: Le = 00 / 0000 (Ne 256 / 65536) means "as much as there is" and a short answer at the
        # end of the file is 9000; an explicit smaller Le cut short by the end of file answers 6282
        # (ISO/IEC 7816-4 §5.6 "end of file reached before reading Ne bytes") with the data.
        if len(chunk) < ne and cmd.ne not in (256, 65536):
            raise _Reply(iso.SW_END_OF_FILE, body)
        return body

    # -- GET CHALLENGE / EXTERNAL AUTHENTICATE (BAC 9303-11 §4.3; transport key) ----------------------

    def _get_challenge(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._p1p2(cmd, 0x0000)
        if cmd.data:
            raise _Reply(iso.SW_WRONG_LENGTH)
        if cmd.ne != 8:
            raise _Reply(iso.SW_WRONG_LENGTH)
        self._session.challenge = bytes(self.rng(8))
        return self._session.challenge

    def _throttle_gate(self, transport: bool) -> None:
        s = self._session
        t = self.profile.throttle
        if transport:
            if self.state.transport_auth_failures >= TRANSPORT_AUTH_LIMIT:
                raise _Reply(iso.SW_AUTHENTICATION_BLOCKED)
            return
        if s.failures >= t.max_failures_per_session:
            raise _Reply(iso.SW_AUTHENTICATION_BLOCKED)
        if self.state.auth_failures:
            delay = min(t.base_delay_ms * 2.0 ** min(self.state.auth_failures - 1, 64), t.max_delay_ms)
            self._apdu_time += delay / 1000.0

    def _auth_failed(self, transport: bool) -> None:
        self._session.failures += 1
        if transport:
            self.state.transport_auth_failures += 1
        else:
            self.state.auth_failures += 1
        self.state.persist()

    def _auth_succeeded(self, transport: bool) -> None:
        changed = False
        if transport and self.state.transport_auth_failures:
            self.state.transport_auth_failures = 0
            changed = True
        if not transport and self.state.auth_failures:
            self.state.auth_failures = 0
            changed = True
        if changed:
            self.state.persist()

    def _external_authenticate(self, cmd: CommandAPDU, protected: bool) -> bytes:
        from icao9303.crypto.bac import BACChip

        s = self._session
        if cmd.p1 != 0x00:
            raise _Reply(iso.SW_INCORRECT_P1P2)
        transport = cmd.p2 == self.profile.personalization.transport_key_reference
        if transport:
            if self.state.lifecycle is LifeCycle.LOCKED or self.state.transport_key is None:
                raise _Reply(iso.SW_CONDITIONS_NOT_SATISFIED)
            seed = self.state.transport_key
        elif cmd.p2 == 0x00:
            if not self.profile.bac:
                raise _Reply(iso.SW_FUNCTION_NOT_SUPPORTED)
            if self.state.mrz_secret is None:
                raise _Reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
            seed = self.state.mrz_secret
        else:
            raise _Reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        challenge, s.challenge = s.challenge, None
        if challenge is None:
            raise _Reply(iso.SW_CONDITIONS_NOT_SATISFIED)
        if len(cmd.data) != 40:
            raise _Reply(iso.SW_WRONG_LENGTH)
        self._throttle_gate(transport)
        self._charge("bac")
        chip = BACChip(SeedKey(seed), rnd_ic=challenge, k_ic=bytes(self.rng(16)))  # type: ignore[arg-type]
        chip.get_challenge()
        try:
            response, result = chip.external_authenticate(cmd.data)
        except AuthenticationError:
            s.drop_access()
            self._auth_failed(transport)
            raise _Reply(iso.SW_VERIFICATION_FAILED) from None
        except ProtocolError as exc:
            s.drop_access()
            raise _Reply(exc.status_word) from None
        self._auth_succeeded(transport)
        new_sm = result.secure_messaging()
        s.drop_access()
        if protected:  # re-authentication inside SM: this answer still goes out under the old keys
            s.pending_sm = new_sm
        else:
            s.sm = new_sm
        s.access = "TRANSPORT" if transport else "BAC"
        return response

    # -- MSE / GENERAL AUTHENTICATE (PACE 9303-11 §4.4, CA §6.2) --------------------------------------

    def _mse(self, cmd: CommandAPDU, protected: bool) -> bytes:
        from firmware_profiles import protocols

        return protocols.mse(self, cmd, protected)

    def _general_authenticate(self, cmd: CommandAPDU, protected: bool) -> bytes:
        from firmware_profiles import protocols

        return protocols.general_authenticate(self, cmd, protected)

    def _internal_authenticate(self, cmd: CommandAPDU, protected: bool) -> bytes:
        from firmware_profiles import protocols

        return protocols.internal_authenticate(self, cmd, protected)

    # -- personalization dialect ---------------------------------------------------------------------

    def _create_file(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._personalizing(protected)
        self._p1p2(cmd, 0x0000)
        s = self._session
        try:
            tag, fcp, rest = decode_tlv(cmd.data)
            if tag != 0x62 or rest:
                raise _Reply(iso.SW_WRONG_DATA)
            fields = dict(iter_tlv(fcp))
        except ICAOError:
            raise _Reply(iso.SW_WRONG_DATA) from None
        size_b, desc, fid_b = fields.get(0x80), fields.get(0x82), fields.get(0x83)
        if size_b is None or fid_b is None or len(fid_b) != 2 or not 1 <= len(size_b) <= 2:
            raise _Reply(iso.SW_WRONG_DATA)
        if desc is not None and desc != b"\x01":
            raise _Reply(iso.SW_WRONG_DATA)  # only transparent working EFs
        fid = int.from_bytes(fid_b, "big")
        size = int.from_bytes(size_b, "big")
        spec = self._spec(s.df, fid)
        if spec is None:
            raise _Reply(iso.SW_WRONG_DATA)  # not a file of this firmware's file system
        sfi_b = fields.get(0x88)
        if sfi_b is not None and (len(sfi_b) != 1 or (sfi_b[0] >> 3) != (spec.sfi or 0)):
            raise _Reply(iso.SW_WRONG_DATA)
        if (s.df, fid) in self.state.files:
            raise _Reply(iso.SW_FILE_ALREADY_EXISTS)
        if size == 0 or size > spec.max_size or self.state.memory_used + size > self.profile.memory_capacity:
            raise _Reply(iso.SW_NOT_ENOUGH_MEMORY)
        self.state.files[(s.df, fid)] = StoredFile(s.df, fid, size, bytearray(size))
        s.ef = (s.df, fid)
        self._commit()
        return b""

    def _update_binary(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._personalizing(protected)
        odd = bool(cmd.ins & 1)
        key, offset = self._resolve_ef(cmd, odd)
        data = cmd.data
        if odd:
            offset, rest = self._odd_offset(cmd.data)
            try:
                tag, data, tail = decode_tlv(rest)
            except ICAOError:
                raise _Reply(iso.SW_WRONG_DATA) from None
            if tag != 0x53 or tail:
                raise _Reply(iso.SW_WRONG_DATA)
        assert offset is not None
        if not data:
            raise _Reply(iso.SW_WRONG_LENGTH)
        f = self._file(*key)
        self._session.ef = key
        if offset > f.size:
            raise _Reply(iso.SW_WRONG_P1P2)
        if offset + len(data) > f.size:
            raise _Reply(iso.SW_NOT_ENOUGH_MEMORY)
        f.data[offset : offset + len(data)] = data
        self._charge("eeprom_write", (len(data) + 255) // 256)
        self._commit()
        return b""

    def _generate_key_pair(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._personalizing(protected)
        refs = {v: k for k, v in self.profile.personalization.key_references.items()}
        if cmd.p1 != 0x00 or cmd.p2 not in refs:
            raise _Reply(iso.SW_INCORRECT_P1P2)
        purpose = refs[cmd.p2]
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if purpose == "CA":
            ca = self.profile.chip_authentication
            assert ca is not None
            key = ec.generate_private_key(curve_by_name(ca.curve))
            self._charge("ec_keygen")
        else:
            aa = self.profile.active_authentication
            assert aa is not None
            if aa.algorithm == "RSA":
                key = rsa.generate_private_key(65537, aa.key_size)
                self._charge("rsa_keygen")
            else:
                assert aa.curve is not None
                key = ec.generate_private_key(curve_by_name(aa.curve))
                self._charge("ec_keygen")
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        if cmd.ne is None or cmd.ne < len(spki):
            raise _Reply(iso.SW_WRONG_LENGTH)
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        if purpose == "CA":
            self.state.ca_private_key = pkcs8
        else:
            self.state.aa_private_key = pkcs8
        self._commit()
        return spki

    def _put_data(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._personalizing(protected)
        tags = {v: k for k, v in self.profile.personalization.access_key_tags.items()}
        which = tags.get(cmd.p1 << 8 | cmd.p2)
        if which is None:
            raise _Reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        value = cmd.data
        if which == "MRZ":
            # MRZ information (9303-11 §9.7.2): document number, birth date, expiry with check digits.
            if not 24 <= len(value) <= 40 or not all(0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or b == 0x3C
                                                     for b in value):
                raise _Reply(iso.SW_WRONG_DATA)
            self.state.mrz_secret = hashlib.sha1(value).digest()  # noqa: S324 - mandated by 9303-11
        else:
            if not 1 <= len(value) <= 12 or not value.isdigit():
                raise _Reply(iso.SW_WRONG_DATA)
            self.state.can = value.decode("ascii")
        self._commit()
        return b""

    def _get_data(self, cmd: CommandAPDU, protected: bool) -> bytes:
        """GET DATA (ISO 7816-4 §7.4.2) for the IC serial number, in every lifecycle state, plain or in SM.

        Decision: P1-P2 = '9F7F' (the tag of GlobalPlatform's Card Production Life Cycle data, where real
        chips expose the IC serial) answers ``9F7F 08 <serial>``: only the 8-byte chip serial the issuer
        needs to diversify the transport key, not the rest of CPLC. Any other tag: 6A88.
        """
        if (cmd.p1 << 8 | cmd.p2) != 0x9F7F:
            raise _Reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        if cmd.data:
            raise _Reply(iso.SW_WRONG_LENGTH)
        serial = bytes.fromhex(self.state.serial)
        return b"\x9f\x7f" + bytes([len(serial)]) + serial

    def _lock(self, cmd: CommandAPDU, protected: bool) -> bytes:
        self._personalizing(protected)
        self._p1p2(cmd, 0x0000)
        if cmd.data:
            raise _Reply(iso.SW_WRONG_LENGTH)
        st, prof = self.state, self.profile
        complete = (
            st.mrz_secret is not None
            and all((APP, prof.file_by_name(n).fid) in st.files for n in ("EF.COM", "EF.SOD", "DG1"))
            and (prof.chip_authentication is None or st.ca_private_key is not None)
            and (prof.active_authentication is None or st.aa_private_key is not None)
            and (prof.pace is None or "CAN" not in prof.pace.passwords or st.can is not None)
        )
        if not complete:
            raise _Reply(iso.SW_CONDITIONS_NOT_SATISFIED)
        st.lifecycle = LifeCycle.LOCKED
        st.transport_key = None
        st.transport_auth_failures = 0
        st.persist()
        self._session.end_after_response = True
        return b""


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class ChipTransport:
    """The minimal in-process `Transport` over a `CardOS` (unit tests; `reader/` has the full adapter)."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.card.power_on()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.process_apdu(bytes(apdu))

    def reset(self) -> bytes:
        return self.card.reset()
