"""Chip Authentication v1 (ICAO 9303-11 §6.2, §9.2.5-§9.2.6; BSI TR-03110-1 §3.4) for the terminal and
the chip, with the key material from DG14 / EF.CardSecurity.

Protocol (9303-11 §6.2.1): the terminal sends an ephemeral public key PK_IFD on the chip's domain
parameters D_IC; both compute K = KA(SK_IC, PK_IFD, D_IC) = KA(SK_IFD, PK_IC, D_IC) and restart secure
messaging with KSenc = KDF(K, 1), KSmac = KDF(K, 2) and SSC = 0 (§9.8.x). The response to the CA
command itself is still protected with the old keys.

APDUs (9303-11 §6.2.4):
- 3DES: MSE:Set KAT (00 22 41 A6) with 91 PK_IFD [84 keyId];
- AES: MSE:Set AT (00 22 41 A4) with 80 OID [84 keyId], then GENERAL AUTHENTICATE (00 86 00 00) with
  7C { 80 PK_IFD }, answered by an empty 7C.

Decisions:
- Without a ChipAuthenticationInfo for a key, id-CA-(EC)DH-3DES-CBC-CBC is implied (9303-11 §9.2.5:
  the info is only required for AES).
- With several keys and no requested keyId, the strongest usable pairing is chosen (ECDH before DH,
  then AES-256 > AES-192 > AES-128 > 3DES); the keyId is sent in tag 84 whenever the key has one
  (LESSONS "several CA keys").
- A ChipAuthenticationPublicKeyInfo is read with this module's own lenient SubjectPublicKeyInfo class,
  because `asn1crypto.keys.PublicKeyInfo` refuses the algorithm ``standardizedDomainParameters``
  (0.4.0.127.0.7.1.2) that 9303-11 Appendix I uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core, keys

from icao9303.apdu import INS_GENERAL_AUTHENTICATE, INS_MSE, CommandAPDU, ResponseAPDU
from icao9303.crypto.cipher import AES_128, AES_192, AES_256, DES3, CipherAlgorithm, SymmetricCipher
from icao9303.crypto.domain_params import (
    STANDARDIZED_DOMAIN_PARAMETER_IDS,
    DHGroup,
    ECGroup,
    Group,
    standardized_domain_parameters,
)
from icao9303.crypto.errors import CryptoError, ProtocolError, UnsupportedAlgorithmError
from icao9303.crypto.kdf import session_keys
from icao9303.crypto.pace import parse_dynamic_authentication_data, parse_mse_set_at
from icao9303.crypto.sm import SecureMessaging, SecureMessagingTransport
from icao9303.errors import ICAOError
from icao9303.lds import oids
from icao9303.tlv import encode_tlv, iter_tlv
from icao9303.transport import Transport

__all__ = [
    "CAAlgorithm",
    "CAResult",
    "ChipAuthenticationChip",
    "ChipAuthenticationKey",
    "ChipAuthenticationTerminal",
    "ca_algorithm",
    "chip_authentication_key",
    "group_from_algorithm",
    "perform_chip_authentication",
    "select_chip_authentication",
]

_P = "CA"

_CURVE_OIDS = {
    "1.2.840.10045.3.1.1": 8,  # secp192r1
    "1.3.36.3.3.2.8.1.1.3": 9,  # brainpoolP192r1
    "1.3.132.0.33": 10,  # secp224r1
    "1.3.36.3.3.2.8.1.1.5": 11,  # brainpoolP224r1
    "1.2.840.10045.3.1.7": 12,  # secp256r1
    "1.3.36.3.3.2.8.1.1.7": 13,  # brainpoolP256r1
    "1.3.36.3.3.2.8.1.1.9": 14,  # brainpoolP320r1
    "1.3.132.0.34": 15,  # secp384r1
    "1.3.36.3.3.2.8.1.1.11": 16,  # brainpoolP384r1
    "1.3.36.3.3.2.8.1.1.13": 17,  # brainpoolP512r1
    "1.3.132.0.35": 18,  # secp521r1
}


class _AlgorithmIdentifier(core.Sequence):
    """AlgorithmIdentifier with the parameters kept as ANY (RFC 5280 §4.1.1.2)."""

    _fields: ClassVar[list] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):
    """SubjectPublicKeyInfo (RFC 5280 §4.1) read without algorithm-specific parsing."""

    _fields: ClassVar[list] = [
        ("algorithm", _AlgorithmIdentifier),
        ("subject_public_key", core.BitString),
    ]


class _ChipAuthenticationPublicKeyInfo(core.Sequence):
    """ChipAuthenticationPublicKeyInfo (9303-11 §9.2.6), lenient about the key algorithm."""

    _fields: ClassVar[list] = [
        ("protocol", core.ObjectIdentifier),
        ("chip_authentication_public_key", _SubjectPublicKeyInfo),
        ("key_id", core.Integer, {"optional": True}),
    ]


def _match_standard(group: Group) -> Group:
    for pid in STANDARDIZED_DOMAIN_PARAMETER_IDS:
        std = standardized_domain_parameters(pid)
        if std.is_ec != group.is_ec:
            continue
        if isinstance(group, ECGroup) and isinstance(std, ECGroup):
            p = group.prime
            same = (p, group.curve.a() % p, group.curve.b() % p, group.order) == (
                std.prime,
                std.curve.a() % std.prime,
                std.curve.b() % std.prime,
                std.order,
            ) and group.encode(group.generator()) == std.encode(std.generator())
        else:
            assert isinstance(group, DHGroup) and isinstance(std, DHGroup)
            same = (group.p, group.g, group.q) == (std.p, std.g, std.q)
        if same:
            return std
    return group


def group_from_algorithm(algorithm: Any, *, protocol: str = _P) -> Group:
    """Domain parameters from an AlgorithmIdentifier (asn1crypto object or DER): id-ecPublicKey with a
    named curve or explicit ECParameters (TR-03111 §5.1.1), dhpublicnumber with DomainParameters
    (ANSI X9.42), or standardizedDomainParameters with the id (TR-03110-3 A.2.1.1)."""
    try:
        raw = algorithm.dump() if hasattr(algorithm, "dump") else bytes(algorithm)
        alg = _AlgorithmIdentifier.load(raw)
        oid = alg["algorithm"].dotted
        params = alg["parameters"]
        praw = params.dump() if not isinstance(params, core.Void) else b""
        if oid == oids.STANDARDIZED_DOMAIN_PARAMETERS:
            return standardized_domain_parameters(core.Integer.load(praw).native)
        if oid == oids.ID_EC_PUBLIC_KEY:
            ec = keys.ECDomainParameters.load(praw)
            if ec.name == "named":
                curve_oid = ec.chosen.dotted
                if curve_oid not in _CURVE_OIDS:
                    raise UnsupportedAlgorithmError("named curve not supported", what=curve_oid)
                return standardized_domain_parameters(_CURVE_OIDS[curve_oid])
            if ec.name != "specified":
                raise UnsupportedAlgorithmError("implicit EC domain parameters", what="implicitCA")
            spec = ec.chosen
            if spec["field_id"]["field_type"].native != "prime_field":
                raise UnsupportedAlgorithmError("only prime curves are supported", what="field_type")
            p = spec["field_id"]["parameters"].native
            a = int.from_bytes(spec["curve"]["a"].native, "big")
            b = int.from_bytes(spec["curve"]["b"].native, "big")
            base = spec["base"].native
            flen = (p.bit_length() + 7) // 8
            if len(base) != 1 + 2 * flen or base[0] != 4:
                raise ProtocolError(
                    "base point is not uncompressed", protocol=protocol, reason="protocol.domain_parameters"
                )
            gx, gy = int.from_bytes(base[1 : 1 + flen], "big"), int.from_bytes(base[1 + flen :], "big")
            cofactor = spec["cofactor"].native or 1
            return _match_standard(ECGroup.from_parameters(p, a, b, gx, gy, spec["order"].native, cofactor))
        if oid == oids.ID_DH_PUBLIC_NUMBER:
            dh = _DomainParameters.load(praw)
            p, g, q = dh["p"].native, dh["g"].native, dh["q"].native
            if pow(g, q, p) != 1:
                raise ProtocolError(
                    "DH generator is not of order q", protocol=protocol, reason="protocol.domain_parameters"
                )
            return _match_standard(DHGroup(p, g, q))
    except CryptoError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, ICAOError) as exc:
        raise ProtocolError(
            "domain parameters cannot be parsed", protocol=protocol, reason="protocol.domain_parameters"
        ) from exc
    raise UnsupportedAlgorithmError("unsupported domain parameter algorithm", what=oid)


class _DomainParameters(core.Sequence):
    """ANSI X9.42 DomainParameters ::= SEQUENCE { p, g, q, j OPTIONAL, validationParms OPTIONAL }."""

    _fields: ClassVar[list] = [
        ("p", core.Integer),
        ("g", core.Integer),
        ("q", core.Integer),
        ("j", core.Integer, {"optional": True}),
        ("validation_parms", core.Any, {"optional": True}),
    ]


@dataclass(frozen=True)
class ChipAuthenticationKey:
    """A chip's static CA public key: domain parameters, encoded key (9303-11 §9.4.5 form), keyId."""

    protocol: str  # id-PK-DH or id-PK-ECDH
    group: Group
    public_key: bytes
    key_id: int | None = None


