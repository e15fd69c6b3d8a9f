"""The personalization dialect, terminal side: what the issuance station sends to a blank card.

`PersonalizationSession(transport, profile)` drives the profile's `PersonalizationDialect` over any
`Transport` (pyscard through pcscd, or the in-process adapter)::

    session = PersonalizationSession(transport, load_profile("vn-cccd-2021"))
    session.authenticate(transport_key)          # GET CHALLENGE + MUTUAL AUTHENTICATE -> 3DES SM
    session.write_file("EF.CardAccess", card_access)   # creates the EF (CREATE FILE) then writes it
    session.write_file("DG1", dg1) ...
    ca_spki = session.generate_key_pair("CA")    # DER SubjectPublicKeyInfo; private key stays on chip
    aa_spki = session.generate_key_pair("AA")
    session.write_file("DG14", dg14); session.write_file("DG15", dg15); session.write_file("EF.SOD", sod)
    session.set_access_keys(mrz_information, can)
    session.lock()                               # no write ever works again

Every refusal raises `PersonalizationError` with the chip's status word (`.sw`) and the step name.
The transport key, MRZ information and CAN travel only inside secure messaging and never appear in
an error or a repr.
"""
from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives.serialization import load_der_public_key

from firmware_profiles.chip import SeedKey
from firmware_profiles.errors import PersonalizationError
from firmware_profiles.profile import FirmwareProfile, load_profile
from icao9303 import apdu as iso
from icao9303.apdu import CommandAPDU, ResponseAPDU, sw_meaning
from icao9303.crypto.bac import BACTerminal
from icao9303.crypto.errors import CryptoError
from icao9303.crypto.sm import SecureMessagingTransport
from icao9303.errors import ICAOError
from icao9303.tlv import encode_tlv
from icao9303.transport import Transport

__all__ = ["PersonalizationSession"]


