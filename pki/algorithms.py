"""Key specifications, hash and signature algorithm identifiers, and signature verification over DER.

Everything that turns an algorithm name into an AlgorithmIdentifier (RFC 3279, RFC 4055, RFC 5758) or a
`cryptography` primitive lives here, so certificates, CRLs and CMS agree on one mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from pki.errors import PKIError

SignatureScheme = Literal["ecdsa", "pss", "pkcs1v15"]
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
HASH_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}

# user-facing curve name -> (asn1crypto NamedCurve name, cryptography curve class, field size in bytes)
CURVES: dict[str, tuple[str, type[ec.EllipticCurve], int]] = {
    "P-256": ("secp256r1", ec.SECP256R1, 32),
    "P-384": ("secp384r1", ec.SECP384R1, 48),
    "P-521": ("secp521r1", ec.SECP521R1, 66),
    "brainpoolP256r1": ("brainpoolp256r1", ec.BrainpoolP256R1, 32),
    "brainpoolP384r1": ("brainpoolp384r1", ec.BrainpoolP384R1, 48),
    "brainpoolP512r1": ("brainpoolp512r1", ec.BrainpoolP512R1, 64),
}
_CURVE_ALIASES = {k.lower(): k for k in CURVES} | {
    "secp256r1": "P-256",
    "prime256v1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
    "p256": "P-256",
    "p384": "P-384",
    "p521": "P-521",
}
RSA_SIZES = range(2048, 4097)


@dataclass(frozen=True)
class KeySpec:
    """What key pair to generate: ``KeySpec("ec", curve="P-256")`` or ``KeySpec("rsa", bits=3072)``.

    Curves: P-256/384/521 and brainpoolP256r1/384r1/512r1; RSA 2048–4096 bits (multiple of 8).
    """

    kind: Literal["ec", "rsa"]
    curve: str | None = None
    bits: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "ec":
            if self.curve not in CURVES:
                raise PKIError(f"unsupported curve {self.curve!r}", code="ALGORITHM_UNSUPPORTED")
        elif self.kind == "rsa":
            if self.bits is None or self.bits not in RSA_SIZES or self.bits % 8:
                raise PKIError(f"unsupported RSA size {self.bits!r}", code="ALGORITHM_UNSUPPORTED")
        else:
            raise PKIError(f"unsupported key kind {self.kind!r}", code="ALGORITHM_UNSUPPORTED")

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """``"ec:P-256"``, ``"brainpoolP256r1"``, ``"rsa:3072"`` or ``"rsa3072"``."""
        t = text.strip()
        low = t.lower()
        if low.startswith("rsa"):
            return cls("rsa", bits=int(low[3:].lstrip(":-")))
        if low.startswith("ec:"):
            t = t[3:]
        name = _CURVE_ALIASES.get(t.lower())
        if name is None:
            raise PKIError(f"unknown key spec {text!r}", code="ALGORITHM_UNSUPPORTED")
        return cls("ec", curve=name)

    def __str__(self) -> str:
        return f"ec:{self.curve}" if self.kind == "ec" else f"rsa:{self.bits}"

    @property
    def default_scheme(self) -> SignatureScheme:
        return "ecdsa" if self.kind == "ec" else "pss"


def hash_name(name: str) -> str:
    n = name.lower().replace("-", "")
    if n not in HASHES:
        raise PKIError(f"unsupported hash {name!r}", code="ALGORITHM_UNSUPPORTED")
    return n


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(HASHES[hash_name(name)]())
    h.update(data)
    return h.finalize()


def digest_algorithm(name: str) -> algos.DigestAlgorithm:
    """DigestAlgorithmIdentifier with absent parameters (RFC 5754 §2)."""
    return algos.DigestAlgorithm({"algorithm": hash_name(name)})


def pss_params(hash_alg: str) -> algos.RSASSAPSSParams:
    """RSASSA-PSS-params (RFC 4055 §3.1): MGF1 with the same hash, salt length = hash length."""
    h = hash_name(hash_alg)
    return algos.RSASSAPSSParams(
        {
            "hash_algorithm": {"algorithm": h},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": h}},
            "salt_length": HASH_SIZES[h],
            "trailer_field": "trailer_field_bc",
        }
    )


def signature_algorithm(scheme: SignatureScheme, hash_alg: str) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier for a certificate, CRL or SignerInfo signature."""
    h = hash_name(hash_alg)
    if scheme == "ecdsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{h}_ecdsa"})  # RFC 5758 §3.2: no parameters
    if scheme == "pss":
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": pss_params(h)})
    if scheme == "pkcs1v15":
        return algos.SignedDigestAlgorithm({"algorithm": f"{h}_rsa", "parameters": core.Null()})
    raise PKIError(f"unsupported signature scheme {scheme!r}", code="ALGORITHM_UNSUPPORTED")


def describe_signature_algorithm(
    alg: algos.SignedDigestAlgorithm, digest_alg: algos.DigestAlgorithm | None = None
) -> tuple[SignatureScheme, str, int | None]:
    """(scheme, hash name, PSS salt length) from an AlgorithmIdentifier.

    Plain ``rsaEncryption`` or ``id-ecPublicKey`` as a SignerInfo signatureAlgorithm (seen in SODs) take
    the hash from the SignerInfo digestAlgorithm (RFC 5652 §5.3).
    """
    try:
        sig = alg.signature_algo
    except ValueError as exc:
        raise PKIError(f"unknown signature algorithm {alg['algorithm'].dotted}", code="ALGORITHM_UNSUPPORTED") from exc
    salt: int | None = None
    if sig == "rsassa_pss":
        params = alg["parameters"]
        h = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1" or mgf["parameters"]["algorithm"].native != h:
            raise PKIError("RSASSA-PSS with an MGF other than MGF1(same hash)", code="ALGORITHM_UNSUPPORTED")
        salt = int(params["salt_length"].native)
        return "pss", hash_name(h), salt
    try:
        h = alg.hash_algo
    except ValueError:
        if digest_alg is None:
            raise PKIError("signature algorithm names no hash", code="ALGORITHM_UNSUPPORTED") from None
        h = digest_alg["algorithm"].native
    if sig == "ecdsa":
        return "ecdsa", hash_name(h), None
    if sig == "rsassa_pkcs1v15":
        return "pkcs1v15", hash_name(h), None
    raise PKIError(f"unsupported signature algorithm {sig}", code="ALGORITHM_UNSUPPORTED")


