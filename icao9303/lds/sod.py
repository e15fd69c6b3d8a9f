"""EF.SOD, the Document Security Object (ICAO 9303-10 §4.6.2): LDSSecurityObject in CMS SignedData, tag 77.

The ASN.1 of 9303-10 §4.6.2.3 as asn1crypto classes, registered with `asn1crypto.cms` so that
``EncapsulatedContentInfo['content'].parsed`` gives an `LDSSecurityObject` for eContentType
id-icao-mrtd-security-ldsSecurityObject (and `SecurityInfos` for id-SecurityObject, EF.CardSecurity).

`SOD` keeps the parsed objects as read: `to_bytes()` returns the input byte for byte, and
`econtent_bytes` / `signed_attrs_bytes()` are the ORIGINAL encodings a verifier must hash
(LESSONS: verify over the bytes as read, never a re-encoding). Signature and certificate-path
checks belong to `pki` / `reader`; this module checks data group hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from asn1crypto import algos, cms, core, x509

from icao9303.errors import LDSError, TLVError
from icao9303.lds import oids
from icao9303.lds.base import BytesEquality, register_econtent_type
from icao9303.lds.security_infos import ASN1_ERRORS
from icao9303.tlv import encode_tlv, unwrap_tlv

__all__ = [
    "SOD",
    "SOD_TAG",
    "DataGroupHash",
    "DataGroupHashValues",
    "LDSSecurityObject",
    "LDSVersionInfo",
    "build_lds_security_object",
    "hash_data_groups",
    "hash_name",
]

SOD_TAG = 0x77

# Hash algorithms of 9303-12 §4 / RFC 5754 the SOD may name, by asn1crypto name -> hashlib name.
_HASHES = {"sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
_MAX_DATA_GROUPS = 16  # ub-DataGroups (9303-10 §4.6.2.3)


class DataGroupHash(core.Sequence):
    """DataGroupHash ::= SEQUENCE { dataGroupNumber DataGroupNumber, dataGroupHashValue OCTET STRING }."""

    _fields: ClassVar[list] = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):
    """SEQUENCE SIZE (2..ub-DataGroups) OF DataGroupHash."""

    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):
    """LDSVersionInfo ::= SEQUENCE { ldsVersion PrintableString, unicodeVersion PrintableString } (v1 only).
    """

    _fields: ClassVar[list] = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):
    """LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ldsVersionInfo OPT }.

    ICAO 9303-10 §4.6.2.3: version v0 (0) without ldsVersionInfo, v1 (1) with it.
    """

    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]


def _register_content_types() -> None:
    """Teach asn1crypto's CMS the eContentType of EF.SOD (idempotent, any import order)."""
    register_econtent_type(
        oids.ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT, "lds_security_object", LDSSecurityObject
    )


def hash_name(algorithm: algos.DigestAlgorithm | str) -> str:
    """hashlib name of a digest AlgorithmIdentifier (or asn1crypto name); LDSError if not allowed."""
    name = algorithm if isinstance(algorithm, str) else algorithm["algorithm"].native
    if name not in _HASHES:
        raise LDSError(
            f"hash algorithm {name!r} not allowed for EF.SOD", file="EF.SOD", reason="lds.unsupported"
        )
    return _HASHES[name]


def hash_data_groups(hash_algorithm: str, data_groups: Mapping[int, bytes]) -> dict[int, bytes]:
    """{DG number: hash of the DG's full bytes (tag, length, value)} with `hash_algorithm` ("sha256", ...)."""
    name = hash_name(hash_algorithm)
    return {n: hashlib.new(name, bytes(v)).digest() for n, v in sorted(data_groups.items())}


