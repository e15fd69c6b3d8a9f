"""Personalization (DESIGN.md issuance steps 3-4): a blank card on a reader → a locked card that a counter
verifies, recorded as issued in the card registry — or recorded as spoiled, with the application back in
the queue. Nothing is half-issued.

`personalize_application` follows the card's firmware profile (detected from its ATR):

1. reset, detect the profile, read the chip serial (GET DATA 9F7F), derive the transport key from the batch
   master key in the key store (the raw master key never leaves the store);
2. database transaction 1: application → ``personalizing``, card number allocated, card registered as
   ``personalized`` (so a card pulled at any later APDU is on record and becomes ``spoiled``);
3. transport-key authentication, files written, CA and AA key pairs generated on the chip, DG14/DG15 from the
   returned public keys, EF.SOD (and EF.CardSecurity) signed by the current Document Signer, access keys set,
   card locked;
4. read-back with `reader.inspect_card` exactly as a counter would (PACE/BAC, every DG, PA to our CSCA with
   CRLs, CA or PACE-CAM, AA), and every file read must equal the file written;
5. database transaction 2: ``mark_issued`` (chip key fingerprints, SOD hash, DS certificate; the replaced card
   becomes ``replaced`` in the same transaction) + application ``issued``. On ANY failure in 3-5 instead:
   ``mark_spoiled`` + application back to ``approved`` with the reason.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from firmware_profiles import FirmwareError, FirmwareProfile, detect_profile
from firmware_profiles.dialect import PersonalizationSession
from icao9303.errors import ICAOError
from issuance.compose import Composition, card_data_from_view, complete, compose_card
from issuance.enrollment import (
    Actor,
    allocate_card_number,
    finish_issued,
    get_application,
    return_to_queue,
    start_personalization,
)
from issuance.errors import IssuanceError, PersonalizationFailed
from population.cards import mark_issued, mark_spoiled, public_key_sha256, register_card
from population.citizens import citizen_view
from population.db import session_scope
from population.errors import PopulationError

#: Order in which files are written. EF.SOD last but one: a card pulled before it has no signature at all.
WRITE_ORDER = ("EF.CardAccess", "EF.CardSecurity", "EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.SOD")
GENERATION_OF_PROFILE = {"vn-cccd-2021": "2021", "vn-cc-2024": "2024", "legacy-bac": "2021"}


class CountingTransport:
    """Counts APDUs and bytes on the way to the card (what the benchmark reports), and can be told to
    "pull the card" at a given APDU index (the test of every pull point)."""

    def __init__(self, inner: Any, *, pull_at: int | None = None) -> None:
        self.inner = inner
        self.apdus = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self.pull_at = pull_at

    def transmit(self, apdu: bytes) -> bytes:
        if self.pull_at is not None and self.apdus >= self.pull_at:
            from reader.errors import CardRemovedError

            raise CardRemovedError("card removed (simulated pull)")
        self.apdus += 1
        self.bytes_out += len(apdu)
        response = self.inner.transmit(apdu)
        self.bytes_in += len(response)
        return response

    def reset(self) -> bytes:
        if self.pull_at is not None and self.apdus >= self.pull_at:
            from reader.errors import CardRemovedError

            raise CardRemovedError("card removed (simulated pull)")
        return self.inner.reset()


@dataclass
class IssuanceContext:
    """What a station needs to personalize: the population database, the PKI workspace (Document Signer),
    the trust store the read-back validates against, and the transport-key derivation for a chip serial
    (`transport_key_for(serial) -> 16 bytes`, computed inside the key store)."""

    engine: Engine
    pki: Any
    trust_store: Any
    transport_key_for: Callable[[str], bytes]
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class PersonalizationOutcome:
    """The result of one run: issued or spoiled (with its reason code), and what it cost."""

    application_id: int
    issued: bool
    card_number: str | None
    profile: str | None
    chip_serial: str | None
    reason: str | None = None
    detail: str | None = None
    report: Any = None  # reader.VerificationReport of the read-back
    composition: Composition | None = None
    timings: dict[str, float] = field(default_factory=dict)
    apdus: int = 0
    bytes_written: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id, "issued": self.issued, "card_number": self.card_number,
            "profile": self.profile, "chip_serial": self.chip_serial, "reason": self.reason,
            "detail": self.detail, "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
            "apdus": self.apdus, "bytes_written": self.bytes_written,
            "verification": self.report.to_dict() if self.report is not None else None,
        }


def _reason_of(exc: BaseException) -> str:
    for attr in ("reason", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value
        if value is not None and hasattr(value, "value"):
            return str(value.value)
    return type(exc).__name__


def _check_read_back(comp: Composition, report: Any) -> None:
    """The card verifies as a counter would see it, and holds exactly what was written."""
    if not report.ok:
        raise PersonalizationFailed(f"read-back verification failed: {report.reason.value}",
                                    reason="READBACK_FAILED", verification_reason=report.reason.value)
    files = report.evidence.files if report.evidence is not None else {}
    for name, data in comp.files.items():
        if name in files and files[name] != data:
            raise PersonalizationFailed(f"read-back of {name} differs from what was written",
                                        reason="READBACK_MISMATCH", file=name)
    for name in ("DG1", "EF.SOD"):
        if name not in files:
            raise PersonalizationFailed(f"read-back did not return {name}", reason="READBACK_INCOMPLETE", file=name)


def personalize_application(ctx: IssuanceContext, application_id: int, transport: Any, *, actor: Actor,
                            expected_profile: str | None = None) -> PersonalizationOutcome:
    """Personalize the blank card behind `transport` for an approved application (see the module docstring).

    Returns the outcome; a refusal before the card is touched (wrong profile, application not approved)
    raises `IssuanceError` and changes nothing.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    counter = CountingTransport(transport)
    # 1. profile and serial (nothing recorded yet: an unknown card is simply refused)
    try:
        atr = counter.reset()
        profile: FirmwareProfile = detect_profile(atr)
        if expected_profile is not None and profile.name != expected_profile:
            raise IssuanceError(f"card is {profile.name}, the station expects {expected_profile}",
                                reason="WRONG_PROFILE")
        session = PersonalizationSession(counter, profile)
        serial = session.read_serial()
    except (FirmwareError, ICAOError) as exc:
        raise IssuanceError(f"not a blank card this station can personalize ({_reason_of(exc)})",
                            reason="CARD_NOT_PERSONALIZABLE") from exc
    timings["detect"] = time.perf_counter() - t0

    # 2. transaction 1: claim the application, allocate and register the card
    now = ctx.clock()
    issue_date = now.date()
    card_number, view, portrait, replaces = claim_card(ctx, application_id, profile, serial, issue_date,
                                                       actor=actor)

    comp: Composition | None = None
    report = None
    try:
        # 3. personalize
        t = time.perf_counter()
        comp = compose_card(card_data_from_view(view), portrait or b"", profile, card_number=card_number,
                            chip_serial=serial, issue_date=issue_date)
        timings["compose"] = time.perf_counter() - t
        t = time.perf_counter()
        session.authenticate(ctx.transport_key_for(serial))
        ca_spki = session.generate_key_pair("CA") if profile.chip_authentication is not None else None
        aa_spki = session.generate_key_pair("AA") if profile.active_authentication is not None else None
        timings["keygen"] = time.perf_counter() - t
        t = time.perf_counter()
        complete(comp, ca_public_key=ca_spki, aa_public_key=aa_spki, pki=ctx.pki, now=now)
        timings["sign"] = time.perf_counter() - t
        t = time.perf_counter()
        bytes_before = counter.bytes_out
        for name in WRITE_ORDER:
            if name in comp.files:
                session.write_file(name, comp.files[name])
        session.set_access_keys(comp.mrz.mrz_information, comp.can if profile.pace is not None else None)
        session.lock()
        timings["write"] = time.perf_counter() - t
        written = counter.bytes_out - bytes_before
        # 4-5. read back as a counter would; transaction 2: issued
        t = time.perf_counter()
        report = read_back(ctx, comp, counter, now=now)
        timings["readback"] = time.perf_counter() - t
        _check_read_back(comp, report)
        record_issued(ctx, comp, application_id, actor=actor, replaces=replaces)
    except Exception as exc:  # every failure spoils the card; nothing claims a card that does not verify
        reason = _reason_of(exc)
        if isinstance(exc, PopulationError | IssuanceError | FirmwareError | ICAOError):
            detail = str(exc)
        else:
            detail = type(exc).__name__  # unknown errors: no message (it could carry card data)
        _spoil(ctx, application_id, card_number, actor, reason)
        timings["total"] = time.perf_counter() - t0
        return PersonalizationOutcome(application_id, False, card_number, profile.name, serial, reason, detail,
                                      report, comp, timings, counter.apdus, counter.bytes_out)
    timings["total"] = time.perf_counter() - t0
    return PersonalizationOutcome(application_id, True, card_number, profile.name, serial, None, None, report,
                                  comp, timings, counter.apdus, written)


