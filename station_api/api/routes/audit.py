"""The audit log, read and verified by auditors."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from population.models.station import StationAuditEntry
from station_api import audit
from station_api.api.deps import AuditReader, SessionDep
from station_api.api.schemas import AuditEntryOut, AuditProblemOut, AuditVerificationOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/entries", response_model=list[AuditEntryOut], summary="Audit entries in chain order")
def entries(
    principal: AuditReader,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    rows = session.execute(
        select(StationAuditEntry).where(StationAuditEntry.seq > after_seq).order_by(StationAuditEntry.seq).limit(limit)
    ).scalars()
    return [
        AuditEntryOut(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target=r.target,
            outcome=r.outcome,
            reasons=json.loads(r.reasons),
            details=json.loads(r.details),
            prev_hash=r.prev_hash,
            entry_hash=r.entry_hash,
        )
        for r in rows
    ]


@router.get(
    "/verification",
    response_model=AuditVerificationOut,
    summary="Verify the whole hash chain (edited, deleted or reordered entries)",
)
def verification(principal: AuditReader, session: SessionDep) -> AuditVerificationOut:
    result = audit.verify_chain(session)
    audit.append(
        session,
        actor=principal.actor,
        action="audit.verify",
        outcome="intact" if result.intact else "broken",
        reasons=sorted({p.reason for p in result.problems}),
        details={"entries": result.entries},
    )
    session.commit()
    return AuditVerificationOut(
        intact=result.intact,
        entries=result.entries,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        problems=[AuditProblemOut(seq=p.seq, reason=p.reason, detail=p.detail) for p in result.problems],
    )
