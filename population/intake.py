"""DC01 bulk import (CSV or JSON Lines): streamed in chunks, validated, staged (PostgreSQL ``COPY``,
SQLite ``INSERT``), merged into citizens/households/residences/family links with history.

Guarantees (each chunk is one transaction that also moves the job's checkpoint):

* every malformed or invalid row is written to ``import_rejects`` (and the reject file) with its line
  number and a stable reason code; no other row is affected by it;
* a crash at any point leaves the database as after the last committed chunk; running the same
  command again resumes after that chunk (the job is found by the file's SHA-256);
* re-running a finished import changes nothing; a row already present with identical data is counted
  as ``unchanged``, one present with different data is rejected ``EXISTS_DIFFERENT`` (corrections are
  DC02's job, not DC01's).

Decision: one record per physical line (RFC 4180 quoting, no line breaks inside fields): a record
with a broken quote is rejected alone instead of swallowing the rows after it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from population.db import copy_rows, is_postgresql
from population.errors import ImportFailure, InvalidRecord
from population.models import Citizen, ImportJob, ImportReject, ImportStaging, utcnow
from population.validation import (
    DC01_COLUMNS,
    DC01_REQUIRED,
    DUPLICATE_IN_FILE,
    EXISTS_DIFFERENT,
    MALFORMED_ROW,
    spreadsheet_safe,
    validate_dc01,
)

DEFAULT_CHUNK_ROWS = 10_000
MAX_LINE_BYTES = 64 * 1024

#: Columns of ``citizens`` filled from a DC01 row (compared to decide "unchanged" vs "different").
CITIZEN_COLUMNS: tuple[str, ...] = (
    "full_name", "name_key", "other_name", "birth_year", "birth_month", "birth_day", "sex",
    "birth_registration_place", "birth_registration_province", "place_of_birth", "place_of_origin",
    "origin_province", "ethnicity", "religion", "nationality", "marital_status", "blood_type", "old_cmnd",
    "phone", "email", "status", "date_of_death", "household_id", "relation_to_head",
)
STAGING_COLUMNS: tuple[str, ...] = tuple(c.name for c in ImportStaging.__table__.columns)
HEAD_RELATIONS = ("chủ hộ", "chu ho", "head")


@dataclass
class ImportProgress:
    job_id: int
    lines_done: int
    bytes_done: int
    total_bytes: int
    inserted: int
    unchanged: int
    rejected: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Validated rows per second in this run."""
        return (self.inserted + self.unchanged + self.rejected) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.total_bytes if self.total_bytes else 1.0


