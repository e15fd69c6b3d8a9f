"""The errors of `icao9303.crypto`: secure messaging, access-control and chip-authentication protocols.

Every function of the crypto package raises one of these (all `icao9303.errors.ICAOError`) on bad input
or failed authentication, never a bare `ValueError` from a primitive. Each carries a stable, dotted
`reason` code; messages never contain key material, passwords, nonces or MRZ text.

Reason codes (stable):

- ``sm.mac`` — the MAC (DO'8E') of a protected APDU does not verify;
- ``sm.unprotected_response`` — the chip answered a protected command with a plain status word
  (ICAO 9303-11 §9.8.5: the chip aborted secure messaging);
- ``sm.malformed`` — a protected APDU whose data objects cannot be parsed or are not allowed;
- ``sm.missing_object`` — DO'8E' (or DO'99' in a response) missing;
- ``sm.padding`` — cryptogram length or ISO/IEC 9797-1 padding wrong after decryption;
- ``sm.status_mismatch`` — DO'99' and the plain status word differ;
- ``sm.session_dead`` — the session was aborted by an earlier error and cannot be used again;
- ``sm.not_protected`` — the chip received a command without the SM class bits while SM is on;
- ``sm.keys`` — session keys that do not fit the cipher;
- ``protocol.malformed`` / ``protocol.missing`` / ``protocol.length`` — data objects that cannot be
  parsed, a required one absent, a value of the wrong size;
- ``protocol.public_key`` — a peer public key off the curve, outside the subgroup, not at full length,
  or equal to our own; ``protocol.private_key`` — a fixed private key out of range;
- ``protocol.mapping`` / ``protocol.key_agreement`` — a mapped generator or shared secret that is the
  neutral element; ``protocol.domain_parameters`` — domain parameters that cannot be used;
- ``protocol.sequence`` — a step out of order; ``protocol.algorithm`` — OID and key disagree;
  ``protocol.key_id`` — unknown Chip Authentication keyId; ``protocol.no_key`` — no CA key in DG14;
  ``protocol.not_cam`` — a CAM check on a non-CAM PACE result;
- ``auth.mac`` / ``auth.nonce`` (BAC), ``auth.token`` (PACE), ``auth.cam`` (PACE-CAM),
  ``auth.aa_signature`` (Active Authentication) — the peer does not hold the key;
- ``crypto.unsupported`` — an OID, domain parameter id, key size or hash that is not supported.
"""

from __future__ import annotations

from icao9303.errors import ICAOError

__all__ = [
    "AuthenticationError",
    "CryptoError",
    "ProtocolError",
    "SMError",
    "UnsupportedAlgorithmError",
]


class CryptoError(ICAOError):
    """Base of the errors of `icao9303.crypto`."""

    default_reason = "crypto.error"


class SMError(CryptoError):
    """Secure messaging failure (ICAO 9303-11 §9.8.5). After any SMError the session is dead.

    `status_word` is what a chip answers (unprotected) when it detects the error on a command:
    ``0x6988`` (SM data objects incorrect) or ``0x6987`` (SM data objects missing). `sw` is the status
    word the chip sent, when the error concerns a response.
    """

    default_reason = "sm.error"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        status_word: int = 0x6988,
        sw: int | None = None,
    ) -> None:
        super().__init__(
            message, reason=reason, status_word=f"{status_word:04X}", sw=None if sw is None else f"{sw:04X}"
        )
        self.status_word = status_word
        self.sw = sw


class ProtocolError(CryptoError):
    """A protocol step (BAC, PACE, CA, AA) got data it cannot use: malformed data objects, a public
    key not on the curve or outside the subgroup, a peer key equal to ours, a step out of order.

    `protocol` is ``"BAC"``, ``"PACE"``, ``"CA"`` or ``"AA"``; `step` is the step as numbered in the
    spec (PACE 1-4: encrypted nonce, mapping, key agreement, mutual authentication; BAC 1-2: challenge,
    mutual authenticate). `status_word` is what a chip should answer: ``0x6A80`` (wrong data) unless a
    subclass says otherwise.
    """

    default_reason = "protocol.error"
    default_status_word = 0x6A80

    def __init__(
        self,
        message: str,
        *,
        protocol: str,
        step: int | str | None = None,
        reason: str | None = None,
        status_word: int | None = None,
    ) -> None:
        sw = self.default_status_word if status_word is None else status_word
        super().__init__(message, reason=reason, protocol=protocol, step=step, status_word=f"{sw:04X}")
        self.protocol = protocol
        self.step = step
        self.status_word = sw


class AuthenticationError(ProtocolError):
    """A cryptogram, MAC, authentication token, Chip Authentication Mapping proof or Active
    Authentication signature did not verify (the peer does not know the key). A chip answers
    ``0x6300`` (authentication failed)."""

    default_reason = "auth.failed"
    default_status_word = 0x6300


class UnsupportedAlgorithmError(CryptoError):
    """An OID, standardized domain parameter id, key length or hash algorithm this package does not
    implement (reason ``crypto.unsupported``). `what` names the thing (never a secret)."""

    default_reason = "crypto.unsupported"

    def __init__(self, message: str, *, what: str | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason=reason, what=what)
        self.what = what
