"""CMS SignedData build/verify: every signature algorithm, algorithm taken from SignerInfo, verification
over the bytes as parsed (non-DER signed attribute order), and each failure's stable code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos, cms, core
from hypothesis import given, settings
from hypothesis import strategies as st

from pki.algorithms import KeySpec, digest, digest_algorithm
from pki.asn1 import ID_ICAO_CSCA_MASTER_LIST, ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT
from pki.cms import build_signed_data, parse_content_info, verify_signed_data
from pki.errors import CMSError
from pki.keystore import FileKeyStore
from pki.profiles import Signer, build_certificate, build_name, key_identifier

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CASES = [
    ("ec:P-256", "ecdsa", "sha224"),
    ("ec:P-256", "ecdsa", "sha256"),
    ("ec:P-384", "ecdsa", "sha384"),
    ("ec:P-521", "ecdsa", "sha512"),
    ("ec:brainpoolP256r1", "ecdsa", "sha256"),
    ("ec:brainpoolP512r1", "ecdsa", "sha512"),
    ("rsa:2048", "pss", "sha256"),
    ("rsa:2048", "pss", "sha512"),
    ("rsa:2048", "pkcs1v15", "sha256"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return FileKeyStore(tmp_path_factory.mktemp("cmskeys"), "pw")


def _signer(store, spec: str, scheme: str, hash_alg: str):
    label = f"{spec.replace(':', '-')}-{scheme}-{hash_alg}"
    public = store.public_key(label) if store.has_key(label) else store.generate_key_pair(label, KeySpec.parse(spec))
    signer = Signer(store, label, hash_alg, scheme)
    name = build_name("VN", "Test", f"Signer {label}")
    cert = build_certificate(
        role="ds",
        signer=signer,
        issuer=name,
        issuer_key_id=key_identifier(public),
        subject=name,
        public_key=public,
        not_before=T0,
        not_after=T0 + timedelta(days=30),
        private_key_usage=(T0, T0 + timedelta(days=10)),
        document_types=["ID"],
    )
    return signer, cert


@pytest.mark.parametrize(("spec", "scheme", "hash_alg"), CASES)
def test_every_algorithm_round_trips(store, spec, scheme, hash_alg):
    from icao9303.lds.sod import build_lds_security_object

    signer, cert = _signer(store, spec, scheme, hash_alg)
    lso = build_lds_security_object(hash_alg, {1: b"\x01" * 32, 2: b"\x02" * 32}).dump()
    ci = build_signed_data(ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT, lso, signer, cert, signing_time=T0)
    result = verify_signed_data(ci.dump(), expected_content_type=ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT)
    assert (result.signature_scheme, result.hash_algorithm) == (scheme, hash_alg)
    assert result.econtent == lso
    assert result.signing_time == T0
    assert ci["content"]["version"].native == "v3"
    assert ci["content"]["signer_infos"][0]["version"].native == "v1"


def _reload(ci: cms.ContentInfo) -> cms.ContentInfo:
    return cms.ContentInfo.load(ci.dump(force=False))


@pytest.mark.parametrize(
    ("spec", "scheme", "generic"), [("rsa:2048", "pkcs1v15", "rsassa_pkcs1v15"), ("ec:P-256", "ecdsa", "ecdsa")]
)
def test_generic_signature_oid_takes_hash_from_digest_algorithm(store, spec, scheme, generic):
    """Some SODs name rsaEncryption / id-ecdsa in SignerInfo: the hash comes from digestAlgorithm."""
    signer, cert = _signer(store, spec, scheme, "sha384")
    ci = build_signed_data(ID_ICAO_CSCA_MASTER_LIST, b"data", signer, cert)
    si = ci["content"]["signer_infos"][0]
    si["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": generic})
    result = verify_signed_data(_reload(ci))
    assert (result.signature_scheme, result.hash_algorithm) == (scheme, "sha384")


def test_verification_uses_signed_attributes_as_encoded(store):
    """Signed attributes deliberately NOT in DER SET OF order: a re-encoding verifier would fail."""
    signer, cert = _signer(store, "ec:P-256", "ecdsa", "sha256")
    econtent = b"LDS security object bytes"
    md = cms.CMSAttribute({"type": "message_digest", "values": [digest("sha256", econtent)]}).dump()
    ct = cms.CMSAttribute({"type": "content_type", "values": [ID_ICAO_CSCA_MASTER_LIST]}).dump()
    assert ct < md  # DER (X.690 §11.6) puts content_type first; we encode message_digest first
    body = md + ct
    as_encoded = b"\x31" + bytes([len(body)]) + body
    der_order = b"\x31" + bytes([len(body)]) + ct + md
    attrs = cms.CMSAttributes.load(as_encoded)
    signature = signer.sign(as_encoded)
    sd = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [digest_algorithm("sha256")],
            "encap_content_info": {
                "content_type": ID_ICAO_CSCA_MASTER_LIST,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [cert],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        name="issuer_and_serial_number",
                        value={"issuer": cert.issuer, "serial_number": cert.serial_number},
                    ),
                    "digest_algorithm": digest_algorithm("sha256"),
                    "signed_attrs": attrs,
                    "signature_algorithm": signer.algorithm,
                    "signature": signature,
                }
            ],
        }
    )
    der = cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()
    result = verify_signed_data(der)
    assert result.econtent == econtent
    # a verifier that re-encoded the attributes in DER order would hash different bytes
    from pki.algorithms import verify_signature
    from pki.errors import PKIError

    with pytest.raises(PKIError):
        verify_signature(store.public_key(signer.label), "ecdsa", "sha256", b"\x31" + der_order[1:], signature)


def test_failure_codes(store):
    signer, cert = _signer(store, "ec:P-256", "ecdsa", "sha256")
    good = build_signed_data(ID_ICAO_CSCA_MASTER_LIST, b"payload", signer, cert)

    with pytest.raises(CMSError) as info:
        verify_signed_data(good, expected_content_type=ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT)
    assert info.value.code == "CMS_CONTENT_TYPE"

    bad = _reload(good)
    bad["content"]["encap_content_info"]["content"] = core.ParsableOctetString(b"payloaX")
    with pytest.raises(CMSError) as info:
        verify_signed_data(_reload(bad))
    assert info.value.code == "CMS_DIGEST_MISMATCH"

    bad = _reload(good)
    sig = bytearray(bad["content"]["signer_infos"][0]["signature"].native)
    sig[-1] ^= 1
    bad["content"]["signer_infos"][0]["signature"] = bytes(sig)
    with pytest.raises(CMSError) as info:
        verify_signed_data(_reload(bad))
    assert info.value.code == "CMS_SIGNATURE_INVALID"

    bad = _reload(good)
    bad["content"]["certificates"] = []
    with pytest.raises(CMSError) as info:
        verify_signed_data(_reload(bad))
    assert info.value.code == "CMS_SIGNER_UNKNOWN"
    assert verify_signed_data(_reload(bad), signer_certificate=cert).signer_certificate.dump() == cert.dump()

    bad = _reload(good)
    si = bad["content"]["signer_infos"][0]
    bad["content"]["signer_infos"] = [si, si]
    with pytest.raises(CMSError) as info:
        verify_signed_data(_reload(bad))
    assert info.value.code == "CMS_SIGNER_COUNT"

    bad = _reload(good)
    si = bad["content"]["signer_infos"][0]
    bad["content"]["signer_infos"] = [
        cms.SignerInfo(
            {
                "version": "v1",
                "sid": si["sid"],
                "digest_algorithm": si["digest_algorithm"],
                "signature_algorithm": si["signature_algorithm"],
                "signature": si["signature"],
            }
        )
    ]
    with pytest.raises(CMSError) as info:
        verify_signed_data(_reload(bad))
    assert info.value.code == "CMS_NO_SIGNED_ATTRS"

    _, other_cert = _signer(store, "ec:P-384", "ecdsa", "sha384")
    with pytest.raises(CMSError) as info:
        verify_signed_data(good, signer_certificate=other_cert)
    assert info.value.code == "CMS_SIGNER_UNKNOWN"


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=600))
def test_hostile_bytes_are_cms_errors(blob):
    with pytest.raises(CMSError) as info:
        verify_signed_data(blob, what="EF.SOD")
    assert "EF.SOD" in info.value.message


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_mutated_signed_data_never_crashes(pos, value):
    import functools

    der = _good_der()
    mutated = bytearray(der)
    mutated[pos % len(der)] = value
    try:
        verify_signed_data(bytes(mutated))
    except CMSError:
        pass
    else:
        assert bytes(mutated) == der or parse_content_info(bytes(mutated))
    assert functools  # keep import local to the example


_GOOD: list[bytes] = []


def _good_der() -> bytes:
    if not _GOOD:
        import tempfile

        store = FileKeyStore(tempfile.mkdtemp(), "pw")
        signer, cert = _signer(store, "ec:P-256", "ecdsa", "sha256")
        _GOOD.append(build_signed_data(ID_ICAO_CSCA_MASTER_LIST, b"payload", signer, cert).dump())
    return _GOOD[0]
