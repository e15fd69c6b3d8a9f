"""The one place where capture calls ``icao9303.vn`` / ``icao9303.mrz`` (VN rules, check digits, MRZ parsing)."""
from __future__ import annotations

import datetime as dt

from icao9303 import mrz, vn
from icao9303.errors import ICAOError, MRZError, PersonalIDError

NO_EXPIRY_YYMMDD = mrz.NO_EXPIRY

__all__ = [
    "NO_EXPIRY_YYMMDD",
    "ICAOError",
    "MRZError",
    "PersonalIDError",
    "can_from_personal_id",
    "card_expiry",
    "check_digit",
    "document_number_from_personal_id",
    "mrz_information",
    "parse_mrz",
    "parse_personal_id",
]


def check_digit(data: str) -> str:
    """ICAO 9303-3 §4.9 check digit."""
    return mrz.check_digit(data)


def parse_personal_id(personal_id: str) -> vn.PersonalID:
    return vn.parse_personal_id(personal_id)


def can_from_personal_id(personal_id: str) -> str:
    return vn.can_from_personal_id(personal_id)


def document_number_from_personal_id(personal_id: str) -> str:
    return vn.document_number_from_personal_id(personal_id)


def card_expiry(date_of_birth: dt.date, date_of_issue: dt.date) -> dt.date | None:
    return vn.card_expiry(date_of_birth, date_of_issue)


def mrz_information(document_number: str, date_of_birth: str, date_of_expiry: str) -> str:
    return mrz.mrz_information(document_number, date_of_birth, date_of_expiry)


def parse_mrz(lines: tuple[str, str, str]) -> mrz.MRZ:
    return mrz.parse_mrz("\n".join(lines), verify=True)
