"""Personalization scripts (issue #7): export from a composed application, replay on a blank chip (in-process
and through pcscd), the same read-back and registry record as the direct path; tampered, misdirected,
replayed, expired and stale scripts refused with reason codes; a failure mid-replay spoils the card."""
from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_profiles import LifeCycle, load_profile
from firmware_profiles.chip import VirtualChip
from firmware_profiles.dialect import PersonalizationSession
from issuance.enrollment import Actor, approve, attach_portrait, create_application, get_application
from issuance.errors import IssuanceError
from issuance.personalize import IssuanceContext, personalize_application
from issuance.script import (
    PersonalizationScript,
    ScriptError,
    _seal,
    abandon_script,
    export_script,
    prepare_phase2,
    replay_script,
    run_phase,
)
from issuance.station import manufacture_blank_card, own_trust_store, transport_key_function
from population.cards import find_card, public_key_sha256, valid_card
from population.db import make_engine, session_scope
from population.testing import make_citizen
from reader.transport import InProcessTransport
from tests.fixtures.issuance import NOW

OFFICER = Actor("officer-a", "station-1")
SUPERVISOR = Actor("supervisor-b", "station-1")
DP = Actor("dp-operator", "central-dp")
PM = Actor("pm-operator", "central-pm", "pm-reader-0")


@pytest.fixture
def station(sqlite_station: IssuanceContext) -> IssuanceContext:
    return sqlite_station


@pytest.fixture(scope="module")
def trust_store(pki_ws: Any) -> Any:
    return own_trust_store(pki_ws)


def approved(ctx: IssuanceContext, portrait: Any, *, reason: str = "first_card",
             personal_id: str | None = None) -> tuple[int, str]:
    with session_scope(ctx.engine) as db:
        personal_id = personal_id or make_citizen(db).personal_id
        app = create_application(db, personal_id, reason=reason, actor=OFFICER)
        attach_portrait(db, app.id, actor=OFFICER, result=portrait)
        approve(db, app.id, actor=SUPERVISOR)
        return app.id, personal_id


def blank(ctx: IssuanceContext, profile: str = "vn-cc-2024", serial: str | None = None) -> VirtualChip:
    return VirtualChip(manufacture_blank_card(ctx, profile, serial=serial))


def export_for(ctx: IssuanceContext, app_id: int, chip: VirtualChip) -> bytes:
    """Export as a file (bytes) and nothing else: the replay only ever sees what a file would carry."""
    script = export_script(ctx, app_id, profile=chip.profile, chip_serial=chip.state.serial, actor=DP)
    return script.to_bytes()


def state_of(ctx: IssuanceContext, app_id: int, card_number: str) -> tuple[str, str]:
    with session_scope(ctx.engine) as db:
        return get_application(db, app_id).state, find_card(db, card_number).status


def summary(report: Any) -> Any:
    return (report.verdict, report.reason, report.chip_authentication, report.active_authentication,
            report.files_read, [(c.id, c.outcome, c.reason) for c in report.checks])


