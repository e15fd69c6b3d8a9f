"""Citizen lookup for enrollment stations (population database)."""

from __future__ import annotations

from fastapi import APIRouter

from population.citizens import citizen_view
from station_api import audit
from station_api.api.deps import CitizenReader, SessionDep
from station_api.api.schemas import CitizenOut, PersonalIdQuery

router = APIRouter(prefix="/citizens", tags=["citizens"])


@router.post(
    "/lookup",
    response_model=CitizenOut,
    summary="Look a citizen up by personal ID",
    description=(
        "The personal ID travels in the body, never in the URL, so that it (and the CAN it contains, its "
        "last six digits) stays out of access logs. Every lookup, found or not, is audited."
    ),
)
def lookup(body: PersonalIdQuery, principal: CitizenReader, session: SessionDep) -> CitizenOut:
    with audit.decision(
        session, actor=principal.actor, action="citizen.lookup", target=f"citizen:{body.personal_id}"
    ) as d:
        view = citizen_view(session, body.personal_id)
        d.outcome = "found"
    return CitizenOut.model_validate(view)
