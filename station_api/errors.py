"""Station API errors: stable problem codes and their RFC 9457 problem-details rendering."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

PROBLEM_BASE = "https://cancuoc.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemCode(StrEnum):
    """Stable machine-readable codes, also the last segment of the problem ``type`` URI."""

    VALIDATION_FAILED = "validation_failed"
    BODY_TOO_LARGE = "body_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_INVALID = "token_invalid"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    CLIENT_CERTIFICATE_REFUSED = "client_certificate_refused"
    FORBIDDEN_ROLE = "forbidden_role"
    FORBIDDEN_AGENCY = "forbidden_agency"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    CHALLENGE_UNKNOWN = "challenge_unknown"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_USED = "challenge_used"
    EVIDENCE_MALFORMED = "evidence_malformed"
    CARD_NOT_FOUND = "card_not_found"
    CARD_STATE = "card_state"
    CITIZEN_NOT_FOUND = "citizen_not_found"
    APPROVAL_REQUIRED = "approval_required"
    APPROVAL_SAME_PERSON = "approval_same_person"
    PKI_ERROR = "pki_error"
    ISSUANCE_REFUSED = "issuance_refused"
    APPLICATION_NOT_FOUND = "application_not_found"
    PORTRAIT_UNREADABLE = "portrait_unreadable"
    READER_UNKNOWN = "reader_unknown"
    READER_BUSY = "reader_busy"
    JOB_NOT_FOUND = "job_not_found"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"


class ApiError(Exception):
    """A domain error with a stable code; rendered as RFC 9457 problem details.

    ``detail`` is shown to the client: it must never carry secrets, MRZ, CAN or personal data.
    """

    status: int = 400
    code: ProblemCode = ProblemCode.VALIDATION_FAILED
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: ProblemCode | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.detail}")


class Unauthenticated(ApiError):
    status = 401
    code = ProblemCode.UNAUTHENTICATED
    title = "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ApiError):
    status = 403
    code = ProblemCode.FORBIDDEN_ROLE
    title = "Forbidden"


class NotFound(ApiError):
    status = 404
    code = ProblemCode.NOT_FOUND
    title = "Not found"


class Conflict(ApiError):
    status = 409
    code = ProblemCode.CONFLICT
    title = "Conflict"


class RateLimited(ApiError):
    status = 429
    code = ProblemCode.RATE_LIMITED
    title = "Too many requests"


class Unavailable(ApiError):
    status = 503
    code = ProblemCode.SERVICE_UNAVAILABLE
    title = "Service unavailable"


def problem_body(
    status: int, code: ProblemCode | str, title: str, detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    """RFC 9457 §3.1 members plus the extension member ``code`` (the stable code)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + str(code),
        "title": title,
        "status": status,
        "code": str(code),
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body
