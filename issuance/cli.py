"""`cancuoc enroll …`, `cancuoc personalize …` and `cancuoc demo`: the enrollment station's commands."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from issuance.enrollment import Actor
from issuance.errors import IssuanceError


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(text)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Domain errors → one line with the reason code (exit 1); no traceback, no personal data."""

    def run(args: argparse.Namespace) -> int:
        from icao9303.errors import ICAOError
        from pki.errors import PKIError
        from population.errors import PopulationError
        from reader.errors import ReaderError

        try:
            return fn(args)
        except (IssuanceError, PopulationError) as exc:
            reason, message = exc.reason, str(exc)
        except (PKIError, ICAOError, ReaderError) as exc:
            # The layers below (no PKI workspace, a card state file that does not parse, no reader):
            # their own stable code, never a traceback.
            code = getattr(exc, "reason", None) or getattr(exc, "code", None) or type(exc).__name__
            reason, message = str(getattr(code, "value", code)), str(getattr(exc, "message", None) or exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": reason, "message": message}, ensure_ascii=False))
        else:
            print(f"error [{reason}]: {message}", file=sys.stderr)
        return 1

    run.__name__ = fn.__name__
    return run


def _actor(args: argparse.Namespace) -> Actor:
    return Actor(args.operator, getattr(args, "station", None), getattr(args, "reader", None))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--operator", required=True, help="operator account doing this step (audit)")
    p.add_argument("--station", default=None, help="station name (audit)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(subparsers: Any) -> None:
    enroll = subparsers.add_parser("enroll", help="card applications: create, portrait, approve, reject, show")
    esub = enroll.add_subparsers(dest="enroll_command", metavar="ACTION", required=True)

    p = esub.add_parser("create", help="open an application for a citizen")
    p.add_argument("personal_id")
    p.add_argument("--reason", default="first_card",
                   choices=["first_card", "renewal", "replacement", "lost", "damaged", "data_change"])
    p.add_argument("--generation", default="2024", choices=["2021", "2024"])
    _common(p)
    p.set_defaults(func=_guard(cmd_create))

    p = esub.add_parser("portrait", help="attach a portrait (image file, or camera:N) and run the quality checks")
    p.add_argument("application", type=int)
    p.add_argument("image", help="image file, or camera:N for a camera device")
    _common(p)
    p.set_defaults(func=_guard(cmd_portrait))

    for name, helptext in (("approve", "supervisor approval (four eyes)"), ("reject", "supervisor refusal"),
                           ("cancel", "withdraw an application")):
        p = esub.add_parser(name, help=helptext)
        p.add_argument("application", type=int)
        if name != "approve":
            p.add_argument("--why", required=True)
        _common(p)
        p.set_defaults(func=_guard(cmd_decide), action=name)

    p = esub.add_parser("show", help="an application and its history")
    p.add_argument("application", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_show))

    p = esub.add_parser("blank-card", help="make a blank virtual card of this workspace's card batch (its transport "
                                          "key diversified from the batch master key in the key store)")
    p.add_argument("--profile", default="vn-cc-2024", choices=["vn-cc-2024", "vn-cccd-2021", "legacy-bac"])
    p.add_argument("--out", type=Path, default=None, help="state file (default: <workspace>/cards/<serial>.json)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_blank_card))

    p = esub.add_parser("queue", help="approved applications waiting for a card")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_queue))

    p = subparsers.add_parser("personalize", help="personalize the blank card on a reader for an application "
                              "(or export/replay it as an APDU script for a central personalization machine)")
    p.add_argument("application", type=int, nargs="?", help="approved application (not with --replay)")
    script = p.add_mutually_exclusive_group()
    script.add_argument("--export-script", type=Path, default=None, metavar="FILE",
                        help="write the application's phase-1 personalization script (sealed) instead")
    script.add_argument("--replay", type=Path, default=None, metavar="SCRIPT",
                        help="replay an exported script on the card, then read back and record as usual")
    script.add_argument("--abandon", type=Path, default=None, metavar="SCRIPT",
                        help="release an exported script that will never be replayed (card record spoiled)")
    p.add_argument("--chip-serial", default=None,
                   help="with --export-script: the target blank chip's serial (else read from the card)")
    p.add_argument("--reader", default=None, help="PC/SC reader name (default: the first with a card)")
    p.add_argument("--card-state", type=Path, default=None,
                   help="use an in-process virtual chip from this state file instead of a PC/SC reader")
    p.add_argument("--profile", default=None, help="refuse cards of any other firmware profile")
    _common(p)
    p.set_defaults(func=_guard(cmd_personalize))

    p = subparsers.add_parser("demo", help="issue and verify a card end to end on the embedded defaults")
    p.add_argument("--profile", default="vn-cc-2024", choices=["vn-cc-2024", "vn-cccd-2021", "legacy-bac"])
    p.add_argument("--population", type=int, default=300, help="citizens to seed (default 300)")
    p.add_argument("--transport", default="auto", choices=["auto", "pcsc", "inprocess"],
                   help="auto: pcscd + vpcd when installed, else in-process")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_demo))


