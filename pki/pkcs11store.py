"""`PKCS11KeyStore`: keys inside a PKCS#11 token (an HSM; SoftHSM2 in tests) via python-pkcs11.

Private and secret keys are created with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, CKA_TOKEN=true.
Signing hashes in Python and hands the token the digest (PKCS#11 v2.40 §2.3.6 CKM_ECDSA, §2.1.15
CKM_RSA_PKCS_PSS, §2.1.6 CKM_RSA_PKCS over a DigestInfo): SoftHSM2 rejects CKM_ECDSA_SHA256, and
only the digest crosses into the token. CKM_ECDSA returns r‖s; it is converted to DER here.
"""

from __future__ import annotations

import contextlib
import threading

from asn1crypto import algos, keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pki.algorithms import CURVES, KeySpec, SignatureScheme, digest, hash_name, raw_to_der_ecdsa
from pki.errors import KeyStoreError
from pki.keystore import PublicKey, check_label, sp800_108_cmac

_CURVE_BY_OID = {keys.NamedCurve.unmap(asn1name): name for name, (asn1name, _, _) in CURVES.items()}


class PKCS11KeyStore:
    """Key pairs and AES secrets on a PKCS#11 token, found by token label and opened with the user PIN.

    ``PKCS11KeyStore("/usr/lib/softhsm/libsofthsm2.so", "cancuoc", pin)``. A missing module or token, or a
    wrong PIN, raises `KeyStoreError` saying so (codes KEYSTORE_NO_MODULE, KEYSTORE_NO_TOKEN,
    KEYSTORE_WRONG_PIN). One session is kept open and serialised with a lock.
    """

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        import pkcs11
        from pkcs11 import exceptions as p11e

        self._pkcs11 = pkcs11
        self.module = module
        self.token_label = token_label
        self._lock = threading.RLock()
        try:
            lib = pkcs11.lib(module)
        except (RuntimeError, OSError, p11e.PKCS11Error) as exc:
            raise KeyStoreError(f"cannot load PKCS#11 module {module}", code="KEYSTORE_NO_MODULE") from exc
        try:
            token = lib.get_token(token_label=token_label)
        except (p11e.NoSuchToken, p11e.MultipleTokensReturned) as exc:
            raise KeyStoreError(
                f"no PKCS#11 token labelled {token_label!r} in {module}", code="KEYSTORE_NO_TOKEN"
            ) from exc
        try:
            self._session = token.open(rw=True, user_pin=pin)
        except p11e.UserAlreadyLoggedIn:
            # PKCS#11 v2.40 §5.6: the login state belongs to the application, shared by all its sessions;
            # another store in this process is logged in already, so this session inherits it.
            self._session = token.open(rw=True)
        except (p11e.PinIncorrect, p11e.PinLenRange, p11e.PinInvalid) as exc:
            raise KeyStoreError(f"wrong PIN for PKCS#11 token {token_label!r}", code="KEYSTORE_WRONG_PIN") from exc
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(
                f"cannot open PKCS#11 token {token_label!r}: {exc.__class__.__name__}",
                code="KEYSTORE_NO_TOKEN",
            ) from exc
        self._keys: dict[tuple[str, str], object] = {}

    def __repr__(self) -> str:
        return f"PKCS11KeyStore({self.module!r}, {self.token_label!r})"

    def _find(self, label: str, object_class):
        cache_key = (label, object_class.name)
        obj = self._keys.get(cache_key)
        if obj is not None:
            return obj
        from pkcs11 import exceptions as p11e

        try:
            obj = self._session.get_key(object_class=object_class, label=check_label(label))
        except p11e.NoSuchKey:
            raise KeyStoreError(
                f"no key labelled {label!r} on token {self.token_label!r}", code="KEYSTORE_NO_KEY"
            ) from None
        except p11e.MultipleObjectsReturned:
            raise KeyStoreError(f"several keys labelled {label!r}", code="KEYSTORE_DAMAGED") from None
        self._keys[cache_key] = obj
        return obj

    def has_key(self, label: str) -> bool:
        Attribute = self._pkcs11.Attribute
        with self._lock:
            return any(True for _ in self._session.get_objects({Attribute.LABEL: check_label(label)}))

    def labels(self) -> list[str]:
        Attribute, ObjectClass = self._pkcs11.Attribute, self._pkcs11.ObjectClass
        with self._lock:
            found = set()
            for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.SECRET_KEY):
                for obj in self._session.get_objects({Attribute.CLASS: cls}):
                    found.add(obj.label)
            return sorted(found)

    def generate_key_pair(self, label: str, spec: KeySpec) -> PublicKey:
        p = self._pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        private_template = {
            p.Attribute.SENSITIVE: True,
            p.Attribute.EXTRACTABLE: False,
            p.Attribute.TOKEN: True,
            p.Attribute.PRIVATE: True,
            p.Attribute.SIGN: True,
        }
        with self._lock:
            if self.has_key(label):
                raise KeyStoreError(f"key {label!r} already exists", code="KEYSTORE_EXISTS")
            if spec.kind == "ec":
                params = self._session.create_domain_parameters(
                    p.KeyType.EC,
                    {p.Attribute.EC_PARAMS: encode_named_curve_parameters(CURVES[spec.curve][0])},
                    local=True,
                )
                params.generate_keypair(store=True, label=label, private_template=private_template)
            else:
                self._session.generate_keypair(
                    p.KeyType.RSA, spec.bits, store=True, label=label, private_template=private_template
                )
            return self.public_key(label)

    def public_key(self, label: str) -> PublicKey:
        p = self._pkcs11
        with self._lock:
            pub = self._find(label, p.ObjectClass.PUBLIC_KEY)
            if pub.key_type == p.KeyType.EC:
                curve_oid = keys.ECDomainParameters.load(pub[p.Attribute.EC_PARAMS]).chosen.dotted
                point = keys.ECPointBitString  # noqa: F841 (documenting the encoding below)
                # CKA_EC_POINT is DER OCTET STRING { uncompressed point } (PKCS#11 v2.40 §2.3.3)
                from asn1crypto.core import OctetString

                raw = OctetString.load(pub[p.Attribute.EC_POINT]).native
                curve = CURVES[_CURVE_BY_OID[curve_oid]][1]()
                return ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
            n = int.from_bytes(pub[p.Attribute.MODULUS], "big")
            e = int.from_bytes(pub[p.Attribute.PUBLIC_EXPONENT], "big")
            return rsa.RSAPublicNumbers(e, n).public_key()

    def key_spec(self, label: str) -> KeySpec:
        key = self.public_key(label)
        if isinstance(key, ec.EllipticCurvePublicKey):
            name = next(n for n, (_, cls, _) in CURVES.items() if isinstance(key.curve, cls))
            return KeySpec("ec", curve=name)
        return KeySpec("rsa", bits=key.key_size)

    def sign(self, label: str, data: bytes, hash: str, scheme: SignatureScheme) -> bytes:
        p = self._pkcs11
        h = hash_name(hash)
        dig = digest(h, data)
        with self._lock:
            priv = self._find(label, p.ObjectClass.PRIVATE_KEY)
            if priv.key_type == p.KeyType.EC:
                if scheme != "ecdsa":
                    raise KeyStoreError(f"key {label!r} is EC; scheme {scheme} impossible", code="KEYSTORE_BAD_REQUEST")
                return raw_to_der_ecdsa(priv.sign(dig, mechanism=p.Mechanism.ECDSA))
            if scheme == "pss":
                mech_hash = getattr(p.Mechanism, h.upper())
                mgf = getattr(p.MGF, h.upper())
                return priv.sign(dig, mechanism=p.Mechanism.RSA_PKCS_PSS, mechanism_param=(mech_hash, mgf, len(dig)))
            if scheme == "pkcs1v15":
                info = algos.DigestInfo({"digest_algorithm": {"algorithm": h}, "digest": dig}).dump()
                return priv.sign(info, mechanism=p.Mechanism.RSA_PKCS)
            raise KeyStoreError(f"key {label!r} is RSA; scheme {scheme} impossible", code="KEYSTORE_BAD_REQUEST")

    def generate_secret(self, label: str) -> None:
        p = self._pkcs11
        with self._lock:
            if self.has_key(label):
                raise KeyStoreError(f"key {label!r} already exists", code="KEYSTORE_EXISTS")
            self._session.generate_key(
                p.KeyType.AES,
                128,
                label=label,
                store=True,
                template={
                    p.Attribute.SENSITIVE: True,
                    p.Attribute.EXTRACTABLE: False,
                    p.Attribute.TOKEN: True,
                    p.Attribute.SIGN: True,
                    p.Attribute.PRIVATE: True,
                },
            )

    def cmac(self, label: str, data: bytes) -> bytes:
        p = self._pkcs11
        with self._lock:
            key = self._find(label, p.ObjectClass.SECRET_KEY)
            return bytes(key.sign(data, mechanism=p.Mechanism.AES_CMAC))

    def derive_key(self, label: str, context: bytes, length: int = 16, purpose: bytes = b"") -> bytes:
        return sp800_108_cmac(lambda block: self.cmac(label, block), context, length, purpose)

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
            with contextlib.suppress(Exception):  # closing twice or after token removal is harmless
                self._session.close()
