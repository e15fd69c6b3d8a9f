"""The PKI layer's error hierarchy: every error carries a stable reason code and the objects involved."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class PKIError(Exception):
    """Base of every error raised by `pki/`.

    ``code`` is a stable, machine-readable reason code (never reworded); ``message`` is for people.
    Secrets (keys, passphrases, PINs) never appear in either.
    """

    default_code = "PKI_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key, value in self.details.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


class KeyStoreError(PKIError):
    """A key store could not be opened or used (wrong passphrase, missing token, unknown label, ...)."""

    default_code = "KEYSTORE_ERROR"


class CertificateError(PKIError):
    """A certificate, CRL or master list could not be parsed or built (names the object)."""

    default_code = "CERTIFICATE_ERROR"


class CMSError(PKIError):
    """CMS SignedData (RFC 5652) could not be parsed, or its signature does not verify."""

    default_code = "CMS_ERROR"


class SigningRefused(PKIError):
    """The issuer refused to sign (no current key, key expired, revoked or rotated out)."""

    default_code = "SIGNING_REFUSED"


class WorkspaceError(PKIError):
    """The PKI workspace is missing, already initialised, or inconsistent."""

    default_code = "WORKSPACE_ERROR"


class TrustStoreError(PKIError):
    """An import into the trust store was refused; nothing of it was stored."""

    default_code = "TRUSTSTORE_ERROR"


class LDIFError(TrustStoreError):
    """An ICAO PKD LDIF file is malformed (names the line or entry)."""

    default_code = "LDIF_MALFORMED"


class AuditError(PKIError):
    """The hash-chained audit trail is broken or could not be written."""

    default_code = "AUDIT_BROKEN"


class PKIValidationError(PKIError):
    """Path validation DS → CSCA failed (ICAO 9303-11 §5.1, RFC 5280 §6.1).

    Stable codes: DS_NOT_SIGNED_BY_CSCA, DS_REVOKED, DS_EXPIRED, DS_NOT_YET_VALID, CSCA_EXPIRED,
    CSCA_NOT_YET_VALID, CSCA_UNKNOWN, LINK_INVALID, CRL_STALE, CRL_MISSING, CRL_INVALID, DS_KEY_USAGE,
    DS_PROFILE, ALGORITHM_NOT_ALLOWED, CERT_MALFORMED.
    """

    default_code = "PATH_INVALID"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        at: datetime | None = None,
        subject: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, at=at, subject=subject, **details)
        self.at = at
        self.subject = subject
