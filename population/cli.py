"""`cancuoc population …`: init, seed, import, quality, merge, lookup, history, update (DC02), birth, cards."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from population import cards as registry
from population.db import make_engine, session_scope, upgrade_database
from population.errors import InvalidRecord, PopulationError


def _engine(args: argparse.Namespace) -> Engine:
    """Engine for --database (else CANCUOC_DATABASE_URL / workspace SQLite), schema brought to head.

    Decision: every command runs the (idempotent) Alembic upgrade first, so a fresh workspace works
    without a separate ``init`` step.
    """
    engine = make_engine(args.database)
    upgrade_database(engine)
    return engine


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def _card_dict(card: Any) -> dict[str, Any]:
    return {
        k: getattr(card, k)
        for k in (
            "card_number",
            "personal_id",
            "document_number",
            "card_generation",
            "firmware_profile",
            "status",
            "status_reason",
            "issue_date",
            "expiry_date",
            "ca_public_key_sha256",
            "aa_public_key_sha256",
            "sod_hash",
            "sod_hash_algorithm",
            "ds_certificate_sha256",
            "replaces_card_number",
            "replaced_by_card_number",
        )
    }


def _progress_bar(prefix: str) -> Any:
    def show(p: Any) -> None:
        width = 30
        done = int(p.fraction * width)
        sys.stderr.write(
            f"\r{prefix} [{'#' * done}{'.' * (width - done)}] {p.fraction:6.1%} line {p.lines_done:,}"
            f"  ok {p.inserted + p.unchanged:,}  rejected {p.rejected:,}  {p.rate:,.0f} rows/s"
        )
        sys.stderr.flush()

    return show


# -- handlers ------------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    engine = _engine(args)
    _out(
        args,
        {"database": engine.url.render_as_string(hide_password=True), "status": "at head"},
        f"database {engine.url.render_as_string(hide_password=True)} is at the latest schema",
    )
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from population.seed import seed_population

    engine = _engine(args)

    def progress(n: int, elapsed: float) -> None:
        if not args.json:
            sys.stderr.write(f"\rseeded {n:,} / {args.count:,}  {n / max(elapsed, 1e-9):,.0f} rows/s")
            sys.stderr.flush()

    result = seed_population(
        engine, args.count, seed=args.seed, duplicate_rate=args.duplicates, error_rate=args.errors, progress=progress
    )
    if not args.json:
        sys.stderr.write("\n")
    if args.planted_out:
        Path(args.planted_out).write_text(
            json.dumps({"duplicates": result.planted_duplicates, "errors": result.planted_error_ids}, indent=1)
        )
    data = result.to_dict()
    _out(args, data, "\n".join(f"{k:<20} {v}" for k, v in data.items()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from population.intake import import_dc01

    engine = _engine(args)
    rejects = args.rejects or f"{args.file}.rejects.csv"
    report = import_dc01(
        engine,
        args.file,
        actor=args.actor,
        fmt=args.format,
        reject_path=rejects,
        chunk_rows=args.chunk,
        progress=None if args.json else _progress_bar("import"),
    )
    if not args.json:
        sys.stderr.write("\n")
    data = report.to_dict()
    _out(args, data, "\n".join(f"{k:<20} {v}" for k, v in data.items()))
    return 0 if report.rejected == 0 else 1


def cmd_quality(args: argparse.Namespace) -> int:
    from population.quality import quality_report

    engine = _engine(args)
    report = quality_report(engine, stale_years=args.stale_years, duplicates=not args.no_duplicates)
    if args.csv:
        Path(args.csv).write_text(report.to_csv(), encoding="utf-8")
    if args.json:
        print(report.to_json(limit=args.limit))
    else:
        print(report.to_table(limit=args.limit or 50))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from population.quality import merge_duplicate

    engine = _engine(args)
    with session_scope(engine) as s:
        merge_duplicate(s, args.keep, args.duplicate, actor=args.actor, reason=args.reason)
    _out(args, {"kept": args.keep, "merged": args.duplicate}, f"merged {args.duplicate} into {args.keep}")
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    from population.citizens import citizen_view

    engine = _engine(args)
    with session_scope(engine) as s:
        view = citizen_view(s, args.personal_id)
        card = registry.valid_card(s, args.personal_id)
        view["valid_card"] = card.card_number if card else None
    text = "\n".join(f"{k:<28} {v}" for k, v in view.items() if not isinstance(v, dict))
    for k in ("residences", "family", "household"):
        for sub, val in (view.get(k) or {}).items():
            text += f"\n{k + '.' + str(sub):<28} {val}"
    _out(args, view, text)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from population.citizens import citizen_history

    engine = _engine(args)
    with session_scope(engine) as s:
        rows = [
            {
                "at": h.changed_at,
                "actor": h.actor,
                "procedure": h.procedure,
                "field": h.field,
                "old": h.old_value,
                "new": h.new_value,
                "reason": h.reason,
                "request_id": h.request_id,
            }
            for h in citizen_history(s, args.personal_id)
        ]
    _out(
        args,
        rows,
        "\n".join(
            f"{r['at']}  {r['actor']:<12} {r['procedure']:<6} {r['field']:<22} "
            f"{r['old']!s} → {r['new']!s}  ({r['reason']})"
            for r in rows
        )
        or "no changes",
    )
    return 0


def _parse_sets(items: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        if "=" not in item:
            raise InvalidRecord(f"expected field=value, got {item!r}", reason="MALFORMED_ARGUMENT")
        k, v = item.split("=", 1)
        out[k.strip()] = v if v != "" else None
    return out


def cmd_update(args: argparse.Namespace) -> int:
    from population.procedures import approve_update, reject_update, submit_update

    engine = _engine(args)
    with session_scope(engine) as s:
        if args.approve is not None:
            c = approve_update(s, args.approve, approver=args.by, note=args.note)
            data = {"request": args.approve, "status": "applied", "version": c.version}
        elif args.reject is not None:
            req = reject_update(s, args.reject, approver=args.by, note=args.note or "rejected")
            data = {"request": req.id, "status": req.status}
        else:
            if not args.personal_id or not args.set:
                raise InvalidRecord("give PERSONAL_ID and --set field=value", reason="MALFORMED_ARGUMENT")
            req = submit_update(
                s,
                args.personal_id,
                _parse_sets(args.set),
                reason=args.reason or "",
                submitted_by=args.by,
                evidence=args.evidence,
            )
            data = {"request": req.id, "status": req.status, "changes": req.changes}
    _out(args, data, " ".join(f"{k}={v}" for k, v in data.items()))
    return 0


def cmd_birth(args: argparse.Namespace) -> int:
    from population.births import BirthRecord, read_birth_feed, register_birth

    engine = _engine(args)
    results: list[dict[str, Any]] = []
    if args.feed:
        with open(args.feed, encoding="utf-8") as f:
            for line_no, rec in read_birth_feed(f):
                if isinstance(rec, PopulationError):
                    results.append({"line": line_no, "error": rec.reason})
                    continue
                try:
                    with session_scope(engine) as s:
                        c = register_birth(s, rec, actor=args.actor)
                        results.append(
                            {"line": line_no, "registry_ref": rec.registry_ref, "personal_id": c.personal_id}
                        )
                except PopulationError as exc:
                    results.append({"line": line_no, "error": exc.reason})
    else:
        missing = [n for n in ("ref", "name", "date", "sex", "province") if not getattr(args, n)]
        if missing:
            raise InvalidRecord(f"missing --{', --'.join(missing)} (or give --feed)", reason="MALFORMED_ARGUMENT")
        try:
            birth_date = dt.date.fromisoformat(args.date)
        except ValueError:
            raise InvalidRecord("--date must be YYYY-MM-DD", reason="BAD_BIRTH_DATE") from None
        rec = BirthRecord(
            registry_ref=args.ref,
            full_name=args.name,
            birth_date=birth_date,
            sex=args.sex,
            registration_province=args.province,
            mother_id=args.mother_id,
            mother_name=args.mother_name,
            father_id=args.father_id,
            father_name=args.father_name,
        )
        with session_scope(engine) as s:
            c = register_birth(s, rec, actor=args.actor)
            results.append({"registry_ref": rec.registry_ref, "personal_id": c.personal_id})
    _out(args, results, "\n".join(" ".join(f"{k}={v}" for k, v in r.items()) for r in results))
    return 0 if all("error" not in r for r in results) else 1


def cmd_cards(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with session_scope(engine) as s:
        if args.action == "show":
            card = registry.get_card(s, args.target)
            data: Any = _card_dict(card)
            data["history"] = [
                {"at": e.at, "actor": e.actor, "from": e.from_status, "to": e.to_status, "reason": e.reason}
                for e in registry.card_history(s, args.target)
            ]
        elif args.action == "list":
            found = (
                registry.cards_of_person(s, args.target)
                if len(args.target) == 12
                else registry.cards_by_document_number(s, args.target)
            )
            data = [_card_dict(c) for c in found]
        elif args.action in ("lost", "stolen"):
            data = _card_dict(
                registry.report_lost(
                    s, args.target, actor=args.actor, stolen=args.action == "stolen", reason=args.reason
                )
            )
        elif args.action == "revoke":
            data = _card_dict(registry.revoke_card(s, args.target, actor=args.actor, reason=args.reason or "revoked"))
        else:  # expire
            as_of = dt.date.fromisoformat(args.target) if args.target else dt.date.today()
            data = {"expired": registry.expire_cards(s, as_of, actor=args.actor)}
    if isinstance(data, list):
        text = (
            "\n".join(f"{c['card_number']:<16} {c['status']:<12} {c['issue_date']} → {c['expiry_date']}" for c in data)
            or "no cards"
        )
    else:
        text = "\n".join(f"{k:<24} {v}" for k, v in data.items())
    _out(args, data, text)
    return 0


def _guard(handler: Any) -> Any:
    """Population errors become a one-line message (or JSON) and exit status 2, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args) or 0)
        except PopulationError as exc:
            if getattr(args, "json", False):
                print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
            else:
                print(f"error [{exc.reason}]: {exc}", file=sys.stderr)
            return 2

    return run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("population", help="population database, DC01/DC02, quality, card registry")
    sub = p.add_subparsers(dest="population_command", metavar="ACTION", required=True)

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--database", help="SQLAlchemy URL (default CANCUOC_DATABASE_URL / workspace SQLite)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(func=_guard(handler))
        return sp

    add("init", cmd_init, "create or upgrade the schema (Alembic head)")
    sp = add("seed", cmd_seed, "add a synthetic population")
    sp.add_argument("--count", type=int, default=1000)
    sp.add_argument("--seed", type=int, default=42)
    sp.add_argument("--duplicates", type=float, default=0.005, help="share of adults entered twice")
    sp.add_argument("--errors", type=float, default=0.01, help="share of records with a planted error")
    sp.add_argument("--planted-out", help="write planted duplicates/errors as JSON")
    sp = add("import", cmd_import, "DC01 bulk import (CSV or JSON Lines), resumable")
    sp.add_argument("file")
    sp.add_argument("--format", choices=("csv", "jsonl"))
    sp.add_argument("--rejects", help="reject file (default FILE.rejects.csv)")
    sp.add_argument("--chunk", type=int, default=10_000)
    sp.add_argument("--actor", default="dc01-import")
    sp = add("quality", cmd_quality, "data-quality report (đúng, đủ, sạch, sống)")
    sp.add_argument("--csv", help="write every finding as CSV")
    sp.add_argument("--limit", type=int, default=None, help="rows shown (table) / listed (JSON)")
    sp.add_argument("--stale-years", type=int, default=10)
    sp.add_argument("--no-duplicates", action="store_true")
    sp = add("merge", cmd_merge, "merge a confirmed duplicate into the record kept")
    sp.add_argument("keep")
    sp.add_argument("duplicate")
    sp.add_argument("--reason", required=True)
    sp.add_argument("--actor", required=True)
    sp = add("lookup", cmd_lookup, "show a citizen by personal ID")
    sp.add_argument("personal_id")
    sp = add("history", cmd_history, "change history of a citizen")
    sp.add_argument("personal_id")
    sp = add("update", cmd_update, "DC02: submit a change, or approve/reject a request (four eyes)")
    sp.add_argument("personal_id", nargs="?")
    sp.add_argument("--set", action="append", metavar="FIELD=VALUE")
    sp.add_argument("--reason")
    sp.add_argument("--evidence")
    sp.add_argument("--by", required=True, help="operator")
    sp.add_argument("--approve", type=int, metavar="REQUEST_ID")
    sp.add_argument("--reject", type=int, metavar="REQUEST_ID")
    sp.add_argument("--note")
    sp = add("birth", cmd_birth, "civil-registry birth: create the citizen with a new personal ID")
    sp.add_argument("--feed", help="JSON Lines feed, one birth record per line")
    sp.add_argument("--ref")
    sp.add_argument("--name")
    sp.add_argument("--date", help="YYYY-MM-DD")
    sp.add_argument("--sex")
    sp.add_argument("--province", help="PPP of the registering province")
    sp.add_argument("--mother-id")
    sp.add_argument("--mother-name")
    sp.add_argument("--father-id")
    sp.add_argument("--father-name")
    sp.add_argument("--actor", default="civil-registry")
    sp = add("cards", cmd_cards, "card registry: show, list, lost, stolen, revoke, expire")
    sp.add_argument("action", choices=("show", "list", "lost", "stolen", "revoke", "expire"))
    sp.add_argument(
        "target",
        nargs="?",
        default=None,
        help="card number (show/lost/stolen/revoke), personal ID or document number (list), date (expire)",
    )
    sp.add_argument("--reason")
    sp.add_argument("--actor", default="operator")
