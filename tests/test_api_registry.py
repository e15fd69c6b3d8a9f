"""Citizen lookup and card registry actions through the API (SQLite and PostgreSQL)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_api_support)
from __future__ import annotations

import datetime as dt

from population import cards as registry
from population.db import session_scope
from population.testing import make_citizen
from station_api.roles import Role
from tests.test_api_support import api  # noqa: F401


def _issued_card(api, card_number: str = "C0000001") -> str:
    with session_scope(api.engine) as s:
        pid = make_citizen(s).personal_id
        registry.register_card(s, card_number=card_number, personal_id=pid, firmware_profile="vn-cc-2024", actor="test")
        registry.mark_issued(
            s,
            card_number,
            actor="test",
            issue_date=dt.date(2026, 1, 1),
            expiry_date=dt.date(2030, 3, 15),
            ca_public_key_sha256="c" * 64,
            aa_public_key_sha256="a" * 64,
            sod_hash="0" * 64,
            sod_hash_algorithm="sha256",
            ds_certificate=b"\x30\x00",
        )
    return pid


def test_citizen_lookup_and_card_lifecycle(api):
    pid = _issued_card(api)
    officer = api.headers(Role.ENROLLMENT_OFFICER)
    r = api.client.post("/api/v1/citizens/lookup", json={"personal_id": pid}, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Nguyễn Văn An"
    assert r.json()["residences"]["permanent"]["province_code"] == "001"

    r = api.client.post("/api/v1/citizens/lookup", json={"personal_id": "001090999999"}, headers=officer)
    assert r.status_code == 404 and r.json()["code"] == "citizen_not_found"
    assert "001090999999" not in r.text

    r = api.client.post("/api/v1/cards/search", json={"personal_id": pid}, headers=officer)
    assert [c["status"] for c in r.json()] == ["issued"]

    r = api.client.post("/api/v1/cards/C0000001/loss", json={"stolen": True, "note": "bag stolen"}, headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "stolen"

    supervisor = api.headers(Role.SUPERVISOR)
    r = api.client.post("/api/v1/cards/C0000001/revocation", json={"reason": "double check"}, headers=supervisor)
    assert r.status_code == 409 and r.json()["code"] == "card_state"
    assert r.json()["reason"] == "INVALID_TRANSITION"

    r = api.client.get("/api/v1/cards/C0000001", headers=supervisor)
    assert [e["to_status"] for e in r.json()["history"]] == ["personalized", "issued", "stolen"]
    assert r.json()["history"][-1]["actor"].startswith("operator:")

    r = api.client.get("/api/v1/cards/NOPE0001", headers=supervisor)
    assert r.status_code == 404 and r.json()["code"] == "card_not_found"

    actions = [
        e["action"]
        for e in api.client.get("/api/v1/audit/entries?limit=1000", headers=api.headers(Role.AUDITOR)).json()
    ]
    for action in ("citizen.lookup", "card.search", "card.report_stolen", "card.read"):
        assert action in actions
