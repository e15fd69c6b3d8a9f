"""Population database and card registry: every table of the project, citizens, intake, quality, cards.

Public API (stable; other areas call these)::

    # engines, sessions, schema (population.db)
    make_engine(url: str | None = None, **kw) -> Engine   # None: CANCUOC_DATABASE_URL / workspace SQLite
    upgrade_database(url_or_engine=None, revision="head") -> None   # Alembic upgrade, shipped migrations
    read_only_engine(engine) -> Engine    # autocommit variant for single-SELECT lookups (PostgreSQL)
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
    replace_card(session, old_card_number, new_card_number, *, actor, **mark_issued_kwargs) -> Card
    mark_spoiled(session, card_number, *, actor, reason) -> Card
    report_lost(session, card_number, *, actor, stolen=False, reason=None) -> Card
    revoke_card(session, card_number, *, actor, reason) -> Card
    valid_card(session, personal_id, as_of: date | None = None) -> Card | None
    find_card(session, card_number, *, personal_id=None) -> Card | None   # pass personal_id when known
    cards_by_document_number(session, document_number) -> list[Card]
    cards_of_person(session, personal_id) -> list[Card]
    card_history(session, card_number) -> list[CardEvent]
    expire_cards(session, as_of: date, *, actor) -> int
    public_key_sha256(spki_der: bytes) -> str                  # fingerprint stored for CA/AA keys

    # DC01 intake (population.intake)
    import_dc01(engine, path, *, actor, fmt=None, reject_path=None, chunk_rows=10_000, progress=None)
        -> ImportReport                      # resumable, idempotent; rejects with line + reason code
    # quality (population.quality)
    quality_report(engine, *, as_of=None, stale_years=10, duplicates=True) -> QualityReport
    merge_duplicate(session, keep, duplicate, *, actor, reason) -> Citizen
    # synthetic data (population.seed) and helpers for other areas' tests (population.testing)
    seed_population(engine, count, *, seed=42, duplicate_rate=0.005, error_rate=0.01) -> SeedResult
    make_citizen(session, **fields) -> Citizen;  make_personal_id(province, birth_year, sex) -> str

    # `cancuoc population init|seed|import|quality|merge|lookup|history|update|birth|cards` (cli)

Messages and error fields show personal IDs masked (``PPPSYY******``): the last 6 digits are the CAN.

Errors: population.errors.PopulationError (``reason`` = stable code) → NotFound, InvalidRecord,
ConcurrentUpdate, ProcedureError, CardRegistryError, ImportFailure.

Other areas' tables: add ``population/models/<area>.py`` subclassing ``Base`` and one Alembic revision
in ``population/migrations/versions/`` whose ``down_revision`` is the current head
(``alembic -c population/alembic.ini heads``); tests/test_population_schema.py checks a single head and
that the migrations build exactly ``Base.metadata``.
"""
from __future__ import annotations

from population.births import BirthRecord, register_birth
from population.cards import (
    card_history,
    cards_by_document_number,
    cards_of_person,
    expire_cards,
    find_card,
    get_card,
    mark_issued,
    mark_spoiled,
    public_key_sha256,
    register_card,
    replace_card,
    report_lost,
    revoke_card,
    valid_card,
)
from population.citizens import (
    citizen_history,
    citizen_view,
    find_citizen,
    get_citizen,
    modify_citizen,
    update_citizen,
)
from population.db import make_engine, read_only_engine, session_scope, upgrade_database
from population.errors import (
    CardRegistryError,
    ConcurrentUpdate,
    ImportFailure,
    InvalidRecord,
    NotFound,
    PopulationError,
    ProcedureError,
)
from population.models import Base
from population.procedures import approve_update, reject_update, submit_update

__all__ = [
    "Base",
    "BirthRecord",
    "CardRegistryError",
    "ConcurrentUpdate",
    "ImportFailure",
    "InvalidRecord",
    "NotFound",
    "PopulationError",
    "ProcedureError",
    "approve_update",
    "card_history",
    "cards_by_document_number",
    "cards_of_person",
    "citizen_history",
    "citizen_view",
    "expire_cards",
    "find_card",
    "find_citizen",
    "get_card",
    "get_citizen",
    "make_engine",
    "mark_issued",
    "mark_spoiled",
    "modify_citizen",
    "public_key_sha256",
    "read_only_engine",
    "register_birth",
    "register_card",
    "reject_update",
    "replace_card",
    "report_lost",
    "revoke_card",
    "session_scope",
    "submit_update",
    "update_citizen",
    "upgrade_database",
    "valid_card",
]
