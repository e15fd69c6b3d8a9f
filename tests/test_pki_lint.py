"""The 9303-12 linter: nothing we produce has a finding; targeted violations give their codes; hostile
input gives a finding naming the object, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import crl as asn1crl
from asn1crypto import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from pki.algorithms import KeySpec
from pki.keystore import FileKeyStore
from pki.lint import errors, lint_bytes, lint_certificate, lint_crl, lint_file, lint_master_list
from pki.profiles import Signer, build_certificate, build_name, key_identifier
from pki.workspace import PKI, IssuerPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("lint")
    p = PKI(d / "pki", FileKeyStore(d / "keys", "pw"), fsync_audit=False)
    p.init(IssuerPolicy(ds_key="rsa:2048", ds_hash="sha256", rsa_scheme="pss"), now=T0)
    p.rotate_ds(now=T0 + timedelta(days=1))
    p.rollover_csca(now=T0 + timedelta(days=2))
    p.revoke(p.records("ds")[0].serial, "key_compromise", now=T0 + timedelta(days=3))
    files = p.export(d / "out", now=T0 + timedelta(days=4))
    return p, [f for f in files if f.suffix != ".ldif" and "service" not in f.parts]


def test_everything_we_produce_is_clean(exported):
    _, files = exported
    assert len(files) >= 20
    for f in files:
        assert lint_file(f) == [], f.name


def _keystore(tmp_path):
    return FileKeyStore(tmp_path, "pw")


def _make(tmp_path, role="ds", **overrides):
    store = _keystore(tmp_path)
    public = store.generate_key_pair("k", KeySpec("ec", curve="P-256"))
    signer = Signer(store, "k", "sha256", "ecdsa")
    name = build_name("VN", "Org", "Test")
    args = dict(
        role=role,
        signer=signer,
        issuer=name,
        issuer_key_id=key_identifier(public),
        subject=name,
        public_key=public,
        not_before=T0,
        not_after=T0 + timedelta(days=10),
        private_key_usage=(T0, T0 + timedelta(days=5)),
        document_types=["ID"] if role == "ds" else None,
        alt_name_uri="https://x.invalid/",
        crl_uri="https://x.invalid/crl",
    )
    args.update(overrides)
    return build_certificate(**args), signer


def _codes(findings):
    return {f.code for f in findings}


def _resign(cert: x509.Certificate, signer: Signer, tbs: x509.TbsCertificate) -> x509.Certificate:
    out = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": cert["signature_algorithm"],
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return x509.Certificate.load(out.dump())


def _without_extension(cert, signer, oid: str):
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["extensions"] = [e for e in tbs["extensions"] if e["extn_id"].dotted != oid]
    return _resign(cert, signer, tbs)


def test_ds_missing_document_type_list(tmp_path):
    cert, signer = _make(tmp_path)
    bad = _without_extension(cert, signer, "2.23.136.1.1.6.2")
    assert "DOCTYPE_MISSING" in _codes(lint_certificate(bad, role="ds"))


def test_key_usage_not_critical_and_wrong(tmp_path):
    cert, signer = _make(tmp_path)
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    exts = []
    for e in tbs["extensions"]:
        if e["extn_id"].native == "key_usage":
            e = x509.Extension(
                {"extn_id": "key_usage", "critical": False, "extn_value": {"digital_signature", "non_repudiation"}}
            )
        exts.append(e)
    tbs["extensions"] = exts
    codes = _codes(lint_certificate(_resign(cert, signer, tbs), role="ds"))
    assert {"KU_NOT_CRITICAL", "KU_WRONG"} <= codes


def test_csca_basic_constraints_and_eku(tmp_path):
    cert, signer = _make(tmp_path, role="csca")
    assert errors(lint_certificate(cert)) == []
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    exts = []
    for e in tbs["extensions"]:
        if e["extn_id"].native == "basic_constraints":
            e = x509.Extension(
                {
                    "extn_id": "basic_constraints",
                    "critical": False,
                    "extn_value": {"ca": True, "path_len_constraint": 3},
                }
            )
        exts.append(e)
    exts.append(x509.Extension({"extn_id": "extended_key_usage", "critical": False, "extn_value": ["server_auth"]}))
    tbs["extensions"] = exts
    codes = _codes(lint_certificate(_resign(cert, signer, tbs)))
    assert {"BC_NOT_CRITICAL", "BC_PATHLEN", "EKU_PRESENT"} <= codes


def test_country_mismatch_serial_and_version(tmp_path):
    cert, signer = _make(tmp_path)
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["subject"] = build_name("DE", "Org", "Test")
    tbs["serial_number"] = -5
    tbs["version"] = "v1"
    codes = _codes(lint_certificate(_resign(cert, signer, tbs), role="ds"))
    assert {"NAME_COUNTRY_MISMATCH", "CERT_SERIAL_NOT_POSITIVE", "CERT_VERSION"} <= codes
    tbs["serial_number"] = 1 << 170
    assert "CERT_SERIAL_TOO_LONG" in _codes(lint_certificate(_resign(cert, signer, tbs), role="ds"))


def test_mls_needs_eku_and_pkup_and_aki(tmp_path):
    cert, signer = _make(tmp_path, role="mls")
    assert errors(lint_certificate(cert)) == []
    no_eku = _without_extension(cert, signer, "2.5.29.37")
    assert "MLS_EKU_MISSING" in _codes(lint_certificate(no_eku, role="mls"))
    no_aki = _without_extension(cert, signer, "2.5.29.35")
    assert "AKI_MISSING" in _codes(lint_certificate(no_aki, role="mls"))
    cert_ds, signer_ds = _make(tmp_path / "2")
    no_pkup = _without_extension(cert_ds, signer_ds, "2.5.29.16")
    assert "PKUP_MISSING" in _codes(lint_certificate(no_pkup, role="ds"))


def test_validity_encoding_after_2049(tmp_path):
    cert, signer = _make(tmp_path, not_after=datetime(2060, 1, 1, tzinfo=UTC))
    assert errors(lint_certificate(cert)) == []  # we write GeneralizedTime from 2050
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["validity"] = {
        "not_before": x509.Time(name="utc_time", value=T0),
        "not_after": x509.Time(name="general_time", value=datetime(2040, 1, 1, tzinfo=UTC)),
    }
    assert "TIME_ENCODING" in _codes(lint_certificate(_resign(cert, signer, tbs), role="ds"))


def test_crl_findings(exported):
    p, _ = exported
    crl = p.latest_crls()[0]
    assert lint_crl(crl) == []
    tbs = asn1crl.TbsCertList.load(crl["tbs_cert_list"].dump())
    tbs["version"] = "v1"
    tbs["crl_extensions"] = [e for e in tbs["crl_extensions"] if e["extn_id"].native != "crl_number"] + [
        {"extn_id": "delta_crl_indicator", "critical": True, "extn_value": 1}
    ]
    bad = asn1crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": crl["signature_algorithm"], "signature": crl["signature"].native}
    )
    codes = _codes(lint_crl(bad.dump()))
    assert {"CRL_VERSION", "CRL_NUMBER_MISSING", "CRL_DELTA"} <= codes


def test_master_list_findings(exported, tmp_path):
    p, _ = exported
    ml = p.master_list(now=T0 + timedelta(days=5))
    assert lint_master_list(ml) == []
    tampered = bytearray(ml)
    tampered[-10] ^= 0x55
    codes = _codes(lint_master_list(bytes(tampered), "ml.der"))
    assert codes & {"ML_SIGNATURE_INVALID", "ML_PARSE", "ML_CMS"}


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_hostile_bytes_give_a_named_finding(blob):
    findings = lint_bytes(blob, "hostile.bin")
    assert findings and all(f.object.startswith("hostile.bin") for f in findings)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=255))
def test_mutated_certificate_never_crashes(pos, value):
    der = bytearray(_GOOD_CERT)
    der[pos % len(der)] = value
    for f in lint_bytes(bytes(der), "mutated.der"):
        assert f.code and f.severity in ("error", "warning", "info")


def _good_cert() -> bytes:
    import tempfile
    from pathlib import Path

    cert, _ = _make(Path(tempfile.mkdtemp()))
    return cert.dump()


_GOOD_CERT = _good_cert()


def test_cli_lint_exit_codes(exported, tmp_path, capsys):
    from cancuoc.cli import main

    _, files = exported
    assert main(["pki", "lint", *map(str, files[:3])]) == 0
    bad = tmp_path / "bad.der"
    bad.write_bytes(b"\x30\x03\x02\x01\x01")
    assert main(["pki", "lint", "--json", str(bad)]) == 1
    assert "UNKNOWN_OBJECT" in capsys.readouterr().out


_CRL: list[bytes] = []


def _good_crl() -> bytes:
    if not _CRL:
        import tempfile
        from pathlib import Path

        d = Path(tempfile.mkdtemp())
        p = PKI(d / "pki", FileKeyStore(d / "keys", "pw"), fsync_audit=False)
        p.init(now=T0)
        p.revoke(p.records("ds")[0].serial, "superseded", now=T0 + timedelta(days=1))
        _CRL.extend([p.latest_crls()[0].dump(), p.certificates("csca")[0].dump()])
    return _CRL[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=255))
def test_mutated_crl_is_a_finding_or_refused(pos, value):
    from pki.errors import TrustStoreError
    from pki.truststore import TrustStore

    good = _good_crl()
    der = bytearray(good)
    der[pos % len(der)] = value
    for f in lint_bytes(bytes(der), "mutated.crl"):
        assert f.object == "mutated.crl"
    store = TrustStore()
    store.add_csca(_CRL[1])
    try:
        store.add_crl(bytes(der))
    except TrustStoreError as exc:
        assert exc.code in ("CRL_MALFORMED", "ISSUER_UNTRUSTED")
        assert store.crls() == []
    else:
        assert bytes(der) == good  # only an unchanged CRL can verify
