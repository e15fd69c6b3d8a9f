"""The QR payload printed on both card generations (VN_CARD.md "QR code"): parse, format, derive access keys.

2021 CCCD (front)::

    ID12|CMND9|Full name|DOB ddMMyyyy|Nam/Nữ|Permanent address|Issue date ddMMyyyy

2024 card (back): the same 7 fields then ``||||`` (11 fields, the last 4 empty).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from reader.capture import _vn
from reader.capture.errors import QR_PAYLOAD_INVALID, QRPayloadError

_ID_RE = re.compile(r"\d{12}")
_CMND_RE = re.compile(r"(\d{9})?")  # empty when the holder never had a CMND
_DATE_RE = re.compile(r"\d{8}")
_SEX = {"Nam": "M", "Nữ": "F"}
_SEX_TEXT = {"M": "Nam", "F": "Nữ"}
# Bound the payload before splitting: a card QR is well under 1 KB; a hostile one should not cost much.
MAX_PAYLOAD_CHARS = 2048


class QRGeneration(StrEnum):
    """Which card generation's QR layout a payload follows."""

    CCCD_2021 = "cccd2021"  # 7 fields
    CARD_2024 = "card2024"  # 11 fields, last 4 empty


@dataclass(frozen=True)
class CardQR:
    """The fields of a card QR, decoded (dates as ``datetime.date``, sex as ICAO ``M``/``F``)."""

    personal_id: str
    cmnd: str  # old 9-digit CMND number, "" when none
    full_name: str
    date_of_birth: dt.date
    sex: str  # "M" / "F" (printed "Nam" / "Nữ")
    address: str
    date_of_issue: dt.date
    generation: QRGeneration
    # Decision: the 4 trailing fields of the 2024 layout are empty on every card seen; if a card ever
    # fills them they are kept here verbatim rather than rejected (VN_CARD.md: keep unknown fields).
    extra: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # personal data never in reprs/logs
        return f"CardQR(generation={self.generation.value!r}, <redacted>)"

    @property
    def sex_text(self) -> str:
        return _SEX_TEXT[self.sex]


@dataclass(frozen=True)
class AccessKeys:
    """Access-key material derived from the card face (VN_CARD.md "Chip", "MRZ").

    ``can``: PACE Card Access Number = last 6 digits of the personal ID.
    ``document_number``, ``date_of_birth``, ``date_of_expiry``: the BAC/PACE-MRZ inputs (ICAO 9303-11 §4.3.2,
    YYMMDD; ``991231`` when the card has no expiry). ``mrz_information`` is their concatenation with check
    digits (the string hashed into K_seed).
    """

    can: str
    document_number: str
    date_of_birth: str
    date_of_expiry: str
    no_expiry: bool
    expiry_derived: bool  # True when computed from the age rules (QR), False when read (MRZ)

    def __repr__(self) -> str:
        return "AccessKeys(<redacted>)"

    @property
    def mrz_information(self) -> str:
        return _vn.mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    def as_dict(self) -> dict[str, object]:
        return {
            "can": self.can,
            "document_number": self.document_number,
            "date_of_birth": self.date_of_birth,
            "date_of_expiry": self.date_of_expiry,
            "no_expiry": self.no_expiry,
            "expiry_derived": self.expiry_derived,
            "mrz_information": self.mrz_information,
        }


def _bad(detail: str) -> QRPayloadError:
    return QRPayloadError(detail, code=QR_PAYLOAD_INVALID)


def _parse_date(text: str, what: str) -> dt.date:
    if not _DATE_RE.fullmatch(text):
        raise _bad(f"{what}: expected ddMMyyyy")
    try:
        return dt.date(int(text[4:]), int(text[2:4]), int(text[:2]))
    except ValueError as exc:
        raise _bad(f"{what}: not a calendar date") from exc


def parse_qr_payload(text: str) -> CardQR:
    """Parse a card QR payload of either generation; raise :class:`QRPayloadError` (qr.payload_invalid)."""
    if not isinstance(text, str):
        raise _bad("payload is not text")
    if len(text) > MAX_PAYLOAD_CHARS:
        raise _bad("payload too long")
    text = unicodedata.normalize("NFC", text.strip("\r\n\x00 "))
    parts = text.split("|")  # keeps empty fields (an empty CMND is ``||``)
    if len(parts) == 7:
        generation, extra = QRGeneration.CCCD_2021, ()
    elif len(parts) == 11:
        generation, extra = QRGeneration.CARD_2024, tuple(parts[7:])
        if not any(extra):
            extra = ()
    else:
        raise _bad(f"expected 7 or 11 fields, got {len(parts)}")
    pid, cmnd, name, dob, sex, address, doi = parts[:7]
    if not _ID_RE.fullmatch(pid):
        raise _bad("personal ID: expected 12 digits")
    if not _CMND_RE.fullmatch(cmnd):
        raise _bad("CMND: expected 9 digits or empty")
    if not name.strip():
        raise _bad("full name is empty")
    if sex not in _SEX:
        raise _bad("sex: expected 'Nam' or 'Nữ'")
    birth = _parse_date(dob, "date of birth")
    issue = _parse_date(doi, "date of issue")
    if issue < birth:
        raise _bad("date of issue before date of birth")
    # Decision: the ID must be a valid VN personal ID (province code, century/sex digit, birth year) that
    # agrees with the QR's own birth date and sex; a QR that contradicts itself is not a card's QR.
    try:
        _vn.parse_personal_id(pid).verify_consistent(birth_date=birth, sex=_SEX[sex])
    except _vn.PersonalIDError as exc:
        raise _bad(f"personal ID: {exc.message} ({exc.reason})") from exc
    return CardQR(
        personal_id=pid,
        cmnd=cmnd,
        full_name=name.strip(),
        date_of_birth=birth,
        sex=_SEX[sex],
        address=address.strip(),
        date_of_issue=issue,
        generation=generation,
        extra=extra,
    )


def format_qr_payload(card: CardQR, generation: QRGeneration | None = None) -> str:
    """Format ``card`` as the QR text of ``generation`` (default: the card's own)."""
    gen = generation or card.generation
    fields = [
        card.personal_id,
        card.cmnd,
        card.full_name,
        card.date_of_birth.strftime("%d%m%Y"),
        _SEX_TEXT[card.sex],
        card.address,
        card.date_of_issue.strftime("%d%m%Y"),
    ]
    for value in fields:
        if "|" in value:
            raise _bad("a field contains the separator '|'")
    if gen is QRGeneration.CARD_2024:
        fields += list(card.extra) if len(card.extra) == 4 else ["", "", "", ""]
    return unicodedata.normalize("NFC", "|".join(fields))


def derive_access_keys(card: CardQR) -> AccessKeys:
    """CAN and BAC inputs from QR fields; the expiry follows the age rules of ``icao9303.vn``."""
    try:
        expiry = _vn.card_expiry(card.date_of_birth, card.date_of_issue)
    except _vn.ICAOError as exc:
        raise _bad(f"no expiry can be derived ({exc.reason})") from exc
    return AccessKeys(
        can=_vn.can_from_personal_id(card.personal_id),
        document_number=_vn.document_number_from_personal_id(card.personal_id),
        date_of_birth=card.date_of_birth.strftime("%y%m%d"),
        date_of_expiry=_vn.NO_EXPIRY_YYMMDD if expiry is None else expiry.strftime("%y%m%d"),
        no_expiry=expiry is None,
        expiry_derived=True,
    )
