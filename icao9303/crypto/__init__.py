"""Cryptographic protocols of ICAO 9303-11 / BSI TR-03110 for the terminal AND the chip: KDF, secure
messaging, BAC, PACE (GM/IM/CAM, DH/ECDH, domain parameters 0-18), Chip Authentication v1, Active
Authentication. Pure logic, no I/O except the optional ``perform_*`` helpers that drive a `Transport`.

Who calls what
==============

Reader (F, terminal role)::

    from icao9303.crypto import MRZKey, CANKey, perform_bac, perform_pace, SecureMessagingTransport

    result = perform_pace(transport, CANKey("123456"), pace_info, card_access=card_access,
                          send_parameter_id=True)        # pace_info: PACEInfo or OID (+ parameter_id=)
    # or: result = perform_bac(transport, MRZKey(document_number, date_of_birth, date_of_expiry))
    sm_transport = SecureMessagingTransport(transport, result.secure_messaging())
    # ... read EF.CardSecurity / DG14 ...
    verify_pace_cam(result, chip_authentication_key(info).public_key)   # PACE-CAM only (raises)
    oid, key = select_chip_authentication(dg14.security_infos, key_id=None)  # keyId when several
    ca = perform_chip_authentication(sm_transport, oid, key)   # restarts SM on sm_transport (SSC 0)
    le = active_authentication_le(public_key)                  # Le from the key size (LESSONS)
    apdu = internal_authenticate_command(challenge, le)
    verify_active_authentication(public_key, challenge, signature, signature_algorithm=None)  # raises

Step by step (to control every APDU, e.g. Le fallbacks or MSE retries without tag 84), use the
state machines: `BACTerminal`, `PACETerminal` (steps 1-4, ``stepN_command()`` → APDU bytes,
``stepN_response(data)``), `ChipAuthenticationTerminal`.

Virtual chip (E, chip role)::

    bac = BACChip(mrz_key);  rnd = bac.get_challenge();  resp, keys = bac.external_authenticate(data)
    mse = parse_mse_set_at(command_data)                       # PACE: OID, password ref, param id
    pace = PACEChip(password_key, mse.oid, parameter_id,
                    chip_authentication_private_key=sk_ic_for_cam_or_None)
    response_data = pace.step1(command_data) ... pace.step4(command_data); pace.result
    sm = result.secure_messaging()
    plain_cmd = sm.unprotect_command(apdu)     # SMError -> answer plain e.status_word, session dead
    protected = sm.protect_response(plain_response)
    ca = ChipAuthenticationChip(sk_ic, standardized_domain_parameters(13), key_id=1)
    result = ca.mse_set_kat(data, oid)            # 3DES; or ca.mse_set_at(data) + ca.general_authenticate(data)
    # answer that command under the old SM keys, then switch to result.secure_messaging() (SSC 0)
    signature = active_authentication_sign(private_key, challenge, hash_algorithm="sha1")  # RSA 9796-2
    signature = active_authentication_sign(ec_private_key, challenge, hash_algorithm="sha256")  # plain r‖s

Errors: everything raises `icao9303.crypto.errors` types (`SMError`, `ProtocolError`,
`AuthenticationError`, `UnsupportedAlgorithmError`), all `icao9303.errors.ICAOError`; card status
words in the ``perform_*`` helpers raise `icao9303.errors.CardError` subclasses (via `icao9303.apdu`).
"""

from icao9303.crypto.aa import (
    active_authentication_le,
    active_authentication_sign,
    internal_authenticate_command,
    verify_active_authentication,
)
from icao9303.crypto.bac import BACChip, BACResult, BACTerminal, perform_bac
from icao9303.crypto.ca import (
    CAAlgorithm,
    CAResult,
    ChipAuthenticationChip,
    ChipAuthenticationKey,
    ChipAuthenticationTerminal,
    ca_algorithm,
    chip_authentication_key,
    group_from_algorithm,
    perform_chip_authentication,
    select_chip_authentication,
)
from icao9303.crypto.cipher import AES_128, AES_192, AES_256, DES3, CipherAlgorithm, SymmetricCipher
from icao9303.crypto.domain_params import (
    STANDARDIZED_DOMAIN_PARAMETERS,
    DHGroup,
    ECGroup,
    Group,
    standardized_domain_parameters,
)
from icao9303.crypto.errors import (
    AuthenticationError,
    CryptoError,
    ProtocolError,
    SMError,
    UnsupportedAlgorithmError,
)
from icao9303.crypto.kdf import (
    AccessKey,
    CANKey,
    MRZKey,
    PasswordType,
    PINKey,
    PUKKey,
    adjust_parity,
    bac_keys,
    kdf,
    kdf_pi,
    session_keys,
)
from icao9303.crypto.pace import (
    Mapping,
    MSESetAT,
    PACEAlgorithm,
    PACEChip,
    PACEResult,
    PACETerminal,
    mse_set_at_command,
    pace_algorithm,
    parse_mse_set_at,
    perform_pace,
    verify_pace_cam,
)
from icao9303.crypto.sm import SecureMessaging, SecureMessagingTransport

__all__ = [
    "AES_128",
    "AES_192",
    "AES_256",
    "DES3",
    "STANDARDIZED_DOMAIN_PARAMETERS",
    "AccessKey",
    "AuthenticationError",
    "BACChip",
    "BACResult",
    "BACTerminal",
    "CAAlgorithm",
    "CANKey",
    "CAResult",
    "ChipAuthenticationChip",
    "ChipAuthenticationKey",
    "ChipAuthenticationTerminal",
    "CipherAlgorithm",
    "CryptoError",
    "DHGroup",
    "ECGroup",
    "Group",
    "MRZKey",
    "MSESetAT",
    "Mapping",
    "PACEAlgorithm",
    "PACEChip",
    "PACEResult",
    "PACETerminal",
    "PINKey",
    "PUKKey",
    "PasswordType",
    "ProtocolError",
    "SMError",
    "SecureMessaging",
    "SecureMessagingTransport",
    "SymmetricCipher",
    "UnsupportedAlgorithmError",
    "active_authentication_le",
    "active_authentication_sign",
    "adjust_parity",
    "bac_keys",
    "ca_algorithm",
    "chip_authentication_key",
    "group_from_algorithm",
    "internal_authenticate_command",
    "kdf",
    "kdf_pi",
    "mse_set_at_command",
    "pace_algorithm",
    "parse_mse_set_at",
    "perform_bac",
    "perform_chip_authentication",
    "perform_pace",
    "select_chip_authentication",
    "session_keys",
    "standardized_domain_parameters",
    "verify_active_authentication",
    "verify_pace_cam",
]
