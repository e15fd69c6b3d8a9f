"""Population benchmark on PostgreSQL: DC01 import rate, lookups by personal ID under concurrent clients
beside a bare psycopg primary-key SELECT (the floor), and duplicate detection found vs planted.

    .venv/bin/python benchmarks/bench_population.py                 # 1,000,000 citizens
    .venv/bin/python benchmarks/bench_population.py --count 10000000
    .venv/bin/python benchmarks/bench_population.py --count 50000   # quick

A database ``cancuoc_bench_<random>`` is created on the server and dropped afterwards (--keep keeps it).
Figures only: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from population import find_citizen, make_engine, upgrade_database
from population.citizens import citizen_view
from population.db import read_only_engine
from population.intake import import_dc01
from population.quality import quality_report
from population.seed import dc01_rows
from population.validation import DC01_COLUMNS


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def row(name: str, value: str) -> None:
    print(f"{name:<44} {value}", flush=True)


def run_clients(clients: int, per_client: int, ids: list[str], make_worker) -> tuple[list[float], float]:
    """Run ``clients`` threads, each doing ``per_client`` calls; returns latencies (s) and wall time."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def body(k: int) -> None:
        call, close = make_worker()
        rng = random.Random(k)
        picks = [rng.choice(ids) for _ in range(per_client)]
        for pid in picks[:20]:  # warm-up (prepared statements, pool)
            call(pid)
        barrier.wait()
        out = latencies[k]
        for pid in picks:
            t0 = time.perf_counter()
            call(pid)
            out.append(time.perf_counter() - t0)
        close()

    threads = [threading.Thread(target=body, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for lat in latencies for x in lat], wall


def report_latency(name: str, lat: list[float], wall: float) -> None:
    row(name, f"median {statistics.median(lat) * 1e3:7.3f} ms   p99 {pct(lat, 99) * 1e3:7.3f} ms   "
              f"{len(lat) / wall:9,.0f} lookups/s")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # run the finally blocks (drop the database) on SIGTERM too


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000, help="citizens (10000000 for the 10M run)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--lookups", type=int, default=5000, help="lookups per client")
    ap.add_argument("--duplicate-rate", type=float, default=0.005)
    ap.add_argument("--error-rate", type=float, default=0.01)
    ap.add_argument("--server", default=os.environ.get("CANCUOC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--reuse-database", metavar="NAME", help="a database kept by --keep: skip the import")
    ap.add_argument("--workdir", help="keep the generated CSV (+ planted.json) here and reuse it next time")
    args = ap.parse_args()

    dbname = args.reuse_database or f"cancuoc_bench_{secrets.token_hex(4)}"
    libpq = f"{args.server}/{dbname}"
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        if not args.reuse_database:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        server_version = conn.execute("SHOW server_version").fetchone()[0]
    url = libpq.replace("postgresql://", "postgresql+psycopg://", 1)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cancuoc_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade_database(url)
        engine = make_engine(url, pool_size=args.clients + 2)
        print(f"population benchmark: PostgreSQL {server_version}, {args.count:,} citizens, "
              f"{args.clients} clients, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print("-" * 100)

        # 1. DC01 source file (synthetic population with planted duplicates and errors)
        path = workdir / f"dc01_{args.count}.csv"
        planted_path = workdir / f"planted_{args.count}.json"
        if path.exists() and planted_path.exists():
            planted_all = [tuple(p) for p in json.loads(planted_path.read_text())]
            row("DC01 CSV (reused)", f"{path} ({path.stat().st_size / 1e6:.0f} MB)")
        else:
            t0 = time.perf_counter()
            rows, gen = dc01_rows(args.count, seed=20251129, duplicate_rate=args.duplicate_rate,
                                  error_rate=args.error_rate)
            with path.open("w", encoding="utf-8", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(DC01_COLUMNS), extrasaction="ignore")
                w.writeheader()
                for r in rows:
                    w.writerow({k: ("" if r.get(k) is None else r[k]) for k in DC01_COLUMNS})
            planted_all = gen.planted_duplicates
            planted_path.write_text(json.dumps(planted_all))
            gen_s = time.perf_counter() - t0
            row("generate DC01 CSV (not part of the import)",
                f"{args.count:,} rows in {gen_s:.1f} s, {path.stat().st_size / 1e6:.0f} MB")

        # 2. import: validated rows per second (parse + validate + COPY to staging + merge + history)
        last = [0.0]

        def progress(p) -> None:
            if time.perf_counter() - last[0] > 5:
                last[0] = time.perf_counter()
                print(f"    ... {p.fraction:5.1%}  {p.rate:,.0f} rows/s", file=sys.stderr, flush=True)

        if not args.reuse_database:
            rep = import_dc01(engine, path, actor="bench", reject_path=workdir / "rejects.csv", progress=progress)
            validated = rep.inserted + rep.unchanged + rep.rejected
            row("DC01 import, validated rows/s", f"{validated / rep.seconds:,.0f} rows/s  ({validated:,} rows in "
                f"{rep.seconds:.1f} s: {rep.inserted:,} inserted, {rep.rejected:,} rejected {rep.reject_reasons})")
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("ANALYZE")
            ids = [r[0] for r in conn.execute("SELECT personal_id FROM citizens")]

        # 3. lookups by personal ID, 8 concurrent clients
        reader = read_only_engine(engine)

        def ro_worker():
            from sqlalchemy.orm import Session

            def call(pid: str) -> None:
                with Session(reader) as s:
                    c = find_citizen(s, pid)
                    assert c is not None

            return call, lambda: None

        def orm_worker():
            from sqlalchemy.orm import Session

            def call(pid: str) -> None:
                with Session(engine) as s:
                    c = find_citizen(s, pid)
                    assert c is not None

            return call, lambda: None

        def view_worker():
            from sqlalchemy.orm import Session

            def call(pid: str) -> None:
                with Session(reader) as s:
                    citizen_view(s, pid)

            return call, lambda: None

        def bare_worker():
            conn = psycopg.connect(libpq, autocommit=True)
            cur = conn.cursor()

            def call(pid: str) -> None:
                cur.execute("SELECT * FROM citizens WHERE personal_id = %s", (pid,), prepare=True)
                assert cur.fetchone() is not None

            return call, conn.close

        lat, wall = run_clients(args.clients, args.lookups, ids, bare_worker)
        report_latency("floor: bare psycopg SELECT by primary key", lat, wall)
        lat, wall = run_clients(args.clients, args.lookups, ids, orm_worker)
        report_latency("find_citizen, one transaction per lookup", lat, wall)
        lat, wall = run_clients(args.clients, args.lookups, ids, ro_worker)
        report_latency("find_citizen on read_only_engine (autocommit)", lat, wall)
        lat, wall = run_clients(args.clients, max(1, args.lookups // 2), ids, view_worker)
        report_latency("citizen_view on read_only_engine (4 queries)", lat, wall)

        # 4. duplicate detection on the imported population: found vs planted
        present = set(ids)
        del ids
        planted = {tuple(sorted(p)) for p in planted_all if p[0] in present and p[1] in present}
        q = quality_report(engine)
        found = {(d.personal_id, d.other_personal_id) for d in q.duplicates}
        hit = len(planted & found)
        row("quality report (all rules + duplicates)", f"{q.scanned:,} records in {q.seconds:.1f} s, "
            f"{q.scanned / q.seconds:,.0f} records/s")
        row("duplicate detection: found vs planted",
            f"planted {len(planted):,}  found {hit:,}  recall {hit / max(1, len(planted)):.1%}  "
            f"other candidates {len(found) - hit:,}  precision {hit / max(1, len(found)):.1%}")
        engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        else:
            print(f"kept database {dbname}")
        if not args.workdir:
            for p in workdir.glob("*"):
                p.unlink()
            workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
