"""LDS files (ICAO 9303-10): EF.COM, DG1, DG2, DG11, DG12, DG13 (VN), DG15, the file table, hostile input."""

import dataclasses
import datetime as dt
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from icao9303.errors import ICAOError, LDSError
from icao9303.lds import (
    DG1,
    DG2,
    DG11,
    DG12,
    DG13,
    DG14,
    DG15,
    EFCOM,
    SOD,
    CardAccess,
    FaceRecord,
    detect_file,
    file_info,
    parse_lds_file,
)
from icao9303.lds.dg2 import (
    BDB_39794_TAG,
    BiometricInformationTemplate,
    Face39794Record,
    FaceImageInfo,
    FeaturePoint,
)
from icao9303.lds.dg13 import RawValue
from icao9303.mrz import MRZ
from icao9303.tlv import encode_tlv
from tests.test_icao_hypothesis_settings import FUZZ

TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"


def assert_round_trip(cls, obj):
    """Encode, decode, equal; parsing keeps the bytes; re-encoding the parsed fields gives them again."""
    raw = obj.to_bytes()
    back = cls.from_bytes(raw)
    assert back == obj
    assert back.to_bytes() == raw
    assert dataclasses.replace(back, raw=None).to_bytes() == raw
    return back


def jpeg(width=60, height=80) -> bytes:
    img = Image.new("RGB", (width, height), (200, 150, 120))
    for x in range(width // 4, width // 2):
        img.putpixel((x, height // 3), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def jpeg2000(width=32, height=40) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, "JPEG2000")
    return buf.getvalue()


# --- file table ----------------------------------------------------------------------------------


def test_file_table():
    assert (file_info(1).tag, file_info(1).fid, file_info(1).sfi) == (0x61, 0x0101, 0x01)
    assert file_info("DG2").tag == 0x75 and file_info(0x75).name == "DG2"
    assert file_info(0x010D).name == "DG13" and file_info("ef.dg13").dg == 13
    assert file_info("EF.COM").fid == 0x011E and file_info(0x77).name == "EF.SOD"
    assert file_info(0x011D).name == "EF.SOD" and file_info("EF.CardAccess").fid == 0x011C
    for n in range(1, 17):
        info = file_info(n)
        assert info.fid == 0x0100 + n and info.sfi == n
    with pytest.raises(LDSError):
        file_info("DG17")


# --- EF.COM --------------------------------------------------------------------------------------


def test_ef_com_vn():
    com = EFCOM.for_data_groups([1, 2, 3, 13, 14, 15])
    raw = com.to_bytes()
    assert raw.hex() == "60185f0104303130385f36063034303030305c06617563" + "6d6e6f"
    back = assert_round_trip(EFCOM, com)
    assert back.data_groups == (1, 2, 3, 13, 14, 15)
    assert parse_lds_file(0x011E, raw) == com


def test_ef_com_9303_example():
    # ICAO 9303-10 §4.6.1 example shape: LDS 1.7, Unicode 4.0.0, DG1 DG2 DG4(?) -> tags 61 75 76
    raw = bytes.fromhex("60 16 5F01 04 30313037 5F36 06 303430303030 5C 03 617576".replace(" ", ""))
    raw = raw[:1] + bytes([len(raw) - 2]) + raw[2:]
    com = EFCOM.from_bytes(raw)
    assert com.lds_version == "0107" and com.tag_list == (0x61, 0x75, 0x76) and com.data_groups == (1, 2, 4)
    assert com.to_bytes() == raw


# --- DG1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [TD1, TD3])
def test_dg1(text):
    from icao9303.mrz import parse_mrz

    dg1 = DG1(parse_mrz(text))
    raw = dg1.to_bytes()
    assert raw[:4] == bytes([0x61, len(text) + 3, 0x5F, 0x1F])
    back = assert_round_trip(DG1, dg1)
    assert "".join(back.mrz.lines) == text
    assert "ERIKSSON" not in repr(back)


def test_dg1_vn_and_bad_check_digit():
    mrz = MRZ.for_vn_card("079090012345", "Nguyễn Văn An", dt.date(1990, 3, 15), "M", dt.date(2030, 3, 15))
    assert_round_trip(DG1, DG1(mrz))
    bad = encode_tlv(0x61, encode_tlv(0x5F1F, TD1[:14].encode() + b"8" + TD1[15:].encode()))
    with pytest.raises(LDSError) as info:
        DG1.from_bytes(bad)
    assert info.value.reason == "lds.mrz" and info.value.details["field"] == "document_number"
    assert DG1.from_bytes(bad, verify=False).mrz.document_number == "D23145890"


# --- DG2 -----------------------------------------------------------------------------------------


def test_dg2_with_real_jpeg():
    image = jpeg()
    dg2 = DG2.from_image(image, 60, 80)
    raw = dg2.to_bytes()
    assert raw[0] == 0x75
    back = assert_round_trip(DG2, dg2)
    assert back.face_image == image
    assert back.face_images == [("image/jpeg", image)]
    bit = back.templates[0]
    assert bit.format_owner == b"\x01\x01" and bit.format_type == b"\x00\x08"
    record = bit.face.to_bytes()
    assert record[:8] == b"FAC\x00010\x00" and int.from_bytes(record[8:12], "big") == len(record)
    with Image.open(io.BytesIO(back.face_image)) as decoded:
        assert decoded.size == (60, 80)


def test_dg2_jpeg2000_several_images_and_feature_points():
    j2k = jpeg2000()
    images = (
        FaceImageInfo(
            j2k,
            32,
            40,
            image_data_type=1,
            gender=2,
            eye_colour=3,
            feature_mask=0x000001,
            pose_angle=(1, 2, 3),
            feature_points=(FeaturePoint(1, 0x31, 10, 20),),
        ),
        FaceImageInfo(jpeg(), 60, 80, quality=50),
    )
    dg2 = DG2(
        (
            BiometricInformationTemplate.for_face(FaceRecord(images), creation_date=bytes(7)),
            BiometricInformationTemplate.for_face(FaceRecord(images[1:])),
        )
    )
    back = assert_round_trip(DG2, dg2)
    assert [m for m, _ in back.face_images] == ["image/jp2", "image/jpeg", "image/jpeg"]
    assert back.templates[0].face.images[0].feature_points[0].x == 10
    assert back.describe()["templates"][0]["images"][0]["feature_points"] == 1


def test_dg2_39794_block_kept_raw():
    image = jpeg()
    # A 39794-5-shaped block: context-tagged BER with the image data nested inside.
    block = encode_tlv(0xA1, [encode_tlv(0x80, b"\x03"), encode_tlv(0xA2, encode_tlv(0x80, image))])
    bit = BiometricInformationTemplate(
        ((0x87, b"\x01\x01"), (0x88, b"\x00\x08")), Face39794Record.from_bytes(block), BDB_39794_TAG
    )
    back = assert_round_trip(DG2, DG2((bit,)))
    assert back.face_image == image
    assert back.templates[0].face.raw == block


@pytest.mark.parametrize("mutate", ["fac", "length", "count", "tag", "bitcount"])
def test_dg2_malformed(mutate):
    raw = bytearray(DG2.from_image(jpeg(), 60, 80).to_bytes())
    if mutate == "fac":
        raw[raw.index(b"FAC")] = ord("X")
    elif mutate == "length":
        i = raw.index(b"FAC") + 11
        raw[i] ^= 1
    elif mutate == "count":
        i = raw.index(b"FAC") + 13
        raw[i] = 2
    elif mutate == "tag":
        raw[raw.index(b"\x5f\x2e") + 1] = 0x2F
    else:
        raw[raw.index(b"\x02\x01\x01") + 2] = 2
    with pytest.raises(LDSError):
        DG2.from_bytes(bytes(raw))


# --- DG11 / DG12 ---------------------------------------------------------------------------------


def test_dg11():
    dg11 = DG11(
        full_name="NGUYEN<<VAN AN",
        other_names=("NGUYEN<<AN",),
        personal_number="079090012345",
        full_date_of_birth="19900315",
        place_of_birth="Hồ Chí Minh",
        permanent_address="1 Lê Lợi",
        other=((0x5F50, b"\x01"),),
    )
    back = assert_round_trip(DG11, dg11)
    assert back.place_of_birth == "Hồ Chí Minh" and back.other_names == ("NGUYEN<<AN",)
    assert back.tag_list == bytes.fromhex("5F0EA05F105F2B5F115F425F50")


def test_dg11_bcd_date_accepted():
    raw = encode_tlv(0x6B, [encode_tlv(0x5C, bytes.fromhex("5F2B")), encode_tlv(0x5F2B, bytes.fromhex("19900315"))])
    dg11 = DG11.from_bytes(raw)
    assert dg11.full_date_of_birth == "19900315" and dict(dg11.date_forms) == {"full_date_of_birth": "bcd"}
    assert dataclasses.replace(dg11, raw=None).to_bytes() == raw


def test_dg12():
    dg12 = DG12(
        issuing_authority="Cục Cảnh sát QLHC về TTXH",
        date_of_issue="20240701",
        date_and_time_of_personalization="20240701093000",
        other_persons=("A", "B"),
        image_of_front=b"\xff\xd8front",
    )
    back = assert_round_trip(DG12, dg12)
    assert back.date_of_issue == "20240701" and back.other_persons == ("A", "B")
    bcd = DG12.from_bytes(encode_tlv(0x6C, [encode_tlv(0x5C, b"\x5f\x26"), encode_tlv(0x5F26, b"\x20\x24\x07\x01")]))
    assert bcd.date_of_issue == "20240701"


@pytest.mark.parametrize(
    "body", ["", "5F0E00", "5C00 5F2B03 313233", "5C00 A003 020102", "5C00 5F0E00 5F0E00", "5C01 5F 5F0E00",
             "5C02 5F0F 5F0F01 41 A005 020101 5F0F00", "5C02 5F0F A005 020101 5F0F00 5F0F01 41"]
)
def test_dg11_malformed(body):
    with pytest.raises(LDSError):
        DG11.from_bytes(encode_tlv(0x6B, bytes.fromhex(body.replace(" ", ""))))


def _dg11_raw(tag_list: str, *objects: tuple[int, bytes]) -> bytes:
    return encode_tlv(0x6B, [encode_tlv(0x5C, bytes.fromhex(tag_list)), *(encode_tlv(t, v) for t, v in objects)])


def test_dg11_every_field_of_9303_10():
    """Every data element of 9303-10 §4.7.11 DG11 written by hand, in the table's order."""
    raw = _dg11_raw(
        "5F0E A0 5F10 5F2B 5F11 5F42 5F12 5F13 5F14 5F15 5F16 5F17 5F18".replace(" ", ""),
        (0x5F0E, b"NGUYEN<<VAN<AN"),
        (0xA0, encode_tlv(0x02, b"\x02") + encode_tlv(0x5F0F, b"NGUYEN<<AN") + encode_tlv(0x5F0F, b"AN<<NGUYEN")),
        (0x5F10, b"079090012345"),
        (0x5F2B, b"19900315"),
        (0x5F11, "Hồ Chí Minh<Việt Nam".encode()),
        (0x5F42, b"1 LE LOI<QUAN 1<HO CHI MINH"),
        (0x5F12, b"+84 28 0000 0000"),
        (0x5F13, b"ENGINEER"),
        (0x5F14, b"DR"),
        (0x5F15, b"SUMMARY"),
        (0x5F16, b"\xff\xd8\xff\xe0proof"),
        (0x5F17, b"B1234567<C7654321"),
        (0x5F18, b"NONE"),
    )
    dg11 = DG11.from_bytes(raw)
    assert dg11.issues == () and dg11.to_bytes() == raw
    assert dataclasses.replace(dg11, raw=None).to_bytes() == raw
    assert dg11.other_names == ("NGUYEN<<AN", "AN<<NGUYEN") and dg11.custody_information == "NONE"
    assert dg11.parts("place_of_birth") == ("Hồ Chí Minh", "Việt Nam")
    assert dg11.parts("other_valid_td_numbers") == ("B1234567", "C7654321")
    assert dg11.parts("permanent_address") == ("1 LE LOI", "QUAN 1", "HO CHI MINH")
    d = dg11.describe()
    assert d["full_name"] == {"primary_identifier": "NGUYEN", "secondary_identifier": "VAN AN"}
    assert d["full_date_of_birth"] == "1990-03-15" and d["proof_of_citizenship"] == "JPEG image, 9 bytes"
    assert d["place_of_birth"] == ["Hồ Chí Minh", "Việt Nam"] and d["tag_list"][1] == "A0"


def test_dg11_names_outside_the_group_and_5f0f_in_tag_list():
    """Early documents: other names as top-level 5F0F objects (JMRTD reads them); kept, reported."""
    raw = _dg11_raw("5F0E5F0F5F0F", (0x5F0E, b"A<<B"), (0x5F0F, b"C<<D"), (0x5F0F, b"E<<F"))
    dg11 = DG11.from_bytes(raw)
    assert dg11.other_names == ("C<<D", "E<<F")
    assert any("top-level 5F0F" in i for i in dg11.issues)
    assert dataclasses.replace(dg11, raw=None).to_bytes() == raw
    # the tag list naming the A0 group by its element tag 5F0F (as JMRTD writes it) is not a deviation
    grouped = _dg11_raw("5F0E5F0F", (0x5F0E, b"A<<B"),
                        (0xA0, encode_tlv(0x02, b"\x01") + encode_tlv(0x5F0F, b"C<<D")))
    g = DG11.from_bytes(grouped)
    assert g.issues == () and g.other_names == ("C<<D",)
    assert dataclasses.replace(g, raw=None).to_bytes() == grouped


def test_dg11_tag_list_mismatch_and_latin1_reported():
    raw = _dg11_raw("5F0E5F11", (0x5F0E, "MÜLLER<<JÖRG".encode("latin-1")))
    dg11 = DG11.from_bytes(raw)
    assert dg11.full_name == "MÜLLER<<JÖRG"
    assert len(dg11.issues) == 2 and "ISO/IEC 8859-1" in dg11.issues[0] and "tag list" in dg11.issues[1]
    assert dataclasses.replace(dg11, raw=None).to_bytes() == raw
    assert dg11.describe()["issues"] == list(dg11.issues)


def test_dg12_every_field_of_9303_10():
    """Every data element of 9303-10 §4.7.12 DG12, personalization time as BCD (LESSONS)."""
    raw = encode_tlv(0x6C, [
        encode_tlv(0x5C, bytes.fromhex("5F19 5F26 A0 5F1B 5F1C 5F1D 5F1E 5F55 5F56".replace(" ", ""))),
        encode_tlv(0x5F19, "Cục Cảnh sát QLHC về TTXH".encode()),
        encode_tlv(0x5F26, b"20240701"),
        encode_tlv(0xA0, encode_tlv(0x02, b"\x01") + encode_tlv(0x5F1A, b"TRAN<<THI<BINH")),
        encode_tlv(0x5F1B, b"NONE"),
        encode_tlv(0x5F1C, b"NONE"),
        encode_tlv(0x5F1D, b"\xff\xd8front"),
        encode_tlv(0x5F1E, jpeg2000(8, 8)),
        encode_tlv(0x5F55, bytes.fromhex("20240701093000")),
        encode_tlv(0x5F56, b"PERSO-0001"),
    ])
    dg12 = DG12.from_bytes(raw)
    assert dg12.issues == () and dataclasses.replace(dg12, raw=None).to_bytes() == raw
    assert dg12.other_persons == ("TRAN<<THI<BINH",)
    assert dict(dg12.date_forms) == {"date_and_time_of_personalization": "bcd", "date_of_issue": "ascii"}
    d = dg12.describe()
    assert d["date_and_time_of_personalization"] == "2024-07-01T09:30:00" and d["date_of_issue"] == "2024-07-01"
    assert d["image_of_front"].startswith("JPEG image") and d["image_of_rear"].startswith("JPEG 2000 image")


# --- DG13 ----------------------------------------------------------------------------------------


def vn_dg13(**overrides):
    fields = dict(
        personal_id="079090012345",
        full_name="Nguyễn Văn An",
        date_of_birth="15/03/1990",
        sex="Nam",
        nationality="Việt Nam",
        ethnicity="Kinh",
        religion="Không",
        place_of_origin="Quảng Nam",
        place_of_residence="1 Lê Lợi, Bến Nghé, Quận 1, TP Hồ Chí Minh",
        identifying_features="Nốt ruồi",
        date_of_issue="01/07/2024",
        date_of_expiry="15/03/2030",
        spouse_name="",
        old_id_number="025123456",
        card_serial="0123456789ABCDEF",
        father_name="Nguyễn Văn Bình",
        mother_name="Trần Thị Cúc",
    )
    fields.update(overrides)
    return DG13.build(**fields)


def test_dg13_round_trip_and_fields():
    dg13 = vn_dg13(extra={17: ("Nguyễn An",), 20: (RawValue(b"\x02\x01\x05"),)})
    raw = dg13.to_bytes()
    assert raw[0] == 0x6D and bytes.fromhex("06062ad316010008") not in raw
    assert bytes.fromhex("060628d316010008") in raw  # OID 1.0.10646.1.0.8
    back = DG13.from_bytes(raw)
    assert back.to_bytes() == raw and dataclasses.replace(back, raw=None).to_bytes() == raw
    assert back.personal_id == "079090012345" and back.full_name == "Nguyễn Văn An"
    assert back.sex == "Nam" and back.religion == "Không" and back.spouse_name == ""
    assert back.father_name == "Nguyễn Văn Bình" and back.mother_name == "Trần Thị Cúc"
    assert sorted(f.number for f in back.unknown_fields) == [17, 20]
    assert back.get(20).values == (RawValue(b"\x02\x01\x05"),)
    assert "079090012345" not in repr(back)
    assert back.describe()["date_of_birth"] == "15/03/1990"


def test_dg13_unknown_field_order_kept_byte_exact():
    """A card writing fields in number order (not DER SET order) is kept byte for byte."""
    from icao9303.lds.dg13 import _Entry

    entries = [
        _Entry([__import__("asn1crypto").core.Integer(n), __import__("asn1crypto").core.UTF8String(v)]).dump()
        for n, v in ((1, "079090012345"), (2, "Nguyễn Văn An"), (30, "mới"))
    ]
    inner = encode_tlv(0x30, [bytes.fromhex("020101"), bytes.fromhex("060628d316010008"), encode_tlv(0x31, entries)])
    raw = encode_tlv(0x6D, inner)
    dg13 = DG13.from_bytes(raw)
    assert [f.number for f in dg13.fields] == [1, 2, 30] and dg13.to_bytes() == raw
    assert dg13.text(30) == "mới"


@pytest.mark.parametrize("raw", ["6D00", "6D023000", "6D0530030201016D", "6D03020101"])
def test_dg13_malformed(raw):
    with pytest.raises(LDSError):
        DG13.from_bytes(bytes.fromhex(raw))


# --- DG15 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_dg15(kind):
    key = rsa.generate_private_key(65537, 1024) if kind == "rsa" else ec.generate_private_key(ec.BrainpoolP256R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    dg15 = DG15.from_public_key_der(spki)
    assert dg15.spki_bytes == spki and dg15.algorithm == kind
    assert_round_trip(DG15, dataclasses.replace(dg15, raw=None))
    assert serialization.load_der_public_key(dg15.spki_bytes).public_numbers() == key.public_key().public_numbers()


# --- parse_lds_file and hostile input ------------------------------------------------------------


def sample_files():
    from tests.test_icao_security_infos import make_card_security, vn_infos
    from tests.test_icao_sod import make_sod

    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    from icao9303.mrz import parse_mrz

    return {
        "EF.COM": EFCOM.for_data_groups([1, 2, 13, 14, 15]).to_bytes(),
        "DG1": DG1(parse_mrz(TD1)).to_bytes(),
        "DG2": DG2.from_image(jpeg(16, 16), 16, 16).to_bytes(),
        "DG11": DG11(full_name="A<<B", full_date_of_birth="19900315").to_bytes(),
        "DG12": DG12(date_of_issue="20240701").to_bytes(),
        "DG13": vn_dg13().to_bytes(),
        "DG14": DG14(vn_infos()).to_bytes(),
        "DG15": DG15.from_public_key_der(spki).to_bytes(),
        "EF.SOD": make_sod(),
        "EF.CardAccess": CardAccess(vn_infos(with_unknown=False)).to_bytes(),
        "EF.CardSecurity": make_card_security(vn_infos(with_unknown=False)),
    }


SAMPLES = sample_files()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_parse_lds_file_by_name_and_detection(name):
    raw = SAMPLES[name]
    obj = parse_lds_file(name, raw)
    assert obj.to_bytes() == raw
    assert detect_file(raw).name == name
    assert parse_lds_file(None, raw).to_bytes() == raw
    assert isinstance(obj.describe(), dict | list) or hasattr(obj, "security_infos")


def test_parse_lds_file_errors():
    with pytest.raises(LDSError) as info:
        parse_lds_file(3, b"\x63\x00")
    assert info.value.reason == "lds.unsupported"
    with pytest.raises(LDSError):
        parse_lds_file(None, b"\x99\x00")
    with pytest.raises(LDSError):
        parse_lds_file(None, b"")
    assert isinstance(parse_lds_file(0x77, SAMPLES["EF.SOD"]), SOD)


@settings(FUZZ, max_examples=400)
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutated_files_give_lds_error_only(name, data):
    raw = bytearray(SAMPLES[name])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(raw)), st.integers(0, len(raw))))
    try:
        obj = parse_lds_file(name, bytes(raw[:cut]))
    except ICAOError as exc:
        assert isinstance(exc, LDSError), type(exc)
    else:  # whatever parses can be dumped (cancuoc lds)
        from icao9303.cli import render

        described = obj.describe()
        json.dumps(described, default=str)
        render(described)


@settings(FUZZ, max_examples=300)
@given(st.sampled_from(sorted(SAMPLES)), st.binary(max_size=200))
def test_random_bytes_give_lds_error_only(name, data):
    try:
        parse_lds_file(name, data)
    except LDSError:
        pass
    try:
        parse_lds_file(None, data)
    except LDSError:
        pass


@settings(FUZZ, max_examples=200)
@given(st.sampled_from([0x61, 0x75, 0x6B, 0x6C, 0x6D, 0x6F, 0x60, 0x77]), st.binary(max_size=150))
def test_random_bodies_under_the_right_tag(tag, body):
    try:
        parse_lds_file(tag, encode_tlv(tag, body))
    except LDSError:
        pass


def _deep(n: int, tag: int = 0x30) -> bytes:
    data = b""
    for _ in range(n):
        data = encode_tlv(tag, data)
    return data


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DG14", encode_tlv(0x6E, encode_tlv(0x31, encode_tlv(0x30, bytes.fromhex("0603520102") + _deep(3000))))),
        (
            "DG13",
            encode_tlv(
                0x6D,
                encode_tlv(
                    0x30,
                    bytes.fromhex("020101060628d316010008")
                    + encode_tlv(0x31, encode_tlv(0x30, b"\x02\x01\x01" + _deep(3000))),
                ),
            ),
        ),
        ("EF.SOD", encode_tlv(0x77, _deep(3000))),
        ("EF.CardSecurity", _deep(3000)),
        ("EF.CardAccess", encode_tlv(0x31, _deep(3000))),
        ("DG15", encode_tlv(0x6F, _deep(3000))),
        ("DG2", encode_tlv(0x75, _deep(3000, 0x7F61))),
        ("DG11", encode_tlv(0x6B, _deep(3000, 0xA0))),
        ("EF.COM", encode_tlv(0x60, _deep(3000, 0x7F01))),
        ("DG1", encode_tlv(0x61, b"\x5f\x1f\x84\xff\xff\xff\xff")),
    ],
)
def test_depth_and_length_bombs(name, raw):
    with pytest.raises(LDSError):
        parse_lds_file(name, raw)


