"""`cancuoc chip ...`: serve a virtual chip to pcscd through vpcd, create blank cards, show profiles and cards.

- ``cancuoc chip serve --profile NAME [--state FILE] [--slot N] [--port P] [--host H]``: connect a virtual
  chip to the vpcd driver of a running pcscd (slot 0 = port 35963, slot 1 = 35964) and answer until
  interrupted; vpcd dropping the connection (pcscd restart) is followed by a reconnect. With
  ``--state`` the card is that state file (every change is written back: the card survives a restart);
  without it, a blank card of the profile lives in memory only.
- ``cancuoc chip new-blank --profile NAME --master-key-file FILE [--serial HEX] [--state FILE]``: a blank
  card whose transport key is diversified from the batch master key (hex in FILE) by its serial.
- ``cancuoc chip info [--profile NAME | --state FILE] [--json]``: the shipped profiles, one profile, or
  a card's public state (never keys, MRZ material or CAN).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    chip = subparsers.add_parser("chip", help="virtual chip: serve it to pcscd (vpcd), blank cards, profiles",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = chip.add_subparsers(dest="chip_command", metavar="CHIP_COMMAND")

    serve = sub.add_parser("serve", help="connect a virtual chip to pcscd's vpcd reader and serve it")
    serve.add_argument("--profile", help="firmware profile (required without --state)")
    serve.add_argument("--state", type=Path, help="card state file (see `chip new-blank`); changes persist")
    serve.add_argument("--slot", type=int, default=0, help="vpcd slot (port 35963 + slot)")
    serve.add_argument("--port", type=int, help="vpcd TCP port (overrides --slot)")
    serve.add_argument("--host", default="127.0.0.1", help="vpcd host")
    serve.add_argument("--once", action="store_true", help="exit when vpcd closes the connection")
    serve.add_argument("-v", "--verbose", action="store_true")
    serve.set_defaults(func=_serve)

    blank = sub.add_parser("new-blank", help="create a blank card state file (transport key from master)")
    blank.add_argument("--profile", required=True)
    blank.add_argument("--master-key-file", type=Path, required=True,
                       help="file holding the batch master key as hex (16/24/32 bytes)")
    blank.add_argument("--serial", help="chip serial, 16 hex characters (default: random)")
    blank.add_argument("--state", type=Path, help="output file (default: <workspace>/cards/<serial>.json)")
    blank.add_argument("--json", action="store_true")
    blank.set_defaults(func=_new_blank)

    info = sub.add_parser("info", help="list profiles, show a profile, or show a card state")
    group = info.add_mutually_exclusive_group()
    group.add_argument("--profile")
    group.add_argument("--state", type=Path)
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)

    chip.set_defaults(func=lambda args: (chip.print_help(), 2)[1])


def _err(message: str) -> int:
    print(f"cancuoc chip: {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from firmware_profiles.chip import VirtualChip
    from firmware_profiles.errors import FirmwareError
    from firmware_profiles.state import CardState, new_blank_card
    from firmware_profiles.vpcd import VpcdBridge, slot_port

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        if args.state is not None and args.state.exists():
            state = CardState.load(args.state)
            if args.profile and args.profile != state.profile_name:
                return _err(f"state file runs profile {state.profile_name}, not {args.profile}")
        elif args.state is not None:
            return _err(f"no card state at {args.state}: create one with `cancuoc chip new-blank`")
        elif args.profile:
            serial = os.urandom(8).hex().upper()
            # Decision: a card served without a state file is blank with a random, unknown transport key:
            # it answers SELECT and refuses everything else, like a blank card of an unknown batch.
            state = new_blank_card(args.profile, serial, os.urandom(16))
        else:
            return _err("give --profile, or --state of an existing card")
        port = args.port if args.port is not None else slot_port(args.slot)
        chip = VirtualChip(state)
        print(f"serving {state.profile_name} card {state.serial} ({state.lifecycle.value}) "
              f"to vpcd at {args.host}:{port}", file=sys.stderr, flush=True)
        bridge = VpcdBridge(chip, args.host, port)
        bridge.serve_forever(reconnect=not args.once)
    except FirmwareError as exc:
        return _err(exc.message)
    except KeyboardInterrupt:
        pass
    return 0


def _new_blank(args: argparse.Namespace) -> int:
    from firmware_profiles.errors import FirmwareError
    from firmware_profiles.state import diversify_transport_key, new_blank_card

    try:
        master = bytes.fromhex(args.master_key_file.read_text().strip())
    except (OSError, ValueError):
        return _err("cannot read a hex master key from --master-key-file")
    serial = (args.serial or os.urandom(8).hex()).upper()
    path = args.state
    if path is None:
        from cancuoc.settings import get_settings

        path = get_settings().cards_dir / f"{serial}.json"
    try:
        tk = diversify_transport_key(master, serial)
        state = new_blank_card(args.profile, serial, tk, path=path)
    except FirmwareError as exc:
        return _err(exc.message)
    out = {"profile": state.profile_name, "serial": state.serial, "lifecycle": state.lifecycle.value,
           "state": str(path)}
    print(json.dumps(out) if args.json else f"blank {out['profile']} card {out['serial']} -> {out['state']}")
    return 0


def _card_summary(state: Any) -> dict[str, Any]:
    prof = state.profile
    names = {(f.df, f.fid): f.name for f in prof.files}
    return {
        "profile": state.profile_name,
        "serial": state.serial,
        "lifecycle": state.lifecycle.value,
        "files": [{"name": names.get(k, f"{k[1]:04X}"), "df": k[0], "fid": f"{k[1]:04X}", "size": f.size}
                  for k, f in sorted(state.files.items())],
        "memory_used": state.memory_used,
        "memory_capacity": prof.memory_capacity,
        "ca_key": state.ca_private_key is not None,
        "aa_key": state.aa_private_key is not None,
        "mrz_key_set": state.mrz_secret is not None,
        "can_set": state.can is not None,
        "auth_failures": state.auth_failures,
        "transport_key_present": state.transport_key is not None,
    }


def _profile_summary(p: Any) -> dict[str, Any]:
    return {
        "name": p.name,
        "product": p.product,
        "atr": p.atr.hex().upper(),
        "aid": p.aid.hex().upper(),
        "bac": p.bac,
        "pace": None if p.pace is None else {"mappings": list(p.pace.mappings),
                                             "parameter_ids": list(p.pace.parameter_ids),
                                             "cipher": p.pace.cipher, "passwords": list(p.pace.passwords)},
        "chip_authentication": None if p.chip_authentication is None else p.chip_authentication.curve,
        "active_authentication": None if p.active_authentication is None else
        f"{p.active_authentication.algorithm}-{p.active_authentication.key_size}",
        "extended_length": p.apdu.extended_length,
        "max_read_binary": p.apdu.max_read_binary,
        "memory_capacity": p.memory_capacity,
        "files": [f.name for f in p.files],
    }


def _info(args: argparse.Namespace) -> int:
    from firmware_profiles.errors import FirmwareError
    from firmware_profiles.profile import list_profiles, load_profile
    from firmware_profiles.state import CardState

    try:
        if args.state is not None:
            out: Any = _card_summary(CardState.load(args.state))
        elif args.state is not None:
            return _err(f"no card state at {args.state}: create one with `cancuoc chip new-blank`")
        elif args.profile:
            out = _profile_summary(load_profile(args.profile))
        else:
            out = [_profile_summary(load_profile(n)) for n in list_profiles()]
    except FirmwareError as exc:
        return _err(exc.message)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = out if isinstance(out, list) else [out]
    for row in rows:
        for key, value in row.items():
            if key == "files" and value and isinstance(value[0], dict):
                value = ", ".join(f"{f['name']}({f['size']})" for f in value)
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            print(f"{key:>22}: {value}")
        print()
    return 0
