"""Card registry on SQLite and PostgreSQL: lifecycle, one valid card per person, atomic replacement."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from population import cards, make_engine, session_scope
from population.errors import CardRegistryError, NotFound
from population.models import Card
from population.testing import make_citizen

ISSUE = dict(
    issue_date=dt.date(2025, 1, 2),
    expiry_date=dt.date(2040, 3, 15),
    ca_public_key_sha256="ca" * 32,
    aa_public_key_sha256="aa" * 32,
    sod_hash="50" * 32,
    sod_hash_algorithm="sha256",
    ds_certificate=b"0\x82DS-certificate-DER",
)


@pytest.fixture
def engine(migrated_db_url):
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pid(engine):
    with session_scope(engine) as s:
        return make_citizen(s).personal_id


def _issue(engine, pid, number, replaces=None):
    with session_scope(engine) as s:
        cards.register_card(s, card_number=number, personal_id=pid, firmware_profile="vn-2024", actor="op1")
        return cards.mark_issued(s, number, actor="op1", replaces=replaces, **ISSUE)


def test_lifecycle_and_lookups(engine, pid):
    card = _issue(engine, pid, "C0001")
    assert card.status == "issued" and card.document_number == pid[3:]
    with session_scope(engine) as s:
        assert cards.valid_card(s, pid).card_number == "C0001"
        assert cards.valid_card(s, pid, as_of=dt.date(2041, 1, 1)) is None  # past expiry
        assert cards.find_card(s, "C0001").ds_certificate_sha256
        assert cards.find_card(s, "C0001", personal_id=pid).card_number == "C0001"
        assert cards.find_card(s, "C0001", personal_id="001090000000") is None
        assert [c.card_number for c in cards.cards_by_document_number(s, pid[3:])] == ["C0001"]
        cards.report_lost(s, "C0001", actor="op2", reason="citizen reported")
    with session_scope(engine) as s:
        assert cards.valid_card(s, pid) is None
        hist = cards.card_history(s, "C0001")
        assert [(e.from_status, e.to_status) for e in hist] == [
            (None, "personalized"),
            ("personalized", "issued"),
            ("issued", "lost"),
        ]
        with pytest.raises(CardRegistryError) as exc:
            cards.revoke_card(s, "C0001", actor="op2", reason="x")  # lost is final
        assert exc.value.reason == "INVALID_TRANSITION"
    with session_scope(engine) as s, pytest.raises(NotFound):
        cards.register_card(s, card_number="C9", personal_id="001090999999", firmware_profile="p", actor="a")


def test_replace_lost_card(engine, pid):
    _issue(engine, pid, "L1")
    with session_scope(engine) as s:
        cards.report_lost(s, "L1", actor="op", stolen=True, reason="bag stolen")
        cards.register_card(s, card_number="L2", personal_id=pid, firmware_profile="p", actor="op")
        new = cards.replace_card(s, "L1", "L2", actor="op", **ISSUE)
        assert new.status == "issued" and new.replaces_card_number == "L1"
    with session_scope(engine) as s:
        assert cards.find_card(s, "L1").status == "stolen"
        assert cards.valid_card(s, pid).card_number == "L2"


def test_second_valid_card_refused_and_spoiled(engine, pid):
    _issue(engine, pid, "C0001")
    with pytest.raises(CardRegistryError) as exc:
        _issue(engine, pid, "C0002")
    assert exc.value.reason == "VALID_CARD_EXISTS"
    with session_scope(engine) as s:  # nothing of the failed transaction remains
        assert cards.find_card(s, "C0002") is None
        cards.register_card(s, card_number="C0003", personal_id=pid, firmware_profile="p", actor="a")
        cards.mark_spoiled(s, "C0003", actor="a", reason="read-back failed: PA")
    with session_scope(engine) as s:
        assert cards.find_card(s, "C0003").status == "spoiled"
        assert cards.valid_card(s, pid).card_number == "C0001"


def test_database_enforces_one_issued_card(engine, pid):
    """Even code that bypasses the registry cannot store two issued cards for one person."""
    with session_scope(engine) as s:
        for n in ("X1", "X2"):
            s.add(
                Card(
                    card_number=n,
                    personal_id=pid,
                    document_number=pid[3:],
                    firmware_profile="p",
                    status="personalized",
                )
            )
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as s:
        s.execute(sa.update(Card).values(status="issued"))
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).where(Card.status == "issued")) == 0


def test_replacement_revokes_old_atomically(engine, pid):
    _issue(engine, pid, "C0001")
    new = _issue(engine, pid, "C0002", replaces="C0001")
    assert new.replaces_card_number == "C0001"
    with session_scope(engine) as s:
        old = cards.find_card(s, "C0001")
        assert old.status == "replaced" and old.replaced_by_card_number == "C0002"
        assert cards.valid_card(s, pid).card_number == "C0002"
    # a crash after the new card was flushed as issued and the old one as replaced: all rolled back
    with session_scope(engine) as s:
        cards.register_card(s, card_number="C0003", personal_id=pid, firmware_profile="p", actor="a")
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        cards.mark_issued(s, "C0003", actor="a", replaces="C0002", **ISSUE)
        assert cards.find_card(s, "C0002").status == "replaced"
        raise RuntimeError("station lost power before commit")
    with session_scope(engine) as s:
        assert cards.valid_card(s, pid).card_number == "C0002"
        assert cards.find_card(s, "C0003").status == "personalized"
        assert [e.to_status for e in cards.card_history(s, "C0002")] == ["personalized", "issued"]


def test_concurrent_issuance_only_one_wins(engine, pid):
    with session_scope(engine) as s:
        for n in ("R1", "R2", "R3", "R4"):
            cards.register_card(s, card_number=n, personal_id=pid, firmware_profile="p", actor="a")
    results = []
    barrier = threading.Barrier(4)

    def issue(n):
        barrier.wait()
        try:
            with session_scope(engine) as s:
                cards.mark_issued(s, n, actor="a", **ISSUE)
            results.append("ok")
        except CardRegistryError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=issue, args=(n,)) for n in ("R1", "R2", "R3", "R4")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["VALID_CARD_EXISTS"] * 3 + ["ok"]
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).where(Card.status == "issued")) == 1


def test_expire_and_fingerprint(engine, pid):
    _issue(engine, pid, "C0001")
    with session_scope(engine) as s:
        assert cards.expire_cards(s, dt.date(2040, 3, 16), actor="batch") == 1
    with session_scope(engine) as s:
        assert cards.find_card(s, "C0001").status == "expired"
    assert (
        cards.public_key_sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
