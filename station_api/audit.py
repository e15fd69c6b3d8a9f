"""The append-only, hash-chained audit log: append inside the caller's transaction, verify the whole chain.

Chain (decision, after RFC 6962-style hash chaining, kept linear):
``entry_hash_n = SHA-256("cancuoc-audit-v1" || prev_hash_n || canonical_json(entry_n))`` with
``prev_hash_1 = 64 × "0"`` and ``prev_hash_n = entry_hash_{n-1}``; ``canonical_json`` is JSON with sorted
keys, no spaces, UTF-8, over ``seq, at, actor, action, target, outcome, reasons, details``. Sequence
numbers are dense from 1, so a deleted entry leaves a gap and breaks the next ``prev_hash``; a reordered
one breaks both; an edited one no longer matches its ``entry_hash``; and the head row (written in the
same transaction as each append) catches the deletion of the newest entries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from population.models.station import StationAuditEntry, StationAuditHead

GENESIS_HASH = "0" * 64
_DOMAIN = b"cancuoc-audit-v1"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_digest(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(_DOMAIN + prev_hash.encode() + canonical_json(dict(fields)).encode()).hexdigest()


def _fields(row: StationAuditEntry) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "outcome": row.outcome,
        "reasons": json.loads(row.reasons),
        "details": json.loads(row.details),
    }


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str,
    target: str | None = None,
    reasons: Iterable[str] = (),
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> StationAuditEntry:
    """Append one entry in the caller's transaction (flushed, not committed): the decision and its audit
    entry commit together or not at all. ``details`` must be secret-free (no MRZ, CAN, keys).

    Concurrency: the head row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serializes writers),
    and ``seq`` is the primary key, so two appends can never share a place in the chain.
    """
    now = now or datetime.now(UTC)
    head = _locked_head(session)
    prev_seq, prev_hash = head.seq, head.entry_hash
    fields = {
        "seq": prev_seq + 1,
        "at": now.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor[:100],
        "action": action[:64],
        "target": target[:200] if target else None,
        "outcome": outcome[:32],
        "reasons": list(reasons),
        "details": dict(details or {}),
    }
    digest = entry_digest(prev_hash, fields)
    row = StationAuditEntry(
        seq=fields["seq"],
        at=fields["at"],
        actor=fields["actor"],
        action=fields["action"],
        target=fields["target"],
        outcome=fields["outcome"],
        reasons=canonical_json(fields["reasons"]),
        details=canonical_json(fields["details"]),
        prev_hash=prev_hash,
        entry_hash=digest,
    )
    session.add(row)
    head.seq, head.entry_hash = row.seq, digest
    session.flush()
    return row


def _locked_head(session: Session) -> StationAuditHead:
    """The head row, locked for this transaction. The migration creates it (seq 0, genesis hash); if it is
    missing (tables emptied), it is created in a savepoint, and a concurrent creator's win is tolerated."""
    stmt = (
        select(StationAuditHead)
        .where(StationAuditHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        try:
            with session.begin_nested():
                session.add(StationAuditHead(id=1, seq=0, entry_hash=GENESIS_HASH))
        except IntegrityError:
            pass
        head = session.execute(stmt).scalar_one()
    return head


def append_refusal(session: Session, **kwargs: Any) -> None:
    """Roll back whatever the request did, then append and commit the refusal on its own: a refused
    request leaves nothing behind but its audit entry. Retried when a concurrent writer took the same
    sequence number."""
    for attempt in range(3):
        session.rollback()
        try:
            append(session, **kwargs)
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One defect found by :func:`verify_chain`, with a stable reason code."""

    seq: int | None
    reason: str  # entry_edited | entry_missing | chain_broken | head_mismatch | head_missing
    detail: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[AuditProblem, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditChainBroken(Exception):
    """Raised by :func:`verify_audit_log` with the problems found."""

    def __init__(self, result: AuditVerification) -> None:
        self.result = result
        first = result.problems[0]
        super().__init__(f"audit chain broken at seq {first.seq}: {first.reason}")


def verify_chain(session: Session, *, batch: int = 5000) -> AuditVerification:
    """Walk the whole log in ``seq`` order and report every defect (never stops at the first)."""
    problems: list[AuditProblem] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    last_seq = 0
    stmt = select(StationAuditEntry).order_by(StationAuditEntry.seq).execution_options(yield_per=batch)
    for row in session.execute(stmt).scalars():
        count += 1
        if row.seq != expected_seq:
            problems.append(AuditProblem(row.seq, "entry_missing", f"expected seq {expected_seq}, found {row.seq}"))
        if row.prev_hash != prev_hash:
            problems.append(AuditProblem(row.seq, "chain_broken", "prev_hash does not match previous entry"))
        try:
            recomputed = entry_digest(row.prev_hash, _fields(row))
        except ValueError:
            recomputed = ""
        if recomputed != row.entry_hash:
            problems.append(AuditProblem(row.seq, "entry_edited", "entry does not match its hash"))
        prev_hash = row.entry_hash
        expected_seq = row.seq + 1
        last_seq = row.seq
    head = session.get(StationAuditHead, 1)
    if head is None:
        if count:
            problems.append(AuditProblem(None, "head_missing", "audit head row missing"))
        return AuditVerification(count, 0, GENESIS_HASH, tuple(problems))
    if head.seq != last_seq or head.entry_hash != prev_hash:
        problems.append(
            AuditProblem(head.seq, "head_mismatch", f"head says seq {head.seq}, log ends at seq {last_seq}")
        )
    return AuditVerification(count, head.seq, head.entry_hash, tuple(problems))


def verify_audit_log(session: Session) -> AuditVerification:
    """Raise :class:`AuditChainBroken` unless the chain is intact (STYLE §3: ``verify_*`` raises)."""
    result = verify_chain(session)
    if not result.intact:
        raise AuditChainBroken(result)
    return result


@dataclass
class Decision:
    """What :func:`decision` records when the block succeeds (set by the block)."""

    outcome: str = "done"
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    target: str | None = None


def _reason_of(exc: BaseException) -> str:
    code = getattr(exc, "code", None) or getattr(exc, "reason", None)
    return str(getattr(code, "value", code) or type(exc).__name__)


@contextmanager
def decision(session: Session, *, actor: str, action: str, target: str | None = None) -> Iterator[Decision]:
    """Audit one decision either way: on success append ``outcome`` (in the block's transaction, which
    the block commits after, or which is committed here if still open); on an exception roll back and
    append a ``refused`` entry with the error's stable code, then re-raise."""
    record = Decision(target=target)
    try:
        yield record
    except Exception as exc:
        append_refusal(
            session,
            actor=actor,
            action=action,
            target=record.target,
            outcome="refused",
            reasons=[_reason_of(exc)],
            details=record.details,
        )
        raise
    append(
        session,
        actor=actor,
        action=action,
        target=record.target,
        outcome=record.outcome,
        reasons=record.reasons,
        details=record.details,
    )
    session.commit()


@contextmanager
def refusals(session: Session, *, actor: str, action: str, target: str | None = None) -> Iterator[None]:
    """For services that audit their own successes: audit a refusal (rolled back, then ``refused`` with
    the error's stable code) and re-raise."""
    try:
        yield
    except Exception as exc:
        append_refusal(session, actor=actor, action=action, target=target, outcome="refused", reasons=[_reason_of(exc)])
        raise
