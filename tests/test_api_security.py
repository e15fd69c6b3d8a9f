"""Station client certificates through the trusted proxy, token expiry, errors without internals,
settings that refuse default secrets, the rate limiter's window."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from population.db import make_engine, session_scope, upgrade_database
from station_api.errors import RateLimited
from station_api.main import create_app
from station_api.ratelimit import RateLimiter
from station_api.roles import Role
from station_api.security import TokenCodec
from station_api.services.operators import create_agency, create_operator
from station_api.settings import ApiSettings
from tests.test_api_support import Api, api_settings


def _cert(cn: str, *, days: int = 30, start: datetime | None = None) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = start or datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


def _app(workspace: Path, **overrides) -> Iterator[Api]:
    url = f"sqlite:///{workspace / 'sec.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        create_agency(s, code="bank-a", name="Bank A", permitted_fields=["full_name"], actor="test")
    settings = api_settings(workspace, url, **overrides)
    app = create_app(settings, **overrides.pop("_factories", {}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, engine, settings)
    app.state.cancuoc.engine.dispose()
    engine.dispose()


@pytest.fixture
def proxied(workspace: Path) -> Iterator[Api]:
    """The TestClient's address ("testclient") counts as the trusted TLS proxy."""
    yield from _app(workspace, api_trusted_proxies=["testclient"])


def test_station_certificate_login(proxied):
    pem = _cert("station-hn-01")
    with session_scope(proxied.engine) as s:
        create_operator(
            s,
            username="station-hn-01",
            display_name="Station HN 01",
            role=Role.PERSONALIZATION_OPERATOR,
            actor="test",
            cert_pem=pem,
            scrypt_n=2**10,
        )
    header = {"x-client-certificate": urllib.parse.quote(pem)}
    r = proxied.client.post("/api/v1/auth/certificate", headers=header)
    assert r.status_code == 200, r.text
    me = proxied.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["method"] == "client_certificate" and me.json()["role"] == "personalization_operator"

    other = {"x-client-certificate": urllib.parse.quote(_cert("unknown-station"))}
    r = proxied.client.post("/api/v1/auth/certificate", headers=other)
    assert r.status_code == 401 and r.json()["code"] == "client_certificate_refused"
    expired = {"x-client-certificate": urllib.parse.quote(_cert("old", days=1, start=datetime(2020, 1, 1, tzinfo=UTC)))}
    assert (
        proxied.client.post("/api/v1/auth/certificate", headers=expired).json()["code"] == "client_certificate_refused"
    )
    garbage = {"x-client-certificate": "-----BEGIN%20CERTIFICATE-----%0Anope"}
    assert proxied.client.post("/api/v1/auth/certificate", headers=garbage).status_code == 401


def test_certificate_header_ignored_from_untrusted_address(workspace):
    for api in _app(workspace):  # default trusted proxies: loopback only; the TestClient is not one
        r = api.client.post("/api/v1/auth/certificate", headers={"x-client-certificate": "x"})
        assert r.status_code == 401 and r.json()["code"] == "client_certificate_refused"
        assert "proxy" in r.json()["detail"]


def test_token_expiry_and_tampering():
    codec = TokenCodec(b"0123456789abcdef0123456789abcdef", lifetime_s=60)
    token, _claims = codec.issue(7, "auditor", None, "password", now=1_000_000)
    assert codec.verify(token, now=1_000_059).operator_id == 7
    with pytest.raises(Exception) as exc:
        codec.verify(token, now=1_000_060)
    assert exc.value.code == "token_expired"
    other = TokenCodec(b"another secret of at least 32 bytes!", lifetime_s=60)
    with pytest.raises(Exception) as exc:
        other.verify(token, now=1_000_001)
    assert exc.value.code == "token_invalid"


def test_internal_errors_reveal_nothing(workspace, caplog):
    class Exploding:
        certificate_der = b""
        ca_certificate_der = None
        algorithm = "ecdsa-with-SHA256"

        def sign(self, data: bytes) -> bytes:
            raise RuntimeError("IDVNM0900123450079090012345 CAN 012345 key=deadbeef")

    for api in _app(
        workspace,
        _factories={
            "receipt_signer_factory": Exploding,
            "trust_store_factory": lambda: (_ for _ in ()).throw(OSError("/secret")),
        },
    ):
        caplog.set_level(logging.DEBUG)
        r = api.client.get("/api/v1/receipts/certificate")
        assert r.status_code == 500 and r.json()["code"] == "internal_error" and "request_id" in r.json()
        for text in (r.text, caplog.text):
            assert "0900123450" not in text and "012345" not in text and "Traceback" not in text
        r = api.client.post(
            "/api/v1/verifications/00000000-0000-4000-8000-000000000000/evidence",
            json={"format": "x", "read_at": "y", "files": {}},
            headers=api.headers(Role.VERIFIER),
        )
        assert r.status_code == 503 and r.json()["code"] == "service_unavailable" and "/secret" not in r.text
        assert api.client.get("/ready").status_code == 503


def test_settings_refuse_default_secrets_outside_development(workspace):
    with pytest.raises(ValidationError):
        ApiSettings(home=workspace, environment="production")
    with pytest.raises(ValidationError):
        ApiSettings(home=workspace, environment="staging", api_token_secret="short")
    ok = ApiSettings(home=workspace, environment="production", api_token_secret="x" * 40)
    assert ok.api_token_secret.get_secret_value() not in repr(ok)


def test_rate_limiter_window():
    now = [0.0]
    limiter = RateLimiter(limit=2, window_s=10, clock=lambda: now[0])
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(RateLimited) as exc:
        limiter.hit("a")
    assert exc.value.headers["Retry-After"] == "10"
    limiter.hit("b")  # keys are independent
    now[0] = 10.0
    limiter.hit("a")  # a new window


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=200).map(lambda b: "v1." + b.hex() + ".AAAA"))
def test_hostile_tokens_only_unauthenticated(token):
    from station_api.errors import Unauthenticated

    codec = TokenCodec(b"0123456789abcdef0123456789abcdef", lifetime_s=60)
    with pytest.raises(Unauthenticated):
        codec.verify(token)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_hostile_certificate_headers_only_unauthenticated(header):
    from station_api.errors import Unauthenticated
    from station_api.security import parse_forwarded_certificate

    with pytest.raises(Unauthenticated):
        parse_forwarded_certificate(header)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=300))
def test_hostile_password_hashes_never_crash(password, stored):
    from station_api.errors import Unauthenticated
    from station_api.security import verify_password

    with pytest.raises(Unauthenticated):
        verify_password(password, stored)
