"""Test helpers other areas may use: consistent synthetic personal IDs and a one-call citizen factory."""
from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from population.ids import century_sex_digit, name_key
from population.models import Citizen, FamilyLink, Residence, utcnow


def make_personal_id(province: str = "001", birth_year: int = 1990, sex: str = "M",
                     rng: random.Random | None = None) -> str:
    """A 12-digit ID consistent with province, birth year and sex (random last 6 digits)."""
    r = rng or random
    return f"{province}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}{r.randrange(1_000_000):06d}"


def make_citizen(session: Session, *, personal_id: str | None = None, full_name: str = "Nguyễn Văn An",
                 birth_year: int = 1990, birth_month: int | None = 3, birth_day: int | None = 15,
                 sex: str = "M", province: str = "001", **fields: Any) -> Citizen:
    """Insert a complete, valid citizen (with a permanent residence and parents) and flush."""
    pid = personal_id or make_personal_id(province, birth_year, sex)
    now = utcnow()
    values: dict[str, Any] = dict(
        personal_id=pid, full_name=full_name, name_key=name_key(full_name), birth_year=birth_year,
        birth_month=birth_month, birth_day=birth_day, sex=sex, birth_registration_province=pid[:3],
        birth_registration_place="Phường Phúc Xá, Quận Ba Đình, Hà Nội", place_of_birth="Hà Nội",
        place_of_origin="Xã Yên Phụ, Huyện Yên Phong, Bắc Ninh", origin_province="027", ethnicity="Kinh",
        religion="Không", nationality="VNM", marital_status="single", status="alive",
        last_verified_at=now, created_at=now, updated_at=now,
    )
    values.update(fields)
    citizen = Citizen(**values)
    session.add(citizen)
    session.flush()
    session.add(Residence(personal_id=pid, kind="permanent", address="12 Phố Huế, Hai Bà Trưng, Hà Nội",
                          unit_code="00001", province_code="001"))
    session.add(FamilyLink(personal_id=pid, relation="father", name="Nguyễn Văn Bình"))
    session.add(FamilyLink(personal_id=pid, relation="mother", name="Trần Thị Cúc"))
    session.flush()
    return citizen
