"""Station API: authentication, problem details, audit chain, health — over SQLite and PostgreSQL."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_api_support)

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from population.db import session_scope
from station_api.roles import Role
from tests.test_api_support import PASSWORD, api, api_sqlite  # noqa: F401  (fixtures)


def test_login_and_me(api):
    headers = api.headers(Role.VERIFIER)
    r = api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "verifier" and body["agency"] == "bank-a"
    assert "verifications:run" in body["permissions"]


def test_bad_password_is_problem_and_audited(api):
    api.account(Role.AUDITOR)
    r = api.client.post("/api/v1/auth/token", json={"username": "auditor", "password": "wrong"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_credentials"
    assert "wrong" not in r.text
    entries = api.client.get("/api/v1/audit/entries", headers=api.headers(Role.AUDITOR)).json()
    refused = [e for e in entries if e["action"] == "auth.token" and e["outcome"] == "refused"]
    assert refused and refused[-1]["reasons"] == ["invalid_credentials"]


def test_missing_and_forged_tokens(api):
    assert api.client.get("/api/v1/auth/me").json()["code"] == "unauthenticated"
    token = api.account(Role.ADMIN)
    head, payload, mac = token.split(".")
    forged = f"{head}.{payload[:-2]}AA.{mac}"
    r = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"


def test_deactivated_account_loses_its_token(api):
    verifier = api.headers(Role.VERIFIER)
    admin = api.headers(Role.ADMIN)
    ops = api.client.get("/api/v1/operators", headers=admin).json()
    vid = next(o["id"] for o in ops if o["role"] == "verifier")
    r = api.client.patch(f"/api/v1/operators/{vid}", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    r = api.client.get("/api/v1/auth/me", headers=verifier)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"


def test_validation_error_never_echoes_input(api_sqlite):
    secret_like = "IDVNM0900123450079090012345<<0"
    r = api_sqlite.client.post("/api/v1/auth/token", json={"username": secret_like, "password": "x"})
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert secret_like not in r.text


def test_body_limit(api_sqlite):
    big = "x" * (api_sqlite.settings.api_max_portrait_bytes * 2)
    r = api_sqlite.client.post("/api/v1/auth/token", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


def test_auth_rate_limit(api_sqlite):
    api_sqlite.client.app.state.cancuoc.auth_limiter._clock = lambda: 30.0  # one fixed window
    codes = [
        api_sqlite.client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"}).status_code
        for _ in range(api_sqlite.settings.api_auth_rate_limit + 2)
    ]
    assert codes[: api_sqlite.settings.api_auth_rate_limit] == [401] * api_sqlite.settings.api_auth_rate_limit
    assert codes[-1] == 429


def test_health_ready_metrics(api):
    assert api.client.get("/health").json() == {"status": "ok"}
    r = api.client.get("/ready")
    assert r.json()["checks"]["database"] == "ok"
    metrics = api.client.get("/metrics").text
    assert "cancuoc_http_requests_total" in metrics and 'route="/health"' in metrics


def test_audit_chain_detects_edit_delete_reorder(api):
    for role in (Role.ADMIN, Role.AUDITOR, Role.SUPERVISOR, Role.VERIFIER):
        api.account(role)
    auditor = api.headers(Role.AUDITOR)
    r = api.client.get("/api/v1/audit/verification", headers=auditor)
    assert r.json()["intact"] is True and r.json()["entries"] >= 6

    with session_scope(api.engine) as s:  # edit one entry's details
        row = s.execute(text("SELECT seq, details FROM station_audit_entries WHERE seq = 3")).one()
        details = json.loads(row.details)
        details["tampered"] = True
        s.execute(text("UPDATE station_audit_entries SET details = :d WHERE seq = 3"), {"d": json.dumps(details)})
    body = api.client.get("/api/v1/audit/verification", headers=auditor).json()
    assert body["intact"] is False
    assert {"seq": 3, "reason": "entry_edited"} in [{"seq": p["seq"], "reason": p["reason"]} for p in body["problems"]]


def test_audit_chain_detects_deletion_and_reorder(api_sqlite):
    from station_api.audit import AuditChainBroken, verify_audit_log, verify_chain

    for role in (Role.ADMIN, Role.AUDITOR, Role.SUPERVISOR):
        api_sqlite.account(role)
    with session_scope(api_sqlite.engine) as s:
        verify_audit_log(s)
        s.execute(text("DELETE FROM station_audit_entries WHERE seq = 2"))
    with session_scope(api_sqlite.engine) as s:
        reasons = {p.reason for p in verify_chain(s).problems}
        assert {"entry_missing", "chain_broken"} <= reasons
        try:
            verify_audit_log(s)
        except AuditChainBroken as exc:
            assert exc.result.problems
        else:
            raise AssertionError("verify_audit_log accepted a broken chain")


def test_one_address_cannot_spray_a_password_over_many_accounts(api_sqlite):
    """The per-account limit alone lets one address try one password on every account: the address-wide
    limit stops it (and refusals are 429 with Retry-After)."""
    limit = api_sqlite.settings.api_auth_address_rate_limit
    state = api_sqlite.client.app.state.cancuoc
    for limiter in (state.auth_limiter, state.auth_address_limiter):
        limiter._clock = lambda: 30.0  # one fixed window: the 101 logins must not straddle a minute boundary
    codes = [
        api_sqlite.client.post("/api/v1/auth/token", json={"username": f"user{i}", "password": "Spring2026!"})
        for i in range(limit + 1)
    ]
    assert {r.status_code for r in codes[:limit]} == {401}
    assert codes[-1].status_code == 429 and int(codes[-1].headers["retry-after"]) >= 1


def test_rate_limiter_windows_and_key_flood_stay_bounded():
    from station_api.errors import RateLimited
    from station_api.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    limiter.MAX_KEYS = 3
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(RateLimited):
        limiter.hit("a")
    limiter.hit("b")
    limiter.hit("c")
    with pytest.raises(RateLimited):  # a fourth distinct key in the same window: no room, refused
        limiter.hit("d")
    now[0] = 61.0  # next window: everything counts from zero again
    limiter.hit("a")
    limiter.hit("d")