def chip_authentication_key(info: Any) -> ChipAuthenticationKey:
    """Read a ChipAuthenticationPublicKeyInfo (asn1crypto object from DG14/EF.CardSecurity, or DER)."""
    try:
        raw = info.dump() if hasattr(info, "dump") else bytes(info)
        parsed = _ChipAuthenticationPublicKeyInfo.load(raw)
        protocol = parsed["protocol"].dotted
        spki = parsed["chip_authentication_public_key"]
        group = group_from_algorithm(spki["algorithm"])
        key_bits = bytes(spki["subject_public_key"].contents[1:])
        key_id = parsed["key_id"].native
        if group.is_ec:
            public = group.encode(group.decode(key_bits, protocol=_P, step="DG14"))
        else:
            y = core.Integer.load(key_bits).native  # DH: the BIT STRING holds INTEGER y (RFC 3279)
            public = group.encode(group.decode(group.encode(y), protocol=_P, step="DG14"))
    except CryptoError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, ICAOError) as exc:
        raise ProtocolError(
            "ChipAuthenticationPublicKeyInfo cannot be parsed",
            protocol=_P,
            step="DG14",
            reason="protocol.malformed",
        ) from exc
    if protocol not in (oids.ID_PK_DH, oids.ID_PK_ECDH) or (protocol == oids.ID_PK_ECDH) != group.is_ec:
        raise UnsupportedAlgorithmError("Chip Authentication key protocol mismatch", what=protocol)
    return ChipAuthenticationKey(protocol, group, public, key_id)


