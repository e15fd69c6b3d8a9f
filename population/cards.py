"""Card registry operations: personalized → issued / spoiled; issued → lost, stolen, revoked, replaced,
expired. Every transition writes a ``card_events`` row in the caller's transaction.

All functions take the caller's ``Session``: ``mark_issued(..., replaces=old)`` revokes the old card
and issues the new one in that one transaction, and the database's partial unique index
``uq_cards_one_valid_per_person`` refuses a second ``issued`` card for the same person even if two
stations race.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from population.errors import CardRegistryError, NotFound
from population.ids import decode_personal_id, mask_id
from population.models import Card, CardEvent, Citizen, utcnow

#: Allowed transitions (from → set of to). Decision: "replaced" is the revocation used when a new card
#: takes over; "revoked" is an administrative revocation; lost/stolen/revoked/replaced/expired/spoiled
#: are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "personalized": frozenset({"issued", "spoiled"}),
    "issued": frozenset({"lost", "stolen", "revoked", "replaced", "expired"}),
}


def public_key_sha256(spki_der: bytes) -> str:
    """Fingerprint of a chip public key: SHA-256 (hex) of its SubjectPublicKeyInfo DER.

    Decision: the registry keeps the fingerprint, not the key; the verifier hashes the key it reads
    from DG14/DG15 the same way and compares (clone / chip swap detection).
    """
    return hashlib.sha256(spki_der).hexdigest()


def document_number_of(personal_id: str) -> str:
    """Digits 4-12 of the personal ID (VN_CARD.md, MRZ line 1)."""
    return personal_id[3:12]


def _event(session: Session, card: Card, to_status: str, actor: str, reason: str | None,
           from_status: str | None) -> None:
    session.add(CardEvent(card_number=card.card_number, personal_id=card.personal_id, actor=actor,
                          from_status=from_status, to_status=to_status, reason=reason, at=utcnow()))


def _transition(session: Session, card: Card, to_status: str, *, actor: str, reason: str | None) -> Card:
    allowed = TRANSITIONS.get(card.status, frozenset())
    if to_status not in allowed:
        raise CardRegistryError(
            f"card {card.card_number}: {card.status} → {to_status} is not allowed",
            reason="INVALID_TRANSITION", card_number=card.card_number, status=card.status, to=to_status,
        )
    old = card.status
    card.status = to_status
    card.status_reason = reason
    _event(session, card, to_status, actor, reason, old)
    return card


def find_card(session: Session, card_number: str, *, personal_id: str | None = None,
              for_update: bool = False) -> Card | None:
    """The card by number. Pass ``personal_id`` when known (verification has it from the MRZ): on a
    cluster sharded by personal ID the query is then routed to one shard (see README)."""
    stmt = select(Card).where(Card.card_number == card_number)
    if personal_id is not None:
        stmt = stmt.where(Card.personal_id == personal_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def get_card(session: Session, card_number: str, *, personal_id: str | None = None,
             for_update: bool = False) -> Card:
    card = find_card(session, card_number, personal_id=personal_id, for_update=for_update)
    if card is None:
        raise NotFound(f"no card {card_number}", reason="CARD_NOT_FOUND", card_number=card_number)
    return card


def register_card(session: Session, *, card_number: str, personal_id: str, firmware_profile: str,
                  actor: str, card_generation: str = "2024", chip_serial: str | None = None) -> Card:
    """Record a blank card being personalized for ``personal_id`` (status ``personalized``)."""
    decode_personal_id(personal_id)
    citizen = session.get(Citizen, personal_id)
    if citizen is None:
        raise NotFound(f"no citizen {mask_id(personal_id)}", reason="CITIZEN_NOT_FOUND",
                       personal_id=mask_id(personal_id))
    if citizen.status != "alive" or citizen.merged_into is not None:
        raise CardRegistryError(f"citizen {mask_id(personal_id)} is {citizen.status}",
                                reason="CITIZEN_NOT_ELIGIBLE",
                                personal_id=mask_id(personal_id), status=citizen.status)
    if session.get(Card, card_number) is not None:
        raise CardRegistryError(f"card {card_number} already registered", reason="CARD_EXISTS",
                                card_number=card_number)
    card = Card(card_number=card_number, personal_id=personal_id,
                document_number=document_number_of(personal_id), card_generation=card_generation,
                firmware_profile=firmware_profile, chip_serial=chip_serial, status="personalized")
    session.add(card)
    _event(session, card, "personalized", actor, None, None)
    session.flush()
    return card


def mark_issued(session: Session, card_number: str, *, actor: str, issue_date: dt.date,
                expiry_date: dt.date | None, ca_public_key_sha256: str | None,
                aa_public_key_sha256: str | None, sod_hash: str, sod_hash_algorithm: str,
                ds_certificate: bytes, replaces: str | None = None) -> Card:
    """The card passed read-back: record its chip keys, SOD hash and DS certificate, status ``issued``.

    If the person holds a valid card, ``replaces`` must name it: it becomes ``replaced`` in the same
    transaction (flushed first, so the partial unique index never sees two issued cards). Without
    ``replaces``, a second valid card is refused with ``VALID_CARD_EXISTS``.
    """
    card = get_card(session, card_number, for_update=True)
    current = valid_card(session, card.personal_id, for_update=True)
    if current is not None and current.card_number != card.card_number:
        if replaces != current.card_number:
            raise CardRegistryError(
                f"person already holds valid card {current.card_number}", reason="VALID_CARD_EXISTS",
                card_number=card_number, valid_card=current.card_number,
            )
        _transition(session, current, "replaced", actor=actor, reason=f"replaced by {card_number}")
        current.replaced_by_card_number = card_number
        session.flush()
    elif replaces is not None:
        old = get_card(session, replaces)
        if old.personal_id != card.personal_id:
            raise CardRegistryError("replaced card belongs to another person", reason="REPLACES_OTHER_PERSON",
                                    card_number=card_number, replaces=replaces)
    card.issue_date = issue_date
    card.expiry_date = expiry_date
    card.ca_public_key_sha256 = ca_public_key_sha256
    card.aa_public_key_sha256 = aa_public_key_sha256
    card.sod_hash = sod_hash
    card.sod_hash_algorithm = sod_hash_algorithm
    card.ds_certificate = ds_certificate
    card.ds_certificate_sha256 = hashlib.sha256(ds_certificate).hexdigest()
    card.issued_at = utcnow()
    card.replaces_card_number = replaces
    _transition(session, card, "issued", actor=actor, reason=None)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent issuance won the race: the index said no
        raise CardRegistryError("person already holds a valid card", reason="VALID_CARD_EXISTS",
                                card_number=card_number) from exc
    return card


def replace_card(session: Session, old_card_number: str, new_card_number: str, *, actor: str,
                 **issue: Any) -> Card:
    """Issue ``new_card_number`` (already registered, read back OK) as the replacement of the old card:
    a valid old card becomes ``replaced`` in the same transaction; a lost/stolen/revoked one just stays
    as it is and is linked. ``issue`` = the keyword arguments of :func:`mark_issued`."""
    return mark_issued(session, new_card_number, actor=actor, replaces=old_card_number, **issue)


def mark_spoiled(session: Session, card_number: str, *, actor: str, reason: str) -> Card:
    """Personalization or read-back failed (or the card was pulled): never valid, kept for the record."""
    card = get_card(session, card_number, for_update=True)
    _transition(session, card, "spoiled", actor=actor, reason=reason)
    session.flush()
    return card


def report_lost(session: Session, card_number: str, *, actor: str, stolen: bool = False,
                reason: str | None = None) -> Card:
    card = get_card(session, card_number, for_update=True)
    _transition(session, card, "stolen" if stolen else "lost", actor=actor, reason=reason)
    session.flush()
    return card


def revoke_card(session: Session, card_number: str, *, actor: str, reason: str) -> Card:
    card = get_card(session, card_number, for_update=True)
    _transition(session, card, "revoked", actor=actor, reason=reason)
    session.flush()
    return card


def valid_card(session: Session, personal_id: str, as_of: dt.date | None = None, *,
               for_update: bool = False) -> Card | None:
    """The person's one ``issued`` card, or None; with ``as_of``, None if it has expired by then."""
    stmt = select(Card).where(Card.personal_id == personal_id, Card.status == "issued")
    if for_update:
        stmt = stmt.with_for_update()
    card = session.scalars(stmt).one_or_none()
    if card is not None and as_of is not None and card.expiry_date is not None and card.expiry_date < as_of:
        return None
    return card


def cards_of_person(session: Session, personal_id: str) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.personal_id == personal_id)
                                .order_by(Card.created_at, Card.card_number)))


def cards_by_document_number(session: Session, document_number: str) -> list[Card]:
    """Every card printed with this document number (all cards of one person share it)."""
    return list(session.scalars(select(Card).where(Card.document_number == document_number)
                                .order_by(Card.created_at, Card.card_number)))


def card_history(session: Session, card_number: str) -> list[CardEvent]:
    return list(session.scalars(select(CardEvent).where(CardEvent.card_number == card_number)
                                .order_by(CardEvent.at, CardEvent.id)))


def expire_cards(session: Session, as_of: dt.date, *, actor: str) -> int:
    """Mark every issued card whose expiry date is before ``as_of`` as ``expired`` (batch job)."""
    expired = list(session.scalars(select(Card).where(Card.status == "issued", Card.expiry_date.is_not(None),
                                                      Card.expiry_date < as_of)))
    for card in expired:
        _transition(session, card, "expired", actor=actor, reason=f"expired before {as_of.isoformat()}")
    session.flush()
    return len(expired)