# -- the happy path ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_replayed_card_verifies_exactly_like_a_direct_one(station: IssuanceContext, portrait: Any,
                                                          profile: str) -> None:
    direct_app, _ = approved(station, portrait)
    direct = personalize_application(station, direct_app, InProcessTransport(blank(station, profile)),
                                     actor=PM)
    assert direct.issued

    app_id, pid = approved(station, portrait)
    chip = blank(station, profile)
    data = export_for(station, app_id, chip)
    script = PersonalizationScript.from_bytes(data)
    assert script.header.phase == 1 and script.header.chip_serial == chip.state.serial
    assert state_of(station, app_id, script.header.card_number) == ("personalizing", "personalized")
    # no secret or personal datum in the file: MRZ, CAN, personal ID, name; the body is sealed
    with session_scope(station.engine) as db:
        from population.citizens import citizen_view

        view = citizen_view(db, pid)
    text = data.decode()
    assert pid not in text and pid[-6:] not in text and pid[3:] not in text
    assert view["full_name"] not in text and "IDVNM" not in text and "<<" not in text
    assert chip.state.lifecycle is LifeCycle.BLANK  # exporting never touches a card

    outcome = replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(chip), actor=PM)
    assert outcome.issued, (outcome.reason, outcome.detail)
    assert chip.state.lifecycle is LifeCycle.LOCKED
    assert summary(outcome.report) == summary(direct.report)
    assert set(outcome.report.evidence.files) == set(direct.report.evidence.files)
    comp = outcome.composition
    with session_scope(station.engine) as db:
        card = find_card(db, outcome.card_number)
        assert card.status == "issued" and card.chip_serial == chip.state.serial
        assert card.sod_hash == comp.sod_hash_hex and card.ds_certificate == comp.ds_certificate
        assert card.aa_public_key_sha256 == public_key_sha256(comp.aa_public_key)
        assert (card.ca_public_key_sha256 is not None) == (profile != "legacy-bac")
        app = get_application(db, app_id)
        assert app.state == "issued" and app.card_number == outcome.card_number
        assert valid_card(db, pid).card_number == outcome.card_number


# -- refusals ----------------------------------------------------------------------------------------------


def _edit(data: bytes, fn: Any) -> bytes:
    obj = json.loads(data)
    fn(obj)
    return json.dumps(obj).encode()


def _flip_sealed(obj: dict[str, Any]) -> None:
    sealed = bytearray(base64.b64decode(obj["sealed"]))
    sealed[len(sealed) // 2] ^= 0x01
    obj["sealed"] = base64.b64encode(bytes(sealed)).decode()


def test_tampered_misdirected_and_replayed_scripts_are_refused(station: IssuanceContext, portrait: Any) -> None:
    app_id, _ = approved(station, portrait)
    chip = blank(station)
    data = export_for(station, app_id, chip)
    card_number = PersonalizationScript.from_bytes(data).header.card_number

    def refused(raw: bytes, target: VirtualChip, reason: str) -> None:
        with pytest.raises(ScriptError) as e:
            replay_script(station, PersonalizationScript.from_bytes(raw), InProcessTransport(target), actor=PM)
        assert e.value.reason == reason, (e.value.reason, str(e.value))
        assert state_of(station, app_id, card_number) == ("personalizing", "personalized")  # nothing changed
        assert target.state.lifecycle is LifeCycle.BLANK and not target.state.files

    # an edited APDU (a bit of the sealed command list), an edited header field, a header naming another chip
    other = blank(station)
    refused(_edit(data, _flip_sealed), chip, "SCRIPT_INTEGRITY")
    refused(_edit(data, lambda o: o["header"].update(issue_date="2026-11-30")), chip, "SCRIPT_INTEGRITY")
    refused(_edit(data, lambda o: o["header"].update(chip_serial=other.state.serial)), other, "SCRIPT_INTEGRITY")
    refused(_edit(data, lambda o: o["header"].update(card_number="26" + "0" * 10)), chip, "SCRIPT_UNKNOWN_CARD")
    # the right script on the wrong chip: refused after GET DATA, before any write
    refused(data, other, "SCRIPT_WRONG_CHIP")
    refused(data, blank(station, "vn-cccd-2021"), "SCRIPT_WRONG_PROFILE")

    # the right chip: issued
    outcome = replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(chip), actor=PM)
    assert outcome.issued, (outcome.reason, outcome.detail)
    # replayed twice: on the same (locked) card, and on a blank cloned with the same serial
    for target in (chip, blank(station, serial=chip.state.serial)):
        with pytest.raises(ScriptError) as e:
            replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(target), actor=PM)
        assert e.value.reason == "SCRIPT_ALREADY_USED"
    assert state_of(station, app_id, card_number) == ("issued", "issued")


