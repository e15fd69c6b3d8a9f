"""Data-quality report ("đúng, đủ, sạch, sống" — correct, complete, clean, live): invalid formats and
cross-field conflicts, missing mandatory fields, probable duplicates (scored), stale records; and the
merge of a confirmed duplicate with history.

Duplicate detection: records are grouped by blocking keys so only plausible pairs are scored —
(ASCII name, birth year) catches diacritics / case / spacing variants and partial dates;
(full birth date, sex, mother's ASCII name) and (full birth date, sex, place of origin) catch typos in
the name. A pair's score (capped at 1) adds: name (0.30 same ignoring case, 0.25 same without
diacritics, up to 0.22 for near-identical spellings), birth date (0.25 equal, 0.15 compatible partial),
mother (0.15) and father (0.15) names without diacritics, place of origin (0.20). Sex must agree.
Decision: threshold 0.70 — a different person must share name, full birth date and place of origin
(or parents) to reach it; a re-entered person passes with a misspelt name when date and parents
agree. Candidates are for human review; only :func:`merge_duplicate` changes data.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session, aliased

from population.citizens import CITIZEN_FIELDS, get_citizen, update_citizen
from population.errors import CardRegistryError, ProcedureError
from population.ids import mask_id, name_key, normalize_name
from population.models import Card, Citizen, CitizenChange, FamilyLink, Residence, utcnow
from population.validation import COMPLETE_FIELDS, check_field, id_conflicts, spreadsheet_safe

DUPLICATE_THRESHOLD = 0.70
MAX_BLOCK = 60  # a larger block is a very common name+year: scored pairwise up to this many members
_FORMAT_FIELDS = ("phone", "email", "old_cmnd")


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding. ``category`` is one of dung/du/sach/song; ``code`` is a stable reason code."""

    category: str
    code: str
    personal_id: str
    field: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DuplicateCandidate:
    personal_id: str
    other_personal_id: str
    score: float
    evidence: tuple[str, ...]


@dataclass
class QualityReport:
    scanned: int = 0
    seconds: float = 0.0
    issues: list[Issue] = field(default_factory=list)
    duplicates: list[DuplicateCandidate] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(i.code for i in self.issues)
        c["DUPLICATE_CANDIDATE"] = len(self.duplicates)
        return dict(sorted(c.items()))

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        return {
            "scanned": self.scanned, "seconds": round(self.seconds, 3), "counts": self.counts,
            "issues": [asdict(i) for i in self.issues[:limit]],
            "duplicates": [asdict(d) for d in self.duplicates[:limit]],
        }

    def to_json(self, limit: int | None = None) -> str:
        return json.dumps(self.to_dict(limit), ensure_ascii=False, indent=2)

    def rows(self) -> Iterator[tuple[str, str, str, str, str, str]]:
        """(category, code, personal_id, field, other_personal_id/score, detail) for CSV and tables."""
        for i in self.issues:
            yield i.category, i.code, i.personal_id, i.field or "", "", i.detail or ""
        for d in self.duplicates:
            yield ("sach", "DUPLICATE_CANDIDATE", d.personal_id, "", f"{d.other_personal_id} {d.score:.2f}",
                   ", ".join(d.evidence))

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["category", "code", "personal_id", "field", "other", "detail"])
        w.writerows([spreadsheet_safe(cell) for cell in row] for row in self.rows())
        return buf.getvalue()

    def to_table(self, limit: int = 50) -> str:
        lines = [f"scanned {self.scanned} records in {self.seconds:.1f} s", "", f"{'code':<28} count"]
        lines += [f"{code:<28} {n}" for code, n in self.counts.items()]
        lines += ["", f"{'category':<8} {'code':<24} {'personal_id':<12} {'field':<20} other / detail"]
        for k, r in enumerate(self.rows()):
            if k >= limit:
                lines.append(f"... ({len(self.issues) + len(self.duplicates) - limit} more; use --csv/--json)")
                break
            lines.append(f"{r[0]:<8} {r[1]:<24} {r[2]:<12} {r[3]:<20} {r[4]} {r[5]}".rstrip())
        return "\n".join(lines)


@dataclass(slots=True)
class _Rec:
    personal_id: str
    full_name: str
    name_ascii: str
    birth: tuple[int, int | None, int | None]
    sex: str | None
    father: str
    mother: str
    origin: str


