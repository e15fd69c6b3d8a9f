"""Vietnam's personal identification number, province codes and card validity rules (VN_CARD.md).

The 12-digit personal ID is ``PPP S YY RRRRRR`` (Circular 07/2016/TT-BCA): PPP the province where the
birth was registered (001-096, or 101-295 for births registered abroad), S century and sex, YY the
last two digits of the birth year, RRRRRR random. It has no check digit. The card's CAN is its last
6 digits and its document number (MRZ) digits 4-12. Card validity follows the Law on Citizen
Identification 2014 (renew at 25, 40, 60) and the Law on Identification 2023 (cards issued from
2024-07-01: renew at 14, 25, 40, 60).

The ID (and the CAN derived from it) is access-key material: it is never put in reprs or messages.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from icao9303.errors import ICAOError, PersonalIDError

__all__ = [
    "ABROAD_PROVINCE_CODES",
    "LAW_2023_EFFECTIVE",
    "PROVINCE_CODES",
    "RENEWAL_AGES_2014",
    "RENEWAL_AGES_2023",
    "PersonalID",
    "can_from_personal_id",
    "card_expiry",
    "century_sex_digit",
    "document_number_from_personal_id",
    "parse_personal_id",
    "province_name",
    "renewal_ages",
]

# Circular 07/2016/TT-BCA annex 1: the 63 provinces (codes unchanged by the 2025 merger into 34).
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
    "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
    "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
    "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
    "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
    "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa–Vũng Tàu",
    "079": "TP Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh",
    "086": "Vĩnh Long", "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}

ABROAD_PROVINCE_CODES = range(101, 296)
"""Codes 101-295: births registered abroad (VN_CARD.md)."""

RENEWAL_AGES_2014: tuple[int, ...] = (25, 40, 60)
RENEWAL_AGES_2023: tuple[int, ...] = (14, 25, 40, 60)
LAW_2023_EFFECTIVE = dt.date(2024, 7, 1)
"""Cards issued on or after this date follow the Law on Identification 2023."""


def province_name(code: str) -> str | None:
    """The province of a 3-digit code, ``"abroad"`` for 101-295, None when unassigned."""
    if code in PROVINCE_CODES:
        return PROVINCE_CODES[code]
    if re.fullmatch("[0-9]{3}", code) and int(code) in ABROAD_PROVINCE_CODES:
        return "abroad"
    return None


@dataclass(frozen=True)
class PersonalID:
    """A parsed 12-digit personal identification number. The repr shows only the province code."""

    number: str
    province_code: str
    province: str
    born_abroad: bool
    century_sex_digit: int
    sex: str  # "M" | "F" (even digit = male)
    birth_year: int

    def __repr__(self) -> str:
        return f"PersonalID(province_code={self.province_code!r}, <redacted>)"

    __str__ = __repr__

    @property
    def can(self) -> str:
        """Card Access Number = the last 6 digits (VN_CARD.md). Secret."""
        return self.number[6:]

    @property
    def document_number(self) -> str:
        """The MRZ document number = digits 4-12."""
        return self.number[3:]

    @property
    def random_part(self) -> str:
        return self.number[6:]

    def verify_consistent(self, *, birth_date: dt.date | None = None, sex: str | None = None) -> None:
        """Raise PersonalIDError when the ID disagrees with a birth date or sex ("M"/"F") from elsewhere."""
        if birth_date is not None and birth_date.year != self.birth_year:
            raise PersonalIDError("birth year does not match the ID", field="birth_year", position=5,
                                  reason="vn.id.birth_year_mismatch")
        if sex is not None and sex.upper()[:1] not in ("", self.sex):
            raise PersonalIDError("sex does not match the ID", field="century_sex", position=4,
                                  reason="vn.id.sex_mismatch")


def parse_personal_id(number: str, *, today: dt.date | None = None) -> PersonalID:
    """Parse and validate a personal ID: 12 digits, a known province code (or 101-295 abroad), a birth
    year not after `today`'s year. Raises PersonalIDError naming the part at fault."""
    if not isinstance(number, str) or not re.fullmatch(r"[0-9]{12}", number):
        raise PersonalIDError("personal ID must be exactly 12 digits", field="length", reason="vn.id.format")
    code = number[:3]
    province = province_name(code)
    if province is None:
        raise PersonalIDError("unassigned province code", field="province", position=1,
                              reason="vn.id.province")
    s = int(number[3])
    year = 1900 + 100 * (s // 2) + int(number[4:6])
    today = today or dt.date.today()
    if year > today.year:
        raise PersonalIDError("birth year in the future", field="birth_year", position=5,
                              reason="vn.id.birth_year")
    return PersonalID(
        number=number,
        province_code=code,
        province=province,
        born_abroad=province == "abroad",
        century_sex_digit=s,
        sex="M" if s % 2 == 0 else "F",
        birth_year=year,
    )


def century_sex_digit(birth_year: int, sex: str) -> int:
    """The S digit for a birth year and sex ("M"/"F"): 1900s 0/1, 2000s 2/3, 2100s 4/5, ..."""
    if not 1900 <= birth_year <= 2399:
        raise PersonalIDError("birth year outside 1900-2399", field="birth_year", reason="vn.id.birth_year")
    return 2 * ((birth_year - 1900) // 100) + (0 if sex.upper().startswith("M") else 1)


def can_from_personal_id(number: str) -> str:
    """CAN = the last 6 digits of the 12-digit ID."""
    return parse_personal_id(number).can


def document_number_from_personal_id(number: str) -> str:
    """The MRZ/BAC document number = digits 4-12 of the 12-digit ID."""
    return parse_personal_id(number).document_number


def renewal_ages(issue_date: dt.date) -> tuple[int, ...]:
    """Renewal ages in force for a card issued on `issue_date` (2014 law, or 2023 law from 2024-07-01)."""
    return RENEWAL_AGES_2023 if issue_date >= LAW_2023_EFFECTIVE else RENEWAL_AGES_2014


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        # Decision: a holder born on 29 February reaches an age on 28 February in common years.
        return day.replace(year=day.year + years, day=28)


def card_expiry(birth_date: dt.date, issue_date: dt.date) -> dt.date | None:
    """The date of expiry of a card issued on `issue_date` to a holder born on `birth_date`.

    Expiry = birth date + T years for the first renewal age T with issue date < birth date + (T-2)
    years (a card issued within 2 years before a renewal age lasts until the next one); None when no
    renewal age is left (no expiry, MRZ ``991231``). VN_CARD.md "Validity (expiry) rules".
    """
    if issue_date < birth_date:
        raise ICAOError("issue date before birth date", reason="vn.expiry.issue_before_birth")
    for age in renewal_ages(issue_date):
        if issue_date < _add_years(birth_date, age - 2):
            return _add_years(birth_date, age)
    return None
