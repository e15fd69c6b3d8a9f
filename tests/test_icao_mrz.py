"""MRZ (ICAO 9303-3/-4/-5): check digits, specimens, VN rules, formatting, hostile input."""
import datetime as dt
import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.errors import ICAOError, MRZError
from icao9303.mrz import (
    MRZ,
    NO_EXPIRY,
    check_digit,
    format_mrz_date,
    mrz_information,
    parse_mrz,
    parse_mrz_date,
    transliterate,
)
from tests.test_icao_hypothesis_settings import FUZZ

VECTORS = pathlib.Path(__file__).parent / "vectors" / "icao9303"
CHECK_DIGITS = json.loads((VECTORS / "check_digits.json").read_text())["cases"]
SPECIMENS = json.loads((VECTORS / "mrz_specimens.json").read_text())["specimens"]


@pytest.mark.parametrize(("value", "digit"), CHECK_DIGITS)
def test_check_digit_examples(value, digit):
    assert check_digit(value) == digit


@pytest.mark.parametrize("spec", SPECIMENS, ids=[s["name"] for s in SPECIMENS])
def test_specimens(spec):
    text = "\n".join(spec["lines"])
    mrz = parse_mrz(text)
    fields = mrz.to_dict()
    for key, value in spec["fields"].items():
        assert fields[key] == value, key
    assert mrz.mrz_information == spec["mrz_information"]
    assert mrz.lines == tuple(spec["lines"])
    assert mrz.with_fields().lines == tuple(spec["lines"])  # formatting reproduces the specimen
    assert parse_mrz("".join(spec["lines"])).lines == tuple(spec["lines"])  # one run of characters
    assert "<redacted>" in repr(mrz) and mrz.document_number not in repr(mrz)


@pytest.mark.parametrize("spec", [s for s in SPECIMENS if "vn" in s], ids=lambda s: s["name"])
def test_vn_build(spec):
    vn = spec["vn"]
    doe = dt.date.fromisoformat(vn["date_of_expiry"]) if vn["date_of_expiry"] else None
    mrz = MRZ.for_vn_card(vn["personal_id"], vn["full_name"], dt.date.fromisoformat(vn["date_of_birth"]),
                          vn["sex"], doe)
    assert mrz.lines == tuple(spec["lines"])
    assert mrz.personal_id == vn["personal_id"]
    assert mrz.expiry_date() == doe
    mrz.verify_vn_rules()


def _lines(spec_index):
    return list(SPECIMENS[spec_index]["lines"])


@pytest.mark.parametrize(
    ("line", "pos", "field"),
    [
        (0, 15, "document_number"),
        (1, 7, "date_of_birth"),
        (1, 15, "date_of_expiry"),
        (1, 30, "composite"),
    ],
)
def test_td1_check_digit_errors_name_field_and_position(line, pos, field):
    lines = _lines(0)
    c = lines[line][pos - 1]
    lines[line] = lines[line][: pos - 1] + str((int(c) + 1) % 10) + lines[line][pos:]
    with pytest.raises(MRZError) as info:
        parse_mrz("\n".join(lines))
    err = info.value
    assert (err.field, err.line, err.position, err.reason) == (field, line + 1, pos, "mrz.check_digit")
    assert "D23145890" not in str(err)
    parse_mrz("\n".join(lines), verify=False)  # still readable without verification


@pytest.mark.parametrize(("pos", "field"), [(10, "document_number"), (20, "date_of_birth"),
                                            (28, "date_of_expiry"), (43, "optional_data"), (44, "composite")])
def test_td3_check_digit_errors(pos, field):
    lines = _lines(1)
    c = lines[1][pos - 1]
    lines[1] = lines[1][: pos - 1] + str((int(c) + 1) % 10) + lines[1][pos:]
    with pytest.raises(MRZError) as info:
        parse_mrz("\n".join(lines))
    assert (info.value.field, info.value.position) == (field, pos)


