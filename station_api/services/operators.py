"""Operator accounts and agencies: creation, password and client-certificate authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from population.models.station import StationAgency, StationOperator
from station_api import audit
from station_api.errors import ApiError, Conflict, NotFound, ProblemCode, Unauthenticated
from station_api.roles import AGENCY_FIELDS, Role
from station_api.security import burn_password_check, certificate_fingerprint, hash_password, verify_password


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    operator_id: int
    username: str
    role: Role
    agency: str | None
    method: str

    @property
    def actor(self) -> str:
        return f"operator:{self.operator_id}:{self.username}"


def create_agency(session: Session, *, code: str, name: str, permitted_fields: list[str], actor: str) -> StationAgency:
    unknown = sorted(set(permitted_fields) - set(AGENCY_FIELDS))
    if unknown:
        raise ApiError(f"unknown fields: {', '.join(unknown)}", status=422, code=ProblemCode.VALIDATION_FAILED)
    if session.get(StationAgency, code) is not None:
        raise Conflict("agency code already exists")
    agency = StationAgency(
        code=code, name=name, permitted_fields=sorted(set(permitted_fields)), created_at=datetime.now(UTC)
    )
    session.add(agency)
    audit.append(
        session,
        actor=actor,
        action="agency.create",
        target=f"agency:{code}",
        outcome="done",
        details={"permitted_fields": agency.permitted_fields},
    )
    return agency


def create_operator(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    actor: str,
    password: str | None = None,
    cert_pem: str | None = None,
    agency_code: str | None = None,
    scrypt_n: int = 2**14,
) -> StationOperator:
    """Create an account; a verifier must name an agency, and only a verifier may have one."""
    if role is Role.VERIFIER and not agency_code:
        raise ApiError("a verifier is bound to an agency", status=422, code=ProblemCode.VALIDATION_FAILED)
    if role is not Role.VERIFIER and agency_code:
        raise ApiError("only verifiers are bound to an agency", status=422, code=ProblemCode.VALIDATION_FAILED)
    if agency_code and session.get(StationAgency, agency_code) is None:
        raise NotFound("agency not found")
    if not password and not cert_pem:
        raise ApiError("a password or a client certificate is required", status=422, code=ProblemCode.VALIDATION_FAILED)
    fingerprint = None
    if cert_pem:
        try:
            fingerprint = certificate_fingerprint(x509.load_pem_x509_certificate(cert_pem.encode()))
        except ValueError as exc:
            raise ApiError("client certificate unreadable", status=422, code=ProblemCode.VALIDATION_FAILED) from exc
    if session.execute(select(StationOperator.id).where(StationOperator.username == username)).first():
        raise Conflict("username already exists")
    operator = StationOperator(
        username=username,
        display_name=display_name,
        role=role.value,
        agency_code=agency_code,
        password_hash=hash_password(password, n=scrypt_n) if password else None,
        cert_fingerprint=fingerprint,
        active=True,
        created_at=datetime.now(UTC),
    )
    session.add(operator)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("username or certificate already registered") from exc
    audit.append(
        session,
        actor=actor,
        action="operator.create",
        target=f"operator:{operator.id}:{username}",
        outcome="done",
        details={
            "role": role.value,
            "agency": agency_code,
            "password": bool(password),
            "certificate": fingerprint,
        },
    )
    return operator


def set_operator_active(session: Session, operator_id: int, active: bool, *, actor: str) -> StationOperator:
    operator = session.get(StationOperator, operator_id)
    if operator is None:
        raise NotFound("operator not found")
    operator.active = active
    audit.append(
        session,
        actor=actor,
        action="operator.activate" if active else "operator.deactivate",
        target=f"operator:{operator.id}:{operator.username}",
        outcome="done",
    )
    return operator


def authenticate_password(session: Session, username: str, password: str, *, scrypt_n: int = 2**14) -> StationOperator:
    operator = session.execute(select(StationOperator).where(StationOperator.username == username)).scalar_one_or_none()
    if operator is None or operator.password_hash is None:
        burn_password_check(password, n=scrypt_n)
        raise Unauthenticated("invalid credentials", code=ProblemCode.INVALID_CREDENTIALS)
    verify_password(password, operator.password_hash)
    if not operator.active:
        raise Unauthenticated("invalid credentials", code=ProblemCode.INVALID_CREDENTIALS)
    return operator


def authenticate_certificate(session: Session, cert: x509.Certificate) -> StationOperator:
    fingerprint = certificate_fingerprint(cert)
    operator = session.execute(
        select(StationOperator).where(StationOperator.cert_fingerprint == fingerprint)
    ).scalar_one_or_none()
    if operator is None or not operator.active:
        raise Unauthenticated("client certificate not registered", code=ProblemCode.CLIENT_CERTIFICATE_REFUSED)
    return operator


def load_principal(session: Session, operator_id: int, role: str, method: str) -> Principal:
    """Re-read the account behind a token: a deactivated account or a changed role ends its tokens."""
    operator = session.get(StationOperator, operator_id)
    if operator is None or not operator.active or operator.role != role:
        raise Unauthenticated("token no longer valid for this account", code=ProblemCode.TOKEN_INVALID)
    return Principal(operator.id, operator.username, Role(operator.role), operator.agency_code, method)
