"""Issuance tables (owned by issuance/): card applications, their state history, and card-number allocation.

Sharding: ``card_applications`` and ``application_events`` lead with ``personal_id`` in their hot
indexes and are looked up by application id + personal id; ``card_number_allocations`` is keyed by the
card number it hands out.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from population.models.base import Base, TimestampMixin, utcnow
from population.models.citizens import BIG_ID, PERSONAL_ID

#: Application states (issuance.enrollment.ApplicationState mirrors these, with the allowed transitions).
APPLICATION_STATES = (
    "draft",          # created, waiting for a portrait that passes
    "ready",          # portrait accepted, waiting for a supervisor
    "approved",       # four eyes done: in the personalization queue
    "personalizing",  # a station has a card on a reader for it
    "issued",         # a verified card is recorded in the registry
    "rejected",       # supervisor refused (final)
    "cancelled",      # withdrawn (final)
)
APPLICATION_REASONS = ("first_card", "renewal", "replacement", "lost", "damaged", "data_change")


class CardApplication(TimestampMixin, Base):
    """One request for a card (DC02 "issue/renew card"): who for, why, the portrait, who approved."""

    __tablename__ = "card_applications"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    reason: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    card_generation: Mapped[str] = mapped_column(String(4), default="2024")
    firmware_profile: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    station: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    portrait_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    portrait_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The card this application replaces (replacement / lost / renewal), if any.
    replaces_card_number: Mapped[str | None] = mapped_column(String(32))
    #: The card finally issued for it.
    card_number: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in APPLICATION_STATES) + ")", name="state"),
        CheckConstraint(
            "reason IN (" + ", ".join(f"'{s}'" for s in APPLICATION_REASONS) + ")", name="reason"
        ),
        Index("ix_card_applications_personal_id", "personal_id"),
        Index("ix_card_applications_state", "state"),
    )


class ApplicationEvent(Base):
    """One state transition of an application: who, when, where, from → to, why."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(BIG_ID)
    personal_id: Mapped[str] = mapped_column(PERSONAL_ID)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    station: Mapped[str | None] = mapped_column(String(64))
    reader: Mapped[str | None] = mapped_column(String(128))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_application_events_application_id", "application_id"),)


class CardNumberAllocation(Base):
    """Card numbers handed out (never reused, even for a spoiled card)."""

    __tablename__ = "card_number_allocations"

    card_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[int] = mapped_column(BIG_ID)
    chip_serial: Mapped[str | None] = mapped_column(String(32))
    allocated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
