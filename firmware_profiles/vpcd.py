"""The vpcd bridge: plugs a `CardOS` (the virtual chip, or an echo card) into pcscd's vsmartcard-vpcd driver.

The vpcd driver (one reader per slot, listening on TCP port 0x8C7B = 35963 for slot 0, +1 for slot 1)
waits for the virtual card to connect as a TCP client. Every message in both directions is a
big-endian uint16 length followed by that many bytes. A one-byte message from vpcd is a control
code: 00 power off, 01 power on, 02 reset, 04 get ATR - only 04 expects a reply (the ATR). Any longer
message is a command APDU and gets exactly one response APDU. Closing the socket is card removal.

vpcd writes the length and the payload in two `send` calls; with delayed ACKs the second segment
waits for the peer's ACK timer, about 40 ms per APDU. So TCP_QUICKACK is set before every `recv`
(Linux clears it again after each ACK), and TCP_NODELAY on our side.

`VpcdBridge` runs the card in a daemon thread (tests, the embedded demo) with scriptable `remove()` and
`insert()`, or in the foreground with `serve_forever()` (`cancuoc chip serve`).
"""
from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time

from firmware_profiles.errors import BridgeError
from icao9303.transport import CardOS

__all__ = ["DEFAULT_PORT", "VPCD_ATR", "VPCD_POWER_OFF", "VPCD_POWER_ON", "VPCD_RESET", "EchoCard",
           "VpcdBridge", "slot_port"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x8C7B
"""vpcd's default TCP port for slot 0 (/etc/reader.conf.d/vpcd); slot n listens on DEFAULT_PORT + n."""

VPCD_POWER_OFF = 0x00
VPCD_POWER_ON = 0x01
VPCD_RESET = 0x02
VPCD_ATR = 0x04

_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def slot_port(slot: int, base_port: int = DEFAULT_PORT) -> int:
    """The TCP port vpcd listens on for reader slot `slot` (0 or 1 with the default configuration)."""
    if slot < 0:
        raise ValueError("slot must be >= 0")
    return base_port + slot


class EchoCard:
    """A bare `CardOS` that answers every APDU with its own bytes + 9000: the benchmark floor."""

    ATR = bytes.fromhex("3B8880014543484F4341524482")

    def power_on(self) -> bytes:
        return self.ATR

    def power_off(self) -> None:
        return None

    def reset(self) -> bytes:
        return self.ATR

    def process_apdu(self, apdu: bytes) -> bytes:
        return bytes(apdu) + b"\x90\x00"


class VpcdBridge:
    """Connect `card` to vpcd at (`host`, `port`) and answer vpcd's messages.

    Thread use (tests): `start()` connects in a background thread (retrying until `connect_timeout`)
    and returns once connected; `remove()` closes the socket (card pulled: pcscd sees the card go and
    the card loses power); `insert()` connects again (a fresh power-up: all session state is gone);
    `stop()` = `remove()`. Also a context manager.
    Foreground use (CLI): `serve_forever()` reconnects whenever vpcd drops the connection.
    """

    def __init__(self, card: CardOS, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 connect_timeout: float = 10.0) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.apdu_count = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False

    # -- connection ---------------------------------------------------------------------------------

    def _connect(self, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError as exc:
                if time.monotonic() >= deadline or self._stopping:
                    raise BridgeError(f"cannot connect to vpcd at {self.host}:{self.port} ({exc.strerror})",
                                      reason="bridge.connect", host=self.host, port=self.port) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            if _TCP_QUICKACK is not None:
                # vpcd sends length and payload separately: ACK at once or Nagle + delayed ACK costs ~40 ms.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            try:
                chunk = sock.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    @staticmethod
    def _send(sock: socket.socket, payload: bytes) -> bool:
        try:
            sock.sendall(struct.pack(">H", len(payload)) + payload)
        except OSError:
            return False
        return True

    def _serve(self, sock: socket.socket) -> None:
        """Answer vpcd until it closes the connection or we are removed."""
        try:
            while True:
                header = self._recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = self._recv_exact(sock, length) if length else b""
                if payload is None:
                    return
                if length == 1:
                    code = payload[0]
                    if code == VPCD_POWER_OFF:
                        self.card.power_off()
                    elif code == VPCD_POWER_ON:
                        self.card.power_on()
                    elif code == VPCD_RESET:
                        self.card.reset()
                    elif code == VPCD_ATR:
                        if not self._send(sock, self.card.power_on()):
                            return
                    else:
                        log.debug("vpcd: unknown control code %02X ignored", code)
                    continue
                try:
                    response = self.card.process_apdu(payload)
                except Exception:  # a CardOS must never raise; if one does, answer 6F00, keep serving
                    log.exception("card raised out of process_apdu")
                    response = b"\x6f\x00"
                self.apdu_count += 1
                if not self._send(sock, response):
                    return
        finally:
            with contextlib.suppress(Exception):
                self.card.power_off()

    # -- thread API (tests) --------------------------------------------------------------------------

    def start(self) -> VpcdBridge:
        """Insert the card: connect to vpcd (retrying until `connect_timeout`) and serve in a thread."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._stopping = False
            sock = self._connect(self.connect_timeout)
            self._sock = sock
            self._thread = threading.Thread(target=self._run_thread, args=(sock,),
                                            name=f"vpcd-bridge-{self.port}", daemon=True)
            self._thread.start()
        return self

    def _run_thread(self, sock: socket.socket) -> None:
        try:
            self._serve(sock)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    insert = start

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def remove(self, timeout: float = 5.0) -> None:
        """Pull the card: close the connection (vpcd reports the card absent) and wait for the thread."""
        with self._lock:
            self._stopping = True
            sock, thread = self._sock, self._thread
            self._sock = None
            self._thread = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    stop = remove

    def __enter__(self) -> VpcdBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- foreground (CLI) ----------------------------------------------------------------------------

    def serve_forever(self, *, reconnect: bool = True) -> None:
        """Serve in this thread; when vpcd drops the connection, connect again (unless not `reconnect`)."""
        self._stopping = False
        while not self._stopping:
            sock = self._connect(self.connect_timeout if not reconnect else float("inf"))
            self._sock = sock
            log.info("connected to vpcd at %s:%d", self.host, self.port)
            try:
                self._serve(sock)
            finally:
                with contextlib.suppress(OSError):
                    sock.close()
            log.info("vpcd connection closed")
            if not reconnect:
                return
            time.sleep(0.1)
