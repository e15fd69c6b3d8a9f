"""Field rules of a citizen record ("đúng"): formats, the ID's cross-field consistency, DC01 row checks.

Every failure is an :class:`~population.errors.InvalidRecord` whose ``reason`` is one of the stable
codes below; the import writes that code into its reject file, DC02 returns it to the operator.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from population.errors import InvalidRecord
from population.ids import (
    decode_personal_id,
    is_registration_code,
    name_key,
    normalize_name,
)

# Stable reason codes (reject file, DC02 errors, quality report).
MALFORMED_ROW = "MALFORMED_ROW"
MISSING_FIELD = "MISSING_FIELD"
BAD_PERSONAL_ID = "BAD_PERSONAL_ID"
BAD_NAME = "BAD_NAME"
BAD_BIRTH_DATE = "BAD_BIRTH_DATE"
BAD_SEX = "BAD_SEX"
BAD_PROVINCE_CODE = "BAD_PROVINCE_CODE"
BAD_UNIT_CODE = "BAD_UNIT_CODE"
BAD_CMND = "BAD_CMND"
BAD_PHONE = "BAD_PHONE"
BAD_EMAIL = "BAD_EMAIL"
BAD_CODE_VALUE = "BAD_CODE_VALUE"
BAD_DATE = "BAD_DATE"
BAD_RELATED_ID = "BAD_RELATED_ID"
ID_BIRTH_YEAR_CONFLICT = "ID_BIRTH_YEAR_CONFLICT"
ID_SEX_CONFLICT = "ID_SEX_CONFLICT"
ID_PROVINCE_CONFLICT = "ID_PROVINCE_CONFLICT"
DUPLICATE_IN_FILE = "DUPLICATE_IN_FILE"
EXISTS_DIFFERENT = "EXISTS_DIFFERENT"

#: DC01 columns (CSV header / JSON keys) in staging order; birth_date is split into year/month/day.
DC01_COLUMNS: tuple[str, ...] = (
    "personal_id", "full_name", "other_name", "birth_date", "sex", "birth_registration_place",
    "birth_registration_province", "place_of_birth", "place_of_origin", "origin_province", "ethnicity",
    "religion", "nationality", "marital_status", "blood_type", "old_cmnd", "phone", "email", "status",
    "date_of_death", "household_id", "relation_to_head", "permanent_address", "permanent_unit_code",
    "temporary_address", "temporary_unit_code", "current_address", "current_unit_code", "father_name",
    "father_id", "mother_name", "mother_id", "spouse_name", "spouse_id", "representative_name",
    "representative_id",
)
DC01_REQUIRED: tuple[str, ...] = ("personal_id", "full_name", "birth_date", "sex")
#: Mandatory for a complete ("đủ") record; the quality report lists what is missing.
COMPLETE_FIELDS: tuple[str, ...] = (
    "full_name", "birth_year", "sex", "place_of_origin", "ethnicity", "religion", "nationality",
    "birth_registration_place",
)

NAME_FIELDS = frozenset({"full_name", "other_name", "father_name", "mother_name", "spouse_name",
                         "representative_name"})
MARITAL_STATUSES = frozenset({"single", "married", "divorced", "widowed"})
BLOOD_TYPES = frozenset({"A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"})
STATUSES = frozenset({"alive", "dead", "missing"})
_SEX_WORDS = {"nam": "M", "m": "M", "male": "M", "nữ": "F", "nu": "F", "f": "F", "female": "F"}
_NAME_RE = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*")
_PHONE_RE = re.compile(r"(?:0|\+84)\d{9}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_UNIT_RE = re.compile(r"\d{5}")
_CMND_RE = re.compile(r"\d{9}|\d{12}")
_NAT_RE = re.compile(r"[A-Z]{3}")
_HOUSEHOLD_RE = re.compile(r"[A-Z0-9\-]{4,24}")


def _bad(reason: str, field: str, message: str) -> InvalidRecord:
    return InvalidRecord(f"{field}: {message}", reason=reason, field=field)


def parse_partial_date(text: str, field: str = "birth_date") -> tuple[int, int | None, int | None]:
    """``dd/mm/yyyy``, ``mm/yyyy``, ``yyyy``, ``yyyy-mm-dd`` or ``yyyy-mm`` → (year, month|None, day|None).

    Decision: real records hold year-only and year-month birth dates; they are kept partial, never
    padded with 01.
    """
    text = text.strip()
    y: int | None = None
    m: int | None = None
    d: int | None = None
    try:
        if re.fullmatch(r"\d{4}", text):
            y = int(text)
        elif re.fullmatch(r"\d{1,2}/\d{4}", text):
            mm, yy = text.split("/")
            y, m = int(yy), int(mm)
        elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            dd, mm, yy = text.split("/")
            y, m, d = int(yy), int(mm), int(dd)
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            yy, mm = text.split("-")
            y, m = int(yy), int(mm)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            yy, mm, dd = text.split("-")
            y, m, d = int(yy), int(mm), int(dd)
        else:
            raise ValueError
        if not 1800 <= y <= 2199:
            raise ValueError
        if m is not None and not 1 <= m <= 12:
            raise ValueError
        if d is not None:
            dt.date(y, m or 1, d)
    except ValueError:
        raise _bad(BAD_BIRTH_DATE if field == "birth_date" else BAD_DATE, field,
                   "not a date (dd/mm/yyyy, mm/yyyy or yyyy)") from None
    return y, m, d


def format_partial_date(year: int, month: int | None, day: int | None) -> str:
    if month is None:
        return f"{year:04d}"
    if day is None:
        return f"{month:02d}/{year:04d}"
    return f"{day:02d}/{month:02d}/{year:04d}"


def parse_full_date(text: str, field: str) -> dt.date:
    y, m, d = parse_partial_date(text, field)
    if m is None or d is None:
        raise _bad(BAD_DATE, field, "a full date is required")
    return dt.date(y, m, d)


def check_personal_id(value: str, field: str = "personal_id") -> str:
    value = value.strip()
    try:
        decode_personal_id(value)
    except ValueError as exc:
        raise _bad(BAD_PERSONAL_ID if field == "personal_id" else BAD_RELATED_ID, field, str(exc)) from None
    return value


def check_name(value: str, field: str = "full_name") -> str:
    value = normalize_name(value)
    if not value or len(value) > 120 or not _NAME_RE.fullmatch(value):
        raise _bad(BAD_NAME, field, "letters and single spaces only")
    return value


def check_sex(value: str) -> str:
    sex = _SEX_WORDS.get(value.strip().lower())
    if sex is None:
        raise _bad(BAD_SEX, "sex", "Nam/Nữ (or M/F)")
    return sex


def id_conflicts(personal_id: str, birth_year: int | None, sex: str | None,
                 registration_province: str | None) -> list[str]:
    """Cross-field conflicts between the ID's ``PPP S YY`` and the record (empty list = consistent)."""
    try:
        decoded = decode_personal_id(personal_id)
    except ValueError:
        return [BAD_PERSONAL_ID]
    out = []
    if birth_year is not None and not decoded.birth_year_matches(birth_year):
        out.append(ID_BIRTH_YEAR_CONFLICT)
    if sex is not None and sex != decoded.sex:
        out.append(ID_SEX_CONFLICT)
    if registration_province and registration_province != decoded.province_code:
        out.append(ID_PROVINCE_CONFLICT)
    return out


