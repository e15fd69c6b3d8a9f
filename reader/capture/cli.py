"""``cancuoc scan``: read the QR or the MRZ on card photos and print the fields and derived access keys."""
from __future__ import annotations

import argparse
import json
import sys

from reader.capture.scan import scan_image

# Decision: the output shows the access keys and personal data unmasked — the user asked for exactly these —
# but nothing is ever logged: only stdout carries them.
_FIELD_ORDER = ("personal_id", "cmnd", "full_name", "date_of_birth", "sex", "address", "date_of_issue",
                "date_of_expiry", "no_expiry", "document_number", "generation", "document_code",
                "issuing_state", "nationality", "surname", "given_names")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scan", help="decode the QR or MRZ on card photos (no reader needed)",
                                   description=__doc__)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo or scan of a card face")
    parser.add_argument("--mode", choices=("auto", "qr", "mrz", "all"), default="auto",
                        help="auto: QR, else MRZ; all: both, cross-checked (default auto)")
    parser.add_argument("--json", action="store_true", help="one JSON document for all images")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    results = [scan_image(path, mode=args.mode) for path in args.images]
    if args.json:
        json.dump({"results": [r.to_dict() for r in results]}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            _print_result(r)
    return 0 if all(r.ok for r in results) else 1


def _print_result(r) -> None:
    out = sys.stdout
    status = f"{r.kind.value.upper()} ok" if r.ok else "FAILED"
    out.write(f"== {r.source}: {status} ({r.seconds * 1000:.0f} ms)\n")
    ordered = [k for k in _FIELD_ORDER if k in r.fields] + [k for k in r.fields if k not in _FIELD_ORDER]
    for key in ordered:
        out.write(f"  {key:<16} {r.fields[key]}\n")
    if r.access_keys:
        k = r.access_keys
        out.write("  -- access keys\n")
        out.write(f"  {'CAN':<16} {k.can or '(not on this face)'}\n")
        out.write(f"  {'document no.':<16} {k.document_number}\n")
        out.write(f"  {'birth (YYMMDD)':<16} {k.date_of_birth}\n")
        expiry = k.date_of_expiry + (" (no expiry)" if k.no_expiry else "")
        expiry += " (derived from the age rules)" if k.expiry_derived else ""
        out.write(f"  {'expiry (YYMMDD)':<16} {expiry}\n")
        out.write(f"  {'BAC MRZ info':<16} {k.mrz_information}\n")
    for f in r.failures:
        out.write(f"  ! {f.stage}: {f.code}: {f.detail}\n")
