"""SecurityInfos (ICAO 9303-11 §9.2, TR-03110-3 A.1) and their files: EF.CardAccess, EF.CardSecurity, DG14.

Each SecurityInfo type is an asn1crypto class named as in the spec. `SecurityInfos` parses the
SET OF SecurityInfo element by element, picks the class from the protocol OID, and keeps any
element it does not know as a generic `SecurityInfo` (LESSONS: unknown entries are kept and
reported, never fatal). Elements keep their encoding as read, so `to_bytes()` is byte-exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from asn1crypto import algos, cms, core, keys

from icao9303.errors import LDSError, TLVError
from icao9303.lds import oids
from icao9303.lds.base import BytesEquality, register_econtent_type
from icao9303.tlv import encode_tlv, unwrap_tlv

__all__ = [
    "DG14",
    "DG14_TAG",
    "ActiveAuthenticationInfo",
    "CardAccess",
    "CardSecurity",
    "ChipAuthenticationDomainParameterInfo",
    "ChipAuthenticationInfo",
    "ChipAuthenticationPublicKeyInfo",
    "FileID",
    "PACEDomainParameterInfo",
    "PACEInfo",
    "SecurityInfo",
    "SecurityInfos",
    "SecurityInfosSet",
    "SubjectPublicKeyAlgorithm",
    "SubjectPublicKeyInfo",
    "TerminalAuthenticationInfo",
    "security_info_class",
]

DG14_TAG = 0x6E

ASN1_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    AttributeError,
    RecursionError,
)
"""What asn1crypto raises on malformed input; parsers here turn these into LDSError."""


class SecurityInfo(core.Sequence):
    """SecurityInfo ::= SEQUENCE { protocol OID, requiredData ANY, optionalData ANY OPTIONAL }
    (9303-11 §9.2). Also the class of entries whose protocol this module does not know."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        # Decision: requiredData is read as optional so that an unknown entry carrying only its
        # protocol is still kept rather than failing the whole file (LESSONS).
        ("required_data", core.Any, {"optional": True}),
        ("optional_data", core.Any, {"optional": True}),
    ]

    _coerce: ClassVar[dict[str, type[core.Asn1Value]]] = {}
    """Fields whose lenient class here differs from asn1crypto's: values built from asn1crypto's
    `PublicKeyInfo` / `PublicKeyAlgorithm` are re-read as the lenient class (same bytes)."""

    def __setitem__(self, key: object, value: object) -> None:
        spec = self._coerce.get(key) if isinstance(key, str) else None
        if spec is not None and isinstance(value, core.Asn1Value) and not isinstance(value, spec):
            value = spec.load(value.dump())
        super().__setitem__(key, value)

    @property
    def protocol(self) -> str:
        return self["protocol"].dotted

    @property
    def protocol_name(self) -> str:
        return oids.oid_name(self.protocol)


class PACEInfo(SecurityInfo):
    """PACEInfo ::= SEQUENCE { protocol, version INTEGER (2), parameterId INTEGER OPTIONAL } (9303-11 §9.2.1)
    """

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("parameter_id", core.Integer, {"optional": True}),
    ]


class SubjectPublicKeyAlgorithmId(keys.PublicKeyAlgorithmId):
    """The key algorithms of RFC 3279/5480 plus standardizedDomainParameters (BSI TR-03110-3 A.2.1.1)."""

    _map: ClassVar[dict[str, str]] = {
        **keys.PublicKeyAlgorithmId._map,
        oids.STANDARDIZED_DOMAIN_PARAMETERS: "standardized_domain_parameters",  # TR-03110-3 A.2.1.1
    }
    # asn1crypto builds `_reverse_map` lazily and only when it is None; without this line the class
    # would inherit the parent's map once that is built, and name -> OID would miss our entry.
    _reverse_map: ClassVar[dict[str, str] | None] = None


