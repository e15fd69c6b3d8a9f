"""PKI operations for PKI operators over the issuer's workspace (``pki.workspace.PKI``): status, DS
rotation, CRL publication, revocation, master list — and two-person approval for CSCA operations.

Decision (four eyes): every operation that uses a CSCA key beyond routine CRL signing — today the CSCA
rollover — is *requested* by one PKI operator and *executed* only when a second, different PKI operator
approves it; the request, the approval and the result are audited. Routine operations (rotate DS,
publish CRL, revoke a DS / ML signer / link / service certificate, export the master list) need one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from population.models.station import StationPkiApproval
from station_api import audit
from station_api.errors import ApiError, Forbidden, NotFound, ProblemCode
from station_api.services.operators import Principal


class CscaOperation(StrEnum):
    """CSCA operations that need two people."""

    ROLLOVER_CSCA = "rollover_csca"


def pki_error(exc: Exception) -> ApiError:
    """A ``pki.errors.PKIError`` as a problem: fixed text plus the layer's stable code."""
    code = str(getattr(exc, "code", "PKI_ERROR"))
    return ApiError("the PKI refused the operation", status=409, code=ProblemCode.PKI_ERROR, extra={"reason": code})


def _cert_summary(cert: Any) -> dict[str, Any]:
    return {
        "serial": str(cert.serial_number),
        "subject": cert.subject.human_friendly,
        "not_before": cert.not_valid_before.isoformat(),
        "not_after": cert.not_valid_after.isoformat(),
    }


def _run(operation: str, fn: Any) -> Any:
    from pki.errors import PKIError

    try:
        return fn()
    except PKIError as exc:
        raise pki_error(exc) from exc


def status(pki: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    data = _run("status", lambda: pki.status(now))
    data = dict(data)
    data.pop("home", None)  # a server path is nobody's business
    data["crl_due"] = _run("crl_due", lambda: pki.crl_due(now))
    return data


def rotate_ds(pki: Any, reason: str, now: datetime | None = None) -> dict[str, Any]:
    cert = _run("rotate_ds", lambda: pki.rotate_ds(now or datetime.now(UTC), reason=reason))
    return _cert_summary(cert)


def publish_crl(pki: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    crls = _run("issue_crl", lambda: pki.issue_crl(now or datetime.now(UTC)))
    out = []
    for crl in crls:
        tbs = crl["tbs_cert_list"]
        out.append(
            {
                "issuer": tbs["issuer"].human_friendly,
                "this_update": tbs["this_update"].native.isoformat(),
                "next_update": tbs["next_update"].native.isoformat() if tbs["next_update"].native else None,
                "revoked": len(tbs["revoked_certificates"]) if tbs["revoked_certificates"].native else 0,
            }
        )
    return out


def revoke(pki: Any, serial: int, reason: str, now: datetime | None = None) -> dict[str, Any]:
    _run("revoke", lambda: pki.revoke(serial, reason=reason, now=now or datetime.now(UTC)))
    return {"serial": str(serial), "reason": reason}


def master_list(pki: Any, now: datetime | None = None) -> bytes:
    return _run("master_list", lambda: pki.master_list(now or datetime.now(UTC)))


def request_approval(
    session: Session, principal: Principal, operation: CscaOperation, parameters: dict[str, Any]
) -> StationPkiApproval:
    row = StationPkiApproval(
        id=str(uuid.uuid4()),
        operation=operation.value,
        parameters=parameters,
        requested_by=principal.operator_id,
        status="pending",
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def approve_and_execute(
    session: Session, principal: Principal, approval_id: str, pki: Any, now: datetime | None = None
) -> StationPkiApproval:
    """The second person approves: the operation runs now, and its result is recorded."""
    row = session.execute(
        select(StationPkiApproval).where(StationPkiApproval.id == approval_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such approval request")
    if row.status != "pending":
        raise ApiError("the request is no longer pending", status=409, code=ProblemCode.CONFLICT)
    if row.requested_by == principal.operator_id:
        raise Forbidden("a CSCA operation needs a second person", code=ProblemCode.APPROVAL_SAME_PERSON)
    now = now or datetime.now(UTC)
    row.approved_by = principal.operator_id
    row.decided_at = now
    if row.operation == CscaOperation.ROLLOVER_CSCA.value:
        certs = _run("rollover_csca", lambda: pki.rollover_csca(now))
        row.result = {name: _cert_summary(cert) for name, cert in certs.items()}
    row.status = "executed"
    session.flush()
    return row


def list_approvals(session: Session, status: str | None = None) -> list[StationPkiApproval]:
    stmt = select(StationPkiApproval).order_by(StationPkiApproval.created_at)
    if status:
        stmt = stmt.where(StationPkiApproval.status == status)
    return list(session.execute(stmt).scalars())


def record(session: Session, principal: Principal, action: str, **details: Any) -> None:
    audit.append(session, actor=principal.actor, action=action, outcome="done", details=details)
