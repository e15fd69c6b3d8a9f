"""Server-side verification for agencies: single-use AA challenges, full re-verification of evidence
bundles, card registry and population checks, the agency's permitted view and a signed receipt.

The server never trusts the counter's verdict. For each evidence bundle it:

1. consumes the challenge (single use, bound to the agency, short lifetime) — the consumption, the
   decision and the audit entry commit in one transaction;
2. re-verifies everything with ``reader.reverify`` against *its own* trust store and CRLs and *its own*
   challenge (Passive Authentication ICAO 9303-11 §5.1, Active Authentication §6.1, CA/CAM records);
3. checks the card registry: the card whose chip keys (SHA-256 of the DG15 AA key / DG14 CA key
   SubjectPublicKeyInfo, bound at issuance) match the chip read — none means a cloned or swapped chip —
   and its status (lost, stolen, revoked, replaced, expired);
4. checks the population record: DG1 (MRZ name, birth date, sex) and DG13 (full name, birth date, sex)
   against the database;
5. answers ``accepted`` only if all of that holds, with only the agency's permitted fields, and signs a
   receipt with the receipt key.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from population import cards as registry
from population.citizens import birth_date_text, find_citizen
from population.ids import name_key
from population.models import Card, Citizen, FamilyLink, Residence
from population.models.station import StationAgency, StationChallenge
from station_api import audit
from station_api.errors import ApiError, Forbidden, NotFound, ProblemCode
from station_api.receipts import ReceiptSigner, fields_digest, sign_receipt
from station_api.services.operators import Principal

#: ICAO 9303-11 §6.1: RND.IFD, the 8-byte challenge of INTERNAL AUTHENTICATE.
CHALLENGE_BYTES = 8


class ServerReason(StrEnum):
    """Stable reason codes of the server's own checks (beside ``reader.ReasonCode`` from re-verification)."""

    DOCUMENT_UNIDENTIFIED = "DOCUMENT_UNIDENTIFIED"  # no personal ID in a verified DG1
    CARD_NOT_REGISTERED = "CARD_NOT_REGISTERED"  # the person has no card in the registry
    CHIP_KEY_MISMATCH = "CHIP_KEY_MISMATCH"  # chip keys differ from every card issued to the person
    CARD_LOST = "CARD_LOST"
    CARD_STOLEN = "CARD_STOLEN"
    CARD_REVOKED = "CARD_REVOKED"
    CARD_REPLACED = "CARD_REPLACED"
    CARD_EXPIRED = "CARD_EXPIRED"
    CARD_NOT_ISSUED = "CARD_NOT_ISSUED"  # personalized but never passed read-back, or spoiled
    CITIZEN_NOT_FOUND = "CITIZEN_NOT_FOUND"
    CITIZEN_NOT_ALIVE = "CITIZEN_NOT_ALIVE"
    DATA_MISMATCH = "DATA_MISMATCH"  # DG1/DG13 differ from the population record


_STATUS_REASONS = {
    "lost": ServerReason.CARD_LOST,
    "stolen": ServerReason.CARD_STOLEN,
    "revoked": ServerReason.CARD_REVOKED,
    "replaced": ServerReason.CARD_REPLACED,
    "expired": ServerReason.CARD_EXPIRED,
    "personalized": ServerReason.CARD_NOT_ISSUED,
    "spoiled": ServerReason.CARD_NOT_ISSUED,
}


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True)
class VerificationOutcome:
    verification_id: str
    decision: Decision
    reasons: tuple[str, ...]
    chip_verdict: str
    card_number: str | None
    card_status: str | None
    fields: Mapping[str, Any]
    receipt: Mapping[str, Any]
    decided_at: datetime
    mismatched_fields: tuple[str, ...] = ()
    checks: tuple[Mapping[str, str], ...] = field(default_factory=tuple)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for ``DateTime(timezone=True)``: they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def open_verification(
    session: Session, principal: Principal, *, lifetime_s: int, now: datetime | None = None
) -> StationChallenge:
    """A fresh single-use AA challenge for the caller's agency (audited, committed)."""
    now = now or datetime.now(UTC)
    if not principal.agency:
        raise Forbidden("the account is not bound to an agency", code=ProblemCode.FORBIDDEN_AGENCY)
    row = StationChallenge(
        id=str(uuid.uuid4()),
        agency_code=principal.agency,
        operator_id=principal.operator_id,
        challenge=os.urandom(CHALLENGE_BYTES),
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_s),
    )
    session.add(row)
    audit.append(
        session,
        actor=principal.actor,
        action="verification.challenge",
        target=f"verification:{row.id}",
        outcome="issued",
        details={"agency": principal.agency, "expires_at": row.expires_at.isoformat()},
    )
    session.commit()
    return row


