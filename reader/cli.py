"""`cancuoc read`: read a card through a PC/SC reader (or an in-process virtual chip) and verify it.

    cancuoc read [--reader NAME | --card-state FILE] (--can X | --mrz MRZ | --qr IMAGE | --mrz-image IMAGE)
                 [--json] [--save-evidence FILE] [--portrait FILE] [--skip-portrait] [--trace FILE]
                 [--at ISO-TIME] [--aa-challenge HEX] [--require-pace] [--trust-store DIR]

Exit status: 0 the card verified (PASSED, or WARNING with the reason shown), 1 it did not, 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reader.trace import write_private

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("read", help="read and verify a chip ID card (PACE/BAC, PA, CA, AA)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--reader", metavar="NAME", help="PC/SC reader name (exact or unique substring)")
    where.add_argument("--card-state", metavar="FILE",
                       help="run a virtual chip state file in-process instead of a PC/SC reader")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--can", metavar="CAN", help="Card Access Number (last 6 digits of the ID)")
    key.add_argument("--mrz", metavar="MRZ", help="the MRZ text (3×30 TD1; lines joined or separated by \\n)")
    key.add_argument("--qr", metavar="IMAGE", help="photo of the card's QR code (access key from it)")
    key.add_argument("--mrz-image", metavar="IMAGE", help="photo of the card back (MRZ by OCR)")
    p.add_argument("--json", action="store_true", help="print the verification report as JSON")
    p.add_argument("--save-evidence", metavar="FILE", help="write the evidence bundle (JSON)")
    p.add_argument("--portrait", metavar="FILE", help="where to save the portrait (default: output dir)")
    p.add_argument("--skip-portrait", action="store_true", help="do not read DG2")
    p.add_argument("--trace", metavar="FILE", help="save the redacted APDU trace (JSON)")
    p.add_argument("--at", metavar="TIME", help="validation time, ISO 8601 (default: now)")
    p.add_argument("--aa-challenge", metavar="HEX", help="8-byte Active Authentication challenge (hex)")
    p.add_argument("--require-pace", action="store_true", help="refuse BAC (policy of the 2024 card)")
    p.add_argument("--trust-store", metavar="DIR", help="trust store directory (default: the workspace's)")
    p.set_defaults(func=handle_read)


class _UsageError(Exception):
    pass


def _keys_from_args(args: argparse.Namespace) -> list[Any]:
    """The access keys to try, in order (a QR gives the CAN and an MRZ key derived from the age rules)."""
    from reader.access import can_key, mrz_key, mrz_key_from_text

    if args.can:
        return [can_key(args.can)]
    if args.mrz:
        return [mrz_key_from_text(args.mrz.replace("\\n", "\n"))]
    try:
        from reader.capture import scan_image  # G's capture API
    except ImportError:
        from reader.capture.scan import scan_image
    path = args.qr or args.mrz_image
    result = scan_image(path, mode="qr" if args.qr else "mrz")
    if not result.ok or result.access_keys is None:
        codes = ", ".join(result.codes) or "nothing found"
        raise _UsageError(f"no access key in {path}: {codes}")
    k = result.access_keys
    keys = [mrz_key(k.document_number, k.date_of_birth, k.date_of_expiry)]
    if k.can:
        keys.insert(0 if args.qr else 1, can_key(k.can))
    return keys


def _check_writable(option: str, value: str | None) -> None:
    """Refuse an output path whose directory does not exist or is not writable — before the card is
    read, not with a traceback after it."""
    if not value:
        return
    parent = Path(value).expanduser().resolve().parent
    if not parent.is_dir():
        raise _UsageError(f"{option}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise _UsageError(f"{option}: directory {parent} is not writable")


def _open_transport(args: argparse.Namespace) -> Any:
    from reader.transport import InProcessTransport, PcscTransport

    if args.card_state:
        from firmware_profiles.chip import VirtualChip

        t: Any = InProcessTransport(VirtualChip.open(args.card_state))
        t.open()
        return t
    t = PcscTransport(args.reader)
    t.open()
    return t


def _trust_store(args: argparse.Namespace) -> Any:
    from pki.truststore import TrustStore

    if args.trust_store:
        return TrustStore(args.trust_store)
    from cancuoc.settings import get_settings

    return TrustStore(get_settings().truststore_dir)


def _portrait_path(args: argparse.Namespace) -> Path | None:
    if args.skip_portrait:
        return None
    if args.portrait:
        return Path(args.portrait)
    from cancuoc.settings import get_settings

    out = Path(get_settings().output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out / f"portrait-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"


def handle_read(args: argparse.Namespace) -> int:
    from reader.access import ReadPolicy
    from reader.errors import ReaderError, ReasonCode
    from reader.inspect import inspect_card
    from reader.trace import ApduTrace

    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        challenge = bytes.fromhex(args.aa_challenge) if args.aa_challenge else None
        if challenge is not None and len(challenge) != 8:
            raise _UsageError("--aa-challenge must be 8 bytes (16 hex digits)")
        for option, value in (("--trace", args.trace), ("--save-evidence", args.save_evidence),
                              ("--portrait", args.portrait)):
            _check_writable(option, value)
        keys = _keys_from_args(args)
        trust_store = _trust_store(args)
    except (_UsageError, ValueError) as exc:
        print(f"cancuoc read: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the trust store could not be opened (pki errors carry a code)
        print(f"cancuoc read: trust store: {getattr(exc, 'code', type(exc).__name__)}", file=sys.stderr)
        return 2
    policy = ReadPolicy(pace="require" if args.require_pace else "prefer",
                        read_portrait=not args.skip_portrait)
    try:
        transport = _open_transport(args)
    except ReaderError as exc:
        _emit_failure(args, exc.reason.value, str(exc))
        return 1
    except Exception as exc:  # --card-state: a state file that does not load (firmware_profiles errors)
        reason = getattr(exc, "reason", None)
        if not isinstance(reason, str):
            raise
        _emit_failure(args, reason, f"card state unusable ({type(exc).__name__})")
        return 1
    trace = ApduTrace()
    try:
        report = None
        for key in keys:
            report = inspect_card(transport, key, trust_store, at=at, aa_challenge=challenge, policy=policy,
                                  trace=trace, portrait_path=_portrait_path(args))
            first = report.checks[0] if report.checks else None
            if not (first and first.id == "access" and first.reason in (ReasonCode.PACE_REQUIRED,
                                                                         ReasonCode.ACCESS_DENIED)):
                break
    finally:
        transport.close()
    assert report is not None
    try:
        if args.save_evidence and report.evidence is not None:
            write_private(Path(args.save_evidence), report.evidence.to_json())
        if args.trace:
            trace.save(args.trace)
    except OSError as exc:
        print(f"cancuoc read: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
    else:
        print(render(report))
    return 0 if report.verdict.value in ("passed", "warning") else 1


def _emit_failure(args: argparse.Namespace, reason: str, message: str) -> None:
    if args.json:
        print(json.dumps({"verdict": "failed", "reason": reason, "message": message}))
    else:
        print(f"FAILED  {reason}: {message}")


def render(report: Any) -> str:
    """The readable summary: verdict, holder, how the chip was opened, each check, the portrait."""
    lines = [f"Verdict      {report.verdict.value.upper()}  ({report.reason.value})"]
    if report.access:
        a = report.access
        lines.append(f"Access       {a.method}{'-' + a.mapping if a.mapping else ''} with {a.password_type}")
    doc = report.document
    if doc and doc.mrz_fields:
        m = doc.mrz_fields
        d13 = doc.dg13
        name = d13.get("full_name") or f"{m.get('surname', '')} {m.get('given_names', '')}".strip()
        lines += [f"Holder       {name}",
                  f"Personal ID  {m.get('personal_id', '-')}   Document {m.get('document_number', '-')}",
                  f"Born         {d13.get('date_of_birth') or m.get('date_of_birth', '-')}   "
                  f"Sex {d13.get('sex') or m.get('sex', '-')}   "
                  f"Expires {d13.get('date_of_expiry') or m.get('date_of_expiry', '-')}"]
        for key, label in (("place_of_origin", "Origin"), ("place_of_residence", "Residence"),
                           ("date_of_issue", "Issued")):
            if isinstance(d13.get(key), str):
                lines.append(f"{label:<13}{d13[key]}")
    if doc and doc.portrait_path:
        lines.append(f"Portrait     {doc.portrait_path}")
    lines.append("Checks")
    for c in report.checks:
        mark = {"passed": "ok  ", "failed": "FAIL", "warning": "warn", "skipped": "skip"}[c.outcome.value]
        reason = "" if c.reason.value == "OK" else f" [{c.reason.value}]"
        lines.append(f"  {mark} {c.id:<22}{reason} {c.detail}".rstrip())
    if report.apdu:
        lines.append(f"APDUs        {report.apdu.count} ({report.apdu.bytes_sent} B sent, "
                     f"{report.apdu.bytes_received} B received), read size {report.apdu.read_size}")
    if report.timings:
        lines.append(f"Time         {report.timings.get('total', 0.0):.3f} s")
    return "\n".join(lines)
