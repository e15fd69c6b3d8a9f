"""Object identifiers of ICAO 9303-10/-11/-12 and BSI TR-03110-3 A.1.1, as dotted strings, plus name tables.

Decision: the document type list extension is ``2.23.136.1.1.6.2`` (9303-12 §7.1.1.3,
id-icao-mrtd-security-extensions 2); some libraries carry an older ``2.23.136.1.1.4`` that no
current edition defines, so it is not used here.
"""

from __future__ import annotations

# --- ICAO arc (9303-10 §4.6.2, 9303-11 §6.1, 9303-12 §7, §9, §10) -----------------------------------
ID_ICAO = "2.23.136"
ID_ICAO_MRTD = "2.23.136.1"
ID_ICAO_MRTD_SECURITY = "2.23.136.1.1"
ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"  # 9303-10 §4.6.2: EF.SOD eContentType
ID_ICAO_CSCA_MASTER_LIST = "2.23.136.1.1.2"  # 9303-12 §9
ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY = "2.23.136.1.1.3"  # 9303-12 §7.1.1.3 EKU
ID_ICAO_MRTD_SECURITY_AA_PROTOCOL_OBJECT = "2.23.136.1.1.5"  # 9303-11 §6.1: ActiveAuthenticationInfo
ID_AA = ID_ICAO_MRTD_SECURITY_AA_PROTOCOL_OBJECT
ID_ICAO_MRTD_SECURITY_EXTENSIONS = "2.23.136.1.1.6"
ID_ICAO_MRTD_SECURITY_EXTENSIONS_NAME_CHANGE = "2.23.136.1.1.6.1"  # 9303-12 §7.1.1.3
ID_ICAO_MRTD_SECURITY_EXTENSIONS_DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"  # 9303-12 §7.1.1.3
ID_ICAO_DEVIATION_LIST = "2.23.136.1.1.7"  # 9303-12 §10
ID_ICAO_DEVIATION_LIST_SIGNING_KEY = "2.23.136.1.1.8"

# --- BSI arc (TR-03110-3 A.1.1) ----------------------------------------------------------------------
BSI_DE = "0.4.0.127.0.7"
STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"  # TR-03110-3 A.2.1.1 AlgorithmIdentifier for ids 0-31

# ECDSA plain signatures (BSI TR-03111 §5.2.1) — used by AA with ECDSA and by CV certificates.
ECDSA_PLAIN_SIGNATURES = "0.4.0.127.0.7.1.1.4.1"
ECDSA_PLAIN_SHA1 = "0.4.0.127.0.7.1.1.4.1.1"
ECDSA_PLAIN_SHA224 = "0.4.0.127.0.7.1.1.4.1.2"
ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
ECDSA_PLAIN_SHA384 = "0.4.0.127.0.7.1.1.4.1.4"
ECDSA_PLAIN_SHA512 = "0.4.0.127.0.7.1.1.4.1.5"
ECDSA_PLAIN_RIPEMD160 = "0.4.0.127.0.7.1.1.4.1.6"

# Chip Authentication public keys (A.1.1.2)
ID_PK = "0.4.0.127.0.7.2.2.1"
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"

# Terminal Authentication (A.1.1.3)
ID_TA = "0.4.0.127.0.7.2.2.2"
ID_TA_RSA = "0.4.0.127.0.7.2.2.2.1"
ID_TA_RSA_V1_5_SHA_1 = "0.4.0.127.0.7.2.2.2.1.1"
ID_TA_RSA_V1_5_SHA_256 = "0.4.0.127.0.7.2.2.2.1.2"
ID_TA_RSA_PSS_SHA_1 = "0.4.0.127.0.7.2.2.2.1.3"
ID_TA_RSA_PSS_SHA_256 = "0.4.0.127.0.7.2.2.2.1.4"
ID_TA_RSA_V1_5_SHA_512 = "0.4.0.127.0.7.2.2.2.1.5"
ID_TA_RSA_PSS_SHA_512 = "0.4.0.127.0.7.2.2.2.1.6"
ID_TA_ECDSA = "0.4.0.127.0.7.2.2.2.2"
ID_TA_ECDSA_SHA_1 = "0.4.0.127.0.7.2.2.2.2.1"
ID_TA_ECDSA_SHA_224 = "0.4.0.127.0.7.2.2.2.2.2"
ID_TA_ECDSA_SHA_256 = "0.4.0.127.0.7.2.2.2.2.3"
ID_TA_ECDSA_SHA_384 = "0.4.0.127.0.7.2.2.2.2.4"
ID_TA_ECDSA_SHA_512 = "0.4.0.127.0.7.2.2.2.2.5"

