"""Population database and card registry: every table of the project, citizens, intake, quality, cards.

Public API (stable; other areas call these)::

    # engines, sessions, schema (population.db)
    make_engine(url: str | None = None, **kw) -> Engine   # None: CANCUOC_DATABASE_URL / workspace SQLite
    upgrade_database(url_or_engine=None, revision="head") -> None   # Alembic upgrade, shipped migrations
    session_scope(engine) -> ContextManager[Session]           # one transaction: commit / rollback
    Base (population.models.base.Base)                         # declarative base of every table

    # citizens (population.citizens)
    get_citizen(session, personal_id) -> Citizen               # raises NotFound
    find_citizen(session, personal_id) -> Citizen | None
    citizen_view(session, personal_id) -> dict                 # record + residences + family, JSON-ready
    update_citizen(session, personal_id, changes: dict, *, actor, reason, procedure="DC02",
                   expected_version: int | None = None) -> Citizen   # history rows; optimistic lock
    citizen_history(session, personal_id) -> list[CitizenChange]

    # DC02 procedures (population.procedures)
    submit_update(session, personal_id, changes, *, reason, submitted_by, evidence=None) -> UpdateRequest
    approve_update(session, request_id, *, approver, note=None) -> Citizen   # four eyes
    reject_update(session, request_id, *, approver, note) -> UpdateRequest

    # civil-registry births (population.births)
    register_birth(session, birth: BirthRecord, *, actor) -> Citizen  # allocates a new, never-reused ID

    # card registry (population.cards), all take the caller's session = the caller's transaction
    register_card(session, *, card_number, personal_id, firmware_profile, actor, card_generation="2024",
                  chip_serial=None) -> Card                                # status "personalized"
    mark_issued(session, card_number, *, actor, issue_date, expiry_date, ca_public_key_sha256,
                aa_public_key_sha256, sod_hash, sod_hash_algorithm, ds_certificate: bytes,
                replaces: str | None = None) -> Card      # replaces=old card: old → "replaced", same txn
    mark_spoiled(session, card_number, *, actor, reason) -> Card
    report_lost(session, card_number, *, actor, stolen=False, reason=None) -> Card
    revoke_card(session, card_number, *, actor, reason) -> Card
    valid_card(session, personal_id, as_of: date | None = None) -> Card | None
    find_card(session, card_number) -> Card | None
    cards_by_document_number(session, document_number) -> list[Card]
    cards_of_person(session, personal_id) -> list[Card]
    card_history(session, card_number) -> list[CardEvent]
    expire_cards(session, as_of: date, *, actor) -> int
    public_key_sha256(spki_der: bytes) -> str                  # fingerprint stored for CA/AA keys

    # intake, quality, seed (population.intake / quality / seed) and `cancuoc population ...` (cli)

Errors: population.errors.PopulationError (``reason`` = stable code) → NotFound, InvalidRecord,
ConcurrentUpdate, ProcedureError, CardRegistryError, ImportFailure.

Other areas' tables: add ``population/models/<area>.py`` subclassing ``Base`` and one Alembic revision
in ``population/migrations/versions/`` whose ``down_revision`` is the current head
(``alembic -c population/alembic.ini heads``); tests/test_population_schema.py checks a single head and
that the migrations build exactly ``Base.metadata``.
"""
from __future__ import annotations

from population.db import make_engine, session_scope, upgrade_database
from population.models import Base

__all__ = ["Base", "make_engine", "session_scope", "upgrade_database"]
