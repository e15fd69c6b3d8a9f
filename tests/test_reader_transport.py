"""reader.transport / reader.trace / reader.reading against scripted and in-process cards."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reader.errors import (
    CardRemovedError,
    MalformedFileError,
    NoReaderError,
    ReasonCode,
    TransientTransportError,
)
from reader.reading import (
    FILES,
    FileReader,
    ReadSizeMemory,
    extended_length_from_atr,
    extended_length_from_atr_info,
)
from reader.trace import ApduTrace, TracingTransport, redact_exchange
from reader.transport import InProcessTransport, ReplayMismatch, ReplayTransport, select_reader


class PlainCard:
    """A minimal CardOS: one DF of transparent EFs, no SM, configurable read limits (for the engine)."""

    def __init__(self, files: dict[int, bytes], *, max_read: int = 223, oversize: str = "wrong_length",
                 extended: bool = False, refuse: dict[int, int] | None = None) -> None:
        self.files = files
        self.max_read = max_read
        self.oversize = oversize
        self.extended = extended
        self.refuse = refuse or {}
        self.current: int | None = None
        self.powered = False
        self.log: list[bytes] = []

    def power_on(self) -> bytes:
        self.powered = True
        return bytes.fromhex("3B8080010101")

    def power_off(self) -> None:
        self.powered = False
        self.current = None

    def reset(self) -> bytes:
        self.power_off()
        return self.power_on()

    def process_apdu(self, apdu: bytes) -> bytes:
        self.log.append(apdu)
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == 0xA4:
            if p1 == 0x04 or (p1 == 0x00):
                return b"\x90\x00"
            fid = int.from_bytes(apdu[5:7], "big")
            if fid in self.refuse:
                self.current = fid
                return b"\x90\x00"
            if fid not in self.files:
                return b"\x6a\x82"
            self.current = fid
            return b"\x90\x00"
        if ins in (0xB0, 0xB1):
            if self.current is None:
                return b"\x69\x86"
            if self.current in self.refuse:
                return self.refuse[self.current].to_bytes(2, "big")
            data = self.files[self.current]
            if ins == 0xB0:
                offset = (p1 << 8) | p2
                body = apdu[4:]
                if len(body) == 3:
                    if not self.extended:
                        return b"\x67\x00"
                    le = int.from_bytes(body[1:], "big") or 65536
                else:
                    le = body[0] or 256
            else:
                ext = apdu[4] == 0 and len(apdu) > 7
                if ext and not self.extended:
                    return b"\x67\x00"
                lc = int.from_bytes(apdu[5:7], "big") if ext else apdu[4]
                start = 7 if ext else 5
                do = apdu[start:start + lc]
                offset = int.from_bytes(do[2:], "big")
                le_b = apdu[start + lc:]
                le = (int.from_bytes(le_b, "big") or 65536) if ext else (le_b[0] or 256)
                le -= 4
            if offset > len(data):
                return b"\x6b\x00"
            if le > self.max_read:
                if self.oversize == "wrong_length":
                    return b"\x67\x00"
                if self.oversize == "correct_le":
                    return b"\x6c" + bytes([self.max_read & 0xFF])
                le = self.max_read
            chunk = data[offset:offset + le]
            if ins == 0xB1:
                n = len(chunk)
                hdr = b"\x53" + (bytes([n]) if n < 0x80 else (b"\x81" + bytes([n]) if n < 256
                                                               else b"\x82" + n.to_bytes(2, "big")))
                chunk = hdr + chunk
            sw = b"\x90\x00" if len(chunk) >= le or offset + le <= len(data) else b"\x62\x82"
            return chunk + sw
        return b"\x6d\x00"


def tlv_file(tag: int, size: int, fill: int = 0xAB) -> bytes:
    value = bytes((fill + i) & 0xFF for i in range(size))
    if size < 0x80:
        return bytes([tag, size]) + value
    if size < 256:
        return bytes([tag, 0x81, size]) + value
    if size < 65536:
        return bytes([tag, 0x82]) + size.to_bytes(2, "big") + value
    return bytes([tag, 0x83]) + size.to_bytes(3, "big") + value


@pytest.mark.parametrize("oversize", ["wrong_length", "correct_le", "truncate"])
@pytest.mark.parametrize("extended", [False, True])
def test_reads_dg2_with_step_down(oversize, extended):
    dg2 = tlv_file(0x75, 20_000)
    card = PlainCard({0x0102: dg2}, max_read=160, oversize=oversize, extended=extended)
    t = InProcessTransport(card)
    reader = FileReader(t, initial_size=65536 if extended else 256, extended=extended,
                        memory=ReadSizeMemory(), chip_key="x")
    assert reader.read(FILES["DG2"]) == dg2
    if oversize != "truncate":  # a truncating chip answers 9000 with 160 bytes: nothing to step down
        assert reader.size <= 160
    # a second reader for the same chip starts at the remembered size: no more step-downs
    r2 = FileReader(t, initial_size=65536, extended=extended, memory=reader.memory, chip_key="x")
    assert r2.read(FILES["DG2"]) == dg2
    assert r2.stats.step_downs == 0


def test_odd_ins_past_32k():
    dg2 = tlv_file(0x75, 40_000)
    card = PlainCard({0x0102: dg2}, max_read=65536, extended=True)
    reader = FileReader(InProcessTransport(card), initial_size=4096, extended=True, memory=ReadSizeMemory())
    assert reader.read(FILES["DG2"]) == dg2
    assert reader.stats.odd_ins_reads > 0
    assert any(a[1] == 0xB1 for a in card.log)
    # every even-INS read stays within the 15-bit offset
    assert all(((a[2] << 8) | a[3]) <= 0x7FFF for a in card.log if a[1] == 0xB0)


def test_odd_ins_short_apdus():
    dg2 = tlv_file(0x75, 33_000)
    card = PlainCard({0x0102: dg2}, max_read=223)
    reader = FileReader(InProcessTransport(card), initial_size=223, memory=ReadSizeMemory())
    assert reader.read(FILES["DG2"]) == dg2


def test_eac_protected_dg_reason():
    card = PlainCard({}, refuse={0x0103: 0x6982})
    reader = FileReader(InProcessTransport(card), memory=ReadSizeMemory())
    with pytest.raises(Exception) as ei:
        reader.read(FILES["DG3"])
    assert ei.value.reason is ReasonCode.EAC_REQUIRED
    with pytest.raises(Exception) as ei:
        reader.read(FILES["DG4"])
    assert ei.value.reason is ReasonCode.FILE_NOT_FOUND


class FlakyTransport:
    """Raises a transient error at the n-th READ BINARY (the card stays)."""

    def __init__(self, inner, fail_at: int, error=TransientTransportError) -> None:
        self.inner, self.fail_at, self.reads, self.error = inner, fail_at, 0, error

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] in (0xB0, 0xB1):
            self.reads += 1
            if self.reads == self.fail_at:
                raise self.error("link lost", step="transmit")
        return self.inner.transmit(apdu)


def test_resume_after_transient_error():
    dg2 = tlv_file(0x75, 5000)
    card = PlainCard({0x0102: dg2}, max_read=223)
    inner = InProcessTransport(card)
    reopened = []

    def reopen():
        inner.reset()
        reopened.append(1)
        return inner

    reader = FileReader(FlakyTransport(inner, 10), memory=ReadSizeMemory(), reopen=reopen)
    assert reader.read(FILES["DG2"]) == dg2
    assert reader.stats.resumes == 1 and reopened
    # resumed from the last offset: total bytes read ≈ file size (no restart from 0)
    offsets = [(a[2] << 8) | a[3] for a in card.log if a[1] == 0xB0]
    assert offsets.count(0) == 1


def test_card_removed_and_not_back_is_not_resumed():
    card = PlainCard({0x0102: tlv_file(0x75, 5000)})

    def reopen():
        raise CardRemovedError("still away", step="reconnect")

    reader = FileReader(FlakyTransport(InProcessTransport(card), 3, CardRemovedError),
                        memory=ReadSizeMemory(), reopen=reopen)
    with pytest.raises(CardRemovedError) as ei:
        reader.read(FILES["DG2"])
    assert ei.value.reason is ReasonCode.CARD_REMOVED and str(ei.value).startswith("link lost")


def test_in_process_remove():
    t = InProcessTransport(PlainCard({}))
    t.open()
    t.remove()
    with pytest.raises(CardRemovedError):
        t.transmit(b"\x00\xa4\x00\x0c")


def test_truncated_file_is_malformed():
    card = PlainCard({0x0101: b"\x61\x50" + b"\x00" * 10})
    with pytest.raises(MalformedFileError):
        FileReader(InProcessTransport(card), memory=ReadSizeMemory()).read(FILES["DG1"])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([16, 160, 223]))
def test_reader_never_crashes_on_arbitrary_file(content, max_read):
    card = PlainCard({0x0101: content}, max_read=max_read)
    try:
        got = FileReader(InProcessTransport(card), memory=ReadSizeMemory()).read(FILES["DG1"])
    except MalformedFileError:
        return
    except Exception as exc:  # other reader errors are allowed, crashes are not
        assert hasattr(exc, "reason")
        return
    assert content.startswith(got)


def test_replay_transport():
    t = ReplayTransport([("00A4040C07A0000002471001", "9000"), (None, TransientTransportError("x"))])
    assert t.transmit(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
    with pytest.raises(TransientTransportError):
        t.transmit(b"\x00\xb0\x00\x00\x10")
    with pytest.raises(ReplayMismatch):
        t.transmit(b"\x00")
    t2 = ReplayTransport([("00A4", "9000")])
    with pytest.raises(ReplayMismatch):
        t2.transmit(b"\x00\xa5")


def test_trace_redacts_authentication_and_plain_reads():
    trace = ApduTrace()
    script = [
        ("0082000028" + "11" * 40 + "28", "22" * 40 + "9000"),   # BAC EXTERNAL AUTHENTICATE
        ("10860000" + "05" + "7c03800101" + "00", "7c0a8008" + "33" * 8 + "9000"),  # PACE GA
        ("00B0000010", "44" * 16 + "9000"),                          # plain READ BINARY
        ("0CB000000D970110" + "8e08" + "55" * 8 + "00", "8708" + "66" * 8 + "9000"),  # SM read
        ("00880000081122334455667788" + "00", "77" * 128 + "9000"),  # AA: kept
    ]
    t = TracingTransport(ReplayTransport(script), trace)
    for cmd, _ in script:
        t.transmit(bytes.fromhex(cmd))
    d = trace.to_dict()
    text = str(d).lower()
    for secret in ("11" * 40, "22" * 40, "33" * 8, "44" * 16):
        assert secret not in text
    assert "66" * 8 in text and "1122334455667788" in text
    assert d["count"] == 5 and d["bytes_sent"] == sum(len(c) // 2 for c, _ in script)
    assert [e["sw"] for e in d["entries"]] == ["9000"] * 5
    assert redact_exchange(b"\x00\xa4\x02\x0c\x02\x01\x1e", b"\x90\x00")[2] is False


def test_trace_records_failures():
    trace = ApduTrace()
    t = TracingTransport(ReplayTransport([(None, CardRemovedError("gone"))]), trace)
    with pytest.raises(CardRemovedError):
        t.transmit(b"\x00\xb0\x00\x00\x10")
    assert trace.entries[0].error == "CardRemovedError"


def test_select_reader():
    names = ["Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR122U 01 00"]
    assert select_reader(names, None) == names[0]
    assert select_reader(names, "acr122") == names[2]
    assert select_reader(names, "Virtual PCD 00 01") == names[1]
    with pytest.raises(NoReaderError):
        select_reader(names, "Virtual")
    with pytest.raises(NoReaderError):
        select_reader(names, "Gemalto")
    with pytest.raises(NoReaderError):
        select_reader([], None)


def test_extended_length_detection():
    # historical bytes 80 73 xx xx 40 -> card capabilities with extended Lc/Le
    atr = bytes([0x3B, 0x05]) + bytes.fromhex("8073000040")
    assert extended_length_from_atr(atr) is True
    atr = bytes([0x3B, 0x05]) + bytes.fromhex("8073000000")
    assert extended_length_from_atr(atr) is False
    assert extended_length_from_atr(b"") is False
    info = bytes.fromhex("7F6608020208000202" "0400")
    assert extended_length_from_atr_info(info) == 0x0400


def test_appendix_d4_read_ef_com():
    """ICAO 9303-11 Appendix D.4: the reading engine sends exactly the worked example's protected APDUs
    (SSC in step across SELECT and two READ BINARY) and returns EF.COM."""
    import json
    from pathlib import Path

    from icao9303.crypto import DES3, SecureMessaging, SecureMessagingTransport

    v = json.loads((Path(__file__).parent / "vectors/reader/appendix_d4_read_ef_com.json").read_text())
    replay = ReplayTransport([(e["protected_command"], e["protected_response"]) for e in v["exchanges"]])
    sm = SecureMessaging(DES3, bytes.fromhex(v["ks_enc"]), bytes.fromhex(v["ks_mac"]), bytes.fromhex(v["ssc"]))
    reader = FileReader(SecureMessagingTransport(replay, sm), initial_size=223, memory=ReadSizeMemory(),
                        first_read=4)
    assert reader.read(FILES["EF.COM"]) == bytes.fromhex(v["ef_com"])
    assert replay.remaining == 0


class HostileCard(PlainCard):
    """Answers READ BINARY from a script of (data length, SW) pairs, cycled: random status words, short and
    long answers, 61xx/6Cxx loops — the reading engine must end with data or a reader error, never hang."""

    def __init__(self, script):
        super().__init__({0x0101: b""})
        self.script, self.i = script, 0

    def process_apdu(self, apdu):
        if apdu[1] not in (0xB0, 0xB1, 0xC0):
            return super().process_apdu(apdu)
        n, sw = self.script[self.i % len(self.script)]
        self.i += 1
        return bytes([0x61, 0x82, 0x7F, 0xFF][:min(n, 4)]) + bytes(max(0, n - 4)) + sw.to_bytes(2, "big")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=300),
                          st.sampled_from([0x9000, 0x6282, 0x6700, 0x6C00, 0x6C10, 0x61FF, 0x6100, 0x6B00,
                                           0x6982, 0x6A82, 0x6988, 0x6F00, 0x9000])),
                min_size=1, max_size=6))
def test_hostile_chip_never_hangs(script):
    card = HostileCard(script)
    try:
        FileReader(InProcessTransport(card), memory=ReadSizeMemory()).read(FILES["DG1"])
    except Exception as exc:
        assert hasattr(exc, "reason"), type(exc)
    assert card.i < 5 * 4096


def test_trace_replays():
    """An unredacted trace of a read replays through ReplayTransport; a redacted one is refused."""
    dg1 = tlv_file(0x61, 300)
    trace = ApduTrace(redact=False)
    FileReader(TracingTransport(InProcessTransport(PlainCard({0x0101: dg1})), trace),
               memory=ReadSizeMemory()).read(FILES["DG1"])
    replay = ReplayTransport.from_trace(trace.to_dict())
    assert FileReader(replay, memory=ReadSizeMemory()).read(FILES["DG1"]) == dg1 and replay.remaining == 0
    redacted = ApduTrace()
    TracingTransport(ReplayTransport([(None, "44" * 8 + "9000")]), redacted).transmit(b"\x00\xb0\x00\x00\x08")
    with pytest.raises(ValueError):
        ReplayTransport.from_trace(redacted.to_dict())
