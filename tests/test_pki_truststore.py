"""Trust store imports: master lists (verified, all-or-nothing), ICAO PKD LDIF under both master-list
attribute names, delta deletes, skip mode, persistence, and hostile LDIF / DER (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki.errors import LDIFError, TrustStoreError
from pki.keystore import FileKeyStore
from pki.ldif import PKD_SUFFIX, LDIFEntry, parse_ldif, pkd_entries_for, write_ldif
from pki.truststore import TrustStore
from pki.workspace import PKI

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    d = tmp_path_factory.mktemp("pkits")
    p = PKI(d / "pki", FileKeyStore(d / "keys", "pw"), fsync_audit=False)
    p.init(now=T0)
    p.rollover_csca(now=T0 + timedelta(days=30))
    p.revoke(p.records("ds")[0].serial, "superseded", now=T0 + timedelta(days=31))
    return p


def _tamper_signature(der: bytes) -> bytes:
    ci = cms.ContentInfo.load(der)
    si = ci["content"]["signer_infos"][0]
    sig = bytearray(si["signature"].native)
    sig[-2] ^= 0xFF
    si["signature"] = bytes(sig)
    return ci.dump(force=False)


def _manifest(tmp_path):
    path = tmp_path / "manifest.json"
    return path.read_bytes() if path.exists() else None


def test_master_list_import_trusts_listed_cscas(issuer, tmp_path):
    ml = issuer.master_list(now=T0 + timedelta(days=32))
    store = TrustStore(tmp_path)
    store.add_csca(issuer.certificates("csca")[0])
    report = store.import_master_list(ml)
    kinds = sorted(a["kind"] for a in report.added)
    assert kinds == ["csca", "csca", "link", "link", "ml"]
    reloaded = TrustStore(tmp_path)
    assert len(reloaded.anchors()) == 2 and len(reloaded.links()) == 2
    assert len(reloaded.objects("ml")) == 1


def test_master_list_with_bad_signature_rejected_nothing_imported(issuer, tmp_path):
    ml = _tamper_signature(issuer.master_list(now=T0 + timedelta(days=32)))
    store = TrustStore(tmp_path)
    store.add_csca(issuer.certificates("csca")[0])
    before = _manifest(tmp_path)
    with pytest.raises(TrustStoreError) as info:
        store.import_master_list(ml)
    assert info.value.code == "ML_SIGNATURE_INVALID"
    assert "master list" in str(info.value)
    assert _manifest(tmp_path) == before
    assert len(TrustStore(tmp_path).anchors()) == 1 and len(store.anchors()) == 1


def test_master_list_from_untrusted_signer_rejected(issuer):
    ml = issuer.master_list(now=T0 + timedelta(days=32))
    with pytest.raises(TrustStoreError) as info:
        TrustStore().import_master_list(ml)
    assert info.value.code == "ML_SIGNER_UNTRUSTED"
    # bootstrapping with an explicit anchor works
    store = TrustStore()
    store.import_master_list(ml, anchor=issuer.certificates("csca")[1])
    assert len(store.anchors()) == 2


def test_master_list_tampered_content_is_a_digest_mismatch(issuer):
    ci = cms.ContentInfo.load(issuer.master_list(now=T0 + timedelta(days=32)))
    eci = ci["content"]["encap_content_info"]
    raw = bytearray(bytes(eci["content"]))
    raw[-5] ^= 0x01
    from asn1crypto.core import ParsableOctetString

    eci["content"] = ParsableOctetString(bytes(raw))
    store = TrustStore()
    store.add_csca(issuer.certificates("csca")[0])
    with pytest.raises(TrustStoreError) as info:
        store.import_master_list(ci.dump(force=False))
    assert info.value.code == "ML_SIGNATURE_INVALID"
    assert len(store.anchors()) == 1


def _ldif_for(issuer, attribute: str) -> str:
    ml = issuer.master_list(now=T0 + timedelta(days=32))
    entries = pkd_entries_for(ds_certs=issuer.certificates("ds"), crls=issuer.latest_crls(), master_lists=[ml])
    for e in entries:
        if "pkdMasterListContent" in e.attributes:
            e.attributes = {attribute if k == "pkdMasterListContent" else k: v for k, v in e.attributes.items()}
    return write_ldif(entries)


@pytest.mark.parametrize("attribute", ["pkdMasterListContent", "CscaMasterListData"])
def test_ldif_import_under_both_master_list_attribute_names(issuer, tmp_path, attribute):
    text = _ldif_for(issuer, attribute)
    assert f"{attribute}::" in text
    store = TrustStore(tmp_path)
    store.add_csca(issuer.certificates("csca")[0])
    report = store.import_ldif(text)
    kinds = sorted(a["kind"] for a in report.added)
    assert kinds.count("ds") == 2 and kinds.count("crl") == 2 and kinds.count("ml") == 1
    assert len(TrustStore(tmp_path).ds_certificates()) == 2


def test_ldif_delta_delete_removes_entry(issuer, tmp_path):
    store = TrustStore(tmp_path)
    store.add_csca(issuer.certificates("csca")[0])
    store.import_ldif(_ldif_for(issuer, "pkdMasterListContent"))
    ds_dn = next(o.dn for o in store.objects("ds"))
    delta = f"version: 1\n\ndn: {ds_dn}\nchangetype: delete\n"
    report = store.import_ldif(delta)
    assert report.removed and report.removed[0]["dn"] == ds_dn
    assert len(TrustStore(tmp_path).ds_certificates()) == 1


def test_ldif_unverifiable_entry_rejects_file_or_is_skipped(issuer, tmp_path):
    other = PKI(tmp_path / "other", FileKeyStore(tmp_path / "k", "pw"), fsync_audit=False)
    other.init(now=T0)
    entries = pkd_entries_for(ds_certs=issuer.certificates("ds")[:1] + other.certificates("ds"))
    text = write_ldif(entries)
    store = TrustStore(tmp_path / "ts")
    store.add_csca(issuer.certificates("csca")[0])
    before = _manifest(tmp_path / "ts")
    with pytest.raises(TrustStoreError) as info:
        store.import_ldif(text)
    assert "line" in str(info.value) and "o=dsc" in str(info.value)
    assert _manifest(tmp_path / "ts") == before and store.ds_certificates() == []
    report = store.import_ldif(text, skip_unverifiable=True)
    assert len(report.added) == 1 and len(report.skipped) == 1
    assert report.skipped[0]["code"] in ("DS_NOT_SIGNED_BY_CSCA", "CSCA_UNKNOWN")


def test_csca_file_needs_explicit_trust(issuer, tmp_path):
    path = tmp_path / "csca.der"
    path.write_bytes(issuer.certificates("csca")[0].dump())
    store = TrustStore()
    with pytest.raises(TrustStoreError) as info:
        store.import_file(path)
    assert info.value.code == "CSCA_NOT_TRUSTED"
    store.import_file(path, anchor_ok=True)
    assert len(store.anchors()) == 1
    with pytest.raises(TrustStoreError) as info:
        store.add_csca(issuer.certificates("ds")[0])
    assert info.value.code == "NOT_A_CSCA"


def test_trust_store_detects_altered_object(issuer, tmp_path):
    store = TrustStore(tmp_path)
    store.add_csca(issuer.certificates("csca")[0])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    fp = manifest["objects"][0]["fingerprint"]
    obj = tmp_path / "objects" / f"{fp}.der"
    data = bytearray(obj.read_bytes())
    data[-1] ^= 1
    obj.write_bytes(bytes(data))
    with pytest.raises(TrustStoreError) as info:
        TrustStore(tmp_path)
    assert info.value.code == "TRUSTSTORE_DAMAGED"


def test_ldif_parser_folding_comments_and_errors():
    der = bytes(range(200))
    b64 = base64.b64encode(der).decode()
    folded = "\n ".join(b64[i : i + 60] for i in range(0, len(b64), 60))
    text = f"version: 1\n# comment\ndn: cn=a,o=crl,c=VN,{PKD_SUFFIX}\ncertificateRevocationList;binary:: {folded}\n"
    entries = parse_ldif(text)
    assert entries[0].branch == "crl" and entries[0].objects() == [("crl", der)]
    for bad, line in (
        ("dn: x\nno colon here\n", 2),
        ("cn: before dn\n", 1),
        ("dn: x\nuserCertificate:: !!!\n", 2),
        ("dn: x\nchangetype: explode\n", 2),
    ):
        with pytest.raises(LDIFError) as info:
            parse_ldif(bad)
        assert info.value.details["line"] == line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_hostile_ldif_values_give_clear_errors(blob):
    text = write_ldif(
        [
            LDIFEntry(dn=f"cn=x,o=dsc,c=VN,{PKD_SUFFIX}", line=0, attributes={"userCertificate;binary": [blob]}),
            LDIFEntry(dn=f"cn=y,o=ml,c=VN,{PKD_SUFFIX}", line=0, attributes={"CscaMasterListData": [blob[::-1]]}),
        ]
    )
    store = TrustStore()
    try:
        store.import_ldif(text)
    except TrustStoreError as exc:
        assert "LDIF entry cn=" in exc.message
    assert store.ds_certificates() == [] and store.anchors() == []


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_hostile_ldif_text_never_crashes(text):
    try:
        parse_ldif(text)
    except LDIFError as exc:
        assert exc.code == "LDIF_MALFORMED" and "line" in exc.details


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_hostile_master_list_bytes(blob):
    store = TrustStore()
    with pytest.raises(TrustStoreError):
        store.import_master_list(blob)
    assert store.anchors() == []


def test_import_file_autodetects(issuer, tmp_path):
    (tmp_path / "ml.der").write_bytes(issuer.master_list(now=T0 + timedelta(days=32)))
    crl = issuer.latest_crls()[0]
    (tmp_path / "x.crl").write_bytes(crl.dump())
    (tmp_path / "pkd.ldif").write_text(_ldif_for(issuer, "pkdMasterListContent"))
    store = TrustStore()
    store.add_csca(issuer.certificates("csca")[0])
    assert store.import_file(tmp_path / "ml.der").added[-1]["kind"] == "ml"
    assert store.import_file(tmp_path / "x.crl").added[0]["kind"] == "crl"
    assert any(a["kind"] == "ds" for a in store.import_file(tmp_path / "pkd.ldif").added)
    assert hashlib.sha256(crl.dump()).hexdigest() in {o.fingerprint for o in store.objects("crl")}


def test_deviation_list_verified_and_stored(issuer):
    from pki.algorithms import KeySpec
    from pki.asn1 import ID_ICAO_DEVIATION_LIST
    from pki.cms import build_signed_data
    from pki.profiles import Signer, build_certificate, build_name

    state = issuer._load()
    csca_rec = issuer._csca(state)
    csca = issuer.certificate(csca_rec)
    ks = issuer.keystore
    label = "test-dls"
    public = ks.public_key(label) if ks.has_key(label) else ks.generate_key_pair(label, KeySpec("ec", curve="P-256"))
    now = T0 + timedelta(days=32)
    csca_signer = Signer(ks, csca_rec.label, "sha384", "ecdsa")
    dls = build_certificate(
        role="dls",
        signer=csca_signer,
        issuer=csca.subject,
        issuer_key_id=csca.key_identifier,
        subject=build_name("VN", "Ministry of Public Security", "Deviation List Signer"),
        public_key=public,
        not_before=now,
        not_after=now + timedelta(days=365),
        private_key_usage=(now, now + timedelta(days=180)),
    )
    from pki.lint import lint_certificate

    assert [f for f in lint_certificate(dls) if f.severity == "error"] == []
    content = b"\x30\x03\x02\x01\x00"  # DeviationList contents are stored, not interpreted
    dl = build_signed_data(
        ID_ICAO_DEVIATION_LIST, content, Signer(ks, label, "sha256", "ecdsa"), dls, signing_time=now, certificates=[dls]
    ).dump()
    text = write_ldif(
        [LDIFEntry(dn=f"cn=dl1,o=dl,c=VN,{PKD_SUFFIX}", line=0, attributes={"pkdDeviationListContent": [dl]})]
    )
    store = TrustStore()
    store.add_csca(csca)
    assert [a["kind"] for a in store.import_ldif(text).added] == ["dl"]
    # signed by an ML signer instead: refused
    mls_rec = next(r for r in issuer.records("mls") if r.status == "current")
    wrong = build_signed_data(
        ID_ICAO_DEVIATION_LIST, content, Signer(ks, mls_rec.label, "sha256", "ecdsa"), issuer.certificate(mls_rec)
    ).dump()
    with pytest.raises(TrustStoreError) as info:
        TrustStore().import_deviation_list(wrong)
    assert info.value.code == "DL_SIGNER_PROFILE"


def test_document_type_prefix_matching():
    from pki.asn1 import document_type_permitted

    assert document_type_permitted(["P"], "PM") and document_type_permitted(["P"], "P<")
    assert document_type_permitted(["ID", "I"], "ID") and document_type_permitted(["I"], "IR")
    assert not document_type_permitted(["ID"], "I<") and not document_type_permitted(["P"], "ID")


def test_two_writers_do_not_lose_each_others_imports(issuer, tmp_path):
    a = TrustStore(tmp_path)
    b = TrustStore(tmp_path)  # loaded before a's import
    a.add_csca(issuer.certificates("csca")[0])
    b.add_csca(issuer.certificates("csca")[1])
    assert len(TrustStore(tmp_path).anchors()) == 2
    assert len(b.anchors()) == 2


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_hostile_files_name_the_file(blob):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "suspicious.bin"
    path.write_bytes(blob)
    store = TrustStore()
    try:
        report = store.import_file(path)
    except TrustStoreError as exc:
        assert "suspicious.bin" in str(exc)
    else:  # e.g. an LDIF holding only comments or a version line: a valid, empty import
        assert report.added == []
    assert store.anchors() == [] and store.ds_certificates() == []