class SubjectPublicKeyAlgorithm(keys.PublicKeyAlgorithm):
    """AlgorithmIdentifier of a chip key or of domain parameters (RFC 5280 §4.1.1.2), as asn1crypto's
    `PublicKeyAlgorithm` (ECParameters for id-ecPublicKey, DomainParameters for dhpublicnumber) plus
    standardizedDomainParameters whose parameters are the INTEGER id of 9303-11 §9.5.1 table 6.
    An algorithm OID neither knows keeps its parameters as ANY."""

    _fields: ClassVar[list] = [
        ("algorithm", SubjectPublicKeyAlgorithmId),
        ("parameters", core.Any, {"optional": True}),
    ]
    _oid_specs: ClassVar[dict] = {
        **keys.PublicKeyAlgorithm._oid_specs,
        "standardized_domain_parameters": core.Integer,
    }

    @property
    def standardized_parameter_id(self) -> int | None:
        """The standardized domain parameter id (0-31) when the algorithm is standardizedDomainParameters."""
        if self["algorithm"].dotted != oids.STANDARDIZED_DOMAIN_PARAMETERS:
            return None
        value = self["parameters"]
        return value.native if isinstance(value, core.Integer) else None


_STANDARDIZED_BITS = {
    0: 1024, 1: 2048, 2: 2048, 8: 192, 9: 192, 10: 224, 11: 224, 12: 256, 13: 256, 14: 320, 15: 384, 16: 384,
    17: 512, 18: 521,
}
"""Bit length of p of each standardized domain parameter set (9303-11 §9.5.1 table 6)."""


class SubjectPublicKeyInfo(keys.PublicKeyInfo):
    """SubjectPublicKeyInfo of a Chip Authentication / PACE-CAM chip key (9303-11 §9.2.6, TR-03110-3
    A.1.1.2, RFC 5280 §4.1), lenient about the algorithm.

    `asn1crypto.keys.PublicKeyInfo` only knows RFC 3279/5480 algorithms and raises KeyError on
    standardizedDomainParameters (0.4.0.127.0.7.1.2 with an INTEGER id), the form 9303-11 Appendix I
    and TR-03110's EF.CardSecurity/DG14 examples use. Here the public key is read by what the
    algorithm says: an ECPoint (octet string in the BIT STRING, TR-03111 §3.2.1) for the EC ids 8-18,
    an INTEGER y (RFC 3279 §2.3.3) for the DH ids 0-2, raw octets for anything else. Field names are
    asn1crypto's (``algorithm``, ``public_key``), so code written for `PublicKeyInfo` reads both.
    """

    _fields: ClassVar[list] = [
        ("algorithm", SubjectPublicKeyAlgorithm),
        ("public_key", core.ParsableOctetBitString),
    ]

    def _lenient_public_key_spec(self):  # type: ignore[no-untyped-def]
        algorithm = self["algorithm"]
        name = algorithm["algorithm"].native
        if name == "standardized_domain_parameters":
            pid = algorithm.standardized_parameter_id
            if pid in oids.STANDARDIZED_ECDH_PARAMETER_IDS:
                return (keys.ECPointBitString, None)
            if pid in oids.STANDARDIZED_DH_PARAMETER_IDS:
                return core.Integer
            return (core.OctetBitString, None)
        try:
            return keys.PublicKeyInfo._public_key_spec(self)
        except KeyError:  # an algorithm asn1crypto does not know: keep the key as octets
            return (core.OctetBitString, None)

    _spec_callbacks: ClassVar[dict] = {"public_key": _lenient_public_key_spec}

    @property
    def standardized_parameter_id(self) -> int | None:
        return self["algorithm"].standardized_parameter_id

    @property
    def bit_size(self) -> int:
        """Key size in bits; for standardized domain parameters the size of p (9303-11 §9.5.1 table 6)."""
        pid = self.standardized_parameter_id
        if pid is not None:
            if pid not in _STANDARDIZED_BITS:
                raise ValueError(f"unknown standardized domain parameter id {pid}")
            return _STANDARDIZED_BITS[pid]
        return super().bit_size

    @property
    def public_key_bytes(self) -> bytes:
        """The key as carried in the BIT STRING (an encoded ECPoint, or the DER INTEGER of a DH key)."""
        return bytes(self["public_key"].contents[1:])