@dataclass
class ImportReport:
    job_id: int
    source: str
    format: str
    status: str  # completed | already-imported
    resumed_from_line: int
    lines: int
    inserted: int
    unchanged: int
    rejected: int
    seconds: float
    rows_per_second: float
    reject_file: str | None
    ignored_columns: list[str] = field(default_factory=list)
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("csv", "jsonl"):
            raise ImportFailure(f"unknown format {fmt}", reason="UNKNOWN_FORMAT")
        return fmt
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def _read_header(f: BinaryIO) -> tuple[list[str], int]:
    raw = f.readline(MAX_LINE_BYTES + 1)
    try:
        line = raw.decode("utf-8-sig").rstrip("\r\n")
        header = next(csv.reader([line]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        raise ImportFailure("CSV header unreadable", reason="BAD_HEADER") from None
    header = [h.strip() for h in header]
    missing = [c for c in DC01_REQUIRED if c not in header]
    if missing or len(set(header)) != len(header):
        raise ImportFailure(f"CSV header lacks {missing} or repeats a column", reason="BAD_HEADER",
                            missing=",".join(missing))
    return header, len(raw)


def _iter_lines(f: BinaryIO, offset: int, first_line_no: int) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset after the line, raw bytes without EOL) from ``offset`` on."""
    f.seek(offset)
    line_no = first_line_no
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            rest = f.readline()  # skip the remainder of an overlong line
            while rest and not rest.endswith(b"\n"):
                rest = f.readline()
            offset = f.tell()
            yield line_no, offset, b"\x00OVERLONG"
        else:
            offset += len(raw)
            yield line_no, offset, raw.rstrip(b"\r\n")
        line_no += 1


def _parse_line(fmt: str, header: list[str], raw: bytes) -> dict[str, Any]:
    """Raw line → field dict; InvalidRecord(MALFORMED_ROW) on broken encoding, quoting, shape."""
    if raw == b"\x00OVERLONG":
        raise InvalidRecord(f"line longer than {MAX_LINE_BYTES} bytes", reason=MALFORMED_ROW)
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRecord("not UTF-8", reason=MALFORMED_ROW) from None
    if "\x00" in line:
        raise InvalidRecord("NUL byte", reason=MALFORMED_ROW)
    if fmt == "jsonl":
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: a deeply nested row
            raise InvalidRecord("not JSON", reason=MALFORMED_ROW) from None
        if not isinstance(data, dict) or any(isinstance(v, (dict, list)) for v in data.values()):
            raise InvalidRecord("not a flat JSON object", reason=MALFORMED_ROW)
        return {k: (None if v is None else str(v)) for k, v in data.items()}
    if line.count('"') % 2:
        raise InvalidRecord("unbalanced quote", reason=MALFORMED_ROW)
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise InvalidRecord(f"CSV: {exc}", reason=MALFORMED_ROW) from None
    if len(rows) != 1 or len(rows[0]) != len(header):
        got = len(rows[0]) if rows else 0
        raise InvalidRecord(f"{got} fields, header has {len(header)}", reason=MALFORMED_ROW)
    return dict(zip(header, rows[0], strict=True))


def _fingerprint(values: dict[str, Any]) -> str:
    canon = json.dumps([None if values.get(c) is None else str(values.get(c)) for c in CITIZEN_COLUMNS],
                       ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


# Identifiers interpolated below are module constants (column tuples, fixed kinds): no input reaches SQL text.
_MERGE_SQL = [
    # households first (citizens reference them); head = the member declared "chủ hộ"
    """INSERT INTO households (household_id, head_personal_id, address, unit_code, province_code,
                               created_at, updated_at)
       SELECT s.household_id,
              MAX(CASE WHEN lower(s.relation_to_head) IN ('chủ hộ', 'chu ho', 'head') THEN s.personal_id END),
              MAX(s.permanent_address), MAX(s.permanent_unit_code), NULL, :now, :now
       FROM import_staging s
       WHERE s.job_id = :job AND s.line_no BETWEEN :lo AND :hi AND s.household_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM households h WHERE h.household_id = s.household_id)
       GROUP BY s.household_id""",
    f"""INSERT INTO citizens (personal_id, {", ".join(CITIZEN_COLUMNS)}, merged_into, last_verified_at,
                              version, created_at, updated_at)
        SELECT personal_id, {", ".join(CITIZEN_COLUMNS)}, NULL, :now, 1, :now, :now
        FROM import_staging WHERE job_id = :job AND line_no BETWEEN :lo AND :hi""",  # noqa: S608
    *[f"""INSERT INTO residences (personal_id, kind, address, unit_code, province_code, since)
          SELECT personal_id, '{kind}', {kind}_address, {kind}_unit_code, NULL, NULL
          FROM import_staging
          WHERE job_id = :job AND line_no BETWEEN :lo AND :hi AND {kind}_address IS NOT NULL"""  # noqa: S608
      for kind in ("permanent", "temporary", "current")],
    *[f"""INSERT INTO family_links (personal_id, relation, name, related_personal_id, nationality)
          SELECT personal_id, '{rel}', {rel}_name, {rel}_id, NULL
          FROM import_staging
          WHERE job_id = :job AND line_no BETWEEN :lo AND :hi
            AND ({rel}_name IS NOT NULL OR {rel}_id IS NOT NULL)"""  # noqa: S608
      for rel in ("father", "mother", "spouse", "representative")],
    """INSERT INTO citizen_changes (personal_id, changed_at, actor, procedure, reason, field, old_value,
                                    new_value, request_id)
       SELECT personal_id, :now, :actor, 'DC01', :reason, 'record', NULL, 'created', NULL
       FROM import_staging WHERE job_id = :job AND line_no BETWEEN :lo AND :hi""",
    "DELETE FROM import_staging WHERE job_id = :job AND line_no BETWEEN :lo AND :hi",
]


def _merge_chunk(session: Session, job: ImportJob, staged: list[dict[str, Any]], actor: str) -> tuple[
        int, int, list[tuple[int, str, str]]]:
    """Stage validated rows, drop those already present, insert the rest. Returns (inserted, unchanged,
    rejects as (line, reason, detail))."""
    rejects: list[tuple[int, str, str]] = []
    if not staged:
        return 0, 0, rejects
    for row in staged:
        row["job_id"] = job.id
    if is_postgresql(session):
        copy_rows(session, "import_staging", STAGING_COLUMNS,
                   [tuple(r[c] for c in STAGING_COLUMNS) for r in staged])
    else:
        session.execute(insert(ImportStaging), staged)
    # Rows whose personal ID is already in the database: keyed lookup by the chunk's IDs.
    existing: dict[str, str] = {}
    ids = [r["personal_id"] for r in staged]
    cols = [getattr(Citizen, c) for c in CITIZEN_COLUMNS]
    for i in range(0, len(ids), 1000):
        for rec in session.execute(select(Citizen.personal_id, *cols)
                                   .where(Citizen.personal_id.in_(ids[i:i + 1000]))):
            existing[rec[0]] = _fingerprint(dict(zip(CITIZEN_COLUMNS, rec[1:], strict=True)))
    unchanged = 0
    drop: list[int] = []
    for row in staged:
        fp = existing.get(row["personal_id"])
        if fp is None:
            continue
        drop.append(row["line_no"])
        if fp == row["fingerprint"]:
            unchanged += 1
        else:
            rejects.append((row["line_no"], EXISTS_DIFFERENT, "personal_id already holds different data"))
    if drop:
        stmt = delete(ImportStaging).where(ImportStaging.job_id == job.id,
                                           ImportStaging.line_no.in_(bindparam("lines", expanding=True)))
        for i in range(0, len(drop), 1000):
            session.execute(stmt, {"lines": drop[i:i + 1000]})
    # Every staging statement is bounded to this chunk's line range: the deleted rows of earlier chunks
    # stay in the index as dead entries until vacuum, and a bare "job_id = :job" would walk them all
    # (quadratic slow-down on a long import).
    lines = [r["line_no"] for r in staged]
    params = {"job": job.id, "now": utcnow(), "actor": actor, "reason": f"DC01 import job {job.id}",
              "lo": min(lines), "hi": max(lines)}
    for sql in _MERGE_SQL:
        session.execute(text(sql), params)
    return len(staged) - len(drop), unchanged, rejects


def import_dc01(engine: Engine, path: str | Path, *, actor: str, fmt: str | None = None,
                reject_path: str | Path | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                progress: Callable[[ImportProgress], None] | None = None) -> ImportReport:
    """Import (or resume, or confirm) one DC01 file. See the module docstring for the guarantees."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailure(f"no such file: {path}", reason="NO_SOURCE")
    fmt = detect_format(path, fmt)
    digest = _sha256_file(path)
    total = path.stat().st_size
    with Session(engine, expire_on_commit=False) as session, session.begin():
        job = session.scalars(select(ImportJob).where(ImportJob.source_sha256 == digest)).one_or_none()
        if job is None:
            job = ImportJob(source_name=str(path), source_sha256=digest, format=fmt, status="running",
                            actor=actor, started_at=utcnow(), updated_at=utcnow())
            session.add(job)
            session.flush()
        job_id, start_line, start_offset, status = job.id, job.lines_done, job.byte_offset, job.status
    started = time.monotonic()
    if status == "completed":
        return _report(engine, job_id, path, fmt, "already-imported", start_line, started, reject_path, [])

    with path.open("rb") as f:
        header: list[str] = list(DC01_COLUMNS)
        ignored: list[str] = []
        first_line_no = 1
        if fmt == "csv":
            header, header_len = _read_header(f)
            ignored = [h for h in header if h not in DC01_COLUMNS]
            first_line_no = 2
            if start_offset == 0:
                start_offset, start_line = header_len, 1
        offset, line_no = start_offset, start_line
        lines = _iter_lines(f, start_offset, max(first_line_no, start_line + 1))
        run = {"inserted": 0, "unchanged": 0, "rejected": 0}
        while True:
            chunk = []
            for item in lines:
                chunk.append(item)
                if len(chunk) >= chunk_rows:
                    break
            if not chunk:
                break
            line_no, offset = chunk[-1][0], chunk[-1][1]
            _process_chunk(engine, job_id, fmt, header, chunk, actor, expected_offset=start_offset,
                           new_offset=offset, run=run)
            start_offset = offset
            if progress is not None:
                progress(ImportProgress(job_id, line_no, offset, total, run["inserted"], run["unchanged"],
                                        run["rejected"], time.monotonic() - started))
    with Session(engine) as session, session.begin():
        job = session.get(ImportJob, job_id, with_for_update=True)
        job.status = "completed"
        job.finished_at = utcnow()
    return _report(engine, job_id, path, fmt, "completed", start_line, started, reject_path, ignored)