def _engine() -> Any:
    from population.db import make_engine, upgrade_database

    engine = make_engine(hide_parameters=True)  # no personal IDs (CANs) in SQL logs or errors
    upgrade_database(engine)
    return engine


def cmd_create(args: argparse.Namespace) -> int:
    from issuance.enrollment import application_view, create_application
    from population.db import session_scope

    with session_scope(_engine()) as db:
        app = create_application(db, args.personal_id, reason=args.reason, actor=_actor(args),
                                 card_generation=args.generation)
        view = application_view(app)
    _emit(args, view, f"application #{view['id']} created ({view['state']})")
    return 0


def cmd_portrait(args: argparse.Namespace) -> int:
    from issuance.enrollment import attach_portrait
    from population.db import session_scope

    image: Any = args.image
    if image.startswith("camera:"):
        from issuance.portrait import capture_from_camera

        image = capture_from_camera(int(image.split(":", 1)[1]))
    with session_scope(_engine()) as db:
        result = attach_portrait(db, args.application, image, actor=_actor(args))
    lines = [f"portrait {'ACCEPTED' if result.passed else 'REFUSED'}"]
    for r in result.assessment.results:
        mark = "ok  " if r.passed else ("FAIL" if r.blocking else "warn")
        lines.append(f"  {mark} {r.code:<28} measured {r.measured:.3g} (threshold {r.threshold}) {r.detail}")
    _emit(args, {"passed": result.passed, "rules": [r.as_dict() for r in result.assessment.results]},
          "\n".join(lines))
    return 0 if result.passed else 1


