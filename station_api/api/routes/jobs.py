"""Personalization jobs on a named PC/SC reader of the station, and their status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from station_api import audit
from station_api.api.deps import JobReader, JobStarter, SessionDep, StateDep
from station_api.api.schemas import JobIn, JobOut
from station_api.services import enrollment as service

router = APIRouter(prefix="/personalization-jobs", tags=["enrollment"])

JobId = Annotated[
    str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


@router.post(
    "",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Personalize the blank card in a named reader for an approved application",
    description="Runs in the background: composition, chip key generation, SOD signed by the current "
    "Document Signer, writing, locking, read-back verification; only a card that passes read-back is "
    "issued. Poll `GET /api/v1/personalization-jobs/{job_id}`.",
)
def start_job(body: JobIn, principal: JobStarter, session: SessionDep, state: StateDep) -> JobOut:
    with audit.decision(
        session, actor=principal.actor, action="personalization.start", target=f"application:{body.application_id}"
    ) as d:
        job = service.queue_job(
            session, principal, body.application_id, body.reader, state.settings.api_station_readers
        )
        d.outcome, d.details = "queued", {"job": job.id, "reader": body.reader}
    state.job_runner().submit(job.id, principal)
    return JobOut.from_job(job)


@router.get("/{job_id}", response_model=JobOut, summary="Job status (queued, running, issued, spoiled, failed)")
def get_job(job_id: JobId, principal: JobReader, session: SessionDep) -> JobOut:
    return JobOut.from_job(service.get_job(session, job_id))