def test_insider_edit_with_a_valid_seal_is_stale_and_releases_the_claim(station: IssuanceContext,
                                                                       portrait: Any) -> None:
    """Someone holding the batch key re-seals an edited DG1 write: the DP's check against the population
    record refuses it (SCRIPT_STALE) before the card is touched, and the claim is released."""
    app_id, _ = approved(station, portrait)
    chip = blank(station)
    script = PersonalizationScript.from_bytes(export_for(station, app_id, chip))
    tk = station.transport_key_for(chip.state.serial)
    commands = script.open(tk)
    i = next(n for n, c in enumerate(commands) if c.step == "write DG1")
    apdu = bytearray(commands[i].apdu)
    apdu[-3] ^= 0x01
    commands[i] = type(commands[i])(commands[i].step, bytes(apdu))
    forged = _seal(script.header, commands, tk)
    with pytest.raises(ScriptError) as e:
        replay_script(station, forged, InProcessTransport(chip), actor=PM)
    assert e.value.reason == "SCRIPT_STALE"
    assert state_of(station, app_id, script.header.card_number) == ("approved", "spoiled")
    assert chip.state.lifecycle is LifeCycle.BLANK


def test_expired_abandoned_and_phase2_scripts(station: IssuanceContext, portrait: Any) -> None:
    app_id, _ = approved(station, portrait)
    chip = blank(station)
    script = PersonalizationScript.from_bytes(export_for(station, app_id, chip))
    with pytest.raises(ScriptError) as e:
        replay_script(station, script, InProcessTransport(chip), actor=PM,
                      clock=lambda: NOW + dt.timedelta(days=8))
    assert e.value.reason == "SCRIPT_EXPIRED"
    assert state_of(station, app_id, script.header.card_number) == ("approved", "spoiled")
    with pytest.raises(ScriptError) as e:
        abandon_script(station, script, actor=DP)
    assert e.value.reason == "SCRIPT_ALREADY_USED"

    # abandon by hand, then the application can be exported again for the same blank chip
    first = PersonalizationScript.from_bytes(export_for(station, app_id, chip))
    abandon_script(station, first, actor=DP)
    assert state_of(station, app_id, first.header.card_number) == ("approved", "spoiled")
    script = PersonalizationScript.from_bytes(export_for(station, app_id, chip))
    # a phase-2 script cannot start a replay; phase 2 needs this script's chip result
    tk = station.transport_key_for(chip.state.serial)
    t = InProcessTransport(chip)
    t.reset()
    result = run_phase(t, script, tk)
    assert set(result.public_keys) == {"CA", "AA"}
    phase2, comp = prepare_phase2(station, script, result, now=NOW)
    assert {"DG14", "DG15", "EF.SOD", "EF.COM"} <= set(comp.files) and comp.ds_certificate
    assert phase2.header.phase == 2 and phase2.header.follows == script.header.script_id
    assert [c.step for c in phase2.open(tk)][-3:] == ["set MRZ key", "set CAN", "lock"]
    with pytest.raises(ScriptError) as e:
        replay_script(station, phase2, InProcessTransport(chip), actor=PM)
    assert e.value.reason == "SCRIPT_PHASE"
    with pytest.raises(ScriptError) as e:
        prepare_phase2(station, script, type(result)(script.header.script_id, "00" * 8, result.public_keys))
    assert e.value.reason == "SCRIPT_PHASE"
    with pytest.raises(ScriptError) as e:
        prepare_phase2(station, script, type(result)(script.header.script_id, result.chip_serial, {}))
    assert e.value.reason == "SCRIPT_MISSING_KEY"


# -- failures mid-replay -----------------------------------------------------------------------------------


