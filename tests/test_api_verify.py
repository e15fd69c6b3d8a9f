"""Verification for agencies end to end through the API, on SQLite and PostgreSQL: a virtual chip
(reader.testing) read with the server's challenge, the bundle re-verified by the server.

Refusals: replay of a used challenge, an expired challenge, a challenge from another agency, a bundle
answering another challenge, a cloned chip, a chip swapped under a validly signed SOD, a lost card,
data differing from the population record, a malformed bundle — each with its stable reason.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from sqlalchemy import text

from pki.workspace import PKI, open_keystore
from population import cards as registry
from population.db import make_engine, session_scope, upgrade_database
from population.testing import make_citizen
from reader import inspect_card
from reader.access import can_key
from reader.testing import SPECIMEN_ID, personalize
from reader.testing import TestPKI as _TestPKI
from reader.transport import InProcessTransport
from station_api.main import create_app
from station_api.receipts import ReceiptInvalid, verify_receipt
from station_api.roles import Role
from station_api.services.operators import create_agency
from tests.test_api_support import Api, api_settings

PROFILE = "vn-cc-2024"


@dataclass
class Env:
    api: Api
    pki: _TestPKI
    card: object
    trust_store: object


@pytest.fixture(scope="module")
def chips() -> dict[str, object]:
    """One test PKI and its chips (personalizing is the slow part: shared by the module)."""
    pki = _TestPKI(at=datetime.now(UTC))
    card = personalize(PROFILE, pki)
    return {
        "pki": pki,
        "card": card,
        "clone": personalize(PROFILE, clone_of=card),
        "swapped": personalize(PROFILE, pki),
    }


def _register(engine, card, *, number: str = "C0000001") -> None:
    with session_scope(engine) as s:
        make_citizen(
            s,
            personal_id=SPECIMEN_ID,
            full_name="Nguyễn Văn An",
            birth_year=1990,
            birth_month=3,
            birth_day=15,
            sex="M",
            province="079",
        )
        registry.register_card(s, card_number=number, personal_id=SPECIMEN_ID, firmware_profile=PROFILE, actor="test")
        registry.mark_issued(
            s,
            number,
            actor="test",
            issue_date=dt.date(2021, 3, 15),
            expiry_date=dt.date(2030, 3, 15),
            ca_public_key_sha256=registry.public_key_sha256(card.keys["CA"]),
            aa_public_key_sha256=registry.public_key_sha256(card.keys["AA"]),
            sod_hash="0" * 64,
            sod_hash_algorithm="sha256",
            ds_certificate=card.pki.ds.dump(),
        )


@pytest.fixture(scope="module")
def pki_template(tmp_path_factory) -> Path:
    """An initialised issuer PKI workspace (its Service CA certifies the receipt key), copied per test."""
    home = tmp_path_factory.mktemp("pki_template")
    PKI(home / "pki", open_keystore(home / "keys")).init()
    return home


def _env(workspace: Path, db_url: str, chips, pki_template: Path) -> Iterator[Env]:
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        create_agency(s, code="bank-a", name="Bank A", permitted_fields=["personal_id", "full_name"], actor="t")
        create_agency(s, code="post-b", name="Post B", permitted_fields=["date_of_birth"], actor="t")
    _register(engine, chips["card"])
    trust_store = chips["pki"].trust_store()
    settings = api_settings(workspace, db_url)
    shutil.copytree(pki_template / "pki", settings.pki_dir)
    shutil.copytree(pki_template / "keys", settings.keystore_dir)
    app = create_app(settings, trust_store_factory=lambda: trust_store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Env(Api(client, engine, app.state.cancuoc.settings), chips["pki"], chips["card"], trust_store)
    app.state.cancuoc.engine.dispose()
    engine.dispose()


@pytest.fixture
def env(workspace: Path, migrated_db_url: str, chips, pki_template: Path) -> Iterator[Env]:
    """SQLite and PostgreSQL."""
    yield from _env(workspace, migrated_db_url, chips, pki_template)


@pytest.fixture
def env_sqlite(workspace: Path, chips, pki_template: Path) -> Iterator[Env]:
    """SQLite only, for refusals whose logic does not depend on the backend."""
    url = f"sqlite:///{workspace / 'verify.sqlite3'}"
    upgrade_database(url)
    yield from _env(workspace, url, chips, pki_template)


def _open(env: Env, role_kw: dict | None = None) -> dict:
    r = env.api.client.post("/api/v1/verifications", headers=env.api.headers(Role.VERIFIER, **(role_kw or {})))
    assert r.status_code == 201, r.text
    return r.json()


def _read(env: Env, chip, challenge_hex: str) -> dict:
    report = inspect_card(
        InProcessTransport(chip),
        can_key(env.card.can),
        env.trust_store,
        at=datetime.now(UTC),
        aa_challenge=bytes.fromhex(challenge_hex),
    )
    assert report.evidence is not None
    return report.evidence.to_dict()


def _submit(env: Env, vid: str, evidence: dict, **role_kw) -> object:
    return env.api.client.post(
        f"/api/v1/verifications/{vid}/evidence", json=evidence, headers=env.api.headers(Role.VERIFIER, **role_kw)
    )


def test_genuine_card_accepted_with_agency_fields_and_receipt(env):
    opened = _open(env)
    assert len(bytes.fromhex(opened["challenge"])) == 8 and opened["agency"] == "bank-a"
    r = _submit(env, opened["verification_id"], _read(env, env.card.chip, opened["challenge"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "accepted", body
    assert body["reasons"] == [] and body["chip_verdict"] == "passed" and body["card_status"] == "issued"
    assert body["fields"] == {"personal_id": SPECIMEN_ID, "full_name": "Nguyễn Văn An"}  # bank-a's only
    pem = env.api.client.get("/api/v1/receipts/certificate")
    assert pem.headers["content-type"].startswith("application/pem-certificate-chain")
    cert = x509.load_pem_x509_certificates(pem.content)[0]
    payload = verify_receipt(body["receipt"], cert)
    assert payload["decision"] == "accepted" and payload["verification_id"] == opened["verification_id"]
    assert payload["challenge"] == opened["challenge"] and payload["card_number"] == "C0000001"
    forged = dict(body["receipt"], payload=dict(payload, decision="refused"))
    with pytest.raises(ReceiptInvalid):
        verify_receipt(forged, cert)
    # the receipt key is a service key, never a Document Signer
    assert "Service" in cert.issuer.rfc4514_string() and "Document Signer" not in cert.subject.rfc4514_string()

    # replay of the same (used) challenge
    again = _submit(env, opened["verification_id"], _read(env, env.card.chip, opened["challenge"]))
    assert again.status_code == 409 and again.json()["code"] == "challenge_used"

    entries = env.api.client.get("/api/v1/audit/entries?limit=1000", headers=env.api.headers(Role.AUDITOR)).json()
    decisions = [(e["outcome"], tuple(e["reasons"])) for e in entries if e["action"] == "verification.decision"]
    assert ("accepted", ()) in decisions and ("refused", ("challenge_used",)) in decisions
    assert env.api.client.get("/api/v1/audit/verification", headers=env.api.headers(Role.AUDITOR)).json()["intact"]


def test_other_agency_expired_and_foreign_challenge(env_sqlite):
    env = env_sqlite
    opened = _open(env)
    evidence = _read(env, env.card.chip, opened["challenge"])
    r = _submit(env, opened["verification_id"], evidence, username="post-counter", agency="post-b")
    assert r.status_code == 403 and r.json()["code"] == "forbidden_agency"

    # a bundle answering an old challenge, sent to a new verification
    fresh = _open(env)
    r = _submit(env, fresh["verification_id"], evidence)
    assert r.status_code == 200 and r.json()["decision"] == "refused"
    assert "AA_CHALLENGE_MISMATCH" in r.json()["reasons"] and r.json()["fields"] == {}

    # an expired challenge (its lifetime elapsed)
    late = _open(env)
    with session_scope(env.api.engine) as s:
        s.execute(
            text("UPDATE station_challenges SET expires_at = :t WHERE id = :i"),
            {"t": datetime(2020, 1, 1, tzinfo=UTC), "i": late["verification_id"]},
        )
    r = _submit(env, late["verification_id"], _read(env, env.card.chip, late["challenge"]))
    assert r.status_code == 410 and r.json()["code"] == "challenge_expired"

    r = _submit(env, "00000000-0000-4000-8000-000000000000", evidence)
    assert r.status_code == 404 and r.json()["code"] == "challenge_unknown"


def test_cloned_and_swapped_chips_refused(env_sqlite, chips):
    env = env_sqlite
    opened = _open(env)
    r = _submit(env, opened["verification_id"], _read(env, chips["clone"].chip, opened["challenge"]))
    body = r.json()
    assert body["decision"] == "refused" and "AA_FAILED" in body["reasons"], body
    assert body["fields"] == {}

    # same person, SOD validly signed, but the chip's keys are not the ones bound at issuance
    opened = _open(env)
    r = _submit(env, opened["verification_id"], _read(env, chips["swapped"].chip, opened["challenge"]))
    body = r.json()
    assert body["chip_verdict"] == "passed"
    assert body["decision"] == "refused" and body["reasons"] == ["CHIP_KEY_MISMATCH"], body


def test_lost_card_and_data_mismatch_refused(env):
    r = env.api.client.post(
        "/api/v1/cards/C0000001/loss", json={"stolen": False}, headers=env.api.headers(Role.ENROLLMENT_OFFICER)
    )
    assert r.status_code == 200
    opened = _open(env)
    body = _submit(env, opened["verification_id"], _read(env, env.card.chip, opened["challenge"])).json()
    assert body["decision"] == "refused" and body["reasons"] == ["CARD_LOST"] and body["card_status"] == "lost"

    with session_scope(env.api.engine) as s:
        s.execute(text("UPDATE citizens SET full_name = 'Nguyễn Văn Ân' WHERE personal_id = :p"), {"p": SPECIMEN_ID})
    opened = _open(env)
    body = _submit(env, opened["verification_id"], _read(env, env.card.chip, opened["challenge"])).json()
    assert "DATA_MISMATCH" in body["reasons"] and "DG13.full_name" in body["mismatched_fields"]


def test_malformed_evidence_and_limits(env_sqlite):
    env = env_sqlite
    opened = _open(env)
    bad = {"format": "cancuoc-evidence/1", "read_at": "yesterday", "files": {"DG1": "AAAA"}}
    r = _submit(env, opened["verification_id"], bad)
    assert r.status_code == 200 and r.json()["reasons"] == ["EVIDENCE_INVALID"]
    opened = _open(env)
    r = _submit(env, opened["verification_id"], {"format": "x", "read_at": "y", "files": {"DG1": "not base64!"}})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    huge = {
        "format": "cancuoc-evidence/1",
        "read_at": "y",
        "files": {"DG2": "A" * (env.api.settings.api_max_evidence_bytes * 2)},
    }
    r = _submit(env, opened["verification_id"], huge)
    assert r.status_code == 413
    r = env.api.client.post("/api/v1/verifications", headers=env.api.headers(Role.ENROLLMENT_OFFICER))
    assert r.status_code == 403


def test_both_chip_keys_are_compared_with_the_registry(chips):
    """The server binds a card by its AA (DG15) AND its CA (DG14) public keys: both fingerprints come out of
    the evidence exactly as the registry recorded them at issuance."""
    from station_api.services.verification import _chip_key_fingerprints

    card = chips["card"]
    aa, ca = _chip_key_fingerprints(card.files, None)
    assert aa == registry.public_key_sha256(card.keys["AA"])
    assert ca == registry.public_key_sha256(card.keys["CA"])
