"""EF.SOD (ICAO 9303-10 §4.6.2): LDSSecurityObject v0/v1 in CMS SignedData, original bytes, hash checks."""
import dataclasses
import datetime as dt
import hashlib

import pytest
from asn1crypto import cms
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from icao9303.errors import ICAOError, LDSError
from icao9303.lds import oids
from icao9303.lds.sod import SOD, LDSSecurityObject, build_lds_security_object, hash_data_groups
from icao9303.tlv import encode_tlv
from tests.test_icao_hypothesis_settings import FUZZ

DGS = {1: b"\x61\x03\x5f\x1f\x00", 2: b"\x75\x00", 14: b"\x6e\x02\x31\x00", 15: b"\x6f\x00"}


def make_signer(curve=ec.SECP256R1()):
    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Test DS")])
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1234).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return key, a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def make_sod(dgs=DGS, hash_alg="sha256", v1=False, signer=None, extra_attr=False) -> bytes:
    """A throwaway-key EF.SOD built with asn1crypto + cryptography (not pki/), for tests only."""
    key, cert = signer or make_signer()
    lso = build_lds_security_object(
        hash_alg, hash_data_groups(hash_alg, dgs),
        lds_version="0108" if v1 else None, unicode_version="040000" if v1 else None,
    )
    econtent = lso.dump()
    attrs = [
        {"type": "content_type", "values": ["lds_security_object"]},
        {"type": "message_digest", "values": [hashlib.new(hash_alg, econtent).digest()]},
    ]
    if extra_attr:
        when = cms.Time(name="utc_time", value=dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
        attrs.append({"type": "signing_time", "values": [when]})
    signed_attrs = cms.CMSAttributes(attrs)
    signature = key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    sd = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": hash_alg}],
        "encap_content_info": {"content_type": "lds_security_object", "content": lso},
        "certificates": [cert],
        "signer_infos": [{
            "version": "v1",
            "sid": {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}},
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }],
    })
    ci = cms.ContentInfo({"content_type": "signed_data", "content": sd})
    return SOD.from_content_info(ci).to_bytes()


@pytest.fixture(scope="module")
def signer():
    return make_signer()


@pytest.mark.parametrize(
    ("v1", "alg"), [(False, "sha256"), (True, "sha256"), (False, "sha1"), (True, "sha512")]
)
def test_parse_and_round_trip(signer, v1, alg):
    raw = make_sod(hash_alg=alg, v1=v1, signer=signer)
    assert raw[0] == 0x77
    sod = SOD.from_bytes(raw)
    assert sod.to_bytes() == raw
    assert dataclasses.replace(sod, raw=None).to_bytes() == raw  # re-encoding of a DER SOD is identical
    assert sod.version == (1 if v1 else 0)
    assert sod.hash_algorithm == alg
    assert sod.lds_version == ("0108" if v1 else None)
    assert sod.unicode_version == ("040000" if v1 else None)
    assert sod.dg_hashes == {n: hashlib.new(alg, v).digest() for n, v in DGS.items()}
    for n, v in DGS.items():
        sod.verify_data_group(n, v)
    assert sod.signed_data["encap_content_info"]["content_type"].dotted == \
        oids.ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT
    assert sod.signed_data["encap_content_info"]["content"].parsed.__class__ is LDSSecurityObject
    assert sod.describe()["dg_hashes"]["1"] == hashlib.new(alg, DGS[1]).digest().hex()


def test_original_bytes_verify_signature(signer):
    key, cert = signer
    sod = SOD.from_bytes(make_sod(signer=signer, extra_attr=True))
    assert sod.message_digest() == hashlib.sha256(sod.econtent_bytes).digest()
    signed = sod.signed_attrs_bytes()
    assert signed[0] == 0x31
    key.public_key().verify(sod.signature(), signed, ec.ECDSA(hashes.SHA256()))
    assert sod.signer_certificate().dump() == cert.dump()
    assert [c.dump() for c in sod.certificates] == [cert.dump()]
    assert sod.signature_algorithm()["algorithm"].native == "sha256_ecdsa"
    assert sod.digest_algorithm() == "sha256"
    assert sod.signed_attribute("signing_time") is not None


