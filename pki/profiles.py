"""ICAO 9303-12 §7.1 certificate and CRL profiles: building CSCA, link, DS, ML-signer and CRL objects.

Every object is assembled with asn1crypto's declarative classes (TBSCertificate, TBSCertList) and signed
through a `KeyStore`, so the private key never leaves the store. The profile (9303-12 Table 6/7):

=====================  ===========================  =================  ==================
extension              CSCA / link                  Document Signer    Master List Signer
=====================  ===========================  =================  ==================
authorityKeyIdentifier  keyIdentifier (nc)           keyIdentifier (nc)  keyIdentifier (nc)
subjectKeyIdentifier    SHA-1 of the key (nc)        same               same
keyUsage (critical)     keyCertSign, cRLSign         digitalSignature    digitalSignature
privateKeyUsagePeriod   notBefore/notAfter (nc)      same               same
basicConstraints (c)    CA, pathLenConstraint 0      —                  —
extKeyUsage (c)         —                            —                  2.23.136.1.1.3
documentTypeList (nc)   —                            2.23.136.1.1.6.2    —
subject/issuerAltName   URI (nc)                     URI (nc)           URI (nc)
cRLDistributionPoints   ICAO PKD URI (nc)            same               same
=====================  ===========================  =================  ==================

Decision: CSCA, link, DS and ML-signer certificates all carry AKI, SKI and privateKeyUsagePeriod (9303-12
makes AKI optional only on a self-signed CSCA; carrying it everywhere costs nothing and helps path
building). Validity times use UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from asn1crypto import crl, keys, x509
from cryptography.hazmat.primitives import serialization

from pki.algorithms import SignatureScheme, signature_algorithm
from pki.asn1 import (
    ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY,
    ID_ICAO_DEVIATION_LIST_SIGNING_KEY,
    ID_ICAO_DOCUMENT_TYPE_LIST,
    DocumentTypeListSyntax,
)
from pki.errors import CertificateError
from pki.keystore import KeyStore, PublicKey

Role = Literal["csca", "link", "ds", "mls", "dls", "service_ca", "service"]
CRL_REASONS = (
    "unspecified",
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "certificate_hold",
    "privilege_withdrawn",
    "aa_compromise",
)


@dataclass(frozen=True)
class Signer:
    """A key in a store plus how it signs: which label, hash and scheme."""

    keystore: KeyStore
    label: str
    hash: str
    scheme: SignatureScheme
    context: tuple[tuple[str, object], ...] = ()  # audit-trail context, e.g. (("purpose", "sod"),)

    def sign(self, data: bytes) -> bytes:
        if self.context:
            return self.keystore.sign(self.label, data, self.hash, self.scheme, **dict(self.context))
        return self.keystore.sign(self.label, data, self.hash, self.scheme)

    @property
    def algorithm(self):
        return signature_algorithm(self.scheme, self.hash)


def utc(dt: datetime) -> datetime:
    """A timezone-aware UTC datetime truncated to seconds (DER times carry whole seconds)."""
    if dt.tzinfo is None:
        raise CertificateError("naive datetime; give timezone-aware UTC times", code="TIME_NAIVE")
    return dt.astimezone(UTC).replace(microsecond=0)


def x509_time(dt: datetime) -> x509.Time:
    """RFC 5280 §4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from 2050."""
    dt = utc(dt)
    return x509.Time(name="utc_time" if dt.year < 2050 else "general_time", value=dt)


def new_serial() -> int:
    """A random positive serial number of at most 16 octets (9303-12 §7.1.1: positive, ≤ 20 octets)."""
    while True:
        value = int.from_bytes(os.urandom(16), "big") >> 1
        if value:
            return value


def spki(public_key: PublicKey) -> keys.PublicKeyInfo:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return keys.PublicKeyInfo.load(der)


def key_identifier(public_key: PublicKey | keys.PublicKeyInfo) -> bytes:
    """RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value."""
    info = public_key if isinstance(public_key, keys.PublicKeyInfo) else spki(public_key)
    return info.sha1


def build_name(
    country: str,
    organization: str,
    common_name: str,
    organizational_unit: str | None = None,
    serial_number: str | None = None,
) -> x509.Name:
    """A Distinguished Name with countryName as PrintableString first (9303-12 §7.1.1.2)."""
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        raise CertificateError(f"country {country!r} is not an ISO 3166-1 alpha-2 code", code="NAME_INVALID")
    attrs: dict[str, str] = {"country_name": country, "organization_name": organization}
    if organizational_unit:
        attrs["organizational_unit_name"] = organizational_unit
    attrs["common_name"] = common_name
    if serial_number:
        attrs["serial_number"] = serial_number
    return x509.Name.build(attrs)


def _ext(extn_id: str, critical: bool, value) -> dict:
    return {"extn_id": extn_id, "critical": critical, "extn_value": value}


def _uri_names(uri: str | None) -> list | None:
    return [x509.GeneralName(name="uniform_resource_identifier", value=uri)] if uri else None


def build_certificate(
    *,
    role: Role,
    signer: Signer,
    issuer: x509.Name,
    issuer_key_id: bytes,
    subject: x509.Name,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    private_key_usage: tuple[datetime, datetime] | None,
    serial: int | None = None,
    document_types: Sequence[str] | None = None,
    alt_name_uri: str | None = None,
    crl_uri: str | None = None,
) -> x509.Certificate:
    """Build and sign one certificate of ``role`` following the 9303-12 profile in this module's table."""
    if utc(not_after) <= utc(not_before):
        raise CertificateError("notAfter must be after notBefore", code="VALIDITY_INVALID")
    info = spki(public_key)
    extensions = [
        _ext("authority_key_identifier", False, {"key_identifier": issuer_key_id}),
        _ext("key_identifier", False, key_identifier(info)),
    ]
    if role in ("csca", "link", "service_ca"):
        extensions.append(_ext("key_usage", True, {"key_cert_sign", "crl_sign"}))
    else:
        extensions.append(_ext("key_usage", True, {"digital_signature"}))
    if private_key_usage is not None:
        start, end = (utc(t) for t in private_key_usage)
        extensions.append(_ext("private_key_usage_period", False, {"not_before": start, "not_after": end}))
    if role in ("csca", "link", "service_ca"):
        extensions.append(_ext("basic_constraints", True, {"ca": True, "path_len_constraint": 0}))
    if role == "dls":  # deviation list signer (9303-12 §7.1.1.3, §10)
        extensions.append(_ext("extended_key_usage", True, [ID_ICAO_DEVIATION_LIST_SIGNING_KEY]))
    if role == "mls":
        extensions.append(_ext("extended_key_usage", True, [ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY]))
    if alt_name_uri:
        extensions.append(_ext("subject_alt_name", False, _uri_names(alt_name_uri)))
        extensions.append(_ext("issuer_alt_name", False, _uri_names(alt_name_uri)))
    if crl_uri and role in ("csca", "link", "ds", "mls", "dls"):
        extensions.append(
            _ext("crl_distribution_points", False, [{"distribution_point": {"full_name": _uri_names(crl_uri)}}])
        )
    if role == "ds":
        if not document_types:
            raise CertificateError("a DS certificate needs a document type list", code="PROFILE_INVALID")
        dtl = DocumentTypeListSyntax({"version": 0, "doc_type_list": list(document_types)})
        extensions.append(_ext(ID_ICAO_DOCUMENT_TYPE_LIST, False, dtl.dump()))
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else new_serial(),
            "signature": signer.algorithm,
            "issuer": issuer,
            "validity": {"not_before": x509_time(not_before), "not_after": x509_time(not_after)},
            "subject": subject,
            "subject_public_key_info": info,
            "extensions": extensions,
        }
    )
    signature = signer.sign(tbs.dump())
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signer.algorithm,
            "signature_value": signature,
        }
    )
    return x509.Certificate.load(cert.dump())


