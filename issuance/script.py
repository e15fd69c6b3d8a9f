"""Personalization as an exportable APDU script (for a central personalization machine) and its replay.

Why two phases. The chip generates its Chip Authentication and Active Authentication key pairs itself
(DESIGN.md issuance step 3); DG14 and DG15 carry those public keys and EF.SOD hashes every DG, so no
script can be fully precomputed. Decision: the data-preparation script is split the way central
personalization bureaus split theirs (data preparation system "DP" ↔ personalization machine "PM"):

phase 1 (exported by `export_script`, from a composed application)
    PM: GET DATA 9F7F (the chip serial must equal the script's), transport-key authentication (live:
    challenge-response, the key diversified from the batch master key by the serial), then CREATE
    FILE/UPDATE BINARY of every key-independent file (EF.CardAccess, DG1, DG2, DG3, DG13) and GENERATE
    ASYMMETRIC KEY PAIR for CA and AA. The PM returns the public keys (`PhaseResult`).
phase 2 (made by `prepare_phase2` once the public keys are back)
    DP: DG14, DG15, EF.COM, EF.SOD signed by the current Document Signer and EF.CardSecurity, then PUT
    DATA of the access keys (MRZ information, CAN) and ACTIVATE FILE (lock). PM: GET DATA 9F7F again (the
    same chip is still in the machine), a fresh transport-key session, the commands.

`replay_script` runs both phases against a blank card and then does exactly what the direct path
(`issuance.personalize.personalize_application`) does: read-back as a counter would, the same
`_check_read_back`, the same registry transaction, the same spoiling on any failure.

A script holds PLAINTEXT command APDUs (ISO/IEC 7816-4), each with its expected status word; the PM
wraps each one in the 3DES secure messaging it opens live, so nothing in the file depends on a session
key or a challenge.

Protection (decision). Every command body (DG1 holds the MRZ, DG13 the personal ID hence the CAN, PUT
DATA the MRZ information and the CAN, DG2 the face) is sealed: the file has a clear header (script id,
phase, application, card number, chip serial, profile, dates, command count: no personal data) and one
AES-256-GCM ciphertext of the command list, with the canonical header as associated data. The key is
HKDF-SHA256(IKM = the target chip's transport key, salt = script id, info = "cancuoc/perso-script/v1/"
‖ serial) (RFC 5869): only holders of the batch master key (the DP and the PM's key store) can open it,
and a script for chip A cannot be opened with chip B's key. Any edit of the header or a ciphertext byte
fails the tag → ``SCRIPT_INTEGRITY``.

Single use (decision). `export_script` makes the direct path's transaction 1 (`claim_card`): the
application goes to ``personalizing`` and the card number is registered as ``personalized`` for the
chip serial. A replay is only accepted while that card is still ``personalized``; after a replay it is
``issued`` or ``spoiled``, so a second replay is refused with ``SCRIPT_ALREADY_USED`` before the card
is touched (and the chip itself refuses: CREATE FILE on an existing file, or no transport key once
locked). A script past its ``not_after``, or whose phase-1 commands no longer match what the DP composes
from the population record (``SCRIPT_STALE``), is refused and its claim released (card record spoiled,
application back in the queue); `abandon_script` releases a claim by hand. The DP keeps no copy of the
prepared data: before the card is touched (and in `prepare_phase2` when called on its own) it recomposes
the card from the population database and checks that the recomposed phase-1 commands equal the
script's, byte for byte (SHA-256, constant-time comparison) — so even a re-sealed edit by a holder of the
batch key is refused (``SCRIPT_STALE``).

Dates (decision): the card's issue date (DG13 field 11, registry) and so its expiry are those of the
export (data preparation); EF.SOD is signed, and the read-back validated, at replay time by the Document
Signer current then.

Concurrency (decision): single use rests on the card registry status plus the chip itself; two machines
replaying one script at the same instant would need two chips with the same serial (a cloned blank and
the batch master key), and the loser's registry transition is refused (``INVALID_TRANSITION``).

Reason codes (`ScriptError.reason`): SCRIPT_MALFORMED, SCRIPT_FORMAT, SCRIPT_PHASE, SCRIPT_INTEGRITY,
SCRIPT_UNKNOWN_CARD, SCRIPT_ALREADY_USED, SCRIPT_EXPIRED, SCRIPT_STALE, SCRIPT_WRONG_PROFILE,
SCRIPT_WRONG_CHIP, SCRIPT_UNEXPECTED_SW, SCRIPT_MISSING_KEY.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import load_der_public_key

from firmware_profiles import FirmwareError, FirmwareProfile, detect_profile, list_profiles, load_profile
from firmware_profiles.dialect import PersonalizationSession
from icao9303.apdu import sw_meaning
from icao9303.errors import ICAOError
from issuance.compose import Composition, card_data_from_view, complete, compose_card
from issuance.enrollment import Actor, get_application
from issuance.errors import IssuanceError
from issuance.personalize import (
    WRITE_ORDER,
    CountingTransport,
    IssuanceContext,
    PersonalizationOutcome,
    _check_read_back,
    _reason_of,
    _spoil,
    claim_card,
    read_back,
    record_issued,
)
from population.cards import find_card
from population.citizens import citizen_view
from population.db import session_scope
from population.errors import PopulationError
from reader.errors import ReaderError

__all__ = [
    "FORMAT",
    "PersonalizationScript",
    "PhaseResult",
    "ScriptCommand",
    "ScriptError",
    "ScriptHeader",
    "abandon_script",
    "export_script",
    "prepare_phase2",
    "replay_script",
    "run_phase",
]

#: File format identifier and version (the first key of every script file).
FORMAT = "cancuoc-perso-script/1"
#: HKDF info prefix for the sealing key (RFC 5869 §3.2: context and application specific information).
_HKDF_INFO = b"cancuoc/perso-script/v1/"
#: Largest script file accepted (a DG2 of ~20 KB in hex plus SM-free commands stays far below).
MAX_SCRIPT_BYTES = 1 << 20
#: Default validity of an exported script. Decision: 7 days (a central bureau's batch cycle).
DEFAULT_VALIDITY = dt.timedelta(days=7)

_HEX32 = re.compile(r"[0-9a-f]{32}")
_SERIAL = re.compile(r"[0-9A-F]{16}")
_CARD_NUMBER = re.compile(r"[0-9]{6,20}")
_STEP = re.compile(r"[ -~]{1,64}")


class ScriptError(IssuanceError):
    """A personalization script was refused or could not be run. ``reason`` is one of the SCRIPT_* codes of
    the module docstring; messages never carry command bodies (MRZ, CAN, personal data)."""

    reason = "SCRIPT_ERROR"


# -- the file format ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptCommand:
    """One plaintext command APDU (ISO/IEC 7816-4 §5.1), the status word the chip must answer, and — for
    GENERATE ASYMMETRIC KEY PAIR — which public key ("CA"/"AA") its response data is."""

    step: str
    apdu: bytes
    expect_sw: int = 0x9000
    returns: str | None = None

    def __repr__(self) -> str:  # the body may be personal data
        return f"ScriptCommand(step={self.step!r}, {len(self.apdu)} bytes, expect={self.expect_sw:04X})"

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "apdu": self.apdu.hex(), "sw": f"{self.expect_sw:04X}", "returns": self.returns}

    @classmethod
    def from_json(cls, obj: Any) -> ScriptCommand:
        if not isinstance(obj, dict) or set(obj) != {"step", "apdu", "sw", "returns"}:
            raise ScriptError("script command is not an object with step, apdu, sw, returns",
                              reason="SCRIPT_MALFORMED")
        step, apdu, sw, returns = obj["step"], obj["apdu"], obj["sw"], obj["returns"]
        if not isinstance(step, str) or not _STEP.fullmatch(step):
            raise ScriptError("script command step is not a short printable name", reason="SCRIPT_MALFORMED")
        if not isinstance(sw, str) or not re.fullmatch(r"[0-9A-F]{4}", sw):
            raise ScriptError("script command status word is not 4 hex digits", reason="SCRIPT_MALFORMED")
        if returns not in (None, "CA", "AA"):
            raise ScriptError("script command 'returns' is not CA, AA or null", reason="SCRIPT_MALFORMED")
        try:
            raw = bytes.fromhex(apdu) if isinstance(apdu, str) else None
        except ValueError:
            raw = None
        if raw is None or len(raw) < 4:
            raise ScriptError("script command APDU is not hex of at least 4 bytes", reason="SCRIPT_MALFORMED")
        return cls(step, raw, int(sw, 16), returns)


@dataclass(frozen=True)
class ScriptHeader:
    """The clear part of a script: what the machine operator and the replayer need before opening it.
    Authenticated (GCM associated data), never secret: no MRZ, CAN or personal ID."""

    script_id: str           # 32 hex digits, random
    phase: int               # 1 or 2
    application_id: int
    card_number: str
    chip_serial: str         # 16 upper-case hex digits (GET DATA 9F7F)
    profile: str             # firmware profile name
    issue_date: str          # ISO date (DG13 field 11, registry)
    created_at: str          # ISO datetime, UTC
    not_after: str           # ISO datetime, UTC
    commands: int            # number of sealed commands
    follows: str | None = None  # phase 2: the phase-1 script id it continues

    def aad(self) -> bytes:
        """The GCM associated data: canonical JSON of the format id and the header."""
        return json.dumps({"format": FORMAT, "header": asdict(self)}, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, obj: Any) -> ScriptHeader:
        names = {f for f in cls.__dataclass_fields__}
        if not isinstance(obj, dict) or set(obj) != names:
            raise ScriptError("script header fields are not the expected ones", reason="SCRIPT_MALFORMED")
        try:
            h = cls(**obj)
            ok = (isinstance(h.script_id, str) and _HEX32.fullmatch(h.script_id)
                  and type(h.phase) is int and h.phase in (1, 2)
                  and type(h.application_id) is int and h.application_id > 0
                  and isinstance(h.card_number, str) and _CARD_NUMBER.fullmatch(h.card_number)
                  and isinstance(h.chip_serial, str) and _SERIAL.fullmatch(h.chip_serial)
                  and isinstance(h.profile, str) and h.profile in list_profiles()
                  and type(h.commands) is int and 0 <= h.commands <= 100_000
                  and (h.follows is None or (isinstance(h.follows, str) and _HEX32.fullmatch(h.follows))))
            if ok:
                dt.date.fromisoformat(h.issue_date)
                for stamp in (h.created_at, h.not_after):
                    if dt.datetime.fromisoformat(stamp).tzinfo is None:
                        ok = False
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ScriptError("script header has an invalid field", reason="SCRIPT_MALFORMED")
        return h


@dataclass(frozen=True)
class PersonalizationScript:
    """A sealed script: clear `header`, GCM `nonce` and `sealed` command list. `to_bytes`/`from_bytes` give
    the file (UTF-8 JSON); `open` authenticates and decrypts it with the target chip's transport key."""

    header: ScriptHeader
    nonce: bytes
    sealed: bytes

    def __repr__(self) -> str:
        h = self.header
        return (f"PersonalizationScript(id={h.script_id}, phase={h.phase}, card={h.card_number}, "
                f"chip={h.chip_serial}, {h.commands} commands, <sealed>)")

    def to_bytes(self) -> bytes:
        return json.dumps({"format": FORMAT, "header": asdict(self.header),
                           "nonce": base64.b64encode(self.nonce).decode("ascii"),
                           "sealed": base64.b64encode(self.sealed).decode("ascii")}, indent=1).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonalizationScript:
        """Parse a script file. Hostile input → `ScriptError` (SCRIPT_MALFORMED / SCRIPT_FORMAT), never
        anything else."""
        if not isinstance(data, bytes | bytearray) or len(data) > MAX_SCRIPT_BYTES:
            raise ScriptError("script is not bytes of a sane size", reason="SCRIPT_MALFORMED")
        try:
            obj = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ScriptError("script is not UTF-8 JSON", reason="SCRIPT_MALFORMED") from None
        if not isinstance(obj, dict) or set(obj) != {"format", "header", "nonce", "sealed"}:
            raise ScriptError("script is not an object with format, header, nonce, sealed",
                              reason="SCRIPT_MALFORMED")
        if obj["format"] != FORMAT:
            raise ScriptError("script format is not " + FORMAT, reason="SCRIPT_FORMAT")
        header = ScriptHeader.from_json(obj["header"])
        try:
            nonce = base64.b64decode(obj["nonce"], validate=True)
            sealed = base64.b64decode(obj["sealed"], validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise ScriptError("script nonce or body is not base64", reason="SCRIPT_MALFORMED") from None
        if len(nonce) != 12 or len(sealed) < 16:
            raise ScriptError("script nonce or body has the wrong size", reason="SCRIPT_MALFORMED")
        return cls(header, nonce, sealed)

    def open(self, transport_key: bytes) -> list[ScriptCommand]:
        """Authenticate and decrypt the command list (raises ScriptError SCRIPT_INTEGRITY on any change)."""
        try:
            plain = AESGCM(_sealing_key(transport_key, self.header)).decrypt(self.nonce, self.sealed,
                                                                            self.header.aad())
        except InvalidTag:
            raise ScriptError(f"script {self.header.script_id} fails its integrity check (edited, or not for "
                              f"chip {self.header.chip_serial})", reason="SCRIPT_INTEGRITY") from None
        try:
            listing = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ScriptError("sealed command list is not JSON", reason="SCRIPT_MALFORMED") from None
        if not isinstance(listing, list) or len(listing) != self.header.commands:
            raise ScriptError("sealed command list does not match the header", reason="SCRIPT_MALFORMED")
        return [ScriptCommand.from_json(c) for c in listing]


def _sealing_key(transport_key: bytes, header: ScriptHeader) -> bytes:
    """AES-256 key of one script: HKDF-SHA256 (RFC 5869) of the chip's transport key (module docstring)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes.fromhex(header.script_id),
                info=_HKDF_INFO + header.chip_serial.encode("ascii")).derive(bytes(transport_key))


def _seal(header: ScriptHeader, commands: list[ScriptCommand], transport_key: bytes) -> PersonalizationScript:
    plain = json.dumps([c.to_json() for c in commands], separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(12)
    return PersonalizationScript(header, nonce, AESGCM(_sealing_key(transport_key, header)).encrypt(
        nonce, plain, header.aad()))


def _digest(commands: list[ScriptCommand]) -> bytes:
    h = hashlib.sha256()
    for c in commands:
        h.update(json.dumps(c.to_json(), sort_keys=True).encode("utf-8") + b"\n")
    return h.digest()


# -- recording: the dialect's own commands, captured instead of sent -------------------------------------------


@functools.cache
def _placeholder_spki() -> bytes:
    """A public key the recorder answers GENERATE ASYMMETRIC KEY PAIR with (the real one comes from the chip
    at replay; only the command is recorded)."""
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class _NoCard:
    def transmit(self, apdu: bytes) -> bytes:  # pragma: no cover - the recorder never sends plain APDUs
        raise ScriptError("the script recorder has no card", reason="SCRIPT_ERROR")


class _Recorder(PersonalizationSession):
    """`PersonalizationSession` whose protected commands are recorded, not sent: the script then holds
    exactly the bytes the direct path would send inside its secure channel (same dialect code)."""

    def __init__(self, profile: FirmwareProfile) -> None:
        super().__init__(_NoCard(), profile)
        self._df = "eMRTD"  # where `authenticate` leaves the session (SELECT of the application)
        self.commands: list[ScriptCommand] = []
        self._returns: str | None = None

    def _send(self, step: str, cmd: Any) -> bytes:
        returns, self._returns = self._returns, None
        self.commands.append(ScriptCommand(step, cmd.to_bytes(), 0x9000, returns))
        return _placeholder_spki() if returns else b""

    def generate_key_pair(self, purpose: Any) -> bytes:
        self._returns = purpose
        return super().generate_key_pair(purpose)


def _phase1_commands(comp: Composition) -> list[ScriptCommand]:
    """Key-independent files, then on-chip key generation (CA, AA)."""
    rec = _Recorder(comp.profile)
    for name in WRITE_ORDER:
        if name in comp.files:
            rec.write_file(name, comp.files[name])
    if comp.profile.chip_authentication is not None:
        rec.generate_key_pair("CA")
    if comp.profile.active_authentication is not None:
        rec.generate_key_pair("AA")
    return rec.commands


def _phase2_commands(comp: Composition, phase1_files: set[str]) -> list[ScriptCommand]:
    """Key-dependent and signed files (DG14, DG15, EF.COM, EF.SOD, EF.CardSecurity), access keys, lock."""
    rec = _Recorder(comp.profile)
    for name in WRITE_ORDER:
        if name in comp.files and name not in phase1_files:
            rec.write_file(name, comp.files[name])
    rec.set_access_keys(comp.mrz.mrz_information, comp.can if comp.profile.pace is not None else None)
    rec.lock()
    return rec.commands


# -- data preparation (DP) ---------------------------------------------------------------------------------------


def _compose(ctx: IssuanceContext, header: ScriptHeader) -> tuple[Composition, str | None]:
    """Recompose the key-independent files from the population record (the DP keeps no prepared copy)."""
    with session_scope(ctx.engine) as db:
        app = get_application(db, header.application_id)
        view = citizen_view(db, app.personal_id)
        portrait, replaces = app.portrait_jpeg, app.replaces_card_number
    comp = compose_card(card_data_from_view(view), portrait or b"", load_profile(header.profile),
                        card_number=header.card_number, chip_serial=header.chip_serial,
                        issue_date=dt.date.fromisoformat(header.issue_date))
    return comp, replaces


def export_script(ctx: IssuanceContext, application_id: int, *, profile: FirmwareProfile | str,
                  chip_serial: str, actor: Actor, validity: dt.timedelta = DEFAULT_VALIDITY
                  ) -> PersonalizationScript:
    """Phase 1 of an approved application for the blank chip `chip_serial` (from the card maker's shipment
    manifest, or read from a card on a reader) of firmware `profile`.

    Claims the application exactly as the direct path does (`claim_card`: application ``personalizing``,
    card number allocated and registered ``personalized`` for that serial); if composition fails the claim
    is released (card record spoiled, application back in the queue) and the error re-raised.
    """
    prof = profile if isinstance(profile, FirmwareProfile) else load_profile(profile)
    serial = chip_serial.upper()
    if not _SERIAL.fullmatch(serial):
        raise ScriptError("chip serial must be 16 hex digits", reason="SCRIPT_WRONG_CHIP")
    now = ctx.clock()
    card_number, _view, _portrait, _replaces = claim_card(ctx, application_id, prof, serial, now.date(),
                                                          actor=actor)
    try:
        header = ScriptHeader(uuid.uuid4().hex, 1, application_id, card_number, serial, prof.name,
                              now.date().isoformat(), now.isoformat(), (now + validity).isoformat(), 0)
        comp, _ = _compose(ctx, header)
        commands = _phase1_commands(comp)
        header = ScriptHeader(**{**asdict(header), "commands": len(commands)})
        return _seal(header, commands, ctx.transport_key_for(serial))
    except Exception as exc:
        _spoil(ctx, application_id, card_number, actor, _reason_of(exc))
        raise


def abandon_script(ctx: IssuanceContext, script: PersonalizationScript, *, actor: Actor,
                   reason: str = "SCRIPT_ABANDONED") -> None:
    """Release an exported script's claim: its card record becomes ``spoiled`` and the application goes back
    to the queue. Refused (SCRIPT_ALREADY_USED) when the card is no longer ``personalized``."""
    _check_claim(ctx, script.header)
    _spoil(ctx, script.header.application_id, script.header.card_number, actor, reason)


def _check_claim(ctx: IssuanceContext, header: ScriptHeader) -> None:
    """The script's card is registered, still ``personalized`` (never replayed), for that chip and
    application, and the application is still ``personalizing``."""
    with session_scope(ctx.engine) as db:
        card = find_card(db, header.card_number)
        if card is None:
            raise ScriptError(f"card {header.card_number} of script {header.script_id} is not in the registry",
                              reason="SCRIPT_UNKNOWN_CARD")
        if card.status != "personalized":
            raise ScriptError(f"script {header.script_id} was already used: card {header.card_number} is "
                              f"{card.status}", reason="SCRIPT_ALREADY_USED", status=card.status)
        app = get_application(db, header.application_id)
        if card.chip_serial != header.chip_serial or app.personal_id != card.personal_id:
            raise ScriptError(f"script {header.script_id} does not match the card registry",
                              reason="SCRIPT_INTEGRITY")
        if app.state != "personalizing":
            raise ScriptError(f"script {header.script_id} was already used: application is {app.state}",
                              reason="SCRIPT_ALREADY_USED", status=app.state)


def prepare_phase2(ctx: IssuanceContext, phase1: PersonalizationScript, result: PhaseResult, *,
                   now: dt.datetime | None = None, composition: Composition | None = None
                   ) -> tuple[PersonalizationScript, Composition]:
    """DP, once phase 1 ran: the chip's public keys → DG14/DG15, EF.COM, EF.SOD (and EF.CardSecurity)
    signed by the current Document Signer, the access keys and the lock, sealed as the phase-2 script.

    Checks that `result` comes from this script's chip and that the phase-1 commands still equal what the
    DP composes from the population record. Returns the script and the completed composition (what the
    read-back compares with).
    """
    h = phase1.header
    if result.script_id != h.script_id or result.chip_serial != h.chip_serial:
        raise ScriptError("phase-1 result is not from this script's chip", reason="SCRIPT_PHASE")
    comp = composition or _compose(ctx, h)[0]
    phase1_files = set(comp.files)
    if composition is None:
        _require_same(_phase1_commands(comp), phase1.open(ctx.transport_key_for(h.chip_serial)), h)
    prof = comp.profile
    for purpose, wanted in (("CA", prof.chip_authentication), ("AA", prof.active_authentication)):
        if wanted is not None and purpose not in result.public_keys:
            raise ScriptError(f"phase 1 returned no {purpose} public key", reason="SCRIPT_MISSING_KEY")
    now = now or ctx.clock()
    complete(comp, ca_public_key=result.public_keys.get("CA"), aa_public_key=result.public_keys.get("AA"),
             pki=ctx.pki, now=now)
    commands = _phase2_commands(comp, phase1_files)
    header = ScriptHeader(uuid.uuid4().hex, 2, h.application_id, h.card_number, h.chip_serial, h.profile,
                          h.issue_date, now.isoformat(), h.not_after, len(commands), follows=h.script_id)
    return _seal(header, commands, ctx.transport_key_for(h.chip_serial)), comp


def _require_same(expected: list[ScriptCommand], actual: list[ScriptCommand], h: ScriptHeader) -> None:
    if not hmac.compare_digest(_digest(expected), _digest(actual)):
        raise ScriptError(f"script {h.script_id} no longer matches the application's record",
                          reason="SCRIPT_STALE")


# -- the personalization machine (PM) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseResult:
    """What the PM returns after a phase: which script ran on which chip, the public keys the chip generated
    (DER SubjectPublicKeyInfo by purpose), and the APDUs it took."""

    script_id: str
    chip_serial: str
    public_keys: dict[str, bytes] = field(default_factory=dict)
    apdus: int = 0


class _ScriptSession(PersonalizationSession):
    """The dialect session whose live secure channel carries the script's plaintext commands."""

    def run(self, cmd: ScriptCommand) -> bytes:
        rapdu = self.transmit_protected(cmd.step, cmd.apdu)
        if rapdu.sw != cmd.expect_sw:
            raise ScriptError(f"{cmd.step}: card answered {sw_meaning(rapdu.sw)}, the script expects "
                              f"{cmd.expect_sw:04X}", reason="SCRIPT_UNEXPECTED_SW", step=cmd.step,
                              sw=f"{rapdu.sw:04X}")
        return rapdu.data


def run_phase(transport: Any, script: PersonalizationScript, transport_key: bytes) -> PhaseResult:
    """PM: run one phase on the card behind `transport` (already reset and identified): check the chip serial,
    open the transport-key secure channel, send every command and check its status word, collect the
    generated public keys. Raises ScriptError / PersonalizationError / the transport's errors."""
    h = script.header
    commands = script.open(transport_key)
    session = _ScriptSession(transport, load_profile(h.profile))
    serial = session.read_serial()
    if not hmac.compare_digest(serial, h.chip_serial):
        raise ScriptError(f"script {h.script_id} is for chip {h.chip_serial}, the card is {serial}",
                          reason="SCRIPT_WRONG_CHIP", chip_serial=serial)
    session.authenticate(transport_key)
    keys: dict[str, bytes] = {}
    for cmd in commands:
        data = session.run(cmd)
        if cmd.returns is not None:
            try:
                load_der_public_key(data)
            except ValueError:
                raise ScriptError(f"{cmd.step}: the chip's answer is not a public key",
                                  reason="SCRIPT_UNEXPECTED_SW", step=cmd.step) from None
            keys[cmd.returns] = data
    return PhaseResult(h.script_id, serial, keys, len(commands))


# -- replay end to end ------------------------------------------------------------------------------------------------


def replay_script(ctx: IssuanceContext, script: PersonalizationScript, transport: Any, *, actor: Actor,
                  clock: Callable[[], dt.datetime] | None = None) -> PersonalizationOutcome:
    """Replay an exported phase-1 script on the blank card behind `transport`, have the DP prepare phase 2
    from the returned public keys, replay it, then read back, check and record exactly as
    `personalize_application` does.

    Refusals before the card is written raise `ScriptError` (or `IssuanceError` CARD_NOT_PERSONALIZABLE)
    and leave the claim as it was — except SCRIPT_EXPIRED and SCRIPT_STALE, which release it. Any failure
    once the first secure command is sent spoils the card and returns the application to the queue; the
    outcome says why.
    """
    h = script.header
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if h.phase != 1:
        raise ScriptError(f"script {h.script_id} is a phase-{h.phase} script; replay starts at phase 1",
                          reason="SCRIPT_PHASE")
    # DP checks: nothing touched yet
    _check_claim(ctx, h)
    transport_key = ctx.transport_key_for(h.chip_serial)
    commands = script.open(transport_key)
    now = (clock or ctx.clock)()
    if now > dt.datetime.fromisoformat(h.not_after):
        _spoil(ctx, h.application_id, h.card_number, actor, "SCRIPT_EXPIRED")
        raise ScriptError(f"script {h.script_id} expired at {h.not_after}", reason="SCRIPT_EXPIRED")
    comp, replaces = _compose(ctx, h)
    try:
        _require_same(_phase1_commands(comp), commands, h)
    except ScriptError:
        _spoil(ctx, h.application_id, h.card_number, actor, "SCRIPT_STALE")
        raise
    timings["prepare"] = time.perf_counter() - t0
    # the card: identify it (nothing recorded on refusal)
    counter = CountingTransport(transport)
    try:
        profile = detect_profile(counter.reset())
        serial = PersonalizationSession(counter, profile).read_serial()
    except (FirmwareError, ICAOError, ReaderError) as exc:  # no card, not ours, pulled: nothing recorded
        raise IssuanceError(f"not a blank card this station can personalize ({_reason_of(exc)})",
                            reason="CARD_NOT_PERSONALIZABLE") from exc
    if profile.name != h.profile:
        raise ScriptError(f"card is {profile.name}, script {h.script_id} is for {h.profile}",
                          reason="SCRIPT_WRONG_PROFILE")
    if not hmac.compare_digest(serial, h.chip_serial):
        raise ScriptError(f"script {h.script_id} is for chip {h.chip_serial}, the card is {serial}",
                          reason="SCRIPT_WRONG_CHIP", chip_serial=serial)
    report = None
    try:
        t = time.perf_counter()
        result = run_phase(counter, script, transport_key)
        timings["phase1"] = time.perf_counter() - t
        t = time.perf_counter()
        phase2, comp = prepare_phase2(ctx, script, result, now=now, composition=comp)
        timings["sign"] = time.perf_counter() - t
        t = time.perf_counter()
        run_phase(counter, phase2, transport_key)
        timings["phase2"] = time.perf_counter() - t
        written = counter.bytes_out
        t = time.perf_counter()
        report = read_back(ctx, comp, counter, now=now)
        timings["readback"] = time.perf_counter() - t
        _check_read_back(comp, report)
        record_issued(ctx, comp, h.application_id, actor=actor, replaces=replaces)
    except Exception as exc:  # as the direct path: every failure spoils the card
        reason = _reason_of(exc)
        detail = str(exc) if isinstance(exc, PopulationError | IssuanceError | FirmwareError | ICAOError) \
            else type(exc).__name__
        _spoil(ctx, h.application_id, h.card_number, actor, reason)
        timings["total"] = time.perf_counter() - t0
        return PersonalizationOutcome(h.application_id, False, h.card_number, profile.name, serial, reason,
                                      detail, report, comp, timings, counter.apdus, counter.bytes_out)
    timings["total"] = time.perf_counter() - t0
    return PersonalizationOutcome(h.application_id, True, h.card_number, profile.name, serial, None, None,
                                  report, comp, timings, counter.apdus, written)
