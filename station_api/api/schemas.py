"""Request and response models of the station API, with the limits every input carries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from station_api.roles import AGENCY_FIELDS, Role

Username = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
NewPassword = Annotated[str, StringConstraints(min_length=12, max_length=256)]
AgencyCode = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$")]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
PersonalId = Annotated[str, StringConstraints(min_length=12, max_length=12, pattern=r"^[0-9]{12}$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]
AgencyField = Literal[AGENCY_FIELDS]  # type: ignore[valid-type]  # the vocabulary of station_api.roles


def _utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes for ``DateTime(timezone=True)``; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: An RFC 3339 date-time with its offset in every response, whatever the database returned.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is the stable machine-readable code."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://cancuoc.example/problems/forbidden_role",
                    "title": "Forbidden",
                    "status": 403,
                    "code": "forbidden_role",
                    "detail": "role verifier lacks permission citizens:read",
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None


# --- auth ------------------------------------------------------------------------------------------


class PasswordLogin(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "officer.hn01", "password": "correct horse battery staple"}]},
    )
    username: Username
    password: Password


class TokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "v1.eyJzdWIiOjF9.c2lnbmF0dXJl",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "role": "verifier",
                    "agency": "bank-a",
                }
            ]
        }
    )
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    role: Role
    agency: str | None = None


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operator_id": 3,
                    "username": "counter.bank-a",
                    "role": "verifier",
                    "agency": "bank-a",
                    "method": "password",
                    "permissions": ["self:read", "verifications:run"],
                }
            ]
        }
    )
    operator_id: int
    username: str
    role: Role
    agency: str | None
    method: str
    permissions: list[str]


# --- operators and agencies ------------------------------------------------------------------------


class AgencyIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "bank-a",
                    "name": "Bank A, Hà Nội branch",
                    "permitted_fields": ["personal_id", "full_name"],
                }
            ]
        },
    )
    code: AgencyCode
    name: DisplayName
    permitted_fields: list[AgencyField] = Field(max_length=len(AGENCY_FIELDS), description="fields its verifiers see")


class AgencyOut(BaseModel):
    code: str
    name: str
    permitted_fields: list[str]


class OperatorIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "counter.bank-a",
                    "display_name": "Counter 1, Bank A",
                    "role": "verifier",
                    "agency": "bank-a",
                    "password": "a long passphrase here",
                }
            ]
        },
    )
    username: Username
    display_name: DisplayName
    role: Role
    agency: AgencyCode | None = None
    password: NewPassword | None = None
    client_certificate_pem: Annotated[str, StringConstraints(max_length=8192)] | None = Field(
        default=None, description="station client certificate (PEM), pinned by SHA-256 fingerprint"
    )


class OperatorOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    agency: str | None
    active: bool
    has_password: bool
    certificate_fingerprint: str | None


class OperatorPatch(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    active: bool


# --- audit -----------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: str | None
    outcome: str
    reasons: list[str]
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditProblemOut(BaseModel):
    seq: int | None
    reason: str
    detail: str


class AuditVerificationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"intact": True, "entries": 42, "head_seq": 42, "head_hash": "ab" * 32, "problems": []}]
        }
    )
    intact: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblemOut]


# --- health ----------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ready": True, "checks": {"database": "ok", "trust_store": "ok"}}]}
    )
    ready: bool
    checks: dict[str, str]


class Page(BaseModel):
    next_after: int | None = None


# --- citizens and cards ----------------------------------------------------------------------------


class PersonalIdQuery(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"personal_id": "079090012345"}]})
    personal_id: PersonalId


class CitizenOut(BaseModel):
    """The population record (``population.citizens.citizen_view``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "personal_id": "079090012345",
                    "full_name": "Nguyễn Văn An",
                    "birth_date": "15/03/1990",
                    "sex": "M",
                    "status": "alive",
                    "version": 1,
                    "residences": {
                        "permanent": {
                            "address": "12 Lý Thường Kiệt, Hà Nội",
                            "unit_code": "00001",
                            "province_code": "001",
                        }
                    },
                    "family": {},
                }
            ]
        },
    )
    personal_id: str
    full_name: str
    birth_date: str | None = None
    sex: str | None = None
    status: str
    version: int
    residences: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    family: dict[str, dict[str, str | None]] = Field(default_factory=dict)


class CardOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "card_number": "C0000001",
                    "personal_id": "079090012345",
                    "document_number": "090012345",
                    "status": "issued",
                    "status_reason": None,
                    "card_generation": "2024",
                    "firmware_profile": "vn-2024",
                    "issue_date": "2026-11-29",
                    "expiry_date": "2030-03-15",
                    "issued_at": "2026-11-29T10:00:00+00:00",
                    "replaces_card_number": None,
                    "replaced_by_card_number": None,
                    "aa_public_key_sha256": "ab" * 32,
                    "ca_public_key_sha256": "cd" * 32,
                    "ds_certificate_sha256": "ef" * 32,
                }
            ]
        }
    )
    card_number: str
    personal_id: str
    document_number: str
    status: str
    status_reason: str | None
    card_generation: str
    firmware_profile: str
    issue_date: date | None
    expiry_date: date | None
    issued_at: UtcDatetime | None
    replaces_card_number: str | None
    replaced_by_card_number: str | None
    aa_public_key_sha256: str | None
    ca_public_key_sha256: str | None
    ds_certificate_sha256: str | None

    @classmethod
    def from_card(cls, card: Any) -> CardOut:
        return cls.model_validate({name: getattr(card, name) for name in cls.model_fields})


class CardEventOut(BaseModel):
    at: UtcDatetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str | None


class CardDetail(CardOut):
    history: list[CardEventOut]

    @classmethod
    def from_card(cls, card: Any, history: list[Any] | None = None) -> CardDetail:  # type: ignore[override]
        data = {name: getattr(card, name) for name in CardOut.model_fields}
        data["history"] = [
            CardEventOut(at=e.at, actor=e.actor, from_status=e.from_status, to_status=e.to_status, reason=e.reason)
            for e in history or []
        ]
        return cls.model_validate(data)


class LossReport(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"stolen": False, "note": "lost at the market"}]}
    )
    stolen: bool = False
    note: ShortText | None = None


class Revocation(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "court order 12/2026"}]})
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


# --- verification ----------------------------------------------------------------------------------

Base64Text = Annotated[str, StringConstraints(max_length=90_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]


class ChallengeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verification_id": "6f1c3a52-1f7b-4a53-9a51-6a3f0f1f2c11",
                    "challenge": "a1b2c3d4e5f60718",
                    "agency": "bank-a",
                    "expires_at": "2026-11-29T10:02:00+00:00",
                }
            ]
        }
    )
    verification_id: str
    challenge: str = Field(description="8-byte RND.IFD for INTERNAL AUTHENTICATE, hex")
    agency: str
    expires_at: UtcDatetime


class EvidenceBundleIn(BaseModel):
    """An evidence bundle, format ``cancuoc-evidence/1`` (``reader.evidence``): files as read, AA answer,
    CA/CAM record, certificates. Checked by the server, never trusted."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "format": "cancuoc-evidence/1",
                    "read_at": "2026-11-29T10:01:00+00:00",
                    "files": {"EF.COM": "YBRfAQQwMTA4XDcGYXVvbXBt", "DG1": "YVtfH1g..."},
                    "aa": {"challenge": "a1b2c3d4e5f60718", "signature": "3045..."},
                }
            ]
        },
    )
    format: Annotated[str, StringConstraints(max_length=32)]
    read_at: Annotated[str, StringConstraints(max_length=40)]
    files: dict[Annotated[str, StringConstraints(max_length=16)], Base64Text] = Field(max_length=32)
    certificates: list[Base64Text] = Field(default_factory=list, max_length=8)


class VerificationResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verification_id": "6f1c3a52-1f7b-4a53-9a51-6a3f0f1f2c11",
                    "decision": "accepted",
                    "reasons": [],
                    "chip_verdict": "passed",
                    "card_status": "issued",
                    "mismatched_fields": [],
                    "fields": {"personal_id": "079090012345", "full_name": "Nguyễn Văn An"},
                    "decided_at": "2026-11-29T10:01:02+00:00",
                    "checks": [{"id": "aa", "outcome": "passed", "reason": "OK"}],
                    "receipt": {
                        "format": "cancuoc-receipt/1",
                        "payload": {"decision": "accepted"},
                        "signature": "MEUCIQ...",
                        "signature_algorithm": "ecdsa-with-SHA256",
                        "certificate_sha256": "ab" * 32,
                    },
                }
            ]
        }
    )
    verification_id: str
    decision: str = Field(description="accepted | refused")
    reasons: list[str] = Field(description="stable reason codes (reader.ReasonCode and the server's own)")
    chip_verdict: str
    card_status: str | None
    fields: dict[str, Any] = Field(description="only the agency's permitted fields; empty when refused")
    mismatched_fields: list[str]
    decided_at: UtcDatetime
    checks: list[dict[str, str]]
    receipt: dict[str, Any]


# --- PKI -------------------------------------------------------------------------------------------


class CertificateSummary(BaseModel):
    serial: str
    subject: str
    not_before: str
    not_after: str


class PkiCertificateRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    label: str | None = None
    serial: str
    status: str
    subject: str
    not_before: str
    not_after: str


class PkiStatus(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "country": "VN",
                    "now": "2026-11-29T10:00:00+00:00",
                    "ds_rotation_due": None,
                    "crl_due": False,
                    "certificates": [
                        {
                            "role": "csca",
                            "label": "csca-1",
                            "serial": "1234",
                            "status": "current",
                            "subject": "Country: VN, Common Name: CSCA Vietnam 01",
                            "not_before": "2026-11-29T10:00:00",
                            "not_after": "2041-11-29T10:00:00",
                        }
                    ],
                    "crls": [],
                }
            ]
        },
    )
    country: str
    now: str
    certificates: list[PkiCertificateRow]
    crls: list[dict[str, Any]]
    ds_rotation_due: str | None = None
    crl_due: bool


class DsRotation(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "scheduled"}]})
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")] = "manual"


class CrlSummary(BaseModel):
    issuer: str
    this_update: str
    next_update: str | None
    revoked: int


class RevocationRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"serial": "4711", "reason": "key_compromise"}]}
    )
    serial: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[0-9]+$")]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z_]+$")] = "unspecified"


class RevocationResult(BaseModel):
    serial: str
    reason: str


class ApprovalRequest(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"operation": "rollover_csca"}]})
    operation: Literal["rollover_csca"]


class ApprovalOut(BaseModel):
    id: str
    operation: str
    parameters: dict[str, Any]
    requested_by: int
    approved_by: int | None
    status: str
    result: dict[str, Any] | None
    created_at: UtcDatetime
    decided_at: UtcDatetime | None


# --- enrollment ------------------------------------------------------------------------------------


class ApplicationIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"personal_id": "079090012345", "reason": "first_card", "card_generation": "2024"}]
        },
    )
    personal_id: PersonalId
    reason: Literal["first_card", "renewal", "replacement", "lost", "damaged", "data_change"]
    card_generation: Literal["2021", "2024"] = "2024"
    firmware_profile: Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9-]+$")] | None = None


class ReplacementIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "lost"}]})
    reason: Literal["replacement", "lost", "damaged", "data_change"]


class ApplicationOut(BaseModel):
    """An application (``issuance.enrollment.application_view``; the personal ID masked)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "personal_id": "079******345",
                    "reason": "first_card",
                    "state": "approved",
                    "card_generation": "2024",
                    "created_by": "officer.hn01",
                    "approved_by": "supervisor.hn01",
                    "station": "station-01",
                    "card_number": None,
                    "replaces_card_number": None,
                    "attempts": 0,
                    "last_error": None,
                    "portrait": {"passed": True},
                }
            ]
        }
    )
    id: int
    personal_id: str
    reason: str
    state: str
    card_generation: str
    created_by: str
    approved_by: str | None
    station: str | None
    card_number: str | None
    replaces_card_number: str | None
    attempts: int
    last_error: str | None
    portrait: dict[str, Any] | None

    @classmethod
    def from_app(cls, app: Any) -> ApplicationOut:
        from issuance.enrollment import application_view

        return cls.model_validate(application_view(app))