def _v_name(field: str, text: str) -> Any:
    return check_name(text, field)


def _v_sex(field: str, text: str) -> Any:
    return check_sex(text)


def _v_birth(field: str, text: str) -> Any:
    return parse_partial_date(text)


def _v_full_date(field: str, text: str) -> Any:
    return parse_full_date(text, field)


def _v_province(field: str, text: str) -> Any:
    if not is_registration_code(text):
        raise _bad(BAD_PROVINCE_CODE, field, "not a province code")
    return text


def _v_regex(pattern: re.Pattern[str], reason: str, hint: str) -> Any:
    def check(field: str, text: str) -> str:
        if not pattern.fullmatch(text):
            raise _bad(reason, field, hint)
        return text
    return check


def _v_phone(field: str, text: str) -> Any:
    text = text.replace(" ", "").replace(".", "")
    if not _PHONE_RE.fullmatch(text):
        raise _bad(BAD_PHONE, field, "0xxxxxxxxx or +84xxxxxxxxx")
    return text


def _v_email(field: str, text: str) -> Any:
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text):
        raise _bad(BAD_EMAIL, field, "not an e-mail address")
    return text


def _v_choice(choices: frozenset[str], upper: bool, hint: str) -> Any:
    def check(field: str, text: str) -> str:
        value = text.upper() if upper else text.lower()
        if value not in choices:
            raise _bad(BAD_CODE_VALUE, field, hint)
        return value
    return check


