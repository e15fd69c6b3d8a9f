"""DC02 procedures: a correction/addition request is submitted with its reason, approved by a second
operator (four eyes) and then applied with history; or rejected."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from population.citizens import UPDATABLE_FIELDS, get_citizen, update_citizen
from population.errors import InvalidRecord, NotFound, ProcedureError
from population.models import Citizen, UpdateRequest, utcnow
from population.validation import MISSING_FIELD, check_field


def submit_update(session: Session, personal_id: str, changes: Mapping[str, Any], *, reason: str,
                  submitted_by: str, evidence: str | None = None) -> UpdateRequest:
    """File a DC02 request. Field values are checked now so the operator sees format errors at once."""
    citizen = get_citizen(session, personal_id)
    if not changes:
        raise InvalidRecord("nothing to change", reason=MISSING_FIELD, field="changes")
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidRecord(f"fields cannot be changed: {sorted(unknown)}", reason="UNKNOWN_FIELD",
                            field=",".join(sorted(unknown)))
    for field, value in changes.items():
        check_field(field, value)
    if not reason or not reason.strip():
        raise InvalidRecord("a DC02 request needs a reason", reason=MISSING_FIELD, field="reason")
    req = UpdateRequest(personal_id=personal_id, changes=dict(changes), reason=reason.strip(),
                        evidence=evidence, submitted_by=submitted_by, base_version=citizen.version,
                        status="pending", submitted_at=utcnow())
    session.add(req)
    session.flush()
    return req


def _pending(session: Session, request_id: int) -> UpdateRequest:
    req = session.scalars(select(UpdateRequest).where(UpdateRequest.id == request_id).with_for_update()
                          .execution_options(populate_existing=True)).one_or_none()
    if req is None:
        raise NotFound(f"no DC02 request {request_id}", reason="REQUEST_NOT_FOUND", request_id=request_id)
    if req.status != "pending":
        raise ProcedureError(f"request {request_id} is {req.status}", reason="REQUEST_NOT_PENDING",
                             request_id=request_id, status=req.status)
    return req


def approve_update(session: Session, request_id: int, *, approver: str, note: str | None = None) -> Citizen:
    """Approve and apply. Refused if the approver submitted it (four eyes) or the record changed since."""
    req = _pending(session, request_id)
    if approver == req.submitted_by:
        raise ProcedureError("the submitter cannot approve their own request", reason="FOUR_EYES",
                             request_id=request_id)
    citizen = update_citizen(session, req.personal_id, req.changes, actor=approver, reason=req.reason,
                             procedure="DC02", request_id=req.id, expected_version=req.base_version)
    req.status = "applied"
    req.decided_by = approver
    req.decided_at = utcnow()
    req.decision_note = note
    session.flush()
    return citizen


def reject_update(session: Session, request_id: int, *, approver: str, note: str) -> UpdateRequest:
    req = _pending(session, request_id)
    req.status = "rejected"
    req.decided_by = approver
    req.decided_at = utcnow()
    req.decision_note = note
    session.flush()
    return req


def pending_requests(session: Session, personal_id: str | None = None) -> list[UpdateRequest]:
    stmt = select(UpdateRequest).where(UpdateRequest.status == "pending")
    if personal_id:
        stmt = stmt.where(UpdateRequest.personal_id == personal_id)
    return list(session.scalars(stmt.order_by(UpdateRequest.id)))
