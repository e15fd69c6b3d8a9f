"""Path validation DS → CSCA: full CSCA rollover through link certificates, revocation with its reason,
CRL policy (missing / stale), time checks, the chain model for cards that never expire, the warm cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from icao9303.lds.sod import SOD
from pki.cms import verify_signed_data
from pki.errors import PKIValidationError
from pki.keystore import FileKeyStore
from pki.truststore import TrustStore
from pki.validation import ValidationPolicy, validate_ds_path
from pki.workspace import PKI

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DGS = {1: hashlib.sha256(b"DG1").digest(), 2: hashlib.sha256(b"DG2").digest()}
LENIENT_CRL = ValidationPolicy(crl_missing="ignore", crl_stale="ignore")


@dataclass
class World:
    pki: PKI
    sod_before: SOD
    sod_after: SOD
    rollover: dict
    csca1: object
    at: datetime


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    d = tmp_path_factory.mktemp("pkival")
    p = PKI(d / "pki", FileKeyStore(d / "keys", "pw"), fsync_audit=False)
    p.init(now=T0)
    csca1 = p.certificates("csca")[0]
    before = SOD.from_bytes(p.sign_sod(DGS, now=T0 + timedelta(days=1)))
    out = p.rollover_csca(now=T0 + timedelta(days=400))
    after = SOD.from_bytes(p.sign_sod(DGS, now=T0 + timedelta(days=401)))
    p.issue_crl(now=T0 + timedelta(days=402))
    return World(p, before, after, out, csca1, T0 + timedelta(days=403))


def _store(world: World, *, anchors, links=(), crls=True) -> TrustStore:
    store = TrustStore()
    for a in anchors:
        store.add_csca(a)
    for link in links:
        store.add_link(link)
    if crls:
        for crl in world.pki.latest_crls():
            try:
                store.add_crl(crl)
            except Exception:  # a CRL of a CSCA this verifier does not trust: not importable
                pass
    return store


def _ds(sod: SOD):
    return verify_signed_data(sod.content_info).signer_certificate


def test_rollover_old_trust_verifies_both_generations(world):
    store = _store(world, anchors=[world.csca1], links=[world.rollover["new_with_old"]])
    r1 = validate_ds_path(_ds(world.sod_before), world.at, store)
    r2 = validate_ds_path(_ds(world.sod_after), world.at, store)
    assert len(r1.path) == 2 and r1.csca.dump() == world.csca1.dump()
    assert len(r2.path) == 3 and r2.path[1].dump() == world.rollover["new_with_old"].dump()
    assert r1.warnings == () and r2.warnings == ()


def test_rollover_new_trust_verifies_both_generations(world):
    store = _store(world, anchors=[world.rollover["csca"]], links=[world.rollover["old_with_new"]])
    r1 = validate_ds_path(_ds(world.sod_before), world.at, store)
    r2 = validate_ds_path(_ds(world.sod_after), world.at, store)
    assert r1.path[1].dump() == world.rollover["old_with_new"].dump()
    assert r1.csca.dump() == world.rollover["csca"].dump()
    assert len(r2.path) == 2


def test_without_link_the_other_generation_is_unknown(world):
    store = _store(world, anchors=[world.rollover["csca"]])
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(_ds(world.sod_before), world.at, store)
    assert info.value.code == "CSCA_UNKNOWN"


def test_ds_not_signed_by_csca(world, tmp_path):
    other = PKI(tmp_path / "other", FileKeyStore(tmp_path / "k", "pw"), fsync_audit=False)
    other.init(now=T0)  # same DN "CSCA Vietnam 01", different key
    store = TrustStore()
    store.add_csca(other.certificates("csca")[0])
    ds = _ds(world.sod_before)
    # a trusted CSCA with the same name but another key
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, world.at, store, LENIENT_CRL)
    assert info.value.code == "DS_NOT_SIGNED_BY_CSCA"


def test_ds_signature_mismatch_detected(world):
    from asn1crypto import x509

    ds = _ds(world.sod_before)
    sig = bytearray(ds["signature_value"].native)
    sig[-3] ^= 0x01
    forged = x509.Certificate(
        {
            "tbs_certificate": ds["tbs_certificate"],
            "signature_algorithm": ds["signature_algorithm"],
            "signature_value": bytes(sig),
        }
    )
    forged = x509.Certificate.load(forged.dump())
    store = _store(world, anchors=[world.csca1])
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(forged, world.at, store)
    assert info.value.code == "DS_NOT_SIGNED_BY_CSCA"


def test_time_checks(world):
    store = _store(world, anchors=[world.csca1], links=[world.rollover["new_with_old"]])
    ds = _ds(world.sod_before)
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, T0 - timedelta(days=1), store, LENIENT_CRL)
    assert info.value.code in ("DS_NOT_YET_VALID", "CSCA_NOT_YET_VALID")
    far = ds.not_valid_after + timedelta(days=1)
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, far, store, ValidationPolicy(crl_missing="ignore", crl_stale="ignore", chain_model=False))
    assert info.value.code == "DS_EXPIRED"
    assert info.value.details["not_after"] == ds.not_valid_after


def test_chain_model_for_cards_without_expiry(world):
    store = _store(world, anchors=[world.csca1])
    ds = _ds(world.sod_before)
    signed_at = verify_signed_data(world.sod_before.content_info).signing_time
    later = world.csca1.not_valid_after + timedelta(days=10)  # 2060s: DS and CSCA expired
    result = validate_ds_path(ds, later, store, LENIENT_CRL, signed_at=signed_at)
    assert result.model == "chain" and result.warnings[0][0] == "CHAIN_MODEL"
    with pytest.raises(PKIValidationError):
        validate_ds_path(
            ds,
            later,
            store,
            ValidationPolicy(crl_missing="ignore", crl_stale="ignore", chain_model=False),
            signed_at=signed_at,
        )
    with pytest.raises(PKIValidationError) as info:  # signed outside the DS key usage period
        validate_ds_path(ds, later, store, LENIENT_CRL, signed_at=T0 + timedelta(days=200))
    assert info.value.code == "DS_KEY_EXPIRED"


def test_crl_missing_follows_policy(world):
    store = _store(world, anchors=[world.csca1], crls=False)
    ds = _ds(world.sod_before)
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, world.at, store)
    assert info.value.code == "CRL_MISSING"
    result = validate_ds_path(ds, world.at, store, ValidationPolicy(crl_missing="warn"))
    assert [w[0] for w in result.warnings] == ["CRL_MISSING"]
    assert validate_ds_path(ds, world.at, store, ValidationPolicy(crl_missing="ignore")).warnings == ()


def test_stale_crl_follows_policy(world):
    store = _store(world, anchors=[world.csca1])
    ds = _ds(world.sod_before)
    stale_at = world.at + timedelta(days=60)  # CRL nextUpdate is 30 days after its issue
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, stale_at, store, ValidationPolicy.strict())
    assert info.value.code == "CRL_STALE" and "next_update" in info.value.details
    result = validate_ds_path(ds, stale_at, store, ValidationPolicy(crl_stale="warn"))
    assert [w[0] for w in result.warnings] == ["CRL_STALE"]
    ok = validate_ds_path(ds, stale_at, store, ValidationPolicy(crl_stale="reject", crl_grace=timedelta(days=60)))
    assert ok.warnings == ()


def test_revoked_ds_fails_with_its_reason(tmp_path):
    p = PKI(tmp_path / "pki", FileKeyStore(tmp_path / "keys", "pw"), fsync_audit=False)
    p.init(now=T0)
    sod = SOD.from_bytes(p.sign_sod(DGS, now=T0 + timedelta(days=1)))
    ds = _ds(sod)
    store = TrustStore(tmp_path / "trust")
    store.add_csca(p.certificates("csca")[0])
    store.add_crl(p.latest_crls()[0])
    validate_ds_path(ds, T0 + timedelta(days=3), store)
    p.revoke(ds.serial_number, "key_compromise", now=T0 + timedelta(days=5))
    store.add_crl(p.latest_crls()[0])
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, T0 + timedelta(days=6), store)
    assert info.value.code == "DS_REVOKED"
    assert info.value.details["reason"] == "key_compromise"
    assert info.value.details["revoked_at"] == T0 + timedelta(days=5)
    # before the revocation date the DS was good (historical validation)
    validate_ds_path(ds, T0 + timedelta(days=4), store)
    # the persisted trust store reloads with the same verdict
    with pytest.raises(PKIValidationError):
        validate_ds_path(ds, T0 + timedelta(days=6), TrustStore(tmp_path / "trust"))


def test_ds_key_usage_and_doc_type(world):
    store = _store(world, anchors=[world.csca1])
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(world.csca1, world.at, store)
    assert info.value.code == "DS_KEY_USAGE"
    ds = _ds(world.sod_before)
    validate_ds_path(ds, world.at, store, ValidationPolicy(require_document_type="ID"))
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, world.at, store, ValidationPolicy(require_document_type="P"))
    assert info.value.code == "DS_DOC_TYPE"


def test_malformed_ds_bytes(world):
    store = _store(world, anchors=[world.csca1])
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(b"\x30\x03\x02\x01\x01", world.at, store)
    assert info.value.code == "CERT_MALFORMED"


def test_warm_cache_reuses_path_and_is_invalidated_by_imports(world):
    store = _store(world, anchors=[world.csca1])
    ds = _ds(world.sod_before)
    first = validate_ds_path(ds, world.at, store)
    assert len(store._path_cache) == 1
    again = validate_ds_path(ds, world.at, store)
    assert again.path is first.path or list(again.path) == list(first.path)
    generation = store.generation
    store.add_link(world.rollover["new_with_old"])
    assert store.generation == generation + 1
    validate_ds_path(ds, world.at, store)
    assert next(iter(store._path_cache.values()))[0] == store.generation


def test_csca_expired_and_not_yet_valid(tmp_path):
    """A foreign-style CSCA whose validity ends before its DS's (not something we issue)."""
    from pki.algorithms import KeySpec
    from pki.profiles import Signer, build_certificate, build_name, key_identifier

    store_keys = FileKeyStore(tmp_path, "pw")
    csca_pub = store_keys.generate_key_pair("csca", KeySpec("ec", curve="P-256"))
    ds_pub = store_keys.generate_key_pair("ds", KeySpec("ec", curve="P-256"))
    signer = Signer(store_keys, "csca", "sha256", "ecdsa")
    csca_name = build_name("DE", "Test", "Short CSCA")
    csca = build_certificate(
        role="csca",
        signer=signer,
        issuer=csca_name,
        issuer_key_id=key_identifier(csca_pub),
        subject=csca_name,
        public_key=csca_pub,
        not_before=T0 + timedelta(days=1),
        not_after=T0 + timedelta(days=10),
        private_key_usage=(T0, T0 + timedelta(days=5)),
    )
    ds = build_certificate(
        role="ds",
        signer=signer,
        issuer=csca_name,
        issuer_key_id=key_identifier(csca_pub),
        subject=build_name("DE", "Test", "DS"),
        public_key=ds_pub,
        not_before=T0,
        not_after=T0 + timedelta(days=30),
        private_key_usage=(T0, T0 + timedelta(days=3)),
        document_types=["P"],
    )
    store = TrustStore()
    store.add_csca(csca)
    policy = ValidationPolicy(crl_missing="ignore", chain_model=False)
    validate_ds_path(ds, T0 + timedelta(days=5), store, policy)
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, T0 + timedelta(days=20), store, policy)
    assert info.value.code == "CSCA_EXPIRED"
    with pytest.raises(PKIValidationError) as info:
        validate_ds_path(ds, T0 + timedelta(hours=12), store, policy)
    assert info.value.code == "CSCA_NOT_YET_VALID"
    # a DS document type list "P" covers "PM" but not "ID"
    validate_ds_path(
        ds, T0 + timedelta(days=5), store, ValidationPolicy(crl_missing="ignore", require_document_type="PM")
    )


