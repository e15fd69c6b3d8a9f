"""CMS SignedData (RFC 5652 §5) built and verified generically: EF.SOD, CSCA master lists, EF.CardSecurity.

Verification follows RFC 5652 §5.4/§5.6 over the bytes as parsed: the signed attributes' original
encoding with the IMPLICIT [0] tag re-tagged as SET OF (0x31), the eContent's original octets for the
messageDigest, and the signature algorithm taken from SignerInfo (ECDSA with SHA-224…512 in DER,
RSASSA-PSS, RSASSA-PKCS1-v1_5; never from the signer's certificate).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, core, x509

from pki.algorithms import (
    describe_signature_algorithm,
    digest,
    digest_algorithm,
    load_public_key,
    verify_signature,
)
from pki.errors import CMSError, PKIError
from pki.profiles import Signer, utc

ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def build_signed_data(
    econtent_type: str,
    econtent: bytes,
    signer: Signer,
    signer_certificate: x509.Certificate,
    *,
    signing_time: datetime | None = None,
    certificates: Sequence[x509.Certificate] | None = None,
) -> cms.ContentInfo:
    """ContentInfo{SignedData v3} over ``econtent`` with one SignerInfo (v1, issuerAndSerialNumber).

    Signed attributes: contentType, messageDigest and (when given) signingTime — 9303-10 §4.6.2.2,
    9303-12 §9. ``certificates`` defaults to the signer's certificate alone.
    """
    # Built bottom-up, each part serialised and re-loaded before it is embedded: asn1crypto then copies
    # bytes instead of re-walking nested dicts and inspected objects (about 3x faster per SOD).
    attrs = [
        {"type": "content_type", "values": [econtent_type]},
        {"type": "message_digest", "values": [digest(signer.hash, econtent)]},
    ]
    if signing_time is not None:
        attrs.append({"type": "signing_time", "values": [cms.Time(name="utc_time", value=utc(signing_time))]})
    to_sign = cms.CMSAttributes(attrs).dump()  # DER SET OF: what the signature covers (RFC 5652 §5.4)
    signature = signer.sign(to_sign)
    sid = cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={
            "issuer": x509.Name.load(signer_certificate.issuer.dump()),
            "serial_number": signer_certificate.serial_number,
        },
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": sid,
            "digest_algorithm": digest_algorithm(signer.hash),
            "signed_attrs": cms.CMSAttributes.load(to_sign),
            "signature_algorithm": signer.algorithm,
            "signature": signature,
        }
    )
    chosen = certificates if certificates is not None else [signer_certificate]
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [digest_algorithm(signer.hash)],
            "encap_content_info": {
                "content_type": econtent_type,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [x509.Certificate.load(c.dump()) for c in chosen],
            "signer_infos": [cms.SignerInfo.load(signer_info.dump())],
        }
    )
    ci = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData.load(signed_data.dump())})
    return cms.ContentInfo.load(ci.dump())


def parse_content_info(data: bytes, what: str = "SignedData") -> cms.ContentInfo:
    """Parse DER ContentInfo{SignedData}; `CMSError(code="CMS_MALFORMED")` naming ``what`` otherwise."""
    try:
        ci = cms.ContentInfo.load(bytes(data), strict=True)
        if ci["content_type"].dotted != ID_SIGNED_DATA:
            raise CMSError(f"{what}: ContentInfo is not SignedData", code="CMS_MALFORMED", object=what)
        _force_parse(ci["content"])
    except CMSError:
        raise
    except _ASN1_ERRORS as exc:
        raise CMSError(f"{what}: malformed CMS ({exc.__class__.__name__})", code="CMS_MALFORMED", object=what) from exc
    return ci


def _force_parse(sd: cms.SignedData) -> None:
    """Parse every SignedData field now (so malformed input fails here), but leave the eContent as
    octets: its inner structure (LDSSecurityObject, CscaMasterList, ...) is the caller's business."""
    for name in ("version", "digest_algorithms", "certificates", "crls", "signer_infos"):
        sd[name].native  # noqa: B018
    eci = sd["encap_content_info"]
    eci["content_type"].native  # noqa: B018
    content = eci["content"]
    if isinstance(content, core.OctetString | core.ParsableOctetString):
        bytes(content)


