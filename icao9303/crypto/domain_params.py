"""Domain parameters for PACE and Chip Authentication: the standardized ids 0-18 (ICAO 9303-11 §9.5.1)
and the group arithmetic both roles need (key pairs, public-key encoding and validation, key
agreement, the PACE generic and integrated mappings).

`ECGroup` (prime curves, ECKA of BSI TR-03111) and `DHGroup` (MODP groups with a prime-order subgroup,
RFC 2631 / RFC 5114) share one interface, so PACE and CA are written once. Point arithmetic on a
*mapped* generator is something `cryptography` does not expose, so the EC math runs on `ecdsa`'s
Jacobian points; key pairs and key agreement on a standardized curve that OpenSSL knows go through
`cryptography` instead (Chip Authentication, the PACE mapping key pair); DH is modular exponentiation
(`cryptography`'s DH objects cannot take a mapped generator).

Encodings (9303-11 §9.4.5, LESSONS "leading zeros"): an EC public key is the uncompressed point
``04 ‖ x ‖ y`` with x and y at the full field length; a DH public key and every shared secret are
unsigned big-endian integers at the full length of p. The ECDH shared secret is the x-coordinate.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import ecdsa
from cryptography.hazmat.primitives.asymmetric import ec
from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

from icao9303.crypto.errors import ProtocolError, UnsupportedAlgorithmError

__all__ = [
    "STANDARDIZED_DOMAIN_PARAMETERS",
    "DHGroup",
    "ECGroup",
    "Group",
    "standardized_domain_parameters",
]


def _i2os(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


class Group(ABC):
    """A cyclic group of prime order with a generator: the domain parameters D of 9303-11."""

    #: Standardized domain parameter id (9303-11 §9.5.1), or None for explicit parameters.
    parameter_id: int | None
    #: Human name ("brainpoolP256r1", "RFC 5114 2048/256").
    name: str

    @property
    @abstractmethod
    def order(self) -> int:
        """Prime order of the generator (n for curves, q for DH)."""

    @property
    @abstractmethod
    def field_length(self) -> int:
        """Bytes of one field element (x or y of a point; a DH element): always the encoding length."""

    @property
    def order_length(self) -> int:
        """Bytes of a scalar modulo the order."""
        return (self.order.bit_length() + 7) // 8

    @property
    @abstractmethod
    def is_ec(self) -> bool: ...

    @abstractmethod
    def generator(self) -> Any:
        """The group generator (an element)."""

    @abstractmethod
    def multiply(self, scalar: int, element: Any | None = None) -> Any:
        """scalar·element (EC) or element^scalar (DH); the generator when `element` is None."""

    @abstractmethod
    def encode(self, element: Any) -> bytes:
        """Public key encoding of 9303-11 §9.4.5 (full length)."""

    @abstractmethod
    def decode(self, data: bytes, *, protocol: str = "PACE", step: int | str | None = None) -> Any:
        """Decode and validate a peer's public key: right length and form, on the curve / in range,
        in the prime-order subgroup, not the neutral element. `ProtocolError` otherwise."""

    @abstractmethod
    def shared_secret(self, element: Any) -> bytes:
        """The octet string used as shared secret K (ECDH: x-coordinate; DH: the element)."""

    @abstractmethod
    def with_generator(self, generator: Any) -> Group:
        """The same group with another generator (the result of a PACE mapping)."""

    @abstractmethod
    def combine(self, s: int, h: Any) -> Any:
        """Generic Mapping (9303-11 §4.4.3.3.1): s×G + H (EC) or g^s · h (DH)."""

    @abstractmethod
    def integrated_map(self, x: int) -> Any:
        """Integrated Mapping function f_G / f_g (9303-11 §4.4.3.3.2, Appendix B) of x ∈ GF(p)."""

    @property
    @abstractmethod
    def prime(self) -> int:
        """The field prime p (the modulus Rp maps into)."""

    def random_scalar(self) -> int:
        """A private key uniformly in [1, order-1]."""
        return secrets.randbelow(self.order - 1) + 1

    def keypair(self, private: int | None = None) -> tuple[int, Any]:
        """(private key, public key) on this group's generator; `private` fixed for test vectors."""
        d = self.random_scalar() if private is None else private
        # Decision: a fixed private key (test vectors only) may exceed the order: 9303-11 Appendix H.2
        # prints 1024-bit DH exponents for the 160-bit subgroup and Appendix I.1 a chip key larger than
        # n; the multiplication is the same. Generated keys are always in [1, order-1].
        bound = (1 << (8 * self.order_length)) if self.is_ec else self.prime - 1
        if not 0 < d < bound or d % self.order == 0:
            raise ProtocolError("private key out of range", protocol="PACE", reason="protocol.private_key")
        return d, self.multiply(d)

    def agree(self, private: int, peer: Any) -> Any:
        """Anonymous (EC)DH key agreement KA(SK, PK, D): the group element private·peer."""
        element = self.multiply(private, peer)
        if self._is_neutral(element):
            raise ProtocolError(
                "key agreement gave the neutral element", protocol="PACE", reason="protocol.key_agreement"
            )
        return element

    def key_agreement(self, private: int, peer: Any) -> bytes:
        """KA(SK, PK, D) as the shared secret octet string (ECDH: x-coordinate, DH: the element), full length."""
        return self.shared_secret(self.agree(private, peer))

    @abstractmethod
    def _is_neutral(self, element: Any) -> bool: ...

    def equal(self, a: Any, b: Any) -> bool:
        return self.encode(a) == self.encode(b)


