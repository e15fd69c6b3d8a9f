"""BER-TLV (ISO/IEC 7816-4 §5.2): encodings, limits, and hostile input giving TLVError only."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.errors import ICAOError, TLVError
from icao9303.tlv import (
    TLVNode,
    decode_length,
    decode_tag,
    decode_tlv,
    encode_length,
    encode_tag,
    encode_tlv,
    is_constructed,
    iter_tlv,
    parse_tlv,
    parse_tlv_one,
    tlv_header,
    unwrap_tlv,
)
from tests.test_icao_hypothesis_settings import FUZZ


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, "00"),
        (0x7F, "7F"),
        (0x80, "8180"),
        (0xFF, "81FF"),
        (0x100, "820100"),
        (0xFFFF, "82FFFF"),
        (0x10000, "83010000"),
        (0x1000000, "8401000000"),
    ],
)
def test_length_encoding(length, encoded):
    assert encode_length(length).hex().upper() == encoded
    assert decode_length(bytes.fromhex(encoded)) == (length, len(encoded) // 2)


@pytest.mark.parametrize(("tag", "encoded"), [(0x61, "61"), (0x5F1F, "5F1F"), (0x7F61, "7F61"),
                                              (0x5F2E, "5F2E"), (0x1F8101, "1F8101"), (0xBF8101, "BF8101")])
def test_tag_encoding(tag, encoded):
    assert encode_tag(tag).hex().upper() == encoded
    assert decode_tag(bytes.fromhex(encoded)) == (tag, len(encoded) // 2)


@pytest.mark.parametrize("bad", [0, -1, 0x5F, 0x1F, 0x5F81, 0x615F, 2**40])
def test_bad_tags_rejected_on_encode(bad):
    with pytest.raises(TLVError):
        encode_tag(bad)


def test_constructed_bit():
    assert is_constructed(0x61) and is_constructed(0x7F61) and is_constructed(0x77)
    assert not is_constructed(0x5F1F) and not is_constructed(0x02)


def test_dg1_shape_round_trip():
    mrz = b"I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
    dg1 = encode_tlv(0x61, encode_tlv(0x5F1F, mrz))
    assert dg1[:4].hex() == "615d5f1f"
    (node,) = parse_tlv(dg1)
    assert node.tag == 0x61 and node.constructed
    assert node.require(0x5F1F).value == mrz
    assert node.to_bytes() == dg1
    assert unwrap_tlv(dg1, 0x61) == encode_tlv(0x5F1F, mrz)
    assert tlv_header(dg1[:4]) == (0x61, 2, 0x5D)
    tag, value, rest = decode_tlv(dg1 + b"\x01\x00")
    assert tag == 0x61 and rest == b"\x01\x00"
    assert list(iter_tlv(value)) == [(0x5F1F, mrz)]


def test_non_minimal_length_accepted_on_decode():
    assert decode_tlv(bytes.fromhex("0281030102 03"))[:2] == (0x02, b"\x01\x02\x03")


def test_build_tree():
    node = TLVNode.build(0x7F61, [TLVNode.primitive(0x02, b"\x01")])
    assert node.to_bytes().hex() == "7f6103020101"
    assert parse_tlv_one(node.to_bytes(), 0x7F61) == node


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "tlv.truncated"),
        ("61", "tlv.truncated"),
        ("6105", "tlv.length_overflow"),
        ("6180", "tlv.bad_length"),
        ("6185FFFFFFFFFF", "tlv.bad_length"),
        ("6184FFFFFFFF00", "tlv.length_overflow"),
        ("5F", "tlv.truncated"),
        ("5F81818101", "tlv.bad_tag"),
        ("00", "tlv.bad_tag"),
        ("6103020501", "tlv.length_overflow"),  # child longer than its parent
    ],
)
def test_malformed(data, reason):
    with pytest.raises(TLVError) as info:
        parse_tlv_one(bytes.fromhex(data))
    assert info.value.reason == reason


def test_depth_bomb():
    data = b""
    for _ in range(200):
        data = encode_tlv(0x61, data)
    with pytest.raises(TLVError) as info:
        parse_tlv(data)
    assert info.value.reason == "tlv.depth"
    assert parse_tlv(data, max_depth=300)  # recursion itself is fine when allowed


def test_length_bomb_claims_4_gib():
    with pytest.raises(TLVError) as info:
        parse_tlv(b"\x04\x84\xff\xff\xff\xff" + b"\x00" * 10)
    assert info.value.reason == "tlv.length_overflow"


def test_node_bomb():
    with pytest.raises(TLVError) as info:
        parse_tlv(b"\x01\x00" * 5000)
    assert info.value.reason == "tlv.too_many_nodes"
    assert len(parse_tlv(b"\x01\x00" * 5000, max_nodes=5000)) == 5000


def test_unexpected_tag_and_trailing():
    with pytest.raises(TLVError, match="expected"):
        unwrap_tlv(b"\x62\x00", 0x61)
    with pytest.raises(TLVError):
        unwrap_tlv(b"\x61\x00\x00", 0x61)


_tags = st.sampled_from([0x02, 0x04, 0x06, 0x30, 0x5F1F, 0x5F2E, 0x7F61, 0x61, 0xA1, 0x80])


@st.composite
def _trees(draw, depth=0):
    tag = draw(_tags if depth < 4 else st.sampled_from([0x02, 0x5F1F, 0x80]))
    if is_constructed(tag):
        kids = draw(st.lists(_trees(depth=depth + 1), max_size=3))
        return TLVNode.build(tag, kids)
    return TLVNode.primitive(tag, draw(st.binary(max_size=300)))


@settings(FUZZ, max_examples=150)
@given(_trees())
def test_tree_round_trip(node):
    assert parse_tlv_one(node.to_bytes()) == node


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_give_tlv_error_only(data):
    try:
        parse_tlv(data)
    except TLVError:
        pass


@settings(FUZZ, max_examples=200)
@given(_trees(), st.data())
def test_mutated_bytes_give_tlv_error_only(node, data):
    raw = bytearray(node.to_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        parse_tlv(bytes(raw[:cut]))
    except ICAOError as exc:
        assert isinstance(exc, TLVError)
