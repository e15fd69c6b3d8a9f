"""Personal-ID rules as the population layer uses them, on top of ``icao9303.vn`` (the one home of the
ID structure and province codes), plus Vietnamese name normalization for lookups and duplicates."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from icao9303 import vn
from icao9303.errors import PersonalIDError

_DIGITS12 = re.compile(r"\d{12}")


@dataclass(frozen=True)
class DecodedId:
    """The parts of ``PPP S YY RRRRRR`` (VN_CARD.md, Circular 07/2016/TT-BCA)."""

    province_code: str
    sex: str  # "M" / "F"
    century_start: int  # 1900, 2000, ...
    birth_year_2: int  # YY

    def birth_year_matches(self, year: int) -> bool:
        return year - year % 100 == self.century_start and year % 100 == self.birth_year_2


def province_names() -> dict[str, str]:
    """Code → name of the 63 provinces (codes stay valid after the 2025 merger)."""
    return dict(vn.PROVINCE_CODES)


def is_registration_code(code: str) -> bool:
    """A valid PPP: one of the 63 provinces, or 101-295 (births registered abroad)."""
    return isinstance(code, str) and len(code) == 3 and vn.province_name(code) is not None


def decode_personal_id(personal_id: str) -> DecodedId:
    """Split a 12-digit ID (rules of ``icao9303.vn.parse_personal_id``); ``ValueError`` when invalid.

    The message names the part at fault, never the number (it contains the CAN).
    """
    if not isinstance(personal_id, str) or not _DIGITS12.fullmatch(personal_id):
        raise ValueError("personal ID must be 12 digits")
    try:
        parsed = vn.parse_personal_id(personal_id)
    except PersonalIDError as exc:
        raise ValueError(str(exc)) from None
    return DecodedId(
        province_code=parsed.province_code,
        sex=parsed.sex,
        century_start=parsed.birth_year - parsed.birth_year % 100,
        birth_year_2=parsed.birth_year % 100,
    )


def mask_id(personal_id: str) -> str:
    """``PPPSYY******``: what messages and logs may show (the last 6 digits are the card's CAN)."""
    return (personal_id or "")[:6] + "******"


def century_sex_digit(birth_year: int, sex: str) -> int:
    return vn.century_sex_digit(birth_year, sex)


_COMBINING = re.compile("[\u0300-\u036f]")


def ascii_fold(text: str) -> str:
    """Strip Vietnamese diacritics (NFD, drop combining marks U+0300-U+036F; Đ/đ → D/d)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return _COMBINING.sub("", unicodedata.normalize("NFD", text))


def normalize_name(name: str) -> str:
    """NFC, single spaces, no surrounding whitespace (what "sạch" means for a stored name)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


@lru_cache(maxsize=262_144)
def name_key(name: str) -> str:
    """ASCII, upper-case, single-spaced: ``Nguyễn  văn An`` → ``NGUYEN VAN AN``."""
    return " ".join(ascii_fold(unicodedata.normalize("NFC", name)).upper().split())