@dataclass(frozen=True)
class RevokedEntry:
    """One CRL entry: serial, revocation date and reason (RFC 5280 §5.3.1 CRLReason)."""

    serial: int
    revocation_date: datetime
    reason: str = "unspecified"


def build_crl(
    *,
    signer: Signer,
    issuer: x509.Name,
    issuer_key_id: bytes,
    this_update: datetime,
    next_update: datetime,
    crl_number: int,
    revoked: Iterable[RevokedEntry] = (),
) -> crl.CertificateList:
    """A v2 CRL with AKI and CRL number and no delta indicator (9303-12 §7.1.4, RFC 5280 §5)."""
    entries = []
    for entry in sorted(revoked, key=lambda e: e.serial):
        if entry.reason not in CRL_REASONS:
            raise CertificateError(f"unknown CRL reason {entry.reason!r}", code="CRL_REASON_INVALID")
        item: dict = {"user_certificate": entry.serial, "revocation_date": x509_time(entry.revocation_date)}
        if entry.reason != "unspecified":  # RFC 5280 §5.3.1: omit rather than use unspecified
            item["crl_entry_extensions"] = [_ext("crl_reason", False, entry.reason)]
        entries.append(item)
    tbs: dict = {
        "version": "v2",
        "signature": signer.algorithm,
        "issuer": issuer,
        "this_update": x509_time(this_update),
        "next_update": x509_time(next_update),
        "crl_extensions": [
            _ext("authority_key_identifier", False, {"key_identifier": issuer_key_id}),
            _ext("crl_number", False, crl_number),
        ],
    }
    if entries:
        tbs["revoked_certificates"] = entries  # RFC 5280 §5.1.2.6: absent when empty
    tbs_obj = crl.TbsCertList(tbs)
    signature = signer.sign(tbs_obj.dump())
    out = crl.CertificateList(
        {
            "tbs_cert_list": tbs_obj,
            "signature_algorithm": signer.algorithm,
            "signature": signature,
        }
    )
    return crl.CertificateList.load(out.dump())


def certificate_role(cert: x509.Certificate) -> Role | None:
    """Classify a certificate by its extensions: csca (self-issued CA), link, mls, dls, ds, or None."""
    try:
        bc = cert.basic_constraints_value
        ca = bool(bc and bc["ca"].native)
        eku = cert.extended_key_usage_value
        ku = cert.key_usage_value
    except (ValueError, TypeError, KeyError):
        return None
    if ca:
        self_issued = cert.subject == cert.issuer and (
            cert.authority_key_identifier is None or cert.authority_key_identifier == cert.key_identifier
        )
        return "csca" if self_issued else "link"
    if eku is not None and ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY in [e.dotted for e in eku]:
        return "mls"
    if eku is not None and ID_ICAO_DEVIATION_LIST_SIGNING_KEY in [e.dotted for e in eku]:
        return "dls"
    if ku is not None and "digital_signature" in ku.native:
        return "ds"
    return None


def certificate_fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()
