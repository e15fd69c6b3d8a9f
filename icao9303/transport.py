"""The byte-level Transport every protocol runs over (STYLE §4): one command APDU in, one response APDU out.

The reader's pyscard adapter, the in-process adapter around the virtual chip, the secure-messaging
wrapper and the test replay transport all implement this protocol, so the same protocol code runs
against a physical PC/SC reader, pcscd + vpcd, or a chip object in the same process.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """A channel to one card. `transmit` takes a whole command APDU (ISO/IEC 7816-4 §5.1) and returns
    the whole response APDU: response data followed by SW1 SW2."""

    def transmit(self, apdu: bytes) -> bytes: ...


@runtime_checkable
class ResettableTransport(Transport, Protocol):
    """A transport that can reset the card (cold/warm reset); a reset drops all chip session state."""

    def reset(self) -> bytes:
        """Reset the card and return its ATR."""
        ...


@runtime_checkable
class CardOS(Protocol):
    """What a card (the virtual chip, or a test double) offers to a transport adapter: the
    ISO/IEC 7816-3 power events and one APDU at a time. vpcd's control bytes map 1:1 onto these."""

    def power_on(self) -> bytes:
        """Power the chip up (or keep it up) and return the ATR."""
        ...

    def power_off(self) -> None:
        """Remove power: every session state (selection, SM keys, PACE/BAC state) is lost."""
        ...

    def reset(self) -> bytes:
        """Warm reset: like power_off + power_on; returns the ATR."""
        ...

    def process_apdu(self, apdu: bytes) -> bytes:
        """Answer one command APDU with a response APDU (data + SW1 SW2). Never raises."""
        ...
