"""Real-stack tests: pyscard -> private pcscd -> vsmartcard-vpcd -> VpcdBridge -> card."""
from __future__ import annotations

import pytest
from smartcard.System import readers

from firmware_profiles.vpcd import EchoCard

pytestmark = pytest.mark.pcsc


def _connect(name: str):
    reader = next(r for r in readers() if str(r) == name)
    conn = reader.createConnection()
    conn.connect()
    return conn


def test_echo_card_round_trip_and_removal(virtual_card):
    name = virtual_card.insert(EchoCard(), slot=1)
    conn = _connect(name)
    assert bytes(conn.getATR()) == EchoCard.ATR
    data, sw1, sw2 = conn.transmit([0x00, 0xA4, 0x04, 0x0C, 0x02, 0x01, 0x02])
    assert (bytes(data), sw1, sw2) == (bytes.fromhex("00A4040C020102"), 0x90, 0x00)
    conn.disconnect()
    virtual_card.remove(1)
    virtual_card.reinsert(1)
    conn = _connect(name)
    data, sw1, sw2 = conn.transmit([0x00, 0x84, 0x00, 0x00, 0x08])
    assert (sw1, sw2) == (0x90, 0x00)
    conn.disconnect()
