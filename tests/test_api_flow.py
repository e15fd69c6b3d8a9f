"""The full flow through the API on the real stack: enroll → portrait → approve (four eyes) → personalize a
blank virtual chip in pcscd (pyscard → pcscd → vsmartcard-vpcd) → verify at an agency counter (server
re-verification, receipt) → report the card lost → verify again: refused with the card-status reason.

Production wiring throughout: the PKI workspace's trust store and receipt key (``station_api.pki_access``),
``issuance`` for applications and personalization, ``reader`` on PC/SC for the counter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from firmware_profiles.chip import VirtualChip
from issuance.portrait import sample_portrait_bytes
from issuance.station import (
    ensure_batch_master,
    manufacture_blank_card,
    own_trust_store,
    transport_key_function,
)
from pki.workspace import PKI, open_keystore
from population.db import make_engine, session_scope
from population.testing import make_citizen
from reader import inspect_card
from reader.access import can_key
from reader.transport import PcscTransport
from station_api.main import create_app
from station_api.receipts import verify_receipt
from station_api.roles import Role
from station_api.services.operators import create_agency
from tests.test_api_support import Api, api_settings

PERSONAL_ID = "079090012345"
PROFILE = "vn-cc-2024"


def _wait_job(api: Api, job_id: str, headers: dict[str, str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = api.client.get(f"/api/v1/personalization-jobs/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.2)


def _verify(api: Api, reader: str, can: str, trust_store) -> dict:
    opened = api.client.post("/api/v1/verifications", headers=api.headers(Role.VERIFIER)).json()
    with PcscTransport(reader) as transport:  # the agency counter's reader
        report = inspect_card(
            transport, can_key(can), trust_store, at=datetime.now(UTC), aa_challenge=bytes.fromhex(opened["challenge"])
        )
    r = api.client.post(
        f"/api/v1/verifications/{opened['verification_id']}/evidence",
        json=report.evidence.to_dict(),
        headers=api.headers(Role.VERIFIER),
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.pcsc
@pytest.mark.slow
def test_enroll_personalize_verify_report_lost_verify(workspace: Path, migrated_db_url: str, virtual_card) -> None:
    engine = make_engine(migrated_db_url)
    with session_scope(engine) as s:
        make_citizen(
            s,
            personal_id=PERSONAL_ID,
            full_name="Nguyễn Văn An",
            birth_year=1990,
            birth_month=3,
            birth_day=15,
            sex="M",
            province="079",
        )
        create_agency(
            s, code="bank-a", name="Bank A", permitted_fields=["personal_id", "full_name", "portrait"], actor="test"
        )
    settings0 = api_settings(workspace, migrated_db_url)
    pki = PKI(settings0.pki_dir, open_keystore(settings0.keystore_dir))
    pki.init()
    ensure_batch_master(pki.keystore)
    maker = SimpleNamespace(transport_key_for=transport_key_function(pki.keystore))  # the card manufacturer
    blank = VirtualChip(manufacture_blank_card(maker, PROFILE))
    reader = virtual_card.insert(blank, slot=0)
    settings = api_settings(workspace, migrated_db_url, api_station_readers=[reader])
    app = create_app(settings)
    counter_trust = own_trust_store(pki)  # the agency counter trusts the country's CSCA
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, engine, settings)
        officer, supervisor = api.headers(Role.ENROLLMENT_OFFICER), api.headers(Role.SUPERVISOR)
        operator = api.headers(Role.PERSONALIZATION_OPERATOR)

        # enroll
        r = client.post(
            "/api/v1/applications", json={"personal_id": PERSONAL_ID, "reason": "first_card"}, headers=officer
        )
        assert r.status_code == 201, r.text
        app_id = r.json()["id"]
        assert r.json()["personal_id"] != PERSONAL_ID  # masked in views
        r = client.put(
            f"/api/v1/applications/{app_id}/portrait",
            content=sample_portrait_bytes(),
            headers={**officer, "content-type": "image/jpeg"},
        )
        assert r.status_code == 200 and r.json()["passed"] and r.json()["state"] == "ready", r.text
        # four eyes: the officer may not approve; the supervisor does
        assert client.post(f"/api/v1/applications/{app_id}/approval", headers=officer).status_code == 403
        r = client.post(f"/api/v1/applications/{app_id}/approval", headers=supervisor)
        assert r.status_code == 200 and r.json()["state"] == "approved", r.text

        # personalize on the station's named reader
        r = client.post(
            "/api/v1/personalization-jobs",
            json={"application_id": app_id, "reader": "No Such Reader"},
            headers=operator,
        )
        assert r.status_code == 422 and r.json()["code"] == "reader_unknown"
        r = client.post(
            "/api/v1/personalization-jobs", json={"application_id": app_id, "reader": reader}, headers=operator
        )
        assert r.status_code == 202, r.text
        job = _wait_job(api, r.json()["id"], operator)
        assert job["status"] == "issued", job
        card_number = job["card_number"]
        card = client.get(f"/api/v1/cards/{card_number}", headers=supervisor).json()
        assert card["status"] == "issued" and card["aa_public_key_sha256"]

        # verify at the agency counter, through pcscd
        body = _verify(api, reader, PERSONAL_ID[-6:], counter_trust)
        assert body["decision"] == "accepted", body
        assert body["fields"]["personal_id"] == PERSONAL_ID and body["fields"]["full_name"] == "Nguyễn Văn An"
        assert body["fields"]["portrait"]  # the chip's DG2, the agency may see it
        pem = client.get("/api/v1/receipts/certificate").content
        assert verify_receipt(body["receipt"], x509.load_pem_x509_certificates(pem)[0])["card_number"] == card_number

        # report lost, verify again
        r = client.post(f"/api/v1/cards/{card_number}/loss", json={"stolen": False}, headers=officer)
        assert r.status_code == 200 and r.json()["status"] == "lost"
        body = _verify(api, reader, PERSONAL_ID[-6:], counter_trust)
        assert body["decision"] == "refused" and body["reasons"] == ["CARD_LOST"], body
        assert body["fields"] == {}

        auditor = api.headers(Role.AUDITOR)
        assert client.get("/api/v1/audit/verification", headers=auditor).json()["intact"]
        actions = {e["action"] for e in client.get("/api/v1/audit/entries?limit=1000", headers=auditor).json()}
        assert {
            "application.create",
            "application.portrait",
            "application.approve",
            "personalization.start",
            "personalization.job",
            "verification.decision",
            "card.report_lost",
        } <= actions
    engine.dispose()
