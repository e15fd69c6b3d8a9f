"""Command/response APDUs (ISO/IEC 7816-4 §5.1) and the status-word table."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.apdu import SW_TABLE, CommandAPDU, ResponseAPDU, raise_for_sw, sw_info, sw_meaning
from icao9303.errors import (
    APDUError,
    CardError,
    CardFileNotFoundError,
    SecurityStatusNotSatisfiedError,
    VerificationFailedError,
    WrongLengthError,
)
from tests.test_icao_hypothesis_settings import FUZZ


@pytest.mark.parametrize(
    ("apdu", "hexstr", "case"),
    [
        (CommandAPDU(0x00, 0x84, 0, 0, ne=8), "0084000008", 2),  # GET CHALLENGE (9303-11 §D.3)
        (CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E")), "00A4020C02011E", 3),  # SELECT EF.COM
        (CommandAPDU(0x00, 0xB0, 0, 0, ne=256), "00B0000000", 2),
        (CommandAPDU(0x00, 0x44, 0, 0), "00440000", 1),
        (CommandAPDU(0x0C, 0xB0, 0, 0, b"\x01\x02", ne=256), "0CB0000002010200", 4),
        (CommandAPDU(0x00, 0xB0, 0, 0, ne=65536), "00B0000000000", 2),
        (CommandAPDU(0x00, 0xB0, 0, 0, ne=1000), "00B00000" + "0003E8", 2),
        (CommandAPDU(0x00, 0xD6, 0, 0, b"\xAA" * 300), "00D60000" + "00012C" + "AA" * 300, 3),
        (CommandAPDU(0x00, 0x88, 0, 0, b"\x01" * 8, ne=65536), "008800000000080101010101010101" + "0000", 4),
        (CommandAPDU(0x00, 0x88, 0, 0, b"\x01" * 8, ne=256, extended=True),
         "008800000000080101010101010101" + "0100", 4),
    ],
)
def test_cases_round_trip(apdu, hexstr, case):
    hexstr = hexstr if len(hexstr) % 2 == 0 else hexstr + "0"
    assert apdu.case == case
    assert apdu.to_bytes().hex().upper() == hexstr.upper()
    back = CommandAPDU.from_bytes(bytes.fromhex(hexstr))
    assert back.to_bytes() == apdu.to_bytes()
    assert (back.data, back.ne, back.case) == (apdu.data, apdu.ne, apdu.case)


@pytest.mark.parametrize("hexstr", ["", "00", "00A404", "00A4040005AA", "00A40400000002AA", "00A4040000"])
def test_malformed_commands(hexstr):
    if hexstr == "00A4040000":  # 5 bytes: case 2S with Le=00, valid
        assert CommandAPDU.from_bytes(bytes.fromhex(hexstr)).ne == 256
        return
    with pytest.raises(APDUError):
        CommandAPDU.from_bytes(bytes.fromhex(hexstr))


def test_construction_limits():
    with pytest.raises(APDUError):
        CommandAPDU(0x100, 0, 0, 0)
    with pytest.raises(APDUError):
        CommandAPDU(0, 0, 0, 0, ne=0)
    with pytest.raises(APDUError):
        CommandAPDU(0, 0, 0, 0, b"\x00" * 256, extended=False)


def test_repr_hides_data():
    assert "secret" not in repr(CommandAPDU(0, 0x20, 0, 0, b"secret"))


def test_response():
    r = ResponseAPDU.from_bytes(bytes.fromhex("01029000"))
    assert r.data == b"\x01\x02" and r.sw == 0x9000 and r.ok and r.check() is r
    assert r.to_bytes().hex() == "01029000"
    with pytest.raises(APDUError):
        ResponseAPDU.from_bytes(b"\x90")


@pytest.mark.parametrize(
    ("sw", "error"),
    [
        (0x6982, SecurityStatusNotSatisfiedError),
        (0x6A82, CardFileNotFoundError),
        (0x6700, WrongLengthError),
        (0x6C10, WrongLengthError),
        (0x63C2, VerificationFailedError),
        (0x6F00, CardError),
        (0x1234, CardError),
    ],
)
def test_sw_table_raises(sw, error):
    with pytest.raises(error) as info:
        ResponseAPDU(b"", sw).check("READ BINARY DG3")
    assert info.value.sw == sw and info.value.step == "READ BINARY DG3"
    assert info.value.reason.startswith("card.")


def test_sw_success_family():
    for sw in (0x9000, 0x6110, 0x6282):
        raise_for_sw(sw)
    assert sw_meaning(0x6982) == "6982 security status not satisfied"
    assert "2 tries" in sw_info(0x63C2).meaning
    assert all(v.reason.startswith("card.") for v in SW_TABLE.values())


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=300))
def test_random_commands(data):
    try:
        apdu = CommandAPDU.from_bytes(data)
    except APDUError:
        return
    assert apdu.to_bytes() == data or CommandAPDU.from_bytes(apdu.to_bytes()) == apdu