def cmd_decide(args: argparse.Namespace) -> int:
    from issuance import enrollment
    from population.db import session_scope

    with session_scope(_engine()) as db:
        if args.action == "approve":
            app = enrollment.approve(db, args.application, actor=_actor(args))
        elif args.action == "reject":
            app = enrollment.reject(db, args.application, actor=_actor(args), reason=args.why)
        else:
            app = enrollment.cancel(db, args.application, actor=_actor(args), reason=args.why)
        view = enrollment.application_view(app)
    _emit(args, view, f"application #{view['id']} is {view['state']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from issuance.enrollment import application_history, application_view, get_application
    from population.db import session_scope

    with session_scope(_engine()) as db:
        view = application_view(get_application(db, args.application))
        view["history"] = [{"at": e.at.isoformat(), "actor": e.actor, "station": e.station, "reader": e.reader,
                            "from": e.from_state, "to": e.to_state, "detail": e.detail}
                           for e in application_history(db, args.application)]
    text = [f"application #{view['id']}  {view['state']}  reason {view['reason']}  card {view['card_number'] or '-'}"]
    text += [f"  {h['at']}  {h['actor']:<16} {h['from'] or '-':>13} → {h['to']:<13} {h['detail'] or ''}"
             for h in view["history"]]
    _emit(args, view, "\n".join(text))
    return 0


def cmd_blank_card(args: argparse.Namespace) -> int:
    from cancuoc.settings import get_settings
    from issuance.station import manufacture_blank_card, open_station

    ctx = open_station(init_pki=True)
    state = manufacture_blank_card(ctx, args.profile)
    path = args.out or get_settings().cards_dir / f"{state.serial}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    state.save(path)
    _emit(args, {"serial": state.serial, "profile": args.profile, "state": str(path)},
          f"blank {args.profile} card {state.serial}: {path}\n"
          f"serve it to pcscd with: cancuoc chip serve --profile {args.profile} --state {path}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from issuance.enrollment import application_view, queue
    from population.db import session_scope

    with session_scope(_engine()) as db:
        views = [application_view(a) for a in queue(db)]
    _emit(args, views, "\n".join(f"#{v['id']}  {v['personal_id']}  {v['reason']}  attempts {v['attempts']}"
                                 for v in views) or "queue empty")
    return 0


def _transport(args: argparse.Namespace) -> tuple[Any, str]:
    if args.card_state is not None:
        from firmware_profiles.chip import VirtualChip
        from reader.transport import InProcessTransport

        return InProcessTransport(VirtualChip.open(args.card_state)), f"in-process:{args.card_state.name}"
    from reader.transport import PcscTransport

    return PcscTransport(args.reader), args.reader or "pcsc"


def cmd_personalize_script(args: argparse.Namespace) -> int:
    """--export-script / --replay / --abandon (see `issuance.script`)."""
    from issuance import script as sc
    from issuance.errors import IssuanceError
    from issuance.station import open_station

    ctx = open_station()
    if args.export_script is not None:
        if args.application is None:
            raise IssuanceError("--export-script needs the application number", reason="USAGE")
        serial, profile = args.chip_serial, args.profile
        if serial is None or profile is None:  # read them from the blank card on the reader
            from firmware_profiles import detect_profile
            from firmware_profiles.dialect import PersonalizationSession
            from icao9303.errors import ICAOError
            from reader.errors import ReaderError

            transport, _ = _transport(args)
            try:
                with transport:
                    detected = detect_profile(transport.reset())
                    serial = serial or PersonalizationSession(transport, detected).read_serial()
            except (ICAOError, ReaderError) as exc:
                raise IssuanceError(f"cannot read the blank card's serial ({type(exc).__name__})",
                                    reason="CARD_NOT_PERSONALIZABLE") from None
            if profile is not None and profile != detected.name:
                raise IssuanceError(f"card is {detected.name}, expected {profile}", reason="WRONG_PROFILE")
            profile = detected.name
        exported = sc.export_script(ctx, args.application, profile=profile, chip_serial=serial,
                                    actor=_actor(args))
        tmp = args.export_script.with_name(args.export_script.name + ".tmp")
        tmp.write_bytes(exported.to_bytes())
        tmp.chmod(0o600)
        tmp.replace(args.export_script)
        h = exported.header
        _emit(args, {"script": str(args.export_script), **vars(h)},
              f"script {h.script_id} written to {args.export_script}: card {h.card_number}, chip {h.chip_serial} "
              f"({h.profile}), {h.commands} phase-1 commands, valid until {h.not_after}")
        return 0
    path = args.replay or args.abandon
    try:
        loaded = sc.PersonalizationScript.from_bytes(path.read_bytes())
    except OSError as exc:
        raise IssuanceError(f"cannot read {path}: {exc.strerror}", reason="SCRIPT_MALFORMED") from None
    if args.abandon is not None:
        sc.abandon_script(ctx, loaded, actor=_actor(args))
        _emit(args, {"abandoned": loaded.header.script_id, "card_number": loaded.header.card_number},
              f"script {loaded.header.script_id} abandoned: card {loaded.header.card_number} spoiled, "
              "application back in queue")
        return 0
    transport, reader_name = _transport(args)
    with transport:
        outcome = sc.replay_script(ctx, loaded, transport, actor=Actor(args.operator, args.station, reader_name))
    return _report_outcome(args, outcome)


def cmd_personalize(args: argparse.Namespace) -> int:
    from issuance.personalize import personalize_application
    from issuance.station import open_station

    if args.export_script is not None or args.replay is not None or args.abandon is not None:
        return cmd_personalize_script(args)
    if args.application is None:
        raise IssuanceError("personalize needs the application number", reason="USAGE")
    ctx = open_station()
    if args.card_state is not None:
        from firmware_profiles.chip import VirtualChip
        from reader.transport import InProcessTransport

        transport: Any = InProcessTransport(VirtualChip.open(args.card_state))
        reader_name = f"in-process:{args.card_state.name}"
    else:
        from reader.transport import PcscTransport

        transport = PcscTransport(args.reader)
        reader_name = args.reader or "pcsc"
    with transport:
        outcome = personalize_application(ctx, args.application, transport,
                                          actor=Actor(args.operator, args.station, reader_name),
                                          expected_profile=args.profile)
    return _report_outcome(args, outcome)


def _report_outcome(args: argparse.Namespace, outcome: Any) -> int:
    if outcome.issued:
        text = (f"ISSUED card {outcome.card_number} ({outcome.profile}, chip {outcome.chip_serial}): "
                f"{outcome.apdus} APDUs, {outcome.timings.get('total', 0):.2f} s")
    else:
        text = (f"SPOILED card {outcome.card_number} [{outcome.reason}] {outcome.detail or ''}; "
                "application back in queue")
    _emit(args, outcome.to_dict(), text)
    return 0 if outcome.issued else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from issuance.demo import run_demo

    summary = run_demo(profile=args.profile, population=args.population, transport=args.transport,
                       quiet=args.json)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    return 0
