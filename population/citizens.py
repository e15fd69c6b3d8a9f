"""Citizen lookups and changes: every change goes through :func:`update_citizen`, which locks the row,
checks the optimistic version, validates, and writes one history row per changed field."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from population.db import session_scope
from population.errors import ConcurrentUpdate, InvalidRecord, NotFound
from population.ids import mask_id, name_key
from population.models import Citizen, CitizenChange, FamilyLink, Household, Residence, utcnow
from population.validation import (
    MISSING_FIELD,
    check_field,
    format_partial_date,
    id_conflicts,
)

#: Columns of ``citizens`` a procedure may change directly (birth_date is split into three columns).
CITIZEN_FIELDS = frozenset({
    "full_name", "other_name", "birth_date", "sex", "birth_registration_place", "birth_registration_province",
    "place_of_birth", "place_of_origin", "origin_province", "ethnicity", "religion", "nationality",
    "marital_status", "blood_type", "old_cmnd", "phone", "email", "identifying_features", "status",
    "date_of_death", "date_missing", "household_id", "relation_to_head",
})
RESIDENCE_FIELDS = {f"{kind}_{part}": (kind, part) for kind in ("permanent", "temporary", "current")
                    for part in ("address", "unit_code")}
FAMILY_FIELDS = {f"{rel}_{part}": (rel, part) for rel in ("father", "mother", "spouse", "representative")
                 for part in ("name", "id")}
UPDATABLE_FIELDS = CITIZEN_FIELDS | set(RESIDENCE_FIELDS) | set(FAMILY_FIELDS)


def find_citizen(session: Session, personal_id: str, *, for_update: bool = False) -> Citizen | None:
    """The citizen by primary key; ``for_update`` takes a row lock (PostgreSQL) and re-reads the row."""
    if not for_update:
        return session.get(Citizen, personal_id)  # primary-key lookup, cached statement
    stmt = (select(Citizen).where(Citizen.personal_id == personal_id).with_for_update()
            .execution_options(populate_existing=True))
    return session.scalars(stmt).one_or_none()


def get_citizen(session: Session, personal_id: str, *, for_update: bool = False) -> Citizen:
    citizen = find_citizen(session, personal_id, for_update=for_update)
    if citizen is None:
        raise NotFound(f"no citizen {mask_id(personal_id)}", reason="CITIZEN_NOT_FOUND",
                       personal_id=mask_id(personal_id))
    return citizen


def birth_date_text(citizen: Citizen) -> str:
    return format_partial_date(citizen.birth_year, citizen.birth_month, citizen.birth_day)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def citizen_view(session: Session, personal_id: str) -> dict[str, Any]:
    """The record as a JSON-ready dict: fields, birth date as written, residences, family, household."""
    c = get_citizen(session, personal_id)
    out: dict[str, Any] = {
        "personal_id": c.personal_id, "full_name": c.full_name, "other_name": c.other_name,
        "birth_date": birth_date_text(c), "sex": c.sex,
    }
    for field in sorted(CITIZEN_FIELDS - {"full_name", "other_name", "birth_date", "sex"}):
        out[field] = _text(getattr(c, field))
    out.update(status=c.status, merged_into=c.merged_into, version=c.version,
               updated_at=_text(c.updated_at))
    out["residences"] = {
        r.kind: {"address": r.address, "unit_code": r.unit_code, "province_code": r.province_code}
        for r in session.scalars(select(Residence).where(Residence.personal_id == personal_id))
    }
    out["family"] = {
        f.relation: {"name": f.name, "personal_id": f.related_personal_id, "nationality": f.nationality}
        for f in session.scalars(select(FamilyLink).where(FamilyLink.personal_id == personal_id))
    }
    if c.household_id:
        hh = session.get(Household, c.household_id)
        out["household"] = {"household_id": c.household_id, "relation_to_head": c.relation_to_head,
                            "head_personal_id": hh.head_personal_id if hh else None}
    return out


def citizen_history(session: Session, personal_id: str) -> list[CitizenChange]:
    return list(session.scalars(select(CitizenChange).where(CitizenChange.personal_id == personal_id)
                                .order_by(CitizenChange.changed_at, CitizenChange.id)))


def _record(session: Session, personal_id: str, field: str, old: Any, new: Any, *, actor: str, reason: str,
            procedure: str, request_id: int | None, at: dt.datetime) -> None:
    session.add(CitizenChange(personal_id=personal_id, changed_at=at, actor=actor, procedure=procedure,
                              reason=reason, field=field, old_value=_text(old), new_value=_text(new),
                              request_id=request_id))


def update_citizen(session: Session, personal_id: str, changes: Mapping[str, Any], *, actor: str, reason: str,
                   procedure: str = "DC02", request_id: int | None = None,
                   expected_version: int | None = None) -> Citizen:
    """Apply ``changes`` (field → new value as text/None) with history, in the caller's transaction.

    Concurrency: the row is read ``FOR UPDATE`` (PostgreSQL row lock; SQLite transactions are already
    serialized by ``BEGIN IMMEDIATE``), so two writers queue instead of overwriting each other. If the
    caller passes the ``expected_version`` it showed the operator and the record has moved on since,
    :class:`ConcurrentUpdate` is raised; the mapper's ``version_id_col`` is the last line of defence for
    code that bypasses this function.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidRecord(f"fields cannot be changed: {sorted(unknown)}", reason="UNKNOWN_FIELD",
                            field=",".join(sorted(unknown)))
    if not reason or not reason.strip():
        raise InvalidRecord("a change needs a reason", reason=MISSING_FIELD, field="reason")
    citizen = get_citizen(session, personal_id, for_update=True)
    if expected_version is not None and citizen.version != expected_version:
        raise ConcurrentUpdate(f"citizen {mask_id(personal_id)} changed since version {expected_version}",
                               personal_id=mask_id(personal_id), expected=expected_version,
                               actual=citizen.version)
    values = {field: check_field(field, value) for field, value in changes.items()}
    now = utcnow()

    def rec(field: str, old: Any, new: Any) -> None:
        _record(session, personal_id, field, old, new, actor=actor, reason=reason, procedure=procedure,
                request_id=request_id, at=now)

    changed = False
    with session.no_autoflush:  # one flush (one version step) per update
        for field, new in values.items():
            if field == "birth_date":
                old_parts = (citizen.birth_year, citizen.birth_month, citizen.birth_day)
                if tuple(new) != old_parts:
                    rec("birth_date", format_partial_date(*old_parts), format_partial_date(*new))
                    citizen.birth_year, citizen.birth_month, citizen.birth_day = new
                    changed = True
            elif field in CITIZEN_FIELDS:
                old = getattr(citizen, field)
                if old != new:
                    rec(field, old, new)
                    setattr(citizen, field, new)
                    changed = True
                    if field == "full_name":
                        citizen.name_key = name_key(new)
            elif field in RESIDENCE_FIELDS:
                kind, part = RESIDENCE_FIELDS[field]
                changed |= _update_residence(session, citizen, kind, part, new, rec)
            else:
                rel, part = FAMILY_FIELDS[field]
                changed |= _update_family(session, citizen, rel, part, new, rec)

    conflicts = id_conflicts(citizen.personal_id, citizen.birth_year, citizen.sex,
                             citizen.birth_registration_province)
    if conflicts:
        raise InvalidRecord(f"citizen {mask_id(personal_id)}: change conflicts with the personal ID",
                            reason=conflicts[0], personal_id=mask_id(personal_id))
    if citizen.status == "dead" and citizen.date_of_death is None:
        raise InvalidRecord("status dead needs date_of_death", reason=MISSING_FIELD, field="date_of_death")
    if changed:
        citizen.last_verified_at = now
        citizen.updated_at = now
        try:
            session.flush()
        except StaleDataError as exc:
            raise ConcurrentUpdate(f"citizen {mask_id(personal_id)} was changed concurrently",
                                   personal_id=mask_id(personal_id)) from exc
    return citizen