class PullingTransport:
    """The card leaves the machine before APDU number `at` (0-based), or before the first APDU whose INS is
    `ins` (secure messaging keeps INS in clear), or right after that APDU's answer when `after`."""

    def __init__(self, chip: VirtualChip, at: int | None = None, *, ins: int | None = None,
                 after: bool = False) -> None:
        self.inner = InProcessTransport(chip)
        self.at, self.ins, self.after = at, ins, after
        self.sent = 0
        self.pulled = False

    def _pull(self) -> None:
        self.pulled = True
        self.inner.remove()
        self.inner.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        hit = self.ins is not None and apdu[1] == self.ins and not self.pulled
        if (self.at is not None and self.sent >= self.at) or (hit and not self.after):
            self._pull()
        self.sent += 1
        answer = self.inner.transmit(apdu)
        if hit and self.after:
            self._pull()
        return answer

    def reset(self) -> bytes:
        if self.at is not None and self.sent >= self.at:
            self._pull()
        return self.inner.reset()


def test_failure_mid_replay_spoils_the_card(station: IssuanceContext, portrait: Any) -> None:
    app_id, pid = approved(station, portrait)
    chip = blank(station, "vn-cccd-2021")
    full = replay_script(station, PersonalizationScript.from_bytes(export_for(station, app_id, chip)),
                         InProcessTransport(chip), actor=PM)
    assert full.issued
    total = full.apdus
    app2, _ = approved(station, portrait, reason="replacement", personal_id=pid)
    probe = PersonalizationScript.from_bytes(export_for(station, app2, blank(station, "vn-cccd-2021")))
    abandon_script(station, probe, actor=DP)
    n1 = probe.header.commands
    perso = load_profile("vn-cccd-2021").personalization
    # identification = GET DATA; each phase = GET DATA, SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE, commands
    pulls = {"first secure command": dict(at=5), "mid phase 1": dict(at=5 + n1 // 2),
             "key generation": dict(ins=perso.generate_key_ins), "between phases": dict(at=5 + n1),
             "phase-2 authentication": dict(at=5 + n1 + 3), "mid phase 2": dict(at=5 + n1 + 8),
             "lock": dict(ins=perso.lock_ins), "after the lock": dict(ins=perso.lock_ins, after=True),
             "read-back": dict(at=total - 10), "last read-back APDU": dict(at=total - 1)}
    for where, how in pulls.items():
        chip = blank(station, "vn-cccd-2021")
        data = export_for(station, app2, chip)
        outcome = replay_script(station, PersonalizationScript.from_bytes(data), PullingTransport(chip, **how),
                                actor=PM)
        assert not outcome.issued, where
        assert outcome.reason == ("READBACK_FAILED" if "after" in where or "read-back" in where
                                  else "CARD_REMOVED"), (where, outcome.reason)
        assert state_of(station, app2, outcome.card_number) == ("approved", "spoiled")
        assert (chip.state.lifecycle is LifeCycle.LOCKED) == (where in ("after the lock", "read-back",
                                                                        "last read-back APDU")), where
        with pytest.raises(ScriptError) as e:  # and the script is spent
            replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(chip), actor=PM)
        assert e.value.reason == "SCRIPT_ALREADY_USED"
        with session_scope(station.engine) as db:
            assert valid_card(db, pid).card_number == full.card_number
    # a chip that refuses a command (its file already exists): unexpected status word, spoiled
    chip = blank(station, "vn-cccd-2021")
    data = export_for(station, app2, chip)
    session = PersonalizationSession(InProcessTransport(chip), load_profile("vn-cccd-2021"))
    session.authenticate(station.transport_key_for(chip.state.serial))
    session.write_file("DG1", b"\x61\x00")
    outcome = replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(chip), actor=PM)
    assert not outcome.issued and outcome.reason == "SCRIPT_UNEXPECTED_SW"
    assert "6A89" in outcome.detail
    assert state_of(station, app2, outcome.card_number) == ("approved", "spoiled")


def test_pull_before_identification_records_nothing(station: IssuanceContext, portrait: Any) -> None:
    app_id, _ = approved(station, portrait)
    chip = blank(station)
    data = export_for(station, app_id, chip)
    with pytest.raises(IssuanceError) as e:
        replay_script(station, PersonalizationScript.from_bytes(data), PullingTransport(chip, 0), actor=PM)
    assert e.value.reason == "CARD_NOT_PERSONALIZABLE"
    card_number = PersonalizationScript.from_bytes(data).header.card_number
    assert state_of(station, app_id, card_number) == ("personalizing", "personalized")
    chip.power_off()
    outcome = replay_script(station, PersonalizationScript.from_bytes(data), InProcessTransport(chip), actor=PM)
    assert outcome.issued


