"""TEMPORARY stand-in for icao9303.vn until engineer A's module lands (deleted then)."""
from __future__ import annotations

from dataclasses import dataclass

PROVINCES = {
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


def is_valid_province_code(code: str) -> bool:
    return code in PROVINCES or (len(code) == 3 and code.isdigit() and 101 <= int(code) <= 295)


@dataclass(frozen=True)
class _Parsed:
    province_code: str
    sex: str
    century: int


def parse_personal_id(pid: str) -> _Parsed:
    if len(pid) != 12 or not pid.isdigit():
        raise ValueError("personal ID must be 12 digits")
    if not is_valid_province_code(pid[:3]):
        raise ValueError("unknown province code")
    s = int(pid[3])
    return _Parsed(pid[:3], "M" if s % 2 == 0 else "F", 1900 + 100 * (s // 2))


def century_sex_digit(year: int, sex: str) -> int:
    return 2 * ((year // 100) - 19) + (0 if sex == "M" else 1)