def _scan(session: Session) -> Iterator[tuple[Any, str | None, str | None, bool]]:
    father = aliased(FamilyLink)
    mother = aliased(FamilyLink)
    res = aliased(Residence)
    # Plain rows (no ORM identity map: this streams the whole table). All joins are on
    # (personal_id, ...) — co-located with the citizen on a sharded cluster.
    stmt = (select(*Citizen.__table__.c, father.name.label("_father"), mother.name.label("_mother"),
                   res.personal_id.label("_res"))
            .outerjoin(father, and_(father.personal_id == Citizen.personal_id, father.relation == "father"))
            .outerjoin(mother, and_(mother.personal_id == Citizen.personal_id, mother.relation == "mother"))
            .outerjoin(res, and_(res.personal_id == Citizen.personal_id, res.kind == "permanent"))
            .where(Citizen.merged_into.is_(None))
            .execution_options(yield_per=5000))
    for row in session.execute(stmt):
        yield row, row._father, row._mother, row._res is not None


def check_record(c: Any, has_permanent: bool, *, as_of: dt.date, stale_years: int) -> list[Issue]:
    """The đúng / đủ / sạch / sống rules for one record."""
    pid = c.personal_id
    out: list[Issue] = []
    # đúng — formats and cross-field consistency with the ID
    for code in id_conflicts(pid, c.birth_year, c.sex, c.birth_registration_province):
        out.append(Issue("dung", code, pid, "personal_id"))
    for fname in _FORMAT_FIELDS:
        value = getattr(c, fname)
        if value:
            try:
                check_field(fname, value)
            except Exception as exc:  # InvalidRecord: its reason is the code
                out.append(Issue("dung", getattr(exc, "reason", "BAD_VALUE"), pid, fname))
    # đủ — mandatory fields
    for fname in COMPLETE_FIELDS:
        if getattr(c, fname) in (None, ""):
            out.append(Issue("du", "MISSING_FIELD", pid, fname))
    if not has_permanent and c.status == "alive":
        out.append(Issue("du", "MISSING_FIELD", pid, "permanent_address"))
    # sạch — clean text
    if c.full_name != normalize_name(c.full_name) or not c.full_name:
        out.append(Issue("sach", "UNCLEAN_NAME", pid, "full_name", "spacing or Unicode form"))
    else:
        try:
            check_field("full_name", c.full_name)
        except Exception:
            out.append(Issue("sach", "BAD_NAME", pid, "full_name"))
    if c.name_key != name_key(c.full_name):
        out.append(Issue("sach", "STALE_NAME_KEY", pid, "name_key"))
    # sống — live data
    age = as_of.year - c.birth_year
    if c.status == "alive" and age > 110:
        out.append(Issue("song", "STALE_IMPLAUSIBLE_AGE", pid, "status", f"alive at {age}"))
    verified = c.last_verified_at or c.updated_at
    if verified is not None:
        vdate = verified.date() if isinstance(verified, dt.datetime) else verified
        if (as_of - vdate).days > 365 * stale_years and c.status == "alive":
            out.append(Issue("song", "STALE_NOT_VERIFIED", pid, "last_verified_at", vdate.isoformat()))
    if c.status == "missing" and c.date_missing and (as_of - c.date_missing).days > 365 * 5:
        out.append(Issue("song", "STALE_MISSING_PERSON", pid, "status", "missing for over 5 years"))
    return out


def _key(text: str | None) -> str:
    return name_key(text) if text else ""


def score_pair(a: _Rec, b: _Rec) -> tuple[float, tuple[str, ...]]:
    if a.sex != b.sex:
        return 0.0, ()
    score, ev = 0.0, []
    if normalize_name(a.full_name).casefold() == normalize_name(b.full_name).casefold():
        score, ev = 0.30, ["name"]
    elif a.name_ascii == b.name_ascii:
        score, ev = 0.25, ["name without diacritics"]
    else:
        ratio = SequenceMatcher(None, a.name_ascii, b.name_ascii).ratio()
        if ratio >= 0.85:
            score, ev = 0.22 * ratio, [f"similar name {ratio:.2f}"]
    (ya, ma, da), (yb, mb, db) = a.birth, b.birth
    if ya == yb:
        if (ma, da) == (mb, db) and ma is not None and da is not None:
            score += 0.25
            ev.append("birth date")
        elif (ma is None or mb is None or ma == mb) and (da is None or db is None or da == db):
            score += 0.15
            ev.append("compatible partial birth date")
    if a.mother and a.mother == b.mother:
        score += 0.15
        ev.append("mother")
    if a.father and a.father == b.father:
        score += 0.15
        ev.append("father")
    if a.origin and a.origin == b.origin:
        score += 0.20
        ev.append("place of origin")
    return round(min(score, 1.0), 3), tuple(ev)


