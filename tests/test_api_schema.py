"""schemathesis against the station API's own OpenAPI schema: no 5xx, every response matches the schema.

Bounded in time: a handful of generated cases per operation (hypothesis ``max_examples``), on SQLite.
Each case carries the bearer token of a role allowed on that operation, so the generated data reaches
the handlers and not only the authorization check.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from pki.workspace import PKI, open_keystore
from population.db import make_engine, session_scope, upgrade_database
from station_api.main import create_app
from station_api.roles import Role
from station_api.services.operators import create_agency, create_operator
from tests.test_api_support import PASSWORD, api_settings

MAX_EXAMPLES = 5
#: Decision: ``positive_data_acceptance`` is left out — cross-field rules JSON Schema cannot state (a verifier
#: needs an agency, an account a password or a certificate) rightly answer 422 to schema-valid bodies.
#: Everything else runs: no 5xx, status codes, content types, headers and bodies as documented, and
#: schema-invalid requests rejected.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
ROLE_FOR_PREFIX = (
    ("/api/v1/operators", Role.ADMIN),
    ("/api/v1/agencies", Role.ADMIN),
    ("/api/v1/citizens", Role.SUPERVISOR),
    ("/api/v1/cards", Role.SUPERVISOR),
    ("/api/v1/verifications", Role.VERIFIER),
    ("/api/v1/pki", Role.PKI_OPERATOR),
    ("/api/v1/audit", Role.AUDITOR),
    ("/api/v1/auth/me", Role.VERIFIER),
)


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Iterator[tuple[object, dict[Role, str]]]:
    home = tmp_path_factory.mktemp("schemathesis_home")
    url = f"sqlite:///{home / 'api.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        create_agency(s, code="bank-a", name="Bank A", permitted_fields=["full_name"], actor="test")
        for role in Role:
            create_operator(
                s,
                username=role.value.replace("_", "-"),
                display_name=role.value,
                role=role,
                actor="test",
                password=PASSWORD,
                agency_code="bank-a" if role is Role.VERIFIER else None,
                scrypt_n=2**10,
            )
    engine.dispose()
    settings_ = api_settings(home, url, api_auth_rate_limit=10_000, api_verification_rate_limit=10_000)
    PKI(settings_.pki_dir, open_keystore(settings_.keystore_dir)).init(now=datetime.now(UTC))
    app = create_app(settings_)
    tokens = {}
    with TestClient(app) as client:
        for role in Role:
            r = client.post("/api/v1/auth/token", json={"username": role.value.replace("_", "-"), "password": PASSWORD})
            tokens[role] = r.json()["access_token"]
    yield app, tokens
    app.state.cancuoc.engine.dispose()


def _check_operation(operation, tokens: dict[Role, str]) -> None:
    role = next((r for prefix, r in ROLE_FOR_PREFIX if operation.path.startswith(prefix)), None)
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        if operation.path == "/api/v1/operators/{operator_id}":
            case.path_parameters = {"operator_id": 999_999}  # never deactivate the accounts in use
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)

    run()


def test_openapi_conformance(station):
    """Every operation of the schema, each with generated cases (schemathesis default checks)."""
    app, tokens = station
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        _check_operation(operation, tokens)


def test_openapi_is_documented(station):
    """Every operation has a summary and declares its problem responses; every request body has an example."""
    app, _tokens = station
    spec = TestClient(app).get("/openapi.json").json()
    components = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), (method, path)
            assert "422" in op["responses"] and "500" in op["responses"], (method, path)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"].get("$ref", "").rsplit("/", 1)[-1]
                assert components[ref].get("examples") or components[ref].get("example"), (method, path, ref)
    assert "Problem" in components and "HTTPValidationError" not in components