class ApplicationEventOut(BaseModel):
    actor: str
    station: str | None
    reader: str | None
    from_state: str | None
    to_state: str
    detail: str | None


class ApplicationDetail(ApplicationOut):
    history: list[ApplicationEventOut]

    @classmethod
    def from_app(cls, app: Any, history: list[Any] | None = None) -> ApplicationDetail:  # type: ignore[override]
        from issuance.enrollment import application_view

        data = application_view(app)
        data["history"] = [
            ApplicationEventOut(
                actor=e.actor,
                station=e.station,
                reader=e.reader,
                from_state=e.from_state,
                to_state=e.to_state,
                detail=e.detail,
            )
            for e in history or []
        ]
        return cls.model_validate(data)


class PortraitReport(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "application_id": 7,
                    "state": "ready",
                    "passed": True,
                    "bytes": 14211,
                    "mime": "image/jpeg",
                    "quality": 80,
                    "rules": [{"code": "eyes.level", "passed": True}],
                }
            ]
        },
    )
    application_id: int
    state: str
    passed: bool
    rules: list[dict[str, Any]]
    bytes: int
    mime: str | None = None
    quality: int | None = None


class Rejection(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "portrait does not match the applicant"}]}
    )
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class JobIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"application_id": 7, "reader": "Cancuoc Virtual PCD 00 00"}]}
    )
    application_id: Annotated[int, Field(ge=1, le=2**62)]
    reader: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class JobOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6c1c55-3f0e-4a8e-9f39-0c2d0a1b2c3d",
                    "application_id": 7,
                    "reader": "Cancuoc Virtual PCD 00 00",
                    "status": "issued",
                    "card_number": "260123456789",
                    "reason": None,
                    "timings": {"total": 1.9},
                    "created_at": "2026-11-29T10:00:00+00:00",
                    "finished_at": "2026-11-29T10:00:02+00:00",
                }
            ]
        }
    )
    id: str
    application_id: int
    reader: str
    status: str
    card_number: str | None
    reason: str | None
    timings: dict[str, float] | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None

    @classmethod
    def from_job(cls, job: Any) -> JobOut:
        return cls.model_validate({name: getattr(job, name) for name in cls.model_fields})