class PACEDomainParameterInfo(SecurityInfo):
    """PACEDomainParameterInfo ::= SEQUENCE { protocol, domainParameter AlgorithmIdentifier,
    parameterId INTEGER OPTIONAL } (9303-11 §9.2.2) — proprietary (non-standardized) PACE parameters."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("domain_parameter", SubjectPublicKeyAlgorithm),
        ("parameter_id", core.Integer, {"optional": True}),
    ]
    _coerce: ClassVar[dict[str, type[core.Asn1Value]]] = {"domain_parameter": SubjectPublicKeyAlgorithm}


class ChipAuthenticationInfo(SecurityInfo):
    """ChipAuthenticationInfo ::= SEQUENCE { protocol, version INTEGER (1 | 2), keyId INTEGER OPTIONAL }
    (9303-11 §9.2.5)."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("key_id", core.Integer, {"optional": True}),
    ]


class ChipAuthenticationDomainParameterInfo(SecurityInfo):
    """ChipAuthenticationDomainParameterInfo ::= SEQUENCE { protocol id-CA-DH | id-CA-ECDH,
    domainParameter AlgorithmIdentifier, keyId INTEGER OPTIONAL } (TR-03110-3 A.1.1.2)."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("domain_parameter", SubjectPublicKeyAlgorithm),
        ("key_id", core.Integer, {"optional": True}),
    ]
    _coerce: ClassVar[dict[str, type[core.Asn1Value]]] = {"domain_parameter": SubjectPublicKeyAlgorithm}


class ChipAuthenticationPublicKeyInfo(SecurityInfo):
    """ChipAuthenticationPublicKeyInfo ::= SEQUENCE { protocol id-PK-DH | id-PK-ECDH,
    chipAuthenticationPublicKey SubjectPublicKeyInfo, keyId INTEGER OPTIONAL } (9303-11 §9.2.6).

    The key is a lenient `SubjectPublicKeyInfo` (named curve, explicit ECParameters, DH
    DomainParameters or standardizedDomainParameters). An asn1crypto `keys.PublicKeyInfo` given when
    building is accepted and re-read as that class (same bytes).
    """

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("chip_authentication_public_key", SubjectPublicKeyInfo),
        ("key_id", core.Integer, {"optional": True}),
    ]
    _coerce: ClassVar[dict[str, type[core.Asn1Value]]] = {"chip_authentication_public_key": SubjectPublicKeyInfo}

    def check_structure(self) -> None:
        """Raise ValueError when the key's BIT STRING has unused bits: an ECPoint or a DER INTEGER
        is whole octets (X.690 §8.6, TR-03111 §5.1.2), and asn1crypto would silently drop them."""
        if self["chip_authentication_public_key"]["public_key"].contents[:1] != b"\x00":
            raise ValueError("subjectPublicKey with unused bits")



class FileID(core.Sequence):
    """FileID ::= SEQUENCE { fid OCTET STRING (SIZE(2)), sfid OCTET STRING (SIZE(1)) OPTIONAL }."""

    _fields: ClassVar[list] = [
        ("fid", core.OctetString),
        ("sfid", core.OctetString, {"optional": True}),
    ]


class TerminalAuthenticationInfo(SecurityInfo):
    """TerminalAuthenticationInfo ::= SEQUENCE { protocol id-TA, version INTEGER (1 | 2),
    efCVCA FileID OPTIONAL } (9303-11 §9.2.7; efCVCA only in v1)."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("ef_cvca", FileID, {"optional": True}),
    ]


