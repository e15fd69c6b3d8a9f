"""Benchmark of the station API: uvicorn on loopback, a load generator in separate processes.

1. Verification with full server-side re-verification (PostgreSQL): each request pair is
   ``POST /api/v1/verifications`` (fresh AA challenge) then ``POST .../evidence`` (the bundle of a
   vn-cc-2024 virtual chip; the generator answers each challenge with the chip's AA key, as the chip
   would). Requests/s and latency (median, p99) of the evidence POST — beside the same re-verification
   called in-process: ``reader.reverify`` alone, and the whole service (``open_verification`` +
   ``submit_evidence``: re-verify, registry, population, receipt, audit) on the same database — the
   ceiling.
2. Citizen lookups/s on PostgreSQL with 1 million citizens (``population.seed``; the database
   ``cancuoc_bench_api_1m`` is kept and reused) — beside a bare SQL select by primary key (the floor).

Every lookup and every decision writes a hash-chained audit entry (one serialization point, by design).

Run: .venv/bin/python benchmarks/bench_api.py [--seconds 10] [--clients 4] [--workers 2] [--citizens 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG = "postgresql://postgres@127.0.0.1:5432"
BENCH_DB = "cancuoc_bench_api_1m"
PASSWORD = "benchmark passphrase 0001"
PROFILE = "vn-cc-2024"


def row(name: str, value: str) -> None:
    print(f"{name:<58} {value}", flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def lat(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.2f} ms  p99 {pct(values, 99) * 1000:7.2f} ms"


# --- database ------------------------------------------------------------------------------------------


def prepare_database(citizens: int) -> str:
    import psycopg

    from population.db import make_engine, upgrade_database
    from population.seed import seed_population

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
    upgrade_database(url)
    with psycopg.connect(f"{PG}/{BENCH_DB}") as conn:
        have = conn.execute("SELECT count(*) FROM citizens").fetchone()[0]
    if have < citizens:
        t0 = time.perf_counter()
        engine = make_engine(url)
        seed_population(engine, citizens - have, seed=int(time.time()))
        engine.dispose()
        row("seed citizens (not measured below)", f"{citizens - have:,} in {time.perf_counter() - t0:.0f} s")
        with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
            conn.execute("ANALYZE")
    # a clean slate for what the benchmark itself writes
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute(
            "TRUNCATE station_challenges, station_audit_entries, station_audit_head, "
            "station_personalization_jobs, station_pki_approvals, station_operators, "
            "station_agencies CASCADE"
        )
    return url


def register_card(url: str, card: Any) -> None:
    import datetime as dt

    from sqlalchemy import text

    from population import cards as registry
    from population.db import make_engine, session_scope
    from population.testing import make_citizen
    from reader.testing import SPECIMEN_ID
    from station_api.roles import Role
    from station_api.services.operators import create_agency, create_operator

    engine = make_engine(url)
    with session_scope(engine) as s:
        for table in ("card_events", "cards", "family_links", "residences", "citizen_changes", "citizens"):
            s.execute(text(f"DELETE FROM {table} WHERE personal_id = :p"), {"p": SPECIMEN_ID})
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
        number = f"B{random.randrange(10**9):09d}"
        registry.register_card(s, card_number=number, personal_id=SPECIMEN_ID, firmware_profile=PROFILE, actor="bench")
        registry.mark_issued(
            s,
            number,
            actor="bench",
            issue_date=dt.date(2021, 3, 15),
            expiry_date=dt.date(2030, 3, 15),
            ca_public_key_sha256=registry.public_key_sha256(card.keys["CA"]),
            aa_public_key_sha256=registry.public_key_sha256(card.keys["AA"]),
            sod_hash="0" * 64,
            sod_hash_algorithm="sha256",
            ds_certificate=card.pki.ds.dump(),
        )
        create_agency(s, code="bank-a", name="Bank A", permitted_fields=["personal_id", "full_name"], actor="bench")
        create_operator(
            s,
            username="counter",
            display_name="counter",
            role=Role.VERIFIER,
            actor="bench",
            password=PASSWORD,
            agency_code="bank-a",
            scrypt_n=2**10,
        )
        create_operator(
            s,
            username="officer",
            display_name="officer",
            role=Role.ENROLLMENT_OFFICER,
            actor="bench",
            password=PASSWORD,
            scrypt_n=2**10,
        )
    engine.dispose()


# --- the load generator (separate processes) -----------------------------------------------------------


def _client(base: str) -> Any:
    import httpx

    return httpx.Client(base_url=base, timeout=30)


def _token(client: Any, username: str) -> str:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return r.json()["access_token"]


def verify_worker(base: str, evidence: dict, aa_key_der: bytes, aa_hash: str, seconds: float, out: Any) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    from icao9303.crypto.aa import active_authentication_sign

    key = load_der_private_key(aa_key_der, None)
    client = _client(base)
    headers = {"Authorization": f"Bearer {_token(client, 'counter')}"}
    evidence_lat: list[float] = []
    pair_lat: list[float] = []
    refused = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        opened = client.post("/api/v1/verifications", headers=headers).json()
        challenge = bytes.fromhex(opened["challenge"])
        signature = active_authentication_sign(key, challenge, hash_algorithm=aa_hash)  # the chip's answer
        body = dict(evidence, aa={"challenge": challenge.hex(), "signature": signature.hex()})
        t1 = time.perf_counter()
        r = client.post(f"/api/v1/verifications/{opened['verification_id']}/evidence", json=body, headers=headers)
        t2 = time.perf_counter()
        if r.status_code != 200 or r.json()["decision"] != "accepted":
            refused += 1
        evidence_lat.append(t2 - t1)
        pair_lat.append(t2 - t0)
    out.put((evidence_lat, pair_lat, refused))


def lookup_worker(base: str, ids: list[str], seconds: float, out: Any) -> None:
    client = _client(base)
    headers = {"Authorization": f"Bearer {_token(client, 'officer')}"}
    latencies: list[float] = []
    errors = 0
    rng = random.Random(os.getpid())
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        r = client.post("/api/v1/citizens/lookup", json={"personal_id": rng.choice(ids)}, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors += 1
    out.put((latencies, errors))


def threaded(target: Any, threads: int, *args: Any) -> None:
    """One load process: ``threads`` clients (each its own connection), results put on the queue."""
    import queue
    import threading

    seconds, out = args[-2], args[-1]
    local: queue.Queue = queue.Queue()
    pool = [threading.Thread(target=target, args=(*args[:-2], seconds, local)) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for _ in pool:
        out.put(local.get())


def run_clients(target: Any, args_for: list[tuple], seconds: float, threads: int = 1) -> list[Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=threaded, args=(target, threads, *a, seconds, out)) for a in args_for]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in range(len(procs) * threads)]
    for p in procs:
        p.join()
    return results


# --- the server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, url: str, workers: int) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = dict(
        os.environ,
        CANCUOC_HOME=str(home),
        CANCUOC_DATABASE_URL=url,
        CANCUOC_API_VERIFICATION_RATE_LIMIT="1000000000",
        CANCUOC_API_AUTH_RATE_LIMIT="1000000",
        CANCUOC_API_PASSWORD_SCRYPT_N="1024",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cancuoc.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-migrate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/ready", timeout=2).json()["ready"]:
                return proc, base
        except (httpx.TransportError, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        time.sleep(0.3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each load phase")
    ap.add_argument("--clients", type=int, default=2, help="load generator processes")
    ap.add_argument("--threads", type=int, default=4, help="concurrent clients per load process")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--citizens", type=int, default=1_000_000)
    ap.add_argument("--inprocess", type=int, default=200, help="in-process iterations")
    args = ap.parse_args()

    import psycopg

    from pki.truststore import TrustStore
    from pki.workspace import PKI, open_keystore
    from reader import inspect_card, reverify
    from reader.access import can_key
    from reader.testing import TestPKI, personalize
    from reader.transport import InProcessTransport

    print(
        f"station API benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"uvicorn workers {args.workers} (httptools), {args.clients}x{args.threads} clients, {args.seconds:.0f} s/phase"
    )
    print("-" * 110)
    url = prepare_database(args.citizens)
    home = Path(tempfile.mkdtemp(prefix="cancuoc_bench_api_"))
    try:
        # the country's test PKI (signs the chip) goes into the service's trust store; the issuer PKI
        # workspace gives the receipt key
        test_pki = TestPKI(at=datetime.now(UTC))
        store = TrustStore(home / "trust")
        store.add_csca(test_pki.csca)
        store.add_crl(test_pki.crl)
        PKI(home / "pki", open_keystore(home / "keys")).init()
        card = personalize(PROFILE, test_pki)
        register_card(url, card)
        report = inspect_card(
            InProcessTransport(card.chip),
            can_key(card.can),
            test_pki.trust_store(),
            at=datetime.now(UTC),
            aa_challenge=os.urandom(8),
        )
        evidence = report.evidence.to_dict()
        size = len(report.evidence.to_bytes())

        # ceiling 1: reverify alone, in-process
        ts = test_pki.trust_store()
        bundle = report.evidence
        times = []
        for _ in range(args.inprocess):
            t0 = time.perf_counter()
            r = reverify(bundle, ts, at=datetime.now(UTC), expected_aa_challenge=bundle.aa_challenge)
            times.append(time.perf_counter() - t0)
        assert r.verdict.value == "passed", r.reasons
        row("in-process reader.reverify (ceiling)", f"{1 / statistics.median(times):8.0f} /s   {lat(times)}")

        # ceiling 2: the whole service in-process (same DB, receipt, audit)
        inprocess_service(url, home, card, evidence, ts, args.inprocess)

        # over HTTP
        proc, base = start_server(home, url, args.workers)
        try:
            aa_key = bytes(card.state.aa_private_key)
            aa_hash = card.profile.active_authentication.hash
            results = run_clients(
                verify_worker, [(base, evidence, aa_key, aa_hash)] * args.clients, args.seconds, args.threads
            )
            ev = [x for r in results for x in r[0]]
            pair = [x for r in results for x in r[1]]
            refused = sum(r[2] for r in results)
            row(
                f"HTTP verification, evidence POST ({size // 1024} KB bundle)",
                f"{len(ev) / args.seconds:8.0f} /s   {lat(ev)}",
            )
            row(
                "HTTP verification, challenge + evidence pair",
                f"{len(pair) / args.seconds:8.0f} /s   {lat(pair)}" + (f"   REFUSED {refused}" if refused else ""),
            )

            with psycopg.connect(f"{PG}/{BENCH_DB}") as conn:
                ids = [
                    r[0] for r in conn.execute("SELECT personal_id FROM citizens TABLESAMPLE SYSTEM (1) LIMIT 20000")
                ]
                n = conn.execute("SELECT count(*) FROM citizens").fetchone()[0]
            results = run_clients(lookup_worker, [(base, ids)] * args.clients, args.seconds, args.threads)
            lk = [x for r in results for x in r[0]]
            errors = sum(r[1] for r in results)
            row(
                f"HTTP citizen lookup ({n:,} citizens, audited)",
                f"{len(lk) / args.seconds:8.0f} /s   {lat(lk)}" + (f"   ERRORS {errors}" if errors else ""),
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

        # floor: bare SQL by primary key
        with psycopg.connect(f"{PG}/{BENCH_DB}") as conn:
            times = []
            end = time.perf_counter() + min(args.seconds, 5)
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                conn.execute("SELECT * FROM citizens WHERE personal_id = %s", (random.choice(ids),)).fetchone()
                times.append(time.perf_counter() - t0)
        row(
            "floor: bare SQL select by personal ID (1 connection)",
            f"{1 / statistics.median(times):8.0f} /s   {lat(times)}",
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def inprocess_service(url: str, home: Path, card: Any, evidence: dict, trust_store: Any, n: int) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from icao9303.crypto.aa import active_authentication_sign
    from pki.workspace import PKI, open_keystore
    from population.db import make_engine
    from population.models.station import StationOperator
    from station_api.pki_access import PkiReceiptSigner
    from station_api.roles import Role
    from station_api.services import verification
    from station_api.services.operators import Principal

    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    signer = PkiReceiptSigner(PKI(home / "pki", open_keystore(home / "keys")))
    key = load_der_private_key(bytes(card.state.aa_private_key), None)
    with sessions() as s:
        op = s.execute(select(StationOperator).where(StationOperator.username == "counter")).scalar_one()
        principal = Principal(op.id, op.username, Role.VERIFIER, "bank-a", "password")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with sessions() as s:
            ch = verification.open_verification(s, principal, lifetime_s=60)
            sig = active_authentication_sign(
                key, bytes(ch.challenge), hash_algorithm=card.profile.active_authentication.hash
            )
            body = dict(evidence, aa={"challenge": bytes(ch.challenge).hex(), "signature": sig.hex()})
            out = verification.submit_evidence(
                s, principal, ch.id, body, trust_store=trust_store, receipt_signer=signer
            )
        times.append(time.perf_counter() - t0)
        assert out.decision.value == "accepted", out.reasons
    engine.dispose()
    row("in-process service: challenge + decide (ceiling)", f"{1 / statistics.median(times):8.0f} /s   {lat(times)}")


if __name__ == "__main__":
    main()