def build_lds_security_object(
    hash_algorithm: str,
    dg_hashes: Mapping[int, bytes],
    *,
    lds_version: str | None = None,
    unicode_version: str | None = None,
) -> LDSSecurityObject:
    """LDSSecurityObject v1 when `lds_version` and `unicode_version` are given ("0108", "040000"); else v0

    Decision: the DigestAlgorithmIdentifier is written as asn1crypto writes it, with NULL parameters;
    RFC 5754 §2 prefers them absent, but verifiers must accept both and many issuers write NULL.
    """
    hash_name(hash_algorithm)
    if len(dg_hashes) < 2 or len(dg_hashes) > _MAX_DATA_GROUPS:
        raise LDSError(
            "an LDSSecurityObject holds 2..16 data group hashes", file="EF.SOD", reason="lds.value"
        )
    if (lds_version is None) != (unicode_version is None):
        raise LDSError("LDS v1 needs both lds_version and unicode_version", file="EF.SOD", reason="lds.value")
    value: dict[str, object] = {
        "version": 1 if lds_version is not None else 0,
        "hash_algorithm": {"algorithm": hash_algorithm},
        "data_group_hash_values": [
            {"data_group_number": n, "data_group_hash_value": bytes(h)} for n, h in sorted(dg_hashes.items())
        ],
    }
    if lds_version is not None:
        value["lds_version_info"] = {"lds_version": lds_version, "unicode_version": unicode_version}
    return LDSSecurityObject(value)


def _asn1_error(exc: Exception, what: str) -> LDSError:
    return LDSError(f"{what}: malformed ASN.1 ({type(exc).__name__})", file="EF.SOD", reason="lds.asn1")