@dataclass(frozen=True)
class CAAlgorithm:
    """What a Chip Authentication OID selects (9303-11 §9.2.5)."""

    oid: str
    ecdh: bool
    cipher: SymmetricCipher

    @property
    def name(self) -> str:
        return oids.oid_name(self.oid)


_CIPHER_BY_SUFFIX = {1: DES3, 2: AES_128, 3: AES_192, 4: AES_256}


def ca_algorithm(oid: str) -> CAAlgorithm:
    family, _, suffix = str(oid).rpartition(".")
    if family not in (oids.ID_CA_DH, oids.ID_CA_ECDH) or not suffix.isdigit() or int(suffix) not in (1, 2, 3, 4):
        raise UnsupportedAlgorithmError("not a Chip Authentication OID", what=str(oid))
    return CAAlgorithm(str(oid), family == oids.ID_CA_ECDH, _CIPHER_BY_SUFFIX[int(suffix)])


def _implied_oid(key: ChipAuthenticationKey) -> str:
    return oids.ID_CA_ECDH_3DES_CBC_CBC if key.group.is_ec else oids.ID_CA_DH_3DES_CBC_CBC


def select_chip_authentication(security_infos: Any, key_id: int | None = None) -> tuple[str, ChipAuthenticationKey]:
    """Choose (CA protocol OID, chip key) from DG14's / EF.CardSecurity's SecurityInfos (the object of
    `icao9303.lds.security_infos`, or a list of SecurityInfo objects). See the module's decisions."""
    infos = list(getattr(security_infos, "infos", security_infos))
    keys_: list[ChipAuthenticationKey] = []
    ca_infos: list[tuple[str, int | None]] = []
    for info in infos:
        protocol = info["protocol"].dotted
        if protocol in (oids.ID_PK_DH, oids.ID_PK_ECDH):
            keys_.append(chip_authentication_key(info))
        elif protocol.startswith(oids.ID_CA + ".") and protocol.count(".") == oids.ID_CA.count(".") + 2:
            kid = info["key_id"].native if "key_id" in info else None
            ca_infos.append((protocol, kid))
    if key_id is not None:
        keys_ = [k for k in keys_ if k.key_id == key_id]
    if not keys_:
        raise ProtocolError("no Chip Authentication public key", protocol=_P, step="DG14", reason="protocol.no_key")
    candidates: list[tuple[tuple[int, int], str, ChipAuthenticationKey]] = []
    for key in keys_:
        matching = [
            oid
            for oid, kid in ca_infos
            if (kid is None or key.key_id is None or kid == key.key_id)
            and _safe_alg(oid) is not None
            and _safe_alg(oid).ecdh == key.group.is_ec  # type: ignore[union-attr]
        ]
        for oid in matching or [_implied_oid(key)]:
            alg = ca_algorithm(oid)
            rank = (1 if alg.ecdh else 0, 0 if alg.cipher is DES3 else alg.cipher.key_length)
            candidates.append((rank, oid, key))
    candidates.sort(key=lambda c: c[0], reverse=True)
    _, oid, key = candidates[0]
    return oid, key


