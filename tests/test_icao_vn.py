"""Vietnam's personal ID (PPP S YY RRRRRR), province codes, CAN and card validity (VN_CARD.md)."""
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.errors import ICAOError, PersonalIDError
from icao9303.vn import (
    PROVINCE_CODES,
    can_from_personal_id,
    card_expiry,
    century_sex_digit,
    document_number_from_personal_id,
    parse_personal_id,
    province_name,
)
from tests.test_icao_hypothesis_settings import FUZZ

D = dt.date


def test_province_table_has_63():
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["079"] == "TP Hồ Chí Minh" and PROVINCE_CODES["001"] == "Hà Nội"
    assert province_name("101") == province_name("295") == "abroad"
    assert province_name("003") is None and province_name("296") is None and province_name("097") is None


@pytest.mark.parametrize(
    ("number", "province", "sex", "year"),
    [
        ("079090012345", "TP Hồ Chí Minh", "M", 1990),
        ("001162004321", "Hà Nội", "F", 1962),
        ("048303000001", "Đà Nẵng", "F", 2003),
        ("096224000001", "Cà Mau", "M", 2024),
        ("150095123456", "abroad", "M", 1995),
    ],
)
def test_parse(number, province, sex, year):
    pid = parse_personal_id(number, today=D(2026, 1, 1))
    assert (pid.province, pid.sex, pid.birth_year) == (province, sex, year)
    assert pid.born_abroad == (province == "abroad")
    assert pid.can == number[-6:] == can_from_personal_id(number)
    assert pid.document_number == number[3:] == document_number_from_personal_id(number)
    assert number not in repr(pid) and pid.can not in repr(pid)


@pytest.mark.parametrize(
    ("number", "field"),
    [("07909001234", "length"), ("07909001234a", "length"), ("003090012345", "province"),
     ("097090012345", "province"), ("296090012345", "province"), ("079299012345", "birth_year")],
)
def test_invalid(number, field):
    with pytest.raises(PersonalIDError) as info:
        parse_personal_id(number, today=D(2026, 1, 1))
    assert info.value.field == field
    assert number not in str(info.value)


def test_consistency():
    pid = parse_personal_id("079090012345")
    pid.verify_consistent(birth_date=D(1990, 3, 15), sex="Male")
    with pytest.raises(PersonalIDError):
        pid.verify_consistent(birth_date=D(1991, 3, 15))
    with pytest.raises(PersonalIDError):
        pid.verify_consistent(sex="F")
    assert century_sex_digit(1990, "M") == 0 and century_sex_digit(2003, "F") == 3
    assert century_sex_digit(2105, "M") == 4


@pytest.mark.parametrize(
    ("birth", "issue", "expiry"),
    [
        # 2014 law: renew at 25, 40, 60
        (D(1990, 3, 15), D(2021, 5, 1), D(2030, 3, 15)),   # age 31 -> 40
        (D(1990, 3, 15), D(2028, 3, 14), D(2030, 3, 15)),  # day before 38 -> still 40
        (D(1990, 3, 15), D(2028, 3, 15), D(2050, 3, 15)),  # exactly 38 -> 60
        (D(1962, 1, 1), D(2021, 5, 1), None),              # age 59 (within 2 years of 60) -> no expiry
        (D(1962, 1, 1), D(2019, 12, 31), D(2022, 1, 1)),   # age 57 -> 60
        (D(2004, 6, 1), D(2021, 6, 1), D(2029, 6, 1)),     # age 17 -> 25
        # 2023 law (issued from 2024-07-01): 14, 25, 40, 60
        (D(2015, 1, 1), D(2024, 7, 1), D(2029, 1, 1)),     # age 9 -> 14
        (D(2012, 1, 1), D(2024, 7, 1), D(2037, 1, 1)),     # age 12.5 (within 2 of 14) -> 25
        (D(2015, 1, 1), D(2024, 6, 30), D(2040, 1, 1)),    # day before the 2023 law: 2014 ages -> 25
        (D(1960, 8, 1), D(2024, 8, 1), None),              # age 64 -> no expiry
        (D(2024, 2, 29), D(2024, 9, 1), D(2038, 2, 28)),   # Decision: 29 Feb -> 28 Feb
    ],
)
def test_card_expiry(birth, issue, expiry):
    assert card_expiry(birth, issue) == expiry


def test_expiry_rejects_issue_before_birth():
    with pytest.raises(ICAOError):
        card_expiry(D(2000, 1, 1), D(1999, 1, 1))


@settings(FUZZ, max_examples=150)
@given(st.text(max_size=20))
def test_random_ids(text):
    try:
        parse_personal_id(text)
    except PersonalIDError:
        pass


@settings(FUZZ, max_examples=150)
@given(st.dates(D(1920, 1, 1), D(2025, 1, 1)), st.integers(0, 100 * 365))
def test_expiry_properties(birth, days):
    issue = birth + dt.timedelta(days=days)
    expiry = card_expiry(birth, issue)
    if expiry is None:
        assert issue >= birth.replace(year=birth.year + 58, day=min(birth.day, 28))
    else:
        assert expiry > issue
        age = expiry.year - birth.year
        assert age in (14, 25, 40, 60)
        assert (expiry - issue).days > 365  # never issued within 2 years of its own expiry