def claim_card(ctx: IssuanceContext, application_id: int, profile: FirmwareProfile, serial: str,
               issue_date: dt.date, *, actor: Actor) -> tuple[str, dict[str, Any], bytes | None, str | None]:
    """Transaction 1: the approved application → ``personalizing``, a card number allocated and the card
    registered as ``personalized`` for chip `serial` (so any later failure is on record and becomes
    ``spoiled``). Returns (card number, citizen view, portrait, card number replaced). Also the claim an
    exported personalization script holds (`issuance.script`)."""
    with session_scope(ctx.engine) as db:
        app = get_application(db, application_id)
        if app.state != "approved":
            raise IssuanceError(f"application {application_id} is {app.state}, not approved",
                                reason="APPLICATION_STATE")
        start_personalization(db, application_id, actor=actor)
        card_number = allocate_card_number(db, application_id, serial, issue_date)
        register_card(db, card_number=card_number, personal_id=app.personal_id, firmware_profile=profile.name,
                      actor=actor.operator, card_generation=GENERATION_OF_PROFILE.get(profile.name,
                                                                                     app.card_generation),
                      chip_serial=serial)
        return card_number, citizen_view(db, app.personal_id), app.portrait_jpeg, app.replaces_card_number


def read_back(ctx: IssuanceContext, comp: Composition, transport: Any, *, now: dt.datetime) -> Any:
    """Step 4: read the locked card back with `reader.inspect_card` exactly as a counter would (PACE with
    the CAN, else BAC), validated at `now`. Returns the `reader.VerificationReport`; `_check_read_back`
    decides."""
    from reader.access import ReadPolicy, can_key, mrz_key_from_text
    from reader.inspect import inspect_card

    profile = comp.profile
    key = can_key(comp.can) if profile.pace is not None else mrz_key_from_text(comp.mrz.text)
    return inspect_card(transport, key, ctx.trust_store, at=now, aa_challenge=os.urandom(8),
                        policy=ReadPolicy.for_profile(profile.name))


