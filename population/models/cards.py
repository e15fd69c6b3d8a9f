"""The card registry: every card ever personalized, its chip keys, SOD hash, DS certificate and status."""
from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, Date, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from population.models.base import Base, TimestampMixin, utcnow
from population.models.citizens import BIG_ID, PERSONAL_ID

CARD_STATUSES = ("personalized", "issued", "lost", "stolen", "revoked", "replaced", "expired", "spoiled")
#: The only status in which a card proves identity. Decision: a card being personalized is not valid.
VALID_STATUSES = ("issued",)


class Card(TimestampMixin, Base):
    """One physical card.

    ``document_number`` is digits 4-12 of the personal ID (VN_CARD.md, MRZ line 1), so all cards of a
    person share it; ``card_number`` identifies the card itself. At most one ``issued`` card per person
    is enforced by the partial unique index ``uq_cards_one_valid_per_person`` (PostgreSQL and SQLite
    both support ``CREATE UNIQUE INDEX ... WHERE``).
    """

    __tablename__ = "cards"

    card_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    document_number: Mapped[str] = mapped_column(String(9))
    card_generation: Mapped[str] = mapped_column(String(4), default="2024")
    firmware_profile: Mapped[str] = mapped_column(String(64))
    chip_serial: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="personalized")
    status_reason: Mapped[str | None] = mapped_column(Text)
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    #: NULL = no expiry ("Không thời hạn", 991231 in the MRZ).
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    #: SHA-256 (hex) of the chip's Chip Authentication SubjectPublicKeyInfo DER (DG14), ICAO 9303-11 §6.2.
    ca_public_key_sha256: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 (hex) of the Active Authentication SubjectPublicKeyInfo DER (DG15), ICAO 9303-11 §6.1.
    aa_public_key_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Hash of the whole EF.SOD as written (hex) and its algorithm name.
    sod_hash: Mapped[str | None] = mapped_column(String(128))
    sod_hash_algorithm: Mapped[str | None] = mapped_column(String(16))
    ds_certificate: Mapped[bytes | None] = mapped_column(LargeBinary)
    ds_certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime | None] = mapped_column()
    replaces_card_number: Mapped[str | None] = mapped_column(String(32))
    replaced_by_card_number: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in CARD_STATUSES) + ")", name="status"),
        Index("ix_cards_personal_id", "personal_id"),
        Index("ix_cards_document_number", "document_number"),
        Index(
            "uq_cards_one_valid_per_person",
            "personal_id",
            unique=True,
            postgresql_where=text("status = 'issued'"),
            sqlite_where=text("status = 'issued'"),
        ),
    )


class CardEvent(Base):
    """One status transition of a card: who, when, from → to, why."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    card_number: Mapped[str] = mapped_column(String(32))
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_card_events_card_number", "card_number"),)