def _process_chunk(engine: Engine, job_id: int, fmt: str, header: list[str],
                   chunk: list[tuple[int, int, bytes]], actor: str, *, expected_offset: int,
                   new_offset: int, run: dict[str, int]) -> None:
    rejects: list[tuple[int, str, str, str | None]] = []
    staged: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    repeats = 0
    for line_no, _end, raw in chunk:
        if not raw.strip():
            continue  # blank lines are not records
        try:
            values = validate_dc01(_parse_line(fmt, header, raw))
        except InvalidRecord as exc:
            detail = str(exc)
            rejects.append((line_no, exc.reason, detail, raw.decode("utf-8", "replace")[:2000]))
            continue
        values["line_no"] = line_no
        values["fingerprint"] = _fingerprint(values)
        prior = seen.get(values["personal_id"])
        if prior is not None:
            if prior != values["fingerprint"]:
                rejects.append((line_no, DUPLICATE_IN_FILE, "personal_id repeated with different data",
                                raw.decode("utf-8", "replace")[:2000]))
            else:
                repeats += 1  # an identical repeat is idempotent: counted as unchanged
            continue
        seen[values["personal_id"]] = values["fingerprint"]
        staged.append(values)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        job = session.scalars(select(ImportJob).where(ImportJob.id == job_id).with_for_update()).one()
        if job.byte_offset not in (expected_offset, 0) or job.status == "completed":
            raise ImportFailure(f"import job {job_id} moved on (another run?)", reason="JOB_MOVED",
                                job_id=job_id)
        inserted, unchanged, merge_rejects = _merge_chunk(session, job, staged, actor)
        unchanged += repeats
        raw_by_line = {ln: raw for ln, _e, raw in chunk}
        rejects += [(ln, reason, detail, raw_by_line[ln].decode("utf-8", "replace")[:2000])
                    for ln, reason, detail in merge_rejects]
        if rejects:
            session.execute(insert(ImportReject), [
                {"job_id": job_id, "line_no": ln, "reason": reason, "detail": detail[:500], "raw": raw}
                for ln, reason, detail, raw in rejects])
        job.lines_done = chunk[-1][0]
        job.byte_offset = new_offset
        job.rows_inserted += inserted
        job.rows_unchanged += unchanged
        job.rows_rejected += len(rejects)
        job.status = "running"
        job.updated_at = utcnow()
    run["inserted"] += inserted
    run["unchanged"] += unchanged
    run["rejected"] += len(rejects)


