"""Enrollment: card applications, portraits with their quality report, four-eyes decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool

from station_api import audit
from station_api.api.deps import (
    ApplicationCreator,
    ApplicationDecider,
    ApplicationReader,
    PortraitUploader,
    SessionDep,
    StateDep,
)
from station_api.api.schemas import ApplicationDetail, ApplicationIn, ApplicationOut, PortraitReport, Rejection
from station_api.errors import ApiError, ProblemCode
from station_api.services import enrollment as service

router = APIRouter(prefix="/applications", tags=["enrollment"])

ApplicationId = Annotated[int, Path(ge=1, le=2**62)]
PORTRAIT_TYPES = ("image/jpeg", "image/png", "image/jp2")


@router.post(
    "",
    response_model=ApplicationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open a card application for a citizen (eligibility checked)",
)
def create(body: ApplicationIn, principal: ApplicationCreator, session: SessionDep, state: StateDep) -> ApplicationOut:
    with audit.decision(
        session, actor=principal.actor, action="application.create", target=f"citizen:{body.personal_id}"
    ) as d:
        app = service.create_application(
            session,
            principal,
            state.settings.api_station_name,
            body.personal_id,
            body.reason,
            body.card_generation,
            body.firmware_profile,
        )
        d.details = {"application": app.id, "reason": body.reason}
    return ApplicationOut.from_app(app)


@router.get("", response_model=list[ApplicationOut], summary="Applications by state (approved = the queue)")
def list_applications(
    principal: ApplicationReader,
    session: SessionDep,
    state_filter: Annotated[str, Query(alias="state", pattern="^(draft|ready|approved|personalizing|issued)$")] = (
        "approved"
    ),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ApplicationOut]:
    from sqlalchemy import select

    from population.models.issuance import CardApplication

    rows = session.execute(
        select(CardApplication).where(CardApplication.state == state_filter).order_by(CardApplication.id).limit(limit)
    ).scalars()
    return [ApplicationOut.from_app(a) for a in rows]


@router.get("/{application_id}", response_model=ApplicationDetail, summary="An application and its history")
def get_application(
    application_id: ApplicationId, principal: ApplicationReader, session: SessionDep
) -> ApplicationDetail:
    app, history = service.application(session, application_id)
    return ApplicationDetail.from_app(app, history)


@router.put(
    "/{application_id}/portrait",
    response_model=PortraitReport,
    summary="Upload the portrait (JPEG, PNG or JPEG 2000 body); the quality report comes back",
    description="ISO/IEC 19794-5 token rules (issuance.portrait): a passing portrait makes the application "
    "ready for approval; a failing one keeps it in draft, and the report says which rule failed and by how much.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in PORTRAIT_TYPES},
        }
    },
    responses={415: {"description": "not an image type", "content": {"application/problem+json": {}}}},
)
async def upload_portrait(
    application_id: ApplicationId, request: Request, principal: PortraitUploader, session: SessionDep, state: StateDep
) -> PortraitReport:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in PORTRAIT_TYPES:
        raise ApiError(
            "send the image as image/jpeg, image/png or image/jp2", status=415, code=ProblemCode.VALIDATION_FAILED
        )
    image = await request.body()
    if len(image) > state.settings.api_max_portrait_bytes:
        raise ApiError("portrait too large", status=413, code=ProblemCode.BODY_TOO_LARGE)
    if not image:
        raise ApiError("empty body", status=422, code=ProblemCode.VALIDATION_FAILED)

    def work() -> PortraitReport:
        with audit.decision(
            session, actor=principal.actor, action="application.portrait", target=f"application:{application_id}"
        ) as d:
            result = service.attach_portrait(session, principal, state.settings.api_station_name, application_id, image)
            app, _history = service.application(session, application_id)
            d.outcome = "accepted" if result.passed else "refused"
            d.reasons = [r.code for r in result.assessment.failures]
            report = dict(app.portrait_report or {})
        return PortraitReport(application_id=application_id, state=app.state, **report)

    return await run_in_threadpool(work)


@router.post(
    "/{application_id}/approval",
    response_model=ApplicationOut,
    summary="Approve (supervisor; never the officer who created the application)",
)
def approve(
    application_id: ApplicationId, principal: ApplicationDecider, session: SessionDep, state: StateDep
) -> ApplicationOut:
    with audit.decision(
        session, actor=principal.actor, action="application.approve", target=f"application:{application_id}"
    ):
        app = service.decide(session, principal, state.settings.api_station_name, application_id, True)
    return ApplicationOut.from_app(app)


@router.post("/{application_id}/rejection", response_model=ApplicationOut, summary="Reject (supervisor)")
def reject(
    application_id: ApplicationId, body: Rejection, principal: ApplicationDecider, session: SessionDep, state: StateDep
) -> ApplicationOut:
    with audit.decision(
        session, actor=principal.actor, action="application.reject", target=f"application:{application_id}"
    ) as d:
        d.details = {"reason": body.reason}
        app = service.decide(session, principal, state.settings.api_station_name, application_id, False, body.reason)
    return ApplicationOut.from_app(app)
