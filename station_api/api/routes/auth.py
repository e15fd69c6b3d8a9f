"""Authentication: bearer tokens for operator passwords and station client certificates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select

from population.models.station import StationOperator
from station_api import audit
from station_api.api.deps import ClientAddress, Self_, SessionDep, StateDep
from station_api.api.schemas import Me, PasswordLogin, TokenResponse
from station_api.errors import ApiError, ProblemCode, Unauthenticated
from station_api.roles import ROLE_PERMISSIONS, Role
from station_api.security import parse_forwarded_certificate
from station_api.services.operators import authenticate_certificate, authenticate_password

router = APIRouter(prefix="/auth", tags=["auth"])


def _issue(state: StateDep, session: SessionDep, operator, method: str, address: str) -> TokenResponse:
    token, claims = state.tokens.issue(operator.id, operator.role, operator.agency_code, method)
    audit.append(
        session,
        actor=f"operator:{operator.id}:{operator.username}",
        action="auth.token",
        outcome="granted",
        details={"method": method, "address": address, "token_id": claims.token_id},
    )
    session.commit()
    state.metrics.logins.labels(method, "granted").inc()
    return TokenResponse(
        access_token=token,
        expires_in=claims.expires_at - claims.issued_at,
        role=Role(operator.role),
        agency=operator.agency_code,
    )


def _login_actor(session: SessionDep, username: str) -> str:
    """Who a refused password login is recorded as.

    Decision: the account is named only when it exists. An unknown "username" is often a password typed
    into the wrong field, and the audit log is append-only and hash-chained: it could never be removed.
    Both refusals run the same query, so this is no account-name oracle."""
    known = session.execute(select(StationOperator.id).where(StationOperator.username == username)).first()
    return f"username:{username}" if known is not None else "username:<unknown>"


def _refused(state: StateDep, session: SessionDep, exc: ApiError, method: str, address: str, who: str) -> None:
    audit.append_refusal(
        session,
        actor=who,
        action="auth.token",
        outcome="refused",
        reasons=[exc.code.value],
        details={"method": method, "address": address},
    )
    state.metrics.logins.labels(method, "refused").inc()


@router.post("/token", response_model=TokenResponse, summary="Exchange an operator password for a bearer token")
def password_token(body: PasswordLogin, state: StateDep, session: SessionDep, address: ClientAddress) -> TokenResponse:
    try:
        state.auth_address_limiter.hit(f"pwd:{address}")
        state.auth_limiter.hit(f"pwd:{address}:{body.username}")
        operator = authenticate_password(
            session, body.username, body.password, scrypt_n=state.settings.api_password_scrypt_n
        )
    except ApiError as exc:
        _refused(state, session, exc, "password", address, _login_actor(session, body.username))
        raise
    return _issue(state, session, operator, "password", address)


@router.post(
    "/certificate",
    response_model=TokenResponse,
    summary="Exchange a station client certificate (forwarded by the mTLS proxy) for a bearer token",
    description=(
        "The TLS proxy terminates mutual TLS, verifies the station's certificate chain and forwards the "
        "certificate URL-escaped in the `X-Client-Certificate` header (nginx `$ssl_client_escaped_cert`). "
        "The header is believed only from the configured trusted proxy addresses; the certificate is pinned "
        "by SHA-256 fingerprint to one operator account."
    ),
)
def certificate_token(
    state: StateDep,
    session: SessionDep,
    address: ClientAddress,
    x_client_certificate: Annotated[str | None, Header(max_length=16384)] = None,
) -> TokenResponse:
    who = f"address:{address}"
    try:
        state.auth_limiter.hit(f"cert:{address}")
        if address not in state.settings.api_trusted_proxies:
            raise Unauthenticated(
                "client certificates are accepted only through the TLS proxy",
                code=ProblemCode.CLIENT_CERTIFICATE_REFUSED,
            )
        if not x_client_certificate:
            raise Unauthenticated("no client certificate forwarded", code=ProblemCode.CLIENT_CERTIFICATE_REFUSED)
        cert = parse_forwarded_certificate(x_client_certificate)
        operator = authenticate_certificate(session, cert)
    except ApiError as exc:
        _refused(state, session, exc, "client_certificate", address, who)
        raise
    return _issue(state, session, operator, "client_certificate", address)


@router.get("/me", response_model=Me, summary="The authenticated caller and its permissions")
def me(principal: Self_) -> Me:
    return Me(
        operator_id=principal.operator_id,
        username=principal.username,
        role=principal.role,
        agency=principal.agency,
        method=principal.method,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[principal.role]),
    )