def test_two_rollovers_chain_through_two_links(tmp_path):
    p = PKI(tmp_path / "pki", FileKeyStore(tmp_path / "keys", "pw"), fsync_audit=False)
    p.init(now=T0)
    first_ds = p.current_ds()[1]
    r2 = p.rollover_csca(now=T0 + timedelta(days=100))
    r3 = p.rollover_csca(now=T0 + timedelta(days=200))
    store = TrustStore()
    store.add_csca(r3["csca"])
    store.add_link(r3["old_with_new"])  # gen3 certifies gen2's key
    store.add_link(r2["old_with_new"])  # gen2 certifies gen1's key
    result = validate_ds_path(first_ds, T0 + timedelta(days=201), store, ValidationPolicy(crl_missing="ignore"))
    assert len(result.path) == 4 and result.csca.dump() == r3["csca"].dump()
    with pytest.raises(PKIValidationError):
        validate_ds_path(first_ds, T0 + timedelta(days=201), store, ValidationPolicy(crl_missing="ignore", max_links=1))


def test_no_single_byte_change_of_our_ef_sod_verifies(world):
    """Every byte of EF.SOD is covered: the signed ones by the signature, the unsigned ones (versions,
    digestAlgorithms, sid, the embedded DS certificate, BIT STRING padding) by structural checks."""
    from icao9303.errors import ICAOError
    from pki.errors import PKIError

    store = _store(world, anchors=[world.csca1], links=[world.rollover["new_with_old"]])
    good = world.sod_before.to_bytes()
    reference = SOD.from_bytes(good).dg_hashes
    accepted = []
    for pos in range(len(good)):
        for flip in (0x20 if pos % 2 else 0x01,):  # 0x20 flips letter case: names must match byte for byte
            data = bytearray(good)
            data[pos] ^= flip
            try:
                sod = SOD.from_bytes(bytes(data))
                result = verify_signed_data(sod.content_info)
                validate_ds_path(result.signer_certificate, world.at, store)
                if sod.dg_hashes == reference:
                    accepted.append((pos, flip))
            except (PKIError, ICAOError):
                pass
    assert accepted == []
