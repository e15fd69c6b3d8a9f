"""Basic Access Control (ICAO 9303-11 §4.3, §9.7.2, Appendix D): both roles and the session keys.

Terminal (inspection system), 9303-11 §4.3.1:
  1. GET CHALLENGE → RND.IC;
  2. EXTERNAL AUTHENTICATE with E_IFD ‖ M_IFD, E_IFD = E(KEnc, RND.IFD ‖ RND.IC ‖ K.IFD),
     M_IFD = MAC(KMAC, E_IFD); the chip answers E_IC ‖ M_IC over RND.IC ‖ RND.IFD ‖ K.IC;
  3. KSseed = K.IFD ⊕ K.IC → KSenc, KSmac; SSC = RND.IC[4:8] ‖ RND.IFD[4:8] (§9.8.6.3).

`BACTerminal` builds the APDUs and checks the chip's answer; `BACChip` answers GET CHALLENGE and
EXTERNAL AUTHENTICATE. Both produce the same frozen `BACResult`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from icao9303.apdu import INS_EXTERNAL_AUTHENTICATE, INS_GET_CHALLENGE, CommandAPDU, ResponseAPDU
from icao9303.crypto.cipher import DES3
from icao9303.crypto.errors import AuthenticationError, ProtocolError
from icao9303.crypto.kdf import MRZKey, bac_keys, session_keys
from icao9303.crypto.sm import SecureMessaging
from icao9303.transport import Transport

__all__ = ["BACChip", "BACResult", "BACTerminal", "perform_bac"]


@dataclass(frozen=True, repr=False)
class BACResult:
    """Session keys (3DES) and initial SSC after BAC (9303-11 §9.7.4, §9.8.6.3)."""

    ks_enc: bytes
    ks_mac: bytes
    ssc: bytes

    def secure_messaging(self) -> SecureMessaging:
        """A new 3DES SM session with these keys (the same call serves terminal and chip)."""
        return SecureMessaging(DES3, self.ks_enc, self.ks_mac, self.ssc)

    def __repr__(self) -> str:
        return "BACResult(<keys redacted>)"


def _cryptogram(k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    e = DES3.encrypt_cbc(k_enc, plain)
    return e + DES3.mac(k_mac, e)


def _open(k_enc: bytes, k_mac: bytes, data: bytes, step: int) -> bytes:
    if len(data) != 40:
        raise ProtocolError(
            "BAC cryptogram must be 40 bytes (E ‖ M)",
            protocol="BAC",
            step=step,
            reason="protocol.length",
            status_word=0x6700,
        )
    e, m = data[:32], data[32:]
    if not hmac.compare_digest(DES3.mac(k_mac, e), m):
        raise AuthenticationError("BAC cryptogram MAC does not verify", protocol="BAC", step=step, reason="auth.mac")
    return DES3.decrypt_cbc(k_enc, e)


def _result(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> BACResult:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ks_enc, ks_mac = session_keys(seed, DES3)
    return BACResult(ks_enc, ks_mac, rnd_ic[4:] + rnd_ifd[4:])


class BACTerminal:
    """Terminal role of BAC. `rnd_ifd` / `k_ifd` may be fixed for test vectors; random otherwise."""

    def __init__(self, key: MRZKey, *, rnd_ifd: bytes | None = None, k_ifd: bytes | None = None) -> None:
        self._k_enc, self._k_mac = bac_keys(key)
        self._rnd_ifd = rnd_ifd if rnd_ifd is not None else secrets.token_bytes(8)
        self._k_ifd = k_ifd if k_ifd is not None else secrets.token_bytes(16)
        self._rnd_ic: bytes | None = None

    def __repr__(self) -> str:
        return "BACTerminal(<redacted>)"

    @staticmethod
    def get_challenge_command() -> bytes:
        """Step 1: GET CHALLENGE for 8 bytes (9303-11 §4.3.4.1)."""
        return CommandAPDU(0x00, INS_GET_CHALLENGE, 0x00, 0x00, b"", 8).to_bytes()

    def external_authenticate_command(self, rnd_ic: bytes) -> bytes:
        """Step 2: EXTERNAL AUTHENTICATE with E_IFD ‖ M_IFD for the chip's challenge RND.IC."""
        if len(rnd_ic) != 8:
            raise ProtocolError("RND.IC must be 8 bytes", protocol="BAC", step=1, reason="protocol.length")
        self._rnd_ic = bytes(rnd_ic)
        data = _cryptogram(self._k_enc, self._k_mac, self._rnd_ifd + self._rnd_ic + self._k_ifd)
        return CommandAPDU(0x00, INS_EXTERNAL_AUTHENTICATE, 0x00, 0x00, data, 40).to_bytes()

    def process_response(self, response_data: bytes) -> BACResult:
        """Check the chip's E_IC ‖ M_IC and derive the session keys; `AuthenticationError` if the chip
        does not know the key or did not echo RND.IFD."""
        if self._rnd_ic is None:
            raise ProtocolError(
                "EXTERNAL AUTHENTICATE not built yet", protocol="BAC", step=2, reason="protocol.sequence"
            )
        plain = _open(self._k_enc, self._k_mac, bytes(response_data), 2)
        rnd_ic, rnd_ifd, k_ic = plain[:8], plain[8:16], plain[16:]
        if not (hmac.compare_digest(rnd_ic, self._rnd_ic) and hmac.compare_digest(rnd_ifd, self._rnd_ifd)):
            raise AuthenticationError(
                "chip's answer does not carry our nonces", protocol="BAC", step=2, reason="auth.nonce"
            )
        return _result(self._k_ifd, k_ic, self._rnd_ic, self._rnd_ifd)


