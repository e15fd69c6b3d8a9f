"""PKI operator endpoints over the issuer's workspace: status, DS rotation, CRLs, revocation, master list,
and two-person approval of a CSCA rollover (the requester can never approve it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pki.workspace import PKI, open_keystore
from population.db import make_engine, upgrade_database
from station_api.main import create_app
from station_api.roles import Role
from tests.test_api_support import Api, api_settings


@pytest.fixture
def pki_api(workspace: Path) -> Iterator[Api]:
    url = f"sqlite:///{workspace / 'pki_api.sqlite3'}"
    upgrade_database(url)
    settings = api_settings(workspace, url)
    PKI(settings.pki_dir, open_keystore(settings.keystore_dir)).init()
    app = create_app(settings)
    engine = make_engine(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, engine, settings)
    app.state.cancuoc.engine.dispose()
    engine.dispose()


def test_status_rotation_crl_revocation_master_list(pki_api):
    ops = pki_api.headers(Role.PKI_OPERATOR)
    status = pki_api.client.get("/api/v1/pki/status", headers=ops).json()
    roles = {c["role"] for c in status["certificates"]}
    assert {"csca", "ds"} <= roles and "home" not in status
    old_ds = next(c for c in status["certificates"] if c["role"] == "ds" and c["status"] == "current")

    r = pki_api.client.post("/api/v1/pki/document-signers/rotation", json={"reason": "scheduled"}, headers=ops)
    assert r.status_code == 201, r.text
    new_serial = r.json()["serial"]
    assert new_serial != old_ds["serial"]

    r = pki_api.client.post(
        "/api/v1/pki/revocations", json={"serial": old_ds["serial"], "reason": "superseded"}, headers=ops
    )
    assert r.status_code == 201, r.text
    r = pki_api.client.post("/api/v1/pki/revocations", json={"serial": "1", "reason": "no_such_reason"}, headers=ops)
    assert r.status_code == 409 and r.json()["code"] == "pki_error" and r.json()["reason"]

    r = pki_api.client.post("/api/v1/pki/crls", headers=ops)
    assert r.status_code == 201 and r.json()[0]["revoked"] >= 1

    r = pki_api.client.get("/api/v1/pki/master-list", headers=ops)
    assert r.status_code == 200 and r.content[:1] == b"\x30"  # CMS ContentInfo, DER

    # the service's trust store follows (it reloads after CRLs) and readiness sees it
    assert pki_api.client.get("/ready").json()["checks"]["trust_store"] == "ok"


def test_csca_rollover_needs_a_second_person(pki_api):
    first = pki_api.headers(Role.PKI_OPERATOR, username="pki-one")
    second = pki_api.headers(Role.PKI_OPERATOR, username="pki-two")
    r = pki_api.client.post("/api/v1/pki/approvals", json={"operation": "rollover_csca"}, headers=first)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    approval = r.json()["id"]

    r = pki_api.client.post(f"/api/v1/pki/approvals/{approval}/approve", headers=first)
    assert r.status_code == 403 and r.json()["code"] == "approval_same_person"
    pending = pki_api.client.get("/api/v1/pki/approvals?status=pending", headers=first).json()
    assert [a["id"] for a in pending] == [approval]

    r = pki_api.client.post(f"/api/v1/pki/approvals/{approval}/approve", headers=second)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executed" and {"csca", "new_with_old", "old_with_new"} <= set(r.json()["result"])
    cscas = [
        c
        for c in pki_api.client.get("/api/v1/pki/status", headers=second).json()["certificates"]
        if c["role"] == "csca"
    ]
    assert len(cscas) == 2
    r = pki_api.client.post(f"/api/v1/pki/approvals/{approval}/approve", headers=second)
    assert r.status_code == 409

    entries = pki_api.client.get("/api/v1/audit/entries?limit=1000", headers=pki_api.headers(Role.AUDITOR)).json()
    execs = [(e["outcome"], e["reasons"]) for e in entries if e["action"] == "pki.approval.execute"]
    assert ("refused", ["approval_same_person"]) in execs and ("executed", []) in execs
