"""Key stores: FileKeyStore and PKCS11KeyStore (real SoftHSM2) — every algorithm, secrets, bad input."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

from pki.algorithms import KeySpec, verify_signature
from pki.errors import KeyStoreError, PKIError
from pki.keystore import FileKeyStore, KeyStore

EC_CURVES = ["P-256", "P-384", "P-521", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1"]
SCHEMES = [("pss", "sha256"), ("pkcs1v15", "sha384"), ("pss", "sha512")]


def _label(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _exercise(store: KeyStore, spec: KeySpec, schemes) -> None:
    label = _label("k")
    public = store.generate_key_pair(label, spec)
    assert store.has_key(label)
    assert store.key_spec(label) == spec
    assert store.public_key(label).public_numbers() == public.public_numbers()
    for scheme, h in schemes:
        sig = store.sign(label, b"tbs bytes", h, scheme)
        verify_signature(public, scheme, h, b"tbs bytes", sig)
        with pytest.raises(PKIError) as info:
            verify_signature(public, scheme, h, b"other bytes", sig)
        assert info.value.code == "SIGNATURE_INVALID"


@pytest.mark.parametrize("curve", EC_CURVES)
def test_file_store_ec(tmp_path, curve):
    store = FileKeyStore(tmp_path, "correct horse")
    _exercise(store, KeySpec("ec", curve=curve), [("ecdsa", "sha256"), ("ecdsa", "sha512")])


@pytest.mark.parametrize("bits", [2048, 3072])
def test_file_store_rsa(tmp_path, bits):
    store = FileKeyStore(tmp_path, "correct horse")
    _exercise(store, KeySpec("rsa", bits=bits), SCHEMES)


def test_file_store_keys_are_encrypted_pkcs8_and_reload(tmp_path):
    store = FileKeyStore(tmp_path, "correct horse")
    public = store.generate_key_pair("ds-1", KeySpec("ec", curve="P-256"))
    pem = (tmp_path / "ds-1.key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    again = FileKeyStore(tmp_path, "correct horse")
    sig = again.sign("ds-1", b"x", "sha256", "ecdsa")
    verify_signature(public, "ecdsa", "sha256", b"x", sig)
    assert again.labels() == ["ds-1"]


def test_file_store_wrong_passphrase_says_so(tmp_path):
    FileKeyStore(tmp_path, "right").generate_key_pair("a", KeySpec("ec", curve="P-256"))
    with pytest.raises(KeyStoreError) as info:
        FileKeyStore(tmp_path, "wrong")
    assert info.value.code == "KEYSTORE_WRONG_PASSPHRASE"
    assert "wrong passphrase" in str(info.value)
    assert "right" not in str(info.value) and "wrong" not in repr(info.value.details)


def test_file_store_bad_requests(tmp_path):
    store = FileKeyStore(tmp_path, "pw")
    store.generate_key_pair("ec", KeySpec("ec", curve="P-256"))
    with pytest.raises(KeyStoreError) as info:
        store.sign("ec", b"x", "sha256", "pss")
    assert info.value.code == "KEYSTORE_BAD_REQUEST"
    with pytest.raises(KeyStoreError) as info:
        store.sign("nope", b"x", "sha256", "ecdsa")
    assert info.value.code == "KEYSTORE_NO_KEY"
    with pytest.raises(KeyStoreError):
        store.generate_key_pair("ec", KeySpec("ec", curve="P-256"))
    with pytest.raises(KeyStoreError):
        store.generate_key_pair("../escape", KeySpec("ec", curve="P-256"))
    with pytest.raises(PKIError):
        KeySpec("rsa", bits=1024)
    with pytest.raises(PKIError):
        KeySpec("ec", curve="secp256k1")


def test_keyspec_parse():
    assert KeySpec.parse("rsa:3072") == KeySpec("rsa", bits=3072)
    assert KeySpec.parse("ec:brainpoolP256r1") == KeySpec("ec", curve="brainpoolP256r1")
    assert KeySpec.parse("secp384r1") == KeySpec("ec", curve="P-384")
    assert str(KeySpec("rsa", bits=4096)) == "rsa:4096"


def test_file_store_secret_cmac_and_derive_match_cryptography(tmp_path):
    store = FileKeyStore(tmp_path, "pw")
    store.generate_secret("batch-master")
    raw = FileKeyStore(tmp_path, "pw")._secret("batch-master")  # test-only peek to check the math
    mac = crypto_cmac.CMAC(algorithms.AES(raw))
    mac.update(b"card 0001")
    assert store.cmac("batch-master", b"card 0001") == mac.finalize()
    kdf = KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=32,
        rlen=1,
        llen=2,
        location=CounterLocation.BeforeFixed,
        label=b"transport",
        context=b"SERIAL-42",
        fixed=None,
    )
    assert store.derive_key("batch-master", b"SERIAL-42", 32, b"transport") == kdf.derive(raw)
    assert store.derive_key("batch-master", b"SERIAL-43", 16) != store.derive_key("batch-master", b"SERIAL-42", 16)
    with pytest.raises(KeyStoreError) as info:
        store.sign("batch-master", b"x", "sha256", "ecdsa")
    assert info.value.code == "KEYSTORE_WRONG_KIND"


# ---- PKCS#11 against a real SoftHSM2 token ---------------------------------------------------------


@pytest.mark.softhsm
@pytest.mark.parametrize("curve", EC_CURVES)
def test_pkcs11_ec(softhsm_keystore, curve):
    _exercise(softhsm_keystore, KeySpec("ec", curve=curve), [("ecdsa", "sha256"), ("ecdsa", "sha384")])


@pytest.mark.softhsm
def test_pkcs11_rsa_2048_all_schemes(softhsm_keystore):
    _exercise(softhsm_keystore, KeySpec("rsa", bits=2048), SCHEMES)


@pytest.mark.softhsm
@pytest.mark.slow
def test_pkcs11_rsa_4096_once(softhsm_keystore):
    _exercise(softhsm_keystore, KeySpec("rsa", bits=4096), [("pss", "sha512")])


@pytest.mark.softhsm
def test_pkcs11_private_keys_sensitive_and_not_extractable(softhsm_keystore):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    label = _label("ne")
    softhsm_keystore.generate_key_pair(label, KeySpec("ec", curve="P-256"))
    secret_label = _label("sec")
    softhsm_keystore.generate_secret(secret_label)
    priv = softhsm_keystore._find(label, ObjectClass.PRIVATE_KEY)
    assert priv[Attribute.SENSITIVE] is True
    assert priv[Attribute.EXTRACTABLE] is False
    assert priv[Attribute.TOKEN] is True
    with pytest.raises(pkcs11.exceptions.PKCS11Error):
        priv[Attribute.VALUE]
    sec = softhsm_keystore._find(secret_label, ObjectClass.SECRET_KEY)
    assert sec[Attribute.EXTRACTABLE] is False
    with pytest.raises(pkcs11.exceptions.PKCS11Error):
        sec[Attribute.VALUE]


@pytest.mark.softhsm
def test_pkcs11_secret_cmac_derive(softhsm_keystore):
    label = _label("batch")
    softhsm_keystore.generate_secret(label)
    a = softhsm_keystore.cmac(label, b"card")
    assert len(a) == 16 and a == softhsm_keystore.cmac(label, b"card")
    k1 = softhsm_keystore.derive_key(label, b"SERIAL-1", 16, b"transport")
    assert len(k1) == 16 and k1 != softhsm_keystore.derive_key(label, b"SERIAL-2", 16, b"transport")


@pytest.mark.softhsm
def test_pkcs11_missing_token_and_wrong_pin_say_so(softhsm):
    from pki.pkcs11store import PKCS11KeyStore

    with pytest.raises(KeyStoreError) as info:
        PKCS11KeyStore(softhsm.module, "no-such-token", softhsm.pin)
    assert info.value.code == "KEYSTORE_NO_TOKEN" and "no-such-token" in str(info.value)
    with pytest.raises(KeyStoreError) as info:
        PKCS11KeyStore(softhsm.module, softhsm.token_label, "000000")
    assert info.value.code == "KEYSTORE_WRONG_PIN"
    assert "000000" not in str(info.value)
    with pytest.raises(KeyStoreError) as info:
        PKCS11KeyStore("/nonexistent/libpkcs11.so", softhsm.token_label, softhsm.pin)
    assert info.value.code == "KEYSTORE_NO_MODULE"
