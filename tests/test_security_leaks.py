"""Security review, rule 1 (house rules): secrets — keys, MRZ, CAN, passwords, session keys — never reach
logs, reprs, error messages or saved APDU traces.

End to end on real flows, with every logger at DEBUG: `cancuoc demo` (issue + verify a card in-process),
`cancuoc read` of that card with the CAN and with the MRZ (right and wrong), and the station API's
verification flow (login, challenge, evidence). The secrets used are recorded at their source (the
transport key where it is diversified, session keys where secure messaging is keyed) and searched
in text, upper/lower-case hex and the hex of their ASCII form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cancuoc.settings import get_settings

PASSPHRASE = "Zq7-keystore-passphrase-Wx93"  # a test secret, searched for in the output


# --- capture and search ----------------------------------------------------------------------------


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


def _sql_rows(record: logging.LogRecord) -> bool:
    """SQLAlchemy's DEBUG echo of result rows: reported to population (see test_sql_debug_echo_of_rows)."""
    return record.name.startswith("sqlalchemy.engine") and record.levelno <= logging.DEBUG


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """Every record as a handler would write it: message, arguments, traceback and its messages
    (except SQLAlchemy's DEBUG row echo, tested on its own below)."""
    return "\n".join(_FORMAT.format(r) + " " + repr(r.args) for r in records if not _sql_rows(r))


@contextlib.contextmanager
def captured() -> Iterator[dict[str, Any]]:
    """Root logger (and every existing logger) at DEBUG into a list; stdout and stderr into strings."""
    handler = _ListHandler()
    root = logging.getLogger()
    old_level = root.level
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    old = [(lg, lg.level, lg.disabled) for lg in loggers]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    out, err = io.StringIO(), io.StringIO()
    box: dict[str, Any] = {"records": handler.records}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield box
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg, level, disabled in old:
            lg.setLevel(level)
            lg.disabled = disabled
        box["stdout"], box["stderr"] = out.getvalue(), err.getvalue()


def forms(secret: str | bytes) -> list[str]:
    """The ways a secret can show up in text: itself, its hex (both cases), the hex of its ASCII form."""
    if isinstance(secret, bytes):
        return [secret.hex(), secret.hex().upper(), repr(secret)[2:-1]]
    return [secret, secret.encode().hex(), secret.encode().hex().upper()]


def assert_absent(text: str, secrets: dict[str, str | bytes], where: str) -> None:
    for name, secret in secrets.items():
        for form in forms(secret):
            assert form not in text, f"{name} ({form[:4]}…) leaked into {where}"


@dataclass
class Recorded:
    """Secrets recorded at their source while a flow ran."""

    transport_keys: list[bytes] = field(default_factory=list)
    session_keys: list[bytes] = field(default_factory=list)

    def secrets(self) -> dict[str, bytes]:
        out = {f"transport key {i}": k for i, k in enumerate(self.transport_keys)}
        out.update({f"session key {i}": k for i, k in enumerate(self.session_keys)})
        return out


def record_secrets(mp: pytest.MonkeyPatch) -> Recorded:
    """Wrap the transport-key diversification and the secure-messaging constructor to record keys."""
    import issuance.station
    from icao9303.crypto.sm import SecureMessaging

    rec = Recorded()
    diversify = issuance.station.diversify_transport_key

    def recording_diversify(*a: Any, **kw: Any) -> bytes:
        tk = diversify(*a, **kw)
        rec.transport_keys.append(bytes(tk))
        return tk

    init = SecureMessaging.__init__

    def recording_init(self: Any, cipher: Any, ks_enc: bytes, ks_mac: bytes, *a: Any, **kw: Any) -> None:
        rec.session_keys += [bytes(ks_enc), bytes(ks_mac)]
        init(self, cipher, ks_enc, ks_mac, *a, **kw)

    mp.setattr(issuance.station, "diversify_transport_key", recording_diversify)
    mp.setattr(SecureMessaging, "__init__", recording_init)
    return rec


# --- the demo, then `cancuoc read` of its card -----------------------------------------------------


