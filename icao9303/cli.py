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

__all__ = ["register", "render", "tlv_tree"]


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

    lds = subparsers.add_parser(
        "lds",
        help="dump an LDS file (EF.COM, DG1-DG16, EF.SOD, EF.CardAccess, EF.CardSecurity)",
        description="Dump an LDS file (ICAO 9303-10) readably. Files without a parser here (DG3-DG10, DG16) "
        "are shown as their BER-TLV tree.",
    )
    lds.add_argument("file", type=pathlib.Path, help="file as read from the chip (binary, or hex text with --hex)")
    lds.add_argument("--as", dest="kind", help="file name, DG number, tag or FID (default: detect)")
    lds.add_argument("--hex", action="store_true", help="the file holds hex text (whitespace ignored)")
    lds.add_argument("--tlv", action="store_true", help="also show the BER-TLV tree")
    lds.add_argument("--extract-image", type=pathlib.Path, help="DG2: write the first face image here")
    lds.add_argument("--json", action="store_true", help="machine-readable output")
    lds.set_defaults(func=_lds_dump)


def _read_mrz(args: argparse.Namespace) -> str:
    return "\n".join(args.lines) if args.lines else sys.stdin.read()


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if isinstance(data, dict | list):
        print("\n".join(render(data)))
    else:
        print(data)


_MAX_INLINE = 100


def _scalar(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _inline(value: Any) -> str | None:
    """`value` on one line when it is a short list of scalars (or a scalar), else None."""
    if isinstance(value, dict):
        return "{}" if not value else None
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if any(isinstance(v, dict | list | tuple) for v in value):
            return None
        text = ", ".join(_scalar(v) for v in value)
        return text if len(text) <= _MAX_INLINE else None
    return _scalar(value)


def render(data: Any, indent: int = 0) -> list[str]:
    """Lines of a readable tree for a describe() result: aligned keys, nested blocks indented, lists of
    records numbered."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        width = max((len(str(k)) for k in data), default=0)
        for key, value in data.items():
            text = _inline(value)
            if text is not None:
                lines.append(f"{pad}{str(key).ljust(width)}  {text}")
            else:
                lines.append(f"{pad}{key}")
                lines.extend(render(value, indent + 1))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data, 1):
            text = _inline(value)
            if text is not None:
                lines.append(f"{pad}[{i}] {text}")
            else:
                lines.append(f"{pad}[{i}]")
                lines.extend(render(value, indent + 1))
    else:
        lines.append(f"{pad}{_scalar(data)}")
    return lines


def tlv_tree(data: bytes, *, max_value: int = 32) -> list[dict[str, Any]]:
    """The BER-TLV tree of `data` (tags, lengths, primitive values in hex, long ones cut), for files this
    package has no class for and for ``--tlv``. Raises TLVError on malformed input."""
    from icao9303.tlv import parse_tlv

    def node(n: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": f"{n.tag:02X}", "length": len(n.value)}
        if n.children is not None:
            out["children"] = [node(c) for c in n.children]
        else:
            value = n.value[:max_value].hex()
            out["value"] = value + ("..." if len(n.value) > max_value else "")
        return out

    return [node(n) for n in parse_tlv(bytes(data))]


def render_tlv(tree: list[dict[str, Any]], indent: int = 1) -> list[str]:
    """One line per data object: ``TAG (length) value``, children indented."""
    lines: list[str] = []
    for n in tree:
        head = f"{'  ' * indent}{n['tag']} ({n['length']})"
        lines.append(head + (f" {n['value']}" if "value" in n else ""))
        lines.extend(render_tlv(n.get("children", []), indent + 1))
    return lines


def _print_dump(info: dict[str, Any], as_json: bool) -> None:
    tree = info.pop("tlv", None) if not as_json else None
    _print(info, as_json)
    if tree is not None:
        print("tlv")
        print("\n".join(render_tlv(tree) if isinstance(tree, list) else [f"  {tree}"]))


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
    from icao9303.errors import LDSError, TLVError

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.hex:
        try:
            data = bytes.fromhex("".join(data.decode("ascii", "replace").split()))
        except ValueError:
            print(f"error: {args.file} is not hex text", file=sys.stderr)
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
    except LDSError as exc:
        if exc.reason != "lds.unsupported":
            return _error(exc, args.json)
        # No class for this file (DG3-DG10, DG16): its TLV tree is still worth showing.
        try:
            tree = tlv_tree(data)
        except TLVError as tlv_exc:
            return _error(tlv_exc, args.json)
        _print_dump({"file": exc.details.get("file"), "bytes": len(data), "parsed": False, "tlv": tree}, args.json)
        return 0
    except ICAOError as exc:
        return _error(exc, args.json)
    info = obj.describe()
    if not isinstance(info, dict):
        info = {"file": detect_file(data).name if kind is None else type(obj).__name__, "entries": info}
    info = {"file": info.pop("file", type(obj).__name__), "bytes": len(data), **info}
    if args.tlv:
        try:
            info["tlv"] = tlv_tree(data)
        except TLVError as exc:  # parsed by its class but not a clean TLV tree (e.g. indefinite forms)
            info["tlv"] = f"not a BER-TLV tree: {exc.message}"
    if args.extract_image is not None:
        image = getattr(obj, "face_image", None)
        if image is None:
            print("error: this file holds no face image", file=sys.stderr)
            return 1
        try:
            args.extract_image.write_bytes(image)
        except OSError as exc:
            print(f"error: cannot write {args.extract_image}: {exc.strerror}", file=sys.stderr)
            return 2
        info["image_written"] = str(args.extract_image)
    _print_dump(info, args.json)
    return 0
