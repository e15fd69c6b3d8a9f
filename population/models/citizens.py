"""Citizen records: citizens, households, residences, family links, change history, DC02 requests,
personal-ID allocations and the province reference table.

Sharding (see population/README.md): every table here except ``provinces`` (reference) and
``households`` carries ``personal_id`` as the leading column of its primary key or of its hot index,
so a Citus-style distribution on ``personal_id`` co-locates a citizen with all of their rows.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from population.models.base import Base, TimestampMixin, utcnow

PERSONAL_ID = String(12)
#: Autoincrement surrogate keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

SEXES = ("M", "F")
STATUSES = ("alive", "dead", "missing")
RESIDENCE_KINDS = ("permanent", "temporary", "current")
FAMILY_RELATIONS = ("father", "mother", "spouse", "representative")


class Province(Base):
    """Province codes of Circular 07/2016/TT-BCA annex 1 (reference table: replicated to every shard).

    Filled from ``icao9303.vn`` by :func:`population.db.sync_reference_data`, not by a migration, so
    the codes live in one place.
    """

    __tablename__ = "provinces"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Household(TimestampMixin, Base):
    """A household book (hộ khẩu): head of household and address. Members point at it."""

    __tablename__ = "households"

    household_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    head_personal_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    address: Mapped[str | None] = mapped_column(Text)
    unit_code: Mapped[str | None] = mapped_column(String(5))
    province_code: Mapped[str | None] = mapped_column(String(3))


class Citizen(TimestampMixin, Base):
    """One person in the national population database, keyed by the 12-digit personal ID.

    Decision: the birth date is stored as three columns (year, month, day); month and day may be NULL
    because real records hold year-only or year-month dates. Mandatory fields other than the ID, the
    name and the birth year are nullable at the database level: legacy records miss them, and the
    quality report ("đủ") lists them rather than the schema refusing them.

    Optimistic locking: ``version`` is the mapper's ``version_id_col``; an UPDATE that lost a race
    matches no row and raises, see :mod:`population.citizens`.
    """

    __tablename__ = "citizens"

    personal_id: Mapped[str] = mapped_column(PERSONAL_ID, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    #: ASCII, upper-case, single-spaced form of full_name (Đ → D): lookup and duplicate blocking key.
    name_key: Mapped[str] = mapped_column(String(120))
    other_name: Mapped[str | None] = mapped_column(String(120))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_registration_place: Mapped[str | None] = mapped_column(Text)
    birth_registration_province: Mapped[str | None] = mapped_column(String(3))
    place_of_birth: Mapped[str | None] = mapped_column(Text)
    place_of_origin: Mapped[str | None] = mapped_column(Text)
    origin_province: Mapped[str | None] = mapped_column(String(3))
    ethnicity: Mapped[str | None] = mapped_column(String(40))
    religion: Mapped[str | None] = mapped_column(String(40))
    nationality: Mapped[str | None] = mapped_column(String(3))
    marital_status: Mapped[str | None] = mapped_column(String(12))
    blood_type: Mapped[str | None] = mapped_column(String(3))
    old_cmnd: Mapped[str | None] = mapped_column(String(12))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    identifying_features: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="alive")
    date_of_death: Mapped[dt.date | None] = mapped_column(Date)
    date_missing: Mapped[dt.date | None] = mapped_column(Date)
    household_id: Mapped[str | None] = mapped_column(String(24), ForeignKey("households.household_id"))
    relation_to_head: Mapped[str | None] = mapped_column(String(30))
    #: Set when this record was found to duplicate another and merged into it (never deleted).
    merged_into: Mapped[str | None] = mapped_column(PERSONAL_ID)
    last_verified_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("status IN ('alive', 'dead', 'missing')", name="status"),
        CheckConstraint("birth_month IS NULL OR (birth_month BETWEEN 1 AND 12)", name="birth_month"),
        CheckConstraint("birth_day IS NULL OR (birth_month IS NOT NULL AND birth_day BETWEEN 1 AND 31)",
                        name="birth_day"),
        Index("ix_citizens_name_key_birth_year", "name_key", "birth_year"),
        Index("ix_citizens_old_cmnd", "old_cmnd"),
        Index("ix_citizens_household_id", "household_id"),
    )


class Residence(Base):
    """Permanent, temporary or current residence of a citizen, with its administrative unit codes."""

    __tablename__ = "residences"

    personal_id: Mapped[str] = mapped_column(PERSONAL_ID, ForeignKey("citizens.personal_id"),
                                             primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    address: Mapped[str] = mapped_column(Text)
    #: Ward/commune code (5 digits, Decision 124/2004/QĐ-TTg numbering; synthetic in seeded data).
    unit_code: Mapped[str | None] = mapped_column(String(5))
    province_code: Mapped[str | None] = mapped_column(String(3))
    since: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (CheckConstraint("kind IN ('permanent', 'temporary', 'current')", name="kind"),)


class FamilyLink(Base):
    """Father, mother, spouse or legal representative of a citizen: name, personal ID, nationality.

    Decision: parents' and spouse's IDs are links, not foreign keys (older relatives have no ID,
    foreign ones never will); children are the reverse lookup ``related_personal_id = X``.
    """

    __tablename__ = "family_links"

    personal_id: Mapped[str] = mapped_column(PERSONAL_ID, ForeignKey("citizens.personal_id"),
                                             primary_key=True)
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(120))
    related_personal_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    nationality: Mapped[str | None] = mapped_column(String(3))

    __table_args__ = (
        CheckConstraint("relation IN ('father', 'mother', 'spouse', 'representative')", name="relation"),
        Index("ix_family_links_related_personal_id", "related_personal_id"),
    )


class CitizenChange(Base):
    """One changed field of one citizen: who, when, why (procedure + reason), old → new."""

    __tablename__ = "citizen_changes"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    procedure: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(BIG_ID)

    __table_args__ = (Index("ix_citizen_changes_personal_id_changed_at", "personal_id", "changed_at"),)


class UpdateRequest(Base):
    """A DC02 request to correct or add data, approved by a second operator before it is applied."""

    __tablename__ = "update_requests"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: citizens.version the operator saw; a request against a stale record is refused on approval.
    base_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'applied', 'rejected')", name="status"),
        Index("ix_update_requests_personal_id", "personal_id"),
    )


class PersonalIdAllocation(Base):
    """Every personal ID the birth feed ever handed out: never reused, even if the birth is annulled."""

    __tablename__ = "personal_id_allocations"

    personal_id: Mapped[str] = mapped_column(PERSONAL_ID, primary_key=True)
    allocated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    #: The civil registry's own reference of the birth registration: re-feeding it is idempotent.
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    actor: Mapped[str] = mapped_column(String(64))
