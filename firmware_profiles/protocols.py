"""The chip side of PACE, Chip Authentication and Active Authentication: APDU handling around icao9303.crypto.

Called by `VirtualChip` for MSE (INS 22), GENERAL AUTHENTICATE (INS 86) and INTERNAL AUTHENTICATE
(INS 88). The math is `icao9303.crypto` (PACEChip, Chip Authentication and AA chip roles); this module
checks what the profile allows, keeps the protocol state in the chip's volatile session, maps
protocol errors to status words (ProtocolError -> its status word, usually 6A80; AuthenticationError
-> 6300, counted for throttling) and installs the new secure messaging session.

MSE:Set AT P1-P2 (ISO/IEC 7816-4 §11.5.11; 9303-11 §4.4.4.1, §6.2.4.2):
- C1A4: PACE (80 OID, 83 password reference, 84 parameter id);
- 41A4: Chip Authentication with AES (80 OID, 84 key id), followed by GENERAL AUTHENTICATE 7C{80 PK};
- 41A6: MSE:Set KAT (3DES Chip Authentication, 91 PK, 84 key id) - only when the profile's CA is 3DES;
- 81B6: Set DST for Terminal Authentication - EAC is not offered (6A88).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

from firmware_profiles.security_infos import ca_oid, pace_oids
from firmware_profiles.state import LifeCycle
from icao9303 import apdu as iso
from icao9303.apdu import CommandAPDU
from icao9303.crypto.errors import AuthenticationError, CryptoError, ProtocolError

if TYPE_CHECKING:
    from firmware_profiles.chip import VirtualChip

__all__ = ["general_authenticate", "internal_authenticate", "mse"]

_PASSWORDS = {1: "MRZ", 2: "CAN"}


def _reply(sw: int, data: bytes = b"") -> Exception:
    from firmware_profiles.chip import _Reply

    return _Reply(sw, data)


def _private_key(pkcs8: bytes) -> Any:
    return load_der_private_key(pkcs8, password=None)


# -- MSE ------------------------------------------------------------------------------------------------


def mse(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    if cmd.ne is not None and chip.profile.apdu.le_without_response_data == "reject":
        raise _reply(iso.SW_WRONG_LENGTH)
    p1p2 = cmd.p1 << 8 | cmd.p2
    if p1p2 == 0xC1A4:
        return _mse_pace(chip, cmd, protected)
    if p1p2 == 0x41A4:
        return _mse_ca(chip, cmd, protected)
    if p1p2 == 0x41A6:
        return _mse_kat(chip, cmd, protected)
    if p1p2 in (0x81B6, 0x81A4):
        raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
    raise _reply(iso.SW_INCORRECT_P1P2)


def _mse_pace(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    from firmware_profiles.chip import SeedKey
    from icao9303.crypto.kdf import CANKey
    from icao9303.crypto.pace import PACEChip, parse_mse_set_at

    s, st, prof = chip._session, chip.state, chip.profile
    pace = prof.pace
    s.pace = None
    if pace is None:
        raise _reply(iso.SW_FUNCTION_NOT_SUPPORTED)
    if st.lifecycle is LifeCycle.BLANK:
        raise _reply(iso.SW_CONDITIONS_NOT_SATISFIED)
    try:
        params = parse_mse_set_at(cmd.data)
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    if params.oid not in pace_oids(prof):
        raise _reply(iso.SW_WRONG_DATA)
    password_name = _PASSWORDS.get(params.password_type or 0)
    if password_name is None or password_name not in pace.passwords:
        raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
    if params.reference is None:
        if pace.parameter_id_in_mse == "required":
            raise _reply(iso.SW_WRONG_DATA)
        parameter_id = pace.parameter_ids[0]
    else:
        if pace.parameter_id_in_mse == "rejected" or params.reference not in pace.parameter_ids:
            raise _reply(iso.SW_WRONG_DATA)
        parameter_id = params.reference
    if password_name == "MRZ":  # noqa: S105 - a password *type*, not a password
        if st.mrz_secret is None:
            raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        password: Any = SeedKey(st.mrz_secret, 1)
    else:
        if st.can is None:
            raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        password = CANKey(st.can)
    chip._throttle_gate(transport=False)
    cam_key = None
    if params.oid.startswith("0.4.0.127.0.7.2.2.4.6."):
        if st.ca_private_key is None:
            raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
        key = _private_key(st.ca_private_key)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        cam_key = key.private_numbers().private_value
    try:
        s.pace = PACEChip(password, params.oid, parameter_id, chip_authentication_private_key=cam_key,
                          **chip.pace_fixed)
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    s.pace_step = 0
    return b""


_CURVE_PARAMETER_IDS = {"secp256r1": 12, "brainpoolP256r1": 13, "secp384r1": 15, "brainpoolP384r1": 16,
                        "brainpoolP512r1": 17, "secp521r1": 18}


def _ca_chip(chip: VirtualChip, protected: bool) -> Any:
    """The CA chip role over the key generated on this chip (checks access and key presence)."""
    from icao9303.crypto.ca import ChipAuthenticationChip
    from icao9303.crypto.domain_params import standardized_domain_parameters

    s, st, prof = chip._session, chip.state, chip.profile
    ca = prof.chip_authentication
    if ca is None:
        raise _reply(iso.SW_FUNCTION_NOT_SUPPORTED)
    if not protected or s.access not in ("BAC", "PACE"):
        raise _reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)
    if st.ca_private_key is None:
        raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
    key = _private_key(st.ca_private_key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    group = standardized_domain_parameters(_CURVE_PARAMETER_IDS[ca.curve])
    return ChipAuthenticationChip(key.private_numbers().private_value, group, key_id=ca.key_id)


def _mse_ca(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    """MSE:Set AT for Chip Authentication with AES (9303-11 §6.2.4.2): 80 OID [84 keyId]."""
    s, prof = chip._session, chip.profile
    s.ca_mse = None
    ca_chip = _ca_chip(chip, protected)
    try:
        from icao9303.crypto.pace import parse_mse_set_at

        if parse_mse_set_at(cmd.data).oid != ca_oid(prof):
            raise _reply(iso.SW_WRONG_DATA)
        ca_chip.mse_set_at(cmd.data)
    except ProtocolError as exc:
        raise _reply(exc.status_word) from None
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    s.ca_mse = ca_chip
    return b""


def _mse_kat(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    """MSE:Set KAT: Chip Authentication with 3DES in one command (9303-11 §6.2.4.1)."""
    prof = chip.profile
    ca_chip = _ca_chip(chip, protected)
    if prof.chip_authentication is None or prof.chip_authentication.cipher != "3DES":
        raise _reply(iso.SW_WRONG_DATA)
    chip._charge("ca_ecdh")
    try:
        result = ca_chip.mse_set_kat(cmd.data, ca_oid(prof))
    except ProtocolError as exc:
        raise _reply(exc.status_word) from None
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    chip._session.pending_sm = result.secure_messaging()
    chip._session.ca_done = True
    return b""


# -- GENERAL AUTHENTICATE ---------------------------------------------------------------------------------


def general_authenticate(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    s = chip._session
    if cmd.p1 != 0 or cmd.p2 != 0:
        raise _reply(iso.SW_INCORRECT_P1P2)
    if s.pace is not None:
        return _pace_step(chip, cmd, protected)
    if s.ca_mse is not None:
        return _ca(chip, cmd, protected)
    raise _reply(iso.SW_CONDITIONS_NOT_SATISFIED)


def _pace_step(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    s = chip._session
    step = s.pace_step + 1
    last = not (cmd.cla & 0x10)
    # BSI TR-03110-3 §B.1 / 9303-11 §4.4.4.3: steps 1-3 are chained (CLA 10), step 4 ends the chain.
    if (step < 4 and last) or (step == 4 and not last):
        s.pace = None
        raise _reply(iso.SW_LAST_COMMAND_EXPECTED if step == 4 else iso.SW_CONDITIONS_NOT_SATISFIED)
    pace = s.pace
    try:
        out = getattr(pace, f"step{step}")(cmd.data)
    except AuthenticationError:
        s.pace = None
        chip._auth_failed(transport=False)
        raise _reply(iso.SW_VERIFICATION_FAILED) from None
    except ProtocolError as exc:
        s.pace = None
        raise _reply(exc.status_word) from None
    except CryptoError:
        s.pace = None
        raise _reply(iso.SW_WRONG_DATA) from None
    if step in (2, 3):
        chip._charge("pace_ecdh", 0.5)
    s.pace_step = step
    if step == 4:
        result = pace.result
        s.pace = None
        chip._auth_succeeded(transport=False)
        new_sm = result.secure_messaging()
        cam = result.mapping.name == "CAM"
        s.drop_access()
        if protected:
            s.pending_sm = new_sm
        else:
            s.sm = new_sm
        s.access = "PACE"
        s.ca_done = cam
    return out


def _ca(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    """GENERAL AUTHENTICATE of Chip Authentication (9303-11 §6.2.4.2): 7C{80 PK_IFD} -> 7C 00; the answer
    goes out under the old keys, then SM restarts with the CA keys and SSC 0."""
    s = chip._session
    ca_chip, s.ca_mse = s.ca_mse, None
    if not protected or s.access not in ("BAC", "PACE"):
        raise _reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)
    chip._charge("ca_ecdh")
    try:
        response, result = ca_chip.general_authenticate(cmd.data)
    except ProtocolError as exc:
        raise _reply(exc.status_word) from None
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    s.pending_sm = result.secure_messaging()
    s.ca_done = True
    return response


# -- INTERNAL AUTHENTICATE (Active Authentication, 9303-11 §6.1) ---------------------------------------


def internal_authenticate(chip: VirtualChip, cmd: CommandAPDU, protected: bool) -> bytes:
    s, st, prof = chip._session, chip.state, chip.profile
    aa = prof.active_authentication
    if aa is None:
        raise _reply(iso.SW_INS_NOT_SUPPORTED)
    if cmd.p1 != 0 or cmd.p2 != 0:
        raise _reply(iso.SW_INCORRECT_P1P2)
    if not protected or s.access not in ("BAC", "PACE"):
        raise _reply(iso.SW_SECURITY_STATUS_NOT_SATISFIED)
    if st.aa_private_key is None:
        raise _reply(iso.SW_REFERENCE_DATA_NOT_FOUND)
    if len(cmd.data) != 8:
        raise _reply(iso.SW_WRONG_LENGTH)
    chip._charge("aa_sign")
    try:
        from icao9303.crypto import aa as aa_mod  # type: ignore[attr-defined]
    except ImportError:
        raise _reply(iso.SW_FUNCTION_NOT_SUPPORTED) from None
    try:
        signature = aa_mod.active_authentication_sign(_private_key(st.aa_private_key), cmd.data,
                                                      hash_algorithm=aa.hash)
    except CryptoError:
        raise _reply(iso.SW_WRONG_DATA) from None
    if cmd.ne is None or cmd.ne < len(signature):
        raise _reply(iso.SW_WRONG_LENGTH)
    return signature
