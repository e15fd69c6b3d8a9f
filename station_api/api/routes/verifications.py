"""Verification for agencies: a fresh AA challenge, then the evidence bundle, re-verified by the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from station_api import audit
from station_api.api.deps import ReceiptSignerDep, SessionDep, StateDep, TrustStoreDep, Verifier
from station_api.api.schemas import ChallengeOut, EvidenceBundleIn, VerificationResult
from station_api.errors import ApiError, ProblemCode
from station_api.services import verification as service

router = APIRouter(prefix="/verifications", tags=["verifications"])

VerificationId = Annotated[
    str,
    Path(
        min_length=36,
        max_length=36,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    ),
]


def _evidence_size(request: Request, state: StateDep) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > state.settings.api_max_evidence_bytes * 4 // 3 + 4096:
        raise ApiError("evidence bundle too large", status=413, code=ProblemCode.BODY_TOO_LARGE)


@router.post(
    "",
    response_model=ChallengeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open a verification: a fresh single-use Active Authentication challenge for the agency",
    description=(
        "The counter sends `challenge` (8 bytes, hex) to the card in INTERNAL AUTHENTICATE (ICAO 9303-11 "
        "§6.1) and uploads the evidence bundle before `expires_at`. The challenge is bound to the caller's "
        "agency and can be answered once."
    ),
)
def open_verification(principal: Verifier, session: SessionDep, state: StateDep) -> ChallengeOut:
    with audit.refusals(session, actor=principal.actor, action="verification.challenge"):
        state.verification_limiter.hit(f"verify:{principal.operator_id}")
        row = service.open_verification(session, principal, lifetime_s=state.settings.api_challenge_lifetime_s)
    return ChallengeOut(
        verification_id=row.id,
        challenge=bytes(row.challenge).hex(),
        agency=row.agency_code,
        expires_at=row.expires_at,
    )


@router.post(
    "/{verification_id}/evidence",
    response_model=VerificationResult,
    summary="Upload the evidence bundle; the server re-verifies it and decides",
    description=(
        "The server re-verifies the bundle itself (Passive Authentication against its trust store and CRLs, "
        "Active Authentication on its own challenge, CA/CAM records), checks the card registry (status; chip "
        "keys bound at issuance) and the population record, and answers `accepted` or `refused` with stable "
        "reason codes, only the fields the agency may see (when accepted), and a receipt signed with the "
        "service's receipt key (verify with `GET /api/v1/receipts/certificate`). A challenge that is "
        "unknown (404 `challenge_unknown`), from another agency (403 `forbidden_agency`), already used (409 "
        "`challenge_used`) or expired (410 `challenge_expired`) is refused before anything is verified."
    ),
    dependencies=[Depends(_evidence_size)],
    responses={410: {"description": "challenge expired", "content": {"application/problem+json": {}}}},
)
def submit_evidence(
    verification_id: VerificationId,
    body: EvidenceBundleIn,
    principal: Verifier,
    session: SessionDep,
    state: StateDep,
    trust_store: TrustStoreDep,
    receipt_signer: ReceiptSignerDep,
) -> VerificationResult:
    with audit.refusals(
        session,
        actor=principal.actor,
        action="verification.decision",
        target=f"verification:{verification_id}",
    ):
        state.verification_limiter.hit(f"verify:{principal.operator_id}")
        outcome = service.submit_evidence(
            session,
            principal,
            verification_id,
            body.model_dump(mode="json", exclude_none=False),
            trust_store=trust_store,
            receipt_signer=receipt_signer,
        )
    state.metrics.verifications.labels(outcome.decision.value).inc()
    return VerificationResult(
        verification_id=outcome.verification_id,
        decision=outcome.decision.value,
        reasons=list(outcome.reasons),
        chip_verdict=outcome.chip_verdict,
        card_status=outcome.card_status,
        fields=dict(outcome.fields),
        mismatched_fields=list(outcome.mismatched_fields),
        receipt=dict(outcome.receipt),
        decided_at=outcome.decided_at,
        checks=[dict(c) for c in outcome.checks],
    )
