"""ICAO 9303-12 ASN.1 structures the PKI needs that asn1crypto lacks: document type list, master list, OIDs.

Decision: these are declared here, not registered into asn1crypto's global extension maps, so importing
`pki` never changes how other code parses certificates; extensions are (de)serialised through
:func:`extension_value`.
"""

from __future__ import annotations

from typing import ClassVar

from asn1crypto import core, x509

from icao9303.lds import oids

# OIDs come from icao9303.lds.oids (owned by the core package); short aliases for this package.
ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT = oids.ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT
ID_ICAO_CSCA_MASTER_LIST = oids.ID_ICAO_CSCA_MASTER_LIST
ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY = oids.ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY
ID_ICAO_NAME_CHANGE = oids.ID_ICAO_MRTD_SECURITY_EXTENSIONS_NAME_CHANGE
ID_ICAO_DOCUMENT_TYPE_LIST = oids.ID_ICAO_MRTD_SECURITY_EXTENSIONS_DOCUMENT_TYPE_LIST
ID_ICAO_DEVIATION_LIST = oids.ID_ICAO_DEVIATION_LIST
ID_ICAO_DEVIATION_LIST_SIGNING_KEY = oids.ID_ICAO_DEVIATION_LIST_SIGNING_KEY
ID_SECURITY_OBJECT = oids.ID_SECURITY_OBJECT


class DocumentType(core.PrintableString):
    """DocumentType ::= PrintableString(SIZE(1..2)) -- ICAO 9303-12 §7.1.1.3."""


class DocumentTypes(core.SetOf):
    _child_spec = DocumentType


class DocumentTypeListSyntax(core.Sequence):
    """DocumentTypeListSyntax ::= SEQUENCE { version INTEGER (v0), docTypeList SET OF DocumentType }.

    ICAO 9303-12 §7.1.1.3, extension id-icao-mrtd-security-extensions-documentTypeList (2.23.136.1.1.6.2).
    """

    _fields: ClassVar = [
        ("version", core.Integer),
        ("doc_type_list", DocumentTypes),
    ]


class CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):
    """CscaMasterList ::= SEQUENCE { version CscaMasterListVersion (v0), certList SET OF Certificate }.

    ICAO 9303-12 §9 (eContent of a master list, eContentType id-icao-cscaMasterList).
    """

    _fields: ClassVar = [
        ("version", core.Integer),
        ("cert_list", CertificateSet),
    ]


def extension_value(extensions: x509.Extensions | None, oid: str) -> tuple[bool, bytes] | None:
    """(critical, extnValue octets) of the extension ``oid`` (dotted or asn1crypto name), or None."""
    if extensions is None:
        return None
    for ext in extensions:
        ext_id = ext["extn_id"]
        if ext_id.dotted == oid or ext_id.native == oid:
            return bool(ext["critical"].native), bytes(ext["extn_value"].contents or b"")
    return None


def document_types(certificate: x509.Certificate) -> list[str] | None:
    """The document type list of a DS certificate (9303-12 §7.1.1.3), or None when absent."""
    found = extension_value(certificate["tbs_certificate"]["extensions"], ID_ICAO_DOCUMENT_TYPE_LIST)
    if found is None:
        return None
    parsed = DocumentTypeListSyntax.load(found[1], strict=True)
    return [str(v.native) for v in parsed["doc_type_list"]]


def document_type_permitted(types: list[str], code: str) -> bool:
    """Whether a document code (first 2 MRZ characters, e.g. ``ID``, ``PM``) is covered by a document type
    list: an entry covers every code it is a prefix of (9303-12 §7.1.1.3; LESSONS: ``P`` covers ``PP``,
    ``PM`` …). Filler ``<`` in the code is ignored."""
    code = code.rstrip("<")
    return any(entry and code.startswith(entry) for entry in types)
