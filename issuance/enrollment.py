"""Card applications (DESIGN.md "Issuance, step by step" 1): eligibility, portrait, four-eyes approval, queue.

State machine (every transition is one ``application_events`` row: who, when, where, from → to, why)::

    draft ──portrait passes──▶ ready ──supervisor approves──▶ approved ──station takes it──▶ personalizing
      │                          │                              ▲                            │      │
      └────────── reject / cancel ┘                              └──── card spoiled (queue) ──┘      ▼
                                                                                                 issued

All functions take the caller's SQLAlchemy session: the caller's transaction is the unit of work.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuance.errors import ApplicationError
from population.cards import valid_card
from population.citizens import get_citizen
from population.ids import mask_id as mask_personal_id
from population.models import Citizen
from population.models.issuance import (
    APPLICATION_REASONS,
    ApplicationEvent,
    CardApplication,
    CardNumberAllocation,
)

OPEN_STATES = ("draft", "ready", "approved", "personalizing")
#: Reasons for which an existing valid card is expected and will be replaced in the same transaction.
REPLACING_REASONS = ("renewal", "replacement", "lost", "damaged", "data_change")

# state → states it may move to (the only transitions `_move` accepts)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("ready", "rejected", "cancelled"),
    "ready": ("draft", "approved", "rejected", "cancelled"),
    "approved": ("personalizing", "cancelled"),
    "personalizing": ("issued", "approved"),
    "issued": (),
    "rejected": (),
    "cancelled": (),
}


@dataclass(frozen=True)
class Actor:
    """Who does a step and where: the operator, the station, the reader (audit fields)."""

    operator: str
    station: str | None = None
    reader: str | None = None


def _event(session: Session, app: CardApplication, to_state: str, actor: Actor, detail: str | None,
           from_state: str | None) -> None:
    session.add(ApplicationEvent(application_id=app.id, personal_id=app.personal_id, actor=actor.operator,
                                 station=actor.station, reader=actor.reader, from_state=from_state,
                                 to_state=to_state, detail=detail))


def _move(session: Session, app: CardApplication, to_state: str, actor: Actor,
          detail: str | None = None) -> None:
    if to_state not in TRANSITIONS[app.state]:
        raise ApplicationError(f"application {app.id} is {app.state}; cannot become {to_state}",
                               reason="APPLICATION_STATE", application_id=app.id, state=app.state)
    from_state = app.state
    app.state = to_state
    _event(session, app, to_state, actor, detail, from_state)
    session.flush()


def get_application(session: Session, application_id: int, *, for_update: bool = False) -> CardApplication:
    stmt = select(CardApplication).where(CardApplication.id == application_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    app = session.scalars(stmt).one_or_none()
    if app is None:
        raise ApplicationError(f"no application {application_id}", reason="APPLICATION_NOT_FOUND",
                               application_id=application_id)
    return app


def age_on(citizen: Citizen, day: dt.date) -> float:
    """Age in years on ``day`` (a year-only or year-month birth date counts from its first day)."""
    born = dt.date(citizen.birth_year, citizen.birth_month or 1, citizen.birth_day or 1)
    return (day - born).days / 365.2425


def missing_card_fields(citizen: Citizen) -> list[str]:
    """Fields a card cannot be composed without (DG1 MRZ and DG13, VN_CARD.md).

    Decision: a partial birth date (year-only, year-month) stops issuance. ICAO 9303-3 allows `<<`
    for an unknown day/month, but the expiry rule and the BAC key need the full date, so the
    record must be corrected first (a DC02 procedure).
    """
    missing = []
    if not citizen.full_name:
        missing.append("full_name")
    if citizen.birth_month is None or citizen.birth_day is None:
        missing.append("birth_date")
    if citizen.sex not in ("M", "F"):
        missing.append("sex")
    return missing


def data_quality_issues(session: Session, citizen: Citizen) -> list[Any]:
    """The record's "đúng, đủ, sạch" findings (population.quality.check_record) that must be resolved
    (by a DC02 correction) before a card is composed from it.

    Decision: "sống" findings (e.g. not verified for years) do not block: enrolling the citizen in person at
    the station is itself the verification; everything else does, since it would be printed and signed."""
    from population.models import Residence
    from population.quality import check_record

    has_permanent = session.scalar(select(Residence.personal_id).where(
        Residence.personal_id == citizen.personal_id, Residence.kind == "permanent")) is not None
    issues = check_record(citizen, has_permanent, as_of=dt.date.today(), stale_years=10)
    return [i for i in issues if i.category in ("dung", "du", "sach")]


def create_application(session: Session, personal_id: str, *, reason: str, actor: Actor,
                       card_generation: str = "2024", firmware_profile: str | None = None) -> CardApplication:
    """Open an application after the checks of DESIGN.md step 1: the citizen exists, is alive and not
    merged into another record, the record holds what a card needs, no other application is open, and
    no other valid card exists unless the reason replaces it (then that card is named here)."""
    if reason not in APPLICATION_REASONS:
        raise ApplicationError(f"unknown reason {reason!r}", reason="APPLICATION_REASON_UNKNOWN")
    citizen = get_citizen(session, personal_id)
    masked = mask_personal_id(personal_id)
    if citizen.status != "alive" or citizen.merged_into is not None:
        raise ApplicationError(f"citizen {masked} is {citizen.status}", reason="CITIZEN_NOT_ELIGIBLE",
                               personal_id=masked)
    missing = missing_card_fields(citizen)
    if missing:
        raise ApplicationError(f"citizen {masked} record lacks {', '.join(missing)}",
                               reason="CITIZEN_DATA_INCOMPLETE", personal_id=masked, missing=missing)
    blocking = data_quality_issues(session, citizen)
    if blocking:
        codes = sorted({f"{i.code}:{i.field}" for i in blocking})
        raise ApplicationError(f"citizen {masked} record has unresolved data-quality issues: {', '.join(codes)}",
                               reason="CITIZEN_DATA_QUALITY", personal_id=masked, issues=codes)
    open_app = session.scalars(select(CardApplication).where(
        CardApplication.personal_id == personal_id, CardApplication.state.in_(OPEN_STATES))).first()
    if open_app is not None:
        raise ApplicationError(f"application {open_app.id} is already open for {masked}",
                               reason="APPLICATION_ALREADY_OPEN", application_id=open_app.id)
    current = valid_card(session, personal_id)
    if current is not None and reason not in REPLACING_REASONS:
        raise ApplicationError(f"{masked} holds valid card {current.card_number}",
                               reason="VALID_CARD_EXISTS", card_number=current.card_number)
    app = CardApplication(personal_id=personal_id, reason=reason, state="draft",
                          card_generation=card_generation,
                          firmware_profile=firmware_profile, created_by=actor.operator, station=actor.station,
                          replaces_card_number=current.card_number if current is not None else None,
                          attempts=0)
    session.add(app)
    session.flush()
    _event(session, app, "draft", actor, f"reason={reason}", None)
    session.flush()
    return app


def attach_portrait(session: Session, application_id: int, image: Any = None, *, actor: Actor,
                    today: dt.date | None = None, max_bytes: int = 18_000, result: Any = None) -> Any:
    """Run the portrait pipeline (issuance.portrait) on ``image`` (path, bytes or array) and keep the
    result: a passing portrait moves the application to ``ready``; a failing one keeps it in ``draft``
    with the report saying which rule failed and by how much. Returns the PortraitResult.

    ``result``: a PortraitResult the pipeline already produced for this citizen (e.g. by a capture
    worker), stored as is instead of running the pipeline again."""
    from issuance.portrait import process_portrait

    app = get_application(session, application_id, for_update=True)
    if app.state not in ("draft", "ready"):
        raise ApplicationError(f"application {app.id} is {app.state}; the portrait is fixed",
                               reason="APPLICATION_STATE", application_id=app.id, state=app.state)
    if result is None:
        citizen = get_citizen(session, app.personal_id)
        age = age_on(citizen, today or dt.date.today())
        result = process_portrait(image, age_years=age, max_bytes=max_bytes)
    app.portrait_report = _plain_json({
        "passed": result.passed,
        "rules": [r.as_dict() for r in result.assessment.results],
        "bytes": len(result.encoded) if result.encoded else 0,
        "mime": result.mime,
        "quality": result.quality,
    })
    if result.passed:
        app.portrait_jpeg = result.encoded
        if app.state == "draft":
            _move(session, app, "ready", actor, f"portrait {len(result.encoded or b'')} bytes")
    else:
        failed = ", ".join(r.code for r in result.assessment.failures)
        app.portrait_jpeg = None
        if app.state == "ready":
            _move(session, app, "draft", actor, f"portrait refused: {failed}")
        else:
            _event(session, app, "draft", actor, f"portrait refused: {failed}", "draft")
    session.flush()
    return result


def _plain_json(value: Any) -> Any:
    """Numpy scalars (the portrait measurements) → plain JSON types, for the JSON column."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def approve(session: Session, application_id: int, *, actor: Actor) -> CardApplication:
    """Supervisor approval: four eyes — the approver is not the officer who created the application."""
    app = get_application(session, application_id, for_update=True)
    if actor.operator == app.created_by:
        raise ApplicationError("the officer who created an application cannot approve it",
                               reason="FOUR_EYES", application_id=app.id)
    if app.state != "ready":
        raise ApplicationError(f"application {app.id} is {app.state}, not ready", reason="APPLICATION_STATE",
                               application_id=app.id, state=app.state)
    app.approved_by = actor.operator
    _move(session, app, "approved", actor)
    return app