def record_issued(ctx: IssuanceContext, comp: Composition, application_id: int, *, actor: Actor,
                  replaces: str | None) -> None:
    """Step 5, transaction 2: ``mark_issued`` (chip key fingerprints, SOD hash, DS certificate; the replaced
    card becomes ``replaced``) + application ``issued``."""
    ca_spki, aa_spki = comp.ca_public_key, comp.aa_public_key
    with session_scope(ctx.engine) as db:
        mark_issued(db, comp.card_number, actor=actor.operator, issue_date=comp.issue_date,
                    expiry_date=comp.expiry_date,
                    ca_public_key_sha256=public_key_sha256(ca_spki) if ca_spki else None,
                    aa_public_key_sha256=public_key_sha256(aa_spki) if aa_spki else None,
                    sod_hash=comp.sod_hash_hex, sod_hash_algorithm="sha256",
                    ds_certificate=comp.ds_certificate or b"", replaces=replaces)
        finish_issued(db, application_id, comp.card_number, actor=actor)


def _spoil(ctx: IssuanceContext, application_id: int, card_number: str, actor: Actor, reason: str) -> None:
    with session_scope(ctx.engine) as db:
        mark_spoiled(db, card_number, actor=actor.operator, reason=reason)
        return_to_queue(db, application_id, actor=actor, error=reason)