class BACChip:
    """Chip role of BAC: answers GET CHALLENGE and EXTERNAL AUTHENTICATE (9303-11 §4.3).

    A failed EXTERNAL AUTHENTICATE raises `AuthenticationError` (answer 6300) and the challenge is
    consumed: a new GET CHALLENGE is needed.
    """

    def __init__(self, key: MRZKey, *, rnd_ic: bytes | None = None, k_ic: bytes | None = None) -> None:
        self._k_enc, self._k_mac = bac_keys(key)
        self._fixed_rnd_ic = rnd_ic
        self._k_ic = k_ic if k_ic is not None else secrets.token_bytes(16)
        self._rnd_ic: bytes | None = None

    def __repr__(self) -> str:
        return "BACChip(<redacted>)"

    def get_challenge(self) -> bytes:
        """Step 1: a fresh 8-byte RND.IC (the response data of GET CHALLENGE)."""
        self._rnd_ic = self._fixed_rnd_ic if self._fixed_rnd_ic is not None else secrets.token_bytes(8)
        return self._rnd_ic

    def external_authenticate(self, command_data: bytes) -> tuple[bytes, BACResult]:
        """Step 2: check E_IFD ‖ M_IFD; return (response data E_IC ‖ M_IC, session keys)."""
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        if rnd_ic is None:
            raise ProtocolError(
                "EXTERNAL AUTHENTICATE without GET CHALLENGE",
                protocol="BAC",
                step=2,
                reason="protocol.sequence",
                status_word=0x6985,
            )
        plain = _open(self._k_enc, self._k_mac, bytes(command_data), 2)
        rnd_ifd, echoed, k_ifd = plain[:8], plain[8:16], plain[16:]
        if not hmac.compare_digest(echoed, rnd_ic):
            raise AuthenticationError("terminal did not echo RND.IC", protocol="BAC", step=2, reason="auth.nonce")
        response = _cryptogram(self._k_enc, self._k_mac, rnd_ic + rnd_ifd + self._k_ic)
        return response, _result(k_ifd, self._k_ic, rnd_ic, rnd_ifd)


def perform_bac(transport: Transport, key: MRZKey) -> BACResult:
    """Run BAC as terminal over `transport`; `CardError` for a status word, `AuthenticationError` if
    the chip's answer does not verify. The caller installs `result.secure_messaging()`."""
    terminal = BACTerminal(key)
    challenge = ResponseAPDU.from_bytes(transport.transmit(terminal.get_challenge_command())).check("BAC GET CHALLENGE")
    answer = ResponseAPDU.from_bytes(transport.transmit(terminal.external_authenticate_command(challenge.data))).check(
        "BAC EXTERNAL AUTHENTICATE"
    )
    return terminal.process_response(answer.data)