class ECGroup(Group):
    """A prime curve y² = x³ + ax + b over GF(p) with base point G of prime order n and cofactor h."""

    def __init__(
        self,
        curve: CurveFp,
        generator: PointJacobi,
        order: int,
        *,
        parameter_id: int | None = None,
        name: str = "explicit",
    ) -> None:
        self.curve = curve
        self._g = generator
        self._order = order
        self.parameter_id = parameter_id
        self.name = name
        self._flen = (curve.p().bit_length() + 7) // 8

    @classmethod
    def from_ecdsa_curve(cls, curve: ecdsa.curves.Curve, parameter_id: int | None, name: str) -> ECGroup:
        return cls(curve.curve, curve.generator, curve.order, parameter_id=parameter_id, name=name)

    @classmethod
    def from_parameters(cls, p: int, a: int, b: int, gx: int, gy: int, order: int, cofactor: int = 1) -> ECGroup:
        """Explicit domain parameters (TR-03111 §5.1.1 ECParameters, e.g. from DG14 / CardAccess)."""
        curve = CurveFp(p, a, b, cofactor)
        if not curve.contains_point(gx, gy):
            raise ProtocolError("generator not on the curve", protocol="PACE", reason="protocol.domain_parameters")
        g = PointJacobi(curve, gx, gy, 1, order, generator=True)
        return cls(curve, g, order)

    @property
    def order(self) -> int:
        return self._order

    @property
    def prime(self) -> int:
        return self.curve.p()

    @property
    def cofactor(self) -> int:
        return self.curve.cofactor() or 1

    @property
    def field_length(self) -> int:
        return self._flen

    @property
    def is_ec(self) -> bool:
        return True

    def generator(self) -> PointJacobi:
        return self._g

    def multiply(self, scalar: int, element: Any | None = None) -> Any:
        point = self._g if element is None else element
        return point * scalar

    def encode(self, element: Any) -> bytes:
        if element == INFINITY:
            raise ProtocolError("the point at infinity has no encoding", protocol="PACE", reason="protocol.public_key")
        return b"\x04" + _i2os(element.x(), self._flen) + _i2os(element.y(), self._flen)

    def decode(self, data: bytes, *, protocol: str = "PACE", step: int | str | None = None) -> Any:
        data = bytes(data)
        if len(data) != 1 + 2 * self._flen or data[0] != 0x04:
            raise ProtocolError(
                "EC public key is not an uncompressed point of the field length",
                protocol=protocol,
                step=step,
                reason="protocol.public_key",
            )
        x = int.from_bytes(data[1 : 1 + self._flen], "big")
        y = int.from_bytes(data[1 + self._flen :], "big")
        p = self.curve.p()
        if not (x < p and y < p and self.curve.contains_point(x, y)):
            raise ProtocolError(
                "EC public key not on the curve", protocol=protocol, step=step, reason="protocol.public_key"
            )
        point = PointJacobi(self.curve, x, y, 1, self._order)
        if self.cofactor != 1 and point * self._order != INFINITY:
            raise ProtocolError(
                "EC public key not in the prime-order subgroup",
                protocol=protocol,
                step=step,
                reason="protocol.public_key",
            )
        return point

    def shared_secret(self, element: Any) -> bytes:
        return _i2os(element.x(), self._flen)

    def _is_neutral(self, element: Any) -> bool:
        return element == INFINITY

    def _cryptography_curve(self) -> ec.EllipticCurve | None:
        # Only a standardized group keeps its parameter id (a mapped group has None), so the generator is
        # the standard one and `cryptography` (OpenSSL) can do the work.
        cls = _CRYPTOGRAPHY_CURVES.get(self.parameter_id) if self.parameter_id is not None else None
        return cls() if cls is not None else None

    def keypair(self, private: int | None = None) -> tuple[int, Any]:
        curve = self._cryptography_curve()
        if curve is None:
            return super().keypair(private)
        if private is None:
            key = ec.generate_private_key(curve)
        else:
            if private <= 0 or private % self._order == 0 or private >= 1 << (8 * self.order_length):
                raise ProtocolError("private key out of range", protocol="PACE", reason="protocol.private_key")
            key = ec.derive_private_key(private % self._order, curve)
        numbers = key.public_key().public_numbers()
        point = PointJacobi(self.curve, numbers.x, numbers.y, 1, self._order)
        return key.private_numbers().private_value if private is None else private, point

    def key_agreement(self, private: int, peer: Any) -> bytes:
        """ECKA on a standardized curve through `cryptography` (OpenSSL); `ecdsa` for the others."""
        curve = self._cryptography_curve()
        if curve is None:
            return super().key_agreement(private, peer)
        try:
            sk = ec.derive_private_key(private % self._order, curve)
            pk = ec.EllipticCurvePublicKey.from_encoded_point(curve, self.encode(peer))
            return sk.exchange(ec.ECDH(), pk)
        except ValueError as exc:
            raise ProtocolError("key agreement failed", protocol="PACE", reason="protocol.key_agreement") from exc

    def agree(self, private: int, peer: Any) -> Any:
        # ECKA with compatible cofactor multiplication (TR-03111 §4.3.1): K = (h·d mod n)·P ... for the
        # standardized curves h = 1; for h > 1 the peer point was checked to be in the subgroup already.
        return super().agree(private, peer)

    def with_generator(self, generator: Any) -> ECGroup:
        # generator=False: a mapped generator is used for one or two multiplications, so the
        # precomputation ecdsa does for generators would cost more than it saves.
        g = PointJacobi(self.curve, generator.x(), generator.y(), 1, self._order)
        return ECGroup(self.curve, g, self._order, parameter_id=None, name=f"{self.name} (mapped)")

    def combine(self, s: int, h: Any) -> Any:
        point = self._g * s + h
        if point == INFINITY:
            raise ProtocolError(
                "mapped generator is the point at infinity",
                protocol="PACE",
                step=2,
                reason="protocol.mapping",
            )
        return point

    def integrated_map(self, x: int) -> Any:
        """f_G(t) of 9303-11 Appendix B.2 (Brier, Coron, Icart, Madore, Randriam, Tibouchi 2010, the
        simplified SWU encoding) for curves with p ≡ 3 (mod 4), then cofactor multiplication."""
        p = self.curve.p()
        a, b = self.curve.a() % p, self.curve.b() % p
        if p % 4 != 3 or a == 0 or b == 0:
            raise UnsupportedAlgorithmError(
                "the ECDH integrated mapping needs p ≡ 3 (mod 4) and a, b ≠ 0", what="domain_parameters"
            )
        t = x % p
        alpha = (-t * t) % p
        s = (alpha + alpha * alpha) % p
        if s == 0:
            raise ProtocolError(
                "integrated mapping input degenerate", protocol="PACE", step=2, reason="protocol.mapping"
            )
        x2 = (-b * (1 + s) * pow(a * s, -1, p)) % p
        x3 = (alpha * x2) % p
        h2 = (pow(x2, 3, p) + a * x2 + b) % p
        u = (pow(t, 3, p) * h2) % p
        big_a = pow(h2, p - 1 - (p + 1) // 4, p)
        if (big_a * big_a * h2) % p == 1:
            px, py = x2, (big_a * h2) % p
        else:
            px, py = x3, (big_a * u) % p
        point = PointJacobi(self.curve, px, py, 1, self._order) * self.cofactor
        if point == INFINITY:
            raise ProtocolError(
                "mapped generator is the point at infinity",
                protocol="PACE",
                step=2,
                reason="protocol.mapping",
            )
        return point


class DHGroup(Group):
    """A MODP group: prime p, generator g of prime order q (RFC 5114; 9303-11 §9.5.1 ids 0-2)."""

    def __init__(self, p: int, g: int, q: int, *, parameter_id: int | None = None, name: str = "explicit"):
        self.p = p
        self.g = g
        self.q = q
        self.parameter_id = parameter_id
        self.name = name
        self._flen = (p.bit_length() + 7) // 8

    @property
    def order(self) -> int:
        return self.q

    @property
    def prime(self) -> int:
        return self.p

    @property
    def field_length(self) -> int:
        return self._flen

    @property
    def is_ec(self) -> bool:
        return False

    def generator(self) -> int:
        return self.g

    def multiply(self, scalar: int, element: Any | None = None) -> int:
        base = self.g if element is None else element
        return pow(base, scalar, self.p)

    def encode(self, element: Any) -> bytes:
        return _i2os(element, self._flen)

    def decode(self, data: bytes, *, protocol: str = "PACE", step: int | str | None = None) -> int:
        # Decision: a DH public key must be sent at the full length of p (9303-11 §9.4.5 and LESSONS
        # "leading zeros"); shorter encodings are rejected rather than guessed.
        data = bytes(data)
        if len(data) != self._flen:
            raise ProtocolError(
                "DH public key is not at the full length of p",
                protocol=protocol,
                step=step,
                reason="protocol.public_key",
            )
        y = int.from_bytes(data, "big")
        # RFC 2631 §2.1.5 public key validation: 2 <= y <= p-2 and y^q = 1 mod p.
        if not 1 < y < self.p - 1 or pow(y, self.q, self.p) != 1:
            raise ProtocolError(
                "DH public key outside the prime-order subgroup",
                protocol=protocol,
                step=step,
                reason="protocol.public_key",
            )
        return y

    def shared_secret(self, element: Any) -> bytes:
        return _i2os(element, self._flen)

    def _is_neutral(self, element: Any) -> bool:
        return element in (0, 1)

    def with_generator(self, generator: Any) -> DHGroup:
        return DHGroup(self.p, generator, self.q, parameter_id=None, name=f"{self.name} (mapped)")

    def combine(self, s: int, h: Any) -> int:
        g = (pow(self.g, s, self.p) * h) % self.p
        if g in (0, 1):
            raise ProtocolError("mapped generator is 1", protocol="PACE", step=2, reason="protocol.mapping")
        return g

    def integrated_map(self, x: int) -> int:
        """f_g(x) = x^a mod p with a = (p-1)/q (9303-11 §4.4.3.3.2); ĝ ≠ 1 checked."""
        g = pow(x % self.p, (self.p - 1) // self.q, self.p)
        if g in (0, 1):
            raise ProtocolError("mapped generator is 1", protocol="PACE", step=2, reason="protocol.mapping")
        return g


def _h(text: str) -> int:
    return int("".join(text.split()), 16)


# RFC 5114 §2.1-2.3 (9303-11 §9.5.1 ids 0, 1, 2).
_RFC5114 = {
    0: (
        "1024-bit MODP Group with 160-bit Prime Order Subgroup (RFC 5114 §2.1)",
        """B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B61
        6073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BF
        ACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0
        A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371""",
        """A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31
        266FEA1E5C41564B777E690F5504F213160217B4B01B886A5E91547F9E2749F4
        D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28A
        D662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5""",
        "F518AA8781A8DF278ABA4E7D64B7CB9D49462353",
    ),
    1: (
        "2048-bit MODP Group with 224-bit Prime Order Subgroup (RFC 5114 §2.2)",
        """AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75
        E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A6
        6D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207
        C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836
        81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074
        15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8
        BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29
        E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F""",
        """AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3
        A6824A4E10B9A6F0DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652
        BE5E9001A8D66AD7C17669101999024AF4D027275AC1348BB8A762D0521BC98A
        E247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D1
        19529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8AC
        B70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381
        B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD
        7B5A0F1C71CFFF4C19C418E1F6EC017981BC087F2A7065B384B890D3191F2BFA""",
        "801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB",
    ),
    2: (
        "2048-bit MODP Group with 256-bit Prime Order Subgroup (RFC 5114 §2.3)",
        """87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00
        E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C
        209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B
        6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76
        B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E
        F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026
        C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103
        A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597""",
        """3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125
        10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62
        901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B
        777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193
        B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A
        DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915
        B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3
        2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659""",
        "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3",
    ),
}

# 9303-11 §9.5.1 Table: ids 8-18 (3-7 and 19-31 are RFU).
_CURVES: dict[int, tuple[str, ecdsa.curves.Curve]] = {
    8: ("NIST P-192 (secp192r1)", ecdsa.curves.NIST192p),
    9: ("brainpoolP192r1", ecdsa.curves.BRAINPOOLP192r1),
    10: ("NIST P-224 (secp224r1)", ecdsa.curves.NIST224p),
    11: ("brainpoolP224r1", ecdsa.curves.BRAINPOOLP224r1),
    12: ("NIST P-256 (secp256r1)", ecdsa.curves.NIST256p),
    13: ("brainpoolP256r1", ecdsa.curves.BRAINPOOLP256r1),
    14: ("brainpoolP320r1", ecdsa.curves.BRAINPOOLP320r1),
    15: ("NIST P-384 (secp384r1)", ecdsa.curves.NIST384p),
    16: ("brainpoolP384r1", ecdsa.curves.BRAINPOOLP384r1),
    17: ("brainpoolP512r1", ecdsa.curves.BRAINPOOLP512r1),
    18: ("NIST P-521 (secp521r1)", ecdsa.curves.NIST521p),
}

STANDARDIZED_DOMAIN_PARAMETER_IDS: tuple[int, ...] = (0, 1, 2, *sorted(_CURVES))

# Standardized curves OpenSSL offers through `cryptography` (brainpoolP192r1/P224r1/P320r1 it does not).
_CRYPTOGRAPHY_CURVES: dict[int, type[ec.EllipticCurve]] = {
    8: ec.SECP192R1,
    10: ec.SECP224R1,
    12: ec.SECP256R1,
    13: ec.BrainpoolP256R1,
    15: ec.SECP384R1,
    16: ec.BrainpoolP384R1,
    17: ec.BrainpoolP512R1,
    18: ec.SECP521R1,
}

_cache: dict[int, Group] = {}


def standardized_domain_parameters(parameter_id: int) -> Group:
    """The group of a standardized domain parameter id (9303-11 §9.5.1);
    `UnsupportedAlgorithmError` for RFU ids."""
    group = _cache.get(parameter_id)
    if group is not None:
        return group
    if parameter_id in _RFC5114:
        name, p, g, q = _RFC5114[parameter_id]
        group = DHGroup(_h(p), _h(g), _h(q), parameter_id=parameter_id, name=name)
    elif parameter_id in _CURVES:
        name, curve = _CURVES[parameter_id]
        group = ECGroup.from_ecdsa_curve(curve, parameter_id, name)
    else:
        raise UnsupportedAlgorithmError(
            f"standardized domain parameter id {parameter_id} is not defined", what="parameter_id"
        )
    _cache[parameter_id] = group
    return group


@dataclass(frozen=True)
class _Lazy:
    def __getitem__(self, parameter_id: int) -> Group:
        return standardized_domain_parameters(parameter_id)

    def __iter__(self):
        return iter(STANDARDIZED_DOMAIN_PARAMETER_IDS)

    def __len__(self) -> int:
        return len(STANDARDIZED_DOMAIN_PARAMETER_IDS)

    def __contains__(self, parameter_id: object) -> bool:
        return parameter_id in STANDARDIZED_DOMAIN_PARAMETER_IDS


STANDARDIZED_DOMAIN_PARAMETERS = _Lazy()
"""Mapping-like view: ``STANDARDIZED_DOMAIN_PARAMETERS[13]`` is brainpoolP256r1."""