# Chip Authentication (A.1.1.2; 9303-11 §9.2.5)
ID_CA = "0.4.0.127.0.7.2.2.3"
ID_CA_DH = "0.4.0.127.0.7.2.2.3.1"
ID_CA_DH_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.3.1.1"
ID_CA_DH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.1.2"
ID_CA_DH_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.3.1.3"
ID_CA_DH_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.3.1.4"
ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_CA_ECDH_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.3.2.1"
ID_CA_ECDH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.2.2"
ID_CA_ECDH_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.3.2.3"
ID_CA_ECDH_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.3.2.4"

# PACE (A.1.1.1; 9303-11 §9.2.1)
ID_PACE = "0.4.0.127.0.7.2.2.4"
ID_PACE_DH_GM = "0.4.0.127.0.7.2.2.4.1"
ID_PACE_DH_GM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.1.1"
ID_PACE_DH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.1.2"
ID_PACE_DH_GM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.1.3"
ID_PACE_DH_GM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.1.4"
ID_PACE_ECDH_GM = "0.4.0.127.0.7.2.2.4.2"
ID_PACE_ECDH_GM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.2.1"
ID_PACE_ECDH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.2.2"
ID_PACE_ECDH_GM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.2.3"
ID_PACE_ECDH_GM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.2.4"
ID_PACE_DH_IM = "0.4.0.127.0.7.2.2.4.3"
ID_PACE_DH_IM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.3.1"
ID_PACE_DH_IM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.3.2"
ID_PACE_DH_IM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.3.3"
ID_PACE_DH_IM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.3.4"
ID_PACE_ECDH_IM = "0.4.0.127.0.7.2.2.4.4"
ID_PACE_ECDH_IM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.4.1"
ID_PACE_ECDH_IM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.4.2"
ID_PACE_ECDH_IM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.4.3"
ID_PACE_ECDH_IM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.4.4"
ID_PACE_ECDH_CAM = "0.4.0.127.0.7.2.2.4.6"  # 9303-11 §4.4.3.5; no 3DES variant is defined
ID_PACE_ECDH_CAM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.6.2"
ID_PACE_ECDH_CAM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.6.3"
ID_PACE_ECDH_CAM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.6.4"

# Restricted Identification, CardInfo, eID security, privileged terminal (A.1.1), listed to name them.
ID_RI = "0.4.0.127.0.7.2.2.5"
ID_CI = "0.4.0.127.0.7.2.2.6"
ID_EID_SECURITY = "0.4.0.127.0.7.2.2.7"
ID_PT = "0.4.0.127.0.7.2.2.8"

# EF.CardSecurity eContentType (TR-03110-3 A.1.2.5, 9303-11 §9.2.1 "id-SecurityObject")
ID_SECURITY_OBJECT = "0.4.0.127.0.7.3.2.1"

# Public key algorithms of DG14/DG15 keys (RFC 3279, ANSI X9.42, RFC 5480)
ID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
ID_DH_PUBLIC_NUMBER = "1.2.840.10046.2.1"
ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

# ECDSA with SHA-2 (RFC 5758), used as ActiveAuthenticationInfo.signatureAlgorithm (9303-11 §6.1)
ECDSA_WITH_SHA1 = "1.2.840.10045.4.1"
ECDSA_WITH_SHA224 = "1.2.840.10045.4.3.1"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3"
ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.4"

# --- Standardized domain parameters (9303-11 §9.5.1 table 31; TR-03110-3 A.2.1.1) -------------------
STANDARDIZED_DOMAIN_PARAMETER_NAMES: dict[int, str] = {
    0: "1024-bit MODP Group with 160-bit Prime Order Subgroup (RFC 5114 §2.1)",
    1: "2048-bit MODP Group with 224-bit Prime Order Subgroup (RFC 5114 §2.2)",
    2: "2048-bit MODP Group with 256-bit Prime Order Subgroup (RFC 5114 §2.3)",
    8: "NIST P-192 (secp192r1)",
    9: "BrainpoolP192r1",
    10: "NIST P-224 (secp224r1)",
    11: "BrainpoolP224r1",
    12: "NIST P-256 (secp256r1)",
    13: "BrainpoolP256r1",
    14: "BrainpoolP320r1",
    15: "NIST P-384 (secp384r1)",
    16: "BrainpoolP384r1",
    17: "BrainpoolP512r1",
    18: "NIST P-521 (secp521r1)",
}
"""Ids 3-7 and 19-31 are reserved for future use."""

STANDARDIZED_DH_PARAMETER_IDS = frozenset({0, 1, 2})
STANDARDIZED_ECDH_PARAMETER_IDS = frozenset(range(8, 19))

# --- Names (for dumps and reports) --------------------------------------------------------------------
_CIPHERS = {1: "3DES-CBC-CBC", 2: "AES-CBC-CMAC-128", 3: "AES-CBC-CMAC-192", 4: "AES-CBC-CMAC-256"}


