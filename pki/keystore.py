"""Key stores behind one `KeyStore` protocol, and the encrypted-file store (`FileKeyStore`).

Private keys are generated inside the store and never leave it; callers get public keys and signatures.
Signatures come back in the encoding X.509 and CMS carry: DER ECDSA-Sig-Value (RFC 3279 §2.2.3),
RSASSA-PSS and RSASSA-PKCS1-v1_5 (RFC 8017). Symmetric secrets (AES-128) are used through AES-CMAC
(NIST SP 800-38B) and a CMAC-based KDF (NIST SP 800-108 counter mode), so the raw key never leaves either.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import cmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from pki.algorithms import CURVES, HASHES, KeySpec, SignatureScheme, hash_name
from pki.errors import KeyStoreError

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_label(label: str) -> str:
    if not isinstance(label, str) or not _LABEL.match(label):
        raise KeyStoreError(f"invalid key label {label!r}", code="KEYSTORE_BAD_LABEL")
    return label


@runtime_checkable
class KeyStore(Protocol):
    """What the PKI needs from a key store (file or PKCS#11 HSM)."""

    def generate_key_pair(self, label: str, spec: KeySpec) -> PublicKey:
        """Generate a key pair inside the store under ``label``; return its public key."""
        ...

    def public_key(self, label: str) -> PublicKey: ...

    def key_spec(self, label: str) -> KeySpec: ...

    def has_key(self, label: str) -> bool: ...

    def labels(self) -> list[str]: ...

    def sign(self, label: str, data: bytes, hash: str, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` (hashed inside with ``hash``) with the private key ``label``."""
        ...

    def generate_secret(self, label: str) -> None:
        """Generate an AES-128 secret inside the store (e.g. a card batch master key)."""
        ...

    def cmac(self, label: str, data: bytes) -> bytes:
        """AES-CMAC (NIST SP 800-38B) of ``data`` under the secret ``label`` (16 bytes)."""
        ...

    def derive_key(self, label: str, context: bytes, length: int = 16, purpose: bytes = b"") -> bytes:
        """Diversify the secret ``label``: NIST SP 800-108 counter-mode KDF with AES-CMAC as PRF."""
        ...

    def close(self) -> None: ...


def sp800_108_cmac(prf: Callable[[bytes], bytes], context: bytes, length: int, purpose: bytes = b"") -> bytes:
    """NIST SP 800-108r1 §4.1 KDF in counter mode: K(i) = PRF(KI, [i]_8 ‖ Label ‖ 0x00 ‖ Context ‖ [L]_16).

    Same layout as `cryptography`'s KBKDFCMAC(rlen=1, llen=2, location=BeforeFixed), so a derived key can
    be checked against it in tests.
    """
    if not 1 <= length <= 255 * 16:
        raise KeyStoreError("derived key length out of range", code="KEYSTORE_BAD_REQUEST")
    fixed = purpose + b"\x00" + context + (length * 8).to_bytes(2, "big")
    out = b""
    i = 1
    while len(out) < length:
        out += prf(i.to_bytes(1, "big") + fixed)
        i += 1
    return out[:length]


_CHECK = b"cancuoc-keystore-passphrase-check"


class FileKeyStore:
    """Encrypted PKCS#8 files, one per key, in ``directory`` (the embedded default key store).

    - ``<label>.key.pem``: the private key as encrypted PKCS#8 (PBES2, `BestAvailableEncryption`) under a
      password derived from the passphrase with scrypt (see `_pkcs8_password`).
    - ``<label>.secret.json``: an AES-128 secret sealed with AES-256-GCM under a scrypt key.
    - ``<label>.meta.json``: its key spec; ``keystore.json``: scrypt salt + a passphrase check.

    A wrong passphrase raises ``KeyStoreError(code="KEYSTORE_WRONG_PASSPHRASE")`` when the store opens.
    Decrypted keys are cached in memory for the life of the object (signing thousands of SODs).
    """

    def __init__(self, directory: str | os.PathLike[str], passphrase: str | bytes) -> None:
        if not passphrase:
            raise KeyStoreError("key-store passphrase is empty", code="KEYSTORE_WRONG_PASSPHRASE")
        self.directory = Path(directory)
        self._passphrase = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
        self._lock = threading.RLock()
        self._private: dict[str, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey] = {}
        self._secrets: dict[str, bytes] = {}
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        meta_path = self.directory / "keystore.json"
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
                salt = base64.b64decode(meta["salt"])
                nonce = base64.b64decode(meta["nonce"])
                check = base64.b64decode(meta["check"])
            except (ValueError, KeyError, TypeError) as exc:
                raise KeyStoreError(
                    f"key store {self.directory} is damaged (keystore.json)", code="KEYSTORE_DAMAGED"
                ) from exc
            self._seal_key = self._kdf(salt)
            try:
                AESGCM(self._seal_key).decrypt(nonce, check, _CHECK)
            except InvalidTag:
                raise KeyStoreError(
                    f"wrong passphrase for key store {self.directory}", code="KEYSTORE_WRONG_PASSPHRASE"
                ) from None
        else:
            salt = os.urandom(16)
            nonce = os.urandom(12)
            self._seal_key = self._kdf(salt)
            check = AESGCM(self._seal_key).encrypt(nonce, b"", _CHECK)
            _atomic_write(
                meta_path,
                json.dumps(
                    {
                        "version": 1,
                        "kdf": "scrypt",
                        "n": 2**14,
                        "r": 8,
                        "p": 1,
                        "salt": base64.b64encode(salt).decode(),
                        "nonce": base64.b64encode(nonce).decode(),
                        "check": base64.b64encode(check).decode(),
                    }
                ).encode(),
            )

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.directory)!r})"

    @property
    def _pkcs8_password(self) -> bytes:
        """The PKCS#8 password: a scrypt-derived key, never the passphrase itself.

        Decision: PKCS#8's PBES2/PBKDF2 as `cryptography` writes it uses few iterations, so each key file is
        encrypted under a password derived from the passphrase with scrypt (N=2^14, r=8, p=1; salt in
        keystore.json). Brute-forcing a stolen key file then costs a scrypt per guess.
        """
        return hmac.new(self._seal_key, b"pkcs8-password", "sha256").hexdigest().encode()

    def _kdf(self, salt: bytes) -> bytes:
        return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(self._passphrase)

    # -- key pairs ---------------------------------------------------------------------------------
    def _meta(self, label: str) -> dict:
        path = self.directory / f"{check_label(label)}.meta.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyStoreError(f"no key labelled {label!r} in {self.directory}", code="KEYSTORE_NO_KEY") from None

    def has_key(self, label: str) -> bool:
        return (self.directory / f"{check_label(label)}.meta.json").exists()

    def labels(self) -> list[str]:
        return sorted(p.name[: -len(".meta.json")] for p in self.directory.glob("*.meta.json"))

    def key_spec(self, label: str) -> KeySpec:
        meta = self._meta(label)
        if meta.get("kind") != "keypair":
            raise KeyStoreError(f"{label!r} is not a key pair", code="KEYSTORE_WRONG_KIND")
        return KeySpec.parse(meta["spec"])

    def generate_key_pair(self, label: str, spec: KeySpec) -> PublicKey:
        with self._lock:
            if self.has_key(label):
                raise KeyStoreError(f"key {label!r} already exists", code="KEYSTORE_EXISTS")
            if spec.kind == "ec":
                key = ec.generate_private_key(CURVES[spec.curve][1]())
            else:
                key = rsa.generate_private_key(public_exponent=65537, key_size=spec.bits)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(self._pkcs8_password),
            )
            _atomic_write(self.directory / f"{label}.key.pem", pem)
            _atomic_write(
                self.directory / f"{label}.meta.json",
                json.dumps({"kind": "keypair", "spec": str(spec)}).encode(),
            )
            self._private[label] = key
            return key.public_key()

    def _private_key(self, label: str):
        key = self._private.get(label)
        if key is not None:
            return key
        self.key_spec(label)
        pem = (self.directory / f"{label}.key.pem").read_bytes()
        try:
            key = serialization.load_pem_private_key(pem, password=self._pkcs8_password)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"cannot decrypt key {label!r}: wrong passphrase or damaged file",
                code="KEYSTORE_WRONG_PASSPHRASE",
            ) from exc
        self._private[label] = key
        return key

    def public_key(self, label: str) -> PublicKey:
        return self._private_key(label).public_key()

    def sign(self, label: str, data: bytes, hash: str, scheme: SignatureScheme) -> bytes:
        key = self._private_key(label)
        h = HASHES[hash_name(hash)]()
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if scheme != "ecdsa":
                raise KeyStoreError(f"key {label!r} is EC; scheme {scheme} impossible", code="KEYSTORE_BAD_REQUEST")
            return key.sign(data, ec.ECDSA(h))
        if scheme == "pss":
            return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
        if scheme == "pkcs1v15":
            return key.sign(data, padding.PKCS1v15(), h)
        raise KeyStoreError(f"key {label!r} is RSA; scheme {scheme} impossible", code="KEYSTORE_BAD_REQUEST")

    # -- symmetric secrets -------------------------------------------------------------------------
    def generate_secret(self, label: str) -> None:
        with self._lock:
            if self.has_key(label):
                raise KeyStoreError(f"key {label!r} already exists", code="KEYSTORE_EXISTS")
            secret = os.urandom(16)
            nonce = os.urandom(12)
            sealed = AESGCM(self._seal_key).encrypt(nonce, secret, label.encode())
            _atomic_write(
                self.directory / f"{label}.secret.json",
                json.dumps(
                    {
                        "alg": "AES-128",
                        "nonce": base64.b64encode(nonce).decode(),
                        "sealed": base64.b64encode(sealed).decode(),
                    }
                ).encode(),
            )
            _atomic_write(
                self.directory / f"{label}.meta.json",
                json.dumps({"kind": "secret", "spec": "aes:128"}).encode(),
            )
            self._secrets[label] = secret

    def _secret(self, label: str) -> bytes:
        secret = self._secrets.get(label)
        if secret is not None:
            return secret
        if self._meta(label).get("kind") != "secret":
            raise KeyStoreError(f"{label!r} is not a secret key", code="KEYSTORE_WRONG_KIND")
        try:
            blob = json.loads((self.directory / f"{label}.secret.json").read_text())
            secret = AESGCM(self._seal_key).decrypt(
                base64.b64decode(blob["nonce"]), base64.b64decode(blob["sealed"]), label.encode()
            )
        except (InvalidTag, ValueError, KeyError) as exc:
            raise KeyStoreError(f"cannot unseal secret {label!r}", code="KEYSTORE_DAMAGED") from exc
        self._secrets[label] = secret
        return secret

    def cmac(self, label: str, data: bytes) -> bytes:
        c = cmac.CMAC(algorithms.AES(self._secret(label)))
        c.update(data)
        return c.finalize()

    def derive_key(self, label: str, context: bytes, length: int = 16, purpose: bytes = b"") -> bytes:
        self._secret(label)
        return sp800_108_cmac(lambda block: self.cmac(label, block), context, length, purpose)

    def close(self) -> None:
        self._private.clear()
        self._secrets.clear()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
