"""Synthetic Vietnamese population for demos, tests and benchmarks: names with diacritics, the 63
province codes, an age pyramid, households and families, planted duplicates and planted errors.

Everything is drawn from a seeded ``random.Random``: the same ``seed`` gives the same population.
PostgreSQL is filled with ``COPY``; SQLite with executemany INSERTs.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from population.db import copy_rows, is_postgresql
from population.ids import ascii_fold, century_sex_digit, name_key, province_names
from population.models import Citizen, FamilyLink, Household, Residence, utcnow

# Surname shares after published surveys of Vietnamese family names (rounded).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9.5),
    ("Phạm", 7),
    ("Hoàng", 3.5),
    ("Huỳnh", 2.5),
    ("Phan", 4.5),
    ("Vũ", 2.5),
    ("Võ", 1.5),
    ("Đặng", 2.1),
    ("Bùi", 2),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1),
    ("Lý", 0.5),
    ("Đinh", 0.8),
    ("Trương", 0.8),
    ("Lâm", 0.5),
    ("Mai", 0.5),
    ("Tô", 0.3),
    ("Hà", 0.5),
    ("Cao", 0.4),
    ("Lưu", 0.3),
    ("Trịnh", 0.4),
    ("Đoàn", 0.5),
    ("Tạ", 0.2),
    ("Châu", 0.2),
)
MIDDLE_M = (
    "Văn",
    "Văn",
    "Văn",
    "Hữu",
    "Đức",
    "Minh",
    "Quốc",
    "Thanh",
    "Công",
    "Xuân",
    "Quang",
    "Gia",
    "Bảo",
    "Hoàng",
    "Tuấn",
    "Anh",
)
MIDDLE_F = (
    "Thị",
    "Thị",
    "Thị",
    "Ngọc",
    "Thu",
    "Thanh",
    "Minh",
    "Kim",
    "Phương",
    "Hoài",
    "Bảo",
    "Diệu",
    "Mỹ",
    "Khánh",
    "Hồng",
)
GIVEN_M = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đức",
    "Giang",
    "Hải",
    "Hiếu",
    "Hoàng",
    "Hùng",
    "Huy",
    "Khang",
    "Khánh",
    "Khoa",
    "Lâm",
    "Long",
    "Minh",
    "Nam",
    "Nghĩa",
    "Phát",
    "Phong",
    "Phúc",
    "Quân",
    "Quang",
    "Sơn",
    "Tài",
    "Thắng",
    "Thành",
    "Thịnh",
    "Tiến",
    "Toàn",
    "Trung",
    "Tuấn",
    "Việt",
    "Vinh",
    "Vũ",
    "Duy",
    "Hưng",
    "Kiên",
    "Lộc",
    "Tùng",
    "Đạt",
    "Hậu",
    "Nhân",
    "Tâm",
    "Thái",
    "Trí",
    "Hào",
)
GIVEN_F = (
    "Anh",
    "Ánh",
    "Chi",
    "Dung",
    "Duyên",
    "Giang",
    "Hà",
    "Hằng",
    "Hạnh",
    "Hiền",
    "Hoa",
    "Hồng",
    "Huệ",
    "Hương",
    "Lan",
    "Liên",
    "Linh",
    "Loan",
    "Mai",
    "My",
    "Nga",
    "Ngân",
    "Ngọc",
    "Nhung",
    "Oanh",
    "Phương",
    "Quyên",
    "Quỳnh",
    "Tâm",
    "Thảo",
    "Thanh",
    "Thủy",
    "Thư",
    "Trang",
    "Trâm",
    "Tuyết",
    "Uyên",
    "Vân",
    "Vy",
    "Xuân",
    "Yến",
    "Nhi",
    "Hân",
    "Thu",
    "Diệp",
    "Khuê",
    "Lệ",
    "Mơ",
)
ETHNICITIES = (
    ("Kinh", 85.3),
    ("Tày", 1.9),
    ("Thái", 1.9),
    ("Mường", 1.5),
    ("Khmer", 1.4),
    ("Hoa", 0.8),
    ("Nùng", 1.1),
    ("H'Mông", 1.4),
    ("Dao", 0.9),
    ("Gia Rai", 0.5),
    ("Ê Đê", 0.4),
    ("Chăm", 0.2),
)
RELIGIONS = (
    ("Không", 86.3),
    ("Phật giáo", 4.8),
    ("Công giáo", 6.1),
    ("Cao Đài", 0.6),
    ("Tin Lành", 1.0),
    ("Phật giáo Hòa Hảo", 1.0),
)
BLOOD = (("O", 42), ("B", 30), ("A", 21), ("AB", 7))
STREETS = (
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Phan Chu Trinh",
    "Nguyễn Trãi",
    "Lê Duẩn",
    "Điện Biên Phủ",
    "Hùng Vương",
    "Bạch Đằng",
)
COMMUNES = (
    "Tân Phú",
    "An Bình",
    "Hòa Lạc",
    "Phú Mỹ",
    "Đông Hưng",
    "Yên Thế",
    "Vĩnh Phúc",
    "Thạch Hà",
    "Hưng Đạo",
    "Quảng Xương",
    "Nghĩa Đàn",
    "Tiên Du",
    "Cẩm Giàng",
    "Kim Sơn",
    "Đức Thọ",
)
# Population weights of a few large provinces (others weight 1.5): HCMC, Hà Nội, Thanh Hóa, Nghệ An, ...
PROVINCE_WEIGHT = {
    "079": 9.2,
    "001": 8.4,
    "038": 3.7,
    "040": 3.4,
    "074": 2.7,
    "075": 3.2,
    "031": 2.1,
    "089": 1.9,
    "036": 1.8,
    "034": 1.9,
    "092": 1.3,
    "048": 1.2,
}
# Age pyramid (Vietnam 2019 census, 5-year bands 0-4 ... 85+ as shares in %).
AGE_BANDS = (8.1, 8.4, 7.7, 6.6, 7.0, 8.2, 8.3, 7.9, 7.4, 6.8, 6.2, 5.6, 4.6, 3.3, 2.0, 1.3, 0.9, 0.7)

# Planted error kinds (the quality report must find them) and their share of planted errors.
ERROR_KINDS = (
    "ID_SEX_CONFLICT",
    "ID_BIRTH_YEAR_CONFLICT",
    "BAD_PHONE",
    "UNCLEAN_NAME",
    "MISSING_FIELD",
    "BAD_CMND",
    "STALE_NOT_VERIFIED",
)


@dataclass
class SeedResult:
    citizens: int = 0
    households: int = 0
    planted_duplicates: list[tuple[str, str]] = field(default_factory=list)
    planted_errors: Counter[str] = field(default_factory=Counter)
    planted_error_ids: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "citizens": self.citizens,
            "households": self.households,
            "planted_duplicates": len(self.planted_duplicates),
            "planted_errors": dict(self.planted_errors),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.citizens / self.seconds, 1) if self.seconds else 0.0,
        }


@dataclass
class _Batch:
    households: list[dict[str, Any]] = field(default_factory=list)
    citizens: list[dict[str, Any]] = field(default_factory=list)
    residences: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)


class PopulationGenerator:
    """Draws households of related people; each person is a dict of ``citizens`` columns."""

    def __init__(
        self,
        seed: int = 42,
        *,
        duplicate_rate: float = 0.005,
        error_rate: float = 0.01,
        today: dt.date | None = None,
        taken: set[str] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.today = today or dt.date.today()
        self.duplicate_rate = duplicate_rate
        self.error_rate = error_rate
        self.taken: set[str] = taken if taken is not None else set()
        self.provinces = sorted(province_names())
        self.province_names = province_names()
        self._pw = [PROVINCE_WEIGHT.get(p, 1.5) for p in self.provinces]
        self._surnames = [s for s, _ in SURNAMES]
        self._surname_w = [w for _, w in SURNAMES]
        self._eth = [e for e, _ in ETHNICITIES]
        self._eth_w = [w for _, w in ETHNICITIES]
        self._rel = [e for e, _ in RELIGIONS]
        self._rel_w = [w for _, w in RELIGIONS]
        self._hh_seq = 0
        self.planted_duplicates: list[tuple[str, str]] = []
        self.planted_errors: Counter[str] = Counter()
        self.planted_error_ids: list[tuple[str, str]] = []
        self.now = utcnow()

    # -- parts -----------------------------------------------------------------------------------------
    def province(self) -> str:
        return self.rng.choices(self.provinces, self._pw)[0]

    def name(self, sex: str, surname: str | None = None) -> str:
        r = self.rng
        middle = r.choice(MIDDLE_M if sex == "M" else MIDDLE_F)
        given = r.choice(GIVEN_M if sex == "M" else GIVEN_F)
        return f"{surname or r.choices(self._surnames, self._surname_w)[0]} {middle} {given}"

    def age_adult(self) -> int:
        band = self.rng.choices(range(5, len(AGE_BANDS)), AGE_BANDS[5:])[0]
        return min(band * 5 + self.rng.randrange(5), 99)

    def new_id(self, province: str, year: int, sex: str) -> str:
        prefix = f"{province}{century_sex_digit(year, sex)}{year % 100:02d}"
        while True:
            pid = f"{prefix}{self.rng.randrange(1_000_000):06d}"
            if pid not in self.taken:
                self.taken.add(pid)
                return pid

    def unit_code(self, province: str) -> str:
        return f"{int(province) * 300 + self.rng.randrange(300):05d}"

    def origin(self, province: str) -> str:
        r = self.rng
        return f"Xã {r.choice(COMMUNES)}, Huyện {r.choice(COMMUNES)}, {self.province_names[province]}"

    def address(self, province: str) -> str:
        r = self.rng
        return (
            f"Số {r.randrange(1, 400)} {r.choice(STREETS)}, Phường {r.choice(COMMUNES)}, "
            f"{self.province_names[province]}"
        )

    # -- people ----------------------------------------------------------------------------------------
    def person(
        self,
        *,
        sex: str,
        age: int,
        province: str,
        surname: str | None = None,
        father: dict[str, Any] | None = None,
        mother: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> dict[str, Any]:
        r = self.rng
        year = self.today.year - age
        reg_province = province if r.random() < 0.85 else self.province()
        pid = self.new_id(reg_province, year, sex)
        full_name = self.name(sex, surname)
        month: int | None = r.randrange(1, 13)
        day: int | None = r.randrange(1, 29)
        if age > 60 and r.random() < 0.04:
            month = day = None  # year-only dates survive in older records
        elif age > 50 and r.random() < 0.02:
            day = None
        orig_province = father["_province"] if father else province
        verified = self.now - dt.timedelta(days=r.randrange(0, 9 * 365))
        return {
            "personal_id": pid,
            "full_name": full_name,
            "name_key": name_key(full_name),
            "other_name": None,
            "birth_year": year,
            "birth_month": month,
            "birth_day": day,
            "sex": sex,
            "birth_registration_place": f"UBND xã {r.choice(COMMUNES)}, {self.province_names[reg_province]}",
            "birth_registration_province": reg_province,
            "place_of_birth": self.province_names[reg_province],
            "place_of_origin": origin or self.origin(orig_province),
            "origin_province": orig_province,
            "ethnicity": r.choices(self._eth, self._eth_w)[0],
            "religion": r.choices(self._rel, self._rel_w)[0],
            "nationality": "VNM",
            "marital_status": "single",
            "blood_type": r.choices([b for b, _ in BLOOD], [w for _, w in BLOOD])[0]
            if r.random() < 0.6
            else None,
            "old_cmnd": f"{r.randrange(10**8, 10**9)}" if age >= 25 and r.random() < 0.7 else None,
            "phone": f"09{r.randrange(10**8):08d}" if age >= 16 and r.random() < 0.8 else None,
            "email": None,
            "identifying_features": None,
            "status": "alive",
            "date_of_death": None,
            "date_missing": None,
            "household_id": None,
            "relation_to_head": None,
            "merged_into": None,
            "last_verified_at": verified,
            "version": 1,
            "created_at": self.now,
            "updated_at": verified,
            "_province": province,
            "_father": father,
            "_mother": mother,
        }

    def household(self) -> list[dict[str, Any]]:
        r = self.rng
        province = self.province()
        head_sex = "M" if r.random() < 0.75 else "F"
        head_age = max(20, self.age_adult())
        surname = r.choices(self._surnames, self._surname_w)[0]
        head = self.person(
            sex=head_sex, age=head_age, province=province, surname=surname if head_sex == "M" else None
        )
        members = [("chủ hộ", head)]
        spouse = None
        if head_age >= 22 and r.random() < 0.8:
            s_sex = "F" if head_sex == "M" else "M"
            spouse = self.person(
                sex=s_sex,
                age=max(18, head_age + r.randrange(-6, 4)),
                province=province,
                surname=surname if s_sex == "M" else None,
            )
            head["marital_status"] = spouse["marital_status"] = "married"
            members.append(("vợ" if s_sex == "F" else "chồng", spouse))
        father = head if head_sex == "M" else spouse
        mother = head if head_sex == "F" else spouse
        mother_age = (mother or head)["birth_year"]
        n_children = r.choices((0, 1, 2, 3, 4), (18, 27, 38, 12, 5))[0] if head_age >= 22 else 0
        for _ in range(n_children):
            age = self.today.year - mother_age - r.randrange(19, 40)
            if age < 0:
                continue
            c_sex = "M" if r.random() < 0.51 else "F"
            child = self.person(
                sex=c_sex,
                age=age,
                province=province,
                surname=(father or head)["full_name"].split()[0],
                father=father,
                mother=mother,
                origin=(father or head)["place_of_origin"],
            )
            members.append(("con", child))
        if head_age < 50 and r.random() < 0.12:
            members.append(
                (
                    "bố" if r.random() < 0.4 else "mẹ",
                    self.person(
                        sex="M" if r.random() < 0.4 else "F",
                        age=min(99, head_age + 25 + r.randrange(0, 10)),
                        province=province,
                    ),
                )
            )
        self._hh_seq += 1
        hh_id = f"HH{province}{self._hh_seq:09d}"
        for rel, p in members:
            p["household_id"] = hh_id
            p["relation_to_head"] = rel
            if rel in ("vợ", "chồng"):
                p["_spouse"] = head
                head["_spouse"] = p
        people = [p for _, p in members]
        for p in list(people):
            if r.random() < self.error_rate:
                self.plant_error(p)
            if p["birth_year"] <= self.today.year - 18 and r.random() < self.duplicate_rate:
                people.append(self.duplicate_of(p))
        return people

    def duplicate_of(self, p: dict[str, Any]) -> dict[str, Any]:
        """The same person entered a second time under another ID (legacy double registration)."""
        r = self.rng
        d = dict(p)
        other_prov = self.province()
        d["personal_id"] = self.new_id(other_prov, p["birth_year"], p["sex"])
        d["birth_registration_province"] = other_prov
        kind = r.randrange(4)
        name = p["full_name"]
        if kind == 0:
            name = ascii_fold(name)  # typed without diacritics
        elif kind == 1:
            name = name.upper()
        elif kind == 2 and p["birth_month"] is not None:
            d["birth_day"] = None  # partial date in one record
        elif kind == 3:
            parts = name.split()
            given = parts[-1]
            parts[-1] = given[:-1] + ("h" if given[-1] != "h" else "n")  # one-letter typo in the given name
            name = " ".join(parts)
        d["full_name"] = name
        d["name_key"] = name_key(name)
        d["household_id"] = None
        d["relation_to_head"] = None
        d["old_cmnd"] = None
        d["_dup_of"] = p["personal_id"]
        self.planted_duplicates.append((p["personal_id"], d["personal_id"]))
        return d

    def plant_error(self, p: dict[str, Any]) -> None:
        r = self.rng
        kind = r.choice(ERROR_KINDS)
        if kind == "ID_SEX_CONFLICT":
            p["sex"] = "F" if p["sex"] == "M" else "M"
        elif kind == "ID_BIRTH_YEAR_CONFLICT":
            p["birth_year"] += r.choice((-1, 1))
        elif kind == "BAD_PHONE":
            p["phone"] = f"09{r.randrange(10**4):04d}"
        elif kind == "UNCLEAN_NAME":
            p["full_name"] = p["full_name"].replace(" ", "  ", 1) + " "
        elif kind == "MISSING_FIELD":
            p[r.choice(("ethnicity", "place_of_origin", "religion"))] = None
        elif kind == "BAD_CMND":
            p["old_cmnd"] = f"{r.randrange(10**5):05d}"
        elif kind == "STALE_NOT_VERIFIED":
            p["last_verified_at"] = p["updated_at"] = self.now - dt.timedelta(
                days=365 * 12 + r.randrange(3000)
            )
        self.planted_errors[kind] += 1
        self.planted_error_ids.append((p["personal_id"], kind))

    def batches(self, count: int, batch_people: int = 20_000) -> Iterator[_Batch]:
        made = 0
        batch = _Batch()
        while made < count:
            people = self.household()[: count - made]
            made += len(people)
            head = people[0]
            batch.households.append(
                {
                    "household_id": head["household_id"],
                    "head_personal_id": head["personal_id"],
                    "address": None,
                    "unit_code": None,
                    "province_code": head["_province"],
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
            addr, unit = self.address(head["_province"]), self.unit_code(head["_province"])
            batch.households[-1].update(address=addr, unit_code=unit)
            for p in people:
                batch.citizens.append({k: v for k, v in p.items() if not k.startswith("_")})
                if p["household_id"]:
                    batch.residences.append(
                        {
                            "personal_id": p["personal_id"],
                            "kind": "permanent",
                            "address": addr,
                            "unit_code": unit,
                            "province_code": head["_province"],
                            "since": None,
                        }
                    )
                for rel, other in (
                    ("father", p.get("_father")),
                    ("mother", p.get("_mother")),
                    ("spouse", p.get("_spouse")),
                ):
                    if other is not None:
                        batch.links.append(
                            {
                                "personal_id": p["personal_id"],
                                "relation": rel,
                                "name": other["full_name"],
                                "related_personal_id": other["personal_id"],
                                "nationality": "VNM",
                            }
                        )
                if (
                    "_dup_of" not in p
                    and p["_father"] is None
                    and p["relation_to_head"] in ("chủ hộ", "vợ", "chồng")
                ):
                    # adults' parents are known by name only (older generation, no ID)
                    for rel, sex in (("father", "M"), ("mother", "F")):
                        if self.rng.random() < 0.9:
                            pname = self.name(sex, p["full_name"].split()[0] if sex == "M" else None)
                            p[f"_{rel}_name"] = pname
                            batch.links.append(
                                {
                                    "personal_id": p["personal_id"],
                                    "relation": rel,
                                    "name": pname,
                                    "related_personal_id": None,
                                    "nationality": "VNM",
                                }
                            )
            # duplicates copy their original's parents (same person, same parents)
            for p in people:
                if "_dup_of" in p:
                    orig = next((q for q in people if q["personal_id"] == p["_dup_of"]), None)
                    if orig is not None and orig.get("_father") is None and orig.get("_mother") is None:
                        for rel in ("father", "mother"):
                            pname = orig.get(f"_{rel}_name") or (orig.get(f"_{rel}") or {}).get("full_name")
                            if pname:
                                batch.links.append(
                                    {
                                        "personal_id": p["personal_id"],
                                        "relation": rel,
                                        "name": pname,
                                        "related_personal_id": None,
                                        "nationality": "VNM",
                                    }
                                )
            if len(batch.citizens) >= batch_people:
                yield batch
                batch = _Batch()
        if batch.citizens:
            yield batch


def _write_batch(session: Session, batch: _Batch) -> None:
    pg = is_postgresql(session)
    for attr, model in (
        (n, m)
        for n, m in (
            ("households", Household),
            ("citizens", Citizen),
            ("residences", Residence),
            ("links", FamilyLink),
        )
    ):
        rows = getattr(batch, attr)
        if not rows:
            continue
        if pg:
            cols = tuple(rows[0])
            copy_rows(session, model.__tablename__, cols, (tuple(row[c] for c in cols) for row in rows))
        else:
            session.execute(model.__table__.insert(), rows)


def seed_population(
    engine: Engine,
    count: int,
    *,
    seed: int = 42,
    duplicate_rate: float = 0.005,
    error_rate: float = 0.01,
    progress: Callable[[int, float], None] | None = None,
) -> SeedResult:
    """Add ``count`` synthetic citizens (in households) to the database, one transaction per batch."""
    started = time.monotonic()
    with Session(engine) as session:
        taken = set(session.scalars(select(Citizen.personal_id)))
    gen = PopulationGenerator(seed, duplicate_rate=duplicate_rate, error_rate=error_rate, taken=taken)
    result = SeedResult()
    for batch in gen.batches(count):
        with Session(engine) as session, session.begin():
            _write_batch(session, batch)
        result.citizens += len(batch.citizens)
        result.households += len(batch.households)
        if progress:
            progress(result.citizens, time.monotonic() - started)
    result.planted_duplicates = gen.planted_duplicates
    result.planted_errors = gen.planted_errors
    result.planted_error_ids = gen.planted_error_ids
    result.seconds = time.monotonic() - started
    return result


def dc01_rows(
    count: int, *, seed: int = 42, duplicate_rate: float = 0.005, error_rate: float = 0.0
) -> tuple[Iterator[dict[str, Any]], PopulationGenerator]:
    """The same synthetic population as DC01 form rows (text fields), e.g. to benchmark the import."""
    gen = PopulationGenerator(seed, duplicate_rate=duplicate_rate, error_rate=error_rate)

    def rows() -> Iterator[dict[str, Any]]:
        from population.validation import format_partial_date

        for batch in gen.batches(count):
            res = {r["personal_id"]: r for r in batch.residences}
            links: dict[str, dict[str, dict[str, Any]]] = {}
            for link in batch.links:
                links.setdefault(link["personal_id"], {})[link["relation"]] = link
            for c in batch.citizens:
                row = {
                    k: c.get(k)
                    for k in (
                        "personal_id",
                        "full_name",
                        "other_name",
                        "sex",
                        "birth_registration_place",
                        "birth_registration_province",
                        "place_of_birth",
                        "place_of_origin",
                        "origin_province",
                        "ethnicity",
                        "religion",
                        "nationality",
                        "marital_status",
                        "blood_type",
                        "old_cmnd",
                        "phone",
                        "email",
                        "status",
                        "household_id",
                        "relation_to_head",
                    )
                }
                row["sex"] = "Nam" if c["sex"] == "M" else "Nữ"
                row["birth_date"] = format_partial_date(c["birth_year"], c["birth_month"], c["birth_day"])
                if c["personal_id"] in res:
                    row["permanent_address"] = res[c["personal_id"]]["address"]
                    row["permanent_unit_code"] = res[c["personal_id"]]["unit_code"]
                for rel, link in links.get(c["personal_id"], {}).items():
                    row[f"{rel}_name"] = link["name"]
                    row[f"{rel}_id"] = link["related_personal_id"]
                yield row

    return rows(), gen
