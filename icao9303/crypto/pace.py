"""PACE — Password Authenticated Connection Establishment (ICAO 9303-11 §4.4, BSI TR-03110-2/-3) for the
terminal and the chip: DH and ECDH, Generic Mapping, Integrated Mapping and Chip Authentication Mapping.

Both roles are small state machines whose steps are numbered as in 9303-11 §4.4.1 / Table 4:

====  ==========================  ==========================  ==========================
step  meaning                     terminal → chip (7C …)      chip → terminal (7C …)
====  ==========================  ==========================  ==========================
1     encrypted nonce             (empty)                     80 z = E(Kπ, s)
2     map nonce                   81 PK_map,IFD  /  81 t      82 PK_map,IC  /  (empty, IM)
3     key agreement               83 PK_DH,IFD                84 PK_DH,IC
4     mutual authentication       85 T_IFD                    86 T_IC [87 CAR] [88 CAR] [8A A_IC]
====  ==========================  ==========================  ==========================

Steps 1-3 are sent with command chaining (CLA 10), step 4 closes the chain (CLA 00) (§4.4.4.3).
The terminal is started by MSE:Set AT (`mse_set_at_command`); the chip parses it with
`parse_mse_set_at`. Each side ends with the same frozen `PACEResult`; its `secure_messaging()` starts
SM with SSC = 0.

Decisions:
- The chip's nonce s has the length l of §4.4.3.3 for every mapping: the smallest multiple of the
  block size not shorter than the key (3DES: 16 bytes, k taken as 128 bits; AES-192/256: 32 bytes).
- Integrated Mapping with ECDH needs p ≡ 3 (mod 4) (9303-11 Appendix B); NIST P-224 (id 10) has
  p ≡ 1 (mod 4) and is refused with `UnsupportedAlgorithmError` for IM.
- The chip answers step 2 of IM with an empty dynamic authentication data object ``7C 00``; the
  terminal accepts an empty template or an empty 82.
- Public keys are validated (on the curve / in the subgroup) and a peer key equal to our own is
  refused (§4.4.1 "Check PK_DH,IC ≠ PK_DH,IFD"), for the mapping keys too.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from asn1crypto import core

from icao9303.apdu import INS_GENERAL_AUTHENTICATE, INS_MSE, CommandAPDU, ResponseAPDU
from icao9303.crypto.cipher import (
    AES_128,
    AES_192,
    AES_256,
    DES3,
    CipherAlgorithm,
    SymmetricCipher,
    pad,
    unpad,
)
from icao9303.crypto.domain_params import ECGroup, Group, standardized_domain_parameters
from icao9303.crypto.errors import (
    AuthenticationError,
    CryptoError,
    ProtocolError,
    SMError,
    UnsupportedAlgorithmError,
)
from icao9303.crypto.kdf import AccessKey, PasswordType, kdf_pi, session_keys
from icao9303.crypto.sm import SecureMessaging
from icao9303.errors import ICAOError
from icao9303.lds import oids
from icao9303.tlv import encode_tlv, iter_tlv, unwrap_tlv
from icao9303.transport import Transport

__all__ = [
    "MSESetAT",
    "Mapping",
    "PACEAlgorithm",
    "PACEChip",
    "PACEResult",
    "PACETerminal",
    "general_authenticate_command",
    "mse_set_at_command",
    "pace_algorithm",
    "parse_dynamic_authentication_data",
    "parse_mse_set_at",
    "perform_pace",
    "public_key_data_object",
    "verify_pace_cam",
]

_P = "PACE"


class Mapping(Enum):
    """The nonce mapping of a PACE OID (9303-11 §4.4.3.3)."""

    GM = "Generic Mapping"
    IM = "Integrated Mapping"
    CAM = "Chip Authentication Mapping"


_CIPHER_BY_SUFFIX = {1: DES3, 2: AES_128, 3: AES_192, 4: AES_256}
_FAMILY = {
    oids.ID_PACE_DH_GM: (Mapping.GM, False),
    oids.ID_PACE_ECDH_GM: (Mapping.GM, True),
    oids.ID_PACE_DH_IM: (Mapping.IM, False),
    oids.ID_PACE_ECDH_IM: (Mapping.IM, True),
    oids.ID_PACE_ECDH_CAM: (Mapping.CAM, True),
}


@dataclass(frozen=True)
class PACEAlgorithm:
    """What a PACE protocol OID selects (9303-11 Tables 2 and 3)."""

    oid: str
    mapping: Mapping
    ecdh: bool
    cipher: SymmetricCipher

    @property
    def name(self) -> str:
        return oids.oid_name(self.oid)


def pace_algorithm(oid: str) -> PACEAlgorithm:
    """The `PACEAlgorithm` of a PACE OID (``id-PACE-ECDH-GM-AES-CBC-CMAC-128`` …);
    `UnsupportedAlgorithmError` for anything else (CAM has no 3DES variant)."""
    family, _, suffix = str(oid).rpartition(".")
    if family not in _FAMILY or not suffix.isdigit() or int(suffix) not in _CIPHER_BY_SUFFIX:
        raise UnsupportedAlgorithmError("not a PACE protocol OID", what=str(oid))
    mapping, ecdh = _FAMILY[family]
    if mapping is Mapping.CAM and int(suffix) == 1:
        raise UnsupportedAlgorithmError("PACE-CAM is not defined with 3DES", what=str(oid))
    return PACEAlgorithm(str(oid), mapping, ecdh, _CIPHER_BY_SUFFIX[int(suffix)])


def _oid_bytes(oid: str) -> bytes:
    return core.ObjectIdentifier(oid).contents


def _oid_from_bytes(data: bytes) -> str:
    try:
        return core.ObjectIdentifier.load(encode_tlv(0x06, data)).dotted
    except (ValueError, TypeError) as exc:
        raise ProtocolError(
            "malformed object identifier", protocol=_P, step="MSE:Set AT", reason="protocol.malformed"
        ) from exc


def public_key_data_object(oid: str, group: Group, public_key: bytes) -> bytes:
    """The public key data object of 9303-11 §9.4 over which PACE tokens are computed (§4.4.3.4):
    7F49 { 06 OID, 86 point } for ECDH, 7F49 { 06 OID, 84 y } for DH (domain parameters excluded)."""
    key_tag = 0x86 if group.is_ec else 0x84
    return encode_tlv(0x7F49, encode_tlv(0x06, _oid_bytes(oid)) + encode_tlv(key_tag, public_key))


def _token(cipher: SymmetricCipher, ks_mac: bytes, oid: str, group: Group, public_key: bytes) -> bytes:
    return cipher.mac(ks_mac, public_key_data_object(oid, group, public_key))


def _nonce_length(cipher: SymmetricCipher) -> int:
    k = 16 if cipher.algorithm is CipherAlgorithm.DES3 else cipher.key_length
    return -(-k // cipher.block_size) * cipher.block_size


_C128 = (bytes.fromhex("a668892a7c41e3ca739f40b057d85904"), bytes.fromhex("a4e136ac725f738b01c1f60217c188ad"))
_C256 = (
    bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676"),
    bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517"),
)


def pseudo_random_mapping(cipher: SymmetricCipher, s: bytes, t: bytes, p: int) -> tuple[bytes, int]:
    """R(s, t) and Rp(s, t) = int(R(s, t)) mod p of 9303-11 §4.4.3.3.2 (Figure 2): the block cipher in
    CBC mode with IV 0; k0 = E(t, s), k_{i+1} = E(k_i, c0), x_{i+1} = E(k_i, c1), each k_i truncated
    to the key size; n the smallest number with n·l ≥ log2 p + 64 (l = bit length of s)."""
    key_size = 16 if cipher.algorithm is CipherAlgorithm.DES3 else cipher.key_length
    if len(t) != key_size:
        raise ProtocolError("IM nonce t does not have the key length", protocol=_P, step=2, reason="protocol.length")
    if len(s) not in (16, 32) or len(s) % cipher.block_size:
        raise ProtocolError("IM nonce s must be 128 or 256 bits", protocol=_P, step=2, reason="protocol.length")
    c0, c1 = _C128 if len(s) == 16 else _C256
    n = -(-(p.bit_length() + 64) // (len(s) * 8))
    k = cipher.encrypt_cbc(t, s)
    out = bytearray()
    for _ in range(n):
        key = k[:key_size]
        out += cipher.encrypt_cbc(key, c1)
        k = cipher.encrypt_cbc(key, c0)
    return bytes(out), int.from_bytes(out, "big") % p


@dataclass(frozen=True, repr=False)
class PACEResult:
    """The outcome of PACE, the same for both roles (secrets hidden from repr).

    `chip_ephemeral_public_key` (PK_DH,IC) is what Terminal Authentication compresses (Comp()) and
    what the reader keeps as evidence; `chip_mapping_public_key` (PK_map,IC, GM/CAM) and
    `chip_authentication_data` (CA_IC, CAM only, decrypted) feed `verify_pace_cam`.
    """

    algorithm: PACEAlgorithm
    domain: Group = field(compare=False)
    parameter_id: int | None
    password_type: PasswordType
    ks_enc: bytes
    ks_mac: bytes
    chip_ephemeral_public_key: bytes
    terminal_ephemeral_public_key: bytes
    chip_mapping_public_key: bytes | None = None
    chip_authentication_data: bytes | None = None
    car: tuple[bytes, ...] = ()

    @property
    def oid(self) -> str:
        return self.algorithm.oid

    @property
    def cipher(self) -> SymmetricCipher:
        return self.algorithm.cipher

    @property
    def mapping(self) -> Mapping:
        return self.algorithm.mapping

    def secure_messaging(self) -> SecureMessaging:
        """SM with KSenc/KSmac and SSC = 0 (9303-11 §9.8.6.3 / §9.8.7.3 for PACE)."""
        return SecureMessaging(self.cipher, self.ks_enc, self.ks_mac, 0)

    def __repr__(self) -> str:
        return f"PACEResult({self.algorithm.name}, parameter_id={self.parameter_id}, <keys redacted>)"


def verify_pace_cam(result: PACEResult, chip_public_key: bytes, group: Group | None = None) -> None:
    """Terminal side of PACE-CAM (9303-11 §4.4.3.5.2): check PK_map,IC = KA(CA_IC, PK_IC, D_IC) with the
    chip's static public key PK_IC from EF.CardSecurity (encoded point). Raises `AuthenticationError`;
    Passive Authentication of EF.CardSecurity must still be done by the caller."""
    if result.mapping is not Mapping.CAM or result.chip_authentication_data is None:
        raise ProtocolError("not a PACE-CAM result", protocol=_P, step=4, reason="protocol.not_cam")
    group = group or result.domain
    pk_ic = group.decode(chip_public_key, protocol=_P, step="CAM")
    ca_ic = int.from_bytes(result.chip_authentication_data, "big")
    if not 0 < ca_ic < group.order:
        raise AuthenticationError("chip authentication data out of range", protocol=_P, step="CAM", reason="auth.cam")
    expected = group.encode(group.multiply(ca_ic, pk_ic))
    if not hmac.compare_digest(expected, result.chip_mapping_public_key or b""):
        raise AuthenticationError(
            "PACE-CAM: the chip's static key does not match", protocol=_P, step="CAM", reason="auth.cam"
        )


def _cam_iv(cipher: SymmetricCipher, ks_enc: bytes) -> bytes:
    return cipher.encrypt_block(ks_enc, b"\xff" * 16)  # §4.4.3.5.4: IV = E(KSenc, -1)


# -- APDUs -----------------------------------------------------------------------------------------


def mse_set_at_command(
    oid: str,
    password_type: PasswordType | int,
    *,
    parameter_id: int | None = None,
    chat: bytes | None = None,
    cla: int = 0x00,
) -> bytes:
    """MSE:Set AT for PACE (9303-11 §4.4.4.1): 80 OID, 83 password reference, optional 84 domain
    parameter id and 7F4C CHAT. No Le (LESSONS: some chips reject a Le byte on MSE)."""
    data = encode_tlv(0x80, _oid_bytes(oid)) + encode_tlv(0x83, bytes([int(password_type)]))
    if parameter_id is not None:
        data += encode_tlv(0x84, bytes([parameter_id]))
    if chat is not None:
        data += chat
    return CommandAPDU(cla, INS_MSE, 0xC1, 0xA4, data).to_bytes()


@dataclass(frozen=True)
class MSESetAT:
    """The data of an MSE:Set AT command as the chip reads it (PACE §4.4.4.1, CA §6.2.4.2)."""

    oid: str
    password_type: int | None = None
    reference: int | None = None  # tag 84: PACE domain parameter id, or CA key id
    chat: bytes | None = None
    unknown: tuple[tuple[int, bytes], ...] = ()


def parse_mse_set_at(data: bytes) -> MSESetAT:
    """Parse the data field of MSE:Set AT. Unknown data objects are kept and otherwise ignored
    (9303-11 §4.4.4.1 Note 2). `ProtocolError` (6A80) for malformed input or a missing 80."""
    oid = None
    password = reference = None
    chat = None
    unknown = []
    try:
        for tag, value in iter_tlv(bytes(data)):
            if tag == 0x80:
                oid = _oid_from_bytes(value)
            elif tag == 0x83:
                password = int.from_bytes(value, "big") if value else None
            elif tag == 0x84:
                reference = int.from_bytes(value, "big") if value else None
            elif tag == 0x7F4C:
                chat = encode_tlv(tag, value)
            else:
                unknown.append((tag, value))
    except ICAOError as exc:
        if isinstance(exc, CryptoError):
            raise
        raise ProtocolError(
            "MSE:Set AT data cannot be parsed", protocol=_P, step="MSE:Set AT", reason="protocol.malformed"
        ) from exc
    if oid is None:
        raise ProtocolError(
            "MSE:Set AT without cryptographic mechanism reference (80)",
            protocol=_P,
            step="MSE:Set AT",
            reason="protocol.malformed",
        )
    return MSESetAT(oid, password, reference, chat, tuple(unknown))


def general_authenticate_command(data_objects: bytes, *, last: bool = False) -> bytes:
    """GENERAL AUTHENTICATE (9303-11 §4.4.4.2) with Dynamic Authentication Data 7C; CLA 10 (chaining)
    unless `last`; Le = 00, or 0000 when the command needs extended length (2048-bit DH)."""
    body = encode_tlv(0x7C, data_objects)
    extended = len(body) > 255
    return CommandAPDU(
        0x00 if last else 0x10,
        INS_GENERAL_AUTHENTICATE,
        0x00,
        0x00,
        body,
        65536 if extended else 256,
        extended,
    ).to_bytes()


def parse_dynamic_authentication_data(data: bytes, *, step: int | str, protocol: str = _P) -> dict[int, bytes]:
    """The data objects inside 7C (tag → value); `ProtocolError` when malformed or repeated."""
    try:
        inner = unwrap_tlv(bytes(data), 0x7C)
        out: dict[int, bytes] = {}
        for tag, value in iter_tlv(inner):
            if tag in out:
                raise ProtocolError(
                    f"data object {tag:X} repeated", protocol=protocol, step=step, reason="protocol.malformed"
                )
            out[tag] = value
        return out
    except CryptoError:
        raise
    except ICAOError as exc:
        raise ProtocolError(
            "dynamic authentication data cannot be parsed",
            protocol=protocol,
            step=step,
            reason="protocol.malformed",
        ) from exc


def _require(dos: dict[int, bytes], tag: int, step: int) -> bytes:
    if tag not in dos:
        raise ProtocolError(f"data object {tag:X} missing", protocol=_P, step=step, reason="protocol.missing")
    return dos[tag]


def _resolve_domain(domain: int | Group) -> tuple[Group, int | None]:
    if isinstance(domain, Group):
        return domain, domain.parameter_id
    return standardized_domain_parameters(int(domain)), int(domain)


def _check_group(algorithm: PACEAlgorithm, group: Group) -> None:
    if algorithm.ecdh != group.is_ec:
        raise UnsupportedAlgorithmError(
            "PACE OID and domain parameters disagree (DH vs ECDH)", what="domain_parameters"
        )
    if algorithm.mapping is Mapping.IM and isinstance(group, ECGroup):
        p = group.prime
        if p % 4 != 3:
            raise UnsupportedAlgorithmError("ECDH integrated mapping needs p ≡ 3 (mod 4)", what=group.name)


class _PACEBase:
    def __init__(self, password: AccessKey, oid: str, domain: int | Group) -> None:
        self.algorithm = pace_algorithm(oid)
        self.group, self.parameter_id = _resolve_domain(domain)
        _check_group(self.algorithm, self.group)
        self.password_type = password.password_type
        self._k_pi = kdf_pi(password, self.algorithm.cipher)
        self._step = 0
        self._s: bytes | None = None
        self._mapped: Group | None = None
        self._ks_enc = self._ks_mac = b""
        self.result: PACEResult | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.algorithm.name}, step={self._step})"

    @property
    def cipher(self) -> SymmetricCipher:
        return self.algorithm.cipher

    def _expect(self, step: int) -> None:
        if self._step != step - 1:
            raise ProtocolError(
                f"PACE step {step} out of order",
                protocol=_P,
                step=step,
                reason="protocol.sequence",
                status_word=0x6985,
            )

    def _derive(self, secret: bytes) -> None:
        self._ks_enc, self._ks_mac = session_keys(secret, self.cipher)

    def _im_generator(self, t: bytes) -> Group:
        assert self._s is not None
        _, x = pseudo_random_mapping(self.cipher, self._s, t, self.group.prime)
        return self.group.with_generator(self.group.integrated_map(x))

    def _token(self, public_key: bytes) -> bytes:
        assert self._mapped is not None
        return _token(self.cipher, self._ks_mac, self.algorithm.oid, self._mapped, public_key)


class PACETerminal(_PACEBase):
    """Terminal role. `password`: the MRZ key, CAN, PIN or PUK; `oid`: the PACE protocol of the chosen
    PACEInfo; `domain`: standardized parameter id (0-18) or a `Group` (PACEDomainParameterInfo).

    The keyword arguments fix the random values for test vectors: `mapping_private_key` (GM/CAM),
    `terminal_nonce` (t, IM) and `ephemeral_private_key` (step 3).
    """

    def __init__(
        self,
        password: AccessKey,
        oid: str,
        domain: int | Group,
        *,
        mapping_private_key: int | None = None,
        terminal_nonce: bytes | None = None,
        ephemeral_private_key: int | None = None,
    ) -> None:
        super().__init__(password, oid, domain)
        self._map_sk_fixed = mapping_private_key
        self._t_fixed = terminal_nonce
        self._eph_sk_fixed = ephemeral_private_key
        self._map_sk = 0
        self._map_pk: bytes | None = None
        self._t = b""
        self._eph_sk = 0
        self._eph_pk = b""
        self._chip_eph_pk = b""
        self._chip_map_pk: bytes | None = None

    def mse_set_at_command(self, *, include_parameter_id: bool = False, chat: bytes | None = None) -> bytes:
        """MSE:Set AT selecting this PACE protocol and password (tag 84 only when asked)."""
        pid = self.parameter_id if include_parameter_id else None
        return mse_set_at_command(self.algorithm.oid, self.password_type, parameter_id=pid, chat=chat)

    # step 1 — encrypted nonce
    def step1_command(self) -> bytes:
        return general_authenticate_command(b"")

    def step1_response(self, data: bytes) -> None:
        self._expect(1)
        z = _require(parse_dynamic_authentication_data(data, step=1), 0x80, 1)
        if not z or len(z) % self.cipher.block_size or len(z) > 64:
            raise ProtocolError("encrypted nonce has a wrong length", protocol=_P, step=1, reason="protocol.length")
        try:
            self._s = self.cipher.decrypt_cbc(self._k_pi, z)
        except SMError as exc:
            raise ProtocolError(
                "encrypted nonce cannot be decrypted", protocol=_P, step=1, reason="protocol.length"
            ) from exc
        self._step = 1

    # step 2 — mapping
    def step2_command(self) -> bytes:
        self._expect(2)
        if self.algorithm.mapping is Mapping.IM:
            size = 16 if self.cipher.algorithm is CipherAlgorithm.DES3 else self.cipher.key_length
            self._t = self._t_fixed if self._t_fixed is not None else secrets.token_bytes(size)
            return general_authenticate_command(encode_tlv(0x81, self._t))
        self._map_sk, pk = self.group.keypair(self._map_sk_fixed)
        self._map_pk = self.group.encode(pk)
        return general_authenticate_command(encode_tlv(0x81, self._map_pk))

    def step2_response(self, data: bytes) -> None:
        self._expect(2)
        dos = parse_dynamic_authentication_data(data, step=2)
        assert self._s is not None
        if self.algorithm.mapping is Mapping.IM:
            if dos.get(0x82, b""):
                raise ProtocolError(
                    "unexpected mapping data from the chip (IM)",
                    protocol=_P,
                    step=2,
                    reason="protocol.malformed",
                )
            self._mapped = self._im_generator(self._t)
        else:
            if self._map_pk is None:
                raise ProtocolError("step 2 command not built", protocol=_P, step=2, reason="protocol.sequence")
            raw = _require(dos, 0x82, 2)
            chip_pk = self.group.decode(raw, step=2)
            if hmac.compare_digest(raw, self._map_pk):
                raise ProtocolError("chip's mapping key equals ours", protocol=_P, step=2, reason="protocol.public_key")
            h = self.group.agree(self._map_sk, chip_pk)
            self._mapped = self.group.with_generator(self.group.combine(int.from_bytes(self._s, "big"), h))
            self._chip_map_pk = bytes(raw)
        self._step = 2

    # step 3 — key agreement
    def step3_command(self) -> bytes:
        self._expect(3)
        assert self._mapped is not None
        self._eph_sk, pk = self._mapped.keypair(self._eph_sk_fixed)
        self._eph_pk = self._mapped.encode(pk)
        return general_authenticate_command(encode_tlv(0x83, self._eph_pk))

    def step3_response(self, data: bytes) -> None:
        self._expect(3)
        assert self._mapped is not None
        if not self._eph_pk:
            raise ProtocolError("step 3 command not built", protocol=_P, step=3, reason="protocol.sequence")
        raw = _require(parse_dynamic_authentication_data(data, step=3), 0x84, 3)
        chip_pk = self._mapped.decode(raw, step=3)
        if hmac.compare_digest(raw, self._eph_pk):
            raise ProtocolError("PK_DH,IC equals PK_DH,IFD", protocol=_P, step=3, reason="protocol.public_key")
        self._derive(self._mapped.shared_secret(self._mapped.agree(self._eph_sk, chip_pk)))
        self._chip_eph_pk = bytes(raw)
        self._step = 3

    # step 4 — mutual authentication
    def step4_command(self) -> bytes:
        self._expect(4)
        return general_authenticate_command(encode_tlv(0x85, self._token(self._chip_eph_pk)), last=True)

    def step4_response(self, data: bytes) -> PACEResult:
        self._expect(4)
        dos = parse_dynamic_authentication_data(data, step=4)
        t_ic = _require(dos, 0x86, 4)
        if not hmac.compare_digest(self._token(self._eph_pk), t_ic):
            raise AuthenticationError(
                "chip's authentication token does not verify", protocol=_P, step=4, reason="auth.token"
            )
        ca_data = None
        if self.algorithm.mapping is Mapping.CAM:
            a_ic = _require(dos, 0x8A, 4)
            try:
                ca_data = unpad(
                    self.cipher.decrypt_cbc(self._ks_enc, a_ic, _cam_iv(self.cipher, self._ks_enc)),
                    self.cipher.block_size,
                )
            except SMError as exc:
                raise AuthenticationError(
                    "encrypted chip authentication data malformed", protocol=_P, step=4, reason="auth.cam"
                ) from exc
        cars = tuple(dos[t] for t in (0x87, 0x88) if t in dos)
        self._step = 4
        self.result = PACEResult(
            self.algorithm,
            self.group,
            self.parameter_id,
            self.password_type,
            self._ks_enc,
            self._ks_mac,
            self._chip_eph_pk,
            self._eph_pk,
            self._chip_map_pk,
            ca_data,
            cars,
        )
        return self.result


class PACEChip(_PACEBase):
    """Chip role. Each ``stepN(command_data)`` takes the data field of a GENERAL AUTHENTICATE and
    returns the response data field; errors are `ProtocolError` (answer 6A80) or
    `AuthenticationError` (answer 6300), after which the protocol must restart with MSE:Set AT.

    `chip_authentication_private_key` (SK_IC, the static CA key of the same domain parameters) is
    required for PACE-CAM. `car` are Certification Authority References returned in step 4 when the
    terminal sent a CHAT. The other keyword arguments fix random values for test vectors.
    """

    def __init__(
        self,
        password: AccessKey,
        oid: str,
        domain: int | Group,
        *,
        chip_authentication_private_key: int | None = None,
        car: tuple[bytes, ...] = (),
        nonce: bytes | None = None,
        mapping_private_key: int | None = None,
        ephemeral_private_key: int | None = None,
    ) -> None:
        super().__init__(password, oid, domain)
        if self.algorithm.mapping is Mapping.CAM and not chip_authentication_private_key:
            raise UnsupportedAlgorithmError("PACE-CAM needs the chip's static private key", what="cam_key")
        self._ca_sk = chip_authentication_private_key
        self._car = car
        self._nonce_fixed = nonce
        self._map_sk_fixed = mapping_private_key
        self._eph_sk_fixed = ephemeral_private_key
        self._map_sk = 0
        self._eph_pk = b""
        self._terminal_eph_pk = b""
        self._map_pk: bytes | None = None

    def _fail(self) -> None:
        self._step = -1  # any further step is out of order

    def _run(self, step: int, fn, data: bytes) -> bytes:
        self._expect(step)
        try:
            out = fn(data)
        except CryptoError:
            self._fail()
            raise
        self._step = step
        return out

    def step1(self, command_data: bytes) -> bytes:
        """Encrypted nonce: answer 7C { 80 E(Kπ, s) }."""
        return self._run(1, self._step1, command_data)

    def _step1(self, data: bytes) -> bytes:
        if parse_dynamic_authentication_data(data, step=1):
            raise ProtocolError("step 1 command must be empty", protocol=_P, step=1, reason="protocol.malformed")
        self._s = (
            self._nonce_fixed if self._nonce_fixed is not None else secrets.token_bytes(_nonce_length(self.cipher))
        )
        return encode_tlv(0x7C, encode_tlv(0x80, self.cipher.encrypt_cbc(self._k_pi, self._s)))

    def step2(self, command_data: bytes) -> bytes:
        """Mapping: GM/CAM answer 7C { 82 PK_map,IC }; IM answers 7C 00."""
        return self._run(2, self._step2, command_data)

    def _step2(self, data: bytes) -> bytes:
        value = _require(parse_dynamic_authentication_data(data, step=2), 0x81, 2)
        assert self._s is not None
        if self.algorithm.mapping is Mapping.IM:
            self._mapped = self._im_generator(value)
            return encode_tlv(0x7C, b"")
        terminal_pk = self.group.decode(value, step=2)
        self._map_sk, pk = self.group.keypair(self._map_sk_fixed)
        self._map_pk = self.group.encode(pk)
        if hmac.compare_digest(value, self._map_pk):
            raise ProtocolError("terminal's mapping key equals ours", protocol=_P, step=2, reason="protocol.public_key")
        h = self.group.agree(self._map_sk, terminal_pk)
        self._mapped = self.group.with_generator(self.group.combine(int.from_bytes(self._s, "big"), h))
        return encode_tlv(0x7C, encode_tlv(0x82, self._map_pk))

    def step3(self, command_data: bytes) -> bytes:
        """Key agreement: answer 7C { 84 PK_DH,IC }; session keys derived."""
        return self._run(3, self._step3, command_data)

    def _step3(self, data: bytes) -> bytes:
        assert self._mapped is not None
        raw = _require(parse_dynamic_authentication_data(data, step=3), 0x83, 3)
        terminal_pk = self._mapped.decode(raw, step=3)
        sk, pk = self._mapped.keypair(self._eph_sk_fixed)
        self._eph_pk = self._mapped.encode(pk)
        if hmac.compare_digest(raw, self._eph_pk):
            raise ProtocolError("PK_DH,IFD equals PK_DH,IC", protocol=_P, step=3, reason="protocol.public_key")
        self._derive(self._mapped.shared_secret(self._mapped.agree(sk, terminal_pk)))
        self._terminal_eph_pk = bytes(raw)
        return encode_tlv(0x7C, encode_tlv(0x84, self._eph_pk))

    def step4(self, command_data: bytes) -> bytes:
        """Mutual authentication: verify T_IFD, answer 7C { 86 T_IC [87/88 CAR] [8A A_IC] }."""
        return self._run(4, self._step4, command_data)

    def _step4(self, data: bytes) -> bytes:
        t_ifd = _require(parse_dynamic_authentication_data(data, step=4), 0x85, 4)
        if not hmac.compare_digest(self._token(self._eph_pk), t_ifd):
            raise AuthenticationError(
                "terminal's authentication token does not verify", protocol=_P, step=4, reason="auth.token"
            )
        out = encode_tlv(0x86, self._token(self._terminal_eph_pk))
        for tag, car in zip((0x87, 0x88), self._car, strict=False):
            out += encode_tlv(tag, car)
        ca_data = None
        if self.algorithm.mapping is Mapping.CAM:
            assert self._ca_sk is not None
            n = self.group.order
            ca = (pow(self._ca_sk, -1, n) * self._map_sk) % n  # §4.4.3.5.1: CA_IC = SK_IC^-1 · SK_map,IC
            ca_data = ca.to_bytes(self.group.order_length, "big")
            a_ic = self.cipher.encrypt_cbc(
                self._ks_enc, pad(ca_data, self.cipher.block_size), _cam_iv(self.cipher, self._ks_enc)
            )
            out += encode_tlv(0x8A, a_ic)
        self.result = PACEResult(
            self.algorithm,
            self.group,
            self.parameter_id,
            self.password_type,
            self._ks_enc,
            self._ks_mac,
            self._eph_pk,
            self._terminal_eph_pk,
            self._map_pk,
            ca_data,
            tuple(self._car[:2]),
        )
        return encode_tlv(0x7C, out)


def _info_fields(pace_info: Any) -> tuple[str, int | None]:
    if isinstance(pace_info, str):
        return pace_info, None
    oid = pace_info["protocol"].dotted
    pid = pace_info["parameter_id"].native if "parameter_id" in pace_info else None
    return oid, pid


def _domain_from_card_access(card_access: Any, parameter_id: int | None) -> Group | None:
    """Proprietary domain parameters from a PACEDomainParameterInfo with a matching parameterId."""
    if card_access is None:
        return None
    from icao9303.crypto.ca import group_from_algorithm

    infos = getattr(getattr(card_access, "security_infos", card_access), "pace_domain_parameter_infos", [])
    for info in infos:
        pid = info["parameter_id"].native
        if pid == parameter_id or (parameter_id is None and len(infos) == 1):
            return group_from_algorithm(info["domain_parameter"], protocol=_P)
    return None


def perform_pace(
    transport: Transport,
    password: AccessKey,
    pace_info: Any,
    *,
    parameter_id: int | None = None,
    card_access: Any = None,
    send_parameter_id: bool = True,
    chat: bytes | None = None,
) -> PACEResult:
    """Run PACE as terminal over a plain `transport` (MSE:Set AT, then GENERAL AUTHENTICATE steps 1-4).

    `pace_info` is a `PACEInfo` from EF.CardAccess or a protocol OID string (then `parameter_id` is
    required unless `card_access` holds the PACEDomainParameterInfo). Tag 84 is sent when
    `send_parameter_id` and a parameter id is known (the reader retries without it on 6A80, LESSONS).
    Card status words raise `CardError` subclasses whose `step` names the command ("PACE MSE:Set AT",
    "PACE step 1" …); protocol failures raise `ProtocolError` / `AuthenticationError`.
    """
    oid, pid = _info_fields(pace_info)
    pid = parameter_id if parameter_id is not None else pid
    domain: int | Group | None
    if pid is not None and (pid <= 2 or 8 <= pid <= 18):
        domain = pid
    else:
        domain = _domain_from_card_access(card_access, pid)
    if domain is None:
        raise UnsupportedAlgorithmError("no domain parameters for this PACEInfo", what="parameter_id")
    terminal = PACETerminal(password, oid, domain)
    mse = mse_set_at_command(oid, password.password_type, parameter_id=pid if send_parameter_id else None, chat=chat)
    ResponseAPDU.from_bytes(transport.transmit(mse)).check("PACE MSE:Set AT")
    steps = (
        (terminal.step1_command, terminal.step1_response),
        (terminal.step2_command, terminal.step2_response),
        (terminal.step3_command, terminal.step3_response),
        (terminal.step4_command, terminal.step4_response),
    )
    for number, (build, handle) in enumerate(steps, start=1):
        response = ResponseAPDU.from_bytes(transport.transmit(build())).check(f"PACE step {number}")
        handle(response.data)
    assert terminal.result is not None
    return terminal.result
