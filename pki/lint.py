"""The ICAO 9303-12 profile linter for CSCA, link, DS and ML-signer certificates, CRLs and master lists.

Works on ours and foreign objects alike; never raises on hostile input: a malformed object is itself a
finding (``*_PARSE``) naming the object. Severity ``error`` = violates a 9303-12 "m"/"x" rule or
RFC 5280 MUST; ``warning`` = deviates from a recommendation or hurts interoperability; ``info`` = notable.

Decisions: subjectAltName, issuerAltName and cRLDistributionPoints missing are warnings (many foreign
certificates in the ICAO PKD lack them); an EC key with explicit domain parameters is info (9303-12
accepts both forms; we issue named curves); privateKeyUsagePeriod is required on CSCA, link and DS
certificates and recommended on ML signers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from asn1crypto import cms, pem, x509
from asn1crypto import crl as asn1crl
from asn1crypto import keys as asn1keys

from pki.algorithms import describe_signature_algorithm, load_public_key, verify_signature
from pki.asn1 import (
    ID_ICAO_CSCA_MASTER_LIST,
    ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY,
    ID_ICAO_DEVIATION_LIST_SIGNING_KEY,
    ID_ICAO_DOCUMENT_TYPE_LIST,
    ID_ICAO_NAME_CHANGE,
    CscaMasterList,
    DocumentTypeListSyntax,
)
from pki.errors import PKIError
from pki.profiles import certificate_role

Severity = Literal["error", "warning", "info"]
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)

# Extensions a 9303-12 certificate may carry; any other *critical* extension is an error.
_KNOWN_EXTENSIONS = {
    "2.5.29.35",
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.16",
    "2.5.29.32",
    "2.5.29.17",
    "2.5.29.18",
    "2.5.29.19",
    "2.5.29.37",
    "2.5.29.31",
    "2.5.29.46",
    ID_ICAO_DOCUMENT_TYPE_LIST,
    ID_ICAO_NAME_CHANGE,
    "2.16.840.1.113730.1.1",
}


@dataclass(frozen=True)
class Finding:
    """One lint finding: a stable ``code``, its ``severity``, a message, and the object it is about."""

    code: str
    severity: Severity
    message: str
    object: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class _Collector:
    def __init__(self, obj: str) -> None:
        self.obj = obj
        self.findings: list[Finding] = []

    def add(self, code: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(code, severity, message, self.obj))


def _country(name: x509.Name) -> tuple[str | None, str | None]:
    """(value, ASN.1 string type) of the countryName attribute, or (None, None)."""
    for rdn in name.chosen:
        for atv in rdn:
            if atv["type"].native == "country_name":
                tag = atv["value"].dump()[0]  # the universal tag as encoded, whatever asn1crypto's spec says
                kind = {0x13: "PrintableString", 0x0C: "UTF8String", 0x16: "IA5String"}.get(tag, f"tag {tag:#x}")
                return str(atv["value"].native), kind
    return None, None


def _check_names(c: _Collector, issuer: x509.Name, subject: x509.Name | None) -> None:
    names = [("issuer", issuer)] + ([("subject", subject)] if subject is not None else [])
    values = {}
    for which, name in names:
        value, kind = _country(name)
        values[which] = value
        if value is None:
            c.add(
                f"NAME_{which.upper()}_COUNTRY_MISSING",
                "error",
                f"{which} has no countryName (9303-12 §7.1.1)",
            )
            continue
        if kind != "PrintableString":
            c.add("NAME_COUNTRY_ENCODING", "error", f"{which} countryName is {kind}, not PrintableString")
        if len(value) != 2 or not value.isalpha() or not value.isupper():
            c.add("NAME_COUNTRY_INVALID", "error", f"{which} countryName {value!r} is not ISO 3166-1 alpha-2")
    if subject is not None and values.get("issuer") and values.get("subject") and values["issuer"] != values["subject"]:
        c.add(
            "NAME_COUNTRY_MISMATCH",
            "error",
            f"issuer country {values['issuer']} differs from subject country {values['subject']}",
        )


def _check_time_encoding(c: _Collector, field: str, t) -> None:
    year = t.native.year
    if t.name == "utc_time" and year >= 2050:
        c.add("TIME_ENCODING", "error", f"{field} {year} must be GeneralizedTime (RFC 5280 §4.1.2.5)")
    if t.name == "general_time" and year < 2050:
        c.add("TIME_ENCODING", "error", f"{field} {year} must be UTCTime (RFC 5280 §4.1.2.5)")


def _check_sig_alg(c: _Collector, prefix: str, inner, outer) -> None:
    if inner.dump() != outer.dump():
        c.add(f"{prefix}_SIG_ALG_MISMATCH", "error", "signature algorithm differs inside and outside the TBS")
    try:
        _, hash_alg, _ = describe_signature_algorithm(outer)
    except PKIError as exc:
        c.add(f"{prefix}_SIG_ALG_UNSUPPORTED", "error", exc.message)
        return
    if hash_alg == "sha1":
        c.add(f"{prefix}_SIG_ALG_SHA1", "warning", "SHA-1 signature (legacy; 9303-12 §4 prefers SHA-2)")


def lint_certificate(
    cert: x509.Certificate | bytes, name: str = "certificate", role: str | None = None
) -> list[Finding]:
    """Every 9303-12 §7.1 finding for one certificate; ``role`` (csca/link/ds/mls) overrides detection."""
    c = _Collector(name)
    try:
        if isinstance(cert, bytes | bytearray):
            cert = x509.Certificate.load(bytes(cert), strict=True)
        cert.native  # noqa: B018 - parse everything now
        tbs = cert["tbs_certificate"]
    except _ASN1_ERRORS as exc:
        c.add("CERT_PARSE", "error", f"not a parsable X.509 certificate ({exc.__class__.__name__})")
        return c.findings
    role = role or certificate_role(cert)
    if role is None:
        c.add(
            "CERT_ROLE_UNKNOWN",
            "error",
            "neither a CSCA, link, DS nor ML-signer certificate (key usage, "
            "basic constraints and EKU fit no 9303-12 profile)",
        )
    if tbs["version"].native != "v3":
        c.add("CERT_VERSION", "error", f"version {tbs['version'].native}, must be v3")
    serial = tbs["serial_number"]
    if serial.native <= 0:
        c.add("CERT_SERIAL_NOT_POSITIVE", "error", "serial number must be positive (RFC 5280 §4.1.2.2)")
    if len(serial.contents) > 20:
        c.add("CERT_SERIAL_TOO_LONG", "error", f"serial number is {len(serial.contents)} octets (max 20)")
    _check_sig_alg(c, "CERT", tbs["signature"], cert["signature_algorithm"])
    _check_names(c, tbs["issuer"], tbs["subject"])
    validity = tbs["validity"]
    _check_time_encoding(c, "notBefore", validity["not_before"])
    _check_time_encoding(c, "notAfter", validity["not_after"])
    if validity["not_after"].native <= validity["not_before"].native:
        c.add("CERT_VALIDITY_ORDER", "error", "notAfter is not after notBefore")
    for uid in ("issuer_unique_id", "subject_unique_id"):
        if tbs[uid].native is not None:
            c.add("CERT_UNIQUE_ID", "error", f"{uid} must not be used (9303-12 §7.1.1)")
    _check_public_key(c, tbs["subject_public_key_info"])

    exts: dict[str, tuple[bool, object]] = {}
    for ext in tbs["extensions"] or []:
        oid = ext["extn_id"].dotted
        if oid in exts:
            c.add("EXT_DUPLICATE", "error", f"extension {oid} appears twice (RFC 5280 §4.2)")
        exts[oid] = (bool(ext["critical"].native), ext)
        if ext["critical"].native and oid not in _KNOWN_EXTENSIONS:
            c.add("EXT_UNKNOWN_CRITICAL", "error", f"unknown critical extension {oid}")
    if not exts:
        c.add("EXT_MISSING", "error", "a v3 9303-12 certificate needs extensions")
    is_ca = role in ("csca", "link")

    # keyUsage (m, critical): CSCA keyCertSign+cRLSign, DS and ML signer digitalSignature — exactly.
    ku = exts.get("2.5.29.15")
    if ku is None:
        c.add("KU_MISSING", "error", "keyUsage missing")
    else:
        if not ku[0]:
            c.add("KU_NOT_CRITICAL", "error", "keyUsage must be critical")
        bits = set(ku[1]["extn_value"].parsed.native)
        want = {"key_cert_sign", "crl_sign"} if is_ca else {"digital_signature"}
        if role is not None and bits != want:
            c.add("KU_WRONG", "error", f"keyUsage {sorted(bits)} must be exactly {sorted(want)} for {role}")

    bc = exts.get("2.5.29.19")
    if is_ca:
        if bc is None:
            c.add("BC_MISSING", "error", "basicConstraints missing on a CSCA")
        else:
            if not bc[0]:
                c.add("BC_NOT_CRITICAL", "error", "basicConstraints must be critical")
            value = bc[1]["extn_value"].parsed
            if not value["ca"].native:
                c.add("BC_NOT_CA", "error", "basicConstraints cA must be TRUE")
            if value["path_len_constraint"].native != 0:
                c.add(
                    "BC_PATHLEN",
                    "error",
                    f"pathLenConstraint {value['path_len_constraint'].native}, must be 0 (9303-12 §7.1.1.3)",
                )
    elif bc is not None:
        c.add(
            "BC_PRESENT",
            "error" if bc[1]["extn_value"].parsed["ca"].native else "warning",
            "basicConstraints must not appear on DS/ML-signer certificates",
        )

    ski = exts.get("2.5.29.14")
    if ski is None:
        c.add("SKI_MISSING", "error" if is_ca else "warning", "subjectKeyIdentifier missing")
    elif ski[0]:
        c.add("SKI_CRITICAL", "error", "subjectKeyIdentifier must be non-critical")
    aki = exts.get("2.5.29.35")
    self_signed = role == "csca"
    if aki is None:
        c.add("AKI_MISSING", "warning" if self_signed else "error", "authorityKeyIdentifier missing")
    else:
        if aki[0]:
            c.add("AKI_CRITICAL", "error", "authorityKeyIdentifier must be non-critical")
        keyid = aki[1]["extn_value"].parsed["key_identifier"].native
        if keyid is None:
            c.add("AKI_KEYID_MISSING", "error", "authorityKeyIdentifier has no keyIdentifier")
        elif self_signed and ski is not None and keyid != ski[1]["extn_value"].parsed.native:
            c.add("AKI_MISMATCH", "error", "self-signed CSCA: authority key id differs from subject key id")

    pkup = exts.get("2.5.29.16")
    if pkup is None:
        c.add("PKUP_MISSING", "warning" if role in ("mls", "dls") else "error", "privateKeyUsagePeriod missing")
    else:
        if pkup[0]:
            c.add("PKUP_CRITICAL", "error", "privateKeyUsagePeriod must be non-critical")
        period = pkup[1]["extn_value"].parsed
        start, end = period["not_before"].native, period["not_after"].native
        if start is None and end is None:
            c.add("PKUP_EMPTY", "error", "privateKeyUsagePeriod has neither notBefore nor notAfter")
        if end is not None and end > validity["not_after"].native:
            c.add("PKUP_OUTSIDE_VALIDITY", "warning", "private key usage ends after the certificate")

    eku = exts.get("2.5.29.37")
    if role in ("csca", "link", "ds") and eku is not None:
        c.add("EKU_PRESENT", "error", f"extendedKeyUsage must not appear on a {role} certificate (9303-12)")
    if role in ("mls", "dls"):
        prefix, oid = (
            ("MLS", ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY)
            if role == "mls"
            else ("DLS", ID_ICAO_DEVIATION_LIST_SIGNING_KEY)
        )
        if eku is None:
            c.add(f"{prefix}_EKU_MISSING", "error", f"{role} certificate needs extendedKeyUsage {oid}")
        else:
            purposes = [p.dotted for p in eku[1]["extn_value"].parsed]
            if oid not in purposes:
                c.add(f"{prefix}_EKU_MISSING", "error", f"extendedKeyUsage lacks {oid}")
            if not eku[0]:
                c.add(f"{prefix}_EKU_NOT_CRITICAL", "warning", f"{role} extendedKeyUsage should be critical")

    dtl = exts.get(ID_ICAO_DOCUMENT_TYPE_LIST)
    if role == "ds":
        if dtl is None:
            c.add("DOCTYPE_MISSING", "error", "DS lacks the document type list extension 2.23.136.1.1.6.2")
        else:
            try:
                parsed = DocumentTypeListSyntax.load(bytes(dtl[1]["extn_value"].contents), strict=True)
                types = [str(t.native) for t in parsed["doc_type_list"]]
                if parsed["version"].native != 0:
                    c.add("DOCTYPE_VERSION", "error", "document type list version must be 0")
                if not types or any(not 1 <= len(t) <= 2 for t in types):
                    c.add("DOCTYPE_INVALID", "error", f"document types {types} must be 1-2 characters")
            except _ASN1_ERRORS:
                c.add("DOCTYPE_MALFORMED", "error", "document type list extension does not parse")
    elif dtl is not None:
        c.add("DOCTYPE_UNEXPECTED", "warning", f"document type list on a {role} certificate")

    for oid, code, label in (
        ("2.5.29.17", "SAN_MISSING", "subjectAltName"),
        ("2.5.29.18", "IAN_MISSING", "issuerAltName"),
        ("2.5.29.31", "CRLDP_MISSING", "cRLDistributionPoints"),
    ):
        if oid not in exts and role is not None:
            c.add(code, "warning", f"{label} missing (9303-12 recommends it)")

    if self_signed:
        try:
            scheme, hash_alg, salt = describe_signature_algorithm(cert["signature_algorithm"])
            key = load_public_key(tbs["subject_public_key_info"])
            verify_signature(key, scheme, hash_alg, tbs.dump(), bytes(cert["signature_value"].native), salt)
        except PKIError as exc:
            c.add("CERT_SIGNATURE_INVALID", "error", f"self-signature does not verify ({exc.code})")
    return c.findings


def _check_public_key(c: _Collector, spki: asn1keys.PublicKeyInfo) -> None:
    alg = spki["algorithm"]["algorithm"].native
    if alg == "ec":
        params = spki["algorithm"]["parameters"]
        if params.name == "specified":
            c.add("KEY_EC_EXPLICIT", "info", "EC key with explicit domain parameters")
        elif params.name != "named":
            c.add("KEY_EC_IMPLICIT", "error", "implicitlyCA EC parameters are not allowed")
    elif alg in ("rsa", "rsassa_pss"):
        try:
            size = spki.bit_size
        except _ASN1_ERRORS:
            size = 0
        if size < 2048:
            c.add("KEY_RSA_SMALL", "warning", f"RSA key of {size} bits (9303-12 recommends ≥ 2048 for new keys)")
    else:
        c.add("KEY_ALG_UNSUPPORTED", "error", f"public key algorithm {alg} not in 9303-12 (RSA, ECDSA)")
        return
    try:
        load_public_key(spki)
    except PKIError as exc:
        c.add("KEY_UNUSABLE", "error", exc.message)


def lint_crl(crl: asn1crl.CertificateList | bytes, name: str = "CRL") -> list[Finding]:
    """9303-12 §7.1.4 / RFC 5280 §5 findings for one CRL."""
    c = _Collector(name)
    try:
        if isinstance(crl, bytes | bytearray):
            crl = asn1crl.CertificateList.load(bytes(crl), strict=True)
        crl.native  # noqa: B018
        tbs = crl["tbs_cert_list"]
    except _ASN1_ERRORS as exc:
        c.add("CRL_PARSE", "error", f"not a parsable CRL ({exc.__class__.__name__})")
        return c.findings
    if tbs["version"].native != "v2":
        c.add("CRL_VERSION", "error", f"CRL version {tbs['version'].native}, must be v2")
    _check_sig_alg(c, "CRL", tbs["signature"], crl["signature_algorithm"])
    _check_names(c, tbs["issuer"], None)
    _check_time_encoding(c, "thisUpdate", tbs["this_update"])
    next_update = tbs["next_update"]
    if next_update.native is None:
        c.add("CRL_NEXT_UPDATE_MISSING", "error", "nextUpdate is mandatory (9303-12 §7.1.4)")
    else:
        _check_time_encoding(c, "nextUpdate", next_update)
        span = next_update.native - tbs["this_update"].native
        if span.total_seconds() <= 0:
            c.add("CRL_NEXT_UPDATE_ORDER", "error", "nextUpdate is not after thisUpdate")
        elif span.days > 90:
            c.add("CRL_NEXT_UPDATE_FAR", "warning", f"nextUpdate {span.days} days ahead (ICAO: at most 90)")
    exts = {}
    for ext in tbs["crl_extensions"] or []:
        oid = ext["extn_id"].dotted
        if oid in exts:
            c.add("EXT_DUPLICATE", "error", f"CRL extension {oid} appears twice")
        exts[oid] = ext
        if ext["critical"].native and oid not in ("2.5.29.28",):
            c.add("CRL_EXT_CRITICAL", "error", f"CRL extension {oid} is critical")
    if "2.5.29.35" not in exts:
        c.add("CRL_AKI_MISSING", "error", "authorityKeyIdentifier is mandatory")
    if "2.5.29.20" not in exts:
        c.add("CRL_NUMBER_MISSING", "error", "cRLNumber is mandatory")
    if "2.5.29.27" in exts:
        c.add("CRL_DELTA", "error", "delta CRLs are not used in the ICAO PKI (deltaCRLIndicator present)")
    if "2.5.29.28" in exts:
        c.add("CRL_IDP", "warning", "issuingDistributionPoint present (partitioned CRLs are not expected)")
    revoked = tbs["revoked_certificates"]
    if revoked.contents is not None and len(revoked) == 0 and revoked.native is not None:
        c.add("CRL_EMPTY_LIST", "error", "empty revokedCertificates must be omitted (RFC 5280 §5.1.2.6)")
    for entry in revoked or []:
        serial = entry["user_certificate"].native
        for ext in entry["crl_entry_extensions"] or []:
            if ext["critical"].native:
                c.add("CRL_ENTRY_EXT_CRITICAL", "error", f"entry {serial}: critical entry extension")
    return c.findings


def lint_master_list(data: bytes, name: str = "master list") -> list[Finding]:
    """9303-12 §9 findings for a CSCA master list, plus the lint of its signer and listed certificates."""
    from pki.cms import verify_signed_data
    from pki.errors import CMSError

    c = _Collector(name)
    try:
        ci = cms.ContentInfo.load(bytes(data), strict=True)
        ci.native  # noqa: B018
        sd = ci["content"]
        if ci["content_type"].native != "signed_data":
            c.add("ML_NOT_SIGNED_DATA", "error", "ContentInfo is not SignedData")
            return c.findings
    except _ASN1_ERRORS as exc:
        c.add("ML_PARSE", "error", f"not a parsable CMS ContentInfo ({exc.__class__.__name__})")
        return c.findings
    if sd["encap_content_info"]["content_type"].dotted != ID_ICAO_CSCA_MASTER_LIST:
        c.add("ML_CONTENT_TYPE", "error", "eContentType is not id-icao-cscaMasterList (2.23.136.1.1.2)")
    if sd["version"].native != "v3":
        c.add("ML_SIGNED_DATA_VERSION", "error", f"SignedData version {sd['version'].native}, must be v3")
    findings = c.findings
    try:
        result = verify_signed_data(ci, what=name)
    except CMSError as exc:
        c.add(
            "ML_SIGNATURE_INVALID" if "SIGNATURE" in exc.code or "DIGEST" in exc.code else "ML_CMS",
            "error",
            exc.message,
        )
        return findings
    findings.extend(lint_certificate(result.signer_certificate, f"{name}: signer", role="mls"))
    try:
        ml = CscaMasterList.load(result.econtent, strict=True)
        ml.native  # noqa: B018
    except _ASN1_ERRORS as exc:
        c.add("ML_CONTENT_PARSE", "error", f"CscaMasterList does not parse ({exc.__class__.__name__})")
        return findings
    if ml["version"].native != 0:
        c.add("ML_VERSION", "error", f"CscaMasterList version {ml['version'].native}, must be 0")
    if len(ml["cert_list"]) == 0:
        c.add("ML_EMPTY", "warning", "master list holds no certificates")
    for i, cert in enumerate(ml["cert_list"]):
        try:
            label = cert.subject.human_friendly
        except _ASN1_ERRORS:
            label = f"#{i}"
        findings.extend(lint_certificate(cert, f"{name}: {label}"))
    return findings


def lint_bytes(data: bytes, name: str = "object") -> list[Finding]:
    """Detect what ``data`` is (PEM or DER certificate, CRL, master list) and lint it."""
    try:
        if pem.detect(data):
            kind, _, der = pem.unarmor(data)
            if kind == "X509 CRL":
                return lint_crl(der, name)
            if kind == "CERTIFICATE":
                return lint_certificate(der, name)
            if kind in ("CMS", "PKCS7"):
                return lint_master_list(der, name)
            return [Finding("UNKNOWN_OBJECT", "error", f"PEM block {kind!r} is not a certificate, CRL or CMS", name)]
    except _ASN1_ERRORS:
        return [Finding("PEM_PARSE", "error", "malformed PEM", name)]
    for loader, linter in (
        (x509.Certificate, lint_certificate),
        (asn1crl.CertificateList, lint_crl),
        (cms.ContentInfo, lint_master_list),
    ):
        try:
            obj = loader.load(bytes(data), strict=True)
            obj.native  # noqa: B018
        except _ASN1_ERRORS:
            continue
        if loader is cms.ContentInfo:
            return lint_master_list(data, name)
        return linter(obj, name)  # type: ignore[operator]
    return [Finding("UNKNOWN_OBJECT", "error", "not a parsable certificate, CRL or master list", name)]


def lint_file(path: str | os.PathLike[str]) -> list[Finding]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        return [Finding("FILE_UNREADABLE", "error", exc.strerror or "cannot read", str(p))]
    return lint_bytes(data, str(p))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