def _safe_alg(oid: str) -> CAAlgorithm | None:
    try:
        return ca_algorithm(oid)
    except UnsupportedAlgorithmError:
        return None


@dataclass(frozen=True, repr=False)
class CAResult:
    """New session keys after Chip Authentication (same for both roles)."""

    algorithm: CAAlgorithm
    key_id: int | None
    ks_enc: bytes
    ks_mac: bytes
    terminal_ephemeral_public_key: bytes

    @property
    def cipher(self) -> SymmetricCipher:
        return self.algorithm.cipher

    def secure_messaging(self) -> SecureMessaging:
        """The restarted SM session: CA keys, SSC = 0."""
        return SecureMessaging(self.cipher, self.ks_enc, self.ks_mac, 0)

    def __repr__(self) -> str:
        return f"CAResult({self.algorithm.name}, key_id={self.key_id}, <keys redacted>)"


def _key_reference(key_id: int | None) -> bytes:
    if key_id is None:
        return b""
    return encode_tlv(0x84, key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big"))


class ChipAuthenticationTerminal:
    """Terminal role of CA v1. `commands()` gives the plain APDUs to send over the current SM
    transport (one for 3DES, two for AES); `result` holds the keys to restart SM with."""

    def __init__(self, oid: str, key: ChipAuthenticationKey, *, ephemeral_private_key: int | None = None) -> None:
        self.algorithm = ca_algorithm(oid)
        if self.algorithm.ecdh != key.group.is_ec:
            raise UnsupportedAlgorithmError("CA OID and chip key disagree (DH vs ECDH)", what=oid)
        self.key = key
        group = key.group
        sk, pk = group.keypair(ephemeral_private_key)
        self.ephemeral_public_key = group.encode(pk)
        secret = group.key_agreement(sk, group.decode(key.public_key, protocol=_P, step=1))
        ks_enc, ks_mac = session_keys(secret, self.algorithm.cipher)
        self.result = CAResult(self.algorithm, key.key_id, ks_enc, ks_mac, self.ephemeral_public_key)

    def commands(self) -> list[bytes]:
        """The plain command APDUs of §6.2.4 (no Le on MSE, LESSONS)."""
        ref = _key_reference(self.key.key_id)
        if self.algorithm.cipher.algorithm is CipherAlgorithm.DES3:
            data = encode_tlv(0x91, self.ephemeral_public_key) + ref
            return [CommandAPDU(0x00, INS_MSE, 0x41, 0xA6, data).to_bytes()]
        mse = encode_tlv(0x80, core.ObjectIdentifier(self.algorithm.oid).contents) + ref
        body = encode_tlv(0x7C, encode_tlv(0x80, self.ephemeral_public_key))
        extended = len(body) > 255
        ga = CommandAPDU(0x00, INS_GENERAL_AUTHENTICATE, 0x00, 0x00, body, 65536 if extended else 256, extended)
        return [CommandAPDU(0x00, INS_MSE, 0x41, 0xA4, mse).to_bytes(), ga.to_bytes()]


class ChipAuthenticationChip:
    """Chip role of CA v1 with the static key pair (SK_IC on `group`). Feed it the plain command data
    of MSE:Set KAT (3DES) or MSE:Set AT + GENERAL AUTHENTICATE (AES); each call returning a `CAResult`
    means: answer this command with the old SM keys, then switch to the result's keys."""

    def __init__(self, private_key: int, group: Group, *, key_id: int | None = None) -> None:
        self._sk = private_key
        self.group = group
        self.key_id = key_id
        self._oid: str | None = None

    def __repr__(self) -> str:
        return f"ChipAuthenticationChip(key_id={self.key_id})"

    def _check_key_id(self, ref: int | None) -> None:
        if ref is not None and self.key_id is not None and ref != self.key_id:
            raise ProtocolError(
                "unknown Chip Authentication key id",
                protocol=_P,
                step=1,
                reason="protocol.key_id",
                status_word=0x6A88,
            )

    def _agree(self, oid: str, public_key: bytes) -> CAResult:
        alg = ca_algorithm(oid)
        if alg.ecdh != self.group.is_ec:
            raise ProtocolError("CA OID does not match the chip key", protocol=_P, step=1, reason="protocol.algorithm")
        peer = self.group.decode(public_key, protocol=_P, step=1)
        secret = self.group.key_agreement(self._sk, peer)
        ks_enc, ks_mac = session_keys(secret, alg.cipher)
        return CAResult(alg, self.key_id, ks_enc, ks_mac, bytes(public_key))

    def mse_set_kat(self, command_data: bytes, oid: str | None = None) -> CAResult:
        """MSE:Set KAT (3DES variant): 91 PK_IFD [84 keyId]."""
        try:
            dos = dict(iter_tlv(bytes(command_data)))
        except ICAOError as exc:
            raise ProtocolError(
                "MSE:Set KAT data cannot be parsed", protocol=_P, step=1, reason="protocol.malformed"
            ) from exc
        if 0x91 not in dos:
            raise ProtocolError("ephemeral public key (91) missing", protocol=_P, step=1, reason="protocol.missing")
        ref = int.from_bytes(dos[0x84], "big") if dos.get(0x84) else None
        self._check_key_id(ref)
        default = oids.ID_CA_ECDH_3DES_CBC_CBC if self.group.is_ec else oids.ID_CA_DH_3DES_CBC_CBC
        return self._agree(oid or default, dos[0x91])

    def mse_set_at(self, command_data: bytes) -> None:
        """MSE:Set AT (AES variant): 80 OID [84 keyId]; answered 9000."""
        mse = parse_mse_set_at(command_data)
        self._check_key_id(mse.reference)
        alg = ca_algorithm(mse.oid)
        if alg.ecdh != self.group.is_ec:
            raise ProtocolError("CA OID does not match the chip key", protocol=_P, step=1, reason="protocol.algorithm")
        self._oid = mse.oid

    def general_authenticate(self, command_data: bytes) -> tuple[bytes, CAResult]:
        """GENERAL AUTHENTICATE with 7C { 80 PK_IFD }; returns (response data 7C 00, result)."""
        if self._oid is None:
            raise ProtocolError(
                "GENERAL AUTHENTICATE without MSE:Set AT",
                protocol=_P,
                step=2,
                reason="protocol.sequence",
                status_word=0x6985,
            )
        dos = parse_dynamic_authentication_data(command_data, step=2, protocol=_P)
        if 0x80 not in dos:
            raise ProtocolError("ephemeral public key (80) missing", protocol=_P, step=2, reason="protocol.missing")
        oid, self._oid = self._oid, None
        return encode_tlv(0x7C, b""), self._agree(oid, dos[0x80])


def perform_chip_authentication(
    transport: Transport,
    oid: str,
    key: ChipAuthenticationKey,
    *,
    restart_secure_messaging: bool = True,
) -> CAResult:
    """Run CA v1 as terminal over the SM `transport` (the APDUs are protected by it). With
    `restart_secure_messaging` and a `SecureMessagingTransport`, the transport continues with the CA
    keys (SSC 0). A status word other than 9000 raises a `CardError` ("CA MSE" / "CA GENERAL
    AUTHENTICATE"); the chip then keeps the old SM session."""
    terminal = ChipAuthenticationTerminal(oid, key)
    commands = terminal.commands()
    steps = ["CA MSE:Set KAT"] if len(commands) == 1 else ["CA MSE:Set AT", "CA GENERAL AUTHENTICATE"]
    for command, step in zip(commands, steps, strict=True):
        ResponseAPDU.from_bytes(transport.transmit(command)).check(step)
    if restart_secure_messaging and isinstance(transport, SecureMessagingTransport):
        transport.replace_session(terminal.result.secure_messaging())
    return terminal.result
