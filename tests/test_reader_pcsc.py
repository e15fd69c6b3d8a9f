"""reader.transport.PcscTransport through the real stack: pcscd + vsmartcard-vpcd + pyscard."""
from __future__ import annotations

import pytest

from firmware_profiles.vpcd import EchoCard
from reader import Outcome
from reader import ReasonCode as RC
from reader.access import can_key, mrz_key_from_text
from reader.errors import CardRemovedError, NoCardError, NoReaderError, ReasonCode, TransportError
from reader.inspect import inspect_card
from reader.reading import ReadSizeMemory
from reader.testing import NOW, personalize
from reader.trace import ApduTrace
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


# -- whole inspections through pcscd + vpcd + pyscard ---------------------------------------------------



@pytest.fixture(scope="module")
def cards():
    return {p: personalize(p) for p in ("vn-cccd-2021", "vn-cc-2024", "legacy-bac")}


@pytest.mark.parametrize("profile", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_inspect_every_profile_through_pcscd(virtual_card, cards, profile):
    card = cards[profile]
    name = virtual_card.insert(card.chip, slot=0)
    key = can_key(card.can) if card.profile.pace else mrz_key_from_text(card.mrz)
    trace = ApduTrace()
    with PcscTransport(name) as t:
        r = inspect_card(t, key, card.pki.trust_store(), at=NOW, memory=ReadSizeMemory(), trace=trace)
    assert r.verdict is Outcome.PASSED, [c for c in r.checks if c.outcome is Outcome.FAILED]
    assert r.document.portrait and len(r.evidence.files["DG2"]) > 15_000
    if profile == "legacy-bac":
        # short APDUs only: every command and response fits ISO 7816-4 short lengths
        assert r.access.method == "BAC" and r.apdu.read_size <= 223
        assert all(e.command_length <= 261 and e.response_length <= 258 for e in trace.entries)
    if profile == "vn-cc-2024":
        assert r.apdu.read_size > 256 and r.chip_authentication == "PACE-CAM"


def test_card_removed_mid_read_through_pcscd(virtual_card, cards):
    card = cards["vn-cccd-2021"]
    name = virtual_card.insert(card.chip, slot=0)

    class PullCard:
        def __init__(self, inner):
            self.inner, self.reads = inner, 0

        def transmit(self, apdu):
            if apdu[1] == 0xB0 and apdu[0] & 0x0C:
                self.reads += 1
                if self.reads == 15:
                    virtual_card.remove(0)
            return self.inner.transmit(apdu)

        def __getattr__(self, attr):
            return getattr(self.inner, attr)

    with PcscTransport(name) as t:
        r = inspect_card(PullCard(t), can_key(card.can), card.pki.trust_store(), at=NOW,
                         memory=ReadSizeMemory())
    assert r.verdict is Outcome.FAILED
    assert {c.id: c.reason for c in r.checks if c.outcome is Outcome.FAILED}["read"] is RC.CARD_REMOVED


def test_cancuoc_read_cli(virtual_card, cards, tmp_path, capsys):
    import json

    from cancuoc.cli import main
    from pki.truststore import TrustStore
    from reader import EvidenceBundle, reverify

    card = cards["vn-cccd-2021"]
    ts = TrustStore(tmp_path / "ts")
    ts.add_csca(card.pki.csca)
    ts.add_crl(card.pki.crl)
    name = virtual_card.insert(card.chip, slot=0)
    evidence = tmp_path / "evidence.json"
    portrait = tmp_path / "face"
    argv = ["read", "--reader", name, "--can", card.can, "--trust-store", str(tmp_path / "ts"),
            "--at", NOW.isoformat(), "--save-evidence", str(evidence), "--portrait", str(portrait)]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "passed" and report["document"]["mrz_fields"]["personal_id"] == "079090012345"
    assert (tmp_path / "face.jpg").read_bytes().startswith(b"\xff\xd8")
    offline = reverify(EvidenceBundle.from_json(evidence.read_text()), TrustStore(tmp_path / "ts"), NOW)
    assert offline.verdict is Outcome.PASSED
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "PASSED" in text and "Portrait" in text and "face.jpg" in text
    assert main(["read", "--reader", name, "--can", "111111", "--trust-store", str(tmp_path / "ts")]) == 1
    assert "ACCESS_DENIED" in capsys.readouterr().out


def test_default_reader_is_the_one_with_a_card(virtual_card):
    virtual_card.insert(EchoCard(), slot=1)
    with PcscTransport() as t:
        assert t.reader_name == virtual_card.reader(1)


def test_card_tapped_again_mid_read_resumes_through_pcscd(virtual_card, cards):
    card = cards["vn-cccd-2021"]
    name = virtual_card.insert(card.chip, slot=0)

    class Retap:
        def __init__(self, inner):
            self.inner, self.reads = inner, 0

        def transmit(self, apdu):
            if apdu[1] == 0xB0 and apdu[0] & 0x0C:
                self.reads += 1
                if self.reads == 40:
                    virtual_card.remove(0)
                    virtual_card.reinsert(0)
            return self.inner.transmit(apdu)

        def __getattr__(self, attr):
            return getattr(self.inner, attr)

    with PcscTransport(name) as t:
        r = inspect_card(Retap(t), can_key(card.can), card.pki.trust_store(), at=NOW, memory=ReadSizeMemory())
    assert r.verdict is Outcome.PASSED, [c for c in r.checks if c.outcome is Outcome.FAILED]
    assert r.apdu.resumes == 1
