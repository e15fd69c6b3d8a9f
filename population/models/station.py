"""Tables of the station API (engineer H): operators, agencies, hash-chained audit log, AA challenges,
two-person PKI approvals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from population.models.base import Base

SEQ = BigInteger().with_variant(Integer(), "sqlite")


class StationAgency(Base):
    """An agency whose verifiers may see only ``permitted_fields`` of a verified card holder."""

    __tablename__ = "station_agencies"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    permitted_fields: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


class StationOperator(Base):
    """A person (password) or a station (client certificate pinned by SHA-256 fingerprint) with one role."""

    __tablename__ = "station_operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    agency_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("station_agencies.code"), nullable=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column()


class StationAuditEntry(Base):
    """One audit log entry; ``entry_hash`` = SHA-256 over ``prev_hash`` and the canonical entry
    (see ``station_api.audit``). Append-only: the service never updates or deletes a row."""

    __tablename__ = "station_audit_entries"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC with microseconds, hashed as text
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[str] = mapped_column(Text)  # canonical JSON list of reason codes
    details: Mapped[str] = mapped_column(Text)  # canonical JSON object, secret-free
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class StationAuditHead(Base):
    """The chain head (single row, id 1), updated in the same transaction as each append, so that
    deleting the newest entries is detected too."""

    __tablename__ = "station_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(SEQ)
    entry_hash: Mapped[str] = mapped_column(String(64))


class StationChallenge(Base):
    """A single-use Active Authentication challenge (ICAO 9303-11 §6.1, 8-byte RND.IFD) for one agency."""

    __tablename__ = "station_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(32), ForeignKey("station_agencies.code"))
    operator_id: Mapped[int] = mapped_column(Integer, ForeignKey("station_operators.id"))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)


class StationPkiApproval(Base):
    """A CSCA operation waiting for (or given) the second person's approval."""

    __tablename__ = "station_pki_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, object]] = mapped_column(JSON)
    requested_by: Mapped[int] = mapped_column(Integer, ForeignKey("station_operators.id"))
    approved_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("station_operators.id"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16))  # pending | executed | failed | rejected
    result: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class StationPersonalizationJob(Base):
    """A personalization job: one approved application, one named reader of the station.

    Status: ``queued`` → ``running`` → ``issued`` | ``spoiled`` (the card failed; the application is back in
    the queue) | ``failed`` (refused before the card was touched, e.g. no card in the reader)."""

    __tablename__ = "station_personalization_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[int] = mapped_column(SEQ)
    reader: Mapped[str] = mapped_column(String(128), index=True)
    operator_id: Mapped[int] = mapped_column(Integer, ForeignKey("station_operators.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    card_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    timings: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
