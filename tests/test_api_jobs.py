"""Personalization jobs that cannot run: no such reader (job failed with the reader's reason), a busy
reader, an application that is not approved, the four-eyes rule and the card replacement action."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from issuance.portrait import sample_portrait_bytes
from pki.workspace import PKI, open_keystore
from population.db import make_engine, session_scope, upgrade_database
from population.models.station import StationPersonalizationJob
from population.testing import make_citizen
from station_api.main import create_app
from station_api.roles import Role
from tests.test_api_support import Api, api_settings


def test_job_failures_and_application_rules(workspace: Path):
    url = f"sqlite:///{workspace / 'jobs.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        pid = make_citizen(s).personal_id
    settings = api_settings(workspace, url)
    PKI(settings.pki_dir, open_keystore(settings.keystore_dir)).init()
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, engine, settings)
        officer, supervisor = api.headers(Role.ENROLLMENT_OFFICER), api.headers(Role.SUPERVISOR)
        operator = api.headers(Role.PERSONALIZATION_OPERATOR)
        app_id = client.post(
            "/api/v1/applications", json={"personal_id": pid, "reason": "first_card"}, headers=officer
        ).json()["id"]
        r = client.post("/api/v1/applications", json={"personal_id": pid, "reason": "first_card"}, headers=officer)
        assert r.status_code == 409 and r.json()["reason"] == "APPLICATION_ALREADY_OPEN"

        # not approved yet: no job
        r = client.post(
            "/api/v1/personalization-jobs", json={"application_id": app_id, "reader": "R"}, headers=operator
        )
        assert r.status_code == 409 and r.json()["reason"] == "APPLICATION_STATE"
        r = client.put(
            f"/api/v1/applications/{app_id}/portrait",
            content=b"not an image",
            headers={**officer, "content-type": "image/jpeg"},
        )
        assert r.status_code == 422 and r.json()["code"] == "portrait_unreadable"
        r = client.put(
            f"/api/v1/applications/{app_id}/portrait",
            content=sample_portrait_bytes(),
            headers={**officer, "content-type": "text/plain"},
        )
        assert r.status_code == 415
        r = client.put(
            f"/api/v1/applications/{app_id}/portrait",
            content=sample_portrait_bytes(),
            headers={**officer, "content-type": "image/jpeg"},
        )
        assert r.json()["passed"], r.json()
        # four eyes: the supervisor approves what the officer created
        assert client.post(f"/api/v1/applications/{app_id}/approval", headers=supervisor).status_code == 200

        # a reader that does not exist: the job fails with the reader layer's reason, nothing is issued
        r = client.post(
            "/api/v1/personalization-jobs",
            json={"application_id": app_id, "reader": "No Such Reader"},
            headers=operator,
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        with session_scope(engine) as s:  # while queued/running the reader is busy for other jobs
            busy = s.get(StationPersonalizationJob, job_id).status in ("queued", "running")
        if busy:
            r = client.post(
                "/api/v1/personalization-jobs",
                json={"application_id": app_id, "reader": "No Such Reader"},
                headers=operator,
            )
            assert r.status_code == 409 and r.json()["code"] == "reader_busy"
        deadline = time.monotonic() + 30
        while (job := client.get(f"/api/v1/personalization-jobs/{job_id}", headers=operator).json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["status"] == "failed" and job["reason"] not in (None, "", "INTERNAL_ERROR"), job
        detail = client.get(f"/api/v1/applications/{app_id}", headers=operator).json()
        assert detail["state"] == "approved" and detail["card_number"] is None  # still in the queue
        assert [e["to_state"] for e in detail["history"]] == ["draft", "ready", "approved"]
        queue = client.get("/api/v1/applications?state=approved", headers=operator).json()
        assert [a["id"] for a in queue] == [app_id]

        r = client.post("/api/v1/applications/999999/approval", headers=supervisor)
        assert r.status_code == 404 and r.json()["code"] == "application_not_found"
    app.state.cancuoc.engine.dispose()
    engine.dispose()