def write_reject_file(engine: Engine, job_id: int, target: str | Path) -> Path:
    """All rejects of a job as CSV (line, reason, detail, raw), ordered by line number."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with Session(engine) as session, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "reason", "detail", "raw"])
        for rej in session.scalars(select(ImportReject).where(ImportReject.job_id == job_id)
                                   .order_by(ImportReject.line_no)).yield_per(5000):
            writer.writerow([rej.line_no, rej.reason, spreadsheet_safe(rej.detail), spreadsheet_safe(rej.raw)])
    return target


def _report(engine: Engine, job_id: int, path: Path, fmt: str, status: str, resumed_from: int,
            started: float, reject_path: str | Path | None, ignored: list[str]) -> ImportReport:
    with Session(engine) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        reasons = dict(session.execute(select(ImportReject.reason, text("count(*)"))
                                       .where(ImportReject.job_id == job_id)
                                       .group_by(ImportReject.reason)).all())
        counts = (job.lines_done, job.rows_inserted, job.rows_unchanged, job.rows_rejected)
    reject_file = None
    if reject_path is not None:
        reject_file = str(write_reject_file(engine, job_id, reject_path))
    seconds = time.monotonic() - started
    processed = counts[1] + counts[2] + counts[3] if status == "completed" else 0
    return ImportReport(job_id=job_id, source=str(path), format=fmt, status=status,
                        resumed_from_line=resumed_from, lines=counts[0], inserted=counts[1],
                        unchanged=counts[2], rejected=counts[3], seconds=round(seconds, 3),
                        rows_per_second=round(processed / seconds, 1) if seconds else 0.0,
                        reject_file=reject_file, ignored_columns=ignored, reject_reasons=reasons)


def write_dc01_csv(rows: list[dict[str, Any]], target: io.TextIOBase | Any) -> None:
    """Write DC01 rows (dicts keyed by DC01_COLUMNS) as CSV with the header: for exports and tests."""
    writer = csv.DictWriter(target, fieldnames=list(DC01_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in DC01_COLUMNS})


