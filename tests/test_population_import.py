"""DC01 import on SQLite and PostgreSQL: rejects with line and reason, nothing else lost, resumable after a
crash without duplicates, idempotent re-runs, JSON Lines, and hostile bytes never crash it."""

import csv
import io
import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from population import intake, make_engine, session_scope
from population.citizens import citizen_view
from population.models import Citizen, CitizenChange, FamilyLink, Household, ImportReject, Residence
from population.validation import DC01_COLUMNS


def row(i, **over):
    sex = "Nam" if i % 2 == 0 else "Nữ"
    pid = f"079{0 if sex == 'Nam' else 1}85{i:06d}"
    r = {
        "personal_id": pid,
        "full_name": f"Trần Thị Lan {chr(65 + i % 26)}" if sex == "Nữ" else "Lê Văn Hùng",
        "birth_date": f"{1 + i % 28:02d}/0{1 + i % 9}/1985",
        "sex": sex,
        "birth_registration_province": "079",
        "place_of_origin": "Xã Tân Phú, Huyện Đức Hòa, Long An",
        "ethnicity": "Kinh",
        "religion": "Không",
        "household_id": f"HH079{i // 3:05d}",
        "relation_to_head": "chủ hộ" if i % 3 == 0 else "con",
        "permanent_address": "12 Nguyễn Huệ, Quận 1, TP Hồ Chí Minh",
        "permanent_unit_code": "26734",
        "father_name": "Lê Văn Tám",
        "mother_name": "Phạm Thị Sáu",
        "phone": "0909123456",
    }
    r.update(over)
    return r


def write_csv(path, rows, extra_lines=()):
    buf = io.StringIO()
    intake.write_dc01_csv(rows, buf)
    text = buf.getvalue()
    lines = text.splitlines(keepends=True)
    for pos, raw in extra_lines:  # (insert before data row index, raw bytes)
        lines.insert(pos + 1, raw)
    with path.open("wb") as f:
        for ln in lines:
            f.write(ln.encode("utf-8") if isinstance(ln, str) else ln)
    return path


@pytest.fixture
def engine(migrated_db_url):
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


def count(engine, model):
    with session_scope(engine) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def test_malformed_rows_rejected_with_reason_nothing_else_lost(engine, tmp_path):
    good = [row(i) for i in range(12)]
    good[5] = row(5, birth_date="1985")  # year-only birth date is legitimate
    good[6] = row(6, birth_date="03/1985")  # year-month too
    bad = [
        row(100, personal_id="07908500010"),  # 11 digits
        row(101, sex="Nam"),  # ID says female
        row(102, birth_date="31/02/1985"),
        row(103, personal_id="999085000103"),  # unknown province
        row(104, full_name="   "),
        row(105, permanent_unit_code="ABCDE"),
        row(106, birth_date="1986"),  # ID says 85
        row(1, full_name="Lê Văn Khác"),  # same ID as good[1], different data: in-file duplicate
    ]
    path = write_csv(
        tmp_path / "dc01.csv",
        good + bad,
        extra_lines=[(3, 'a,"broken,quote\n'), (4, b"\xff\xfe not utf8\n"), (5, "only,three,fields\n")],
    )
    report = intake.import_dc01(engine, path, actor="importer", reject_path=tmp_path / "rej.csv", chunk_rows=4)
    assert report.inserted == 12 and report.rejected == 11, report
    with open(tmp_path / "rej.csv", encoding="utf-8") as f:
        rejects = [(int(r["line"]), r["reason"]) for r in csv.DictReader(f)]
    # header = line 1; data rows 0..2 = lines 2..4, then the 3 raw lines at 5..7, the rest shift by 3
    expected = [(5, "MALFORMED_ROW"), (6, "MALFORMED_ROW"), (7, "MALFORMED_ROW")] + [
        (2 + 3 + 12 + k, reason)
        for k, reason in enumerate(
            [
                "BAD_PERSONAL_ID",
                "ID_SEX_CONFLICT",
                "BAD_BIRTH_DATE",
                "BAD_PERSONAL_ID",
                "MISSING_FIELD",
                "BAD_UNIT_CODE",
                "ID_BIRTH_YEAR_CONFLICT",
                "EXISTS_DIFFERENT",
            ]
        )
    ]
    assert rejects == expected
    assert count(engine, Citizen) == 12
    assert count(engine, Residence) == 12 and count(engine, FamilyLink) == 24
    assert count(engine, Household) == 4 and count(engine, CitizenChange) == 12
    with session_scope(engine) as s:
        v = citizen_view(s, good[5]["personal_id"])
        assert v["birth_date"] == "1985" and v["household"]["relation_to_head"] == "con"
        assert citizen_view(s, good[6]["personal_id"])["birth_date"] == "03/1985"
        head = s.get(Household, "HH07900000")
        assert head.head_personal_id == good[0]["personal_id"]


