"""Secure messaging of ICAO 9303-11 §9.8 for both roles, and the SM transport wrapper of the terminal.

One `SecureMessaging` object is one SM session: the cipher (3DES or AES), KSenc, KSmac and the send
sequence counter. The terminal calls `protect_command` / `unprotect_response`; the chip calls
`unprotect_command` / `protect_response`. The 3DES and AES variants differ only in block size (SSC of
8 or 16 bytes, padding to 8 or 16), the IV (zero for 3DES, E(KSenc, SSC) for AES, §9.8.7.1) and the MAC
(retail MAC or CMAC-8) — see `icao9303.crypto.cipher`.

Send sequence counter (§9.8.2): incremented once before each protected command is built or checked
and once before each protected response is built or checked, by both sides. Only protected messages
count: an *unprotected* status word answered to a protected command (the chip aborted SM, §9.8.5)
is not counted (LESSONS "SSC desync"), and the session is dead from then on.

Failure (§9.8.5): any MAC failure, malformed or missing SM data object, wrong padding or unprotected
response raises `SMError` and kills the session: every later call raises ``sm.session_dead`` until
the access protocol is run again. MACs are compared in constant time.

Decisions:
- DO'85' (cryptogram without padding-content indicator) is used for commands with an odd INS and for
  responses to them; DO'87' (indicator 01) otherwise (§9.8.4).
- DO'97' carries Ne in one byte when Ne ≤ 256 (256 → 00) and in two bytes otherwise (65536 → 0000);
  the protected command is extended when its data field exceeds 255 bytes or Ne exceeds 256, and then
  ends with Le' = 0000, otherwise with Le' = 00.
- A protected response must hold DO'99' and DO'8E' (DO'99' is mandatory in 9303-11 Figure 6); the
  status word of DO'99' is the one returned, and an outer status word that differs is an error.
- Data objects other than 85/87/97/99/8E, or a repeated one, are rejected (``sm.malformed``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from icao9303.apdu import CommandAPDU
from icao9303.crypto.cipher import CipherAlgorithm, SymmetricCipher, pad, unpad
from icao9303.crypto.errors import SMError
from icao9303.errors import ICAOError
from icao9303.tlv import decode_tlv, encode_tlv
from icao9303.transport import Transport

__all__ = ["SecureMessaging", "SecureMessagingTransport"]

_SM_CLA_BITS = 0x0C  # ISO/IEC 7816-4 §5.4.1: b4 b3 = 11, SM with the command header authenticated


def _split_dos(body: bytes, allowed: tuple[int, ...]) -> Iterator[tuple[int, bytes, int, int]]:
    """(tag, value, start offset, end offset) of each top-level DO of `body`; SMError on bad TLV."""
    offset = 0
    seen: set[int] = set()
    while offset < len(body):
        try:
            tag, value, rest = decode_tlv(body[offset:])
        except ICAOError as exc:
            raise SMError("secure messaging data objects cannot be parsed", reason="sm.malformed") from exc
        end = len(body) - len(rest)
        if tag not in allowed or tag in seen:
            raise SMError(f"unexpected secure messaging data object {tag:X}", reason="sm.malformed")
        seen.add(tag)
        yield tag, value, offset, end
        offset = end


class SecureMessaging:
    """One secure messaging session (9303-11 §9.8). Not thread-safe: one APDU at a time."""

    def __init__(self, cipher: SymmetricCipher, ks_enc: bytes, ks_mac: bytes, ssc: int | bytes = 0) -> None:
        if len(ks_enc) != cipher.key_length or len(ks_mac) != cipher.key_length:
            raise SMError("session keys do not match the cipher", reason="sm.keys")
        self.cipher = cipher
        self._ks_enc = bytes(ks_enc)
        self._ks_mac = bytes(ks_mac)
        self._modulus = 1 << (8 * cipher.block_size)
        self._ssc = int.from_bytes(ssc, "big") if isinstance(ssc, bytes | bytearray) else int(ssc)
        self._ssc %= self._modulus
        self._alive = True
        self._command_ins: int | None = None

    def __repr__(self) -> str:
        return f"SecureMessaging(cipher={self.cipher.name}, alive={self._alive})"

    # -- state -------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """False once an SM error aborted the session (9303-11 §9.8.5)."""
        return self._alive

    @property
    def ssc(self) -> int:
        """The send sequence counter as an integer (the value used for the last protected message)."""
        return self._ssc

    @property
    def ssc_bytes(self) -> bytes:
        return self._ssc.to_bytes(self.cipher.block_size, "big")

    def abort(self) -> None:
        """End the session (as after an SM error); further use raises ``sm.session_dead``."""
        self._alive = False

    def _require_alive(self) -> None:
        if not self._alive:
            raise SMError("the secure messaging session was aborted", reason="sm.session_dead")

    def _fail(self, message: str, reason: str, *, status_word: int = 0x6988, sw: int | None = None) -> SMError:
        self._alive = False
        return SMError(message, reason=reason, status_word=status_word, sw=sw)

    def _increment(self) -> None:
        self._ssc = (self._ssc + 1) % self._modulus

    # -- primitives ----------------------------------------------------------------------------------
    def _iv(self) -> bytes | None:
        if self.cipher.algorithm is CipherAlgorithm.AES:
            return self.cipher.encrypt_block(self._ks_enc, self.ssc_bytes)  # §9.8.7.1
        return None  # §9.8.6.1: IV = 0

    def _encrypt(self, data: bytes) -> bytes:
        return self.cipher.encrypt_cbc(self._ks_enc, pad(data, self.cipher.block_size), self._iv())

    def _decrypt(self, cryptogram: bytes) -> bytes:
        return unpad(self.cipher.decrypt_cbc(self._ks_enc, cryptogram, self._iv()), self.cipher.block_size)

    def _mac(self, data: bytes) -> bytes:
        # N = SSC ‖ data padded with ISO/IEC 9797-1 method 2, for 3DES and AES alike (§9.8.6.2, §9.8.7.2);
        # CMAC then sees block-aligned input and adds nothing (TR-03110-3 worked example, SSC 2).
        return self.cipher.mac(self._ks_mac, pad(self.ssc_bytes + data, self.cipher.block_size), padded=True)

    def _padded_header(self, cla: int, ins: int, p1: int, p2: int) -> bytes:
        return pad(bytes([cla, ins, p1, p2]), self.cipher.block_size)

    def _data_object(self, data: bytes, odd_ins: bool) -> bytes:
        if odd_ins:
            return encode_tlv(0x85, self._encrypt(data))
        return encode_tlv(0x87, b"\x01" + self._encrypt(data))

    def _open_cryptogram(self, tag: int, value: bytes) -> bytes:
        if tag == 0x87:
            if not value or value[0] != 0x01:
                raise SMError("DO'87' without padding-content indicator 01", reason="sm.malformed")
            value = value[1:]
        return self._decrypt(value)

    # -- terminal role -------------------------------------------------------------------------------
    def protect_command(self, apdu: bytes | CommandAPDU) -> bytes:
        """Terminal: turn a plain command APDU into the protected one (9303-11 §9.8.4, Figure 5)."""
        self._require_alive()
        try:
            cmd = apdu if isinstance(apdu, CommandAPDU) else CommandAPDU.from_bytes(apdu)
        except ICAOError as exc:
            raise SMError("command APDU cannot be parsed", reason="sm.malformed") from exc
        if cmd.cla & _SM_CLA_BITS or cmd.cla & 0x80:
            raise SMError("the class byte already indicates secure messaging or is proprietary", reason="sm.malformed")
        cla = cmd.cla | _SM_CLA_BITS
        self._increment()
        body = b""
        if cmd.data:
            body += self._data_object(cmd.data, bool(cmd.ins & 1))
        if cmd.ne is not None:
            le = (
                cmd.ne.to_bytes(1, "big")
                if cmd.ne < 256
                else b"\x00"
                if cmd.ne == 256
                else ((cmd.ne & 0xFFFF).to_bytes(2, "big"))
            )
            body += encode_tlv(0x97, le)
        mac = self._mac(self._padded_header(cla, cmd.ins, cmd.p1, cmd.p2) + body)
        body += encode_tlv(0x8E, mac)
        extended = len(body) > 255 or (cmd.ne or 0) > 256
        self._command_ins = cmd.ins
        return CommandAPDU(cla, cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256, extended).to_bytes()

    def unprotect_response(self, rapdu: bytes) -> bytes:
        """Terminal: check and decrypt a protected response; return the plain response APDU
        (data ‖ SW1 SW2 of DO'99'). `SMError` (session dead) on any SM error."""
        self._require_alive()
        rapdu = bytes(rapdu)
        if len(rapdu) < 2:
            raise self._fail("response APDU shorter than its status word", "sm.malformed")
        body, sw = rapdu[:-2], int.from_bytes(rapdu[-2:], "big")
        if not body:
            # The chip answered with a plain status word: it aborted SM (§9.8.5) or never checked the
            # command. Not a protected response, so the SSC is not incremented for it.
            raise self._fail(
                f"unprotected status word {sw:04X} in a secure messaging session",
                "sm.unprotected_response",
                sw=sw,
            )
        self._increment()
        try:
            return self._open_response(body, sw)
        except SMError as exc:
            self._alive = False
            exc.sw = sw
            raise

    def _open_response(self, body: bytes, sw: int) -> bytes:
        cryptogram: tuple[int, bytes] | None = None
        do99: bytes | None = None
        mac: bytes | None = None
        mac_end = 0
        for tag, value, _start, end in _split_dos(body, (0x85, 0x87, 0x99, 0x8E)):
            if mac is not None:
                raise SMError("data object after DO'8E'", reason="sm.malformed")
            if tag == 0x8E:
                mac = value
            elif tag == 0x99:
                do99 = value
                mac_end = end
            else:
                if do99 is not None:
                    raise SMError("cryptogram after DO'99'", reason="sm.malformed")
                cryptogram = (tag, value)
                mac_end = end
        if mac is None:
            raise SMError("DO'8E' missing in the response", reason="sm.missing_object", status_word=0x6987)
        if do99 is None:
            raise SMError("DO'99' missing in the response", reason="sm.missing_object", status_word=0x6987)
        if not hmac.compare_digest(self._mac(body[:mac_end]), mac):
            raise SMError("response MAC does not verify", reason="sm.mac")
        if len(do99) != 2:
            raise SMError("DO'99' is not two bytes", reason="sm.malformed")
        inner_sw = int.from_bytes(do99, "big")
        if inner_sw != sw:
            raise SMError("DO'99' and the status word differ", reason="sm.status_mismatch")
        data = self._open_cryptogram(*cryptogram) if cryptogram is not None else b""
        return data + do99

    # -- chip role -------------------------------------------------------------------------------------
    def unprotect_command(self, apdu: bytes) -> CommandAPDU:
        """Chip: check and decrypt a protected command; return the plain command.

        On `SMError` the session is dead; answer the plain `SMError.status_word` (6987/6988) without SM.
        """
        self._require_alive()
        try:
            cmd = CommandAPDU.from_bytes(apdu)
        except ICAOError as exc:
            raise self._fail("command APDU cannot be parsed", "sm.malformed") from exc
        if cmd.cla & _SM_CLA_BITS != _SM_CLA_BITS:
            raise self._fail("plain command in a secure messaging session", "sm.not_protected", status_word=0x6987)
        self._increment()
        try:
            plain = self._open_command(cmd)
        except SMError:
            self._alive = False
            raise
        self._command_ins = plain.ins
        return plain

    def _open_command(self, cmd: CommandAPDU) -> CommandAPDU:
        body = cmd.data
        cryptogram: tuple[int, bytes] | None = None
        do97: bytes | None = None
        mac: bytes | None = None
        mac_end = 0
        for tag, value, _start, end in _split_dos(body, (0x85, 0x87, 0x97, 0x8E)):
            if mac is not None:
                raise SMError("data object after DO'8E'", reason="sm.malformed")
            if tag == 0x8E:
                mac = value
            elif tag == 0x97:
                do97 = value
                mac_end = end
            else:
                if do97 is not None:
                    raise SMError("cryptogram after DO'97'", reason="sm.malformed")
                if (tag == 0x85) != bool(cmd.ins & 1):
                    raise SMError("DO'85' is for odd INS, DO'87' for even INS", reason="sm.malformed")
                cryptogram = (tag, value)
                mac_end = end
        if mac is None:
            raise SMError("DO'8E' missing in the command", reason="sm.missing_object", status_word=0x6987)
        header = self._padded_header(cmd.cla, cmd.ins, cmd.p1, cmd.p2)
        if not hmac.compare_digest(self._mac(header + body[:mac_end]), mac):
            raise SMError("command MAC does not verify", reason="sm.mac")
        ne: int | None = None
        if do97 is not None:
            if len(do97) == 1:
                ne = do97[0] or 256
            elif len(do97) == 2:
                ne = int.from_bytes(do97, "big") or 65536
            else:
                raise SMError("DO'97' is not one or two bytes", reason="sm.malformed")
        data = self._open_cryptogram(*cryptogram) if cryptogram is not None else b""
        if len(data) > 65535:
            raise SMError("decrypted command data too long", reason="sm.malformed")
        return CommandAPDU(cmd.cla & ~_SM_CLA_BITS & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, ne)

    def protect_response(self, rapdu: bytes) -> bytes:
        """Chip: protect a plain response (data ‖ SW) to the command last unprotected (Figure 6)."""
        self._require_alive()
        rapdu = bytes(rapdu)
        if len(rapdu) < 2:
            raise SMError("response APDU shorter than its status word", reason="sm.malformed")
        data, sw = rapdu[:-2], rapdu[-2:]
        self._increment()
        body = b""
        if data:
            body += self._data_object(data, bool((self._command_ins or 0) & 1))
        body += encode_tlv(0x99, sw)
        body += encode_tlv(0x8E, self._mac(body))
        return body + sw


class SecureMessagingTransport:
    """A `Transport` that protects every command with `sm` and unprotects every response (terminal
    role, STYLE §5). Installed by the reader after BAC/PACE; `replace_session` switches to the keys
    of Chip Authentication (9303-11 §6.2: SM restarts with the new keys and SSC 0)."""

    def __init__(self, inner: Transport, sm: SecureMessaging) -> None:
        self.inner = inner
        self.sm = sm

    def transmit(self, apdu: bytes) -> bytes:
        protected = self.sm.protect_command(apdu)
        return self.sm.unprotect_response(self.inner.transmit(protected))

    def replace_session(self, sm: SecureMessaging) -> None:
        """Continue with a new SM session (after Chip Authentication)."""
        self.sm = sm

    def __repr__(self) -> str:
        return f"SecureMessagingTransport({self.sm!r})"
