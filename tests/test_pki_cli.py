"""`cancuoc pki …` end to end as the README walks it (file key store and SoftHSM2), plus the key-store
passphrase rules and a full PKI on the real PKCS#11 token."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from cancuoc.cli import main
from cancuoc.settings import get_settings
from icao9303.lds.sod import SOD
from pki.errors import KeyStoreError
from pki.lint import lint_file
from pki.truststore import TrustStore
from pki.validation import validate_ds_path
from pki.workspace import DEV_PASSPHRASE, PKI, IssuerPolicy, keystore_passphrase

DGS = {1: hashlib.sha256(b"DG1").digest(), 2: hashlib.sha256(b"DG2").digest()}


def _json(capsys, argv) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_operator_walkthrough(workspace, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CANCUOC_KEYSTORE_PASSPHRASE", "walkthrough passphrase")
    status = _json(capsys, ["pki", "init"])
    assert sorted(c["role"] for c in status["certificates"]) == ["csca", "ds", "mls"]
    first_ds = next(c["serial"] for c in status["certificates"] if c["role"] == "ds")
    rotated = _json(capsys, ["pki", "rotate-ds"])
    assert rotated["serial"] != first_ds
    rollover = _json(capsys, ["pki", "rollover-csca"])
    assert set(rollover) == {"csca", "new_with_old", "old_with_new"}
    revoked = _json(capsys, ["pki", "revoke", first_ds, "--reason", "key_compromise"])
    assert revoked["reason"] == "key_compromise" and len(revoked["crls"]) == 2
    assert len(_json(capsys, ["pki", "crl"])) == 2
    ml = tmp_path / "VN.ml"
    assert _json(capsys, ["pki", "masterlist", "--out", str(ml)])["bytes"] == ml.stat().st_size
    out = tmp_path / "export"
    files = _json(capsys, ["pki", "export", str(out)])
    assert any(f.endswith("VN-pkd.ldif") for f in files)
    icao = [f for f in files if not f.endswith(".ldif")]
    report = _json(capsys, ["pki", "lint", *icao])
    assert report["errors"] == 0 and report["findings"] == []
    assert _json(capsys, ["pki", "audit-verify"])["ok"] is True

    # verifier side: trust the first CSCA explicitly, then the PKD LDIF (master list bridges the rollover)
    assert main(["pki", "trust", "add", str(out / "csca-01.der")]) == 2  # a CSCA needs --trust-anchor
    added = _json(capsys, ["pki", "trust", "add", "--trust-anchor", str(out / "csca-01.der")])
    assert added["added"][0]["kind"] == "csca"
    added = _json(capsys, ["pki", "trust", "add", str(out / "VN-pkd.ldif")])
    assert {a["kind"] for a in added["added"]} >= {"csca", "link", "ml", "crl", "ds"}
    listing = _json(capsys, ["pki", "trust", "list"])
    assert len(listing["csca"]) == 2

    capsys.readouterr()
    ds_files = sorted(out.glob("ds-*.der"))
    assert main(["pki", "trust", "validate", str(ds_files[0])]) == 1  # the revoked one
    assert "DS_REVOKED" in capsys.readouterr().out
    assert main(["pki", "trust", "validate", "--json", str(ds_files[-1])]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    # an EF.SOD signed now (through the CLI) validates through the CLI as well
    (tmp_path / "dg1.bin").write_bytes(b"DG1 bytes")
    (tmp_path / "dg2.bin").write_bytes(b"DG2 bytes")
    sod_path = tmp_path / "EF.SOD"
    signed = _json(
        capsys,
        [
            "pki",
            "sign-sod",
            "--dg",
            f"1={tmp_path / 'dg1.bin'}",
            "--dg",
            f"2={tmp_path / 'dg2.bin'}",
            "--out",
            str(sod_path),
        ],
    )
    assert signed["data_groups"] == [1, 2]
    assert SOD.from_bytes(sod_path.read_bytes()).dg_hashes[1] == hashlib.sha256(b"DG1 bytes").digest()
    assert main(["pki", "trust", "validate", str(sod_path)]) == 0
    assert _file_store().labels()  # the file store really holds the keys


def _file_store():
    from pki.keystore import FileKeyStore

    return FileKeyStore(get_settings().keystore_dir, keystore_passphrase())


def test_wrong_passphrase_via_cli(workspace, monkeypatch, capsys):
    monkeypatch.setenv("CANCUOC_KEYSTORE_PASSPHRASE", "one")
    assert main(["pki", "init"]) == 0
    monkeypatch.setenv("CANCUOC_KEYSTORE_PASSPHRASE", "two")
    capsys.readouterr()
    assert main(["pki", "rotate-ds"]) == 2
    err = capsys.readouterr().err
    assert "KEYSTORE_WRONG_PASSPHRASE" in err and "two" not in err


def test_development_passphrase_refused_in_production(monkeypatch):
    monkeypatch.delenv("CANCUOC_KEYSTORE_PASSPHRASE", raising=False)
    assert keystore_passphrase("development") == DEV_PASSPHRASE
    with pytest.raises(KeyStoreError) as info:
        keystore_passphrase("production")
    assert info.value.code == "KEYSTORE_PASSPHRASE_REQUIRED"
    monkeypatch.setenv("CANCUOC_KEYSTORE_PASSPHRASE", DEV_PASSPHRASE)
    with pytest.raises(KeyStoreError):
        keystore_passphrase("production")
    monkeypatch.setenv("CANCUOC_KEYSTORE_PASSPHRASE", "a real secret")
    assert keystore_passphrase("production") == "a real secret"


def test_missing_workspace_and_bad_serial(workspace, capsys):
    assert main(["pki", "status"]) == 2
    assert "WORKSPACE_MISSING" in capsys.readouterr().err
    assert main(["pki", "init"]) == 0
    capsys.readouterr()
    assert main(["pki", "revoke", "not-a-number"]) == 2
    assert "SERIAL_INVALID" in capsys.readouterr().err
    assert main(["pki", "revoke", "0x1234"]) == 2
    assert "SERIAL_UNKNOWN" in capsys.readouterr().err


@pytest.mark.softhsm
def test_cli_on_softhsm_token(workspace, softhsm, monkeypatch, capsys):
    monkeypatch.setenv("CANCUOC_PKCS11_PIN", softhsm.pin)
    hsm = ["--pkcs11-module", softhsm.module, "--token-label", softhsm.token_label]
    status = _json(capsys, ["pki", "init", *hsm, "--ds-key", "ec:P-256"])
    assert len(status["certificates"]) == 3
    assert not (workspace / "keys").exists()  # nothing written to a file key store
    assert _json(capsys, ["pki", "rotate-ds", *hsm])["serial"]
    capsys.readouterr()
    assert main(["pki", "status", *hsm[:2], "--token-label", "no-such-token"]) == 2
    assert "KEYSTORE_NO_TOKEN" in capsys.readouterr().err


@pytest.mark.softhsm
@pytest.mark.parametrize(
    "policy",
    [
        IssuerPolicy(
            csca_key="ec:P-384", csca_hash="sha384", ds_key="rsa:3072", ds_hash="sha256", mls_key="ec:brainpoolP256r1"
        ),
        IssuerPolicy(
            csca_key="rsa:2048",
            csca_hash="sha512",
            rsa_scheme="pkcs1v15",
            ds_key="ec:brainpoolP384r1",
            ds_hash="sha384",
            mls_key="ec:P-521",
            mls_hash="sha512",
        ),
    ],
    ids=["ecdsa-csca-rsa-pss-ds", "rsa-pkcs1-csca-brainpool-ds"],
)
def test_full_pki_on_softhsm(softhsm_keystore, tmp_path, policy):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    pki = PKI(tmp_path / "pki", softhsm_keystore, fsync_audit=False)
    pki.init(policy, now=t0)
    sod_before = SOD.from_bytes(pki.sign_sod(DGS, now=t0 + timedelta(hours=1)))
    out = pki.rollover_csca(now=t0 + timedelta(days=10))
    sod_after = SOD.from_bytes(pki.sign_sod(DGS, now=t0 + timedelta(days=10, hours=1)))
    store = TrustStore()
    store.add_csca(out["csca"])
    store.add_link(out["old_with_new"])
    for crl in pki.latest_crls():
        store.add_crl(crl)
    at = t0 + timedelta(days=11)
    for sod in (sod_before, sod_after):
        assert validate_ds_path(sod.certificates[0], at, store).csca.dump() == out["csca"].dump()
    for f in pki.export(tmp_path / "out", now=at):
        if f.suffix != ".ldif" and "service" not in f.parts:
            assert lint_file(f) == [], f.name
