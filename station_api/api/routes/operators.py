"""Operator accounts and agencies (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from population.models.station import StationAgency, StationOperator
from station_api import audit
from station_api.api.deps import OperatorManager, SessionDep, StateDep
from station_api.api.schemas import AgencyIn, AgencyOut, OperatorIn, OperatorOut, OperatorPatch
from station_api.services import operators as service

router = APIRouter(tags=["operators"])

OperatorId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _out(op: StationOperator) -> OperatorOut:
    return OperatorOut(
        id=op.id,
        username=op.username,
        display_name=op.display_name,
        role=op.role,
        agency=op.agency_code,
        active=op.active,
        has_password=op.password_hash is not None,
        certificate_fingerprint=op.cert_fingerprint,
    )


@router.post(
    "/agencies",
    response_model=AgencyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register an agency and the fields its verifiers may see",
)
def create_agency(body: AgencyIn, principal: OperatorManager, session: SessionDep) -> AgencyOut:
    with audit.refusals(session, actor=principal.actor, action="agency.create", target=f"agency:{body.code}"):
        agency = service.create_agency(
            session,
            code=body.code,
            name=body.name,
            permitted_fields=body.permitted_fields,
            actor=principal.actor,
        )
        session.commit()
    return AgencyOut(code=agency.code, name=agency.name, permitted_fields=agency.permitted_fields)


@router.get("/agencies", response_model=list[AgencyOut], summary="List agencies")
def list_agencies(principal: OperatorManager, session: SessionDep) -> list[AgencyOut]:
    rows = session.execute(select(StationAgency).order_by(StationAgency.code)).scalars()
    return [AgencyOut(code=a.code, name=a.name, permitted_fields=a.permitted_fields) for a in rows]


@router.post(
    "/operators",
    response_model=OperatorOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an operator account (password and/or pinned client certificate)",
)
def create_operator(body: OperatorIn, principal: OperatorManager, session: SessionDep, state: StateDep) -> OperatorOut:
    with audit.refusals(session, actor=principal.actor, action="operator.create", target=f"username:{body.username}"):
        op = service.create_operator(
            session,
            username=body.username,
            display_name=body.display_name,
            role=body.role,
            actor=principal.actor,
            password=body.password,
            cert_pem=body.client_certificate_pem,
            agency_code=body.agency,
            scrypt_n=state.settings.api_password_scrypt_n,
        )
        session.commit()
    return _out(op)


@router.get("/operators", response_model=list[OperatorOut], summary="List operator accounts")
def list_operators(principal: OperatorManager, session: SessionDep) -> list[OperatorOut]:
    return [_out(op) for op in session.execute(select(StationOperator).order_by(StationOperator.id)).scalars()]


@router.patch(
    "/operators/{operator_id}",
    response_model=OperatorOut,
    summary="Activate or deactivate an account (its tokens stop working at once)",
)
def patch_operator(
    operator_id: OperatorId, body: OperatorPatch, principal: OperatorManager, session: SessionDep
) -> OperatorOut:
    with audit.refusals(session, actor=principal.actor, action="operator.update", target=f"operator:{operator_id}"):
        op = service.set_operator_active(session, operator_id, body.active, actor=principal.actor)
        session.commit()
    return _out(op)