@dataclass(frozen=True)
class SignedDataVerification:
    """What a verified SignedData says: the eContent as read, who signed it, and with what."""

    content_type: str
    econtent: bytes
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signature_scheme: str
    hash_algorithm: str
    digest_algorithm: str
    signing_time: datetime | None


def _check_structure(sd: cms.SignedData, si: cms.SignerInfo, content_type: str, what: str) -> None:
    """The unsigned parts of SignedData must be consistent (RFC 5652 §5.1, §5.3), so that no byte of a
    signed file can change without the verification failing:

    - SignedData version 3 when eContentType is not id-data (4 and 5 only with other certificate or
      revocation formats, which eMRTD objects do not carry);
    - SignerInfo version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier;
    - digestAlgorithms lists the SignerInfo's digestAlgorithm; every entry has absent or NULL parameters.
    """
    version = sd["version"].native
    expected_versions = ("v1", "v3") if content_type == "1.2.840.113549.1.7.1" else ("v3",)
    if version not in expected_versions:
        raise CMSError(f"{what}: SignedData version {version}, expected v3", code="CMS_MALFORMED", object=what)
    si_version = si["version"].native
    want = "v1" if si["sid"].name == "issuer_and_serial_number" else "v3"
    if si_version != want:
        raise CMSError(
            f"{what}: SignerInfo version {si_version} with {si['sid'].name}", code="CMS_MALFORMED", object=what
        )
    listed = []
    for alg in sd["digest_algorithms"]:
        if alg["parameters"].native is not None:
            raise CMSError(f"{what}: digest algorithm with parameters", code="CMS_MALFORMED", object=what)
        listed.append(alg["algorithm"].dotted)
    if si["digest_algorithm"]["parameters"].native is not None:
        raise CMSError(f"{what}: SignerInfo digest algorithm with parameters", code="CMS_MALFORMED", object=what)
    if si["digest_algorithm"]["algorithm"].dotted not in listed:
        raise CMSError(
            f"{what}: the signer's digest algorithm is not in SignedData.digestAlgorithms",
            code="CMS_MALFORMED",
            object=what,
        )


def signed_data_certificates(signed_data: cms.SignedData) -> list[x509.Certificate]:
    return [c.chosen for c in (signed_data["certificates"] or []) if c.name == "certificate"]


def _matches(sid: cms.SignerIdentifier, cert: x509.Certificate) -> bool:
    """Decision: the sid's issuer must equal the certificate's issuer byte for byte (not merely under the
    case-insensitive RFC 5280 §7.1 comparison), so that no unsigned byte of a SignedData can change and
    still verify; every signer copies the DER of its certificate's issuer."""
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        return (
            cert["tbs_certificate"]["issuer"].dump() == ias["issuer"].dump()
            and cert.serial_number == ias["serial_number"].native
        )
    return cert.key_identifier == sid.chosen.native


