"""What a profile's chip announces: PACE/CA/AA object identifiers and the SecurityInfos built from them.

The issuance station writes EF.CardAccess, DG14 (and EF.CardSecurity for PACE-CAM) itself; these
helpers derive their SecurityInfos from the profile (ICAO 9303-11 §9.2; BSI TR-03110-3 A.1.1) so the
files always match what the chip's firmware accepts in MSE:Set AT.
"""
from __future__ import annotations

from asn1crypto import keys

from firmware_profiles.profile import FirmwareProfile
from icao9303.lds import oids
from icao9303.lds.security_infos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfo,
    SecurityInfos,
)

__all__ = [
    "aa_signature_oid",
    "ca_oid",
    "card_access_bytes",
    "chip_authentication_infos",
    "dg14_security_infos",
    "pace_oids",
]

_CIPHER_SUFFIX = {"3DES": 1, "AES-128": 2, "AES-192": 3, "AES-256": 4}
_PACE_ECDH = {"GM": oids.ID_PACE_ECDH_GM, "IM": oids.ID_PACE_ECDH_IM, "CAM": oids.ID_PACE_ECDH_CAM}
_AA_HASH = {
    "SHA-1": oids.ECDSA_PLAIN_SHA1,
    "SHA-224": oids.ECDSA_PLAIN_SHA224,
    "SHA-256": oids.ECDSA_PLAIN_SHA256,
    "SHA-384": oids.ECDSA_PLAIN_SHA384,
    "SHA-512": oids.ECDSA_PLAIN_SHA512,
}


def pace_oids(profile: FirmwareProfile) -> list[str]:
    """PACE protocol OIDs the chip accepts (ECDH; one per mapping), in the profile's order."""
    if profile.pace is None:
        return []
    suffix = _CIPHER_SUFFIX[profile.pace.cipher]
    return [f"{_PACE_ECDH[m]}.{suffix}" for m in profile.pace.mappings]


def ca_oid(profile: FirmwareProfile) -> str | None:
    """The id-CA-ECDH-* OID of the chip's Chip Authentication, or None."""
    ca = profile.chip_authentication
    if ca is None:
        return None
    return f"{oids.ID_CA_ECDH}.{_CIPHER_SUFFIX[ca.cipher]}"


def aa_signature_oid(profile: FirmwareProfile) -> str | None:
    """ActiveAuthenticationInfo.signatureAlgorithm for ECDSA AA (BSI ecdsa-plain-*), None for RSA/no AA."""
    aa = profile.active_authentication
    if aa is None or aa.algorithm != "ECDSA":
        return None
    return _AA_HASH[aa.hash]


def card_access_bytes(profile: FirmwareProfile) -> bytes:
    """EF.CardAccess content: one PACEInfo (version 2) per mapping and parameter id (9303-11 §9.2.1)."""
    infos: list[SecurityInfo] = []
    if profile.pace is not None:
        for oid in pace_oids(profile):
            for pid in profile.pace.parameter_ids:
                infos.append(PACEInfo({"protocol": oid, "version": 2, "parameter_id": pid}))
    return SecurityInfos.build(infos, file="EF.CardAccess").to_bytes()


def chip_authentication_infos(profile: FirmwareProfile, ca_public_key: bytes) -> list[SecurityInfo]:
    """ChipAuthenticationInfo (v1) + ChipAuthenticationPublicKeyInfo for the chip-generated CA key
    (`ca_public_key`: DER SubjectPublicKeyInfo as `generate_key_pair("CA")` returned it)."""
    ca = profile.chip_authentication
    if ca is None:
        return []
    oid = ca_oid(profile)
    info: dict[str, object] = {"protocol": oid, "version": 1}
    pk: dict[str, object] = {"protocol": oids.ID_PK_ECDH,
                             "chip_authentication_public_key": keys.PublicKeyInfo.load(ca_public_key)}
    if ca.key_id is not None:
        info["key_id"] = ca.key_id
        pk["key_id"] = ca.key_id
    return [ChipAuthenticationInfo(info), ChipAuthenticationPublicKeyInfo(pk)]


def dg14_security_infos(profile: FirmwareProfile, ca_public_key: bytes | None) -> bytes:
    """The SecurityInfos SET for DG14 (wrap in tag 6E with `icao9303.lds.security_infos.DG14`): the PACE
    infos, the CA infos and, for ECDSA AA, an ActiveAuthenticationInfo (9303-11 §6.1, §9.2)."""
    infos: list[SecurityInfo] = []
    if profile.pace is not None:
        for oid in pace_oids(profile):
            for pid in profile.pace.parameter_ids:
                infos.append(PACEInfo({"protocol": oid, "version": 2, "parameter_id": pid}))
    if ca_public_key is not None:
        infos.extend(chip_authentication_infos(profile, ca_public_key))
    sig = aa_signature_oid(profile)
    if sig is not None:
        infos.append(ActiveAuthenticationInfo({"protocol": oids.ID_AA, "version": 1,
                                               "signature_algorithm": sig}))
    return SecurityInfos.build(infos, file="DG14").to_bytes()
