"""Chip Authentication, PACE-CAM and Active Authentication, driven by the reader (terminal role).

* Chip Authentication v1 (ICAO 9303-11 §6.2): the key is picked from DG14 by keyId (LESSONS: several
  keys possible), MSE:Set KAT / Set AT + GENERAL AUTHENTICATE through `icao9303.crypto`; SM restarts
  with the new keys and the next protected exchange confirms the chip derived the same ones.
* PACE-CAM (§4.4.3.5): EF.CardSecurity (in the MF) gives PK_IC; PK_Map,IC = CA_IC · PK_IC is checked
  (`icao9303.crypto.pace.verify_pace_cam`), and offline again by `verify_cam_record`.
* Active Authentication (§6.1): INTERNAL AUTHENTICATE on a caller-supplied 8-byte challenge (so a
  server can choose it); Le from the DG15 key size (LESSONS: extended Le breaks some chips' AA, a
  long key needs it).
"""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from icao9303.errors import ICAOError
from icao9303.transport import Transport
from reader.errors import ReaderError, ReasonCode
from reader.evidence import EvidenceBundle

__all__ = ["aa_le", "perform_aa", "perform_ca", "perform_cam_check", "verify_cam_record"]


def _crypto(name: str) -> Any:
    import importlib

    return importlib.import_module(f"icao9303.crypto.{name}")


def aa_le(key_info: Any) -> int:
    """Le for INTERNAL AUTHENTICATE from the DG15 key (9303-11 §6.1): RSA: modulus bytes; ECDSA:
    the DER signature of two field-size integers (2·n + 9 bytes). Short Le (≤ 256) whenever it fits."""
    algo = key_info["algorithm"]["algorithm"].native
    try:
        n = (key_info.bit_size + 7) // 8
    except (ValueError, TypeError, KeyError) as exc:
        raise ReaderError("DG15 key size unknown", reason=ReasonCode.UNKNOWN_ALGORITHM, step="AA") from exc
    if algo in ("rsa", "rsassa_pss"):
        return n
    if algo == "ec":
        return min(2 * n + 9, 65536)
    raise ReaderError(f"unknown Active Authentication key algorithm {algo}",
                      reason=ReasonCode.UNKNOWN_ALGORITHM, step="AA")


def perform_aa(transport: Transport, key_info: Any, challenge: bytes | None = None) -> tuple[bytes, bytes]:
    """INTERNAL AUTHENTICATE (ISO 7816-4 §7.5.2, P1=P2=00) over the SM `transport`; returns
    (challenge, signature). Verification is `reader.verify` (the same code offline)."""
    challenge = bytes(challenge) if challenge is not None else secrets.token_bytes(8)
    if len(challenge) != 8:
        raise ReaderError("the AA challenge must be 8 bytes", reason=ReasonCode.AA_FAILED, step="AA")
    le = aa_le(key_info)
    ext = le > 256
    apdu = bytes([0x00, 0x88, 0x00, 0x00]) + (b"\x00\x00\x08" if ext else b"\x08") + challenge + (
        (le & 0xFFFF).to_bytes(2, "big") if ext else bytes([le & 0xFF]))
    response = transport.transmit(apdu)
    sw = int.from_bytes(response[-2:], "big")
    if sw != 0x9000:
        raise ReaderError("the chip refused INTERNAL AUTHENTICATE", reason=ReasonCode.AA_FAILED, step="AA",
                          sw=sw)
    return challenge, response[:-2]


def perform_ca(sm_transport: Any, dg14_bytes: bytes) -> dict[str, Any]:
    """Chip Authentication v1 with the DG14 key (`icao9303.crypto.ca.select_chip_authentication`
    picks the protocol and the key, by keyId when DG14 holds several); the SM transport restarts with
    the CA keys. Returns the evidence record (protocol, OID, key id, the chip key's
    ChipAuthenticationPublicKeyInfo as read)."""
    from icao9303.lds.security_infos import DG14

    infos = DG14.from_bytes(dg14_bytes).security_infos
    if not infos.chip_authentication_public_key_infos:
        raise ReaderError("DG14 has no Chip Authentication key", reason=ReasonCode.CA_NOT_SUPPORTED,
                          step="CA")
    ca = _crypto("ca")
    oid, key = ca.select_chip_authentication(infos)
    ca.perform_chip_authentication(sm_transport, oid, key)
    return {"protocol": "CA", "oid": oid, "key_id": key.key_id, "chip_public_key": bytes(key.public_key)}


def _cam_key_from_card_security(card_security: bytes) -> tuple[bytes, Any]:
    """PK_IC (encoded point) and its info from EF.CardSecurity's ChipAuthenticationPublicKeyInfo."""
    from icao9303.lds.security_infos import CardSecurity

    cs = CardSecurity.from_bytes(card_security)
    info = cs.security_infos.chip_authentication_public_key()
    spki = info["chip_authentication_public_key"]
    return bytes(spki["public_key"].native if not isinstance(spki["public_key"].native, dict)
                 else spki["public_key"].dump()[1:]), info


def perform_cam_check(pace_result: Any, card_security: bytes) -> dict[str, Any]:
    """PACE-CAM terminal check against EF.CardSecurity; returns the evidence record."""
    pk_ic, _info = _cam_key_from_card_security(card_security)
    _crypto("pace").verify_pace_cam(pace_result, pk_ic)
    return {"protocol": "PACE-CAM", "oid": pace_result.oid, "parameter_id": pace_result.parameter_id,
            "chip_mapping_public_key": bytes(pace_result.chip_mapping_public_key),
            "ca_ic": bytes(pace_result.chip_authentication_data)}


def verify_cam_record(bundle: EvidenceBundle, record: Any) -> None:
    """Offline PACE-CAM check: PK_Map,IC = CA_IC · PK_IC with PK_IC from the bundle's EF.CardSecurity
    (whose signature is checked by `reader.verify`). Raises `ICAOError`/`ReaderError` on failure."""
    cs = bundle.files.get("EF.CardSecurity")
    if cs is None:
        raise ReaderError("EF.CardSecurity not in the evidence", reason=ReasonCode.CAM_FAILED, step="CAM")
    pk_ic, _ = _cam_key_from_card_security(cs)
    dp = _crypto("domain_params")
    group = dp.standardized_domain_parameters(int(record["parameter_id"]))
    pk_map = record["chip_mapping_public_key"]
    ca_ic_raw = record["ca_ic"]
    pk_map = bytes.fromhex(pk_map) if isinstance(pk_map, str) else bytes(pk_map)
    ca_ic_b = bytes.fromhex(ca_ic_raw) if isinstance(ca_ic_raw, str) else bytes(ca_ic_raw)
    ca_ic = int.from_bytes(ca_ic_b, "big")
    if not 0 < ca_ic < group.order:
        raise ReaderError("CA_IC out of range", reason=ReasonCode.CAM_FAILED, step="CAM")
    expected = group.encode(group.multiply(ca_ic, group.decode(pk_ic, protocol="PACE", step="CAM")))
    if not hmac.compare_digest(expected, pk_map):
        raise ReaderError("PACE-CAM: chip key does not match", reason=ReasonCode.CAM_FAILED, step="CAM")


__all__ += ["ICAOError"]