def verify_signed_data(
    content_info: cms.ContentInfo | bytes,
    *,
    expected_content_type: str | None = None,
    signer_certificate: x509.Certificate | None = None,
    what: str = "SignedData",
) -> SignedDataVerification:
    """Verify the one SignerInfo of a SignedData; raise `CMSError` with a stable code otherwise.

    Codes: CMS_MALFORMED, CMS_CONTENT_TYPE, CMS_SIGNER_COUNT, CMS_SIGNER_UNKNOWN, CMS_NO_SIGNED_ATTRS,
    CMS_DIGEST_MISMATCH, CMS_SIGNATURE_INVALID, ALGORITHM_UNSUPPORTED.

    Decision: exactly one SignerInfo and signed attributes are required (9303-10 §4.6.2.2 and 9303-12 §9
    make both mandatory for EF.SOD and master lists). The signer's certificate is taken from
    ``signer_certificate`` when given (it must match the sid), else from SignedData.certificates.
    This checks the CMS signature only; the signer's certificate path is `pki.validation`'s job.
    """
    ci = parse_content_info(content_info, what) if isinstance(content_info, bytes | bytearray) else content_info
    try:
        sd = ci["content"]
        eci = sd["encap_content_info"]
        content_type = eci["content_type"].dotted
        if expected_content_type is not None and content_type != expected_content_type:
            raise CMSError(
                f"{what}: eContentType {content_type} is not {expected_content_type}",
                code="CMS_CONTENT_TYPE",
                object=what,
            )
        if not isinstance(eci["content"], core.OctetString | core.ParsableOctetString):
            raise CMSError(f"{what}: no eContent", code="CMS_MALFORMED", object=what)
        econtent = bytes(eci["content"])
        signer_infos = list(sd["signer_infos"])
        if len(signer_infos) != 1:
            raise CMSError(
                f"{what}: {len(signer_infos)} SignerInfos, expected exactly 1",
                code="CMS_SIGNER_COUNT",
                object=what,
            )
        si = signer_infos[0]
        _check_structure(sd, si, content_type, what)
        certs = signed_data_certificates(sd)
        sid = si["sid"]
        if signer_certificate is not None:
            if not _matches(sid, signer_certificate):
                raise CMSError(
                    f"{what}: the given certificate does not match the SignerInfo sid",
                    code="CMS_SIGNER_UNKNOWN",
                    object=what,
                )
            cert = signer_certificate
        else:
            found = [c for c in certs if _matches(sid, c)]
            if not found:
                raise CMSError(f"{what}: signer certificate not in SignedData", code="CMS_SIGNER_UNKNOWN", object=what)
            cert = found[0]
        attrs = si["signed_attrs"]
        if isinstance(attrs, core.Void) or len(attrs) == 0:
            raise CMSError(f"{what}: SignerInfo has no signed attributes", code="CMS_NO_SIGNED_ATTRS", object=what)
        scheme, hash_alg, salt = describe_signature_algorithm(si["signature_algorithm"], si["digest_algorithm"])
        digest_alg = si["digest_algorithm"]["algorithm"].native
        values: dict[str, list] = {}
        for attr in attrs:
            values.setdefault(attr["type"].native, []).extend(attr["values"])
        ct = values.get("content_type", [])
        md = values.get("message_digest", [])
        if len(ct) != 1 or ct[0].dotted != content_type:
            raise CMSError(
                f"{what}: signed contentType attribute missing or not the eContentType",
                code="CMS_CONTENT_TYPE",
                object=what,
            )
        if len(md) != 1:
            raise CMSError(f"{what}: messageDigest attribute missing", code="CMS_DIGEST_MISMATCH", object=what)
        if not hmac.compare_digest(bytes(md[0].native), digest(digest_alg, econtent)):
            raise CMSError(
                f"{what}: messageDigest does not match the eContent", code="CMS_DIGEST_MISMATCH", object=what
            )
        signing_time = None
        if values.get("signing_time"):
            signing_time = values["signing_time"][0].native
        raw_attrs = attrs.dump()
        signed_bytes = b"\x31" + raw_attrs[1:]  # RFC 5652 §5.4: [0] IMPLICIT re-tagged as SET OF, as read
        public_key = load_public_key(cert["tbs_certificate"]["subject_public_key_info"])
        verify_signature(public_key, scheme, hash_alg, signed_bytes, bytes(si["signature"].native), salt)
    except CMSError:
        raise
    except PKIError as exc:
        code = "CMS_SIGNATURE_INVALID" if exc.code == "SIGNATURE_INVALID" else exc.code
        raise CMSError(f"{what}: {exc.message}", code=code, object=what) from exc
    except _ASN1_ERRORS as exc:
        raise CMSError(f"{what}: malformed CMS ({exc.__class__.__name__})", code="CMS_MALFORMED", object=what) from exc
    return SignedDataVerification(
        content_type=content_type,
        econtent=econtent,
        signer_certificate=cert,
        certificates=tuple(certs),
        signature_scheme=scheme,
        hash_algorithm=hash_alg,
        digest_algorithm=str(digest_alg),
        signing_time=signing_time,
    )
