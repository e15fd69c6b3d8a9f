"""Seeded population on SQLite and PostgreSQL: realistic shape, every planted error found, planted
duplicates found (recall), merge with history."""

import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa

from population import cards, make_engine, session_scope
from population.citizens import citizen_history, get_citizen
from population.errors import CardRegistryError
from population.ids import decode_personal_id
from population.models import Citizen, FamilyLink, Household
from population.quality import merge_duplicate, quality_report
from population.seed import PopulationGenerator, seed_population

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def engine(migrated_db_url):
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


def test_generator_is_realistic():
    gen = PopulationGenerator(3, today=TODAY, duplicate_rate=0, error_rate=0)
    people = [c for b in gen.batches(3000) for c in b.citizens]
    assert len(people) == 3000
    provinces = Counter(p["personal_id"][:3] for p in people)
    assert len(provinces) >= 55 and provinces.most_common(2)[0][0] in ("079", "001")
    for p in people:  # every ID consistent with its record when no error is planted
        d = decode_personal_id(p["personal_id"])
        assert d.birth_year_matches(p["birth_year"]) and d.sex == p["sex"]
    ages = [TODAY.year - p["birth_year"] for p in people]
    assert sum(a < 15 for a in ages) > 0.12 * len(ages) and sum(a >= 80 for a in ages) < 0.05 * len(ages)
    assert any(any(ch in p["full_name"] for ch in "ễằơưđĐ") for p in people)
    assert sum(p["birth_month"] is None for p in people) > 0  # some year-only birth dates
    assert Counter(p["sex"] for p in people)["F"] > 1200


def test_seed_quality_and_merge(engine):
    result = seed_population(engine, 2500, seed=11, duplicate_rate=0.03, error_rate=0.03)
    assert result.citizens == 2500 and result.households > 500
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Citizen)) == 2500
        assert s.scalar(sa.select(sa.func.count()).select_from(Household)) == result.households
        assert s.scalar(sa.select(sa.func.count()).select_from(FamilyLink)) > 2000
    report = quality_report(engine)
    assert report.scanned == 2500
    found_issues = {(i.personal_id, i.code) for i in report.issues}
    missed = [(p, k) for p, k in result.planted_error_ids if (p, k) not in found_issues]
    assert missed == [] and len(result.planted_error_ids) > 30
    planted = {tuple(sorted(p)) for p in result.planted_duplicates}
    found = {(d.personal_id, d.other_personal_id) for d in report.duplicates}
    recall = len(planted & found) / len(planted)
    precision = len(planted & found) / len(found)
    assert len(planted) > 20 and recall >= 0.85 and precision >= 0.85, (recall, precision)

    keep, dup = sorted(planted & found)[0]
    with session_scope(engine) as s:  # a duplicate holding a valid card cannot be merged
        cards.register_card(s, card_number="D1", personal_id=dup, firmware_profile="p", actor="a")
        cards.mark_issued(
            s,
            "D1",
            actor="a",
            issue_date=TODAY,
            expiry_date=None,
            ca_public_key_sha256=None,
            aa_public_key_sha256=None,
            sod_hash="00",
            sod_hash_algorithm="sha256",
            ds_certificate=b"x",
        )
    with pytest.raises(CardRegistryError), session_scope(engine) as s:
        merge_duplicate(s, keep, dup, actor="chief", reason="same person")
    with session_scope(engine) as s:
        cards.revoke_card(s, "D1", actor="a", reason="duplicate record")
        merge_duplicate(s, keep, dup, actor="chief", reason="same person, DC02 #1")
    with session_scope(engine) as s:
        assert get_citizen(s, dup).merged_into == keep
        assert [h.field for h in citizen_history(s, dup)][-1] == "merged_into"
        assert any(h.field == "merged_from" and h.new_value == dup for h in citizen_history(s, keep))
    after = quality_report(engine)
    assert after.scanned == 2499
    assert (keep, dup) not in {(d.personal_id, d.other_personal_id) for d in after.duplicates}
    assert "category,code" in after.to_csv() and '"scanned": 2499' in after.to_json(limit=2)