def test_killed_import_resumes_without_duplicates(engine, tmp_path, monkeypatch):
    rows = [row(i) for i in range(50)]
    rows[7] = row(7, personal_id="bad")
    path = write_csv(tmp_path / "dc01.csv", rows)
    real = intake._merge_chunk
    calls = {"n": 0}

    def crashing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            real(*a, **kw)  # half the work done inside the transaction ...
            raise KeyboardInterrupt("kill -9")  # ... then the process dies before commit
        return real(*a, **kw)

    monkeypatch.setattr(intake, "_merge_chunk", crashing)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        intake.import_dc01(engine, path, actor="importer", chunk_rows=10, progress=seen.append)
    assert [p.lines_done for p in seen] == [11, 21]
    assert seen[-1].rate > 0 and 0 < seen[-1].fraction < 1
    assert count(engine, Citizen) == 19  # two chunks committed (one reject among them), nothing of the third
    monkeypatch.setattr(intake, "_merge_chunk", real)
    report = intake.import_dc01(engine, path, actor="importer", chunk_rows=10)
    assert report.status == "completed" and report.resumed_from_line == 21
    assert (report.inserted, report.rejected) == (49, 1)
    assert count(engine, Citizen) == 49 and count(engine, CitizenChange) == 49
    assert count(engine, ImportReject) == 1
    again = intake.import_dc01(engine, path, actor="importer")
    assert again.status == "already-imported" and count(engine, Citizen) == 49


def test_overlapping_file_and_jsonl(engine, tmp_path):
    rows = [row(i) for i in range(6)]
    intake.import_dc01(engine, write_csv(tmp_path / "a.csv", rows), actor="importer")
    lines = [json.dumps(r, ensure_ascii=False) for r in rows[:3]]  # identical → unchanged
    lines.append(json.dumps(row(3, religion="Phật giáo"), ensure_ascii=False))  # changed → rejected
    lines += [json.dumps(row(i), ensure_ascii=False) for i in range(6, 9)]  # new
    lines += ["{not json", "[]", json.dumps({"personal_id": {"nested": 1}}), ""]
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = intake.import_dc01(engine, tmp_path / "b.jsonl", actor="importer")
    assert (report.inserted, report.unchanged, report.rejected) == (3, 3, 4), report
    assert report.reject_reasons == {"EXISTS_DIFFERENT": 1, "MALFORMED_ROW": 3}
    assert count(engine, Citizen) == 9


def test_bad_header_is_an_import_failure(engine, tmp_path):
    (tmp_path / "x.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(intake.ImportFailure) as exc:
        intake.import_dc01(engine, tmp_path / "x.csv", actor="importer")
    assert exc.value.reason == "BAD_HEADER"


@pytest.fixture
def fuzz_engine(tmp_path):
    """One migrated SQLite database for all hypothesis examples (each example is a new file/job)."""
    from population import upgrade_database

    eng = make_engine(f"sqlite:///{tmp_path / 'fuzz.sqlite3'}")
    upgrade_database(eng)
    yield eng
    eng.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300).filter(lambda b: b"\n" not in b and b"\r" not in b), min_size=1, max_size=8))
def test_hostile_lines_never_crash(fuzz_engine, tmp_path_factory, blobs):
    """Arbitrary bytes after a valid header: every non-blank line is imported or rejected, nothing raises."""
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_bytes((",".join(DC01_COLUMNS) + "\n").encode() + b"\n".join(blobs) + b"\n")
    report = intake.import_dc01(fuzz_engine, path, actor="fuzz")
    nonblank = sum(1 for b in blobs if b.strip())
    assert report.inserted + report.rejected + report.unchanged == nonblank
