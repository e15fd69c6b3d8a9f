"""Machine readable zones: TD1 (ICAO 9303-5), TD3 (9303-4), check digits (9303-3 §4.9), Vietnam's rules.

Field positions below are 1-based as printed in the specifications. Errors are `MRZError` with
the field name, line and position, never the characters found (an MRZ is access-key material).

Vietnam's TD1 (VN_CARD.md): ``IDVNM`` + document number = digits 4-12 of the 12-digit personal ID +
check digit, optional data = the full 12-digit ID, ``<<``, and in position 30 the check digit of the
12-digit ID; "no expiry" is written ``991231``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, replace

from icao9303.errors import MRZError

__all__ = [
    "MRZ",
    "NO_EXPIRY",
    "check_digit",
    "format_mrz_date",
    "mrz_information",
    "parse_mrz",
    "parse_mrz_date",
    "transliterate",
    "verify_check_digit",
]

NO_EXPIRY = "991231"
"""The MRZ date of expiry Vietnam writes for a card without expiry ("Không thời hạn")."""

_ALPHABET = re.compile(r"^[A-Z0-9<]*$")
_TD1_LINE, _TD3_LINE = 30, 44
_WEIGHTS = (7, 3, 1)


def _char_value(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    if c == "<":
        return 0
    raise MRZError("character outside the MRZ alphabet", field="check_digit_input", reason="mrz.charset")


def check_digit(value: str) -> str:
    """The check digit of `value` (ICAO 9303-3 §4.9): weights 7, 3, 1; A-Z = 10-35; ``<`` = 0; sum mod 10."""
    return str(sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(value)) % 10)


def verify_check_digit(
    value: str, digit: str, *, field: str, line: int | None = None, position: int | None = None
) -> None:
    """Raise MRZError (reason ``mrz.check_digit``) unless `digit` is the check digit of `value`."""
    if digit != check_digit(value):
        raise MRZError(
            f"check digit of {field} is wrong",
            field=field,
            line=line,
            position=position,
            reason="mrz.check_digit",
        )


# --- names (9303-3 §6 and Appendix B transliteration; VN rules of VN_CARD.md) -------------------------


def transliterate(name: str) -> str:
    """A name in the MRZ alphabet: Vietnamese diacritics removed, Đ/đ -> D, upper case, apostrophes
    dropped, spaces and hyphens -> ``<``, any other character dropped (9303-3 §6.A).

    >>> transliterate("Nguyễn Thị Đào")
    'NGUYEN<THI<DAO'
    """
    text = name.replace("Đ", "D").replace("đ", "d").replace("Ð", "D")
    text = unicodedata.normalize("NFKD", text)
    out = []
    for c in text:
        if unicodedata.combining(c):
            continue
        c = c.upper()
        if "A" <= c <= "Z" or "0" <= c <= "9":
            out.append(c)
        elif c in " -\t<,":
            out.append("<")
        # apostrophes and other punctuation are omitted
    return re.sub("<+", "<", "".join(out)).strip("<")


def _format_name(primary: str, secondary: str, width: int) -> str:
    """``PRIMARY<<SECONDARY`` in `width` characters.

    Decision (9303-3 §4.6 truncation, simplified): when too long, the secondary identifier is cut
    from the end first, then the primary; the ``<<`` separator is always kept when a secondary exists.
    """
    p, s = transliterate(primary), transliterate(secondary)
    if not p:
        raise MRZError("primary identifier is empty after transliteration", field="name", reason="mrz.value")
    text = f"{p}<<{s}" if s else p
    if len(text) > width:
        if s:
            room = width - len(p) - 2
            text = f"{p}<<{s[:room]}" if room > 0 else p[: width - 3] + "<<" + s[:1]
        else:
            text = p[:width]
    return text.rstrip("<").ljust(width, "<")[:width]


def _parse_name(field_text: str) -> tuple[str, str]:
    body = field_text.rstrip("<")
    if "<<" in body:
        primary, secondary = body.split("<<", 1)
    else:
        primary, secondary = body, ""
    return primary.replace("<", " ").strip(), re.sub(" +", " ", secondary.replace("<", " ")).strip()


# --- dates ---------------------------------------------------------------------------------------------


def format_mrz_date(value: dt.date | None) -> str:
    """YYMMDD of a date; None (no expiry) -> ``991231``."""
    return NO_EXPIRY if value is None else value.strftime("%y%m%d")


def parse_mrz_date(value: str, *, kind: str, today: dt.date | None = None) -> dt.date | None:
    """The date of an MRZ YYMMDD field.

    `kind` is ``"birth"`` (century chosen so the date is not in the future relative to `today`) or
    ``"expiry"`` (20YY; ``991231`` -> None, no expiry). Raises MRZError for an impossible date.
    """
    if not re.fullmatch(r"[0-9]{6}", value):
        raise MRZError("date is not six digits", field=f"date_of_{kind}", reason="mrz.format")
    if kind == "expiry" and value == NO_EXPIRY:
        return None
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    if kind == "birth":
        today = today or dt.date.today()
        year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    elif kind == "expiry":
        year = 2000 + yy
    else:
        raise ValueError(f"kind {kind!r}")
    try:
        return dt.date(year, mm, dd)
    except ValueError:
        raise MRZError("date does not exist", field=f"date_of_{kind}", reason="mrz.value") from None


_DATE = re.compile(r"^([0-9][0-9]|<<)([0-9][0-9]|<<)([0-9][0-9]|<<)$")


def _check_date_field(value: str, field_name: str, line: int, position: int) -> None:
    m = _DATE.match(value)
    if not m:
        raise MRZError(
            "date must be YYMMDD", field=field_name, line=line, position=position, reason="mrz.format"
        )
    mm, dd = m.group(2), m.group(3)
    if mm != "<<" and not 1 <= int(mm) <= 12:
        raise MRZError(
            "month out of range", field=field_name, line=line, position=position + 2, reason="mrz.value"
        )
    if dd != "<<" and not 1 <= int(dd) <= 31:
        raise MRZError(
            "day out of range", field=field_name, line=line, position=position + 4, reason="mrz.value"
        )


def mrz_information(document_number: str, date_of_birth: str, date_of_expiry: str) -> str:
    """The MRZ information of ICAO 9303-11 §9.7.2 (BAC key seed, PACE MRZ password input):
    document number (at least 9 characters, padded with ``<``) + its check digit + date of birth +
    check digit + date of expiry + check digit. Secret: never log the result."""
    number = document_number.ljust(9, "<")
    for name, value in (
        ("document_number", number),
        ("date_of_birth", date_of_birth),
        ("date_of_expiry", date_of_expiry),
    ):
        if not _ALPHABET.match(value) or not value:
            raise MRZError("not in the MRZ alphabet", field=name, reason="mrz.charset")
    return (
        number
        + check_digit(number)
        + date_of_birth
        + check_digit(date_of_birth)
        + date_of_expiry
        + check_digit(date_of_expiry)
    )


# --- the MRZ -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MRZ:
    """One MRZ, TD1 (3 x 30, ICAO 9303-5 §4.2.2) or TD3 (2 x 44, ICAO 9303-4 §4.2.2).

    Field values are as in the MRZ with fillers at the end removed; names are given with spaces
    (``primary_identifier`` = surname, ``secondary_identifier`` = given names). `optional_data_1` is
    TD1 line 1 positions 16-30 (TD3: personal number, line 2 positions 29-42); `optional_data_2` is
    TD1 line 2 positions 19-29 (unused in TD3). Dates are YYMMDD strings.
    The repr shows no field values (the MRZ is access-key material).
    """

    document_format: str  # "TD1" | "TD3"
    document_code: str
    issuing_state: str
    document_number: str
    date_of_birth: str
    sex: str
    date_of_expiry: str
    nationality: str
    primary_identifier: str
    secondary_identifier: str = ""
    optional_data_1: str = ""
    optional_data_2: str = ""
    _lines: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"MRZ(format={self.document_format}, document_code={self.document_code!r}, <redacted>)"

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def for_vn_card(
        cls,
        personal_id: str,
        full_name: str,
        date_of_birth: dt.date,
        sex: str,
        date_of_expiry: dt.date | None,
    ) -> MRZ:
        """The TD1 MRZ of a Vietnamese chip ID card (VN_CARD.md): ``ID`` ``VNM``, document number =
        digits 4-12 of `personal_id`, optional data = the 12-digit ID then ``<<`` and its check
        digit in position 30, nationality VNM, `full_name` "Family Middle Given" with diacritics:
        the first word is the primary identifier. `date_of_expiry` None = no expiry (991231)."""
        if not re.fullmatch(r"[0-9]{12}", personal_id):
            raise MRZError("personal ID must be 12 digits", field="personal_id", reason="mrz.value")
        words = full_name.split()
        if not words:
            raise MRZError("empty name", field="name", reason="mrz.value")
        sex_code = {"M": "M", "F": "F", "NAM": "M", "NỮ": "F", "NU": "F", "<": "<", "X": "X"}.get(sex.upper())
        if sex_code is None:
            raise MRZError("sex must be M, F, X or <", field="sex", reason="mrz.value")
        mrz = cls(
            document_format="TD1",
            document_code="ID",
            issuing_state="VNM",
            document_number=personal_id[3:],
            date_of_birth=format_mrz_date(date_of_birth),
            sex=sex_code,
            date_of_expiry=format_mrz_date(date_of_expiry),
            nationality="VNM",
            primary_identifier=transliterate(words[0]).replace("<", " "),
            secondary_identifier=transliterate(" ".join(words[1:])).replace("<", " "),
            optional_data_1=personal_id + "<<" + check_digit(personal_id),
        )
        return mrz

    @classmethod
    def from_text(cls, text: str, *, verify: bool = True) -> MRZ:
        return parse_mrz(text, verify=verify)

    # --- output ---------------------------------------------------------------------------------
    def _name_field(self, width: int) -> str:
        return _format_name(self.primary_identifier, self.secondary_identifier, width)

    @property
    def lines(self) -> tuple[str, ...]:
        """The MRZ lines; exactly the lines parsed when this object came from `parse_mrz`."""
        if self._lines is not None:
            return self._lines
        return self._format()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def _format(self) -> tuple[str, ...]:
        for name in (
            "document_code",
            "issuing_state",
            "nationality",
            "document_number",
            "optional_data_1",
            "optional_data_2",
            "date_of_birth",
            "date_of_expiry",
            "sex",
        ):
            if not _ALPHABET.match(getattr(self, name)):
                raise MRZError("not in the MRZ alphabet", field=name, reason="mrz.charset")
        code = self.document_code.ljust(2, "<")
        state = self.issuing_state.ljust(3, "<")
        nat = self.nationality.ljust(3, "<")
        sex = self.sex or "<"
        for name, value, size in (
            ("document_code", code, 2),
            ("issuing_state", state, 3),
            ("nationality", nat, 3),
            ("sex", sex, 1),
            ("date_of_birth", self.date_of_birth, 6),
            ("date_of_expiry", self.date_of_expiry, 6),
        ):
            if len(value) != size:
                raise MRZError(f"{name} must be {size} characters", field=name, reason="mrz.length")
        dob, doe = self.date_of_birth, self.date_of_expiry
        if self.document_format == "TD1":
            number = self.document_number
            if len(number) <= 9:
                num_field = number.ljust(9, "<") + check_digit(number.ljust(9, "<"))
                opt1 = self.optional_data_1
            else:  # 9303-5 §4.2.2 note j: long numbers continue in optional data, cd after them
                num_field = number[:9] + "<"
                opt1 = number[9:] + check_digit(number) + "<" + self.optional_data_1
            if len(opt1) > 15 or len(self.optional_data_2) > 11:
                raise MRZError("optional data too long", field="optional_data", reason="mrz.length")
            line1 = code + state + num_field + opt1.ljust(15, "<")
            line2_head = (
                dob
                + check_digit(dob)
                + sex
                + doe
                + check_digit(doe)
                + nat
                + self.optional_data_2.ljust(11, "<")
            )
            composite = line1[5:30] + line2_head[0:7] + line2_head[8:15] + line2_head[18:29]
            line2 = line2_head + check_digit(composite)
            line3 = self._name_field(30)
            return (line1, line2, line3)
        if self.document_format == "TD3":
            number = self.document_number
            if len(number) > 9:
                raise MRZError(
                    "TD3 document number longer than 9", field="document_number", reason="mrz.length"
                )
            if len(self.optional_data_1) > 14:
                raise MRZError("personal number too long", field="optional_data_1", reason="mrz.length")
            line1 = code + state + self._name_field(39)
            num = number.ljust(9, "<")
            personal = self.optional_data_1.ljust(14, "<")
            personal_cd = "<" if not self.optional_data_1 else check_digit(personal)
            head = (
                num
                + check_digit(num)
                + nat
                + dob
                + check_digit(dob)
                + sex
                + doe
                + check_digit(doe)
                + personal
                + personal_cd
            )
            composite = head[0:10] + head[13:20] + head[21:43]
            return (line1, head + check_digit(composite))
        raise MRZError(
            f"unsupported format {self.document_format!r}", field="document_format", reason="mrz.format"
        )

    # --- derived values ---------------------------------------------------------------------------
    @property
    def mrz_information(self) -> str:
        """The BAC/PACE MRZ information (9303-11 §9.7.2). Secret."""
        return mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    @property
    def name(self) -> str:
        return f"{self.primary_identifier} {self.secondary_identifier}".strip()

    def birth_date(self, today: dt.date | None = None) -> dt.date | None:
        return parse_mrz_date(self.date_of_birth, kind="birth", today=today)

    def expiry_date(self) -> dt.date | None:
        """The date of expiry; None for ``991231`` (no expiry)."""
        return parse_mrz_date(self.date_of_expiry, kind="expiry")

    @property
    def personal_id(self) -> str | None:
        """For a Vietnamese TD1: the 12-digit personal ID from the optional data, else None."""
        if self.issuing_state == "VNM" and re.fullmatch(r"[0-9]{12}", self.optional_data_1[:12]):
            return self.optional_data_1[:12]
        return None

    def verify_vn_rules(self) -> None:
        """Raise MRZError unless this is a TD1 following Vietnam's rules (VN_CARD.md): optional data =
        12-digit ID + ``<<`` + its check digit (position 30), document number = digits 4-12 of it."""
        if self.document_format != "TD1":
            raise MRZError("Vietnamese ID cards are TD1", field="document_format", reason="mrz.format")
        opt = self.optional_data_1.ljust(15, "<")
        if not re.fullmatch(r"[0-9]{12}<<[0-9]", opt):
            raise MRZError(
                "optional data must be the 12-digit ID, '<<' and its check digit",
                field="optional_data_1",
                line=1,
                position=16,
                reason="mrz.format",
            )
        pid = opt[:12]
        if opt[14] != check_digit(pid):
            raise MRZError(
                "check digit of the personal ID is wrong",
                field="personal_id_check_digit",
                line=1,
                position=30,
                reason="mrz.check_digit",
            )
        if self.document_number != pid[3:]:
            raise MRZError(
                "document number is not digits 4-12 of the personal ID",
                field="document_number",
                line=1,
                position=6,
                reason="mrz.value",
            )

    def with_fields(self, **changes: str) -> MRZ:
        """A copy with fields changed (the formatted lines are recomputed)."""
        return replace(self, _lines=None, **changes)

    def to_dict(self) -> dict[str, object]:
        """All fields, for --json output of `cancuoc mrz` (contains the MRZ: show only to its holder)."""
        return {
            "format": self.document_format,
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "date_of_birth": self.date_of_birth,
            "sex": self.sex,
            "date_of_expiry": self.date_of_expiry,
            "no_expiry": self.date_of_expiry == NO_EXPIRY,
            "nationality": self.nationality,
            "primary_identifier": self.primary_identifier,
            "secondary_identifier": self.secondary_identifier,
            "optional_data_1": self.optional_data_1,
            "optional_data_2": self.optional_data_2,
            "personal_id": self.personal_id,
        }


# --- parsing -------------------------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    raw = [ln.strip() for ln in text.strip().replace("\r", "\n").split("\n") if ln.strip()]
    if len(raw) == 1:
        one = raw[0]
        if len(one) == 90:
            return [one[0:30], one[30:60], one[60:90]]
        if len(one) == 88:
            return [one[0:44], one[44:88]]
    return raw


def _require_digit(value: str, field_name: str, line: int, position: int) -> None:
    if len(value) != 1 or value not in "0123456789":
        raise MRZError(
            "check digit must be a digit", field=field_name, line=line, position=position, reason="mrz.format"
        )


def parse_mrz(text: str, *, verify: bool = True, verify_vn: bool | None = None) -> MRZ:
    """Parse a TD1 (3 x 30) or TD3 (2 x 44) MRZ; lines separated by newlines, or one run of 90/88 chars.

    With `verify` every check digit is checked (first failure raises MRZError naming field/position).
    `verify_vn` (default: when a TD1 is issued by VNM) also checks Vietnam's rules (`MRZ.verify_vn_rules`).
    """
    if not isinstance(text, str):
        raise MRZError("MRZ must be text", field="mrz", reason="mrz.format")
    lines = _split_lines(text)
    for i, line in enumerate(lines, start=1):
        for j, c in enumerate(line, start=1):
            if not ("A" <= c <= "Z" or "0" <= c <= "9" or c == "<"):
                raise MRZError(
                    "character outside the MRZ alphabet",
                    field="mrz",
                    line=i,
                    position=j,
                    reason="mrz.charset",
                )
    shape = tuple(len(x) for x in lines)
    if shape == (30, 30, 30):
        mrz = _parse_td1(lines, verify)
    elif shape == (44, 44):
        mrz = _parse_td3(lines, verify)
    else:
        raise MRZError(
            f"{len(lines)} lines of lengths {list(shape)}: neither TD1 (3x30) nor TD3 (2x44)",
            field="mrz",
            reason="mrz.length",
        )
    if verify_vn is None:
        verify_vn = verify and mrz.document_format == "TD1" and mrz.issuing_state == "VNM"
    if verify_vn:
        mrz.verify_vn_rules()
    return mrz


def _check_document_code(code: str, allowed_first: str, line: int) -> None:
    if code[0] not in allowed_first:
        raise MRZError(
            f"document code must start with one of {allowed_first}",
            field="document_code",
            line=line,
            position=1,
            reason="mrz.value",
        )
    if code[1] not in "ABCDEFGHIJKLMNOPQRSTUWXYZ<":  # 'V' second letter is reserved (9303-5 §4.2.2 note a)
        raise MRZError(
            "invalid second character of document code",
            field="document_code",
            line=line,
            position=2,
            reason="mrz.value",
        )


def _check_sex(sex: str, line: int, position: int) -> None:
    if sex not in "MFX<":
        raise MRZError(
            "sex must be M, F, X or <", field="sex", line=line, position=position, reason="mrz.value"
        )


def _parse_td1(lines: list[str], verify: bool) -> MRZ:
    l1, l2, l3 = lines
    code = l1[0:2]
    _check_document_code(code, "ACI", 1)
    number, number_cd = l1[5:14], l1[14]
    opt1 = l1[15:30]
    if number_cd == "<" and opt1[:1] != "<" and not number.endswith("<"):
        # Long document number (9303-5 §4.2.2 note j): continues in optional data, then its cd, then '<'.
        m = re.match(r"^([A-Z0-9]*?)([0-9])<", opt1)
        if not m:
            raise MRZError(
                "long document number has no check digit",
                field="document_number",
                line=1,
                position=16,
                reason="mrz.format",
            )
        number, number_cd, opt1 = number + m.group(1), m.group(2), opt1[m.end() :]
        number_cd_pos = 16 + len(m.group(1))
    else:
        number_cd_pos = 15
        if verify:
            _require_digit(number_cd, "document_number_check_digit", 1, 15)
    dob, dob_cd, sex, doe, doe_cd = l2[0:6], l2[6], l2[7], l2[8:14], l2[14]
    nationality, opt2, composite_cd = l2[15:18], l2[18:29], l2[29]
    if verify:
        _check_date_field(dob, "date_of_birth", 2, 1)
        _check_date_field(doe, "date_of_expiry", 2, 9)
        _check_sex(sex, 2, 8)
        for value, digit, name, pos in (
            (number, number_cd, "document_number", number_cd_pos),
            (dob, dob_cd, "date_of_birth", 7),
            (doe, doe_cd, "date_of_expiry", 15),
        ):
            _require_digit(digit, f"{name}_check_digit", 1 if name == "document_number" else 2, pos)
            verify_check_digit(
                value, digit, field=name, line=1 if name == "document_number" else 2, position=pos
            )
        _require_digit(composite_cd, "composite_check_digit", 2, 30)
        verify_check_digit(
            l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], composite_cd, field="composite", line=2, position=30
        )
    primary, secondary = _parse_name(l3)
    return MRZ(
        document_format="TD1",
        document_code=code.rstrip("<") if code[1] == "<" else code,
        issuing_state=l1[2:5].rstrip("<"),
        document_number=number.rstrip("<"),
        date_of_birth=dob,
        sex=sex,
        date_of_expiry=doe,
        nationality=nationality.rstrip("<"),
        primary_identifier=primary,
        secondary_identifier=secondary,
        optional_data_1=opt1.rstrip("<"),
        optional_data_2=opt2.rstrip("<"),
        _lines=(l1, l2, l3),
    )


def _parse_td3(lines: list[str], verify: bool) -> MRZ:
    l1, l2 = lines
    code = l1[0:2]
    _check_document_code(code, "P", 1)
    number, number_cd, nationality = l2[0:9], l2[9], l2[10:13]
    dob, dob_cd, sex, doe, doe_cd = l2[13:19], l2[19], l2[20], l2[21:27], l2[27]
    personal, personal_cd, composite_cd = l2[28:42], l2[42], l2[43]
    if verify:
        _check_date_field(dob, "date_of_birth", 2, 14)
        _check_date_field(doe, "date_of_expiry", 2, 22)
        _check_sex(sex, 2, 21)
        for value, digit, name, pos in (
            (number, number_cd, "document_number", 10),
            (dob, dob_cd, "date_of_birth", 20),
            (doe, doe_cd, "date_of_expiry", 28),
        ):
            _require_digit(digit, f"{name}_check_digit", 2, pos)
            verify_check_digit(value, digit, field=name, line=2, position=pos)
        # 9303-4 §4.2.2: the personal number check digit may be '<' when the field is all fillers.
        if not (personal_cd == "<" and personal == "<" * 14):
            _require_digit(personal_cd, "optional_data_check_digit", 2, 43)
            verify_check_digit(personal, personal_cd, field="optional_data", line=2, position=43)
        _require_digit(composite_cd, "composite_check_digit", 2, 44)
        verify_check_digit(
            l2[0:10] + l2[13:20] + l2[21:43], composite_cd, field="composite", line=2, position=44
        )
    primary, secondary = _parse_name(l1[5:44])
    return MRZ(
        document_format="TD3",
        document_code=code.rstrip("<") if code[1] == "<" else code,
        issuing_state=l1[2:5].rstrip("<"),
        document_number=number.rstrip("<"),
        date_of_birth=dob,
        sex=sex,
        date_of_expiry=doe,
        nationality=nationality.rstrip("<"),
        primary_identifier=primary,
        secondary_identifier=secondary,
        optional_data_1=personal.rstrip("<"),
        _lines=(l1, l2),
    )
