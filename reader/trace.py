"""APDU tracing for the reader: a transport wrapper feeding observers, and a redacting trace recorder.

The trace sits on the wire side (below secure messaging), so it shows what a PC/SC sniffer would see.
What a sniffer could use to recover the access key is redacted before it is stored (house rules:
keys, MRZ and CAN never leave the process through a trace):

* the data of every command and response of the authentication instructions — EXTERNAL
  AUTHENTICATE (BAC `E_IFD||M_IFD` allows an offline search of the MRZ key, ICAO 9303-11 §4.3),
  GENERAL AUTHENTICATE (PACE's encrypted nonce allows an offline search of a 6-digit CAN, §4.4),
  MUTUAL/INTERNAL AUTHENTICATE issued for personalization, VERIFY, CHANGE / RESET RETRY COUNTER,
  PUT DATA and key-generation commands;
* the response data of a READ BINARY sent without secure messaging (plain reads are public files
  such as EF.CardAccess on a well-behaved chip, but a chip without access control would hand DG1,
  i.e. the MRZ, out in the clear).

Decision: INTERNAL AUTHENTICATE (AA) data is kept — the challenge and the signature are evidence and
reveal nothing about the access key; they travel under SM anyway. Lengths, headers and status
words are always kept, so counting and timing work on redacted traces.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from icao9303.transport import Transport

__all__ = ["ApduEntry", "ApduObserver", "ApduTrace", "TracingTransport", "redact_exchange"]

# Instructions whose command and response data may let an eavesdropper search the access key or
# carry key material (ISO/IEC 7816-4 table 4).
_SECRET_INS = frozenset({
    0x82,  # EXTERNAL AUTHENTICATE (BAC)
    0x86, 0x87,  # GENERAL AUTHENTICATE (PACE, CA v2)
    0x20, 0x21,  # VERIFY
    0x24, 0x25,  # CHANGE REFERENCE DATA
    0x2C, 0x2D,  # RESET RETRY COUNTER
    0xDA, 0xDB,  # PUT DATA (personalization keys)
    0x46, 0x47,  # GENERATE ASYMMETRIC KEY PAIR
    0xD6, 0xD7,  # UPDATE BINARY (personalization writes the card's data and keys)
})
_READ_INS = frozenset({0xB0, 0xB1})
REDACTED = "<redacted>"


def _is_sm(cla: int) -> bool:
    """CLA b4-b3 = 11 or 10: command header authenticated / secure messaging (ISO 7816-4 §5.4.1)."""
    return (cla & 0x0C) != 0


def redact_exchange(command: bytes, response: bytes) -> tuple[str, str, bool]:
    """The hex forms of one exchange as they may be stored, and whether anything was redacted."""
    header = command[:4]
    sw = response[-2:] if len(response) >= 2 else response
    if len(command) >= 4:
        cla, ins = command[0], command[1]
        if ins in _SECRET_INS and (len(command) > 5 or len(response) > 2):
            return header.hex() + REDACTED, REDACTED + sw.hex(), True
        if ins in _READ_INS and not _is_sm(cla) and len(response) > 2:
            return command.hex(), REDACTED + sw.hex(), True
    return command.hex(), response.hex(), False


@dataclass(frozen=True)
class ApduEntry:
    """One command/response exchange as stored: hex (possibly redacted), lengths, SW, timing."""

    index: int
    command: str
    response: str
    command_length: int
    response_length: int
    sw: str
    started: float          # seconds since the trace started
    duration: float         # seconds on the wire (round trip through the transport)
    redacted: bool
    error: str | None = None  # transport exception class name, when the exchange failed


class ApduObserver:
    """Receives every exchange of a `TracingTransport` (override `exchange` and/or `failure`)."""

    def exchange(self, command: bytes, response: bytes, duration: float) -> None:  # pragma: no cover
        """Called after each successful transmit."""

    def failure(self, command: bytes, error: BaseException, duration: float) -> None:  # pragma: no cover
        """Called when the transport raised."""


@dataclass
class ApduTrace(ApduObserver):
    """A redacting recorder with counters: APDU count, bytes each way, time on the wire.

    `redact=False` keeps everything (tests and replay only: never in production, never saved)."""

    redact: bool = True
    entries: list[ApduEntry] = field(default_factory=list)
    bytes_sent: int = 0
    bytes_received: int = 0
    wire_time: float = 0.0
    _t0: float = field(default_factory=time.perf_counter)

    @property
    def count(self) -> int:
        return len(self.entries)

    def exchange(self, command: bytes, response: bytes, duration: float) -> None:
        if self.redact:
            cmd, resp, redacted = redact_exchange(command, response)
        else:
            cmd, resp, redacted = command.hex(), response.hex(), False
        self.entries.append(ApduEntry(
            index=len(self.entries), command=cmd, response=resp, command_length=len(command),
            response_length=len(response), sw=response[-2:].hex().upper() if len(response) >= 2 else "",
            started=time.perf_counter() - duration - self._t0, duration=duration, redacted=redacted))
        self.bytes_sent += len(command)
        self.bytes_received += len(response)
        self.wire_time += duration

    def failure(self, command: bytes, error: BaseException, duration: float) -> None:
        cmd = command[:4].hex() + (REDACTED if self.redact and len(command) > 4 else command[4:].hex())
        self.entries.append(ApduEntry(
            index=len(self.entries), command=cmd, response="", command_length=len(command),
            response_length=0, sw="", started=time.perf_counter() - duration - self._t0,
            duration=duration, redacted=self.redact, error=type(error).__name__))
        self.bytes_sent += len(command)
        self.wire_time += duration

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "cancuoc-apdu-trace/1",
            "redacted": self.redact,
            "count": self.count,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "wire_time": round(self.wire_time, 6),
            "entries": [asdict(e) for e in self.entries],
        }

    def save(self, path: str | Path) -> None:
        """Write the trace as JSON, readable by its owner only (it holds DG data, i.e. personal data)."""
        write_private(Path(path), json.dumps(self.to_dict(), indent=1))


class TracingTransport:
    """Wraps a transport and reports every exchange to its observers (pyscard's observer idea,
    kept behind our bytes-only interface). Other attributes (`reset`, `reconnect`, `atr`) pass through."""

    def __init__(self, inner: Transport, *observers: ApduObserver,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.inner = inner
        self.observers: list[ApduObserver] = list(observers)
        self._clock = clock

    def transmit(self, apdu: bytes) -> bytes:
        t = self._clock()
        try:
            response = self.inner.transmit(apdu)
        except BaseException as exc:
            for o in self.observers:
                o.failure(bytes(apdu), exc, self._clock() - t)
            raise
        dt = self._clock() - t
        for o in self.observers:
            o.exchange(bytes(apdu), bytes(response), dt)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def write_private(path: Path, text: str) -> None:
    """Create or replace `path` with mode 0600 (traces and evidence bundles carry DG1, i.e. the MRZ)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)

