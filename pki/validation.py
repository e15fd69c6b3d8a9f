"""Path validation DS → CSCA (through link certificates) at an explicit time, with CRL checking.

The steps mirror RFC 5280 §6.1 as profiled by ICAO 9303-11 §5.1 (Passive Authentication step 2) and
9303-12 §5.5 (link certificates): build a path to a trusted CSCA by name + key identifier, verify each
signature, check each certificate's validity at the validation time, then check each non-anchor
certificate against its issuer's newest CRL under an explicit `ValidationPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from asn1crypto import crl as asn1crl
from asn1crypto import x509

from pki.algorithms import describe_signature_algorithm, load_public_key, signature_bits, verify_signature
from pki.errors import PKIError, PKIValidationError
from pki.profiles import certificate_fingerprint, utc

if TYPE_CHECKING:
    from pki.truststore import TrustStore

Action = Literal["reject", "warn", "ignore"]


@dataclass(frozen=True)
class ValidationPolicy:
    """How strict path validation is. Every field is a decision the verifier makes explicitly.

    Attributes:
        crl_missing: no CRL from a certificate's issuer in the trust store → reject (CRL_MISSING),
            warn (accepted, warning in the result) or ignore.
        crl_stale: the newest CRL's nextUpdate is more than ``crl_grace`` before the validation time →
            reject (CRL_STALE), warn or ignore.
        crl_grace: tolerance after nextUpdate before a CRL counts as stale.
        allow_sha1: accept SHA-1 signatures on certificates (legacy documents; reported as a warning).
        chain_model: when a certificate in the path has expired at the validation time, accept it if it
            and its issuers were valid, and the DS key was within its private key usage period, at
            ``signed_at`` (the SOD's signing time). Needed for Vietnamese cards that never expire
            (see `pki.workspace.IssuerPolicy`); only used when the caller passes ``signed_at``.
        max_links: longest chain of link certificates followed (CSCA rollovers).
        require_document_type: when set, the DS document type list must contain it (DS_DOC_TYPE).

    Decision: the default is strict on missing CRLs (our own verifiers always hold our CRL) and lenient
    on stale ones (a counter offline for a while keeps working, with a warning in its report).
    """

    crl_missing: Action = "reject"
    crl_stale: Action = "warn"
    crl_grace: timedelta = timedelta(0)
    allow_sha1: bool = False
    chain_model: bool = True
    max_links: int = 4
    require_document_type: str | None = None

    @classmethod
    def strict(cls) -> ValidationPolicy:
        return cls(crl_missing="reject", crl_stale="reject", chain_model=False)

    @classmethod
    def lenient(cls) -> ValidationPolicy:
        return cls(crl_missing="warn", crl_stale="warn", allow_sha1=True)


@dataclass(frozen=True)
class PathValidationResult:
    """A validated path: ``path[0]`` is the DS, ``path[-1]`` the trusted CSCA; warnings carry codes."""

    path: tuple[x509.Certificate, ...]
    at: datetime
    model: Literal["shell", "chain"]
    warnings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    crl_numbers: tuple[int | None, ...] = field(default_factory=tuple)

    @property
    def ds(self) -> x509.Certificate:
        return self.path[0]

    @property
    def csca(self) -> x509.Certificate:
        return self.path[-1]

    def to_dict(self) -> dict:
        return {
            "path": [c.subject.human_friendly for c in self.path],
            "at": self.at.isoformat(),
            "model": self.model,
            "warnings": [{"code": c, "message": m} for c, m in self.warnings],
        }


def _verify_cert_signature(cert: x509.Certificate, issuer: x509.Certificate, allow_sha1: bool) -> None:
    scheme, hash_alg, salt = describe_signature_algorithm(cert["signature_algorithm"])
    if hash_alg == "sha1" and not allow_sha1:
        raise PKIValidationError(
            "ALGORITHM_NOT_ALLOWED",
            "SHA-1 certificate signature not allowed by policy",
            subject=cert.subject.human_friendly,
        )
    key = load_public_key(issuer["tbs_certificate"]["subject_public_key_info"])
    tbs = cert["tbs_certificate"]
    signature = signature_bits(cert["signature_value"], tbs["signature"], cert["signature_algorithm"])
    verify_signature(key, scheme, hash_alg, tbs.dump(), signature, salt)


def issued_by(child: x509.Certificate | asn1crl.CertificateList, issuer: x509.Certificate) -> bool:
    """Name and key-identifier match (RFC 5280 §4.2.1.1): the candidate issuer's subject is the child's
    issuer and, when both are present, its SKI equals the child's AKI."""
    child_issuer = child.issuer
    if child_issuer != issuer.subject:
        return False
    try:
        aki = child.authority_key_identifier
        ski = issuer.key_identifier
    except (ValueError, TypeError):
        return False
    return aki is None or ski is None or aki == ski


def _valid_at(cert: x509.Certificate, at: datetime) -> str | None:
    if at < cert.not_valid_before:
        return "not_yet_valid"
    if at > cert.not_valid_after:
        return "expired"
    return None


def validate_ds_path(
    ds_cert: x509.Certificate | bytes,
    at: datetime,
    trust_store: TrustStore,
    policy: ValidationPolicy | None = None,
    *,
    signed_at: datetime | None = None,
) -> PathValidationResult:
    """Validate a Document Signer certificate to a trusted CSCA at time ``at``; raise `PKIValidationError`.

    ``signed_at`` (optional) is when the SOD was signed, for the chain model (see `ValidationPolicy`).
    Results are served from the trust store's warm cache keyed by the DS fingerprint: the path and its
    signature checks are reused, the time and CRL checks are redone for every call. Hostile certificates
    (e.g. a DS taken from an EF.SOD as read) give ``CERT_MALFORMED``, never another exception.
    """
    at = utc(at)
    try:
        return _validate_ds_path(ds_cert, at, trust_store, policy or ValidationPolicy(), signed_at)
    except PKIValidationError:
        raise
    except PKIError as exc:  # e.g. ALGORITHM_UNSUPPORTED, KEY_MALFORMED from a hostile certificate
        raise PKIValidationError(exc.code, exc.message, at=at) from exc
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise PKIValidationError(
            "CERT_MALFORMED", f"certificate in the path malformed ({exc.__class__.__name__})", at=at
        ) from exc


def _validate_ds_path(
    ds_cert: x509.Certificate | bytes,
    at: datetime,
    trust_store: TrustStore,
    policy: ValidationPolicy,
    signed_at: datetime | None,
) -> PathValidationResult:
    if isinstance(ds_cert, bytes | bytearray):
        try:
            ds_cert = x509.Certificate.load(bytes(ds_cert), strict=True)
            ds_cert.native  # noqa: B018 - parse fully
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise PKIValidationError(
                "CERT_MALFORMED", f"DS certificate malformed ({exc.__class__.__name__})", at=at
            ) from exc
    subject = _subject(ds_cert)

    # Step 1 (9303-12 §7.1.1.3): the DS profile — digitalSignature, not a CA.
    try:
        ku = ds_cert.key_usage_value
        bc = ds_cert.basic_constraints_value
    except (ValueError, TypeError) as exc:
        raise PKIValidationError(
            "CERT_MALFORMED", "DS certificate extensions malformed", at=at, subject=subject
        ) from exc
    if ku is None or "digital_signature" not in ku.native or (bc is not None and bc["ca"].native):
        raise PKIValidationError(
            "DS_KEY_USAGE",
            "DS certificate lacks keyUsage digitalSignature or is a CA",
            at=at,
            subject=subject,
        )
    if policy.require_document_type is not None:
        from pki.asn1 import document_type_permitted, document_types

        try:
            types = document_types(ds_cert)
        except (ValueError, TypeError) as exc:
            raise PKIValidationError("DS_PROFILE", "document type list malformed", at=at, subject=subject) from exc
        if types is None or not document_type_permitted(types, policy.require_document_type):
            raise PKIValidationError(
                "DS_DOC_TYPE",
                f"DS may not sign {policy.require_document_type!r}",
                at=at,
                subject=subject,
                document_types=types,
            )

    # Step 2 (RFC 5280 §6.1.3 (a)(1)): build the path and verify signatures (cached per DS fingerprint).
    path = trust_store.cached_path(
        ds_cert, (policy.allow_sha1, policy.max_links), lambda: _build_path(ds_cert, trust_store, policy)
    )
    warnings: list[tuple[str, str]] = []
    if any(describe_signature_algorithm(c["signature_algorithm"])[1] == "sha1" for c in path[:-1]):
        warnings.append(("ALGORITHM_LEGACY", "a SHA-1 certificate signature was accepted by policy"))

    # Step 3 (RFC 5280 §6.1.3 (a)(2)): validity at the validation time; chain model for expired ones.
    model: Literal["shell", "chain"] = "shell"
    problems = [(c, _valid_at(c, at)) for c in path]
    problems = [(c, p) for c, p in problems if p is not None]
    if problems:
        if policy.chain_model and signed_at is not None and all(p == "expired" for _, p in problems):
            signed_at = utc(signed_at)
            _check_times(path, signed_at, ds_pkup=True)
            model = "chain"
            warnings.append(
                (
                    "CHAIN_MODEL",
                    f"certificates expired at {at.isoformat()} accepted: valid when "
                    f"the SOD was signed ({signed_at.isoformat()})",
                )
            )
        else:
            _check_times(path, at, ds_pkup=False)

    # Step 4 (RFC 5280 §6.1.3 (a)(3)): revocation of every non-anchor certificate by its issuer's CRL.
    numbers: list[int | None] = []
    for i, cert in enumerate(path[:-1]):
        issuer = path[i + 1]
        numbers.append(_check_crl(cert, issuer, at, trust_store, policy, warnings, is_ds=(i == 0)))
    return PathValidationResult(tuple(path), at, model, tuple(warnings), tuple(numbers))


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.human_friendly
    except (ValueError, TypeError):
        return "<unreadable subject>"


def _check_times(path: list[x509.Certificate], at: datetime, ds_pkup: bool) -> None:
    for i, cert in enumerate(path):
        problem = _valid_at(cert, at)
        if problem is None:
            continue
        role = "DS" if i == 0 else "CSCA"
        code = f"{role}_EXPIRED" if problem == "expired" else f"{role}_NOT_YET_VALID"
        raise PKIValidationError(
            code,
            f"{role} certificate {problem.replace('_', ' ')} at {at.isoformat()}",
            at=at,
            subject=_subject(cert),
            not_before=cert.not_valid_before,
            not_after=cert.not_valid_after,
        )
    if ds_pkup:
        pkup = path[0].private_key_usage_period_value
        if pkup is not None:
            start, end = pkup["not_before"].native, pkup["not_after"].native
            if (start and at < start) or (end and at > end):
                raise PKIValidationError(
                    "DS_KEY_EXPIRED",
                    "SOD signing time outside the DS private key usage period",
                    at=at,
                    subject=_subject(path[0]),
                )


def _build_path(ds_cert: x509.Certificate, store: TrustStore, policy: ValidationPolicy) -> list[x509.Certificate]:
    subject = _subject(ds_cert)
    candidates = [c for c in store.ca_certificates() if issued_by(ds_cert, c)]
    if not candidates:
        if any(c.subject == ds_cert.issuer for c in store.ca_certificates()):
            # a trusted CSCA of that name exists, but its key (identifier) is not the one that signed
            raise PKIValidationError(
                "DS_NOT_SIGNED_BY_CSCA",
                f"no trusted key of {ds_cert.issuer.human_friendly} matches the DS authority key identifier",
                subject=subject,
            )
        raise PKIValidationError(
            "CSCA_UNKNOWN", f"no trusted CSCA named {ds_cert.issuer.human_friendly}", subject=subject
        )
    last_error: PKIError | None = None
    # Prefer trust anchors, then link certificates (whose own path is built recursively).
    for cand in sorted(candidates, key=lambda c: not store.is_anchor(c)):
        try:
            _verify_cert_signature(ds_cert, cand, policy.allow_sha1)
        except PKIValidationError:
            raise
        except PKIError as exc:
            last_error = exc
            continue
        if store.is_anchor(cand):
            return [ds_cert, cand]
        tail = _link_path(cand, store, policy, depth=1, seen={certificate_fingerprint(cand)})
        if tail is not None:
            return [ds_cert, *tail]
    raise PKIValidationError(
        "DS_NOT_SIGNED_BY_CSCA",
        "the DS signature does not verify with any trusted CSCA key" + (f" ({last_error.code})" if last_error else ""),
        subject=subject,
    )


def _link_path(
    link: x509.Certificate, store: TrustStore, policy: ValidationPolicy, depth: int, seen: set[str]
) -> list[x509.Certificate] | None:
    if depth > policy.max_links:
        return None
    for cand in sorted(
        (c for c in store.ca_certificates() if issued_by(link, c)), key=lambda c: not store.is_anchor(c)
    ):
        fp = certificate_fingerprint(cand)
        if fp in seen:
            continue
        try:
            _verify_cert_signature(link, cand, policy.allow_sha1)
        except PKIError:
            continue
        if store.is_anchor(cand):
            return [link, cand]
        tail = _link_path(cand, store, policy, depth + 1, seen | {fp})
        if tail is not None:
            return [link, *tail]
    return None


def _check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    store: TrustStore,
    policy: ValidationPolicy,
    warnings: list[tuple[str, str]],
    is_ds: bool,
) -> int | None:
    subject = _subject(cert)
    crl = store.newest_crl(issuer)
    if crl is None:
        if policy.crl_missing == "reject":
            raise PKIValidationError(
                "CRL_MISSING", f"no CRL from {issuer.subject.human_friendly}", at=at, subject=subject
            )
        if policy.crl_missing == "warn":
            warnings.append(("CRL_MISSING", f"no CRL from {issuer.subject.human_friendly}; not checked"))
        return None
    next_update = crl["tbs_cert_list"]["next_update"].native
    if next_update is not None and at > next_update + policy.crl_grace:
        message = f"newest CRL from {issuer.subject.human_friendly} expired at {next_update.isoformat()}"
        if policy.crl_stale == "reject":
            raise PKIValidationError("CRL_STALE", message, at=at, subject=subject, next_update=next_update)
        if policy.crl_stale == "warn":
            warnings.append(("CRL_STALE", message))
    serial = cert.serial_number
    for entry in crl["tbs_cert_list"]["revoked_certificates"] or []:
        if entry["user_certificate"].native != serial:
            continue
        revoked_at = entry["revocation_date"].native
        if revoked_at > at:
            continue
        reason = "unspecified"
        for ext in entry["crl_entry_extensions"] or []:
            if ext["extn_id"].native == "crl_reason":
                reason = ext["extn_value"].native
        code = "DS_REVOKED" if is_ds else "CSCA_REVOKED"
        raise PKIValidationError(
            code,
            f"certificate revoked on {revoked_at.isoformat()} ({reason})",
            at=at,
            subject=subject,
            reason=reason,
            revoked_at=revoked_at,
        )
    return crl.crl_number_value.native if crl.crl_number_value is not None else None
