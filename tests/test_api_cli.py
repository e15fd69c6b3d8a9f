"""`cancuoc serve` (real uvicorn, SQLite and PostgreSQL), `--init-admin` and `cancuoc audit verify`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
from sqlalchemy import text

from cancuoc.cli import main
from population.db import make_engine, session_scope


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_on_backend_and_init_admin(workspace, db_url, capsys, monkeypatch):
    if db_url.startswith("sqlite"):  # the embedded default: no URL, the SQLite file in CANCUOC_HOME
        monkeypatch.delenv("CANCUOC_DATABASE_URL", raising=False)
        db_url = f"sqlite:///{workspace / 'population.sqlite3'}"
    else:
        monkeypatch.setenv("CANCUOC_DATABASE_URL", db_url)
    monkeypatch.setenv("CANCUOC_ADMIN_PASSWORD", "a long admin passphrase")
    assert main(["serve", "--init-admin", "root", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["role"] == "admin"
    assert main(["serve", "--init-admin", "root2"]) == 1  # an admin exists already

    port = _free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cancuoc.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}/api/v1/auth/token",
                    json={"username": "root", "password": "a long admin passphrase"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{port}/ready").json()["checks"]["database"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    capsys.readouterr()
    if "sqlite" in db_url:
        assert (workspace / "population.sqlite3").exists()
    assert main(["audit", "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] and report["entries"] == 2  # operator.create + auth.token

    engine = make_engine(db_url)
    with session_scope(engine) as s:
        s.execute(text("UPDATE station_audit_entries SET actor = 'someone-else' WHERE seq = 1"))
    engine.dispose()
    assert main(["audit", "verify"]) == 1
    assert "entry_edited" in capsys.readouterr().out


def test_serve_refuses_default_secret_in_production(workspace, monkeypatch, capsys):
    monkeypatch.setenv("CANCUOC_ENVIRONMENT", "production")
    assert main(["serve", "--no-migrate"]) == 2
    assert "CANCUOC_API_TOKEN_SECRET" in capsys.readouterr().err
