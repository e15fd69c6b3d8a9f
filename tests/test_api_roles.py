"""The full role × endpoint matrix: every cell asserted allowed or forbidden, generated from the route table.

The expected table below is written out by hand (it is the policy under test, not a copy of
``station_api.roles``); a route missing from it fails the test, so no new endpoint escapes the matrix.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_api_support)
from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts

from station_api.roles import Role
from tests.test_api_support import api_sqlite  # noqa: F401

EO, SUP, PERS, VER, PKI, AUD, ADM = (
    Role.ENROLLMENT_OFFICER,
    Role.SUPERVISOR,
    Role.PERSONALIZATION_OPERATOR,
    Role.VERIFIER,
    Role.PKI_OPERATOR,
    Role.AUDITOR,
    Role.ADMIN,
)
ALL = frozenset(Role)
PUBLIC = "public"

EXPECTED: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/certificate"): PUBLIC,
    ("GET", "/api/v1/auth/me"): ALL,
    ("POST", "/api/v1/agencies"): frozenset({ADM}),
    ("GET", "/api/v1/agencies"): frozenset({ADM}),
    ("POST", "/api/v1/operators"): frozenset({ADM}),
    ("GET", "/api/v1/operators"): frozenset({ADM}),
    ("PATCH", "/api/v1/operators/{operator_id}"): frozenset({ADM}),
    ("POST", "/api/v1/citizens/lookup"): frozenset({EO, SUP}),
    ("POST", "/api/v1/cards/search"): frozenset({EO, SUP, PERS}),
    ("GET", "/api/v1/cards/{card_number}"): frozenset({EO, SUP, PERS}),
    ("POST", "/api/v1/cards/{card_number}/loss"): frozenset({EO, SUP}),
    ("POST", "/api/v1/cards/{card_number}/revocation"): frozenset({SUP}),
    ("GET", "/api/v1/audit/entries"): frozenset({AUD}),
    ("GET", "/api/v1/audit/verification"): frozenset({AUD}),
    ("POST", "/api/v1/verifications"): frozenset({VER}),
    ("POST", "/api/v1/verifications/{verification_id}/evidence"): frozenset({VER}),
    ("GET", "/api/v1/receipts/certificate"): PUBLIC,
    ("POST", "/api/v1/cards/{card_number}/replacement"): frozenset({EO, SUP}),
    ("POST", "/api/v1/applications"): frozenset({EO, SUP}),
    ("GET", "/api/v1/applications"): frozenset({EO, SUP, PERS}),
    ("GET", "/api/v1/applications/{application_id}"): frozenset({EO, SUP, PERS}),
    ("PUT", "/api/v1/applications/{application_id}/portrait"): frozenset({EO, SUP}),
    ("POST", "/api/v1/applications/{application_id}/approval"): frozenset({SUP}),
    ("POST", "/api/v1/applications/{application_id}/rejection"): frozenset({SUP}),
    ("POST", "/api/v1/personalization-jobs"): frozenset({PERS}),
    ("GET", "/api/v1/personalization-jobs/{job_id}"): frozenset({PERS, SUP}),
    ("GET", "/api/v1/pki/status"): frozenset({PKI}),
    ("POST", "/api/v1/pki/document-signers/rotation"): frozenset({PKI}),
    ("POST", "/api/v1/pki/crls"): frozenset({PKI}),
    ("POST", "/api/v1/pki/revocations"): frozenset({PKI}),
    ("GET", "/api/v1/pki/master-list"): frozenset({PKI}),
    ("POST", "/api/v1/pki/approvals"): frozenset({PKI}),
    ("GET", "/api/v1/pki/approvals"): frozenset({PKI}),
    ("POST", "/api/v1/pki/approvals/{approval_id}/approve"): frozenset({PKI}),
}

PATH_VALUES = {
    "operator_id": "1",
    "card_number": "C0000001",
    "verification_id": "00000000-0000-4000-8000-000000000000",
    "approval_id": "00000000-0000-4000-8000-000000000000",
    "application_id": "1",
    "job_id": "00000000-0000-4000-8000-000000000000",
}


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):  # flattens included routers (FastAPI ≥ 0.16x)
        methods = route.methods or set()
        for method in methods - {"HEAD", "OPTIONS"}:
            found.add((method, route.path))
    return found


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def test_every_route_is_in_the_matrix(api_sqlite):
    routes = _routes(api_sqlite.client.app)
    missing = routes - set(EXPECTED)
    assert not missing, f"routes without a row in the role matrix: {sorted(missing)}"
    assert len(routes) >= 20


def test_role_matrix(api_sqlite):
    app = api_sqlite.client.app
    routes = sorted(_routes(app) & set(EXPECTED))
    headers = {role: api_sqlite.headers(role) for role in Role}
    cells = 0
    for method, path in routes:
        allowed = EXPECTED[(method, path)]
        url = _fill(path)
        kwargs = {"json": {}} if method in ("POST", "PATCH") else {}
        if method == "PUT":  # the portrait upload takes an image body
            kwargs = {"content": b"\xff\xd8\xff", "headers": {"content-type": "image/jpeg"}}
        if allowed is PUBLIC:
            r = api_sqlite.client.request(method, url, **kwargs)
            if r.status_code in (401, 403):  # a login endpoint refusing bad credentials, not a bearer check
                assert r.json()["code"] not in ("unauthenticated", "forbidden_role"), (method, path)
            continue
        r = api_sqlite.client.request(method, url, **kwargs)
        assert r.status_code == 401, (method, path, "anonymous", r.status_code)
        for role in Role:
            extra = dict(kwargs)
            extra["headers"] = {**headers[role], **kwargs.get("headers", {})}
            r = api_sqlite.client.request(method, url, **extra)
            cells += 1
            if role in allowed:
                assert r.status_code not in (401, 403), (method, path, role.value, r.status_code, r.text)
            else:
                assert r.status_code == 403, (method, path, role.value, r.status_code)
                assert r.json()["code"] == "forbidden_role"
    assert cells >= 7 * 10
    auditor = headers[Role.AUDITOR]
    denied = [
        e
        for e in api_sqlite.client.get("/api/v1/audit/entries?limit=1000", headers=auditor).json()
        if e["action"] == "access.denied"
    ]
    assert denied, "refusals must be audited"
    assert api_sqlite.client.get("/api/v1/audit/verification", headers=auditor).json()["intact"]