def _update_residence(session: Session, citizen: Citizen, kind: str, part: str, new: Any,
                      rec: Callable[[str, Any, Any], None]) -> bool:
    res = session.get(Residence, (citizen.personal_id, kind))
    old = getattr(res, part) if res is not None else None
    if old == new:
        return False
    if res is None:
        if part != "address":
            raise InvalidRecord(f"{kind} residence needs an address first", reason=MISSING_FIELD,
                                field=f"{kind}_address")
        res = Residence(personal_id=citizen.personal_id, kind=kind, address=new, since=dt.date.today())
        session.add(res)
    elif part == "address" and new is None:
        session.delete(res)
    else:
        setattr(res, part, new)
        if part == "unit_code":
            res.province_code = None  # derived from a reference table when one is loaded
        res.since = dt.date.today()
    rec(f"{kind}_{part}", old, new)
    return True


def _update_family(session: Session, citizen: Citizen, rel: str, part: str, new: Any,
                   rec: Callable[[str, Any, Any], None]) -> bool:
    link = session.get(FamilyLink, (citizen.personal_id, rel))
    attr = "name" if part == "name" else "related_personal_id"
    old = getattr(link, attr) if link is not None else None
    if old == new:
        return False
    if link is None:
        link = FamilyLink(personal_id=citizen.personal_id, relation=rel)
        session.add(link)
    setattr(link, attr, new)
    rec(f"{rel}_{part}", old, new)
    return True


def modify_citizen(engine: Engine, personal_id: str, compute: Callable[[Citizen], Mapping[str, Any]], *,
                   actor: str, reason: str, procedure: str = "DC02") -> Citizen:
    """Read-modify-write in one transaction: ``compute(current record) -> changes`` under the row lock."""
    with session_scope(engine) as session:
        citizen = get_citizen(session, personal_id, for_update=True)
        return update_citizen(session, personal_id, compute(citizen), actor=actor, reason=reason,
                              procedure=procedure)