# -- hostile files ----------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                  max_size=5),
                              max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_hostile_script_files_raise_script_error_only(raw: bytes) -> None:
    with pytest.raises(ScriptError) as e:
        PersonalizationScript.from_bytes(raw)
    assert e.value.reason in {"SCRIPT_MALFORMED", "SCRIPT_FORMAT"}


def test_every_flipped_bit_of_a_real_script_is_refused_or_harmless(station: IssuanceContext,
                                                                   portrait: Any) -> None:
    """Seeded fuzz over an exported file: a flipped bit anywhere either makes the file refused (ScriptError)
    or changes nothing the replayer acts on (e.g. JSON whitespace)."""
    import random

    app_id, _ = approved(station, portrait)
    chip = blank(station, "legacy-bac")
    data = export_for(station, app_id, chip)
    tk = station.transport_key_for(chip.state.serial)
    original = PersonalizationScript.from_bytes(data)
    commands = original.open(tk)
    assert "<sealed>" in repr(original) and all("apdu" not in repr(c) for c in commands)
    rng = random.Random(7)
    refused = 0
    for _ in range(300):
        raw = bytearray(data)
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        try:
            script = PersonalizationScript.from_bytes(bytes(raw))
            assert script.header == original.header and script.open(tk) == commands
        except ScriptError as exc:
            assert exc.reason in {"SCRIPT_MALFORMED", "SCRIPT_FORMAT", "SCRIPT_INTEGRITY"}
            refused += 1
    assert refused > 250


_VALID = {"format": "cancuoc-perso-script/1", "header": {
    "script_id": "0" * 32, "phase": 1, "application_id": 1, "card_number": "260000000001",
    "chip_serial": "0011223344556677", "profile": "vn-cc-2024", "issue_date": "2026-11-29",
    "created_at": "2026-11-29T12:00:00+00:00", "not_after": "2026-12-06T12:00:00+00:00", "commands": 3,
    "follows": None}, "nonce": base64.b64encode(bytes(12)).decode(), "sealed": base64.b64encode(bytes(40)).decode()}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_VALID["header"])),
       st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=40), st.just([])))
def test_header_fields_are_validated(name: str, value: Any) -> None:
    obj = json.loads(json.dumps(_VALID))
    obj["header"][name] = value
    try:
        script = PersonalizationScript.from_bytes(json.dumps(obj).encode())
    except ScriptError as exc:
        assert exc.reason == "SCRIPT_MALFORMED"
    else:  # accepted only if still a well-formed header
        assert script.header.phase in (1, 2) and len(script.header.chip_serial) == 16
    with pytest.raises(ScriptError) as e:  # any valid-looking header still fails the seal
        PersonalizationScript.from_bytes(json.dumps(_VALID).encode()).open(bytes(16))
    assert e.value.reason == "SCRIPT_INTEGRITY"


# -- the real PC/SC stack and the CLI ---------------------------------------------------------------------


@pytest.mark.pcsc
@pytest.mark.postgres
@pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True)
def test_replay_through_pcscd_on_postgresql(migrated_db_url: str, pki_ws: Any, trust_store: Any,
                                            portrait: Any, virtual_card: Any) -> None:
    """The real parts: pyscard → pcscd → vpcd → virtual chip, and the card registry in PostgreSQL."""
    from reader.transport import PcscTransport

    engine = make_engine(migrated_db_url)
    station = IssuanceContext(engine=engine, pki=pki_ws, trust_store=trust_store,
                              transport_key_for=transport_key_function(pki_ws.keystore), clock=lambda: NOW)
    try:
        _replay_through_pcscd(station, portrait, virtual_card, PcscTransport)
    finally:
        engine.dispose()