class PersonalizationSession:
    """One personalization session with a blank (or half-personalized) card; see the module docstring."""

    def __init__(self, transport: Transport, profile: FirmwareProfile | str) -> None:
        self.transport = transport
        self.profile = profile if isinstance(profile, FirmwareProfile) else load_profile(profile)
        self._sm: SecureMessagingTransport | None = None
        self._df: str | None = None

    def __repr__(self) -> str:
        return f"PersonalizationSession(profile={self.profile.name!r}, authenticated={self.authenticated})"

    @property
    def authenticated(self) -> bool:
        return self._sm is not None and self._sm.sm.alive

    # -- plumbing ----------------------------------------------------------------------------------

    def _plain(self, step: str, cmd: CommandAPDU) -> bytes:
        try:
            rapdu = ResponseAPDU.from_bytes(self.transport.transmit(cmd.to_bytes()))
        except ICAOError as exc:
            raise PersonalizationError(f"{step}: malformed response", step=step,
                                       reason="perso.bad_response") from exc
        if rapdu.sw != iso.SW_OK:
            raise PersonalizationError(f"{step}: card answered {sw_meaning(rapdu.sw)}", step=step,
                                       sw=rapdu.sw)
        return rapdu.data

    def transmit_protected(self, step: str, apdu: bytes) -> ResponseAPDU:
        """Send one plaintext command APDU inside the transport-key secure channel and return the chip's
        (unprotected) response, whatever its status word. An SM failure ends the channel. This is the hook a
        replayer of recorded personalization commands uses (`issuance.script`)."""
        if self._sm is None or not self._sm.sm.alive:
            self._sm = None
            raise PersonalizationError(f"{step}: authenticate with the transport key first", step=step,
                                       reason="perso.not_authenticated")
        try:
            return ResponseAPDU.from_bytes(self._sm.transmit(apdu))
        except CryptoError as exc:
            self._sm = None
            sw = getattr(exc, "sw", None)
            raise PersonalizationError(f"{step}: secure messaging failed ({exc.reason})", step=step, sw=sw,
                                       reason="perso.secure_messaging") from None
        except ICAOError as exc:
            raise PersonalizationError(f"{step}: malformed response", step=step,
                                       reason="perso.bad_response") from exc

    def _send(self, step: str, cmd: CommandAPDU) -> bytes:
        rapdu = self.transmit_protected(step, cmd.to_bytes())
        if rapdu.sw != iso.SW_OK:
            raise PersonalizationError(f"{step}: card answered {sw_meaning(rapdu.sw)}", step=step,
                                       sw=rapdu.sw)
        return rapdu.data

    def _select_df(self, df: str) -> None:
        if self._df == df:
            return
        if df == "MF":
            self._send("select MF", CommandAPDU(0x00, iso.INS_SELECT, 0x00, 0x0C, b"\x3f\x00"))
        else:
            self._send("select application", CommandAPDU(0x00, iso.INS_SELECT, 0x04, 0x0C, self.profile.aid))
        self._df = df

    # -- dialect steps -----------------------------------------------------------------------------

    def select_application(self) -> None:
        """SELECT the eMRTD application by AID, plain (ICAO 9303-10 §3.6.1)."""
        self._plain("select application", CommandAPDU(0x00, iso.INS_SELECT, 0x04, 0x0C, self.profile.aid))
        self._df = "eMRTD"

    def read_serial(self) -> str:
        """The chip serial (16 hex characters) by GET DATA '9F7F', plain: what the station diversifies
        the transport key with (see `firmware_profiles.state.diversify_transport_key`)."""
        answer = self._plain("read serial", CommandAPDU(0x00, iso.INS_GET_DATA, 0x9F, 0x7F, b"", 256))
        if len(answer) != 11 or answer[:3] != b"\x9f\x7f\x08":
            raise PersonalizationError("GET DATA 9F7F answer is not a chip serial", step="read serial",
                                       reason="perso.bad_response")
        return answer[3:].hex().upper()

    def authenticate(self, transport_key: bytes) -> None:
        """Transport-key mutual authentication (see `PersonalizationDialect`): GET CHALLENGE, then
        MUTUAL AUTHENTICATE with P2 = the transport key reference; installs 3DES secure messaging.

        Raises `PersonalizationError` (sw 6300) for a wrong key, 6985 once the card is locked, 6983
        when the card blocked transport authentication.
        """
        if len(transport_key) != 16:
            raise PersonalizationError("transport key must be 16 bytes", step="authenticate",
                                       reason="perso.argument")
        self._sm = None
        self.select_application()
        terminal = BACTerminal(SeedKey(bytes(transport_key)))  # type: ignore[arg-type]
        rnd_ic = self._plain("get challenge", CommandAPDU.from_bytes(terminal.get_challenge_command()))
        if len(rnd_ic) != 8:
            raise PersonalizationError("GET CHALLENGE answer is not 8 bytes", step="authenticate",
                                       reason="perso.bad_response")
        ext = CommandAPDU.from_bytes(terminal.external_authenticate_command(rnd_ic))
        ext = CommandAPDU(ext.cla, ext.ins, ext.p1, self.profile.personalization.transport_key_reference,
                          ext.data, ext.ne)
        answer = self._plain("authenticate", ext)
        try:
            result = terminal.process_response(answer)
        except CryptoError:
            raise PersonalizationError("the card's authentication cryptogram does not verify",
                                       step="authenticate", reason="perso.card_not_authentic") from None
        self._sm = SecureMessagingTransport(self.transport, result.secure_messaging())

    def create_file(self, name: str, size: int) -> None:
        """CREATE FILE (ISO/IEC 7816-9 §8.1) for the profile's EF `name` with `size` bytes."""
        spec = self.profile.file_by_name(name)
        if not 1 <= size <= spec.max_size:
            raise PersonalizationError(f"create {name}: size {size} outside 1..{spec.max_size}",
                                       step="create_file", reason="perso.argument")
        fcp = [encode_tlv(0x80, size.to_bytes(2, "big")), encode_tlv(0x82, b"\x01"),
               encode_tlv(0x83, spec.fid.to_bytes(2, "big"))]
        if spec.sfi is not None:
            fcp.append(encode_tlv(0x88, bytes([spec.sfi << 3])))
        self._select_df(spec.df)
        ins = self.profile.personalization.create_file_ins
        self._send(f"create {name}", CommandAPDU(0x00, ins, 0x00, 0x00, encode_tlv(0x62, fcp)))

    def write_file(self, name: str, data: bytes, *, create: bool = True) -> None:
        """Write `data` into EF `name` (creating it with exactly that size first, unless `create` is
        False), in UPDATE BINARY chunks of the profile's `write_chunk`; odd INS beyond offset 32767."""
        d = self.profile.personalization
        spec = self.profile.file_by_name(name)
        data = bytes(data)
        if not data:
            raise PersonalizationError(f"write {name}: no data", step="write_file", reason="perso.argument")
        if create:
            self.create_file(name, len(data))
        else:
            self._select_df(spec.df)
            self._send(f"select {name}", CommandAPDU(0x00, iso.INS_SELECT, 0x02, 0x0C,
                                                     spec.fid.to_bytes(2, "big")))
        offset = 0
        while offset < len(data):
            chunk = data[offset : offset + d.write_chunk]
            if offset <= 0x7FFF:  # even INS: 15-bit offset in P1-P2 (ISO/IEC 7816-4 §11.2.2)
                cmd = CommandAPDU(0x00, d.write_ins, offset >> 8, offset & 0xFF, chunk)
            elif d.write_odd_ins is not None:  # odd INS: offset in DO'54', data in DO'53'
                off = offset.to_bytes(3 if offset > 0xFFFF else 2, "big")
                body = encode_tlv(0x54, off) + encode_tlv(0x53, chunk)
                cmd = CommandAPDU(0x00, d.write_odd_ins, 0x00, 0x00, body)
            else:
                raise PersonalizationError(f"write {name}: offset beyond 32767 needs odd INS",
                                           step="write_file", reason="perso.argument")
            self._send(f"write {name}", cmd)
            offset += len(chunk)

    def generate_key_pair(self, purpose: Literal["CA", "AA"]) -> bytes:
        """GENERATE ASYMMETRIC KEY PAIR on the chip; returns the public key as DER SubjectPublicKeyInfo."""
        refs = self.profile.personalization.key_references
        if purpose not in refs:
            raise PersonalizationError(f"profile {self.profile.name} has no {purpose} key",
                                       step="generate_key_pair", reason="perso.argument")
        ne = 65536 if self.profile.apdu.extended_length else 256
        spki = self._send(f"generate {purpose} key", CommandAPDU(
            0x00, self.profile.personalization.generate_key_ins, 0x00, refs[purpose], b"", ne))
        try:
            load_der_public_key(spki)
        except ValueError:
            raise PersonalizationError("generated public key is not a SubjectPublicKeyInfo",
                                       step="generate_key_pair", reason="perso.bad_response") from None
        return spki

    def set_access_keys(self, mrz_information: str | bytes | object, can: str | None = None) -> None:
        """PUT DATA the MRZ information (document number ‖ cd ‖ birth ‖ cd ‖ expiry ‖ cd, 9303-11 §9.7.2;
        an `icao9303.crypto.MRZKey` is accepted) and, for PACE with CAN, the CAN."""
        tags = self.profile.personalization.access_key_tags
        info = getattr(mrz_information, "mrz_information", mrz_information)
        if isinstance(info, str):
            info = info.encode("ascii", "strict")
        if not isinstance(info, bytes):
            raise PersonalizationError("MRZ information must be text", step="set_access_keys",
                                       reason="perso.argument")
        self._select_df("eMRTD")
        ins = self.profile.personalization.put_data_ins
        self._send("set MRZ key", CommandAPDU(0x00, ins, tags["MRZ"] >> 8, tags["MRZ"] & 0xFF, info))
        if can is not None:
            if "CAN" not in tags:
                raise PersonalizationError(f"profile {self.profile.name} has no CAN", step="set_access_keys",
                                           reason="perso.argument")
            can_ref = tags["CAN"]
            self._send("set CAN", CommandAPDU(0x00, ins, can_ref >> 8, can_ref & 0xFF, can.encode("ascii")))

    def lock(self) -> None:
        """ACTIVATE FILE: the card becomes operational and its personalization is closed for good."""
        self._select_df("eMRTD")
        self._send("lock", CommandAPDU(0x00, self.profile.personalization.lock_ins, 0x00, 0x00))
        self._sm = None