def test_vn_regression_vectors():
    import json
    import pathlib

    vec = json.loads((pathlib.Path(__file__).parent / "vectors/icao9303/lds_vn_regression.json").read_text())
    com = EFCOM.from_bytes(bytes.fromhex(vec["EF.COM"]["hex"]))
    assert list(com.data_groups) == vec["EF.COM"]["data_groups"]
    assert EFCOM.for_data_groups(com.data_groups).to_bytes().hex() == vec["EF.COM"]["hex"]
    dg1 = DG1.from_bytes(bytes.fromhex(vec["DG1"]["hex"]))
    assert "".join(dg1.mrz.lines) == vec["DG1"]["mrz"]
    dg13 = DG13.from_bytes(bytes.fromhex(vec["DG13"]["hex"]))
    assert (dg13.personal_id, dg13.full_name, dg13.father_name, dg13.mother_name) == (
        vec["DG13"]["personal_id"],
        vec["DG13"]["full_name"],
        vec["DG13"]["father_name"],
        vec["DG13"]["mother_name"],
    )
    assert vn_dg13().to_bytes().hex() == vec["DG13"]["hex"]


_u8 = st.integers(0, 255)
_u16 = st.integers(0, 0xFFFF)


@settings(FUZZ, max_examples=60)
@given(
    st.lists(
        st.builds(
            FaceImageInfo,
            image_data=st.binary(max_size=64),
            width=_u16,
            height=_u16,
            image_data_type=st.sampled_from([0, 1]),
            face_image_type=_u8,
            quality=_u16,
            gender=_u8,
            feature_mask=st.integers(0, 0xFFFFFF),
            pose_angle=st.tuples(_u8, _u8, _u8),
            feature_points=st.lists(st.builds(FeaturePoint, _u8, _u8, _u16, _u16), max_size=3).map(tuple),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_dg2_property_round_trip(images):
    dg2 = DG2((BiometricInformationTemplate.for_face(FaceRecord(tuple(images))),))
    assert_round_trip(DG2, dg2)


_vn_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(FUZZ, max_examples=80)
@given(
    st.dictionaries(st.integers(1, 40).filter(lambda n: n != 13), _vn_text, max_size=8),
    st.one_of(st.none(), st.tuples(_vn_text, _vn_text)),
)
def test_dg13_property_round_trip(values, parents):
    dg13 = DG13.build(
        extra={n: (v,) for n, v in values.items()},
        father_name=parents[0] if parents else None,
        mother_name=parents[1] if parents else None,
    )
    back = assert_round_trip(DG13, dg13)
    for n, v in values.items():
        assert back.text(n) == v
    if parents:
        assert (back.father_name, back.mother_name) == parents


# --- DG2 in ISO/IEC 39794-5 ----------------------------------------------------------------------
from icao9303.lds.dg2 import (  # noqa: E402
    FORMAT_TYPE_FACE_39794_5,
    DateTimeBlock39794,
    FaceImageInformation2D,
    FaceRepresentation39794,
)


def _i(tag: int, n: int) -> bytes:
    return encode_tlv(tag, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def hand_39794_block(image: bytes, *, wrapper: str = "A1/65", extension_code: bool = False) -> bytes:
    """A face image data block written out by hand from the ASN.1 module's tags (see icao9303.lds.dg2),
    independently of the module's encoder: version 3/2019, one representation with a JPEG 640x480,
    a capture date, a quality block [3] and a landmark block [9] the module does not model."""
    fmt = encode_tlv(0xA0, encode_tlv(0xA1, _i(0x80, 2))) if extension_code else encode_tlv(0xA0, _i(0x80, 2))
    info = encode_tlv(0xA1, fmt + encode_tlv(0xA1, _i(0x80, 0))
                      + encode_tlv(0xA7, _i(0x80, 640) + _i(0x81, 480)) + encode_tlv(0xA9, _i(0x80, 2)))
    block_2d = encode_tlv(0xA0, encode_tlv(0x80, image) + info)
    rep = encode_tlv(0x30, _i(0x80, 0) + encode_tlv(0xA1, encode_tlv(0xA0, block_2d))
                     + encode_tlv(0xA2, _i(0x80, 2024) + _i(0x81, 7) + _i(0x82, 1))
                     + encode_tlv(0xA3, encode_tlv(0x30, _i(0x80, 55)))
                     + encode_tlv(0xA9, encode_tlv(0x30, b"\x80\x01\x01")))
    body = encode_tlv(0xA0, _i(0x80, 3) + _i(0x81, 2019)) + encode_tlv(0xA1, rep)
    if wrapper == "A1/65":
        return encode_tlv(0xA1, encode_tlv(0x65, body))
    if wrapper == "A1":
        return encode_tlv(0xA1, body)
    return encode_tlv(0x65, body)


@pytest.mark.parametrize("wrapper", ["A1/65", "A1", "65"])
def test_dg2_39794_structure_parsed(wrapper):
    image = jpeg()
    block = hand_39794_block(image, wrapper=wrapper)
    record = Face39794Record.from_bytes(block)
    assert record.conformant, record.issues
    assert record.wrapper == wrapper and record.version == (3, 2019)
    (rep,) = record.representations
    assert rep.representation_id == 0 and rep.image_data == image and rep.mime_type == "image/jpeg"
    info = rep.image_information
    assert (info.image_data_format, info.face_image_kind, info.width, info.height, info.image_colour_space) == (
        2, 0, 640, 480, 2)
    assert rep.capture_date_time == DateTimeBlock39794(2024, 7, 1)
    assert [n for n, _ in rep.other] == [3, 9]  # quality and landmark blocks kept as read
    described = rep.describe()
    assert described["other_blocks"] == ["qualityBlocks", "landmarkBlocks"]
    assert described["image_data_format"] == "jpeg" and described["capture_date_time"] == "2024-07-01"
    # inside a DG2: byte-exact, and the image is the portrait
    bit = BiometricInformationTemplate.for_face_39794(record)
    back = assert_round_trip(DG2, DG2((bit,)))
    assert back.face_images == [("image/jpeg", image)]
    assert back.templates[0].format_type == FORMAT_TYPE_FACE_39794_5
    if wrapper == "A1/65":  # the module writes this form: re-encoding the parsed fields gives the same bytes
        assert Face39794Record.build(record.representations, version=record.version).raw == block


def test_dg2_39794_code_extension_fallback():
    record = Face39794Record.from_bytes(hand_39794_block(b"\xff\xd8\xff", extension_code=True))
    assert record.conformant and record.representations[0].image_information.image_data_format == 2


def test_dg2_39794_build_round_trip_and_jpeg2000():
    j2k = jpeg2000()
    dg2 = DG2.from_image_39794(j2k, 32, 40, jpeg2000=True, capture_date_time=DateTimeBlock39794(2025, 1, 2, 3, 4, 5))
    back = assert_round_trip(DG2, dg2)
    face = back.templates[0].face
    assert isinstance(face, Face39794Record) and face.conformant
    assert back.face_images == [("image/jp2", j2k)]
    assert face.representations[0].capture_date_time.second == 5
    assert back.describe()["templates"][0]["representations"][0]["image_data_format"] == "jpeg2000Lossy"


@pytest.mark.parametrize("block", [
    encode_tlv(0xA1, encode_tlv(0x65, encode_tlv(0xA0, b""))),  # no representation blocks, no version
    encode_tlv(0xA1, encode_tlv(0x65, encode_tlv(0xA1, encode_tlv(0x30, _i(0x80, 0))))),  # no image
    encode_tlv(0x30, b""),  # not A1
    encode_tlv(0xA1, encode_tlv(0x65, b"\x04\x00")),  # universal tag inside
])
def test_dg2_39794_deviations_are_reported_not_fatal(block):
    record = Face39794Record.from_bytes(block)
    assert not record.conformant and record.issues
    back = assert_round_trip(DG2, DG2((BiometricInformationTemplate.for_face_39794(record),)))
    assert back.templates[0].face.issues == record.issues
    assert "issues" in back.describe()["templates"][0]


_small = st.integers(0, 70000)


@settings(FUZZ, max_examples=40)
@given(st.lists(st.builds(
    FaceRepresentation39794,
    representation_id=st.integers(0, 300),
    image_data=st.binary(max_size=40),
    image_information=st.builds(
        FaceImageInformation2D, image_data_format=st.sampled_from([0, 2, 3, 4]),
        face_image_kind=st.none() | st.integers(0, 1), width=_small, height=_small,
        image_colour_space=st.none() | st.integers(0, 6), lens_focal_length=st.none() | _small),
    capture_date_time=st.none() | st.builds(DateTimeBlock39794, st.integers(0, 9999), st.none() | st.integers(1, 12)),
    session_id=st.none() | st.integers(-5, 10**6),
), min_size=1, max_size=3))
def test_dg2_39794_property_round_trip(reps):
    record = Face39794Record.build(reps)
    back = Face39794Record.from_bytes(record.raw)
    assert back.conformant and back.representations == tuple(reps)
    assert_round_trip(DG2, DG2((BiometricInformationTemplate.for_face_39794(back),)))


_SAMPLE_39794 = DG2.from_image_39794(jpeg(16, 16), 16, 16).to_bytes()


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_mutated_39794_dg2_gives_lds_error_only(data):
    raw = bytearray(_SAMPLE_39794)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        dg2 = DG2.from_bytes(bytes(raw))
    except ICAOError as exc:
        assert isinstance(exc, LDSError), type(exc)
    else:
        dg2.describe()
        assert isinstance(dg2.face_images, list)


_digits8 = st.from_regex(r"[0-9]{8}", fullmatch=True)


@settings(FUZZ, max_examples=60)
@given(
    full_name=st.none() | _vn_text, place_of_birth=st.none() | _vn_text,
    other_names=st.none() | st.lists(_vn_text, max_size=3).map(tuple),
    full_date_of_birth=st.none() | _digits8, proof=st.none() | st.binary(max_size=30),
    other=st.lists(st.tuples(st.sampled_from([0x5F50, 0x5F60, 0x81]), st.binary(max_size=10)), max_size=2,
                   unique_by=lambda t: t[0]).map(tuple),
)
def test_dg11_property_round_trip(full_name, place_of_birth, other_names, full_date_of_birth, proof, other):
    dg11 = DG11(full_name=full_name, place_of_birth=place_of_birth, other_names=other_names,
                full_date_of_birth=full_date_of_birth, proof_of_citizenship=proof, other=other)
    back = assert_round_trip(DG11, dg11)
    assert back.issues == ()
    assert back.describe()["file"] == "DG11"


@settings(FUZZ, max_examples=40)
@given(issuing_authority=st.none() | _vn_text, date_of_issue=st.none() | _digits8,
       other_persons=st.none() | st.lists(_vn_text, max_size=3).map(tuple),
       stamp=st.none() | st.from_regex(r"[0-9]{14}", fullmatch=True))
def test_dg12_property_round_trip(issuing_authority, date_of_issue, other_persons, stamp):
    dg12 = DG12(issuing_authority=issuing_authority, date_of_issue=date_of_issue, other_persons=other_persons,
                date_and_time_of_personalization=stamp)
    back = assert_round_trip(DG12, dg12)
    assert back.issues == ()


def test_dg2_39794_huge_integer_reported():
    block = encode_tlv(0xA1, encode_tlv(0x65, encode_tlv(0xA0, encode_tlv(0x80, b"\x01" + bytes(3000)))))
    record = Face39794Record.from_bytes(block)
    assert any("INTEGER of 3001 octets" in i for i in record.issues)
    json.dumps(record.describe())


@pytest.mark.parametrize("where", ["number", "value", "version"])
def test_dg13_huge_integers(where):
    huge = encode_tlv(0x02, b"\x01" + bytes(2999))
    version = huge if where == "version" else b"\x02\x01\x01"
    entry = (huge + encode_tlv(0x0C, b"x")) if where == "number" else (b"\x02\x01\x05" + huge)
    raw = encode_tlv(0x6D, encode_tlv(0x30, version + bytes.fromhex("060628d316010008")
                                      + encode_tlv(0x31, encode_tlv(0x30, entry))))
    if where == "value":  # an INTEGER value is kept as read and dumped as its DER
        described = DG13.from_bytes(raw).describe()
        assert described["nationality"][0].startswith("DER 0282") and json.dumps(described)
    else:
        with pytest.raises(LDSError):
            DG13.from_bytes(raw)
