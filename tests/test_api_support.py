"""Shared helpers of the station API tests (no tests here): a migrated app, accounts per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from population.db import make_engine, session_scope, upgrade_database
from station_api.main import create_app
from station_api.roles import Role
from station_api.services.operators import create_agency, create_operator
from station_api.settings import ApiSettings

PASSWORD = "correct horse battery staple"


def api_settings(home: Path, db_url: str, **overrides: object) -> ApiSettings:
    values: dict[str, object] = {
        "home": home,
        "database_url": db_url,
        "environment": "development",
        "api_password_scrypt_n": 2**10,
    }
    values.update(overrides)
    return ApiSettings(**values)


@dataclass
class Api:
    client: TestClient
    engine: object
    settings: ApiSettings
    tokens: dict[str, str] = field(default_factory=dict)

    def account(self, role: Role, username: str | None = None, agency: str | None = None) -> str:
        """Create (once) an account with ``role``; return a bearer token for it."""
        username = username or role.value.replace("_", "-")
        if username in self.tokens:
            return self.tokens[username]
        if role is Role.VERIFIER and agency is None:
            agency = "bank-a"
        with session_scope(self.engine) as session:
            create_operator(
                session,
                username=username,
                display_name=username,
                role=role,
                actor="test",
                password=PASSWORD,
                agency_code=agency,
                scrypt_n=2**10,
            )
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def headers(self, role: Role, **kw: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account(role, **kw)}"}


def build_api(home: Path, db_url: str, *, migrate: bool = True, **overrides: object) -> Iterator[Api]:
    if migrate:
        upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        create_agency(
            session, code="bank-a", name="Bank A", permitted_fields=["personal_id", "full_name"], actor="test"
        )
        create_agency(
            session,
            code="post-b",
            name="Post office B",
            permitted_fields=["full_name", "date_of_birth", "place_of_residence"],
            actor="test",
        )
    settings = api_settings(home, db_url, **overrides)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, engine=engine, settings=settings)
    app.state.cancuoc.engine.dispose()
    engine.dispose()


@pytest.fixture
def api(workspace: Path, migrated_db_url: str) -> Iterator[Api]:
    """The app on a migrated database (SQLite, then PostgreSQL), agencies ``bank-a`` and ``post-b``."""
    yield from build_api(workspace, migrated_db_url, migrate=False)


@pytest.fixture
def api_sqlite(workspace: Path) -> Iterator[Api]:
    """The app on the workspace's SQLite file only (for tests whose backend does not matter)."""
    yield from build_api(workspace, f"sqlite:///{workspace / 'api.sqlite3'}")
