"""Transport adapters for the reader: PC/SC through pyscard, the virtual chip in-process, and replay.

This is the only module of the project that imports `smartcard` (pyscard) — DESIGN.md, STYLE §6.
Every adapter implements `icao9303.transport.ResettableTransport` (`transmit(bytes) -> bytes`,
`reset() -> ATR`) and raises only `reader.errors` types: `NoReaderError`, `NoCardError`,
`CardRemovedError`, `TransientTransportError`, `TransportError`.

Decision (T=0 / ISO 7816-3 §10.3.5 and 7816-4 §5.3.4): the adapters resolve `61xx` by sending
GET RESPONSE (`00 C0 00 00 xx`) and concatenating, because that exchange is below the APDU layer
(an SM-protected response simply arrives in pieces). They do NOT resend on `6Cxx`: under secure
messaging the resent command would need a new MAC and SSC, so `6Cxx` goes up to the reading engine
(`reader.reading`), which steps its read size down through the SM layer.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from icao9303.transport import CardOS
from reader.errors import (
    CardRemovedError,
    NoCardError,
    NoReaderError,
    TransientTransportError,
    TransportError,
)

__all__ = [
    "InProcessTransport",
    "PcscTransport",
    "ReplayMismatch",
    "ReplayTransport",
    "get_response_chain",
    "list_readers",
    "select_reader",
    "wait_card_state",
]

_MAX_GET_RESPONSE = 64  # bounds a card that answers 61xx forever (hostile input never hangs us)


def get_response_chain(send: Callable[[bytes], bytes], apdu: bytes) -> bytes:
    """Send `apdu` and follow `61xx` with GET RESPONSE (ISO 7816-4 §7.6.1), returning data + final SW.

    The CLA of GET RESPONSE keeps the logical channel bits of the command but no SM indication."""
    response = send(apdu)
    data = bytearray()
    for _ in range(_MAX_GET_RESPONSE):
        if len(response) < 2:
            raise TransportError("response shorter than a status word", step="transmit")
        if response[-2] != 0x61:
            data += response
            return bytes(data)
        data += response[:-2]
        cla = (apdu[0] & 0x03) if apdu else 0x00
        response = send(bytes([cla, 0xC0, 0x00, 0x00, response[-1]]))
    raise TransportError("card kept answering 61xx", step="get-response")


# ---------------------------------------------------------------------------------------------------
# PC/SC
# ---------------------------------------------------------------------------------------------------


def _scard():
    from smartcard import scard  # the one import of pyscard in the project

    return scard


def _scard_error(hresult: int, step: str) -> TransportError:
    """Map a PC/SC return code onto the reader's error types (the one table, STYLE §7)."""
    scard = _scard()
    try:
        text = scard.SCardGetErrorMessage(hresult)
    except Exception:  # pragma: no cover - message lookup is cosmetic
        text = hex(hresult)
    removed = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_UNPOWERED_CARD}
    no_reader = {scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_UNKNOWN_READER,
                 scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_NO_SERVICE,
                 scard.SCARD_E_SERVICE_STOPPED}
    transient = {scard.SCARD_W_RESET_CARD, scard.SCARD_E_COMM_DATA_LOST, scard.SCARD_E_TIMEOUT,
                 scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_E_NOT_TRANSACTED,
                 scard.SCARD_E_SHARING_VIOLATION}
    if hresult in removed:
        cls: type[TransportError] = NoCardError if step == "connect" else CardRemovedError
        return cls(f"no card in the reader ({text})" if step == "connect" else f"card removed ({text})",
                   step=step)
    if hresult in no_reader:
        return NoReaderError(f"PC/SC reader unavailable ({text})", step=step)
    if hresult in transient:
        return TransientTransportError(f"PC/SC communication error ({text})", step=step)
    return TransportError(f"PC/SC error ({text})", step=step)


def list_readers() -> list[str]:
    """Names of the PC/SC readers pcscd knows (empty when none; `NoReaderError` when no service)."""
    scard = _scard()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise _scard_error(hresult, "establish-context")
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise _scard_error(hresult, "list-readers")
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


def wait_card_state(reader: str, present: bool, timeout: float = 10.0) -> None:
    """Block until PC/SC reports a card present (or absent, `present=False`) in `reader`
    (SCardGetStatusChange); `TimeoutError` after `timeout` seconds."""
    import time

    scard = _scard()
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise _scard_error(hresult, "establish-context")
    try:
        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining = int(max(0.0, deadline - time.monotonic()) * 1000)
            hresult, states = scard.SCardGetStatusChange(ctx, min(remaining, 1000), [(reader, state)])
            if hresult == scard.SCARD_S_SUCCESS:
                _name, event, _atr = states[0]
                is_present = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE
                if is_present == present:
                    return
                state = event & ~scard.SCARD_STATE_CHANGED
            if time.monotonic() >= deadline:
                raise TimeoutError(f"reader {reader!r}: card {'present' if present else 'absent'} "
                                   f"not reported within {timeout} s")
    finally:
        scard.SCardReleaseContext(ctx)