def _claim_challenge(session: Session, principal: Principal, verification_id: str, now: datetime) -> StationChallenge:
    row = session.execute(
        select(StationChallenge).where(StationChallenge.id == verification_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such verification", code=ProblemCode.CHALLENGE_UNKNOWN)
    if row.agency_code != principal.agency:
        raise Forbidden("the challenge was issued to another agency", code=ProblemCode.FORBIDDEN_AGENCY)
    if row.used_at is not None:
        raise ApiError("the challenge was already used", status=409, code=ProblemCode.CHALLENGE_USED)
    if now >= _aware(row.expires_at):
        raise ApiError("the challenge has expired", status=410, code=ProblemCode.CHALLENGE_EXPIRED)
    row.used_at = now
    return row


def _chip_key_fingerprints(files: Mapping[str, bytes], ca_key_id: Any) -> tuple[str | None, str | None]:
    """SHA-256 of the AA (DG15) and CA (DG14) SubjectPublicKeyInfo DER, as bound at issuance."""
    aa = ca = None
    dg15 = files.get("DG15")
    if dg15 is not None:
        try:
            from reader.lds_view import dg15_public_key_info

            aa = registry.public_key_sha256(dg15_public_key_info(dg15).dump())
        except Exception:  # a malformed DG15 already failed re-verification; no key to compare
            aa = None
    dg14 = files.get("DG14")
    if dg14 is not None:
        try:
            from icao9303.lds.security_infos import DG14

            info = DG14.from_bytes(dg14).security_infos.chip_authentication_public_key(ca_key_id)
            ca = registry.public_key_sha256(info["chip_authentication_public_key"].dump())
        except Exception:  # likewise: a malformed DG14 is a failed check already
            ca = None
    return aa, ca


def _match_card(cards: list[Card], aa: str | None, ca: str | None) -> Card | None:
    for card in cards:
        compared = False
        ok = True
        for chip, bound in ((aa, card.aa_public_key_sha256), (ca, card.ca_public_key_sha256)):
            if chip is not None and bound is not None:
                compared = True
                ok = ok and chip == bound
        if compared and ok:
            return card
    return None


def _nfc(text: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text)).split())


def _dg13_value(dg13: Mapping[Any, Any], number: int, *names: str) -> Any:
    for key in (number, str(number), *names):
        if key in dg13 and dg13[key] not in (None, ""):
            return dg13[key]
    return None


def compare_with_record(citizen: Citizen, mrz: Mapping[str, str], dg13: Mapping[Any, Any]) -> list[str]:
    """Fields of DG1 / DG13 that differ from the population record (empty: all agree).

    Decision: DG1 names are compared after ASCII folding (ICAO 9303-3 transliteration, Đ → D) with the
    record's ``name_key``, and may be a prefix (the TD1 name line truncates at 30 characters); DG13's
    full name must equal the record exactly (NFC). Fields absent from the chip are not compared.
    """
    bad: list[str] = []
    if mrz.get("date_of_birth") and citizen.birth_month and citizen.birth_day:
        expected = f"{citizen.birth_year % 100:02d}{citizen.birth_month:02d}{citizen.birth_day:02d}"
        if mrz["date_of_birth"] != expected:
            bad.append("DG1.date_of_birth")
    if mrz.get("sex") in ("M", "F") and citizen.sex and mrz["sex"] != citizen.sex:
        bad.append("DG1.sex")
    mrz_name = " ".join(f"{mrz.get('surname', '')} {mrz.get('given_names', '')}".split())
    if mrz_name:
        record = name_key(citizen.full_name)
        if not (record == mrz_name or (len(mrz_name) >= 20 and record.startswith(mrz_name))):
            bad.append("DG1.name")
    full_name = _dg13_value(dg13, 2, "full_name")
    if full_name is not None and _nfc(full_name) != _nfc(citizen.full_name):
        bad.append("DG13.full_name")
    dob = _dg13_value(dg13, 3, "date_of_birth")
    if dob is not None and str(dob).strip() != birth_date_text(citizen):
        bad.append("DG13.date_of_birth")
    sex = _dg13_value(dg13, 4, "sex")
    if sex is not None and citizen.sex:
        if {"Nam": "M", "Nữ": "F"}.get(_nfc(sex)) != citizen.sex:
            bad.append("DG13.sex")
    return bad


