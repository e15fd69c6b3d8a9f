"""Verification of what was read: Passive Authentication, AA and CA/PACE-CAM evidence, and `reverify`.

One code path serves the counter and the server: `inspect_card` builds an `EvidenceBundle` from the
chip and calls `verify_evidence`; the station API calls `reverify(bundle, trust_store, at, ...)` on the
same bundle in another process, without the card, and gets the same checks.

Passive Authentication, ICAO 9303-11 §5.1 (steps as in the spec):
  1. read EF.SOD, take the Document Signer certificate from it (9303-10 §4.6.2);
  2. verify the SOD signature — algorithm from SignerInfo, over the signed attributes as read, and the
     messageDigest over the eContent as read (`pki.cms.verify_signed_data`);
  3. build and validate the DS → CSCA path at the explicit time `at`, with CRLs and link certificates
     (`pki`'s trust store, RFC 5280 §6.1, 9303-12);
  4. hash every data group exactly as read and compare with the SOD (constant time).
Plus: EF.COM's tag list vs the SOD's DG list, DG1 vs the access key the chip was opened with.

Active Authentication, 9303-11 §6.1: the DG15 key (whose DG15 hash PA checked) verifies the signature
over the challenge; when the server gives `expected_aa_challenge` the recorded challenge must equal it
(a counter cannot replay an old answer). Chip Authentication (§6.2) and PACE-CAM (§4.4.3.5) prove the
chip to the terminal that ran them; offline their records are checked for consistency with DG14 /
EF.CardSecurity — Decision: the server's own anti-clone proof is AA on its challenge plus the chip
key bound at issuance in the card registry; CA/CAM outcomes from a counter are marked "reported".
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from icao9303.errors import ICAOError
from reader.errors import MalformedFileError, ReasonCode
from reader.evidence import EvidenceBundle, access_key_digest
from reader.lds_view import com_dg_numbers, dg1_fields, dg2_portrait, dg13_fields, dg15_public_key_info
from reader.report import Check, DocumentData, Outcome, VerificationReport, decide_verdict

__all__ = ["VerificationOptions", "map_pki_code", "reverify", "verify_evidence"]

ID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"  # id-icao-mrtd-security-ldsSecurityObject (9303-10 §4.6.2)


@dataclass(frozen=True)
class VerificationOptions:
    """Offline verification choices (a subset of `reader.access.ReadPolicy`)."""

    allow_sha1: bool = False


@dataclass
class EvidenceVerification:
    """What `verify_evidence` found (the report is built from it)."""

    checks: list[Check] = field(default_factory=list)
    document: DocumentData | None = None
    chip_authentication: str | None = None
    active_authentication: bool = False
    clone_check_possible: bool = False
    certificates_used: list[bytes] = field(default_factory=list)


_PKI_CODES: dict[str, ReasonCode] = {
    "DS_NOT_SIGNED_BY_CSCA": ReasonCode.DS_NOT_TRUSTED,
    "CSCA_UNKNOWN": ReasonCode.DS_NOT_TRUSTED,
    "LINK_INVALID": ReasonCode.DS_NOT_TRUSTED,
    "PATH_INVALID": ReasonCode.DS_NOT_TRUSTED,
    "DS_NOT_TRUSTED": ReasonCode.DS_NOT_TRUSTED,
    "DS_REVOKED": ReasonCode.DS_REVOKED,
    "DS_EXPIRED": ReasonCode.DS_EXPIRED,
    "DS_NOT_YET_VALID": ReasonCode.DS_NOT_YET_VALID,
    "CSCA_EXPIRED": ReasonCode.CSCA_EXPIRED,
    "CSCA_NOT_YET_VALID": ReasonCode.CSCA_EXPIRED,
    "CSCA_REVOKED": ReasonCode.CSCA_REVOKED,
    "CRL_STALE": ReasonCode.CRL_UNAVAILABLE,
    "CRL_MISSING": ReasonCode.CRL_UNAVAILABLE,
    "CRL_INVALID": ReasonCode.CRL_UNAVAILABLE,
    "DS_KEY_USAGE": ReasonCode.KEY_USAGE_INVALID,
    "KEY_USAGE": ReasonCode.KEY_USAGE_INVALID,
    "CSCA_KEY_USAGE": ReasonCode.KEY_USAGE_INVALID,
    "DS_PROFILE": ReasonCode.CERT_INVALID,
    "CERT_MALFORMED": ReasonCode.CERT_INVALID,
    "ALGORITHM_NOT_ALLOWED": ReasonCode.UNKNOWN_ALGORITHM,
    "ALGORITHM_UNSUPPORTED": ReasonCode.UNKNOWN_ALGORITHM,
    "CMS_SIGNATURE_INVALID": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_DIGEST_MISMATCH": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_SIGNER_UNKNOWN": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_SIGNER_COUNT": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_NO_SIGNED_ATTRS": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_CONTENT_TYPE": ReasonCode.SOD_SIGNATURE_INVALID,
    "CMS_MALFORMED": ReasonCode.MALFORMED_FILE,
    "SIGNATURE_INVALID": ReasonCode.SOD_SIGNATURE_INVALID,
    "KEY_MALFORMED": ReasonCode.CERT_INVALID,
}


def map_pki_code(code: str) -> ReasonCode:
    """The report's reason code for a `pki` error code (one table; unknown codes → CERT_INVALID,
    or by keyword for codes added later)."""
    if code in _PKI_CODES:
        return _PKI_CODES[code]
    if "KEY_USAGE" in code:
        return ReasonCode.KEY_USAGE_INVALID
    if "REVOKED" in code:
        return ReasonCode.CSCA_REVOKED if code.startswith("CSCA") else ReasonCode.DS_REVOKED
    if "EXPIRED" in code:
        return ReasonCode.CSCA_EXPIRED if code.startswith("CSCA") else ReasonCode.DS_EXPIRED
    if "CRL" in code:
        return ReasonCode.CRL_UNAVAILABLE
    if "ALGORITHM" in code:
        return ReasonCode.UNKNOWN_ALGORITHM
    return ReasonCode.CERT_INVALID


def _validate_ds_path(trust_store: Any, ds_cert: Any, at: datetime, *, allow_sha1: bool,
                      signed_at: datetime | None, warnings: list[tuple[str, str]] | None = None) -> list[Any]:
    """DS → CSCA path through `pki.validation.validate_ds_path` (RFC 5280 §6.1 at `at`, CRLs, link
    certificates, chain model with the SOD's signing time); returns the path (DS first) or raises a
    `pki.errors.PKIError` with a stable code."""
    from pki.validation import ValidationPolicy, validate_ds_path

    policy = ValidationPolicy(allow_sha1=allow_sha1)
    result = validate_ds_path(ds_cert, at, trust_store, policy, signed_at=signed_at)
    if warnings is not None:
        warnings.extend(result.warnings)
    return list(result.path)


def _der(cert: Any) -> bytes:
    if isinstance(cert, bytes):
        return cert
    if hasattr(cert, "dump"):
        return cert.dump()
    if hasattr(cert, "public_bytes"):
        from cryptography.hazmat.primitives.serialization import Encoding

        return cert.public_bytes(Encoding.DER)
    raise TypeError("unknown certificate type")


def _dg_number(name: str) -> int | None:
    return int(name[2:]) if name.startswith("DG") and name[2:].isdigit() else None


def _passive_authentication(bundle: EvidenceBundle, trust_store: Any, at: datetime,
                            options: VerificationOptions, out: EvidenceVerification) -> dict[int, bytes]:
    """Steps 1-4 of the module docstring; returns the SOD's DG hashes (empty if the SOD is unusable)."""
    checks = out.checks
    sod_bytes = bundle.files.get("EF.SOD")
    if sod_bytes is None:
        checks.append(Check.failed("pa.sod_signature", ReasonCode.FILE_NOT_FOUND, "EF.SOD was not read"))
        return {}
    from icao9303.lds.sod import SOD

    try:
        sod = SOD.from_bytes(sod_bytes)
    except ICAOError as exc:
        code = ReasonCode.UNKNOWN_ALGORITHM if "unsupported" in exc.reason or "algorithm" in exc.reason \
            else ReasonCode.MALFORMED_FILE
        checks.append(Check.failed("pa.sod_signature", code, f"EF.SOD: {exc.reason}"))
        return {}
    from pki.cms import verify_signed_data
    from pki.errors import PKIError

    ds_cert = None
    signed_at = None
    try:
        v = verify_signed_data(sod.content_info, expected_content_type=ID_LDS_SECURITY_OBJECT, what="EF.SOD")
        ds_cert = v.signer_certificate
        signed_at = v.signing_time
        algs = (v.hash_algorithm, sod.hash_algorithm)
        sha1 = any(a.replace("-", "").lower() == "sha1" for a in algs)
        if sha1 and not options.allow_sha1:
            checks.append(Check.failed("pa.sod_signature", ReasonCode.LEGACY_ALGORITHM,
                                       "SHA-1 in EF.SOD refused by policy"))
        else:
            checks.append(Check.passed("pa.sod_signature", f"{v.signature_scheme} with {v.hash_algorithm}"))
            if sha1:
                checks.append(Check.warning("pa.legacy_algorithm", ReasonCode.LEGACY_ALGORITHM,
                                            "SHA-1 accepted by the legacy policy"))
    except PKIError as exc:
        checks.append(Check.failed("pa.sod_signature", map_pki_code(exc.code), exc.code))
    except Exception as exc:  # hostile input must give a reason code, never a crash
        checks.append(Check.failed("pa.sod_signature", ReasonCode.MALFORMED_FILE, type(exc).__name__))
    if ds_cert is None:
        try:
            ds_cert = sod.signer_certificate() if sod.signer_infos else None
        except (ICAOError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            ds_cert = None
    if ds_cert is None:
        checks.append(Check.failed("pa.ds_path", ReasonCode.DS_NOT_TRUSTED, "no DS certificate in EF.SOD"))
    else:
        try:
            warnings: list[tuple[str, str]] = []
            path = _validate_ds_path(trust_store, ds_cert, at, allow_sha1=options.allow_sha1,
                                     signed_at=signed_at, warnings=warnings)
            out.certificates_used = [_der(c) for c in path]
            checks.append(Check.passed("pa.ds_path", f"validated at {at.isoformat()}"))
            for code, message in warnings:
                # e.g. a stale CRL accepted by policy, a SHA-1 certificate: reported, not fatal
                reason = ReasonCode.LEGACY_ALGORITHM if "LEGACY" in code else map_pki_code(code)
                checks.append(Check.warning(f"pa.ds_path.{code.lower()}", reason, message))
        except PKIError as exc:
            out.certificates_used = [_der(ds_cert)]
            checks.append(Check.failed("pa.ds_path", map_pki_code(exc.code), exc.code))
        except Exception as exc:
            out.certificates_used = [_der(ds_cert)]
            checks.append(Check.failed("pa.ds_path", ReasonCode.CERT_INVALID, type(exc).__name__))
    # step 4: every DG as read
    try:
        hashes = sod.dg_hashes
        alg = sod.hash_algorithm
    except ICAOError as exc:
        checks.append(Check.failed("pa.dg_hashes", ReasonCode.UNKNOWN_ALGORITHM, exc.reason))
        return {}
    for name, data in sorted(bundle.files.items(), key=lambda kv: (_dg_number(kv[0]) or 99, kv[0])):
        n = _dg_number(name)
        if n is None:
            continue
        expected = hashes.get(n)
        if expected is None:
            checks.append(Check.failed(f"pa.dg_hash.{name}", ReasonCode.DG_NOT_IN_SOD,
                                       f"{name} is on the chip but not in EF.SOD"))
            continue
        actual = hashlib.new(alg, data).digest()
        if hmac.compare_digest(expected, actual):
            checks.append(Check.passed(f"pa.dg_hash.{name}"))
        else:
            checks.append(Check.failed(f"pa.dg_hash.{name}", ReasonCode.DG_HASH_MISMATCH,
                                       f"{name} differs from its hash in EF.SOD"))
    for n in sorted(hashes):
        name = f"DG{n}"
        if name in bundle.files:
            continue
        why = bundle.unreadable.get(name)
        if why is not None:
            checks.append(Check.skipped(f"read.{name}", ReasonCode(why), f"{name} not read"))
        else:
            checks.append(Check.failed(f"read.{name}", ReasonCode.FILE_NOT_FOUND,
                                       f"{name} is in EF.SOD but missing from the evidence"))
    return hashes


def _check_com(bundle: EvidenceBundle, sod_dgs: dict[int, bytes], out: EvidenceVerification) -> None:
    com = bundle.files.get("EF.COM")
    if com is None:
        out.checks.append(Check.skipped("pa.com_sod", ReasonCode.FILE_NOT_FOUND, "EF.COM not read"))
        return
    try:
        listed = com_dg_numbers(com)
    except MalformedFileError as exc:
        out.checks.append(Check.failed("pa.com_sod", ReasonCode.MALFORMED_FILE, str(exc.step)))
        return
    if not sod_dgs:
        out.checks.append(Check.skipped("pa.com_sod", ReasonCode.NOT_PERFORMED, "no usable EF.SOD"))
        return
    if sorted(set(listed)) != sorted(sod_dgs):
        only_com = sorted(set(listed) - set(sod_dgs))
        only_sod = sorted(set(sod_dgs) - set(listed))
        out.checks.append(Check.failed("pa.com_sod", ReasonCode.COM_SOD_MISMATCH,
                                       f"only in EF.COM: {only_com}; only in EF.SOD: {only_sod}"))
    else:
        out.checks.append(Check.passed("pa.com_sod"))


def _check_document(bundle: EvidenceBundle, out: EvidenceVerification) -> None:
    mrz_fields: dict[str, str] = {}
    dg13: dict[str, Any] = {}
    portrait = None
    dg1 = bundle.files.get("DG1")
    if dg1 is not None:
        try:
            mrz, mrz_fields = dg1_fields(dg1)
            out.checks.append(_check_access_key(bundle, mrz, mrz_fields))
        except MalformedFileError:
            out.checks.append(Check.failed("doc.DG1", ReasonCode.MALFORMED_FILE, "DG1 does not parse"))
    else:
        out.checks.append(Check.failed("doc.DG1", ReasonCode.FILE_NOT_FOUND, "DG1 was not read"))
    if "DG13" in bundle.files:
        try:
            dg13 = dg13_fields(bundle.files["DG13"])
        except MalformedFileError:
            out.checks.append(Check.failed("doc.DG13", ReasonCode.MALFORMED_FILE, "DG13 does not parse"))
    if "DG2" in bundle.files:
        try:
            portrait = dg2_portrait(bundle.files["DG2"])
        except MalformedFileError:
            out.checks.append(Check.failed("doc.DG2", ReasonCode.MALFORMED_FILE, "DG2 does not parse"))
    out.document = DocumentData(mrz_fields=mrz_fields, dg13=dg13,
                                portrait=portrait[0] if portrait else None,
                                portrait_format=portrait[1] if portrait else None)


def _check_access_key(bundle: EvidenceBundle, mrz: Any, fields: dict[str, str]) -> Check:
    """DG1 vs the access key: recompute the seed from DG1 (its MRZ information, 9303-11 §9.7.2, or
    the CAN) and compare digests in constant time.
    Decision (VN_CARD.md): the CAN is the last 6 digits of the personal ID in the TD1 optional data."""
    if bundle.access is None or bundle.access_key_digest is None:
        # Decision: a bundle must say which key opened the chip; without it DG1 is bound to nothing.
        return Check.failed("pa.dg1_access_key", ReasonCode.EVIDENCE_INVALID, "no access key record")
    if bundle.access.password_type == "MRZ":  # noqa: S105 - a password *type*, not a password
        seed = mrz.mrz_information
    else:
        pid = fields.get("personal_id", "")
        seed = pid[-6:] if pid else ""
    digest = access_key_digest(bundle.access.password_type, seed)
    if hmac.compare_digest(digest.encode(), bundle.access_key_digest.encode("utf-8", "replace")):
        return Check.passed("pa.dg1_access_key", f"DG1 matches the {bundle.access.password_type} used")
    return Check.failed("pa.dg1_access_key", ReasonCode.MRZ_MISMATCH,
                        f"DG1 does not match the {bundle.access.password_type} the chip was opened with")


def _check_aa(bundle: EvidenceBundle, expected: bytes | None, out: EvidenceVerification,
              options: VerificationOptions) -> None:
    if "DG15" not in bundle.files:
        if expected is not None:
            out.checks.append(Check.failed("aa", ReasonCode.AA_NOT_SUPPORTED, "no DG15 on this chip"))
        return
    out.clone_check_possible = True
    if bundle.aa_challenge is None or bundle.aa_signature is None:
        why = ReasonCode.AA_FAILED if bundle.aa_challenge is not None else ReasonCode.NOT_PERFORMED
        out.checks.append(Check.failed("aa", why, "no Active Authentication answer recorded")
                          if expected is not None or why is ReasonCode.AA_FAILED
                          else Check.skipped("aa", why, "Active Authentication not performed"))
        return
    if expected is not None and not hmac.compare_digest(bytes(expected), bundle.aa_challenge):
        out.checks.append(Check.failed("aa", ReasonCode.AA_CHALLENGE_MISMATCH,
                                       "the evidence answers another challenge"))
        return
    try:
        key_info = dg15_public_key_info(bundle.files["DG15"])
    except MalformedFileError:
        out.checks.append(Check.failed("aa", ReasonCode.MALFORMED_FILE, "DG15 does not parse"))
        return
    try:
        from icao9303.crypto import aa as aa_mod  # type: ignore[attr-defined]

        aa_mod.verify_active_authentication(key_info, bundle.aa_challenge, bundle.aa_signature,
                                            **_aa_kwargs(bundle))
    except ICAOError as exc:
        code = ReasonCode.UNKNOWN_ALGORITHM if "unsupported" in exc.reason else ReasonCode.AA_FAILED
        out.checks.append(Check.failed("aa", code, exc.reason))
        return
    except Exception as exc:
        out.checks.append(Check.failed("aa", ReasonCode.AA_FAILED, type(exc).__name__))
        return
    out.active_authentication = True
    out.checks.append(Check.passed("aa", "signature over the challenge verifies with the DG15 key"))


def _aa_kwargs(bundle: EvidenceBundle) -> dict[str, Any]:
    """The ECDSA AA hash comes from DG14's ActiveAuthenticationInfo (9303-11 §9.2.8) when present."""
    dg14 = bundle.files.get("DG14")
    if dg14 is None:
        return {}
    try:
        from icao9303.lds.security_infos import DG14

        infos = DG14.from_bytes(dg14).security_infos.active_authentication_infos
        if infos:
            return {"signature_algorithm": infos[0]["signature_algorithm"].dotted}
    except (ICAOError, KeyError, AttributeError):
        return {}
    return {}


def _check_chip_authentication(bundle: EvidenceBundle, out: EvidenceVerification) -> None:
    """Consistency of the recorded CA / PACE-CAM with DG14 / EF.CardSecurity (module docstring)."""
    rec = bundle.chip_authentication
    session = {c.id: c for c in bundle.session_checks}
    if "DG14" in bundle.files:
        out.clone_check_possible = True
    if rec is None:
        s = session.get("ca")
        if s is not None and s.outcome is Outcome.FAILED:
            out.checks.append(s)
        elif "DG14" in bundle.files:
            out.checks.append(Check.skipped("ca", ReasonCode.NOT_PERFORMED, "CA not recorded"))
        return
    protocol = str(rec.get("protocol", ""))
    out.chip_authentication = protocol
    s = session.get("ca")
    if s is not None and s.outcome is Outcome.FAILED:
        out.checks.append(s)
        return
    chip_key = rec.get("chip_public_key")
    try:
        if protocol == "CA":
            from icao9303.crypto.ca import select_chip_authentication
            from icao9303.lds.security_infos import DG14

            if "DG14" not in bundle.files:
                raise ValueError("DG14 not read")
            dg14_infos = DG14.from_bytes(bundle.files["DG14"]).security_infos
            _oid, key = select_chip_authentication(dg14_infos, rec.get("key_id"))
            if chip_key is not None and not hmac.compare_digest(bytes(chip_key), bytes(key.public_key)):
                out.checks.append(Check.failed("ca", ReasonCode.CA_FAILED, "CA used a key not in DG14"))
                return
        elif protocol == "PACE-CAM":
            from reader import chipauth

            cs = next((c for c in out.checks if c.id == "pa.card_security"), None)
            if cs is None or cs.outcome is not Outcome.PASSED:
                out.checks.append(Check.failed("ca", ReasonCode.CAM_FAILED,
                                               "PK_IC from an EF.CardSecurity that did not verify"))
                return

            chipauth.verify_cam_record(bundle, rec)
        else:
            raise ValueError("unknown chip authentication record")
    except ICAOError as exc:
        code = ReasonCode.MALFORMED_FILE if exc.reason.startswith(("lds.", "tlv.", "protocol.malformed")) else (
            ReasonCode.CAM_FAILED if protocol == "PACE-CAM" else ReasonCode.CA_FAILED)
        out.checks.append(Check.failed("ca", code, exc.reason))
        return
    except Exception as exc:
        out.checks.append(Check.failed("ca", ReasonCode.CAM_FAILED if protocol == "PACE-CAM"
                                       else ReasonCode.CA_FAILED, type(exc).__name__))
        return
    detail = "reported by the reader's session" if s is None or s.outcome is not Outcome.PASSED \
        else "confirmed in the session; key consistent with the signed data"
    out.checks.append(Check.passed("ca", f"{protocol}: {detail}"))


def _check_card_security(bundle: EvidenceBundle, trust_store: Any, at: datetime,
                         options: VerificationOptions, out: EvidenceVerification) -> None:
    """EF.CardSecurity (9303-11 §9.2.11; BSI TR-03110-3): a SignedData over SecurityInfos holding the
    PACE-CAM key PK_IC; its signature and its signer's path are checked like the SOD's, before PK_IC is
    trusted."""
    data = bundle.files.get("EF.CardSecurity")
    if data is None:
        return
    from icao9303.lds.oids import ID_SECURITY_OBJECT
    from pki.cms import verify_signed_data
    from pki.errors import PKIError

    try:
        v = verify_signed_data(bytes(data), expected_content_type=ID_SECURITY_OBJECT, what="EF.CardSecurity")
        _validate_ds_path(trust_store, v.signer_certificate, at, allow_sha1=options.allow_sha1,
                          signed_at=v.signing_time)
    except PKIError as exc:
        out.checks.append(Check.failed("pa.card_security", map_pki_code(exc.code), exc.code))
        return
    except Exception as exc:
        out.checks.append(Check.failed("pa.card_security", ReasonCode.MALFORMED_FILE, type(exc).__name__))
        return
    out.checks.append(Check.passed("pa.card_security", "EF.CardSecurity signed by a trusted DS"))


def verify_evidence(bundle: EvidenceBundle, trust_store: Any, *, at: datetime,
                    expected_aa_challenge: bytes | None = None,
                    options: VerificationOptions | None = None) -> EvidenceVerification:
    """Every offline check over `bundle` (see the module docstring). Never raises for bad content:
    each defect becomes a failed check with its reason code."""
    options = options or VerificationOptions()
    out = EvidenceVerification()
    try:
        hashes = _passive_authentication(bundle, trust_store, at, options, out)
        _check_com(bundle, hashes, out)
        _check_document(bundle, out)
        _check_card_security(bundle, trust_store, at, options, out)
        _check_chip_authentication(bundle, out)
        _check_aa(bundle, expected_aa_challenge, out, options)
    except Exception as exc:  # a bug must still give a report with a reason code
        out.checks.append(Check.failed("internal", ReasonCode.INTERNAL_ERROR, type(exc).__name__))
    return out


def reverify(bundle: EvidenceBundle | str | bytes, trust_store: Any, at: datetime | None = None,
             expected_aa_challenge: bytes | None = None, *,
             options: VerificationOptions | None = None) -> VerificationReport:
    """Re-verify an evidence bundle offline (another process, no card) — what the station API runs.

    `bundle` may be the object or its JSON; a malformed bundle gives a FAILED report with
    EVIDENCE_INVALID (never an exception). `at` is the validation time (required in production; None
    means now). `expected_aa_challenge` is the challenge the server chose: the bundle's AA must answer
    exactly it. The session's own checks (access, reads) are carried over as reported by the reader.
    """
    from reader.errors import EvidenceError

    t0 = time.perf_counter()
    at = at or datetime.now(UTC)
    if not isinstance(bundle, EvidenceBundle):
        try:
            bundle = EvidenceBundle.from_json(bundle)
        except EvidenceError as exc:
            check = Check.failed("evidence", ReasonCode.EVIDENCE_INVALID, str(exc.args[0]))
            return VerificationReport(Outcome.FAILED, ReasonCode.EVIDENCE_INVALID, (check,), at, offline=True)
    result = verify_evidence(bundle, trust_store, at=at, expected_aa_challenge=expected_aa_challenge,
                             options=options)
    carried = [c for c in bundle.session_checks if c.id not in {x.id for x in result.checks}]
    checks = tuple(carried + result.checks)
    verdict, reason = decide_verdict(checks, clone_check_possible=result.clone_check_possible)
    return VerificationReport(
        verdict=verdict, reason=reason, checks=checks, validated_at=at, document=result.document,
        access=bundle.access, chip_authentication=result.chip_authentication,
        active_authentication=result.active_authentication, files_read=tuple(bundle.files),
        timings={"verify": time.perf_counter() - t0}, evidence=bundle, offline=True, atr=bundle.atr)