def select_reader(names: Sequence[str], wanted: str | None) -> str:
    """Pick a reader by name: exact match, else a unique case-insensitive substring match; with
    `wanted=None` the first reader. Raises `NoReaderError` naming the readers seen otherwise."""
    if not names:
        raise NoReaderError("no PC/SC reader found", step="select-reader")
    if wanted is None:
        return names[0]
    if wanted in names:
        return wanted
    matches = [n for n in names if wanted.lower() in n.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NoReaderError(f"no reader named {wanted!r}; readers: {', '.join(names)}", step="select-reader")
    raise NoReaderError(f"reader name {wanted!r} is ambiguous: {', '.join(matches)}", step="select-reader")


def _with_card_first(context: Any, names: list[str]) -> list[str]:
    """Reader names with those holding a card first (SCardGetStatusChange, no wait)."""
    scard = _scard()
    if not names:
        return names
    hresult, states = scard.SCardGetStatusChange(context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names])
    if hresult != scard.SCARD_S_SUCCESS:
        return names
    present = [n for n, event, _atr in states if event & scard.SCARD_STATE_PRESENT
               and not event & scard.SCARD_STATE_MUTE]
    return present + [n for n in names if n not in present]


class PcscTransport:
    """A card in a PC/SC reader (pcscd, or WinSCard), held in an exclusive transaction while open.

    Use as a context manager: ``with PcscTransport("Virtual PCD") as t: t.transmit(...)``.
    `reader` selects by exact name or unique substring (`select_reader`; None: the first reader holding
    a card, else the first reader); `exclusive=True` also
    connects with SCARD_SHARE_EXCLUSIVE. `reset()` does a warm reset (SCardReconnect RESET_CARD).
    """

    def __init__(self, reader: str | None = None, *, exclusive: bool = False,
                 protocols: str = "T0|T1") -> None:
        self.reader_wanted = reader
        self.exclusive = exclusive
        self._protocols_text = protocols
        self.reader_name: str | None = None
        self.atr: bytes | None = None
        self.protocol: str | None = None
        self._context: Any = None
        self._card: Any = None
        self._active_protocol: int | None = None
        self._in_transaction = False
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    def _protocol_mask(self) -> int:
        scard = _scard()
        mask = 0
        for p in self._protocols_text.upper().split("|"):
            mask |= {"T0": scard.SCARD_PROTOCOL_T0, "T1": scard.SCARD_PROTOCOL_T1}[p.strip()]
        return mask

    def open(self) -> bytes:
        """Connect to the selected reader's card, begin the transaction and return the ATR."""
        scard = _scard()
        if self._card is not None:
            return self.atr or b""
        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            self._context = None
            raise _scard_error(hresult, "establish-context")
        try:
            hresult, readers = scard.SCardListReaders(self._context, [])
            if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE):
                raise _scard_error(hresult, "list-readers")
            names = list(readers or [])
            if self.reader_wanted is None:
                names = _with_card_first(self._context, names)
            self.reader_name = select_reader(names, self.reader_wanted)
            share = scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED
            hresult, self._card, self._active_protocol = scard.SCardConnect(
                self._context, self.reader_name, share, self._protocol_mask())
            if hresult != scard.SCARD_S_SUCCESS:
                self._card = None
                raise _scard_error(hresult, "connect")
            self._begin()
            self._read_status()
        except BaseException:
            self.close()
            raise
        return self.atr or b""

    def _begin(self) -> None:
        scard = _scard()
        hresult = scard.SCardBeginTransaction(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _scard_error(hresult, "begin-transaction")
        self._in_transaction = True

    def _read_status(self) -> None:
        scard = _scard()
        hresult, _reader, _state, protocol, atr = scard.SCardStatus(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _scard_error(hresult, "status")
        self.atr = bytes(atr)
        self.protocol = {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}.get(protocol, "raw")
        self._active_protocol = protocol

    def close(self) -> None:
        """End the transaction and disconnect, leaving the card powered for the next user."""
        scard = _scard()
        if self._card is not None:
            if self._in_transaction:
                scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
                self._in_transaction = False
            scard.SCardDisconnect(self._card, scard.SCARD_RESET_CARD)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> PcscTransport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Transport ------------------------------------------------------------------------------
    def _send(self, apdu: bytes) -> bytes:
        scard = _scard()
        if self._card is None:
            raise TransportError("transport is not open", step="transmit")
        pci = scard.SCARD_PCI_T0 if self._active_protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        hresult, response = scard.SCardTransmit(self._card, pci, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise _scard_error(hresult, "transmit")
        return bytes(response)

    def transmit(self, apdu: bytes) -> bytes:
        with self._lock:
            return get_response_chain(self._send, bytes(apdu))

    def reset(self) -> bytes:
        """Warm reset (ISO 7816-3): the chip forgets selection and SM; returns the new ATR."""
        scard = _scard()
        if self._card is None:
            return self.open()
        with self._lock:
            if self._in_transaction:
                scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
                self._in_transaction = False
            share = scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED
            hresult, self._active_protocol = scard.SCardReconnect(
                self._card, share, self._protocol_mask(), scard.SCARD_RESET_CARD)
            if hresult != scard.SCARD_S_SUCCESS:
                raise _scard_error(hresult, "reset")
            self._begin()
            self._read_status()
            return self.atr or b""

    def reconnect(self) -> bytes:
        """After a transient error: reconnect (the card must still be there) and return the ATR."""
        scard = _scard()
        if self._card is None:
            return self.open()
        try:
            return self.reset()
        except TransportError:
            # the handle may be dead (reader re-enumerated): start from a fresh context
            try:
                self._in_transaction = False
                scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            finally:
                self._card = None
                if self._context is not None:
                    scard.SCardReleaseContext(self._context)
                    self._context = None
            try:
                return self.open()
            except NoCardError as exc:
                raise CardRemovedError("card removed", step="reconnect") from exc


# ---------------------------------------------------------------------------------------------------
# In-process (the virtual chip, embedded demo)
# ---------------------------------------------------------------------------------------------------


class InProcessTransport:
    """The virtual chip (any `icao9303.transport.CardOS`) in this process, same interface as PC/SC.

    `remove()` simulates taking the card out of the field: the chip loses power and every later
    `transmit` raises `CardRemovedError` until `insert()`."""

    def __init__(self, card: CardOS) -> None:
        self.card = card
        self.atr: bytes | None = None
        self.reader_name = "in-process"
        self.protocol = "T=1"
        self._present = True

    def open(self) -> bytes:
        if not self._present:
            raise NoCardError("no card in the in-process reader", step="connect")
        if self.atr is None:
            self.atr = bytes(self.card.power_on())
        return self.atr

    def close(self) -> None:
        """Leave the chip powered; a new session resets it."""

    def __enter__(self) -> InProcessTransport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transmit(self, apdu: bytes) -> bytes:
        if not self._present:
            raise CardRemovedError("card removed", step="transmit")
        if self.atr is None:
            self.open()
        return get_response_chain(lambda a: bytes(self.card.process_apdu(bytes(a))), bytes(apdu))

    def reset(self) -> bytes:
        if not self._present:
            raise CardRemovedError("card removed", step="reset")
        self.atr = bytes(self.card.reset())
        return self.atr

    reconnect = reset

    def remove(self) -> None:
        self._present = False
        self.card.power_off()
        self.atr = None

    def insert(self) -> None:
        self._present = True


# ---------------------------------------------------------------------------------------------------
# Replay (tests): a scripted card
# ---------------------------------------------------------------------------------------------------


class ReplayMismatch(TransportError):
    """The command sent differs from the script (a test failure, not a card error)."""


@dataclass(frozen=True)
class _Step:
    command: bytes | None  # None: accept any command
    response: bytes | BaseException


class ReplayTransport:
    """Replays a scripted exchange: each `transmit` must send the next expected command (or any,
    where the script says None) and gets the scripted response, or the scripted exception raised.

    Build with `ReplayTransport([(cmd_hex_or_bytes_or_None, resp_hex_or_bytes_or_exc), ...])` or
    `ReplayTransport.from_trace(trace_dict)` for an unredacted `ApduTrace.to_dict()`."""

    def __init__(self, script: Iterable[tuple[bytes | str | None, bytes | str | BaseException]],
                 atr: bytes = b"\x3b\x80\x80\x01\x01") -> None:
        self._steps = [
            _Step(bytes.fromhex(c) if isinstance(c, str) else c,
                  bytes.fromhex(r) if isinstance(r, str) else r)
            for c, r in script
        ]
        self._pos = 0
        self.atr = atr
        self.reader_name = "replay"
        self.protocol = "T=1"
        self.sent: list[bytes] = []

    @classmethod
    def from_trace(cls, trace: dict) -> ReplayTransport:
        steps: list[tuple[bytes | str | None, bytes | str | BaseException]] = []
        for entry in trace["entries"]:
            if entry.get("redacted"):
                raise ValueError("a redacted trace cannot be replayed")
            steps.append((entry["command"], entry["response"]))
        return cls(steps)

    @property
    def remaining(self) -> int:
        return len(self._steps) - self._pos

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(bytes(apdu))
        if self._pos >= len(self._steps):
            raise ReplayMismatch(f"unexpected command #{self._pos} past the end of the script",
                                 step="replay")
        step = self._steps[self._pos]
        self._pos += 1
        if step.command is not None and step.command != bytes(apdu):
            raise ReplayMismatch(f"command #{self._pos - 1} differs: sent {bytes(apdu).hex()}, "
                                 f"expected {step.command.hex()}", step="replay")
        if isinstance(step.response, BaseException):
            raise step.response
        return step.response

    def reset(self) -> bytes:
        return self.atr

    reconnect = reset
