"""The issuer workspace: init, DS rotation (manual and by policy), CSCA rollover, revocation, CRLs,
master lists, sign_sod refusals, the audit trail, service keys."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509

from icao9303.lds.sod import SOD
from pki.asn1 import document_types
from pki.audit import verify_audit_trail
from pki.cms import verify_signed_data
from pki.errors import AuditError, SigningRefused, WorkspaceError
from pki.keystore import FileKeyStore
from pki.workspace import PKI, IssuerPolicy, RotationPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DGS = {
    1: hashlib.sha256(b"DG1").digest(),
    2: hashlib.sha256(b"DG2").digest(),
    13: hashlib.sha256(b"DG13").digest(),
}


@pytest.fixture
def pki(tmp_path):
    p = PKI(tmp_path / "pki", FileKeyStore(tmp_path / "keys", "pw"), fsync_audit=False)
    p.init(now=T0)
    return p


def _ds_serial(sod_bytes: bytes) -> int:
    return SOD.from_bytes(sod_bytes).certificates[0].serial_number


def test_init_creates_csca_mls_ds_and_crl(pki):
    roles = sorted(r.role for r in pki.records())
    assert roles == ["csca", "ds", "mls"]
    assert len(pki.latest_crls()) == 1
    with pytest.raises(WorkspaceError) as info:
        pki.init(now=T0)
    assert info.value.code == "WORKSPACE_EXISTS"


def test_validity_periods_follow_policy(pki):
    policy = IssuerPolicy()
    csca = pki.certificates("csca")[0]
    ds = pki.certificates("ds")[0]
    pkup = ds.private_key_usage_period_value
    assert pkup["not_after"].native - pkup["not_before"].native == timedelta(days=policy.ds_key_usage_days)
    # DS validity = key usage period + longest document validity (25 years: every finite VN card)
    assert ds.not_valid_after - ds.not_valid_before == timedelta(
        days=policy.ds_key_usage_days + policy.longest_document_validity_days
    )
    assert ds.not_valid_after <= csca.not_valid_after
    assert document_types(ds) == ["ID", "I"] or sorted(document_types(ds)) == ["I", "ID"]


def test_sign_sod_produces_verifiable_ef_sod(pki):
    data = pki.sign_sod(DGS, "ID", now=T0 + timedelta(hours=1))
    assert data[0] == 0x77
    sod = SOD.from_bytes(data)
    assert sod.dg_hashes == DGS
    result = verify_signed_data(sod.content_info)
    assert result.signer_certificate.dump() == pki.certificates("ds")[0].dump()
    assert result.signing_time == T0 + timedelta(hours=1)
    assert pki.signature_count(pki.records("ds")[0]) == 1
    assert pki.status(T0)["certificates"][2]["signatures"] == 1


def test_sign_sod_refuses_unknown_doc_type(pki):
    with pytest.raises(SigningRefused) as info:
        pki.sign_sod(DGS, "P", now=T0)
    assert info.value.code == "DS_DOC_TYPE"


def test_rotate_ds_old_one_stops_signing(pki):
    first = _ds_serial(pki.sign_sod(DGS, now=T0))
    new_cert = pki.rotate_ds(now=T0 + timedelta(days=1))
    second = _ds_serial(pki.sign_sod(DGS, now=T0 + timedelta(days=1)))
    assert second == new_cert.serial_number != first
    statuses = {r.serial: r.status for r in pki.records("ds")}
    assert statuses[first] == "retired" and statuses[second] == "current"


def test_automatic_rotation_by_age(pki):
    first = _ds_serial(pki.sign_sod(DGS, now=T0))
    later = _ds_serial(pki.sign_sod(DGS, now=T0 + timedelta(days=91)))
    assert later != first
    assert any(e["details"].get("reason") == "auto-age" for e in pki.audit.entries())


def test_automatic_rotation_by_count(tmp_path):
    p = PKI(tmp_path / "pki", FileKeyStore(tmp_path / "keys", "pw"), fsync_audit=False)
    p.init(IssuerPolicy(rotation=RotationPolicy(max_signatures=3)), now=T0)
    serials = [_ds_serial(p.sign_sod(DGS, now=T0)) for _ in range(7)]
    assert serials[0] == serials[1] == serials[2] != serials[3]
    assert serials[3] == serials[4] == serials[5] != serials[6]


def test_rotation_due_refused_without_auto_rotate(tmp_path):
    p = PKI(tmp_path / "pki", FileKeyStore(tmp_path / "keys", "pw"), fsync_audit=False)
    p.init(IssuerPolicy(rotation=RotationPolicy(max_signatures=1, auto_rotate=False)), now=T0)
    p.sign_sod(DGS, now=T0)
    with pytest.raises(SigningRefused) as info:
        p.sign_sod(DGS, now=T0)
    assert info.value.code == "DS_ROTATION_DUE"


def test_revoke_current_ds_rotates_and_publishes_crl(pki):
    ds = pki.records("ds")[0]
    crls = pki.revoke(ds.serial, "key_compromise", now=T0 + timedelta(days=2))
    entries = crls[0]["tbs_cert_list"]["revoked_certificates"]
    assert [e["user_certificate"].native for e in entries] == [ds.serial]
    assert entries[0]["crl_entry_extensions"][0]["extn_value"].native == "key_compromise"
    assert crls[0].crl_number_value.native == 2
    assert _ds_serial(pki.sign_sod(DGS, now=T0 + timedelta(days=2))) != ds.serial
    with pytest.raises(WorkspaceError):
        pki.revoke(ds.serial, "key_compromise", now=T0 + timedelta(days=2))
    with pytest.raises(WorkspaceError) as info:
        pki.revoke(pki.records("csca")[0].serial, "key_compromise")
    assert info.value.code == "REVOKE_REFUSED"


def test_sign_refused_for_revoked_or_expired_current_ds(pki):
    rec = pki.records("ds")[0]
    with pytest.raises(SigningRefused):
        pki._check_signable(rec, pki.certificate(rec), T0 + timedelta(days=101), "ID")
    with pytest.raises(SigningRefused) as info:
        from dataclasses import replace

        pki._check_signable(replace(rec, status="revoked"), pki.certificate(rec), T0, "ID")
    assert info.value.code == "DS_NOT_CURRENT"


def test_crl_numbers_increase_and_next_update_scheduled(pki):
    crl = pki.issue_crl(now=T0 + timedelta(days=10))[0]
    tbs = crl["tbs_cert_list"]
    assert crl.crl_number_value.native == 2
    assert tbs["next_update"].native - tbs["this_update"].native == timedelta(days=30)
    assert "revoked_certificates" not in crl.native["tbs_cert_list"] or not tbs["revoked_certificates"]


def test_rollover_csca_issues_links_both_ways(pki):
    old = pki.certificates("csca")[0]
    out = pki.rollover_csca(now=T0 + timedelta(days=365))
    new = out["csca"]
    assert out["new_with_old"].issuer == old.subject and out["new_with_old"].subject == new.subject
    assert out["new_with_old"].public_key.dump() == new.public_key.dump()
    assert out["old_with_new"].issuer == new.subject and out["old_with_new"].public_key.dump() == old.public_key.dump()
    assert out["new_with_old"].authority_key_identifier == old.key_identifier
    ds = pki.rotate_ds(now=T0 + timedelta(days=366))
    assert ds.issuer == new.subject
    assert len(pki.latest_crls()) == 2  # the old CSCA keeps publishing CRLs for what it issued


def test_master_list_signed_by_ml_signer(pki):
    from pki.asn1 import ID_ICAO_CSCA_MASTER_LIST, CscaMasterList

    der = pki.master_list(now=T0)
    result = verify_signed_data(der, expected_content_type=ID_ICAO_CSCA_MASTER_LIST)
    assert result.signer_certificate.dump() == pki.certificates("mls")[0].dump()
    ml = CscaMasterList.load(result.econtent)
    assert [c.dump() for c in ml["cert_list"]] == [pki.certificates("csca")[0].dump()]


def test_audit_trail_is_hash_chained_and_detects_edits(pki):
    pki.sign_sod(DGS, now=T0)
    entries = pki.audit.entries()
    ops = [e["op"] for e in entries]
    assert "key.generate" in ops and "key.sign" in ops and "pki.init" in ops
    sod_entries = [e for e in entries if e["details"].get("purpose") == "sod"]
    assert sod_entries and sod_entries[-1]["details"]["count"] == 1
    assert verify_audit_trail(pki.audit.path) == len(entries)
    lines = pki.audit.path.read_text().splitlines()
    tampered = json.loads(lines[2])
    tampered["details"]["hash"] = "sha1"
    lines[2] = json.dumps(tampered)
    pki.audit.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditError):
        verify_audit_trail(pki.audit.path)


def test_service_key_is_under_a_separate_service_ca(pki):
    cert = pki.issue_service_certificate("receipts", now=T0)
    signer, cert2, ca = pki.service_key("receipts")
    assert cert.dump() == cert2.dump()
    assert cert.issuer == ca.subject and ca.subject != pki.certificates("csca")[0].subject
    from pki.algorithms import verify_signature

    verify_signature(_pub(cert), "ecdsa", "sha256", b"r", signer.sign(b"r"))
    with pytest.raises(WorkspaceError):
        pki.service_key("nope")


def _pub(cert: x509.Certificate):
    from pki.algorithms import load_public_key

    return load_public_key(cert["tbs_certificate"]["subject_public_key_info"])


def test_missing_workspace_is_a_clear_error(tmp_path):
    p = PKI(tmp_path / "none", FileKeyStore(tmp_path / "keys", "pw"))
    with pytest.raises(WorkspaceError) as info:
        p.sign_sod(DGS)
    assert info.value.code == "WORKSPACE_MISSING"


def test_crl_due(pki):
    assert not pki.crl_due(T0 + timedelta(days=1))
    assert pki.crl_due(T0 + timedelta(days=29))
    pki.issue_crl(T0 + timedelta(days=29))
    assert not pki.crl_due(T0 + timedelta(days=30))


def test_sign_card_security_uses_current_ds_and_counts(pki):
    from icao9303.lds.oids import ID_SECURITY_OBJECT
    from icao9303.lds.security_infos import CardSecurity, PACEInfo, SecurityInfos

    infos = SecurityInfos.build([PACEInfo({"protocol": "0.4.0.127.0.7.2.2.4.2.2", "version": 2, "parameter_id": 13})])
    der = pki.sign_card_security(infos.to_bytes(), now=T0 + timedelta(hours=2))
    card_security = CardSecurity.from_bytes(der)
    assert card_security.security_infos.to_bytes() == infos.to_bytes()
    result = verify_signed_data(der, expected_content_type=ID_SECURITY_OBJECT)
    assert result.signer_certificate.dump() == pki.current_ds()[1].dump()
    assert pki.signature_count(pki.current_ds()[0]) == 1
    assert [e["details"]["purpose"] for e in pki.audit.entries() if e["op"] == "key.sign"][-1] == "card-security"


def test_sign_sod_rejects_bad_input_before_signing(pki):
    from pki.errors import PKIError

    for bad in ({1: b"short", 2: DGS[2]}, {0: DGS[1], 2: DGS[2]}, {1: DGS[1]}):
        with pytest.raises(PKIError) as info:
            pki.sign_sod(bad, now=T0)
        assert info.value.code == "SOD_INPUT_INVALID"
    assert pki.signature_count(pki.current_ds()[0]) == 0


def _sign_many(home: str, keys: str, n: int) -> None:
    p = PKI(home, FileKeyStore(keys, "pw"), fsync_audit=False)
    for _ in range(n):
        p.sign_sod(DGS, now=T0 + timedelta(hours=1))


def test_concurrent_signers_share_counter_and_audit_chain(pki, tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_sign_many, args=(str(pki.home), str(tmp_path / "keys"), 8)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert pki.signature_count(pki.current_ds()[0]) == 16
    verify_audit_trail(pki.audit.path)
    counts = [e["details"]["count"] for e in pki.audit.entries() if e["details"].get("purpose") == "sod"]
    assert sorted(counts) == list(range(1, 17))


def test_audit_trail_handles_long_entries(tmp_path):
    from pki.audit import AuditTrail

    trail = AuditTrail(tmp_path / "audit.jsonl", fsync=False)
    trail.append("note", None, text="x" * 20_000)
    second = trail.append("note", None, text="y")
    assert second["seq"] == 2 and second["prev"] == trail.entries()[0]["hash"]
    assert verify_audit_trail(trail.path) == 2