def reject(session: Session, application_id: int, *, actor: Actor, reason: str) -> CardApplication:
    app = get_application(session, application_id, for_update=True)
    if actor.operator == app.created_by:
        raise ApplicationError("the officer who created an application cannot decide it",
                               reason="FOUR_EYES", application_id=app.id)
    _move(session, app, "rejected", actor, reason)
    return app


def cancel(session: Session, application_id: int, *, actor: Actor, reason: str) -> CardApplication:
    app = get_application(session, application_id, for_update=True)
    _move(session, app, "cancelled", actor, reason)
    return app


def queue(session: Session, limit: int = 50) -> list[CardApplication]:
    """Approved applications waiting for a card, oldest first."""
    return list(session.scalars(select(CardApplication).where(CardApplication.state == "approved")
                                .order_by(CardApplication.id).limit(limit)))


def allocate_card_number(session: Session, application_id: int, chip_serial: str | None,
                         issue_date: dt.date) -> str:
    """A new card number, never reused (even when the card is spoiled).

    Decision: 12 digits = 2-digit issue year + 10 random digits, claimed by inserting it as a primary
    key (a collision retries). No central sequence, so it shards and needs no coordination between
    stations; the space (10^10 a year) makes collisions rare.
    """
    for _ in range(20):
        number = f"{issue_date.year % 100:02d}{secrets.randbelow(10**10):010d}"
        try:
            with session.begin_nested():
                session.add(CardNumberAllocation(card_number=number, application_id=application_id,
                                                 chip_serial=chip_serial))
            return number
        except IntegrityError:
            continue
    raise ApplicationError("could not allocate a card number", reason="CARD_NUMBER_EXHAUSTED")