def agency_view(
    session: Session, citizen: Citizen, card: Card, permitted: list[str], portrait: bytes | None
) -> dict[str, Any]:
    """Only the fields the agency may see, from the population record (the authority) and the card."""
    import base64

    wanted = set(permitted)
    values: dict[str, Callable[[], Any]] = {
        "personal_id": lambda: citizen.personal_id,
        "full_name": lambda: citizen.full_name,
        "date_of_birth": lambda: birth_date_text(citizen),
        "sex": lambda: citizen.sex,
        "nationality": lambda: citizen.nationality,
        "ethnicity": lambda: citizen.ethnicity,
        "religion": lambda: citizen.religion,
        "place_of_origin": lambda: citizen.place_of_origin,
        "place_of_residence": lambda: _residence(session, citizen.personal_id),
        "identifying_features": lambda: citizen.identifying_features,
        "date_of_issue": lambda: card.issue_date.isoformat() if card.issue_date else None,
        "date_of_expiry": lambda: card.expiry_date.isoformat() if card.expiry_date else None,
        "father_name": lambda: _family(session, citizen.personal_id, "father"),
        "mother_name": lambda: _family(session, citizen.personal_id, "mother"),
        "spouse_name": lambda: _family(session, citizen.personal_id, "spouse"),
        "old_id_number": lambda: citizen.old_cmnd,
        "portrait": lambda: base64.b64encode(portrait).decode() if portrait else None,
    }
    return {name: values[name]() for name in sorted(wanted) if name in values}


def _residence(session: Session, personal_id: str) -> str | None:
    row = session.get(Residence, (personal_id, "permanent"))
    return row.address if row else None


def _family(session: Session, personal_id: str, relation: str) -> str | None:
    row = session.get(FamilyLink, (personal_id, relation))
    return row.name if row else None


