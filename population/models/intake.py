"""DC01 bulk-import bookkeeping: jobs (checkpoint for resume), per-row rejects, and the staging table."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from population.models.base import Base, utcnow
from population.models.citizens import BIG_ID, PERSONAL_ID


class ImportJob(Base):
    """One import of one source file, identified by the file's SHA-256 so a re-run finds its job.

    The checkpoint (``lines_done``, ``byte_offset``) is committed in the same transaction as the rows
    of each chunk, so after a crash the job resumes exactly after the last committed chunk.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    source_name: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default="running")
    actor: Mapped[str] = mapped_column(String(64))
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    byte_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class ImportReject(Base):
    """A source row that was not imported: line number (1-based, header = line 1 in CSV), reason code."""

    __tablename__ = "import_rejects"

    job_id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    line_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)


class ImportStaging(Base):
    """Validated DC01 rows of the chunk being merged (filled by COPY on PostgreSQL, INSERT on SQLite).

    Rows live here only inside the chunk's transaction: they are deleted before it commits.
    """

    __tablename__ = "import_staging"

    job_id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    line_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    full_name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120))
    other_name: Mapped[str | None] = mapped_column(String(120))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(String(1))
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
    status: Mapped[str] = mapped_column(String(8))
    date_of_death: Mapped[dt.date | None] = mapped_column(Date)
    household_id: Mapped[str | None] = mapped_column(String(24))
    relation_to_head: Mapped[str | None] = mapped_column(String(30))
    permanent_address: Mapped[str | None] = mapped_column(Text)
    permanent_unit_code: Mapped[str | None] = mapped_column(String(5))
    temporary_address: Mapped[str | None] = mapped_column(Text)
    temporary_unit_code: Mapped[str | None] = mapped_column(String(5))
    current_address: Mapped[str | None] = mapped_column(Text)
    current_unit_code: Mapped[str | None] = mapped_column(String(5))
    father_name: Mapped[str | None] = mapped_column(String(120))
    father_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    mother_name: Mapped[str | None] = mapped_column(String(120))
    mother_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    spouse_name: Mapped[str | None] = mapped_column(String(120))
    spouse_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    representative_name: Mapped[str | None] = mapped_column(String(120))
    representative_id: Mapped[str | None] = mapped_column(PERSONAL_ID)
    #: Canonical serialization of the row's fields: lets the merge spot "same ID, same data" cheaply.
    fingerprint: Mapped[str] = mapped_column(String(64))


