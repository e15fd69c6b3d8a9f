"""Annotated dependency aliases (FastAPI bigger-application layout): state, session, caller, permission."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from station_api import audit
from station_api.errors import Forbidden, ProblemCode, Unauthenticated
from station_api.receipts import ReceiptSigner
from station_api.roles import Permission, role_has
from station_api.services.operators import Principal, load_principal
from station_api.state import AppState

_bearer = HTTPBearer(auto_error=False, description="short-lived token from POST /api/v1/auth/token")


def get_state(request: Request) -> AppState:
    return request.app.state.cancuoc


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request; services commit explicitly, anything uncommitted is rolled back."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("bearer token required")
    claims = state.tokens.verify(credentials.credentials)
    return load_principal(session, claims.operator_id, claims.role, claims.method)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: Permission) -> Any:
    """``Depends`` that admits only roles holding ``permission`` and audits every refusal."""

    def dependency(principal: PrincipalDep, session: SessionDep, request: Request) -> Principal:
        if not role_has(principal.role, permission):
            route = request.scope.get("route")
            audit.append_refusal(
                session,
                actor=principal.actor,
                action="access.denied",
                target=f"{request.method} {getattr(route, 'path', '')}",
                outcome="refused",
                reasons=[ProblemCode.FORBIDDEN_ROLE.value],
                details={"role": principal.role.value, "permission": permission.value},
            )
            raise Forbidden(f"role {principal.role.value} lacks permission {permission.value}")
        return principal

    dependency.__name__ = f"requires_{permission.name.lower()}"
    dependency.permission = permission  # type: ignore[attr-defined]  # read by the OpenAPI extension
    return Depends(dependency)


def _alias(permission: Permission) -> Any:
    return Annotated[Principal, requires(permission)]


Self_ = _alias(Permission.SELF)
CitizenReader = _alias(Permission.CITIZENS_READ)
CardReader = _alias(Permission.CARDS_READ)
CardReporter = _alias(Permission.CARDS_REPORT)
CardRevoker = _alias(Permission.CARDS_REVOKE)
CardReplacer = _alias(Permission.CARDS_REPLACE)
Verifier = _alias(Permission.VERIFICATIONS)
AuditReader = _alias(Permission.AUDIT_READ)
OperatorManager = _alias(Permission.OPERATORS_MANAGE)
PkiReader = _alias(Permission.PKI_READ)
PkiOperator = _alias(Permission.PKI_OPERATE)
PkiApprover = _alias(Permission.PKI_APPROVE)
ApplicationCreator = _alias(Permission.APPLICATIONS_CREATE)
ApplicationReader = _alias(Permission.APPLICATIONS_READ)
ApplicationDecider = _alias(Permission.APPLICATIONS_DECIDE)
PortraitUploader = _alias(Permission.PORTRAIT_UPLOAD)
JobStarter = _alias(Permission.JOBS_RUN)
JobReader = _alias(Permission.JOBS_READ)


def get_trust_store(state: StateDep) -> Any:
    """The service's own trust store (CSCAs, link certificates, CRLs); 503 when it cannot be loaded."""
    return state.trust_store()


def get_receipt_signer(state: StateDep) -> ReceiptSigner:
    return state.receipt_signer()


TrustStoreDep = Annotated[Any, Depends(get_trust_store)]
ReceiptSignerDep = Annotated[ReceiptSigner, Depends(get_receipt_signer)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]

PERMISSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No valid bearer token (problem details, code `unauthenticated`, `token_invalid`, "
        "`token_expired`)",
        "content": {"application/problem+json": {}},
    },
    403: {
        "description": "The caller's role lacks the permission (code `forbidden_role`)",
        "content": {"application/problem+json": {}},
    },
}

Handler = Callable[..., Any]