def submit_evidence(
    session: Session,
    principal: Principal,
    verification_id: str,
    evidence: Mapping[str, Any] | bytes | str,
    *,
    trust_store: Any,
    receipt_signer: ReceiptSigner,
    now: datetime | None = None,
) -> VerificationOutcome:
    """Decide on one evidence bundle (module docstring). Refusals of the *challenge* (unknown, other
    agency, used, expired) raise and are audited by the caller; every decision on the *card* returns an
    outcome (accepted or refused with reasons), committed with its audit entry."""
    from reader import reverify
    from reader.errors import EvidenceError
    from reader.evidence import EvidenceBundle

    now = now or datetime.now(UTC)
    challenge = _claim_challenge(session, principal, verification_id, now)
    raw = evidence if isinstance(evidence, bytes | str) else None
    reasons: list[str] = []
    card: Card | None = None
    fields: dict[str, Any] = {}
    mismatched: list[str] = []
    evidence_digest = ""
    try:
        bundle = EvidenceBundle.from_json(raw) if raw is not None else EvidenceBundle.from_dict(evidence)
    except EvidenceError:
        bundle = None
    if bundle is None:
        chip_verdict = "failed"
        reasons.append("EVIDENCE_INVALID")
        checks: tuple[Mapping[str, str], ...] = ()
    else:
        evidence_digest = hashlib.sha256(bundle.to_bytes()).hexdigest()
        report = reverify(bundle, trust_store, at=now, expected_aa_challenge=bytes(challenge.challenge))
        chip_verdict = report.verdict.value
        checks = tuple({"id": c.id, "outcome": c.outcome.value, "reason": c.reason.value} for c in report.checks)
        if report.verdict.value != "passed":
            # Decision: only a PASSED chip is accepted; WARNING (no clone check possible) is refused too.
            reasons.extend(r.value for r in report.reasons)
            if not reasons:
                reasons.append(report.reason.value)
        mrz = dict(report.document.mrz_fields) if report.document else {}
        dg13 = dict(report.document.dg13) if report.document else {}
        personal_id = mrz.get("personal_id") or _dg13_value(dg13, 1, "personal_id")
        if not personal_id:
            reasons.append(ServerReason.DOCUMENT_UNIDENTIFIED.value)
        else:
            ca_key_id = (bundle.chip_authentication or {}).get("key_id")
            aa_fp, ca_fp = _chip_key_fingerprints(bundle.files, ca_key_id)
            cards = registry.cards_of_person(session, str(personal_id))
            card = _match_card(cards, aa_fp, ca_fp)
            if not cards:
                reasons.append(ServerReason.CARD_NOT_REGISTERED.value)
            elif card is None:
                reasons.append(ServerReason.CHIP_KEY_MISMATCH.value)
            elif card.status != "issued":
                reasons.append(_STATUS_REASONS.get(card.status, ServerReason.CARD_NOT_ISSUED).value)
            elif card.expiry_date is not None and card.expiry_date < now.date():
                reasons.append(ServerReason.CARD_EXPIRED.value)
            citizen = find_citizen(session, str(personal_id))
            if citizen is None:
                reasons.append(ServerReason.CITIZEN_NOT_FOUND.value)
            else:
                if citizen.status != "alive" or citizen.merged_into is not None:
                    reasons.append(ServerReason.CITIZEN_NOT_ALIVE.value)
                mismatched = compare_with_record(citizen, mrz, dg13)
                if mismatched:
                    reasons.append(ServerReason.DATA_MISMATCH.value)
            if not reasons and card is not None and citizen is not None:
                agency = session.get(StationAgency, challenge.agency_code)
                fields = agency_view(
                    session,
                    citizen,
                    card,
                    list(agency.permitted_fields if agency else []),
                    report.document.portrait if report.document else None,
                )
    decision = Decision.ACCEPTED if not reasons else Decision.REFUSED
    reasons = list(dict.fromkeys(reasons))
    payload = {
        "verification_id": challenge.id,
        "agency": challenge.agency_code,
        "operator": principal.username,
        "decided_at": now.isoformat(),
        "decision": decision.value,
        "reasons": reasons,
        "card_number": card.card_number if card is not None else None,
        "challenge": bytes(challenge.challenge).hex(),
        "evidence_sha256": evidence_digest,
        "fields_sha256": fields_digest(fields),
    }
    receipt = sign_receipt(receipt_signer, payload)
    challenge.decision = decision.value
    audit.append(
        session,
        actor=principal.actor,
        action="verification.decision",
        target=f"card:{card.card_number}" if card is not None else f"verification:{challenge.id}",
        outcome=decision.value,
        reasons=reasons,
        details={
            "verification_id": challenge.id,
            "agency": challenge.agency_code,
            "chip_verdict": chip_verdict,
            "evidence_sha256": evidence_digest,
            "fields": sorted(fields),
            "mismatched": mismatched,
            "receipt_signature_sha256": hashlib.sha256(receipt["signature"].encode()).hexdigest(),
        },
        now=now,
    )
    session.commit()
    return VerificationOutcome(
        verification_id=challenge.id,
        decision=decision,
        reasons=tuple(reasons),
        chip_verdict=chip_verdict,
        card_number=card.card_number if card is not None else None,
        card_status=card.status if card is not None else None,
        fields=fields,
        receipt=receipt,
        decided_at=now,
        mismatched_fields=tuple(mismatched),
        checks=checks,
    )