def _build_names() -> dict[str, str]:
    names = {
        ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT: "id-icao-mrtd-security-ldsSecurityObject",
        ID_ICAO_CSCA_MASTER_LIST: "id-icao-cscaMasterList",
        ID_ICAO_CSCA_MASTER_LIST_SIGNING_KEY: "id-icao-cscaMasterListSigningKey",
        ID_AA: "id-icao-mrtd-security-aaProtocolObject",
        ID_ICAO_MRTD_SECURITY_EXTENSIONS_NAME_CHANGE: "id-icao-mrtd-security-extensions-nameChange",
        ID_ICAO_MRTD_SECURITY_EXTENSIONS_DOCUMENT_TYPE_LIST: (
            "id-icao-mrtd-security-extensions-documentTypeList"
        ),
        ID_ICAO_DEVIATION_LIST: "id-icao-DeviationList",
        ID_ICAO_DEVIATION_LIST_SIGNING_KEY: "id-icao-DeviationListSigningKey",
        STANDARDIZED_DOMAIN_PARAMETERS: "standardizedDomainParameters",
        ID_PK_DH: "id-PK-DH",
        ID_PK_ECDH: "id-PK-ECDH",
        ID_TA: "id-TA",
        ID_CA_DH: "id-CA-DH",
        ID_CA_ECDH: "id-CA-ECDH",
        ID_PACE_DH_GM: "id-PACE-DH-GM",
        ID_PACE_ECDH_GM: "id-PACE-ECDH-GM",
        ID_PACE_DH_IM: "id-PACE-DH-IM",
        ID_PACE_ECDH_IM: "id-PACE-ECDH-IM",
        ID_PACE_ECDH_CAM: "id-PACE-ECDH-CAM",
        ID_RI: "id-RI",
        ID_CI: "id-CI",
        ID_EID_SECURITY: "id-eIDSecurity",
        ID_PT: "id-PT",
        ID_SECURITY_OBJECT: "id-SecurityObject",
    }
    for base, name in (
        (ID_CA_DH, "id-CA-DH"),
        (ID_CA_ECDH, "id-CA-ECDH"),
        (ID_PACE_DH_GM, "id-PACE-DH-GM"),
        (ID_PACE_ECDH_GM, "id-PACE-ECDH-GM"),
        (ID_PACE_DH_IM, "id-PACE-DH-IM"),
        (ID_PACE_ECDH_IM, "id-PACE-ECDH-IM"),
        (ID_PACE_ECDH_CAM, "id-PACE-ECDH-CAM"),
    ):
        for n, cipher in _CIPHERS.items():
            if base == ID_PACE_ECDH_CAM and n == 1:
                continue
            names[f"{base}.{n}"] = f"{name}-{cipher}"
    for i, suffix in enumerate(
        ("v1-5-SHA-1", "v1-5-SHA-256", "PSS-SHA-1", "PSS-SHA-256", "v1-5-SHA-512", "PSS-SHA-512"), start=1
    ):
        names[f"{ID_TA_RSA}.{i}"] = f"id-TA-RSA-{suffix}"
    for i, suffix in enumerate(("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"), start=1):
        names[f"{ID_TA_ECDSA}.{i}"] = f"id-TA-ECDSA-{suffix}"
        names[f"{ECDSA_PLAIN_SIGNATURES}.{i}"] = f"ecdsa-plain-{suffix.replace('-', '')}"
    return names


OID_NAMES: dict[str, str] = _build_names()
"""Dotted OID -> the name the specification gives it."""

PACE_PROTOCOLS = frozenset(
    oid for oid in OID_NAMES if oid.startswith(ID_PACE + ".") and oid.count(".") == ID_PACE.count(".") + 2
)
"""Every PACE protocol OID with a cipher suffix (the values a PACEInfo.protocol may take)."""

CA_PROTOCOLS = frozenset(
    oid for oid in OID_NAMES if oid.startswith(ID_CA + ".") and oid.count(".") == ID_CA.count(".") + 2
)
"""Every Chip Authentication protocol OID with a cipher suffix (ChipAuthenticationInfo.protocol)."""


def oid_name(oid: str) -> str:
    """The specification's name of `oid`, or the dotted form itself when unknown."""
    return OID_NAMES.get(oid, oid)


def cipher_of(protocol: str) -> tuple[str, int] | None:
    """("3DES" | "AES", key length in bits) of a PACE/CA protocol OID with cipher suffix, else None."""
    if protocol not in PACE_PROTOCOLS and protocol not in CA_PROTOCOLS:
        return None
    last = int(protocol.rsplit(".", 1)[1])
    return ("3DES", 112) if last == 1 else ("AES", {2: 128, 3: 192, 4: 256}[last])
