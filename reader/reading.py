"""Reading the LDS files of an eMRTD chip: SELECT, READ BINARY with read-size step-down, odd INS and resume.

ICAO 9303-10 §3 (file structure: EF.CardAccess/EF.CardSecurity/EF.ATR/INFO under the MF, the LDS1
application AID A0000002471001 with EF.COM, EF.SOD and EF.DG1..16) and ISO/IEC 7816-4 §11.2
(READ BINARY, even INS B0 with a 15-bit offset in P1-P2, odd INS B1 with offset DO 54 and data DO 53).

What the reading engine guarantees (LESSONS.md, "Reading chips"):
* it asks for the most the chip allows (extended length from EF.ATR/INFO DO 7F66 or the ATR's card
  capabilities, else short), and steps the read size down the `READ_SIZE_LADDER` on 6700, on 6Cxx
  (to xx) and on a response of the wrong length, and remembers per chip what worked (`ReadSizeMemory`);
* every step goes through the one transport it is given (plain or secure messaging), so the send
  sequence counter advances exactly once per exchange in both directions; if the chip aborted the SM
  session (6987/6988 after an error) the caller's `reopen` re-establishes access and reading resumes;
* past offset 32767 it reads with odd INS B1;
* after a transient transport error (or the card leaving the field and coming back) it reopens the
  session and resumes the file from the last offset.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from icao9303.transport import Transport
from reader.errors import (
    CardRemovedError,
    CardStatusError,
    MalformedFileError,
    NoCardError,
    ReaderError,
    ReasonCode,
    SecureMessagingError,
    TransientTransportError,
)

__all__ = [
    "AID_LDS1",
    "FILES",
    "READ_SIZE_LADDER",
    "DGFile",
    "FileReadError",
    "FileReader",
    "ReadSizeMemory",
    "extended_length_from_atr",
    "extended_length_from_atr_info",
    "file_for_tag",
    "select_application",
    "select_ef",
    "select_mf",
]

AID_LDS1 = bytes.fromhex("A0000002471001")  # ICAO 9303-10 §3.6.1

# Decision: 65536 (one extended read of any LDS file ≤ 64 KB) → 4096 → 1024 → 256/224/223/160
# (the short sizes chips are known to accept, LESSONS.md) → small sizes for very odd chips.
READ_SIZE_LADDER: tuple[int, ...] = (65536, 32768, 4096, 1024, 256, 224, 223, 160, 128, 64, 32, 16, 8, 1)
SHORT_READ_DEFAULT = 223  # fits one short SM response with 3DES or AES padding (9303-11 §9.8)
MAX_FILE_SIZE = 1 << 20   # hostile chip announcing a huge file: refuse above 1 MiB
MAX_COMMANDS_PER_FILE = 4096  # a chip trickling bytes (or refusing forever) cannot keep us reading


@dataclass(frozen=True)
class DGFile:
    """One elementary file: name as in 9303-10, file identifier, LDS tag (None for non-TLV files)."""

    name: str
    fid: int
    tag: int | None
    in_mf: bool = False

    @property
    def number(self) -> int | None:
        return int(self.name[2:]) if self.name.startswith("DG") else None


# ICAO 9303-10 §4.6 table 42 (EF.COM/DG/SOD tags) and §3.11 (MF files).
FILES: dict[str, DGFile] = {f.name: f for f in (
    DGFile("EF.CardAccess", 0x011C, None, True),
    DGFile("EF.CardSecurity", 0x011D, None, True),
    DGFile("EF.ATR/INFO", 0x2F01, None, True),
    DGFile("EF.COM", 0x011E, 0x60),
    DGFile("EF.SOD", 0x011D, 0x77),
    DGFile("DG1", 0x0101, 0x61), DGFile("DG2", 0x0102, 0x75), DGFile("DG3", 0x0103, 0x63),
    DGFile("DG4", 0x0104, 0x76), DGFile("DG5", 0x0105, 0x65), DGFile("DG6", 0x0106, 0x66),
    DGFile("DG7", 0x0107, 0x67), DGFile("DG8", 0x0108, 0x68), DGFile("DG9", 0x0109, 0x69),
    DGFile("DG10", 0x010A, 0x6A), DGFile("DG11", 0x010B, 0x6B), DGFile("DG12", 0x010C, 0x6C),
    DGFile("DG13", 0x010D, 0x6D), DGFile("DG14", 0x010E, 0x6E), DGFile("DG15", 0x010F, 0x6F),
    DGFile("DG16", 0x0110, 0x70),
)}
_BY_TAG = {f.tag: f for f in FILES.values() if f.tag is not None}


def file_for_tag(tag: int) -> DGFile | None:
    """The LDS file whose template has `tag` (EF.COM's tag list, ICAO 9303-10 table 42)."""
    return _BY_TAG.get(tag)


class FileReadError(ReaderError):
    """A file could not be read; `reason` says why (FILE_NOT_FOUND, EAC_REQUIRED, ACCESS_DENIED...)."""


def _sw(response: bytes) -> int:
    if len(response) < 2:
        raise CardStatusError("response shorter than a status word", step="transmit")
    return int.from_bytes(response[-2:], "big")


_SM_ABORT = frozenset({0x6987, 0x6988, 0x6882})


def _is_length_refusal(sw: int | None) -> bool:
    return sw is not None and (sw == 0x6700 or (sw >> 8) == 0x6C)


def _sm_error_of(exc: BaseException) -> tuple[bool, int | None]:
    """(is an SM-layer error of icao9303.crypto, the status word the chip sent if any)."""
    from icao9303.crypto.errors import SMError

    if isinstance(exc, SMError):
        sw = getattr(exc, "sw", None)
        return True, sw if isinstance(sw, int) else None
    return False, None


def _status_error(sw: int, step: str, name: str) -> ReaderError:
    if sw in _SM_ABORT:
        return SecureMessagingError(f"chip reported a secure messaging error reading {name}",
                                    step=step, sw=sw)
    if sw in (0x6A82, 0x6A83, 0x6A88):
        return FileReadError(f"{name} not found", reason=ReasonCode.FILE_NOT_FOUND, step=step, sw=sw)
    if sw == 0x6982:
        return FileReadError(f"{name} needs a higher access right (EAC)", reason=ReasonCode.EAC_REQUIRED,
                             step=step, sw=sw)
    if sw in (0x6985, 0x6986):
        return FileReadError(f"{name} not readable", reason=ReasonCode.ACCESS_DENIED, step=step, sw=sw)
    return CardStatusError(f"card refused {step} of {name}", step=step, sw=sw)


def select_mf(transport: Transport) -> int:
    """SELECT MF (ISO 7816-4 §11.1.1, P1=00 FID 3F00, P2=0C: no response data, no Le). Returns SW;
    a chip that does not know the MF path answers an error that the caller may ignore."""
    return _sw(transport.transmit(bytes.fromhex("00A4000C023F00")))


def select_application(transport: Transport, aid: bytes = AID_LDS1) -> None:
    """SELECT the eMRTD application by DF name (P1=04, P2=0C; no Le — some chips reject it)."""
    apdu = bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid
    sw = _sw(transport.transmit(apdu))
    if sw != 0x9000:
        raise _status_error(sw, "SELECT application", "eMRTD application")


def select_ef(transport: Transport, fid: int, name: str = "file") -> None:
    """SELECT EF by file identifier under the current DF (P1=02, P2=0C; no Le)."""
    sw = _sw(transport.transmit(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big")))
    if sw != 0x9000:
        raise _status_error(sw, "SELECT", name)


def extended_length_from_atr(atr: bytes | None) -> bool:
    """True when the ATR's historical bytes carry card capabilities (compact-TLV tag 7, ISO/IEC 7816-4
    §8.1.1.2.7) with the third software function byte's b7 'extended Lc and Le fields' set."""
    if not atr or len(atr) < 2:
        return False
    # Locate historical bytes: T0 low nibble = K; skip interface bytes (ISO/IEC 7816-3 §8.2).
    try:
        k = atr[1] & 0x0F
        y = atr[1] >> 4
        pos = 2
        while True:
            td = None
            for bit in range(4):
                if y & (1 << bit):
                    if bit == 3:
                        td = atr[pos]
                    pos += 1
            if td is None:
                break
            y = td >> 4
        hist = atr[pos:pos + k]
        if not hist or hist[0] != 0x80:
            return False
        i = 1
        while i < len(hist):
            tag, length = hist[i] >> 4, hist[i] & 0x0F
            value = hist[i + 1:i + 1 + length]
            if tag == 0x7 and length >= 3:
                return bool(value[2] & 0x40)
            i += 1 + length
    except IndexError:
        return False
    return False


def extended_length_from_atr_info(data: bytes) -> int | None:
    """The maximum response length (Ne) from EF.ATR/INFO's extended length information DO 7F66
    (ISO/IEC 7816-4 §12.7.1: 02 max Nc, 02 max Ne), or None."""
    from icao9303 import tlv

    try:
        for node in tlv.parse_tlv(data):
            if node.tag == 0x7F66:
                ints = [c for c in node.children if c.tag == 0x02]
                if len(ints) >= 2 and ints[1].value:
                    return int.from_bytes(ints[1].value, "big")
    except Exception:
        return None
    return None


@dataclass
class ReadSizeMemory:
    """What read size worked, per chip (keyed by ATR + profile name), shared by every reader in the
    process: the next session with the same chip starts there and wastes no APDUs on refusals."""

    sizes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: str) -> int | None:
        with self._lock:
            return self.sizes.get(key)

    def remember(self, key: str, size: int) -> None:
        with self._lock:
            self.sizes[key] = size


DEFAULT_READ_SIZE_MEMORY = ReadSizeMemory()


def _next_smaller(size: int, hint: int | None = None) -> int:
    if hint is not None and 0 < hint < size:
        return hint
    for s in READ_SIZE_LADDER:
        if s < size:
            return s
    return 0


def _tlv_total_length(head: bytes) -> int | None:
    """Total size (tag + length + value) of the TLV whose header starts `head`, or None if more
    bytes are needed. Raises MalformedFileError on a header no LDS file can have."""
    if not head:
        return None
    pos = 1
    if head[0] & 0x1F == 0x1F:
        while True:
            if pos >= len(head):
                return None
            pos += 1
            if not head[pos - 1] & 0x80:
                break
            if pos > 4:
                raise MalformedFileError("TLV tag too long", step="READ BINARY")
    if pos >= len(head):
        return None
    first = head[pos]
    if first < 0x80:
        return pos + 1 + first
    n = first & 0x7F
    if n == 0 or n > 3:
        raise MalformedFileError("TLV length field invalid", step="READ BINARY")
    if pos + 1 + n > len(head):
        return None
    length = int.from_bytes(head[pos + 1:pos + 1 + n], "big")
    return pos + 1 + n + length


@dataclass
class ReadStats:
    """Counters of one FileReader (reported in the verification report)."""

    read_commands: int = 0
    step_downs: int = 0
    resumes: int = 0
    odd_ins_reads: int = 0


class FileReader:
    """Reads whole LDS files over `transport` (usually the SM transport of the access protocol).

    `reopen` — called after a transient transport error or an SM session abort — must reset the
    card, redo access control (and Chip Authentication when it was done) and return the new
    transport; the reader then re-selects the application and the file and resumes from its offset.
    `max_resumes` bounds it per file.
    """

    def __init__(self, transport: Transport, *, initial_size: int = SHORT_READ_DEFAULT,
                 extended: bool = False, memory: ReadSizeMemory | None = None, chip_key: str = "",
                 reopen: Callable[[], Transport] | None = None, max_resumes: int = 2,
                 first_read: int | None = None) -> None:
        self.transport = transport
        self.extended = extended
        self.memory = memory if memory is not None else DEFAULT_READ_SIZE_MEMORY
        self.chip_key = chip_key
        remembered = self.memory.get(chip_key) if chip_key else None
        limit = 65536 if extended else 256
        self.size = min(remembered or initial_size, limit)
        self.reopen = reopen
        self.max_resumes = max_resumes
        # Decision: by default the first READ BINARY asks for the full read size (one APDU for a small
        # file); `first_read=4` reads the TLV header first, as ICAO 9303-11 Appendix D.4 does.
        self.first_read = first_read
        self.stats = ReadStats()
        self.in_application = True

    # -- one READ BINARY -------------------------------------------------------------------------
    @staticmethod
    def _le(ne: int, extended: bool) -> bytes:
        if extended:
            return (ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        return bytes([ne & 0xFF])  # 256 -> 00

    def _read_command(self, offset: int, size: int) -> bytes:
        """READ BINARY: even INS B0 with the offset in P1-P2 up to 32767, odd INS B1 beyond."""
        if offset <= 0x7FFF:
            ext = size > 256
            head = bytes([0x00, 0xB0, offset >> 8, offset & 0xFF])
            return head + (b"\x00" if ext else b"") + self._le(size, ext)
        # odd INS B1: offset in DO 54 (ISO/IEC 7816-4 §11.2.3), response data in DO 53.
        # Decision: Le covers the wanted data plus 4 bytes of DO 53 header.
        data = b"\x54\x03" + offset.to_bytes(3, "big")
        ne = min(size + 4, 65536)
        ext = ne > 256
        if ext:
            return bytes([0x00, 0xB1, 0x00, 0x00, 0x00, 0x00, len(data)]) + data + self._le(ne, True)
        return bytes([0x00, 0xB1, 0x00, 0x00, len(data)]) + data + self._le(ne, False)

    @staticmethod
    def _unwrap_do53(data: bytes) -> bytes:
        if not data:
            return data
        if data[0] != 0x53:
            raise MalformedFileError("odd INS READ BINARY response without DO 53", step="READ BINARY B1")
        total = _tlv_total_length(data)
        if total is None or total > len(data):
            raise MalformedFileError("DO 53 truncated", step="READ BINARY B1")
        n = 0 if data[1] < 0x80 else data[1] & 0x7F
        return data[2 + n:total]

    def _select_for(self, f: DGFile) -> None:
        """SELECT the file, moving between the MF and the application only when needed."""
        if f.in_mf and self.in_application:
            select_mf(self.transport)
            self.in_application = False
        elif not f.in_mf and not self.in_application:
            select_application(self.transport)
            self.in_application = True
        select_ef(self.transport, f.fid, f.name)

    def _reselect(self, f: DGFile) -> None:
        # after reopen the session has selected the application
        self.in_application = True
        self._select_for(f)

    def _recover(self, f: DGFile, exc: BaseException, resumes: int) -> int:
        """Reopen the session and re-select `f` after `exc`; re-raise `exc` when that is not possible.

        Decision: a card that left the field (CardRemovedError) and is back when we reconnect — a
        re-tap — is resumed like a transient error; one still away ends the read with CARD_REMOVED."""
        if self.reopen is None or resumes >= self.max_resumes:
            raise exc
        try:
            self.transport = self.reopen()
        except (CardRemovedError, NoCardError):
            raise exc from None
        self.stats.resumes += 1
        self._reselect(f)
        return resumes + 1

    # -- whole file ---------------------------------------------------------------------------
    def read(self, f: DGFile, *, select: bool = True, expect_tlv: bool = True) -> bytes:
        """Select and read all of `f`; returns the bytes exactly as read (hashes are taken over these)."""
        resumes = 0
        if select:
            while True:
                try:
                    self._select_for(f)
                    break
                except (TransientTransportError, CardRemovedError) as exc:
                    resumes = self._recover(f, exc, resumes)
                    break
                except Exception as exc:
                    is_sm, sw = _sm_error_of(exc)
                    if not is_sm:
                        raise
                    raise SecureMessagingError(f"secure messaging failed selecting {f.name}", step="SELECT",
                                               sw=sw) from exc
        data = bytearray()
        total: int | None = None
        commands = 0
        while total is None or len(data) < total:
            commands += 1
            if commands > MAX_COMMANDS_PER_FILE:
                raise MalformedFileError(f"{f.name}: more than {MAX_COMMANDS_PER_FILE} READ BINARY commands",
                                         step="READ BINARY")
            want = self.size
            if total is not None:
                want = min(want, total - len(data))
            elif expect_tlv and not data and self.first_read:
                want = min(want, self.first_read)
            offset = len(data)
            if offset > 0x7FFF:
                want = min(want, 65536 - 4)
            try:
                response = self.transport.transmit(self._read_command(offset, want))
            except (TransientTransportError, CardRemovedError) as exc:
                resumes = self._recover(f, exc, resumes)
                continue
            except Exception as exc:
                is_sm, sw = _sm_error_of(exc)
                if not is_sm:
                    raise
                if _is_length_refusal(sw) and self.reopen is not None:
                    # the chip refused the size with an UNPROTECTED 6700/6Cxx and aborted SM
                    # (9303-11 §9.8.5): neither side counted it; reopen, step down, resume.
                    smaller = _next_smaller(min(want, self.size), (sw & 0xFF) or 256
                                            if sw is not None and sw >> 8 == 0x6C else None)
                    if smaller <= 0:
                        raise SecureMessagingError(f"chip refused every read size of {f.name}",
                                                   step="READ BINARY", sw=sw) from exc
                    self.size = smaller
                    self.stats.step_downs += 1
                    self.transport = self.reopen()
                    self.stats.resumes += 1
                    self._reselect(f)
                    continue
                raise SecureMessagingError(f"secure messaging failed reading {f.name}", step="READ BINARY",
                                           sw=sw) from exc
            self.stats.read_commands += 1
            if offset > 0x7FFF:
                self.stats.odd_ins_reads += 1
            sw = _sw(response)
            chunk = response[:-2]
            if sw in (0x6700,) or (sw >> 8) == 0x6C:
                hint = (sw & 0xFF) or 256 if (sw >> 8) == 0x6C else None
                smaller = _next_smaller(want if want < self.size else self.size, hint)
                if smaller <= 0:
                    raise _status_error(sw, "READ BINARY", f.name)
                self.size = smaller
                self.stats.step_downs += 1
                continue
            if sw in _SM_ABORT and self.reopen is not None and resumes < self.max_resumes:
                resumes = self._recover(f, _status_error(sw, "READ BINARY", f.name), resumes)
                continue
            if sw == 0x6B00 and data:
                if total is None:
                    break  # offset beyond the end: a non-TLV file ended exactly on a chunk boundary
                raise MalformedFileError(f"{f.name} shorter than its TLV length", step="READ BINARY")
            if sw not in (0x9000, 0x6282):
                raise _status_error(sw, "READ BINARY", f.name)
            if offset > 0x7FFF:
                chunk = self._unwrap_do53(chunk)
            if len(chunk) > want:
                # wrong length: the chip (or a broken SM layer) returned more than asked
                smaller = _next_smaller(want)
                if smaller <= 0:
                    raise MalformedFileError(f"{f.name}: chip returned more than asked", step="READ BINARY")
                self.size = smaller
                self.stats.step_downs += 1
                continue
            data += chunk
            if total is None and expect_tlv:
                total = _tlv_total_length(bytes(data))
                if total is not None and total > MAX_FILE_SIZE:
                    raise MalformedFileError(f"{f.name} announces {total} bytes", step="READ BINARY")
            if not chunk or sw == 0x6282 or (not expect_tlv and len(chunk) < want):
                if total is not None and len(data) < total:
                    raise MalformedFileError(f"{f.name} shorter than its TLV length", step="READ BINARY")
                break
            if len(data) > MAX_FILE_SIZE:
                raise MalformedFileError(f"{f.name} larger than {MAX_FILE_SIZE} bytes", step="READ BINARY")
        if self.chip_key:
            self.memory.remember(self.chip_key, self.size)
        if total is not None:
            return bytes(data[:total])
        return bytes(data)
