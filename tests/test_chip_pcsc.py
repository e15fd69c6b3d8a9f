"""Real-stack tests: pyscard -> private pcscd -> vsmartcard-vpcd -> VpcdBridge / `cancuoc chip serve` -> chip.

The done-when of issue 4: a served vn-cccd-2021 chip shows up in pyscard, answers SELECT of the eMRTD
AID, refuses DG reads without access control; a blank card is personalized through the dialect,
locked and read back with BAC and with PACE through the real stack.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from smartcard.System import readers

from firmware_profiles import CardState, LifeCycle, load_profile, new_blank_card
from firmware_profiles.chip import VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from firmware_profiles.security_infos import card_access_bytes, pace_oids
from firmware_profiles.vpcd import EchoCard
from icao9303.crypto import CANKey
from reader.transport import PcscTransport
from tests.fixtures.pcsc import wait_card_state
from tests.test_chip_helpers import (
    CAN,
    CONTENT,
    MRZ_KEY,
    SERIAL,
    TK,
    dg2_content,
    open_bac,
    open_pace,
    personalize,
    read_file,
    tx,
)

pytestmark = pytest.mark.pcsc

AID = "A0000002471001"


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
    assert name in [str(r) for r in readers()]  # the reader stays, the card is gone
    virtual_card.reinsert(1)
    conn = _connect(name)
    data, sw1, sw2 = conn.transmit([0x00, 0x84, 0x00, 0x00, 0x08])
    assert (sw1, sw2) == (0x90, 0x00)
    conn.disconnect()


def _serve(pcscd, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cancuoc.cli", "chip", "serve", "--port", str(pcscd.port(1)), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)


def test_cli_serve_shows_up_in_pyscard(pcscd):
    """`cancuoc chip serve --profile vn-cccd-2021` (a separate process): a card in pyscard that answers
    SELECT of the eMRTD AID and refuses DG reads without access control."""
    proc = _serve(pcscd, "--profile", "vn-cccd-2021")
    try:
        wait_card_state(pcscd.reader(1), True, timeout=30)
        with PcscTransport(pcscd.reader(1)) as t:
            assert t.atr == load_profile("vn-cccd-2021").atr
            assert tx(t, "00A4040C07" + AID)[1] == 0x9000
            assert tx(t, "00B0810004")[1] == 0x6982                 # DG1 by SFI: no BAC/PACE yet
            assert tx(t, "00B0830004")[1] == 0x6982                 # DG3
            assert tx(t, "00A4020C020101")[1] == 0x6A82             # a blank card has no DG1 yet
    finally:
        _stop(proc)
    wait_card_state(pcscd.reader(1), False)
    assert b"serving vn-cccd-2021 card" in proc.stderr.read()


def test_cli_serve_state_file_over_the_vpcd_protocol(tmp_path):
    """`cancuoc chip serve --state FILE --once` against a scripted vpcd peer (the vpcd wire protocol:
    uint16 length + payload; 04 = get ATR; closing = removal): the personalized card answers and
    `serve` returns when vpcd hangs up."""
    import socket
    import struct
    import threading

    from cancuoc.cli import main

    path = tmp_path / "card.json"
    personalize("vn-cccd-2021", path=path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    result: list[int] = []
    server = threading.Thread(target=lambda: result.append(
        main(["chip", "serve", "--state", str(path), "--port", str(port), "--once"])))
    server.start()
    conn, _ = listener.accept()

    def ask(payload: bytes) -> bytes:
        conn.sendall(struct.pack(">H", len(payload)) + payload)
        (n,) = struct.unpack(">H", conn.recv(2))
        data = b""
        while len(data) < n:
            data += conn.recv(n - len(data))
        return data

    conn.sendall(struct.pack(">H", 1) + b"\x01")                  # power on: no reply expected
    assert ask(b"\x04") == load_profile("vn-cccd-2021").atr       # get ATR
    assert ask(bytes.fromhex("00A4040C07" + AID)) == b"\x90\x00"
    assert ask(bytes.fromhex("00B0810004")) == b"\x69\x82"
    conn.close()                                                   # card removed
    server.join(10)
    listener.close()
    assert result == [0]


@pytest.mark.parametrize("profile_name", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_personalize_lock_and_read_back_through_pcscd(virtual_card, tmp_path, profile_name):
    """Blank card -> dialect (transport key, files, on-chip keys, access keys, lock) -> BAC and PACE
    read-back, all through pyscard/pcscd/vpcd; the card is pulled and re-inserted in between."""
    profile = load_profile(profile_name)
    path = tmp_path / "card.json"
    chip = VirtualChip(new_blank_card(profile, SERIAL, TK, path=path))
    name = virtual_card.insert(chip, slot=0)
    dg2 = dg2_content(20000)
    with PcscTransport(name) as t:
        assert t.atr == profile.atr
        s = PersonalizationSession(t, profile)
        assert s.read_serial() == SERIAL
        s.authenticate(TK)
        if profile.pace is not None:
            s.write_file("EF.CardAccess", card_access_bytes(profile))
        s.write_file("EF.COM", CONTENT["EF.COM"])
        s.write_file("DG1", CONTENT["DG1"])
        s.write_file("DG2", dg2)
        keys = {p: s.generate_key_pair(p) for p in profile.personalization.key_references}
        assert all(keys.values())
    # pulled mid-personalization: the written files survive (state file), the session does not
    virtual_card.remove(0)
    virtual_card.reinsert(0)
    with PcscTransport(name) as t:
        s = PersonalizationSession(t, profile)
        s.authenticate(TK)
        s.write_file("EF.SOD", CONTENT["EF.SOD"])
        s.set_access_keys(MRZ_KEY, CAN if profile.pace else None)
        s.lock()
    assert CardState.load(path).lifecycle is LifeCycle.LOCKED
    with PcscTransport(name) as t:
        t.reset()
        sm = open_bac(t)
        assert read_file(sm, 0x0101) == CONTENT["DG1"]
        assert read_file(sm, 0x0102) == dg2
        if profile.pace is not None:
            t.reset()
            assert read_file(t, 0x011C) == card_access_bytes(profile)
            sm, _ = open_pace(t, pace_oids(profile)[-1], CANKey(CAN))
            assert read_file(sm, 0x0102, chunk=255) == dg2
        # locked for good
        s = PersonalizationSession(t, profile)
        with pytest.raises(Exception) as e:
            s.authenticate(TK)
        assert getattr(e.value, "sw", None) == 0x6985
