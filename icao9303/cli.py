"""`cancuoc mrz` (parse, check, format) and `cancuoc lds FILE` (dump any LDS file): the icao9303 commands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pathlib
import sys
from typing import Any

from icao9303.errors import ICAOError
from icao9303.lds.files import detect_file, parse_lds_file
from icao9303.mrz import MRZ, parse_mrz
from icao9303.vn import card_expiry, parse_personal_id

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mrz`` and ``lds`` to the `cancuoc` command line."""
    mrz = subparsers.add_parser("mrz", help="parse, check or format a machine readable zone (ICAO 9303-3/4/5)")
    mrz_sub = mrz.add_subparsers(dest="mrz_command", metavar="ACTION", required=True)

    for name, helptext in (
        ("parse", "parse an MRZ and show its fields"),
        ("check", "verify every check digit (exit 1 naming field and position)"),
    ):
        p = mrz_sub.add_parser(name, help=helptext)
        p.add_argument("lines", nargs="*", help="MRZ lines (default: read standard input)")
        p.add_argument("--no-vn", action="store_true", help="do not apply Vietnam's TD1 rules")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_mrz_parse if name == "parse" else _mrz_check)

    f = mrz_sub.add_parser("format", help="write the TD1 MRZ of a Vietnamese card")
    f.add_argument("--id", required=True, dest="personal_id", help="12-digit personal ID")
    f.add_argument("--name", required=True, help="full name with diacritics, family name first")
    f.add_argument("--dob", required=True, type=dt.date.fromisoformat, help="date of birth YYYY-MM-DD")
    f.add_argument("--sex", required=True, help="M/F (or Nam/Nữ)")
    group = f.add_mutually_exclusive_group(required=True)
    group.add_argument("--expiry", help="date of expiry YYYY-MM-DD, or 'none'")
    group.add_argument("--issued", type=dt.date.fromisoformat, help="issue date: expiry from the age rules")
    f.add_argument("--json", action="store_true", help="machine-readable output")
    f.set_defaults(func=_mrz_format)

    lds = subparsers.add_parser("lds", help="dump an LDS file (EF.COM, DG1-DG15, EF.SOD, EF.CardAccess, ...)")
    lds.add_argument("file", type=pathlib.Path, help="file as read from the chip (binary)")
    lds.add_argument("--as", dest="kind", help="file name, DG number, tag or FID (default: detect)")
    lds.add_argument("--extract-image", type=pathlib.Path, help="DG2: write the first face image here")
    lds.add_argument("--json", action="store_true", help="machine-readable output")
    lds.set_defaults(func=_lds_dump)


def _read_mrz(args: argparse.Namespace) -> str:
    return "\n".join(args.lines) if args.lines else sys.stdin.read()


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if isinstance(data, dict):
        width = max((len(str(k)) for k in data), default=0)
        for key, value in data.items():
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False, default=str)
            print(f"{str(key).ljust(width)}  {value}")
    else:
        print(data)


def _error(exc: ICAOError, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, **exc.to_dict()}, ensure_ascii=False, default=str))
    else:
        where = ", ".join(f"{k} {v}" for k, v in exc.details.items() if v is not None)
        print(f"error: {exc.message} [{exc.reason}{'; ' + where if where else ''}]", file=sys.stderr)
    return 1


def _mrz_parse(args: argparse.Namespace) -> int:
    try:
        mrz = parse_mrz(_read_mrz(args), verify_vn=False if args.no_vn else None)
    except ICAOError as exc:
        return _error(exc, args.json)
    _print({**mrz.to_dict(), "lines": list(mrz.lines)}, args.json)
    return 0


def _mrz_check(args: argparse.Namespace) -> int:
    try:
        mrz = parse_mrz(_read_mrz(args), verify_vn=False if args.no_vn else None)
    except ICAOError as exc:
        return _error(exc, args.json)
    _print({"ok": True, "format": mrz.document_format}, args.json)
    return 0


def _mrz_format(args: argparse.Namespace) -> int:
    try:
        pid = parse_personal_id(args.personal_id)
        if args.issued is not None:
            expiry = card_expiry(args.dob, args.issued)
        elif args.expiry.lower() in ("none", "991231"):
            expiry = None
        else:
            expiry = dt.date.fromisoformat(args.expiry)
        mrz = MRZ.for_vn_card(pid.number, args.name, args.dob, args.sex, expiry)
    except ICAOError as exc:
        return _error(exc, args.json)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print({"lines": list(mrz.lines), "date_of_expiry": mrz.date_of_expiry}, True)
    else:
        print(mrz.text)
    return 0


def _lds_dump(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    kind: int | str | None = args.kind
    if isinstance(kind, str):
        text = kind.strip()
        if text.isdigit():
            kind = int(text)
        elif text.lower().startswith("0x"):
            try:
                kind = int(text, 16)
            except ValueError:
                pass
    try:
        obj = parse_lds_file(kind, data)
        name = detect_file(data).name if kind is None else type(obj).__name__
    except ICAOError as exc:
        return _error(exc, args.json)
    info = obj.describe()
    if not isinstance(info, dict):
        info = {"file": name, "entries": info}
    info = {"bytes": len(data), **info}
    if args.extract_image is not None:
        image = getattr(obj, "face_image", None)
        if image is None:
            print("error: this file holds no face image", file=sys.stderr)
            return 1
        args.extract_image.write_bytes(image)
        info["image_written"] = str(args.extract_image)
    _print(info, args.json)
    return 0