class ActiveAuthenticationInfo(SecurityInfo):
    """ActiveAuthenticationInfo ::= SEQUENCE { protocol id-icao-mrtd-security-aaProtocolObject,
    version INTEGER (1), signatureAlgorithm OBJECT IDENTIFIER } (9303-11 §6.1; DG14 when AA uses ECDSA)."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class SecurityInfosSet(core.SetOf):
    """SecurityInfos ::= SET OF SecurityInfo, every element read as the generic `SecurityInfo`."""

    _child_spec = SecurityInfo


def _register_content_types() -> None:
    """Teach asn1crypto's CMS the eContentType of EF.CardSecurity, id-SecurityObject (idempotent)."""
    register_econtent_type(oids.ID_SECURITY_OBJECT, "security_object", SecurityInfosSet)


_register_content_types()


_CA_DOMAIN_PROTOCOLS = frozenset({oids.ID_CA_DH, oids.ID_CA_ECDH})
_PACE_DOMAIN_PROTOCOLS = frozenset(
    {
        oids.ID_PACE_DH_GM,
        oids.ID_PACE_ECDH_GM,
        oids.ID_PACE_DH_IM,
        oids.ID_PACE_ECDH_IM,
        oids.ID_PACE_ECDH_CAM,
    }
)


def security_info_class(protocol: str) -> type[SecurityInfo]:
    """The SecurityInfo subclass for a protocol OID; the generic `SecurityInfo` when unknown."""
    if protocol in oids.PACE_PROTOCOLS:
        return PACEInfo
    if protocol in _PACE_DOMAIN_PROTOCOLS:
        return PACEDomainParameterInfo
    if protocol in oids.CA_PROTOCOLS:
        return ChipAuthenticationInfo
    if protocol in _CA_DOMAIN_PROTOCOLS:
        return ChipAuthenticationDomainParameterInfo
    if protocol in (oids.ID_PK_DH, oids.ID_PK_ECDH):
        return ChipAuthenticationPublicKeyInfo
    if protocol == oids.ID_TA:
        return TerminalAuthenticationInfo
    if protocol == oids.ID_AA:
        return ActiveAuthenticationInfo
    return SecurityInfo


def _load_info(raw: bytes, file: str) -> SecurityInfo:
    generic = SecurityInfo.load(raw, strict=True)
    protocol = generic["protocol"].dotted
    cls = security_info_class(protocol)
    if cls is SecurityInfo:
        generic.native  # noqa: B018 - a structurally broken unknown entry is still an error
        return generic
    try:
        info = cls.load(raw, strict=True)
        info.native  # noqa: B018 - force the full parse now
        check = getattr(info, "check_structure", None)
        if check is not None:
            check()
    except ASN1_ERRORS:
        # Decision: a known protocol whose entry does not have its structure is kept as a generic
        # SecurityInfo and reported by `SecurityInfos.malformed`; the rest of the file stays usable.
        generic.native  # noqa: B018
        return generic
    return info


def describe_algorithm(algorithm: core.Sequence) -> dict[str, object]:
    """A readable AlgorithmIdentifier: its name and, where known, the domain parameters' name
    (standardized id with its 9303-11 table 6 name, named curve) — explicit parameters are summarised."""
    oid = algorithm["algorithm"].dotted
    name = oids.oid_name(oid) if oid in oids.OID_NAMES else algorithm["algorithm"].native
    out: dict[str, object] = {"algorithm": name}
    params = algorithm["parameters"]
    try:
        if oid == oids.STANDARDIZED_DOMAIN_PARAMETERS and isinstance(params, core.Integer):
            pid = params.native
            out["parameter_id"] = pid
            out["parameters"] = oids.STANDARDIZED_DOMAIN_PARAMETER_NAMES.get(pid, "unknown id")
        elif isinstance(params, keys.ECDomainParameters):
            out["parameters"] = params.chosen.native if params.name == "named" else f"{params.name} ECParameters"
        elif isinstance(params, keys.DomainParameters):
            out["parameters"] = f"DH p of {params['p'].native.bit_length()} bits"
        elif not isinstance(params, core.Void | core.Null):
            out["parameters"] = params.dump().hex()
    except ASN1_ERRORS:
        out["parameters"] = params.dump().hex()
    return out


