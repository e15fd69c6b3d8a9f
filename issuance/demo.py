"""`cancuoc demo`: the main job on the embedded defaults — issue a real card end to end, then verify it.

Workspace (SQLite, file key store, PKI, trust, cards, outputs) → seed a small population → PKI init →
a blank virtual chip (in pcscd through vpcd when pcscd and vsmartcard-vpcd are installed, in-process
otherwise, and it says which) → enroll a citizen with the sample portrait, four-eyes approval →
personalize and lock through the chip's firmware profile → read-back verified → card face (PNG/PDF) →
a counter reads the QR off the card face image, derives the CAN, opens the chip and verifies it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from issuance.enrollment import Actor, approve, attach_portrait, create_application
from issuance.errors import IssuanceError

OFFICER = Actor("demo-officer", "demo-station")
SUPERVISOR = Actor("demo-supervisor", "demo-station")


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def _pick_citizen(ctx: Any, today: dt.date, officer: Actor) -> tuple[int, str]:
    """The first seeded citizen who can get a first card (adult, complete record, no valid card)."""
    from population.db import session_scope
    from population.models import Citizen

    with session_scope(ctx.engine) as db:
        candidates = list(db.scalars(
            select(Citizen.personal_id).where(Citizen.status == "alive", Citizen.merged_into.is_(None),
                                              Citizen.birth_day.is_not(None),
                                              Citizen.birth_year.between(today.year - 57, today.year - 16))
            .order_by(Citizen.personal_id).limit(200)))
    for pid in candidates:
        try:
            with session_scope(ctx.engine) as db:
                app = create_application(db, pid, reason="first_card", actor=officer)
                return app.id, pid
        except (IssuanceError, Exception) as exc:  # planted errors in the seed: try the next one
            if not hasattr(exc, "reason"):
                raise
            continue
    raise IssuanceError("no seeded citizen is eligible for a first card", reason="DEMO_NO_CITIZEN")


def run_demo(*, profile: str = "vn-cc-2024", population: int = 300, transport: str = "auto",
             quiet: bool = False) -> dict[str, Any]:
    """Run the demo in the current workspace (CANCUOC_HOME); returns the summary (also printed)."""
    from cancuoc.settings import get_settings
    from firmware_profiles.chip import VirtualChip
    from issuance.card_face import CardFaceData, render_card, save_pdf, save_png
    from issuance.personalize import personalize_application
    from issuance.portrait import sample_portrait_bytes
    from issuance.station import manufacture_blank_card, open_station
    from population.db import session_scope
    from population.models import Citizen
    from population.seed import seed_population
    from reader.capture import QRGeneration, scan_image
    from reader.cli import render

    t_start = time.perf_counter()
    settings = get_settings()
    home = settings.ensure_home()
    _say(quiet, f"Workspace     {home}")
    _say(quiet, f"Database      {settings.effective_database_url.split('@')[-1]}")
    ctx = open_station(init_pki=True)
    _say(quiet, f"PKI           {ctx.pki.home} (CSCA, Document Signer, CRL; keys in {settings.keystore_dir})")
    with session_scope(ctx.engine) as db:
        have = db.scalar(select(func.count()).select_from(Citizen)) or 0
    if have < population:
        seeded = seed_population(ctx.engine, population - have, seed=int(time.time()) % 100000)
        _say(quiet, f"Population    seeded {seeded.citizens} citizens in {seeded.households} households")
    else:
        _say(quiet, f"Population    {have} citizens already in the database")

    today = dt.date.today()
    app_id, pid = _pick_citizen(ctx, today, OFFICER)
    with session_scope(ctx.engine) as db:
        result = attach_portrait(db, app_id, sample_portrait_bytes(), actor=OFFICER, today=today)
        if not result.passed:
            raise IssuanceError("the sample portrait failed its checks: "
                                + ", ".join(r.code for r in result.assessment.failures), reason="DEMO_PORTRAIT")
        approve(db, app_id, actor=SUPERVISOR)
        citizen = db.get(Citizen, pid)
        name = citizen.full_name if citizen else ""
    _say(quiet, f"Application   #{app_id} for {name} ({pid[:6]}******): portrait {len(result.encoded or b'')} "
                f"bytes passed every rule, approved by {SUPERVISOR.operator}")

    cards_dir = settings.cards_dir
    cards_dir.mkdir(parents=True, exist_ok=True)
    blank = manufacture_blank_card(ctx, profile)
    state_path = cards_dir / f"{blank.serial}.json"
    blank.save(state_path)
    chip = VirtualChip.open(state_path)

    with ExitStack() as stack:
        reader_transport, how = _open_reader(stack, chip, transport, home)
        _say(quiet, f"Card reader   {how}")
        outcome = personalize_application(ctx, app_id, reader_transport,
                                          actor=Actor("demo-perso", "demo-station", how))
        if not outcome.issued:
            raise IssuanceError(f"personalization failed: {outcome.reason} {outcome.detail or ''}",
                                reason=outcome.reason or "PERSONALIZATION_FAILED")
        _say(quiet, f"Personalized  card {outcome.card_number} on {outcome.profile} chip {outcome.chip_serial}: "
                    f"{outcome.apdus} APDUs, {outcome.bytes_written} bytes written, locked, read back and "
                    f"verified in {outcome.timings['total']:.2f} s")
        comp = outcome.composition
        assert comp is not None
        # The card face the printer receives (and the counter photographs).
        face = CardFaceData(
            generation=QRGeneration.CARD_2024 if profile == "vn-cc-2024" else QRGeneration.CCCD_2021,
            personal_id=comp.data.personal_id, full_name=comp.data.full_name,
            date_of_birth=comp.data.date_of_birth, sex=comp.data.sex, date_of_issue=comp.issue_date,
            date_of_expiry=comp.expiry_date, mrz=tuple(comp.mrz.lines),  # type: ignore[arg-type]
            place_of_residence=comp.data.place_of_residence or "",
            place_of_origin=comp.data.place_of_origin or "", place_of_birth=comp.data.place_of_birth or "",
            cmnd=comp.data.old_cmnd or "", identifying_features=comp.data.identifying_features or "",
            portrait=result.encoded)
        out_dir = settings.output_dir / str(outcome.card_number)
        images = render_card(face, dpi=300)
        front, back = save_png(images, out_dir, "card")
        pdf = save_pdf(images, out_dir / "card.pdf")
        _say(quiet, f"Card face     {front}\n              {back}\n              {pdf}")

        # A counter: QR from the card face photo → CAN → open the chip → verify.
        qr_side = back if profile == "vn-cc-2024" else front
        scan = scan_image(str(qr_side))
        if not scan.ok or scan.access_keys is None:
            raise IssuanceError("the counter could not read the QR on the card face", reason="DEMO_SCAN")
        report = _counter_read(reader_transport, scan.access_keys.can, ctx, out_dir)
    _say(quiet, f"\nCounter read (QR on the card face → CAN → {report.access.method if report.access else '?'}):")
    _say(quiet, render(report))
    summary = {
        "workspace": str(home), "transport": how, "application": app_id, "card_number": outcome.card_number,
        "profile": outcome.profile, "chip_state": str(state_path), "card_face": [str(front), str(back), str(pdf)],
        "personalization": outcome.to_dict(), "verification": report.to_dict(),
        "seconds": round(time.perf_counter() - t_start, 3),
    }
    (out_dir / "verification.json").write_text(json.dumps(summary["verification"], indent=2, default=str))
    _say(quiet, f"\nDone in {summary['seconds']:.1f} s. The workspace stays in {home}; try:\n"
                f"  cancuoc read --card-state {state_path} --can <last 6 digits of the personal ID>\n"
                f"  cancuoc enroll show {app_id}\n  cancuoc pki status\n  cancuoc population quality")
    return summary


def _open_reader(stack: ExitStack, chip: Any, transport: str, home: Path) -> tuple[Any, str]:
    """pcscd + vpcd + pyscard when available (`transport` auto/pcsc), else the in-process adapter."""
    from reader.pcscd import pcsc_available

    if transport in ("auto", "pcsc") and pcsc_available():
        from firmware_profiles.vpcd import VpcdBridge
        from reader.pcscd import private_socket_path, start_pcscd, wait_card_state
        from reader.transport import PcscTransport

        if "PCSCLITE_CSOCK_NAME" not in os.environ:
            private_socket_path()
        workdir = home / "pcscd"
        workdir.mkdir(parents=True, exist_ok=True)
        pcsc = start_pcscd(workdir)
        stack.callback(pcsc.stop)
        bridge = VpcdBridge(chip, "127.0.0.1", pcsc.port(0))
        bridge.start()
        stack.callback(bridge.stop)
        wait_card_state(pcsc.reader(0), True)
        t = PcscTransport(pcsc.reader(0))
        t.open()
        stack.callback(t.close)
        return t, f"PC/SC: pyscard → private pcscd (pid {pcsc.pid}) → vsmartcard-vpcd → virtual chip " \
                  f"({pcsc.reader(0)})"
    if transport == "pcsc":
        raise IssuanceError("pcscd / vsmartcard-vpcd are not installed", reason="PCSC_UNAVAILABLE")
    from reader.transport import InProcessTransport

    t = InProcessTransport(chip)
    t.open()
    return t, "in-process virtual chip (pcscd + vsmartcard-vpcd not installed)"


def _counter_read(t: Any, can: str, ctx: Any, out_dir: Path) -> Any:
    from reader.access import ReadPolicy, can_key
    from reader.inspect import inspect_card

    t.reset()
    return inspect_card(t, can_key(can), ctx.trust_store, at=dt.datetime.now(dt.UTC), aa_challenge=os.urandom(8),
                        policy=ReadPolicy(), portrait_path=out_dir / "portrait_from_chip")