def _v_nationality(field: str, text: str) -> Any:
    text = text.upper()
    if not _NAT_RE.fullmatch(text):
        raise _bad(BAD_CODE_VALUE, field, "ISO 3166-1 alpha-3")
    return text


def _v_related_id(field: str, text: str) -> Any:
    return check_personal_id(text, field)


def _v_text(field: str, text: str) -> Any:
    text = normalize_name(text)
    if len(text) > 500 or _CONTROL_RE.search(text):
        raise _bad(BAD_CODE_VALUE, field, "text too long or with control characters")
    return text


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_VALIDATORS: dict[str, Any] = {
    **dict.fromkeys(NAME_FIELDS, _v_name),
    "sex": _v_sex,
    "birth_date": _v_birth,
    "date_of_death": _v_full_date,
    "date_missing": _v_full_date,
    "birth_registration_province": _v_province,
    "origin_province": _v_province,
    **dict.fromkeys(("permanent_unit_code", "temporary_unit_code", "current_unit_code"),
                    _v_regex(_UNIT_RE, BAD_UNIT_CODE, "5-digit administrative unit code")),
    "old_cmnd": _v_regex(_CMND_RE, BAD_CMND, "9 or 12 digits"),
    "phone": _v_phone,
    "email": _v_email,
    "nationality": _v_nationality,
    "marital_status": _v_choice(MARITAL_STATUSES, False, "single/married/divorced/widowed"),
    "blood_type": _v_choice(BLOOD_TYPES, True, "A/B/AB/O[+-]"),
    "status": _v_choice(STATUSES, False, "alive/dead/missing"),
    **dict.fromkeys(("father_id", "mother_id", "spouse_id", "representative_id"), _v_related_id),
    "household_id": _v_regex(_HOUSEHOLD_RE, BAD_CODE_VALUE, "4-24 of A-Z 0-9 -"),
    **dict.fromkeys(("place_of_birth", "place_of_origin", "birth_registration_place", "permanent_address",
                     "temporary_address", "current_address", "identifying_features", "ethnicity", "religion",
                     "relation_to_head"), _v_text),
}
_REQUIRED_WHEN_SET = frozenset({"full_name", "birth_date", "sex", "status"})


def check_field(field: str, value: Any) -> Any:
    """Normalize one updatable field value or raise InvalidRecord. ``None``/"" clears the field."""
    text = value.strip() if isinstance(value, str) else (None if value is None else str(value).strip())
    if not text:
        if field in _REQUIRED_WHEN_SET:
            raise _bad(MISSING_FIELD, field, "required")
        return None
    validator = _VALIDATORS.get(field)
    if validator is None:
        raise _bad(BAD_CODE_VALUE, field, "unknown field")
    return validator(field, text)


def validate_dc01(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One DC01 row (strings) → the staging columns, or InvalidRecord with the first reason found."""
    for name in DC01_REQUIRED:
        value = raw.get(name)
        if value is None or not str(value).strip():
            raise _bad(MISSING_FIELD, name, "required")
    out: dict[str, Any] = {"personal_id": check_personal_id(str(raw["personal_id"]))}
    get = raw.get
    for name in DC01_COLUMNS[1:]:
        value = get(name)
        if name == "birth_date":
            out["birth_year"], out["birth_month"], out["birth_day"] = check_field(name, value)
        elif value is None or value == "":
            out[name] = None
        else:
            out[name] = check_field(name, value)
    out["name_key"] = name_key(out["full_name"])
    out["nationality"] = out["nationality"] or "VNM"
    out["status"] = out["status"] or "alive"
    conflicts = id_conflicts(out["personal_id"], out["birth_year"], out["sex"],
                             out["birth_registration_province"])
    if conflicts:
        raise _bad(conflicts[0], "personal_id", "does not match birth year / sex / province of registration")
    if out["status"] != "dead" and out["date_of_death"] is not None:
        raise _bad(BAD_DATE, "date_of_death", "set but status is not dead")
    return out


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP "CSV injection"): text starting with
    ``= + - @`` (or a tab / carriage return) gets a leading apostrophe. Numbers pass unchanged. Used for the
    reject file and the quality report, which operators open in spreadsheets and whose cells can hold
    hostile input rows."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

