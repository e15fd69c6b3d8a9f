"""Citizens on SQLite and PostgreSQL: lookups, history, optimistic locking, DC02 four eyes, birth feed."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from population import make_engine, session_scope
from population.births import BirthRecord, read_birth_feed, register_birth
from population.citizens import citizen_history, citizen_view, get_citizen, modify_citizen, update_citizen
from population.errors import ConcurrentUpdate, InvalidRecord, ProcedureError
from population.ids import decode_personal_id, name_key
from population.models import Citizen, PersonalIdAllocation
from population.procedures import approve_update, reject_update, submit_update
from population.testing import make_citizen


@pytest.fixture
def engine(migrated_db_url):
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pid(engine):
    with session_scope(engine) as s:
        return make_citizen(s, birth_month=None, birth_day=None).personal_id  # year-only birth date


def test_view_and_update_with_history(engine, pid):
    with session_scope(engine) as s:
        view = citizen_view(s, pid)
        assert view["birth_date"] == "1990" and view["residences"]["permanent"]["unit_code"] == "00001"
        assert view["family"]["mother"]["name"] == "Trần Thị Cúc"
        update_citizen(
            s,
            pid,
            {
                "full_name": "Nguyễn  Văn   Ân",
                "birth_date": "03/1990",
                "phone": "0912 345 678",
                "current_address": "5 Lê Lợi, Huế",
                "spouse_name": "Lê Thị Hoa",
            },
            actor="op1",
            reason="DC02 correction per birth certificate",
        )
    with session_scope(engine) as s:
        c = get_citizen(s, pid)
        assert (c.full_name, c.name_key, c.birth_month, c.phone) == (
            "Nguyễn Văn Ân",
            "NGUYEN VAN AN",
            3,
            "0912345678",
        )
        assert c.version == 2
        hist = {h.field: (h.old_value, h.new_value, h.actor) for h in citizen_history(s, pid)}
        assert hist["full_name"] == ("Nguyễn Văn An", "Nguyễn Văn Ân", "op1")
        assert hist["birth_date"] == ("1990", "03/1990", "op1")
        assert hist["current_address"] == (None, "5 Lê Lợi, Huế", "op1")
        assert citizen_view(s, pid)["family"]["spouse"]["name"] == "Lê Thị Hoa"


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"sex": "Nữ"}, "ID_SEX_CONFLICT"),
        ({"birth_date": "1991"}, "ID_BIRTH_YEAR_CONFLICT"),
        ({"phone": "12345"}, "BAD_PHONE"),
        ({"permanent_unit_code": "12"}, "BAD_UNIT_CODE"),
        ({"status": "dead"}, "MISSING_FIELD"),
        ({"personal_id": "001090000001"}, "UNKNOWN_FIELD"),
    ],
)
def test_invalid_updates_change_nothing(engine, pid, changes, reason):
    with pytest.raises(InvalidRecord) as exc, session_scope(engine) as s:
        update_citizen(s, pid, changes, actor="op1", reason="r")
    assert exc.value.reason == reason
    with session_scope(engine) as s:
        assert get_citizen(s, pid).version == 1 and citizen_history(s, pid) == []


def test_optimistic_lock_stale_version(engine, pid):
    with session_scope(engine) as s:
        seen = get_citizen(s, pid).version
    with session_scope(engine) as s:
        update_citizen(s, pid, {"religion": "Phật giáo"}, actor="a", reason="r", expected_version=seen)
    with pytest.raises(ConcurrentUpdate), session_scope(engine) as s:
        update_citizen(s, pid, {"religion": "Công giáo"}, actor="b", reason="r", expected_version=seen)
    # code that bypasses update_citizen is still caught by the version column
    s1, s2 = sa.orm.Session(engine, expire_on_commit=False), sa.orm.Session(engine)
    try:
        c1 = s1.get(Citizen, pid)
        s1.commit()
        c2 = s2.get(Citizen, pid)
        c2.ethnicity = "Tày"
        s2.commit()
        c1.ethnicity = "Mường"
        with pytest.raises(sa.orm.exc.StaleDataError):
            s1.commit()
    finally:
        s1.close()
        s2.close()


def test_concurrent_read_modify_write_loses_nothing(engine, pid):
    threads, per_thread = 6, 4
    errors = []

    def worker(t):
        try:
            for i in range(per_thread):
                modify_citizen(
                    engine,
                    pid,
                    lambda c, t=t, i=i: {
                        "identifying_features": ((c.identifying_features or "") + f" t{t}i{i}").strip()
                    },
                    actor=f"op{t}",
                    reason="concurrency test",
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    with session_scope(engine) as s:
        c = get_citizen(s, pid)
        marks = c.identifying_features.split()
        assert sorted(marks) == sorted(f"t{t}i{i}" for t in range(threads) for i in range(per_thread))
        assert c.version == 1 + threads * per_thread
        assert len(citizen_history(s, pid)) == threads * per_thread


def test_dc02_four_eyes(engine, pid):
    with session_scope(engine) as s:
        req = submit_update(
            s,
            pid,
            {"place_of_origin": "Xã Đông Hội, Đông Anh, Hà Nội"},
            reason="Giấy khai sinh bản chính",
            submitted_by="clerk",
        )
        rid = req.id
    with pytest.raises(ProcedureError) as exc, session_scope(engine) as s:
        approve_update(s, rid, approver="clerk")
    assert exc.value.reason == "FOUR_EYES"
    with session_scope(engine) as s:
        approve_update(s, rid, approver="chief", note="ok")
    with session_scope(engine) as s:
        assert get_citizen(s, pid).place_of_origin.startswith("Xã Đông Hội")
        (h,) = citizen_history(s, pid)
        assert (h.procedure, h.request_id, h.actor, h.reason) == (
            "DC02",
            rid,
            "chief",
            "Giấy khai sinh bản chính",
        )
        with pytest.raises(ProcedureError):
            reject_update(s, rid, approver="chief", note="late")
    with pytest.raises(InvalidRecord), session_scope(engine) as s:
        submit_update(s, pid, {"email": "not-an-email"}, reason="r", submitted_by="clerk")


def test_dc02_stale_request_refused(engine, pid):
    with session_scope(engine) as s:
        rid = submit_update(s, pid, {"religion": "Tin Lành"}, reason="r", submitted_by="clerk").id
        update_citizen(s, pid, {"religion": "Cao Đài"}, actor="other", reason="r")
    with pytest.raises(ConcurrentUpdate), session_scope(engine) as s:
        approve_update(s, rid, approver="chief")


def test_birth_feed_allocates_unique_ids(engine, pid):
    feed = [
        BirthRecord(
            registry_ref=f"KS-2025-{i}",
            full_name="Phạm Minh Khôi",
            birth_date=dt.date(2025, 5, 1),
            sex="Nam" if i % 2 else "Nữ",
            registration_province="079",
            mother_id=pid,
            mother_name="Nguyễn Thị Mai",
        ).to_dict()
        for i in range(20)
    ]
    import json

    lines = [json.dumps(r, ensure_ascii=False) for r in feed] + ["{broken", "[1]"]
    made, bad = [], []
    with session_scope(engine) as s:
        for line_no, rec in read_birth_feed(lines):
            if isinstance(rec, InvalidRecord):
                bad.append((line_no, rec.reason))
            else:
                made.append(register_birth(s, rec, actor="civil-registry").personal_id)
    assert bad == [(21, "MALFORMED_ROW"), (22, "MALFORMED_ROW")]
    assert len(set(made)) == 20
    for i, new_id in enumerate(made):
        d = decode_personal_id(new_id)
        assert d.province_code == "079" and d.birth_year_matches(2025) and d.sex == ("M" if i % 2 else "F")
    with session_scope(engine) as s:  # idempotent re-feed
        again = register_birth(s, BirthRecord.from_dict(feed[0]), actor="civil-registry")
        assert again.personal_id == made[0]
        assert s.scalar(sa.select(sa.func.count()).select_from(PersonalIdAllocation)) == 20
        assert citizen_view(s, made[0])["family"]["mother"]["personal_id"] == pid
    assert name_key("Đặng Thị Ánh") == "DANG THI ANH"
