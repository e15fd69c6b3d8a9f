"""`cancuoc serve` (uvicorn) and `cancuoc audit verify`: the station API's commands."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

ADMIN_PASSWORD_ENV = "CANCUOC_ADMIN_PASSWORD"  # noqa: S105  (the name of the variable, not a password)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the station API (uvicorn)",
        description=(
            "Serve the station API on the embedded defaults (SQLite in CANCUOC_HOME) or on "
            "CANCUOC_DATABASE_URL. The schema is upgraded first unless --no-migrate. "
            f"--init-admin USERNAME creates the first admin account (password from ${ADMIN_PASSWORD_ENV} "
            "or a prompt) and exits; it refuses when an active admin already exists."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--no-migrate", action="store_true", help="do not run the Alembic upgrade first")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--init-admin", metavar="USERNAME", help="create the first admin account and exit")
    serve.add_argument("--json", action="store_true", help="machine-readable output for --init-admin")
    serve.set_defaults(func=cmd_serve)

    audit = subparsers.add_parser("audit", help="the station API's hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="verify the whole chain: edited, deleted, reordered entries")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=cmd_audit_verify)
    audit.set_defaults(func=lambda _args: (audit.print_help(), 2)[1])


def _database_url() -> str:
    from population.db import default_database_url

    return default_database_url()


def cmd_serve(args: argparse.Namespace) -> int:
    from population.db import upgrade_database
    from station_api.settings import ApiSettings

    try:
        settings = ApiSettings()  # refuses default secrets outside development before anything starts
    except ValueError as exc:
        print(f"cancuoc serve: {_first_error(exc)}", file=sys.stderr)
        return 2
    url = _database_url()
    if not args.no_migrate:
        upgrade_database(url)
    if args.init_admin:
        return _init_admin(url, args.init_admin, settings.api_password_scrypt_n, as_json=args.json)

    import uvicorn

    uvicorn.run(
        "station_api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http="httptools",
        log_level=args.log_level,
        server_header=False,
        proxy_headers=False,  # the client address must be the proxy's, see the client-certificate rule
    )
    return 0


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return str(errors()[0]["msg"])
        except (IndexError, KeyError, TypeError):
            pass
    return str(exc).splitlines()[0]


def _init_admin(url: str, username: str, scrypt_n: int, *, as_json: bool) -> int:
    from sqlalchemy import select

    from population.db import make_engine, session_scope
    from population.models.station import StationOperator
    from station_api.errors import ApiError
    from station_api.roles import Role
    from station_api.services.operators import create_operator

    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if not password:
        if not sys.stdin.isatty():
            print(f"cancuoc serve --init-admin: set {ADMIN_PASSWORD_ENV} or run interactively", file=sys.stderr)
            return 2
        password = getpass.getpass("password for the new admin: ")
    if len(password) < 12:
        print("cancuoc serve --init-admin: the password needs at least 12 characters", file=sys.stderr)
        return 2
    engine = make_engine(url, hide_parameters=True)
    try:
        with session_scope(engine) as session:
            existing = session.execute(
                select(StationOperator.id).where(StationOperator.role == Role.ADMIN.value, StationOperator.active)
            ).first()
            if existing:
                print("cancuoc serve --init-admin: an active admin already exists", file=sys.stderr)
                return 1
            op = create_operator(
                session,
                username=username,
                display_name=username,
                role=Role.ADMIN,
                actor="cli:init-admin",
                password=password,
                scrypt_n=scrypt_n,
            )
            op_id = op.id
    except ApiError as exc:
        print(f"cancuoc serve --init-admin: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps({"operator_id": op_id, "username": username, "role": "admin"}))
    else:
        print(f"admin {username} created (operator {op_id})")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from population.db import make_engine, session_scope
    from station_api.audit import verify_chain

    engine = make_engine(_database_url(), hide_parameters=True)
    try:
        with session_scope(engine) as session:
            result = verify_chain(session)
    finally:
        engine.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "intact": result.intact,
                    "entries": result.entries,
                    "head_seq": result.head_seq,
                    "head_hash": result.head_hash,
                    "problems": [{"seq": p.seq, "reason": p.reason, "detail": p.detail} for p in result.problems],
                }
            )
        )
    else:
        print(f"entries   {result.entries}")
        print(f"head      {result.head_seq} {result.head_hash}")
        print(f"status    {'intact' if result.intact else 'BROKEN'}")
        for p in result.problems:
            print(f"  seq {p.seq}: {p.reason} — {p.detail}")
    return 0 if result.intact else 1
