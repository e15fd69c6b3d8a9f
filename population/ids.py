"""Personal-ID rules as the population layer uses them, on top of ``icao9303.vn`` (the one home of the
ID structure and province codes), plus Vietnamese name normalization for lookups and duplicates."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

try:
    from icao9303 import vn
except ImportError:  # pragma: no cover - until engineer A lands icao9303.vn
    from population import _vn_fallback as vn  # type: ignore[no-redef]

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
    return dict(vn.PROVINCES)


def is_registration_code(code: str) -> bool:
    """A valid PPP: one of the 63 provinces, or 101-295 (births registered abroad)."""
    return vn.is_valid_province_code(code)


def decode_personal_id(personal_id: str) -> DecodedId:
    """Split a 12-digit ID; raises ``ValueError`` on a wrong shape or unknown province/century digit."""
    if not isinstance(personal_id, str) or not _DIGITS12.fullmatch(personal_id):
        raise ValueError("personal ID must be 12 digits")
    parsed = vn.parse_personal_id(personal_id)
    return DecodedId(
        province_code=parsed.province_code,
        sex=parsed.sex,
        century_start=parsed.century,
        birth_year_2=int(personal_id[4:6]),
    )


def century_sex_digit(birth_year: int, sex: str) -> int:
    return vn.century_sex_digit(birth_year, sex)


def ascii_fold(text: str) -> str:
    """Strip Vietnamese diacritics (NFD, drop combining marks; Đ/đ → D/d)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def normalize_name(name: str) -> str:
    """NFC, single spaces, no surrounding whitespace (what "sạch" means for a stored name)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def name_key(name: str) -> str:
    """ASCII, upper-case, single-spaced: ``Nguyễn  văn An`` → ``NGUYEN VAN AN``."""
    return " ".join(ascii_fold(unicodedata.normalize("NFC", name)).upper().split())
