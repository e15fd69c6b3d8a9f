"""`cancuoc pki …`: the operator's commands for the issuing PKI, the trust store and the linter.

Workspace: ``--home`` or the settings' ``pki_dir``; key store: ``--keystore-dir`` or the settings'
``keystore_dir`` with the passphrase from env CANCUOC_KEYSTORE_PASSPHRASE (development default refused in
production), or a PKCS#11 token with ``--pkcs11-module``, ``--token-label`` and the PIN in the env variable
named by ``--pin-env`` (default CANCUOC_PKCS11_PIN). Every command takes ``--json``. Exit codes: 0 ok,
1 lint/validation found errors, 2 refused or failed (the error code is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pki.errors import PKIError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--home", type=Path, help="PKI workspace (default: settings pki_dir)")
    p.add_argument("--keystore-dir", type=Path, help="file key store (default: settings keystore_dir)")
    p.add_argument("--pkcs11-module", help="PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so")
    p.add_argument("--token-label", help="PKCS#11 token label")
    p.add_argument("--pin-env", default="CANCUOC_PKCS11_PIN", help="env variable holding the token PIN")


def register(subparsers: argparse._SubParsersAction) -> None:
    pki = subparsers.add_parser("pki", help="run the CSCA / Document Signer PKI and the trust store")
    sub = pki.add_subparsers(dest="pki_command", metavar="PKI_COMMAND")

    p = sub.add_parser("init", help="create CSCA, ML signer, first DS and first CRL")
    _common(p)
    p.add_argument("--csca-key", default="ec:brainpoolP384r1")
    p.add_argument("--csca-hash", default="sha384")
    p.add_argument("--ds-key", default="ec:brainpoolP256r1")
    p.add_argument("--ds-hash", default="sha256")
    p.add_argument("--mls-key", default="ec:brainpoolP256r1")
    p.add_argument("--mls-hash", default="sha256")
    p.add_argument("--rsa-scheme", choices=["pss", "pkcs1v15"], default="pss")
    p.add_argument("--ds-max-age-days", type=int, default=90)
    p.add_argument("--ds-max-signatures", type=int, default=100_000)
    p.add_argument("--no-auto-rotate", action="store_true")
    p.add_argument("--crl-days", type=int, default=30, help="nextUpdate − thisUpdate (≤ 90)")
    p.set_defaults(func=cmd_init)

    for name, func, text in (
        ("status", cmd_status, "certificates, CRLs and whether a DS rotation is due"),
        ("rotate-ds", cmd_rotate_ds, "activate a new Document Signer"),
        ("rollover-csca", cmd_rollover, "new CSCA generation with link certificates both ways"),
        ("audit-verify", cmd_audit_verify, "check the hash chain of the audit trail"),
    ):
        p = sub.add_parser(name, help=text)
        _common(p)
        p.set_defaults(func=func)

    p = sub.add_parser("crl", help="issue the next CRL of every live CSCA generation")
    _common(p)
    p.add_argument("--if-due", action="store_true", help="only when a nextUpdate is less than 2 days away")
    p.set_defaults(func=cmd_crl)

    p = sub.add_parser("revoke", help="revoke a certificate by serial and publish CRLs")
    _common(p)
    p.add_argument("serial", help="decimal, or hex with 0x")
    p.add_argument(
        "--reason",
        default="unspecified",
        help="key_compromise, superseded, cessation_of_operation, affiliation_changed, ...",
    )
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("masterlist", help="sign a CSCA master list")
    _common(p)
    p.add_argument("--out", type=Path, help="write the master list here")
    p.set_defaults(func=cmd_masterlist)

    p = sub.add_parser("export", help="certificates (DER/PEM), CRLs, master list and PKD LDIF")
    _common(p)
    p.add_argument("out_dir", type=Path)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("service-key", help="issue a certificate for a named service key (not a DS)")
    _common(p)
    p.add_argument("name")
    p.add_argument("--key", default="ec:P-256")
    p.set_defaults(func=cmd_service_key)

    p = sub.add_parser("sign-sod", help="sign EF.SOD over data group files with the current DS")
    _common(p)
    p.add_argument("--dg", action="append", required=True, metavar="N=FILE", help="data group N read from FILE")
    p.add_argument("--doc-type", default="ID")
    p.add_argument("--hash", default="sha256")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_sign_sod)

    p = sub.add_parser("lint", help="lint certificates, CRLs and master lists against ICAO 9303-12")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lint)

    trust = sub.add_parser("trust", help="the verifier's trust store")
    tsub = trust.add_subparsers(dest="trust_command", metavar="TRUST_COMMAND")
    p = tsub.add_parser("add", help="import certificates, CRLs, master lists or PKD LDIF files")
    _trust_common(p)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--trust-anchor", action="store_true", help="trust self-signed CSCA certificates given")
    p.add_argument("--skip-unverifiable", action="store_true", help="LDIF: skip entries that do not verify")
    p.set_defaults(func=cmd_trust_add)
    p = tsub.add_parser("list", help="what the trust store holds")
    _trust_common(p)
    p.set_defaults(func=cmd_trust_list)
    p = tsub.add_parser("seed", help="trust this PKI's own CSCAs, link certificates and CRLs")
    _trust_common(p)
    _common_pki_only(p)
    p.set_defaults(func=cmd_trust_seed)
    p = tsub.add_parser("validate", help="validate a DS certificate (or EF.SOD file) to a trusted CSCA")
    _trust_common(p)
    p.add_argument("file", type=Path, help="DS certificate (DER/PEM) or EF.SOD")
    p.add_argument("--at", help="validation time, ISO 8601 (default: now)")
    p.add_argument("--crl-missing", choices=["reject", "warn", "ignore"], default="reject")
    p.add_argument("--crl-stale", choices=["reject", "warn", "ignore"], default="warn")
    p.set_defaults(func=cmd_trust_validate)


def _trust_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")
    p.add_argument("--store", type=Path, help="trust store directory (default: settings truststore_dir)")


def _common_pki_only(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", type=Path)
    p.add_argument("--keystore-dir", type=Path)
    p.add_argument("--pkcs11-module")
    p.add_argument("--token-label")
    p.add_argument("--pin-env", default="CANCUOC_PKCS11_PIN")


# -- helpers -----------------------------------------------------------------------------------------
def _workspace(args: argparse.Namespace):
    from cancuoc.settings import get_settings
    from pki.workspace import PKI, open_keystore

    settings = get_settings()
    keystore = open_keystore(
        args.keystore_dir or settings.keystore_dir,
        pkcs11_module=args.pkcs11_module,
        token_label=args.token_label,
        pin_env=args.pin_env,
    )
    _OPEN.append(keystore)
    return PKI(args.home or settings.pki_dir, keystore)


_OPEN: list[Any] = []  # key stores opened by the running command, closed when it ends


def _store(args: argparse.Namespace):
    from cancuoc.settings import get_settings
    from pki.truststore import TrustStore

    return TrustStore(args.store or get_settings().truststore_dir)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        print(text)


def _guard(func):
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except PKIError as exc:
            if getattr(args, "json", False):
                print(json.dumps({"ok": False, "error": exc.to_dict()}, default=str, ensure_ascii=False))
            else:
                print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            while _OPEN:
                _OPEN.pop().close()

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _cert_line(row: dict[str, Any]) -> str:
    return (
        f"{row['role']:<10} {row['status']:<8} {row['label'] or '-':<14} {row['serial']:<40} "
        f"{row['not_after'][:10]}  sigs={row['signatures']}  {row['subject']}"
    )


# -- commands ----------------------------------------------------------------------------------------
@_guard
def cmd_init(args: argparse.Namespace) -> int:
    from pki.workspace import IssuerPolicy, RotationPolicy

    policy = IssuerPolicy(
        csca_key=args.csca_key,
        csca_hash=args.csca_hash,
        ds_key=args.ds_key,
        ds_hash=args.ds_hash,
        mls_key=args.mls_key,
        mls_hash=args.mls_hash,
        rsa_scheme=args.rsa_scheme,
        crl_next_update_days=args.crl_days,
        rotation=RotationPolicy(
            max_signing_age_days=args.ds_max_age_days,
            max_signatures=args.ds_max_signatures,
            auto_rotate=not args.no_auto_rotate,
        ),
    )
    status = _workspace(args).init(policy)
    _emit(
        args,
        status,
        "PKI initialised at " + status["home"] + "\n" + "\n".join(_cert_line(r) for r in status["certificates"]),
    )
    return 0


@_guard
def cmd_status(args: argparse.Namespace) -> int:
    status = _workspace(args).status()
    lines = [f"PKI {status['home']} ({status['country']})"]
    lines += [_cert_line(r) for r in status["certificates"]]
    lines += [f"CRL csca-{c['generation']:02d} #{c['number']} next update {c['next_update']}" for c in status["crls"]]
    lines.append(f"DS rotation due: {status['ds_rotation_due'] or 'no'}")
    _emit(args, status, "\n".join(lines))
    return 0


@_guard
def cmd_rotate_ds(args: argparse.Namespace) -> int:
    cert = _workspace(args).rotate_ds()
    data = {"serial": str(cert.serial_number), "subject": cert.subject.human_friendly}
    _emit(args, data, f"new Document Signer {data['subject']} serial {data['serial']}")
    return 0


@_guard
def cmd_rollover(args: argparse.Namespace) -> int:
    out = _workspace(args).rollover_csca()
    data = {
        k: {
            "serial": str(c.serial_number),
            "subject": c.subject.human_friendly,
            "issuer": c.issuer.human_friendly,
        }
        for k, c in out.items()
    }
    _emit(
        args,
        data,
        "\n".join(f"{k:<13} {v['subject']} (issuer {v['issuer']}) serial {v['serial']}" for k, v in data.items()),
    )
    return 0


@_guard
def cmd_revoke(args: argparse.Namespace) -> int:
    text = args.serial.strip().lower()
    try:
        serial = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        raise PKIError(f"serial {args.serial!r} is not a number", code="SERIAL_INVALID") from None
    crls = _workspace(args).revoke(serial, args.reason)
    data = {
        "revoked": str(serial),
        "reason": args.reason,
        "crls": [{"issuer": c.issuer.human_friendly, "number": c.crl_number_value.native} for c in crls],
    }
    _emit(
        args,
        data,
        f"revoked {serial} ({args.reason}); published "
        + ", ".join(f"CRL #{c['number']} of {c['issuer']}" for c in data["crls"]),
    )
    return 0


@_guard
def cmd_crl(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    if args.if_due and not ws.crl_due():
        _emit(args, [], "no CRL due")
        return 0
    crls = ws.issue_crl()
    data = [
        {
            "issuer": c.issuer.human_friendly,
            "number": c.crl_number_value.native,
            "next_update": c["tbs_cert_list"]["next_update"].native.isoformat(),
        }
        for c in crls
    ]
    _emit(
        args,
        data,
        "\n".join(f"CRL #{d['number']} of {d['issuer']} next update {d['next_update']}" for d in data),
    )
    return 0


@_guard
def cmd_masterlist(args: argparse.Namespace) -> int:
    der = _workspace(args).master_list()
    out = args.out
    if out is not None:
        out.write_bytes(der)
    data = {"bytes": len(der), "out": str(out) if out else None}
    _emit(args, data, f"master list of {len(der)} bytes" + (f" written to {out}" if out else ""))
    return 0


@_guard
def cmd_export(args: argparse.Namespace) -> int:
    files = _workspace(args).export(args.out_dir)
    _emit(args, [str(f) for f in files], "\n".join(str(f) for f in files))
    return 0


@_guard
def cmd_service_key(args: argparse.Namespace) -> int:
    cert = _workspace(args).issue_service_certificate(args.name, key=args.key)
    data = {
        "name": args.name,
        "serial": str(cert.serial_number),
        "subject": cert.subject.human_friendly,
        "issuer": cert.issuer.human_friendly,
    }
    _emit(args, data, f"service key {args.name}: {data['subject']} issued by {data['issuer']}")
    return 0


@_guard
def cmd_sign_sod(args: argparse.Namespace) -> int:
    from pki.algorithms import digest

    hashes: dict[int, bytes] = {}
    for item in args.dg:
        number, sep, path = item.partition("=")
        if not sep or not number.isdigit() or not 1 <= int(number) <= 16:
            raise PKIError(f"--dg {item!r}: expected N=FILE with N in 1..16", code="ARGUMENT_INVALID")
        try:
            hashes[int(number)] = digest(args.hash, Path(path).read_bytes())
        except OSError as exc:
            raise PKIError(f"cannot read {path}: {exc.strerror}", code="ARGUMENT_INVALID") from exc
    sod = _workspace(args).sign_sod(hashes, args.doc_type, hash_algorithm=args.hash)
    args.out.write_bytes(sod)
    data = {"out": str(args.out), "bytes": len(sod), "data_groups": sorted(hashes)}
    _emit(args, data, f"EF.SOD of {len(sod)} bytes over DG{sorted(hashes)} written to {args.out}")
    return 0


@_guard
def cmd_audit_verify(args: argparse.Namespace) -> int:
    from pki.audit import verify_audit_trail

    ws = _workspace(args)
    count = verify_audit_trail(ws.audit.path)
    _emit(args, {"ok": True, "entries": count}, f"audit trail intact: {count} entries")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from pki.lint import lint_file

    findings = [f for path in args.files for f in lint_file(path)]
    n_errors = sum(f.severity == "error" for f in findings)
    if args.json:
        print(
            json.dumps(
                {"errors": n_errors, "findings": [f.to_dict() for f in findings]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for f in findings:
            print(f"{f.severity.upper():<8} {f.code:<26} {f.object}: {f.message}")
        print(f"{len(args.files)} file(s), {n_errors} error(s), {len(findings) - n_errors} other finding(s)")
    return 1 if n_errors else 0


@_guard
def cmd_trust_add(args: argparse.Namespace) -> int:
    store = _store(args)
    reports = []
    with store.transaction():  # several files: all of them, or none
        for path in args.files:
            reports.append(
                store.import_file(path, anchor_ok=args.trust_anchor, skip_unverifiable=args.skip_unverifiable).to_dict()
            )
    added = [a for r in reports for a in r["added"]]
    skipped = [s for r in reports for s in r["skipped"]]
    _emit(
        args,
        {"added": added, "skipped": skipped, "removed": [x for r in reports for x in r["removed"]]},
        "\n".join(
            [f"trusted {a['kind']:<5} {a['subject']}" for a in added]
            + [f"skipped {s['object']}: {s['code']} {s['message']}" for s in skipped]
        ),
    )
    return 0


@_guard
def cmd_trust_list(args: argparse.Namespace) -> int:
    summary = _store(args).summary()
    lines = [
        f"{kind:<5} {o['fingerprint'][:16]} {o['subject']}  ({o['source']})"
        for kind, objs in summary.items()
        for o in objs
    ]
    _emit(args, summary, "\n".join(lines) or "trust store is empty")
    return 0


@_guard
def cmd_trust_seed(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    store = ws.seed_trust_store(_store(args))
    _emit(args, store.summary(), f"trust store {store.directory} seeded with this PKI's CSCAs, links and CRLs")
    return 0


@_guard
def cmd_trust_validate(args: argparse.Namespace) -> int:
    from pki.errors import PKIValidationError
    from pki.truststore import load_certificate
    from pki.validation import ValidationPolicy, validate_ds_path

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise PKIError(f"{args.file.name}: cannot read ({exc.strerror or type(exc).__name__})",
                       code="FILE_UNREADABLE") from None
    signed_at = None
    if data[:1] == b"\x77":
        from icao9303.lds.sod import SOD
        from pki.cms import verify_signed_data

        try:
            sod = SOD.from_bytes(data)
        except Exception as exc:  # the LDS layer's own error type; reported, not raised
            raise PKIError(f"{args.file.name}: not a valid EF.SOD ({exc})", code="SOD_MALFORMED") from exc
        result = verify_signed_data(sod.content_info, what=args.file.name)
        cert, signed_at = result.signer_certificate, result.signing_time
    else:
        cert = load_certificate(data, args.file.name)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    policy = ValidationPolicy(crl_missing=args.crl_missing, crl_stale=args.crl_stale)
    try:
        result = validate_ds_path(cert, at, _store(args), policy, signed_at=signed_at)
    except PKIValidationError as exc:
        _emit(args, {"ok": False, "error": exc.to_dict()}, f"INVALID {exc.code}: {exc.message}")
        return 1
    data = {"ok": True, **result.to_dict()}
    _emit(
        args,
        data,
        "VALID "
        + " -> ".join(data["path"])
        + "".join(f"\n  warning {w['code']}: {w['message']}" for w in data["warnings"]),
    )
    return 0
