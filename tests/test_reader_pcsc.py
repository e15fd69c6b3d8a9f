"""reader.transport.PcscTransport through the real stack: pcscd + vsmartcard-vpcd + pyscard."""
from __future__ import annotations

import pytest

from firmware_profiles.vpcd import EchoCard
from reader.errors import CardRemovedError, NoCardError, NoReaderError, ReasonCode, TransportError
from reader.transport import PcscTransport, list_readers

pytestmark = pytest.mark.pcsc


class GetResponseCard(EchoCard):
    """Answers in T=0 style: 61xx first, the data on GET RESPONSE."""

    def __init__(self) -> None:
        self.pending = b""

    def process_apdu(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xC0:
            out, self.pending = self.pending[: apdu[4] or 256], self.pending[apdu[4] or 256:]
            return out + (b"\x61" + bytes([min(len(self.pending), 255)]) if self.pending else b"\x90\x00")
        self.pending = bytes(range(256)) * 2
        return b"\x61\x00"


def test_transmit_reset_and_names(virtual_card):
    name = virtual_card.insert(EchoCard(), slot=0)
    assert name in list_readers()
    with PcscTransport("00 00") as t:                  # unique substring selects slot 0
        assert t.reader_name == name
        assert t.atr == EchoCard.ATR
        assert t.transmit(b"\x00\xa4\x04\x0c\x01\x01") == b"\x00\xa4\x04\x0c\x01\x01\x90\x00"
        assert t.reset() == EchoCard.ATR
        big = bytes(4) + b"\x00\x01\x00" + bytes(256)   # extended Lc through the stack
        assert t.transmit(big)[-2:] == b"\x90\x00"


def test_exclusive_connection(virtual_card):
    name = virtual_card.insert(EchoCard(), slot=0)
    with PcscTransport(name, exclusive=True):
        with pytest.raises(TransportError):      # SCARD_E_SHARING_VIOLATION for anyone else
            PcscTransport(name).open()


def test_get_response_chain(virtual_card):
    virtual_card.insert(GetResponseCard(), slot=1)
    with PcscTransport(virtual_card.reader(1)) as t:
        assert t.transmit(b"\x00\xb0\x00\x00\x00") == bytes(range(256)) * 2 + b"\x90\x00"


def test_errors(virtual_card, pcscd):
    with pytest.raises(NoReaderError):
        PcscTransport("No Such Reader").open()
    with pytest.raises(NoReaderError):
        PcscTransport("Cancuoc").open()           # ambiguous: two slots
    with pytest.raises(NoCardError) as ei:
        PcscTransport(virtual_card.reader(1)).open()
    assert ei.value.reason is ReasonCode.NO_CARD
    virtual_card.insert(EchoCard(), slot=0)
    t = PcscTransport(virtual_card.reader(0))
    t.open()
    try:
        virtual_card.remove(0)
        with pytest.raises(CardRemovedError) as ei:
            t.transmit(b"\x00\x84\x00\x00\x08")
        assert ei.value.reason is ReasonCode.CARD_REMOVED
    finally:
        t.close()