def _replay_through_pcscd(station: IssuanceContext, portrait: Any, virtual_card: Any, PcscTransport: Any) -> None:
    app_id, _ = approved(station, portrait)
    chip = blank(station, "vn-cc-2024")
    data = export_for(station, app_id, chip)
    reader = virtual_card.insert(chip, slot=0)
    other = virtual_card.insert(blank(station, "vn-cc-2024"), slot=1)
    with PcscTransport(other) as t, pytest.raises(ScriptError) as e:
        replay_script(station, PersonalizationScript.from_bytes(data), t, actor=PM)
    assert e.value.reason == "SCRIPT_WRONG_CHIP"
    with PcscTransport(reader) as t:
        outcome = replay_script(station, PersonalizationScript.from_bytes(data), t, actor=PM)
    assert outcome.issued, (outcome.reason, outcome.detail)
    assert outcome.report.chip_authentication and outcome.report.active_authentication
    assert state_of(station, app_id, outcome.card_number) == ("issued", "issued")
    with PcscTransport(reader) as t, pytest.raises(ScriptError) as e:
        replay_script(station, PersonalizationScript.from_bytes(data), t, actor=PM)
    assert e.value.reason == "SCRIPT_ALREADY_USED"


def test_cli_export_replay_and_abandon(workspace: Path, portrait: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`cancuoc personalize APP --export-script FILE` (serial and profile read from the blank card),
    `cancuoc personalize --replay FILE`, a second replay refused, `--abandon` of an unused script."""
    from cancuoc.cli import main
    from issuance.station import open_station

    ctx = open_station(init_pki=True)
    ctx.clock = lambda: dt.datetime.now(dt.UTC)
    app_id, _ = approved(ctx, portrait)
    card = tmp_path / "blank.json"
    manufacture_blank_card(ctx, "vn-cccd-2021", path=card)
    script = tmp_path / "app.script"

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    code, out = run("personalize", str(app_id), "--export-script", str(script), "--card-state", str(card),
                    "--operator", "dp-1", "--json")
    assert code == 0 and out["phase"] == 1 and out["profile"] == "vn-cccd-2021"
    assert oct(script.stat().st_mode & 0o777) == "0o600"
    code, out = run("personalize", "--replay", str(script), "--card-state", str(card), "--operator", "pm-1",
                    "--json")
    assert code == 0 and out["issued"] and out["verification"]["verdict"] == "passed"
    code, out = run("personalize", "--replay", str(script), "--card-state", str(card), "--operator", "pm-1",
                    "--json")
    assert code == 1 and out["error"] == "SCRIPT_ALREADY_USED"

    app2, _ = approved(ctx, portrait)
    code, out = run("personalize", str(app2), "--export-script", str(script), "--chip-serial", "00112233AABBCCDD",
                    "--profile", "vn-cc-2024", "--operator", "dp-1", "--json")
    assert code == 0 and out["chip_serial"] == "00112233AABBCCDD"
    code, out = run("personalize", "--abandon", str(script), "--operator", "dp-1", "--json")
    assert code == 0 and out["card_number"]
    with session_scope(ctx.engine) as db:
        assert get_application(db, app2).state == "approved"
        assert find_card(db, out["card_number"]).status == "spoiled"
    code, out = run("personalize", "--replay", str(tmp_path / "missing"), "--card-state", str(card),
                    "--operator", "pm-1", "--json")
    assert code == 1 and out["error"] == "SCRIPT_MALFORMED"
    # the direct form is unchanged
    app3, _ = approved(ctx, portrait)
    manufacture_blank_card(ctx, "vn-cccd-2021", path=card)
    code, out = run("personalize", str(app3), "--card-state", str(card), "--operator", "perso-1", "--json")
    assert code == 0 and out["issued"]
    code = main(["personalize", "--operator", "perso-1", "--json"])
    assert code == 1 and json.loads(capsys.readouterr().out)["error"] == "USAGE"
