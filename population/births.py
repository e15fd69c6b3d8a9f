"""Civil-registry birth feed: a registered birth creates the citizen and allocates a new personal ID
(``PPP S YY RRRRRR``: province of registration, century/sex digit, birth year, 6 random digits)."""
from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from population.errors import InvalidRecord, ProcedureError
from population.ids import century_sex_digit, is_registration_code, name_key
from population.models import (
    Citizen,
    CitizenChange,
    FamilyLink,
    PersonalIdAllocation,
    Residence,
    utcnow,
)
from population.validation import BAD_PROVINCE_CODE, check_field

MAX_ALLOCATION_ATTEMPTS = 64


@dataclass(frozen=True)
class BirthRecord:
    """One birth registration as the civil registry sends it (JSON Lines: one object per line)."""

    registry_ref: str
    full_name: str
    birth_date: dt.date
    sex: str  # "M"/"F"/"Nam"/"Nữ"
    registration_province: str  # PPP of the registering province (or 101-295 abroad)
    birth_registration_place: str | None = None
    place_of_birth: str | None = None
    place_of_origin: str | None = None
    ethnicity: str | None = "Kinh"
    religion: str | None = "Không"
    nationality: str = "VNM"
    father_name: str | None = None
    father_id: str | None = None
    mother_name: str | None = None
    mother_id: str | None = None
    permanent_address: str | None = None
    permanent_unit_code: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BirthRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            if isinstance(values.get("birth_date"), str):
                values["birth_date"] = dt.date.fromisoformat(values["birth_date"])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise InvalidRecord(f"birth record: {exc}", reason="MALFORMED_ROW") from None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["birth_date"] = self.birth_date.isoformat()
        return out


def allocate_personal_id(session: Session, *, province: str, birth_year: int, sex: str, source: str,
                         source_ref: str | None, actor: str) -> str:
    """Draw ``PPP S YY`` + 6 random digits until unused (never in ``citizens`` nor ever allocated).

    The allocation row is inserted in a savepoint: a concurrent allocator drawing the same number
    loses on the primary key and draws again. Allocation rows are never deleted, so an ID is never
    handed out twice even if its birth registration is later annulled.
    """
    prefix = f"{province}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
    for _ in range(MAX_ALLOCATION_ATTEMPTS):
        candidate = f"{prefix}{secrets.randbelow(1_000_000):06d}"
        if session.get(Citizen, candidate) is not None or session.get(PersonalIdAllocation, candidate):
            continue
        try:
            with session.begin_nested():
                session.add(PersonalIdAllocation(personal_id=candidate, source=source, source_ref=source_ref,
                                                 actor=actor, allocated_at=utcnow()))
        except IntegrityError:
            continue
        return candidate
    raise ProcedureError(f"no free personal ID under {prefix}", reason="ID_SPACE_EXHAUSTED", prefix=prefix)


def register_birth(session: Session, birth: BirthRecord, *, actor: str) -> Citizen:
    """Create the newborn's record with a new personal ID. Re-feeding the same ``registry_ref`` returns
    the citizen created the first time (idempotent)."""
    prior = session.scalars(select(PersonalIdAllocation)
                            .where(PersonalIdAllocation.source_ref == birth.registry_ref)).one_or_none()
    if prior is not None:
        existing = session.get(Citizen, prior.personal_id)
        if existing is not None:
            return existing
    if not birth.registry_ref:
        raise InvalidRecord("birth record without registry reference", reason="MISSING_FIELD",
                            field="registry_ref")
    if not is_registration_code(birth.registration_province):
        raise InvalidRecord("unknown province of registration", reason=BAD_PROVINCE_CODE,
                            field="registration_province")
    full_name = check_field("full_name", birth.full_name)
    sex = check_field("sex", birth.sex)
    if birth.birth_date > dt.date.today():
        raise InvalidRecord("birth date in the future", reason="BAD_BIRTH_DATE", field="birth_date")
    extra = {name: check_field(name, getattr(birth, name)) for name in (
        "birth_registration_place", "place_of_birth", "place_of_origin", "ethnicity", "religion",
        "nationality", "father_name", "father_id", "mother_name", "mother_id", "permanent_address",
        "permanent_unit_code")}
    personal_id = allocate_personal_id(session, province=birth.registration_province,
                                       birth_year=birth.birth_date.year, sex=sex, source="birth",
                                       source_ref=birth.registry_ref, actor=actor)
    household_id = relation = None
    if extra["mother_id"]:
        mother = session.get(Citizen, extra["mother_id"])
        if mother is not None and mother.household_id:
            household_id, relation = mother.household_id, "con"
    now = utcnow()
    citizen = Citizen(
        personal_id=personal_id, full_name=full_name, name_key=name_key(full_name),
        birth_year=birth.birth_date.year, birth_month=birth.birth_date.month, birth_day=birth.birth_date.day,
        sex=sex, birth_registration_place=extra["birth_registration_place"],
        birth_registration_province=birth.registration_province, place_of_birth=extra["place_of_birth"],
        place_of_origin=extra["place_of_origin"], ethnicity=extra["ethnicity"], religion=extra["religion"],
        nationality=extra["nationality"] or "VNM", marital_status="single", status="alive",
        household_id=household_id, relation_to_head=relation, last_verified_at=now,
        created_at=now, updated_at=now,
    )
    session.add(citizen)
    session.flush()
    for rel in ("father", "mother"):
        if extra[f"{rel}_name"] or extra[f"{rel}_id"]:
            session.add(FamilyLink(personal_id=personal_id, relation=rel, name=extra[f"{rel}_name"],
                                   related_personal_id=extra[f"{rel}_id"], nationality="VNM"))
    if extra["permanent_address"]:
        session.add(Residence(personal_id=personal_id, kind="permanent", address=extra["permanent_address"],
                              unit_code=extra["permanent_unit_code"], since=birth.birth_date))
    session.add(CitizenChange(personal_id=personal_id, changed_at=now, actor=actor, procedure="BIRTH",
                              reason=f"civil registry {birth.registry_ref}", field="record", old_value=None,
                              new_value="created"))
    session.flush()
    return citizen


def read_birth_feed(lines: Iterable[str]) -> Iterator[tuple[int, BirthRecord | InvalidRecord]]:
    """JSON Lines → (line number, record or the error for that line)."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            yield line_no, InvalidRecord("not a JSON object", reason="MALFORMED_ROW")
            continue
        try:
            yield line_no, BirthRecord.from_dict(data)
        except InvalidRecord as exc:
            yield line_no, exc