def test_hash_mismatch_and_missing(signer):
    sod = SOD.from_bytes(make_sod(signer=signer))
    with pytest.raises(LDSError) as info:
        sod.verify_data_group(1, DGS[1] + b"\x00")
    assert info.value.reason == "lds.dg_hash_mismatch"
    with pytest.raises(LDSError) as info:
        sod.verify_data_group(3, b"")
    assert info.value.reason == "lds.dg_hash_missing"


def test_non_der_econtent_is_kept_as_read(signer):
    """Verification must hash eContent as read: a re-encoding would differ (LESSONS, PA)."""
    raw = make_sod(signer=signer)
    sod = SOD.from_bytes(raw)
    assert sod.econtent_bytes == sod.lds_security_object.dump()
    assert sod.econtent_bytes in raw


def test_build_rejects():
    with pytest.raises(LDSError):
        build_lds_security_object("md5", {1: b"", 2: b""})
    with pytest.raises(LDSError):
        build_lds_security_object("sha256", {1: b""})
    with pytest.raises(LDSError):
        build_lds_security_object("sha256", {1: b"", 2: b""}, lds_version="0108")


@pytest.mark.parametrize("data", [b"", b"\x77", b"\x77\x00", b"\x60\x00", b"\x77\x03\x30\x01\x00",
                                  b"\x77\x02\x30\x00"])
def test_malformed(data):
    with pytest.raises(LDSError):
        SOD.from_bytes(data)


def test_wrong_content_type(signer):
    ci = cms.ContentInfo({"content_type": "data", "content": b"x"})
    with pytest.raises(LDSError):
        SOD.from_content_info(ci.dump())


@settings(FUZZ, max_examples=300)
@given(st.data())
def test_mutated_sod_gives_lds_error_only(data):
    raw = bytearray(_SOD_SAMPLE)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        sod = SOD.from_bytes(bytes(raw))
        # every accessor a verifier uses must also fail only with LDSError
        sod.certificates, sod.signer_certificate(), sod.signed_attrs_bytes(), sod.message_digest()
        sod.describe(), sod.signature(), sod.digest_algorithm(), sod.econtent_bytes
    except ICAOError as exc:
        assert isinstance(exc, LDSError)


_SOD_SAMPLE = make_sod(v1=True)


def test_content_type_registration_is_import_order_safe():
    """Importing the LDS after asn1crypto built ContentType's name map must not break CMS by name
    (the registration used to reset the map to None, which asn1crypto never rebuilds)."""
    import pathlib
    import subprocess
    import sys

    code = (
        "from asn1crypto import cms; cms.ContentType('signed_data');"
        "import icao9303.lds;"
        "print(cms.ContentType('signed_data').dotted, cms.ContentType('lds_security_object').dotted,"
        " cms.ContentType('security_object').dotted)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).parent.parent, timeout=60)
    assert out.stdout.split() == ["1.2.840.113549.1.7.2", oids.ID_ICAO_MRTD_SECURITY_LDS_SECURITY_OBJECT,
                                  oids.ID_SECURITY_OBJECT]


@pytest.mark.parametrize("field", ["version", "data_group_number"])
def test_huge_integers_are_lds_errors(field):
    """INTEGERs beyond Python's int->str limit must give LDSError, not a ValueError from a message."""
    from asn1crypto import core

    lso = build_lds_security_object("sha256", hash_data_groups("sha256", DGS))
    if field == "version":
        lso["version"] = core.Integer(1 << 16000)
    else:
        lso["data_group_hash_values"][0]["data_group_number"] = core.Integer(1 << 16000)
    sd = cms.SignedData({
        "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "lds_security_object", "content": lso},
        "signer_infos": [],
    })
    raw = cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()
    with pytest.raises(LDSError):
        SOD.from_bytes(encode_tlv(0x77, raw))


def test_describe_shows_signer_and_certificate():
    described = SOD.from_bytes(make_sod(extra_attr=True)).describe()
    (signer,) = described["signers"]
    assert signer["signing_time"].startswith("2025-02-01") and signer["signature_algorithm"] == "sha256_ecdsa"
    (cert,) = described["certificates"]
    assert cert["serial_number"] == format(1234, "x") and cert["not_after"].startswith("2026-01-01")
    assert "Test DS" in cert["subject"]
