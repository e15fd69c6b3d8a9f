"""Issuance end to end: applications (four eyes, eligibility, history), composition, personalization through
each firmware profile with read-back, spoiled cards on every failure (the card pulled at EVERY APDU index),
replacements, and the real PC/SC stack (pcscd + vpcd + pyscard)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from firmware_profiles import diversify_transport_key, load_profile, new_blank_card
from firmware_profiles.chip import VirtualChip
from icao9303.lds.dg13 import DG13
from icao9303.lds.dg15 import DG15
from icao9303.mrz import parse_mrz
from issuance.enrollment import (
    Actor,
    application_history,
    approve,
    attach_portrait,
    create_application,
    get_application,
    reject,
)
from issuance.errors import ApplicationError, IssuanceError
from issuance.personalize import IssuanceContext, personalize_application
from issuance.station import manufacture_blank_card, own_trust_store, transport_key_function
from population.cards import cards_of_person, find_card, public_key_sha256, valid_card
from population.db import make_engine, session_scope
from population.testing import make_citizen
from reader.errors import CardRemovedError
from reader.transport import InProcessTransport
from tests.fixtures.issuance import NOW

OFFICER = Actor("officer-a", "station-1")
SUPERVISOR = Actor("supervisor-b", "station-1")
PERSO = Actor("perso-c", "station-1", "reader-0")


@pytest.fixture
def station(migrated_db_url: str, pki_ws: Any) -> IssuanceContext:
    engine = make_engine(migrated_db_url)
    yield IssuanceContext(engine=engine, pki=pki_ws, trust_store=own_trust_store(pki_ws),
                          transport_key_for=transport_key_function(pki_ws.keystore), clock=lambda: NOW)
    engine.dispose()


def approved_application(ctx: IssuanceContext, portrait: Any, *, reason: str = "first_card",
                         personal_id: str | None = None, **citizen: Any) -> tuple[int, str]:
    with session_scope(ctx.engine) as db:
        if personal_id is None:
            personal_id = make_citizen(db, **citizen).personal_id
        app = create_application(db, personal_id, reason=reason, actor=OFFICER)
        attach_portrait(db, app.id, actor=OFFICER, result=portrait)
        approve(db, app.id, actor=SUPERVISOR)
        return app.id, personal_id


# -- applications ---------------------------------------------------------------------------------------


def test_application_four_eyes_history_and_eligibility(station: IssuanceContext, portrait: Any) -> None:
    with session_scope(station.engine) as db:
        pid = make_citizen(db).personal_id
        app = create_application(db, pid, reason="first_card", actor=OFFICER)
        with pytest.raises(ApplicationError) as e:
            approve(db, app.id, actor=SUPERVISOR)           # no portrait yet: still draft
        assert e.value.reason == "APPLICATION_STATE"
        attach_portrait(db, app.id, actor=OFFICER, result=portrait)
        assert app.state == "ready"
        with pytest.raises(ApplicationError) as e:
            approve(db, app.id, actor=OFFICER)              # the creator cannot approve
        assert e.value.reason == "FOUR_EYES"
        with pytest.raises(ApplicationError) as e:
            create_application(db, pid, reason="first_card", actor=OFFICER)
        assert e.value.reason == "APPLICATION_ALREADY_OPEN"
        approve(db, app.id, actor=SUPERVISOR)
        assert [(h.from_state, h.to_state, h.actor) for h in application_history(db, app.id)] == [
            (None, "draft", "officer-a"), ("draft", "ready", "officer-a"), ("ready", "approved", "supervisor-b")]

        dead = make_citizen(db, status="dead").personal_id
        with pytest.raises(ApplicationError) as e:
            create_application(db, dead, reason="first_card", actor=OFFICER)
        assert e.value.reason == "CITIZEN_NOT_ELIGIBLE"
        partial = make_citizen(db, birth_day=None).personal_id
        with pytest.raises(ApplicationError) as e:
            create_application(db, partial, reason="first_card", actor=OFFICER)
        assert e.value.reason == "CITIZEN_DATA_INCOMPLETE"
        with pytest.raises(ApplicationError) as e:
            create_application(db, partial, reason="because", actor=OFFICER)
        assert e.value.reason == "APPLICATION_REASON_UNKNOWN"

        other = create_application(db, make_citizen(db).personal_id, reason="first_card", actor=OFFICER)
        reject(db, other.id, actor=SUPERVISOR, reason="documents missing")
        assert other.state == "rejected"


def test_portrait_refused_keeps_the_application_in_draft(station: IssuanceContext) -> None:
    import cv2
    import numpy as np

    flat = cv2.imencode(".jpg", np.full((480, 360, 3), 128, np.uint8))[1].tobytes()  # no face at all
    with session_scope(station.engine) as db:
        app = create_application(db, make_citizen(db).personal_id, reason="first_card", actor=OFFICER)
        result = attach_portrait(db, app.id, flat, actor=OFFICER)
        assert not result.passed
        assert app.state == "draft" and app.portrait_jpeg is None
        failed = [r["code"] for r in app.portrait_report["rules"] if not r["passed"] and r["blocking"]]
        assert failed and all(code.startswith("portrait.") for code in failed)


# -- personalization ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["vn-cccd-2021", "vn-cc-2024", "legacy-bac"])
def test_personalize_each_profile_and_record_the_card(sqlite_station: IssuanceContext, portrait: Any,
                                                      profile: str) -> None:
    station = sqlite_station
    app_id, pid = approved_application(station, portrait, full_name="Đặng Thị Ánh Nguyệt", sex="F",
                                       birth_year=2012, birth_month=2, birth_day=29)
    chip = VirtualChip(manufacture_blank_card(station, profile))
    outcome = personalize_application(station, app_id, InProcessTransport(chip), actor=PERSO)
    assert outcome.issued, (outcome.reason, outcome.detail)
    comp = outcome.composition
    # composition: VN rules on the MRZ and DG13 as read back from the chip
    files = outcome.report.evidence.files
    mrz = parse_mrz(comp.mrz.text)
    assert mrz.document_number == pid[3:] and mrz.personal_id == pid
    # born 29/02/2012, issued 29/11/2026 at 14.75: the 14 renewal is past, so valid until 25, and a
    # 29 February birthday falls on 28 February in 2037 (icao9303.vn decision)
    assert mrz.primary_identifier == "DANG" and mrz.date_of_expiry == "370228"
    dg13 = DG13.from_bytes(files["DG13"])
    assert dg13.text(2) == "Đặng Thị Ánh Nguyệt" and dg13.text(4) == "Nữ" and dg13.text(3) == "29/02/2012"
    assert dg13.text(16) == outcome.chip_serial
    with session_scope(station.engine) as db:
        card = find_card(db, outcome.card_number)
        assert card.status == "issued" and card.chip_serial == outcome.chip_serial
        assert card.aa_public_key_sha256 == public_key_sha256(DG15.from_bytes(files["DG15"]).spki_bytes)
        assert card.sod_hash == comp.sod_hash_hex and card.ds_certificate == comp.ds_certificate
        assert (card.ca_public_key_sha256 is not None) == (profile != "legacy-bac")
        app = get_application(db, app_id)
        assert app.state == "issued" and app.card_number == card.card_number
    # locked: the personalization dialect answers no more
    from firmware_profiles.dialect import PersonalizationSession
    from firmware_profiles.errors import PersonalizationError

    with pytest.raises(PersonalizationError):
        PersonalizationSession(InProcessTransport(chip), load_profile(profile)).authenticate(
            station.transport_key_for(outcome.chip_serial))


class PullingTransport:
    """Pulls the card (power lost, CardRemovedError from then on) before APDU number `at` (0-based)."""

    def __init__(self, chip: VirtualChip, at: int) -> None:
        self.inner = InProcessTransport(chip)
        self.at = at
        self.sent = 0

    def _check(self) -> None:
        if self.sent >= self.at:
            self.inner.remove()
            self.inner.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        self._check()
        self.sent += 1
        return self.inner.transmit(apdu)

    def reset(self) -> bytes:
        self._check()
        return self.inner.reset()


def test_card_pulled_at_every_apdu_is_never_issued(sqlite_station: IssuanceContext, portrait: Any) -> None:
    """Issue #7: pull the card at every APDU index of a whole personalization run (detection, writes,
    key generation, lock, read-back). Every pulled card ends `spoiled`, the application goes back to the
    queue each time, and the person never holds an issued card until a run completes."""
    station = sqlite_station
    app_id, pid = approved_application(station, portrait)
    full = personalize_application(station, app_id, InProcessTransport(
        VirtualChip(manufacture_blank_card(station, "vn-cc-2024"))), actor=PERSO)
    assert full.issued
    total = full.apdus
    assert total > 40  # reset, serial, authentication, ~12 writes, keys, lock, then the whole read-back
    # the same citizen again, replacing, so every pull is a real second issuance attempt
    app2, _ = approved_application(station, portrait, reason="replacement", personal_id=pid)
    spoiled = []
    for at in range(1, total + 1):
        chip = VirtualChip(manufacture_blank_card(station, "vn-cc-2024"))
        t = PullingTransport(chip, at)
        try:
            outcome = personalize_application(station, app2, t, actor=PERSO)
        except IssuanceError as exc:  # pulled before the card was identified: nothing recorded
            assert at <= 2 and exc.reason == "CARD_NOT_PERSONALIZABLE"
            continue
        if at >= total:
            assert outcome.issued
            break
        assert not outcome.issued, at
        spoiled.append(outcome.card_number)
        with session_scope(station.engine) as db:
            assert find_card(db, outcome.card_number).status == "spoiled"
            assert get_application(db, app2).state == "approved"
            assert valid_card(db, pid).card_number == full.card_number  # the old card is still the valid one
    assert len(spoiled) >= total - 3
    with session_scope(station.engine) as db:
        statuses = sorted(c.status for c in cards_of_person(db, pid))
        assert statuses.count("issued") == 1
        assert statuses.count("spoiled") == len(spoiled)
        assert find_card(db, full.card_number).status == "replaced"


def test_wrong_transport_key_spoils_and_wrong_profile_is_refused(station: IssuanceContext, portrait: Any) -> None:
    app_id, pid = approved_application(station, portrait)
    with pytest.raises(IssuanceError) as e:
        personalize_application(station, app_id, InProcessTransport(
            VirtualChip(manufacture_blank_card(station, "legacy-bac"))), actor=PERSO, expected_profile="vn-cc-2024")
    assert e.value.reason == "CARD_NOT_PERSONALIZABLE" or e.value.reason == "WRONG_PROFILE"
    with session_scope(station.engine) as db:
        assert get_application(db, app_id).state == "approved" and cards_of_person(db, pid) == []
    # a stolen blank card from another batch: its transport key is not ours
    serial = "00112233445566FF"
    stolen = new_blank_card("vn-cccd-2021", serial, diversify_transport_key(bytes(16), serial))
    outcome = personalize_application(station, app_id, InProcessTransport(VirtualChip(stolen)), actor=PERSO)
    assert not outcome.issued and outcome.reason
    with session_scope(station.engine) as db:
        assert find_card(db, outcome.card_number).status == "spoiled"
        app = get_application(db, app_id)
        assert app.state == "approved" and app.last_error == outcome.reason and app.attempts == 1


@pytest.mark.pcsc
def test_personalize_through_pcscd_and_pull_the_card(station: IssuanceContext, portrait: Any,
                                                     virtual_card: Any) -> None:
    """The real stack: pyscard → pcscd → vsmartcard-vpcd → virtual chip; then a real pull mid-write."""
    from reader.transport import PcscTransport

    app_id, pid = approved_application(station, portrait)
    reader = virtual_card.insert(VirtualChip(manufacture_blank_card(station, "vn-cccd-2021")), slot=0)
    with PcscTransport(reader) as t:
        outcome = personalize_application(station, app_id, t, actor=PERSO)
    assert outcome.issued, (outcome.reason, outcome.detail)

    app2, _ = approved_application(station, portrait, reason="damaged", personal_id=pid)
    reader = virtual_card.insert(VirtualChip(manufacture_blank_card(station, "vn-cccd-2021")), slot=1)

    class PullMidWrite:
        def __init__(self, inner: Any) -> None:
            self.inner, self.sent = inner, 0

        def transmit(self, apdu: bytes) -> bytes:
            self.sent += 1
            if self.sent == 40:
                virtual_card.remove(1)   # the card leaves the reader for real
            return self.inner.transmit(apdu)

        def reset(self) -> bytes:
            return self.inner.reset()

    with PcscTransport(reader) as t:
        pulled = personalize_application(station, app2, PullMidWrite(t), actor=PERSO)
    assert not pulled.issued
    with session_scope(station.engine) as db:
        assert find_card(db, pulled.card_number).status == "spoiled"
        assert valid_card(db, pid).card_number == outcome.card_number
        assert get_application(db, app2).state == "approved"


def test_demo_runs_in_process(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from issuance.demo import run_demo

    summary = run_demo(profile="vn-cccd-2021", population=40, transport="inprocess", quiet=True)
    assert summary["verification"]["verdict"] == "passed"
    assert all(Path(p).exists() for p in summary["card_face"])
    assert summary["transport"].startswith("in-process")
    assert dt.datetime.fromisoformat(summary["verification"]["validated_at"])
    assert CardRemovedError  # imported for the pull tests' error type


def test_unresolved_data_quality_blocks_an_application(station: IssuanceContext) -> None:
    """Issue #7: 'data-quality issues resolved' — a name with stray spacing (sạch) or a birth year that
    contradicts the ID (đúng) stops the application until a DC02 correction."""
    from population.testing import make_personal_id

    with session_scope(station.engine) as db:
        unclean = make_citizen(db, full_name="Vũ  Thanh Thái").personal_id
        with pytest.raises(ApplicationError) as e:
            create_application(db, unclean, reason="first_card", actor=OFFICER)
        assert e.value.reason == "CITIZEN_DATA_QUALITY" and "UNCLEAN_NAME:full_name" in e.value.fields["issues"]
        wrong_year = make_citizen(db, personal_id=make_personal_id("001", 1985, "M"), birth_year=1990).personal_id
        with pytest.raises(ApplicationError) as e:
            create_application(db, wrong_year, reason="first_card", actor=OFFICER)
        assert e.value.reason == "CITIZEN_DATA_QUALITY"