def _explicit_curve_name(params: keys.SpecifiedECDomain) -> str:
    """Map explicit EC domain parameters (RFC 3279 specifiedCurve) to the named curve they equal."""
    import ecdsa.curves  # the ecdsa package carries the parameters of every curve we accept

    p = params["field_id"]["parameters"].native
    a = int.from_bytes(params["curve"]["a"].native, "big")
    b = int.from_bytes(params["curve"]["b"].native, "big")
    n = params["order"].native
    for ours in CURVES:
        cname = {"P-256": "NIST256p", "P-384": "NIST384p", "P-521": "NIST521p"}.get(ours, ours.upper()[:-2] + "r1")
        curve = ecdsa.curves.curve_by_name(cname)
        c = curve.curve
        if c.p() == p and c.a() % p == a % p and c.b() % p == b % p and curve.order == n:
            return CURVES[ours][0]
    raise PKIError("explicit EC domain parameters of an unknown curve", code="ALGORITHM_UNSUPPORTED")


def load_public_key(spki: keys.PublicKeyInfo | bytes):
    """A `cryptography` public key from SubjectPublicKeyInfo, accepting explicit EC parameters.

    Decision: certificates we issue use namedCurve (RFC 5480 §2.1.1); foreign CSCA/DS certificates with
    explicit domain parameters are accepted when the parameters equal one of the curves we support.
    """
    info = spki if isinstance(spki, keys.PublicKeyInfo) else keys.PublicKeyInfo.load(spki)
    try:
        alg = info["algorithm"]
        if alg["algorithm"].native == "ec" and alg["parameters"].name == "specified":
            name = _explicit_curve_name(alg["parameters"].chosen)
            info = keys.PublicKeyInfo(
                {
                    "algorithm": {"algorithm": "ec", "parameters": ("named", name)},
                    "public_key": info["public_key"].native,
                }
            )
        if alg["algorithm"].native == "rsassa_pss":
            info = keys.PublicKeyInfo(
                {
                    "algorithm": {"algorithm": "rsa", "parameters": core.Null()},
                    "public_key": info["public_key"],
                }
            )
        return serialization.load_der_public_key(info.dump())
    except PKIError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PKIError(f"unusable public key: {exc.__class__.__name__}", code="KEY_MALFORMED") from exc


def verify_signature(
    public_key,
    scheme: SignatureScheme,
    hash_alg: str,
    data: bytes,
    signature: bytes,
    salt_length: int | None = None,
) -> None:
    """Verify ``signature`` over ``data``; raise ``PKIError(code="SIGNATURE_INVALID")`` when it fails."""
    h = HASHES[hash_name(hash_alg)]()
    try:
        if scheme == "ecdsa":
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise PKIError("ECDSA signature but the key is not EC", code="SIGNATURE_INVALID")
            public_key.verify(signature, data, ec.ECDSA(h))
        elif scheme in ("pss", "pkcs1v15"):
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise PKIError("RSA signature but the key is not RSA", code="SIGNATURE_INVALID")
            pad = (
                padding.PSS(mgf=padding.MGF1(h), salt_length=salt_length if salt_length is not None else h.digest_size)
                if scheme == "pss"
                else padding.PKCS1v15()
            )
            public_key.verify(signature, data, pad, h)
        else:
            raise PKIError(f"unsupported scheme {scheme}", code="ALGORITHM_UNSUPPORTED")
    except InvalidSignature as exc:
        raise PKIError("signature does not verify", code="SIGNATURE_INVALID") from exc
    except ValueError as exc:  # malformed DER signature, wrong sizes
        raise PKIError("malformed signature", code="SIGNATURE_INVALID") from exc


def raw_to_der_ecdsa(raw: bytes) -> bytes:
    """PKCS#11 CKM_ECDSA output r‖s (each at field length) → DER ECDSA-Sig-Value (RFC 3279 §2.2.3)."""
    if len(raw) % 2:
        raise PKIError("odd-length raw ECDSA signature", code="SIGNATURE_INVALID")
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def der_to_raw_ecdsa(der: bytes, field_size: int) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(field_size, "big") + s.to_bytes(field_size, "big")


def signature_bits(bits, inner_algorithm=None, outer_algorithm=None) -> bytes:
    """The octets of a certificate/CRL signature BIT STRING, refusing encodings a forger could vary
    without touching the signed bytes: unused bits other than 0 (RFC 5280 §4.1.1.3 signatures are whole
    octets) and an outer signatureAlgorithm that differs from the one inside the TBS (RFC 5280 §4.1.1.2)."""
    contents = bits.contents or b""
    if not contents or contents[0] != 0 or getattr(bits, "method", 0) != 0:
        raise PKIError("signature BIT STRING is not a whole number of octets", code="SIGNATURE_INVALID")
    if inner_algorithm is not None and outer_algorithm is not None and inner_algorithm.dump() != outer_algorithm.dump():
        raise PKIError("signatureAlgorithm differs inside and outside the signed part", code="SIGNATURE_INVALID")
    return bytes(contents[1:])
