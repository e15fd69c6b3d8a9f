"""The DC01 rule vectors (tests/vectors/population, provenance in its README) on SQLite and PostgreSQL."""

import csv
from pathlib import Path

import pytest

from population import citizen_view, intake, make_engine, session_scope

VECTORS = Path(__file__).parent / "vectors" / "population"


@pytest.fixture
def engine(migrated_db_url):
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


def test_dc01_rule_vectors(engine, tmp_path):
    with open(VECTORS / "dc01_rules.expected_rejects.csv", encoding="utf-8") as f:
        expected = [(int(r["line"]), r["reason"]) for r in csv.DictReader(f)]
    report = intake.import_dc01(
        engine, VECTORS / "dc01_rules.csv", actor="vectors", reject_path=tmp_path / "rejects.csv"
    )
    with open(tmp_path / "rejects.csv", encoding="utf-8") as f:
        got = [(int(r["line"]), r["reason"]) for r in csv.DictReader(f)]
    assert got == expected
    assert report.inserted == 18 - len(expected)
    with session_scope(engine) as s:
        specimen = citizen_view(s, "079090012345")  # VN_CARD.md MRZ specimen 1
        assert (specimen["full_name"], specimen["birth_date"], specimen["sex"]) == ("Nguyễn Văn An", "15/03/1990", "M")
        assert citizen_view(s, "001162004321")["old_cmnd"] == "012345678"
        assert citizen_view(s, "038045000001")["birth_date"] == "1945"
        assert citizen_view(s, "040151000002")["birth_date"] == "07/1951"
