"""The vpcd bridge against a scripted vpcd peer: framing (split writes), control codes, removal and
re-insertion, a misbehaving card - without pcscd (the real stack is in test_chip_pcsc.py)."""
from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from firmware_profiles import BridgeError
from firmware_profiles.vpcd import EchoCard, VpcdBridge, slot_port


class _Peer:
    """What vpcd does on its side: listen, accept the card, send frames, read answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.listener.settimeout(10)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)

    def send(self, payload: bytes, *, byte_by_byte: bool = False) -> None:
        frame = struct.pack(">H", len(payload)) + payload
        assert self.conn is not None
        if byte_by_byte:
            for b in frame:
                self.conn.sendall(bytes([b]))
                time.sleep(0.001)
        else:
            self.conn.sendall(frame)

    def recv(self) -> bytes:
        assert self.conn is not None
        head = b""
        while len(head) < 2:
            chunk = self.conn.recv(2 - len(head))
            if not chunk:
                raise EOFError
            head += chunk
        (n,) = struct.unpack(">H", head)
        data = b""
        while len(data) < n:
            data += self.conn.recv(n - len(data))
        return data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


class _Recorder(EchoCard):
    def __init__(self) -> None:
        self.events: list[str] = []

    def power_on(self) -> bytes:
        self.events.append("on")
        return super().power_on()

    def power_off(self) -> None:
        self.events.append("off")

    def reset(self) -> bytes:
        self.events.append("reset")
        return super().reset()

    def process_apdu(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xff":
            raise RuntimeError("a broken card")
        return super().process_apdu(apdu)


def test_bridge_protocol_removal_and_reinsertion():
    peer = _Peer()
    card = _Recorder()
    bridge = VpcdBridge(card, "127.0.0.1", peer.port)
    starter = threading.Thread(target=bridge.start)
    starter.start()
    peer.accept()
    starter.join(10)
    assert bridge.inserted
    peer.send(b"\x01")                                         # power on: no answer
    peer.send(b"\x04")                                         # get ATR
    assert peer.recv() == EchoCard.ATR
    peer.send(b"\x00\xa4\x04\x00\x02\x3f\x00", byte_by_byte=True)  # split writes are reassembled
    assert peer.recv() == b"\x00\xa4\x04\x00\x02\x3f\x00\x90\x00"
    peer.send(b"\x07")                                         # unknown control code: ignored
    peer.send(b"\x02")                                         # reset
    peer.send(b"\xff\xff\x00\x00")                             # the card raises: 6F00, bridge keeps going
    assert peer.recv() == b"\x6f\x00"
    peer.send(b"\x00\x84\x00\x00\x08")
    assert peer.recv() == b"\x00\x84\x00\x00\x08\x90\x00"
    assert bridge.apdu_count == 3
    bridge.remove()                                            # card pulled: vpcd sees the socket close
    with pytest.raises((EOFError, ConnectionError)):
        peer.recv()
    assert not bridge.inserted and card.events[-1] == "off"
    reinsert = threading.Thread(target=bridge.insert)
    reinsert.start()
    peer.accept()
    reinsert.join(10)
    peer.send(b"\x04")
    assert peer.recv() == EchoCard.ATR
    peer.conn.close()                                          # vpcd goes away: the bridge thread ends
    for _ in range(100):
        if not bridge.inserted:
            break
        time.sleep(0.02)
    assert not bridge.inserted
    assert card.events.count("reset") == 1
    peer.close()


def test_bridge_connect_failure_is_a_bridge_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound, not listening: connections are refused
        bridge = VpcdBridge(EchoCard(), "127.0.0.1", port, connect_timeout=0.3)
        with pytest.raises(BridgeError) as e:
            bridge.start()
    assert e.value.reason == "bridge.connect"
    assert slot_port(0) == 0x8C7B and slot_port(1) == 0x8C7C
