"""PKI operator endpoints: status, DS rotation, CRLs, revocation, master list, CSCA four-eyes approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from station_api import audit
from station_api.api.deps import PkiApprover, PkiOperator, PkiReader, SessionDep, StateDep
from station_api.api.schemas import (
    ApprovalOut,
    ApprovalRequest,
    CertificateSummary,
    CrlSummary,
    DsRotation,
    PkiStatus,
    RevocationRequest,
    RevocationResult,
)
from station_api.services import pki_ops as service

router = APIRouter(prefix="/pki", tags=["pki"])

ApprovalId = Annotated[
    str,
    Path(
        min_length=36,
        max_length=36,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    ),
]


def _approval_out(row) -> ApprovalOut:
    return ApprovalOut(
        id=row.id,
        operation=row.operation,
        parameters=row.parameters,
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        status=row.status,
        result=row.result,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


@router.get("/status", response_model=PkiStatus, summary="CSCA / DS / ML-signer certificates, CRLs, rotation due")
def pki_status(principal: PkiReader, state: StateDep) -> PkiStatus:
    return PkiStatus.model_validate(service.status(state.pki()))


@router.post(
    "/document-signers/rotation",
    response_model=CertificateSummary,
    status_code=status.HTTP_201_CREATED,
    summary="Rotate the Document Signer (the old one keeps verifying)",
)
def rotate_ds(body: DsRotation, principal: PkiOperator, session: SessionDep, state: StateDep) -> CertificateSummary:
    with audit.decision(session, actor=principal.actor, action="pki.rotate_ds") as d:
        cert = service.rotate_ds(state.pki(), body.reason)
        d.target, d.details = f"certificate:{cert['serial']}", {"reason": body.reason}
    return CertificateSummary.model_validate(cert)


@router.post(
    "/crls",
    response_model=list[CrlSummary],
    status_code=status.HTTP_201_CREATED,
    summary="Publish fresh CRLs (one per CSCA generation); the service's trust store reloads",
)
def publish_crl(principal: PkiOperator, session: SessionDep, state: StateDep) -> list[CrlSummary]:
    with audit.decision(session, actor=principal.actor, action="pki.publish_crl") as d:
        crls = service.publish_crl(state.pki())
        d.details = {"crls": len(crls)}
    state.reload("trust_store")
    return [CrlSummary.model_validate(c) for c in crls]


@router.post(
    "/revocations",
    response_model=RevocationResult,
    status_code=status.HTTP_201_CREATED,
    summary="Revoke a DS, ML-signer, link or service certificate (CRLs published at once)",
)
def revoke(body: RevocationRequest, principal: PkiOperator, session: SessionDep, state: StateDep) -> RevocationResult:
    with audit.decision(session, actor=principal.actor, action="pki.revoke", target=f"certificate:{body.serial}") as d:
        result = service.revoke(state.pki(), int(body.serial), body.reason)
        d.details = {"reason": body.reason}
    state.reload("trust_store")
    return RevocationResult.model_validate(result)


@router.get(
    "/master-list",
    summary="A freshly signed CSCA master list (CMS SignedData, DER)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
def master_list(principal: PkiOperator, session: SessionDep, state: StateDep) -> Response:
    with audit.decision(session, actor=principal.actor, action="pki.master_list") as d:
        data = service.master_list(state.pki())
        d.details = {"bytes": len(data)}
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="masterlist.ml"'},
    )


@router.post(
    "/approvals",
    response_model=ApprovalOut,
    status_code=status.HTTP_201_CREATED,
    summary="Request a CSCA operation; a second PKI operator must approve it",
)
def request_approval(body: ApprovalRequest, principal: PkiOperator, session: SessionDep) -> ApprovalOut:
    with audit.decision(session, actor=principal.actor, action="pki.approval.request") as d:
        row = service.request_approval(session, principal, service.CscaOperation(body.operation), {})
        d.target, d.outcome, d.details = f"approval:{row.id}", "pending", {"operation": row.operation}
    return _approval_out(row)


@router.get("/approvals", response_model=list[ApprovalOut], summary="CSCA operation requests")
def list_approvals(
    principal: PkiReader,
    session: SessionDep,
    status_filter: Annotated[str | None, Query(alias="status", pattern="^(pending|executed)$")] = None,
) -> list[ApprovalOut]:
    return [_approval_out(r) for r in service.list_approvals(session, status_filter)]


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalOut,
    summary="Approve (as a second, different PKI operator) and execute a CSCA operation",
)
def approve(approval_id: ApprovalId, principal: PkiApprover, session: SessionDep, state: StateDep) -> ApprovalOut:
    with audit.decision(
        session, actor=principal.actor, action="pki.approval.execute", target=f"approval:{approval_id}"
    ) as d:
        row = service.approve_and_execute(session, principal, approval_id, state.pki())
        d.outcome, d.details = row.status, {"operation": row.operation, "requested_by": row.requested_by}
    state.reload("trust_store")
    return _approval_out(row)