def start_personalization(session: Session, application_id: int, *, actor: Actor) -> CardApplication:
    app = get_application(session, application_id, for_update=True)
    if app.portrait_jpeg is None:
        raise ApplicationError(f"application {app.id} has no accepted portrait", reason="PORTRAIT_MISSING",
                               application_id=app.id)
    app.attempts += 1
    _move(session, app, "personalizing", actor, f"attempt {app.attempts}")
    return app


def finish_issued(session: Session, application_id: int, card_number: str, *,
                  actor: Actor) -> CardApplication:
    app = get_application(session, application_id, for_update=True)
    app.card_number = card_number
    app.last_error = None
    _move(session, app, "issued", actor, f"card {card_number}")
    return app


def return_to_queue(session: Session, application_id: int, *, actor: Actor, error: str) -> CardApplication:
    """The card was spoiled: the application goes back to ``approved`` (the queue) with the reason."""
    app = get_application(session, application_id, for_update=True)
    app.last_error = error
    _move(session, app, "approved", actor, f"back to queue: {error}")
    return app


def application_history(session: Session, application_id: int) -> list[ApplicationEvent]:
    stmt = select(ApplicationEvent).where(ApplicationEvent.application_id == application_id)
    return list(session.scalars(stmt.order_by(ApplicationEvent.id)))


def application_view(app: CardApplication) -> dict[str, Any]:
    """JSON-ready view of an application (no portrait bytes; the personal ID masked)."""
    return {
        "id": app.id, "personal_id": mask_personal_id(app.personal_id), "reason": app.reason,
        "state": app.state, "card_generation": app.card_generation, "created_by": app.created_by,
        "approved_by": app.approved_by, "station": app.station, "card_number": app.card_number,
        "replaces_card_number": app.replaces_card_number, "attempts": app.attempts,
        "last_error": app.last_error, "portrait": app.portrait_report,
    }