@dataclass(frozen=True, eq=False)
class SOD(BytesEquality):
    """EF.SOD (ICAO 9303-10 §4.6.2): ``77`` wrapping a CMS ContentInfo of SignedData (RFC 5652 §5).

    Build one with `SOD.from_content_info(content_info)` (the signer, `pki`, produces the ContentInfo)
    or parse one with `SOD.from_bytes(data)`; either way everything is parsed and checked on creation.
    """

    content_info: cms.ContentInfo
    raw: bytes | None = field(default=None, compare=False, repr=False)
    """The file as read (set by `from_bytes`); `to_bytes()` returns it unchanged."""

    def __post_init__(self) -> None:
        try:
            ci = self.content_info
            if ci["content_type"].dotted != "1.2.840.113549.1.7.2":
                raise LDSError("ContentInfo is not SignedData", file="EF.SOD", reason="lds.asn1")
            sd = ci["content"]
            eci = sd["encap_content_info"]
            if eci["content_type"].dotted != oids.ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT:
                raise LDSError(
                    "eContentType is not id-icao-mrtd-security-ldsSecurityObject",
                    file="EF.SOD",
                    reason="lds.asn1",
                )
            if not isinstance(eci["content"], core.ParsableOctetString):
                raise LDSError("SignedData has no eContent", file="EF.SOD", reason="lds.missing")
            lso = LDSSecurityObject.load(bytes(eci["content"]), strict=True)
            lso.native  # noqa: B018 - force a full parse so malformed content fails here
            for si in sd["signer_infos"]:
                si.native  # noqa: B018
            # Decision: certificates are checked when first asked for (`certificates`), not here:
            # their full parse costs more than the rest of the SOD together.
        except LDSError:
            raise
        except ASN1_ERRORS as exc:
            raise _asn1_error(exc, "SignedData") from exc
        object.__setattr__(self, "_lso", lso)
        hashes_: dict[int, bytes] = {}
        for h in lso["data_group_hash_values"]:
            hashes_[int(h["data_group_number"].native)] = bytes(h["data_group_hash_value"].native)
        object.__setattr__(self, "_dg_hashes", hashes_)
        version = lso["version"].native
        has_info = isinstance(lso["lds_version_info"], LDSVersionInfo)
        if version not in (0, 1) or (version == 1) != has_info:
            raise LDSError(
                # the version is shown only when small: a hostile huge INTEGER has no decimal text
                f"LDSSecurityObject version {version if version.bit_length() < 32 else '(huge)'}"
                f" with ldsVersionInfo {has_info}",
                file="EF.SOD",
                reason="lds.value",
            )
        hash_name(lso["hash_algorithm"])
        numbers = [h["data_group_number"].native for h in lso["data_group_hash_values"]]
        if len(set(numbers)) != len(numbers) or not all(1 <= n <= _MAX_DATA_GROUPS for n in numbers):
            raise LDSError("data group numbers must be distinct, 1..16", file="EF.SOD", reason="lds.value")

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> SOD:
        """Parse EF.SOD as read from the chip (trailing bytes after the 77 object are rejected)."""
        try:
            body = unwrap_tlv(bytes(data), SOD_TAG)
        except TLVError as exc:
            raise LDSError(f"EF.SOD: {exc.message}", file="EF.SOD", reason="lds.tlv") from exc
        try:
            ci = cms.ContentInfo.load(body, strict=True)
        except ASN1_ERRORS as exc:
            raise _asn1_error(exc, "ContentInfo") from exc
        return cls(ci, bytes(data))

    @classmethod
    def from_content_info(cls, content_info: cms.ContentInfo | bytes) -> SOD:
        """Wrap a ContentInfo (object or DER) produced by a signer."""
        if isinstance(content_info, bytes | bytearray):
            return cls.from_bytes(encode_tlv(SOD_TAG, bytes(content_info)))
        return cls(content_info)

    def to_bytes(self) -> bytes:
        """``77 L ContentInfo``; byte-identical to the input when parsed with `from_bytes`."""
        if self.raw is not None:
            return self.raw
        return encode_tlv(SOD_TAG, self.content_info.dump())

    # --- the LDS security object ------------------------------------------------------------------
    @property
    def signed_data(self) -> cms.SignedData:
        return self.content_info["content"]

    @property
    def lds_security_object(self) -> LDSSecurityObject:
        return self._lso  # type: ignore[attr-defined]

    @property
    def econtent_bytes(self) -> bytes:
        """The eContent octets as read (DER of the LDSSecurityObject): what messageDigest covers."""
        return bytes(self.signed_data["encap_content_info"]["content"])

    @property
    def version(self) -> int:
        return int(self.lds_security_object["version"].native)

    @property
    def hash_algorithm(self) -> str:
        """hashlib name of the data group hash algorithm ("sha256", ...)."""
        return hash_name(self.lds_security_object["hash_algorithm"])

    @property
    def hash_algorithm_oid(self) -> str:
        return self.lds_security_object["hash_algorithm"]["algorithm"].dotted

    @property
    def dg_hashes(self) -> dict[int, bytes]:
        """{data group number: hash value} in the order of the SOD (a copy)."""
        return dict(self._dg_hashes)  # type: ignore[attr-defined]

    @property
    def lds_version(self) -> str | None:
        info = self.lds_security_object["lds_version_info"]
        return info["lds_version"].native if isinstance(info, LDSVersionInfo) else None

    @property
    def unicode_version(self) -> str | None:
        info = self.lds_security_object["lds_version_info"]
        return info["unicode_version"].native if isinstance(info, LDSVersionInfo) else None

    def verify_data_group(self, number: int, data: bytes) -> None:
        """Raise LDSError unless the SOD holds a hash for DG `number` equal to the hash of `data` as read."""
        expected = self._dg_hashes.get(number)  # type: ignore[attr-defined]
        if expected is None:
            raise LDSError(f"EF.SOD has no hash for DG{number}", file="EF.SOD", reason="lds.dg_hash_missing")
        actual = hashlib.new(self.hash_algorithm, bytes(data)).digest()
        if not hmac.compare_digest(expected, actual):
            raise LDSError(
                f"DG{number} hash does not match EF.SOD", file=f"DG{number}", reason="lds.dg_hash_mismatch"
            )

    # --- the CMS parts a verifier needs -------------------------------------------------------------
    @property
    def signer_infos(self) -> list[cms.SignerInfo]:
        return list(self.signed_data["signer_infos"])

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The certificates carried in SignedData (normally the Document Signer certificate)."""
        out = []
        try:
            for choice in self.signed_data["certificates"] or []:
                if choice.name == "certificate":
                    cert = choice.chosen
                    cert.native  # noqa: B018 - a malformed certificate fails here, as LDSError
                    out.append(cert)
        except ASN1_ERRORS as exc:
            raise _asn1_error(exc, "certificates") from exc
        return out

    def signed_attrs(self, index: int = 0) -> cms.CMSAttributes | None:
        """The signed attributes of signer `index`, or None when absent."""
        attrs = self.signer_infos[index]["signed_attrs"]
        return None if isinstance(attrs, core.Void) else attrs

    def signed_attrs_bytes(self, index: int = 0) -> bytes | None:
        """The DER the signature covers (RFC 5652 §5.4): the signed attributes AS READ with the
        IMPLICIT [0] tag replaced by the SET OF tag 31. None when the signer has no signed attributes.

        Decision: the contents are the octets as read; the length is re-derived in minimal form, which
        is what RFC 5652 §5.4 makes the signer sign (the DER of the SET OF), so no valid signature is lost.
        """
        attrs = self.signed_attrs(index)
        if attrs is None:
            return None
        raw = attrs.dump()
        return b"\x31" + raw[1:]

    def signed_attribute(self, name: str, index: int = 0) -> object | None:
        """The first value of the signed attribute `name` (asn1crypto name, e.g. "message_digest")."""
        attrs = self.signed_attrs(index)
        for attr in attrs or []:
            if attr["type"].native == name:
                return attr["values"][0]
        return None

    def message_digest(self, index: int = 0) -> bytes | None:
        value = self.signed_attribute("message_digest", index)
        return None if value is None else bytes(value.native)  # type: ignore[attr-defined]

    def signature(self, index: int = 0) -> bytes:
        return bytes(self.signer_infos[index]["signature"].native)

    def signature_algorithm(self, index: int = 0) -> algos.SignedDigestAlgorithm:
        """Taken from SignerInfo (LESSONS: never from the DS certificate)."""
        return self.signer_infos[index]["signature_algorithm"]

    def digest_algorithm(self, index: int = 0) -> str:
        """hashlib name of the SignerInfo digestAlgorithm."""
        return hash_name(self.signer_infos[index]["digest_algorithm"])

    def signer_identifier(self, index: int = 0) -> cms.SignerIdentifier:
        return self.signer_infos[index]["sid"]

    def signer_certificate(self, index: int = 0) -> x509.Certificate | None:
        """The certificate in SignedData that matches signer `index`'s sid, or None."""
        sid = self.signer_identifier(index)
        for cert in self.certificates:
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                    return cert
            elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return cert
        return None

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary (hashes in hex) for dumps. Never raises: a part that does not parse
        (e.g. a malformed DS certificate, which only fails when used) is shown as such."""

        def safe(fn, what: str) -> object:  # type: ignore[no-untyped-def]
            try:
                return fn()
            except (LDSError, *ASN1_ERRORS):
                return f"malformed {what}"

        return {
            "file": "EF.SOD",
            "version": self.version,
            "hash_algorithm": self.hash_algorithm,
            "lds_version": self.lds_version,
            "unicode_version": self.unicode_version,
            "dg_hashes": {str(n): h.hex() for n, h in self.dg_hashes.items()},
            "signers": safe(lambda: [
                {
                    "digest_algorithm": si["digest_algorithm"]["algorithm"].native,
                    "signature_algorithm": si["signature_algorithm"]["algorithm"].native,
                    "signed_attrs": [a["type"].native for a in (self.signed_attrs(i) or [])],
                    **_signing_time(self.signed_attrs(i)),
                }
                for i, si in enumerate(self.signer_infos)
            ], "SignerInfo"),
            "certificates": safe(lambda: [
                {
                    "subject": c.subject.human_friendly,
                    "issuer": c.issuer.human_friendly,
                    "serial_number": format(c.serial_number, "x") if c.serial_number.bit_length() < 4096 else "(huge)",
                    "not_before": str(c["tbs_certificate"]["validity"]["not_before"].native),
                    "not_after": str(c["tbs_certificate"]["validity"]["not_after"].native),
                }
                for c in self.certificates
            ], "certificate"),
        }


def _signing_time(attrs: cms.CMSAttributes | None) -> dict[str, str]:
    """{"signing_time": ...} when the signed attributes carry one (RFC 5652 §11.3), else {}."""
    for a in attrs or []:
        if a["type"].native == "signing_time":
            return {"signing_time": str(a["values"][0].native)}
    return {}


_register_content_types()
