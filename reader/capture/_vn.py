"""The one place where capture calls ``icao9303.vn`` / ``icao9303.mrz`` (VN rules, check digits)."""
from __future__ import annotations

import datetime as dt

NO_EXPIRY_YYMMDD = "991231"


def check_digit(data: str) -> str:
    """ICAO 9303-3 §4.9 check digit (7-3-1 weights)."""
    try:
        from icao9303 import mrz
    except ImportError:  # TEMPORARY until icao9303.mrz lands
        weights = (7, 3, 1)
        total = 0
        for i, ch in enumerate(data):
            v = int(ch) if ch.isdigit() else (ord(ch) - 55 if ch.isalpha() else 0)
            total += v * weights[i % 3]
        return str(total % 10)
    return str(mrz.check_digit(data))


def can_from_personal_id(personal_id: str) -> str:
    return personal_id[-6:]


def document_number_from_personal_id(personal_id: str) -> str:
    return personal_id[3:12]


def card_expiry(date_of_birth: dt.date, date_of_issue: dt.date) -> dt.date | None:
    try:
        from icao9303 import vn
    except ImportError:  # TEMPORARY until icao9303.vn lands (VN_CARD.md "Validity")
        ages = (14, 25, 40, 60) if date_of_issue >= dt.date(2024, 7, 1) else (25, 40, 60)
        for t in ages:
            try:
                limit = date_of_birth.replace(year=date_of_birth.year + t - 2)
                end = date_of_birth.replace(year=date_of_birth.year + t)
            except ValueError:  # 29 February
                limit = dt.date(date_of_birth.year + t - 2, 3, 1)
                end = dt.date(date_of_birth.year + t, 3, 1)
            if date_of_issue < limit:
                return end
        return None
    return vn.card_expiry(date_of_birth, date_of_issue)


def mrz_information(document_number: str, date_of_birth: str, date_of_expiry: str) -> str:
    """ICAO 9303-11 §4.3.2.1: document number, birth date, expiry, each followed by its check digit."""
    doc = document_number.ljust(9, "<")
    return (
        doc + check_digit(doc) + date_of_birth + check_digit(date_of_birth)
        + date_of_expiry + check_digit(date_of_expiry)
    )
