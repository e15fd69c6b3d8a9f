"""The `cancuoc` console script: one subcommand per package, each registered by that package's cli module."""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (subcommand, module exposing `register(subparsers)`): each package owns its own commands.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("mrz", "icao9303.cli"),
    ("lds", "icao9303.cli"),
    ("pki", "pki.cli"),
    ("chip", "firmware_profiles.cli"),
    ("read", "reader.cli"),
    ("scan", "reader.capture.cli"),
    ("population", "population.cli"),
    ("enroll", "issuance.cli"),
    ("personalize", "issuance.cli"),
    ("demo", "issuance.cli"),
    ("serve", "station_api.cli"),
    ("audit", "station_api.cli"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cancuoc", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: set[str] = set()
    for _name, module_name in SUBCOMMANDS:
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that package has no commands yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