@dataclass
class DemoRun:
    home: Path
    box: dict[str, Any]
    summary: dict[str, Any]
    rec: Recorded
    mrz_lines: tuple[str, ...]
    mrz_information: str
    personal_id: str
    reprs: list[str]

    @property
    def can(self) -> str:
        return self.personal_id[-6:]

    def without_ids(self, text: str) -> str:
        """`text` with the personal ID and the document number (ID digits 4-12) masked."""
        return text.replace(self.personal_id, "<PID>").replace(self.personal_id[3:], "<DOC>")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """`cancuoc demo` on the in-process chip, once for the module, with everything captured."""
    import issuance.demo
    import issuance.personalize

    home = tmp_path_factory.mktemp("security") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CANCUOC_HOME", str(home))
        mp.delenv("CANCUOC_DATABASE_URL", raising=False)
        mp.setenv("CANCUOC_KEYSTORE_PASSPHRASE", PASSPHRASE)
        get_settings.cache_clear()
        rec = record_secrets(mp)
        seen: dict[str, Any] = {}
        personalize = issuance.personalize.personalize_application
        counter_read = issuance.demo._counter_read

        def keep_outcome(*a: Any, **kw: Any) -> Any:
            seen["outcome"] = personalize(*a, **kw)
            return seen["outcome"]

        def keep_report(*a: Any, **kw: Any) -> Any:
            seen["report"] = counter_read(*a, **kw)
            return seen["report"]

        mp.setattr(issuance.personalize, "personalize_application", keep_outcome)
        mp.setattr(issuance.demo, "_counter_read", keep_report)
        with captured() as box:
            summary = issuance.demo.run_demo(profile="vn-cc-2024", population=30, transport="inprocess",
                                             quiet=False)
        outcome, report = seen["outcome"], seen["report"]
        # The demo validates against an in-memory trust store; `cancuoc read` gets the same on disk.
        from issuance.station import own_trust_store
        from pki.workspace import open_keystore, open_workspace

        settings = get_settings()
        own_trust_store(open_workspace(settings.pki_dir, open_keystore(settings.keystore_dir)), home / "trust")
        comp = outcome.composition
        reprs = [repr(outcome), repr(comp), repr(comp.mrz), repr(comp.data), repr(report),
                 repr(report.document), repr(report.access), repr(report.evidence)]
        yield DemoRun(home, box, summary, rec, tuple(comp.mrz.lines), comp.mrz.mrz_information,
                      comp.data.personal_id, reprs)
    get_settings.cache_clear()


def _demo_secrets(d: DemoRun) -> dict[str, str | bytes]:
    return {"MRZ line 1": d.mrz_lines[0], "MRZ line 2": d.mrz_lines[1], "MRZ text": "".join(d.mrz_lines),
            "MRZ information": d.mrz_information, "key-store passphrase": PASSPHRASE, **d.rec.secrets()}


def test_demo_reaches_every_secret_it_checks(demo: DemoRun) -> None:
    """The search is not vacuous: the flow really used a transport key and SM session keys."""
    assert demo.summary["verification"]["verdict"] == "passed"
    assert demo.rec.transport_keys and len(demo.rec.session_keys) >= 4
    assert len(demo.mrz_information) == 24 and len(demo.can) == 6
    assert demo.box["records"] is not None


def test_demo_logs_output_reprs_and_files_hold_no_secret(demo: DemoRun) -> None:
    secrets = _demo_secrets(demo)
    logs = log_text(demo.box["records"])
    assert_absent(logs, {**secrets, "CAN": demo.can, "personal ID": demo.personal_id}, "demo log records")
    out = demo.box["stdout"] + demo.box["stderr"]
    assert_absent(out, secrets, "demo stdout/stderr")
    # The holder's personal ID and document number (its digits 4-12) are printed on purpose (the
    # read-back summary); the CAN may appear only as their tail.
    assert_absent(demo.without_ids(out), {"CAN": demo.can}, "demo stdout/stderr")
    for r in demo.reprs:
        assert_absent(r, {**secrets, "CAN": demo.can}, f"repr {r[:40]}")
    summary = json.dumps(demo.summary, default=str)
    assert_absent(summary, secrets, "demo summary")
    for path in (demo.home / "out").rglob("*.json"):
        assert_absent(path.read_text(), secrets, str(path.name))