def find_duplicates(recs: list[_Rec], threshold: float = DUPLICATE_THRESHOLD) -> list[DuplicateCandidate]:
    blocks: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, r in enumerate(recs):
        blocks[("n", r.name_ascii, r.birth[0])].append(i)
        if r.birth[1] is not None and r.birth[2] is not None:
            if r.mother:
                blocks[("m", r.birth, r.mother, r.sex)].append(i)
            if r.origin:
                blocks[("o", r.birth, r.origin, r.sex)].append(i)
    seen: set[tuple[int, int]] = set()
    out: list[DuplicateCandidate] = []
    for members in blocks.values():
        if len(members) < 2:
            continue
        members = members[:MAX_BLOCK]
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                pair = (i, j) if i < j else (j, i)
                if pair in seen:
                    continue
                seen.add(pair)
                s, ev = score_pair(recs[i], recs[j])
                if s >= threshold:
                    a, b = sorted((recs[i].personal_id, recs[j].personal_id))
                    out.append(DuplicateCandidate(a, b, s, ev))
    out.sort(key=lambda d: (-d.score, d.personal_id))
    return out


def quality_report(engine: Engine, *, as_of: dt.date | None = None, stale_years: int = 10,
                   duplicates: bool = True, threshold: float = DUPLICATE_THRESHOLD) -> QualityReport:
    """Scan every (unmerged) citizen once, streaming; then score duplicate candidates."""
    as_of = as_of or dt.date.today()
    started = time.monotonic()
    report = QualityReport()
    recs: list[_Rec] = []
    with Session(engine) as session:
        for c, father, mother, has_perm in _scan(session):
            report.scanned += 1
            report.issues.extend(check_record(c, has_perm, as_of=as_of, stale_years=stale_years))
            if duplicates:
                recs.append(_Rec(c.personal_id, c.full_name, name_key(c.full_name),
                                 (c.birth_year, c.birth_month, c.birth_day), c.sex, _key(father), _key(mother),
                                 _key(c.place_of_origin)))
    if duplicates:
        report.duplicates = find_duplicates(recs, threshold)
    report.seconds = time.monotonic() - started
    return report


def merge_duplicate(session: Session, keep: str, duplicate: str, *, actor: str, reason: str) -> Citizen:
    """Merge ``duplicate`` into ``keep``: fields missing on ``keep`` are filled from it (with history),
    ``duplicate`` is marked ``merged_into`` (never deleted: its ID stays allocated and traceable).

    Refused if the duplicate holds a valid card (revoke it first) or either record is already merged.
    """
    if keep == duplicate:
        raise ProcedureError("cannot merge a record into itself", reason="MERGE_SELF")
    kept = get_citizen(session, keep, for_update=True)
    dup = get_citizen(session, duplicate, for_update=True)
    if kept.merged_into or dup.merged_into:
        raise ProcedureError("record already merged", reason="ALREADY_MERGED", personal_id=mask_id(duplicate))
    if session.scalars(select(Card).where(Card.personal_id == duplicate, Card.status == "issued")).first():
        raise CardRegistryError("duplicate holds a valid card", reason="DUPLICATE_HAS_VALID_CARD",
                                personal_id=mask_id(duplicate))
    fill: dict[str, Any] = {}
    for fname in sorted(CITIZEN_FIELDS - {"birth_date", "sex", "full_name", "status", "household_id"}):
        if getattr(kept, fname) in (None, "") and getattr(dup, fname) not in (None, ""):
            value = getattr(dup, fname)
            fill[fname] = value.isoformat() if isinstance(value, dt.date) else value
    if fill:
        update_citizen(session, keep, fill, actor=actor, reason=f"merge of {duplicate}: {reason}",
                       procedure="MERGE")
    now = utcnow()
    dup.merged_into = keep
    dup.updated_at = now
    session.add_all([
        CitizenChange(personal_id=duplicate, changed_at=now, actor=actor, procedure="MERGE", reason=reason,
                      field="merged_into", old_value=None, new_value=keep),
        CitizenChange(personal_id=keep, changed_at=now, actor=actor, procedure="MERGE", reason=reason,
                      field="merged_from", old_value=None, new_value=duplicate),
    ])
    session.flush()
    return kept