def test_vn_position_30_and_document_number_rules():
    lines = _lines(3)
    bad30 = lines[0][:29] + "1"
    # keep the composite right so only the VN rule fails
    l2 = lines[1][:29] + check_digit(bad30[5:30] + lines[1][0:7] + lines[1][8:15] + lines[1][18:29])
    with pytest.raises(MRZError) as info:
        parse_mrz("\n".join([bad30, l2, lines[2]]))
    assert (info.value.field, info.value.position) == ("personal_id_check_digit", 30)
    # document number not digits 4-12 of the ID
    mrz = parse_mrz("\n".join(lines)).with_fields(document_number="090012346")
    with pytest.raises(MRZError) as info:
        parse_mrz(mrz.text)
    assert info.value.field == "document_number"
    parse_mrz(mrz.text, verify_vn=False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "mrz.length"),
        ("I<UTO", "mrz.length"),
        ("i<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
         "mrz.charset"),
        ("P<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
         "mrz.value"),
        ("I<UTOD231458907<<<<<<<<<<<<<<<\n7413122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
         "mrz.value"),
        ("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122Q1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
         "mrz.value"),
    ],
)
def test_malformed(text, reason):
    with pytest.raises(MRZError) as info:
        parse_mrz(text)
    assert info.value.reason == reason


def test_transliteration():
    assert transliterate("Nguyễn Thị Đào") == "NGUYEN<THI<DAO"
    assert transliterate("Đặng Ngọc Ánh") == "DANG<NGOC<ANH"
    assert transliterate("Lê-Văn O'Brien") == "LE<VAN<OBRIEN"
    assert transliterate("Ưng Hoàng Phúc") == "UNG<HOANG<PHUC"
    assert transliterate("Ơn Đức Ỷ") == "ON<DUC<Y"


def test_long_name_truncated():
    mrz = MRZ.for_vn_card("079090012345", "Nguyễn Huỳnh Thượng Nguyên Khánh Phương Trường",
                          dt.date(1990, 3, 15), "M", None)
    line3 = mrz.lines[2]
    assert len(line3) == 30 and line3.startswith("NGUYEN<<HUYNH<THUONG")
    assert parse_mrz(mrz.text).primary_identifier == "NGUYEN"


def test_long_document_number_td1():
    mrz = MRZ("TD1", "I", "UTO", "D23145890123", "740812", "F", "120415", "UTO", "ERIKSSON", "ANNA")
    assert mrz.lines[0][14] == "<"
    back = parse_mrz(mrz.text)
    assert back.document_number == "D23145890123"
    assert back.mrz_information.startswith("D23145890123" + check_digit("D23145890123"))


def test_dates():
    assert format_mrz_date(None) == NO_EXPIRY
    assert format_mrz_date(dt.date(2030, 3, 15)) == "300315"
    assert parse_mrz_date("991231", kind="expiry") is None
    assert parse_mrz_date("900315", kind="birth", today=dt.date(2026, 1, 1)) == dt.date(1990, 3, 15)
    assert parse_mrz_date("250101", kind="birth", today=dt.date(2026, 1, 1)) == dt.date(2025, 1, 1)
    with pytest.raises(MRZError):
        parse_mrz_date("900231", kind="birth")
    assert mrz_information("L898902C3", "740812", "120415") == "L898902C3674081221204159"
    assert mrz_information("AB2134", "520727", "991231").startswith("AB2134<<<5")


_SPEC_TEXT = ["\n".join(s["lines"]) for s in SPECIMENS]


@settings(FUZZ, max_examples=200)
@given(st.sampled_from(_SPEC_TEXT), st.data())
def test_mutated_mrz_gives_mrz_error_only(text, data):
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from("0123456789ABCXZ<\n é"))
    try:
        mrz = parse_mrz("".join(chars))
    except ICAOError as exc:
        assert isinstance(exc, MRZError)
        return
    assert parse_mrz(mrz.text, verify=False).lines == mrz.lines


@settings(FUZZ, max_examples=150)
@given(st.text(max_size=100))
def test_random_text(text):
    try:
        parse_mrz(text)
    except MRZError:
        pass


@settings(FUZZ, max_examples=100)
@given(
    st.from_regex(r"[0-9]{12}", fullmatch=True),
    st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặèẻẽéẹ ", min_size=3, max_size=60),
    st.dates(dt.date(1901, 1, 1), dt.date(2030, 12, 31)),
    st.sampled_from(["M", "F"]),
    st.one_of(st.none(), st.dates(dt.date(2000, 1, 1), dt.date(2098, 12, 31))),
)
def test_vn_format_parse_round_trip(pid, name, dob, sex, doe):
    if not name.split() or not transliterate(name.split()[0]):
        return
    mrz = MRZ.for_vn_card(pid, name, dob, sex, doe)
    back = parse_mrz(mrz.text)
    assert back.lines == mrz.lines
    assert back.personal_id == pid and back.document_number == pid[3:]
    assert back.expiry_date() == doe