def _read(demo: DemoRun, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], Path]:
    from cancuoc.cli import main

    trace = tmp_path / "trace.json"
    evidence = tmp_path / "evidence.json"
    with captured() as box:
        try:
            rc = main(["read", "--card-state", demo.summary["chip_state"], "--trust-store", str(demo.home / "trust"),
                       "--skip-portrait", "--trace",
                       str(trace), "--save-evidence", str(evidence), *args])
        except SystemExit as exc:  # argparse usage errors
            rc = int(exc.code or 0)
    return rc, box, trace


@pytest.fixture
def in_demo_home(demo: DemoRun, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoRun]:
    monkeypatch.setenv("CANCUOC_HOME", str(demo.home))
    monkeypatch.delenv("CANCUOC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield demo
    get_settings.cache_clear()


@pytest.mark.parametrize("how", ["can", "mrz"])
def test_cancuoc_read_leaks_no_access_key(in_demo_home: DemoRun, tmp_path: Path, how: str) -> None:
    demo = in_demo_home
    with pytest.MonkeyPatch.context() as mp:
        rec = record_secrets(mp)
        for as_json in (False, True):
            key = ["--can", demo.can] if how == "can" else ["--mrz", "\n".join(demo.mrz_lines)]
            rc, box, trace = _read(demo, tmp_path, *key, *(["--json"] if as_json else []))
            assert rc == 0, box["stdout"] + box["stderr"]
            assert rec.session_keys, "the read keyed secure messaging"
            secrets = {**_demo_secrets(demo), **rec.secrets()}
            logs = log_text(box["records"])
            assert_absent(logs, {**secrets, "CAN": demo.can}, "`cancuoc read` log records")
            out = box["stdout"] + box["stderr"]
            assert_absent(out, secrets, "`cancuoc read` output")
            assert_absent(demo.without_ids(out), {"CAN": demo.can}, "`cancuoc read` output")
            saved = trace.read_text()
            assert json.loads(saved)  # a real trace was written
            assert_absent(saved, {**secrets, "CAN": demo.can}, "the saved APDU trace")


@pytest.mark.parametrize(
    "args",
    [
        ["--can", "864209"],  # a wrong CAN: the chip refuses it
        ["--can", "86420x"],  # not a CAN: usage error
        ["--mrz", "IDVNM864209753<<<<<<<<<<<<<<<"],  # not an MRZ: usage error
        ["--mrz", "wrong"],  # a well-formed MRZ of another card: the chip refuses it
    ],
    ids=["wrong-can", "bad-can", "bad-mrz", "wrong-mrz"],
)
def test_cancuoc_read_refusals_do_not_echo_the_key(in_demo_home: DemoRun, tmp_path: Path, args: list[str]) -> None:
    demo = in_demo_home
    if args == ["--mrz", "wrong"]:
        from icao9303.mrz import MRZ

        args = ["--mrz", "\n".join(MRZ.for_vn_card("001090864209", "Nguyễn Sai", dt.date(1990, 1, 1), "M",
                                                      dt.date(2030, 1, 1)).lines)]
    rc, box, trace = _read(demo, tmp_path, *args)
    assert rc in (1, 2)
    tried = args[1]
    text = box["stdout"] + box["stderr"] + log_text(box["records"])
    assert "Traceback" not in text
    parts = {"tried key": tried.replace("\n", "")} | {f"tried line {i}": s for i, s in enumerate(tried.split("\n"))}
    parts["tried key digits"] = "864209"
    assert_absent(text, parts, f"`cancuoc read {args[0]}` refusal")
    if trace.exists():
        assert_absent(trace.read_text(), parts, "the saved APDU trace")


@pytest.mark.parametrize("option", ["--trace", "--save-evidence", "--portrait"])
def test_cancuoc_read_to_an_unwritable_path(in_demo_home: DemoRun, tmp_path: Path, option: str) -> None:
    from cancuoc.cli import main

    demo = in_demo_home
    rc = main(["read", "--card-state", demo.summary["chip_state"], "--trust-store", str(demo.home / "trust"),
               "--can", demo.can, option, str(tmp_path / "no" / "such" / "file")])
    assert rc == 2


# --- the station API's verification flow -----------------------------------------------------------

PID = "079090731946"  # last 6 digits (the CAN) occur nowhere else in the record
OPERATOR_PASSWORD = "pw-8d1c-verifier-secret"  # searched for in logs, responses and the audit log


@pytest.fixture(scope="module")
def api_card() -> Any:
    from icao9303.mrz import MRZ
    from reader.testing import SPECIMEN_DG13, TestPKI, personalize

    mrz = MRZ.for_vn_card(PID, "Nguyễn Văn An", dt.date(1990, 3, 15), "M", dt.date(2030, 3, 15))
    return personalize("vn-cc-2024", TestPKI(at=datetime.now(UTC)), mrz="".join(mrz.lines),
                       dg13={**SPECIMEN_DG13, 1: PID})


def test_station_api_verification_flow_leaks_nothing(workspace: Path, api_card: Any) -> None:
    from fastapi.testclient import TestClient

    from population import cards as registry
    from population.db import make_engine, session_scope, upgrade_database
    from population.testing import make_citizen
    from reader import inspect_card
    from reader.access import can_key
    from reader.trace import ApduTrace
    from reader.transport import InProcessTransport
    from station_api.main import create_app
    from station_api.roles import Role
    from station_api.services.operators import create_agency, create_operator
    from tests.test_api_support import api_settings

    card = api_card
    assert card.can == PID[-6:]
    url = f"sqlite:///{workspace / 'api.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        create_agency(s, code="bank-a", name="Bank A", permitted_fields=["personal_id", "full_name"], actor="t")
        make_citizen(s, personal_id=PID, full_name="Nguyễn Văn An", birth_year=1990, birth_month=3, birth_day=15,
                     sex="M", province="079")
        registry.register_card(s, card_number="C0000077", personal_id=PID, firmware_profile="vn-cc-2024",
                               actor="t")
        registry.mark_issued(s, "C0000077", actor="t", issue_date=dt.date(2021, 3, 15),
                             expiry_date=dt.date(2030, 3, 15),
                             ca_public_key_sha256=registry.public_key_sha256(card.keys["CA"]),
                             aa_public_key_sha256=registry.public_key_sha256(card.keys["AA"]),
                             sod_hash="0" * 64, sod_hash_algorithm="sha256", ds_certificate=card.pki.ds.dump())
        create_operator(s, username="teller", display_name="Teller", role=Role.VERIFIER, actor="t",
                        password=OPERATOR_PASSWORD, agency_code="bank-a", scrypt_n=2**10)
        create_operator(s, username="auditor", display_name="Auditor", role=Role.AUDITOR, actor="t",
                        password=OPERATOR_PASSWORD + "-auditor", scrypt_n=2**10)
    settings = api_settings(workspace, url)
    from pki.workspace import PKI, open_keystore

    PKI(settings.pki_dir, open_keystore(settings.keystore_dir)).init()
    trust = card.pki.trust_store()
    app = create_app(settings, trust_store_factory=lambda: trust)
    mrz_text = card.mrz
    from icao9303.mrz import parse_mrz

    mrz_info = parse_mrz(mrz_text).mrz_information
    with pytest.MonkeyPatch.context() as mp, captured() as box:
        rec = record_secrets(mp)
        with TestClient(app, raise_server_exceptions=False) as client:
            bad = client.post("/api/v1/auth/token", json={"username": "teller", "password": OPERATOR_PASSWORD + "x"})
            assert bad.status_code == 401
            # the password typed into the username field: refused, and not kept in the append-only audit log
            swapped = client.post("/api/v1/auth/token",
                                  json={"username": OPERATOR_PASSWORD, "password": "teller-teller"})
            assert swapped.status_code == 401
            r = client.post("/api/v1/auth/token", json={"username": "teller", "password": OPERATOR_PASSWORD})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            forged = {"Authorization": f"Bearer {token[:-3]}AAA"}
            assert client.post("/api/v1/verifications", headers=forged).status_code == 401
            opened = client.post("/api/v1/verifications", headers=h).json()
            trace = ApduTrace()
            report = inspect_card(InProcessTransport(card.chip), can_key(card.can), trust, at=datetime.now(UTC),
                                  aa_challenge=bytes.fromhex(opened["challenge"]), trace=trace)
            evidence = report.evidence.to_dict()
            r = client.post(f"/api/v1/verifications/{opened['verification_id']}/evidence", json=evidence, headers=h)
            assert r.status_code == 200 and r.json()["decision"] == "accepted", r.text
            # hostile: a bundle whose DG1 is garbage, and one with the MRZ in a wrong-typed field
            again = client.post("/api/v1/verifications", headers=h).json()
            r_bad = client.post(f"/api/v1/verifications/{again['verification_id']}/evidence", headers=h,
                                json={**evidence, "read_at": mrz_text, "access_key_digest": mrz_info})
            assert r_bad.status_code in (200, 422), r_bad.text
            responses = [r.text, r_bad.text, bad.text, swapped.text]
            auditor = client.post("/api/v1/auth/token",
                                  json={"username": "auditor", "password": OPERATOR_PASSWORD + "-auditor"})
            got = client.get("/api/v1/audit/entries?limit=1000",
                             headers={"Authorization": f"Bearer {auditor.json()['access_token']}"})
            assert got.status_code == 200 and len(got.json()) > 5, got.text[:300]
            audit = got.text
    assert rec.session_keys
    secrets: dict[str, str | bytes] = {
        "operator password": OPERATOR_PASSWORD, "bearer token": token, "bearer token MAC": token.split(".")[2],
        "MRZ text": mrz_text, "MRZ information": mrz_info, "CAN": card.can, **rec.secrets()}
    assert_absent(log_text(box["records"]), secrets, "API log records")
    assert_absent(box["stdout"] + box["stderr"], secrets, "API stdout/stderr")
    assert_absent(trace_text := json.dumps([e.__dict__ for e in trace.entries]), secrets, "the APDU trace")
    assert trace_text
    for resp in responses:
        assert_absent(resp.replace(PID, "<PID>"), {k: v for k, v in secrets.items() if k != "bearer token"},
                      "an API response")
    assert "username:<unknown>" in audit and "username:teller" in audit  # refusals are still on record
    assert_absent(audit.replace(PID, "<PID>"), secrets, "the audit log")
    assert_absent(repr(report) + repr(report.evidence) + repr(report.access), secrets, "report reprs")
    with session_scope(engine) as s:
        from sqlalchemy import text

        rows = s.execute(text("SELECT * FROM station_audit_entries")).all()
        assert rows
        assert_absent(repr(rows).replace(PID, "<PID>"), secrets, "audit rows")
    engine.dispose()
    app.state.cancuoc.engine.dispose()
    shutil.rmtree(workspace / "pki", ignore_errors=True)


def test_sql_echo_of_a_default_engine_holds_no_personal_id(workspace: Path) -> None:
    """With the root logger at INFO/DEBUG, an engine from `population.db.make_engine()` (as `cancuoc
    population`, Alembic and the tests build it) logs statement parameters and result rows: every
    personal ID, hence every CAN, and password hashes."""
    from population.db import make_engine, session_scope, upgrade_database
    from population.models import Citizen
    from population.testing import make_citizen

    url = f"sqlite:///{workspace / 'echo.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with captured() as box:
            with session_scope(engine) as s:
                make_citizen(s, personal_id=PID, birth_year=1990, sex="M", province="079")
            with session_scope(engine) as s:
                assert s.get(Citizen, PID) is not None
    finally:
        engine.dispose()
    text = "\n".join(_FORMAT.format(r) + " " + repr(r.args) for r in box["records"])
    assert "citizens" in text  # SQL echo was on
    assert PID[-6:] not in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
