"""Enrollment over ``issuance``: applications, portraits with their quality report, four-eyes decisions,
and personalization jobs run on a named PC/SC reader of the station.

Jobs run in a small thread pool of the process (one card per reader at a time). Decision: the job row in
the database is the source of truth for status; a reader is refused while another job holds it
(``reader_busy``); a process that dies mid-job leaves the job ``running`` and the issuance layer leaves
the card ``personalized`` (never ``issued``): an operator re-queues the application.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from population.models.station import StationPersonalizationJob
from station_api import audit
from station_api.errors import ApiError, NotFound, ProblemCode
from station_api.services.operators import Principal

log = logging.getLogger("station_api")


def issuance_error(exc: Exception) -> ApiError:
    """An ``issuance`` refusal as a problem: fixed text plus the layer's stable reason."""
    reason = str(getattr(exc, "reason", "ISSUANCE_ERROR"))
    if reason == "APPLICATION_NOT_FOUND":
        return ApiError(
            "no such application", status=404, code=ProblemCode.APPLICATION_NOT_FOUND, extra={"reason": reason}
        )
    return ApiError(
        "the issuance rules refused the action", status=409, code=ProblemCode.ISSUANCE_REFUSED, extra={"reason": reason}
    )


def actor_of(principal: Principal, station: str, reader: str | None = None) -> Any:
    from issuance.enrollment import Actor

    return Actor(operator=principal.username, station=station, reader=reader)


def _guard(fn: Any) -> Any:
    from issuance.errors import IssuanceError

    try:
        return fn()
    except IssuanceError as exc:
        raise issuance_error(exc) from exc


def create_application(
    session: Session,
    principal: Principal,
    station: str,
    personal_id: str,
    reason: str,
    card_generation: str,
    firmware_profile: str | None,
) -> Any:
    from issuance import enrollment

    return _guard(
        lambda: enrollment.create_application(
            session,
            personal_id,
            reason=reason,
            actor=actor_of(principal, station),
            card_generation=card_generation,
            firmware_profile=firmware_profile,
        )
    )


def application(session: Session, application_id: int) -> tuple[Any, list[Any]]:
    from issuance import enrollment

    app = _guard(lambda: enrollment.get_application(session, application_id))
    return app, enrollment.application_history(session, application_id)


def attach_portrait(session: Session, principal: Principal, station: str, application_id: int, image: bytes) -> Any:
    from issuance import enrollment
    from issuance.portrait import PortraitError

    try:
        return _guard(
            lambda: enrollment.attach_portrait(session, application_id, image, actor=actor_of(principal, station))
        )
    except PortraitError as exc:
        raise ApiError(
            "the image cannot be used as a portrait",
            status=422,
            code=ProblemCode.PORTRAIT_UNREADABLE,
            extra={"reason": str(getattr(exc, "code", "portrait.error"))},
        ) from exc


def decide(
    session: Session, principal: Principal, station: str, application_id: int, approve: bool, reason: str | None = None
) -> Any:
    from issuance import enrollment

    actor = actor_of(principal, station)
    if approve:
        return _guard(lambda: enrollment.approve(session, application_id, actor=actor))
    return _guard(lambda: enrollment.reject(session, application_id, actor=actor, reason=reason or ""))


# --- personalization jobs ------------------------------------------------------------------------------

_ACTIVE = ("queued", "running")


def queue_job(
    session: Session, principal: Principal, application_id: int, reader: str, allowed: list[str]
) -> StationPersonalizationJob:
    from issuance import enrollment

    if allowed and reader not in allowed:
        raise ApiError("this station has no such reader", status=422, code=ProblemCode.READER_UNKNOWN)
    app = _guard(lambda: enrollment.get_application(session, application_id))
    if app.state != "approved":
        raise ApiError(
            "the application is not approved",
            status=409,
            code=ProblemCode.ISSUANCE_REFUSED,
            extra={"reason": "APPLICATION_STATE"},
        )
    busy = session.execute(
        select(StationPersonalizationJob.id).where(
            StationPersonalizationJob.reader == reader, StationPersonalizationJob.status.in_(_ACTIVE)
        )
    ).first()
    if busy:
        raise ApiError("another job is using this reader", status=409, code=ProblemCode.READER_BUSY)
    job = StationPersonalizationJob(
        id=str(uuid.uuid4()),
        application_id=application_id,
        reader=reader,
        operator_id=principal.operator_id,
        status="queued",
        created_at=datetime.now(UTC),
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> StationPersonalizationJob:
    job = session.get(StationPersonalizationJob, job_id)
    if job is None:
        raise NotFound("no such personalization job", code=ProblemCode.JOB_NOT_FOUND)
    return job


class JobRunner:
    """Runs personalization jobs in the background (a bounded thread pool of this process)."""

    def __init__(self, state: Any, workers: int = 2) -> None:
        self.state = state
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="personalize")

    def submit(self, job_id: str, principal: Principal) -> None:
        self.pool.submit(self._run, job_id, principal)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)

    def _context(self) -> Any:
        from issuance.personalize import IssuanceContext
        from issuance.station import ensure_batch_master, transport_key_function

        pki = self.state.pki()
        ensure_batch_master(pki.keystore)
        return IssuanceContext(
            engine=self.state.engine,
            pki=pki,
            trust_store=self.state.trust_store(),
            transport_key_for=transport_key_function(pki.keystore),
        )

    def _finish(
        self,
        job_id: str,
        principal: Principal,
        status: str,
        *,
        card_number: str | None = None,
        reason: str | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        with self.state.sessions() as session:
            job = session.get(StationPersonalizationJob, job_id)
            job.status, job.card_number, job.reason = status, card_number, reason
            job.timings = {k: round(v, 4) for k, v in (timings or {}).items()}
            job.finished_at = datetime.now(UTC)
            audit.append(
                session,
                actor=principal.actor,
                action="personalization.job",
                target=f"card:{card_number}" if card_number else f"job:{job_id}",
                outcome=status,
                reasons=[reason] if reason else [],
                details={"job": job_id, "application": job.application_id, "reader": job.reader},
            )
            session.commit()

    def _run(self, job_id: str, principal: Principal) -> None:
        from issuance.errors import IssuanceError
        from issuance.personalize import personalize_application
        from reader.errors import ReaderError
        from reader.transport import PcscTransport

        with self.state.sessions() as session:
            job = session.get(StationPersonalizationJob, job_id)
            job.status = "running"
            application_id, reader = job.application_id, job.reader
            session.commit()
        try:
            ctx = self._context()
            actor = actor_of(principal, self.state.settings.api_station_name, reader)
            with PcscTransport(reader, exclusive=True) as transport:
                outcome = personalize_application(ctx, application_id, transport, actor=actor)
        except (IssuanceError, ReaderError) as exc:
            self._finish(job_id, principal, "failed", reason=str(getattr(exc, "reason", type(exc).__name__))[:64])
            return
        except Exception as exc:  # never leave a job "running" because of a bug; no message (card data)
            log.error("personalization job %s failed (%s)", job_id, type(exc).__name__)
            self._finish(job_id, principal, "failed", reason="INTERNAL_ERROR")
            return
        self._finish(
            job_id,
            principal,
            "issued" if outcome.issued else "spoiled",
            card_number=outcome.card_number,
            reason=outcome.reason,
            timings=outcome.timings,
        )