def describe_public_key_info(spki: keys.PublicKeyInfo) -> dict[str, object]:
    """A readable SubjectPublicKeyInfo: algorithm, domain parameters and the key (hex, as carried)."""
    out = describe_algorithm(spki["algorithm"])
    out["public_key"] = bytes(spki["public_key"].contents[1:]).hex()
    return out


@dataclass(frozen=True, eq=False)
class SecurityInfos(BytesEquality):
    """A parsed SecurityInfos SET (9303-11 §9.2), entries in the order read, unknown entries kept.

    Build one for a chip with `SecurityInfos.build([PACEInfo({...}), ...])` (DER order) or parse
    with `from_bytes`. The typed accessors below pick entries by kind.
    """

    infos: tuple[SecurityInfo, ...]
    file: str = field(default="SecurityInfos", compare=False)
    raw: bytes | None = field(default=None, compare=False, repr=False)
    """The SET as read (set by `from_bytes`); `to_bytes()` returns it unchanged."""

    @classmethod
    def from_bytes(cls, data: bytes, *, file: str = "SecurityInfos") -> SecurityInfos:
        data = bytes(data)
        try:
            body = unwrap_tlv(data, 0x31)
            # Split the SET by its own element encodings so each keeps its bytes as read.
            from icao9303.tlv import iter_tlv

            raws = []
            for tag, value in iter_tlv(body):
                if tag != 0x30:
                    raise LDSError(f"{file}: SecurityInfo with tag {tag:X}", file=file, reason="lds.asn1")
                raws.append(encode_tlv(tag, value))
        except TLVError as exc:
            raise LDSError(f"{file}: {exc.message}", file=file, reason="lds.tlv") from exc
        if len(raws) > 256:
            raise LDSError(f"{file}: more than 256 SecurityInfos", file=file, reason="lds.value")
        infos = []
        for raw in raws:
            try:
                infos.append(_load_info(raw, file))
            except ASN1_ERRORS as exc:
                raise LDSError(
                    f"{file}: malformed SecurityInfo ({type(exc).__name__})", file=file, reason="lds.asn1"
                ) from exc
        return cls(tuple(infos), file, data)

    @classmethod
    def build(cls, infos: Iterable[SecurityInfo], *, file: str = "SecurityInfos") -> SecurityInfos:
        """SecurityInfos from new entries, in DER SET OF order (X.690 §11.6)."""
        items = sorted(infos, key=lambda i: i.dump())
        return cls(tuple(items), file)

    def to_bytes(self) -> bytes:
        """The SET as read when parsed (LESSONS: DG14 hashes must cover the bytes read), else DER."""
        if self.raw is not None:
            return self.raw
        return encode_tlv(0x31, b"".join(i.dump() for i in self.infos))

    def to_asn1(self) -> SecurityInfosSet:
        return SecurityInfosSet.load(self.to_bytes())

    # --- typed views ----------------------------------------------------------------------------
    def of_type(self, cls: type[SecurityInfo]) -> list[SecurityInfo]:
        return [i for i in self.infos if type(i) is cls]

    @property
    def pace_infos(self) -> list[PACEInfo]:
        return self.of_type(PACEInfo)  # type: ignore[return-value]

    @property
    def pace_domain_parameter_infos(self) -> list[PACEDomainParameterInfo]:
        return self.of_type(PACEDomainParameterInfo)  # type: ignore[return-value]

    @property
    def chip_authentication_infos(self) -> list[ChipAuthenticationInfo]:
        return self.of_type(ChipAuthenticationInfo)  # type: ignore[return-value]

    @property
    def chip_authentication_domain_parameter_infos(self) -> list[ChipAuthenticationDomainParameterInfo]:
        return self.of_type(ChipAuthenticationDomainParameterInfo)  # type: ignore[return-value]

    @property
    def chip_authentication_public_key_infos(self) -> list[ChipAuthenticationPublicKeyInfo]:
        return self.of_type(ChipAuthenticationPublicKeyInfo)  # type: ignore[return-value]

    @property
    def terminal_authentication_infos(self) -> list[TerminalAuthenticationInfo]:
        return self.of_type(TerminalAuthenticationInfo)  # type: ignore[return-value]

    @property
    def active_authentication_infos(self) -> list[ActiveAuthenticationInfo]:
        return self.of_type(ActiveAuthenticationInfo)  # type: ignore[return-value]

    @property
    def unknown(self) -> list[SecurityInfo]:
        """Entries whose protocol this module does not know (kept as read)."""
        return [i for i in self.of_type(SecurityInfo) if security_info_class(i.protocol) is SecurityInfo]

    @property
    def malformed(self) -> list[SecurityInfo]:
        """Entries with a known protocol but not its structure (kept as read, generic)."""
        return [i for i in self.of_type(SecurityInfo) if security_info_class(i.protocol) is not SecurityInfo]

    def chip_authentication_public_key(self, key_id: int | None = None) -> ChipAuthenticationPublicKeyInfo:
        """The CA public key with `key_id` (LESSONS: DG14 may hold several; pick by keyId).
        With `key_id` None there must be exactly one key."""
        keys_ = self.chip_authentication_public_key_infos
        if key_id is None:
            if len(keys_) != 1:
                raise LDSError(
                    f"{self.file}: {len(keys_)} Chip Authentication keys, keyId needed",
                    file=self.file,
                    reason="lds.value",
                )
            return keys_[0]
        for k in keys_:
            if k["key_id"].native == key_id:
                return k
        raise LDSError(
            f"{self.file}: no Chip Authentication key with keyId {key_id}",
            file=self.file,
            reason="lds.missing",
        )

    def describe(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for info in self.infos:
            entry: dict[str, object] = {
                "type": type(info).__name__,
                "protocol": info.protocol,
                "protocol_name": info.protocol_name,
            }
            for name, _spec, *_ in info._fields:
                if name == "protocol":
                    continue
                value = info[name]
                if isinstance(value, core.Void):
                    continue
                if isinstance(value, core.Integer):
                    n = value.native
                    # a hostile huge INTEGER would not even convert to decimal text (Python's limit)
                    entry[name] = n if n.bit_length() <= 64 else f"0x{value.contents.hex()}"
                elif isinstance(value, core.ObjectIdentifier):
                    entry[name] = oids.oid_name(value.dotted)
                elif isinstance(value, keys.PublicKeyInfo):
                    entry[name] = describe_public_key_info(value)
                elif isinstance(value, algos.AlgorithmIdentifier | keys.PublicKeyAlgorithm):
                    entry[name] = describe_algorithm(value)
                else:
                    entry[name] = value.dump().hex()
            out.append(entry)
        return out


@dataclass(frozen=True, eq=False)
class CardAccess(BytesEquality):
    """EF.CardAccess (FID 011C, SFI 1C; 9303-10 §3.11.3, 9303-11 §9.2.11): SecurityInfos, no wrapping tag."""

    security_infos: SecurityInfos

    @classmethod
    def from_bytes(cls, data: bytes) -> CardAccess:
        return cls(SecurityInfos.from_bytes(data, file="EF.CardAccess"))  # keeps the bytes as read

    def to_bytes(self) -> bytes:
        return self.security_infos.to_bytes()

    def describe(self) -> dict[str, object]:
        return {"file": "EF.CardAccess", "security_infos": self.security_infos.describe()}


@dataclass(frozen=True, eq=False)
class DG14(BytesEquality):
    """DG14 (tag 6E; 9303-10 §4.7.14): SecurityInfos for Chip Authentication / PACE / AA-ECDSA."""

    security_infos: SecurityInfos
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> DG14:
        try:
            body = unwrap_tlv(bytes(data), DG14_TAG)
        except TLVError as exc:
            raise LDSError(f"DG14: {exc.message}", file="DG14", reason="lds.tlv") from exc
        return cls(SecurityInfos.from_bytes(body, file="DG14"), bytes(data))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_tlv(DG14_TAG, self.security_infos.to_bytes())

    def describe(self) -> dict[str, object]:
        return {"file": "DG14", "security_infos": self.security_infos.describe()}


@dataclass(frozen=True, eq=False)
class CardSecurity(BytesEquality):
    """EF.CardSecurity (FID 011D; 9303-11 §9.2.11, TR-03110-3 A.1.2.5): CMS SignedData whose eContent
    (eContentType id-SecurityObject) is SecurityInfos, signed by a Document Signer. Byte-exact as read."""

    content_info: cms.ContentInfo
    raw: bytes | None = field(default=None, compare=False, repr=False)
    security_infos: SecurityInfos = field(init=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ci = self.content_info
            if ci["content_type"].dotted != "1.2.840.113549.1.7.2":
                raise LDSError("EF.CardSecurity is not SignedData", file="EF.CardSecurity", reason="lds.asn1")
            eci = ci["content"]["encap_content_info"]
            if eci["content_type"].dotted != oids.ID_SECURITY_OBJECT:
                raise LDSError(
                    "EF.CardSecurity eContentType is not id-SecurityObject",
                    file="EF.CardSecurity",
                    reason="lds.asn1",
                )
            if not isinstance(eci["content"], core.ParsableOctetString):
                raise LDSError(
                    "EF.CardSecurity has no eContent", file="EF.CardSecurity", reason="lds.missing"
                )
            raw = bytes(eci["content"])
            for si in ci["content"]["signer_infos"]:
                si.native  # noqa: B018
        except LDSError:
            raise
        except ASN1_ERRORS as exc:
            raise LDSError(
                f"EF.CardSecurity: malformed ASN.1 ({type(exc).__name__})",
                file="EF.CardSecurity",
                reason="lds.asn1",
            ) from exc
        object.__setattr__(self, "security_infos", SecurityInfos.from_bytes(raw, file="EF.CardSecurity"))

    @classmethod
    def from_bytes(cls, data: bytes) -> CardSecurity:
        try:
            ci = cms.ContentInfo.load(bytes(data), strict=True)
        except ASN1_ERRORS as exc:
            raise LDSError(
                f"EF.CardSecurity: malformed ASN.1 ({type(exc).__name__})",
                file="EF.CardSecurity",
                reason="lds.asn1",
            ) from exc
        return cls(ci, bytes(data))

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return self.content_info.dump()

    @property
    def signed_data(self) -> cms.SignedData:
        return self.content_info["content"]

    @property
    def econtent_bytes(self) -> bytes:
        return bytes(self.signed_data["encap_content_info"]["content"])

    def describe(self) -> dict[str, object]:
        return {
            "file": "EF.CardSecurity",
            "signers": [si["signature_algorithm"]["algorithm"].native for si in self.signed_data["signer_infos"]],
            "security_infos": self.security_infos.describe(),
        }

    def signed_attrs_bytes(self, index: int = 0) -> bytes | None:
        """Signed attributes as read, with tag 31 (RFC 5652 §5.4), or None."""
        attrs = self.signed_data["signer_infos"][index]["signed_attrs"]
        if isinstance(attrs, core.Void):
            return None
        return b"\x31" + attrs.dump()[1:]
