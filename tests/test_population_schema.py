"""The Alembic history has one head and builds exactly the models' schema, on SQLite and PostgreSQL."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from population import db
from population.models import Base, Card


def test_single_head():
    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgrade_head_gives_models_schema(db_url):
    db.upgrade_database(db_url)
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], diff
            tables = set(sa.inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            # reference data filled from icao9303.vn
            assert conn.execute(sa.text("SELECT count(*) FROM provinces")).scalar_one() == 63
        # partial unique index exists on both backends (the registry relies on it)
        idx = {i["name"]: i for i in sa.inspect(engine).get_indexes(Card.__tablename__)}
        assert idx["uq_cards_one_valid_per_person"]["unique"]
        # upgrading again is a no-op
        db.upgrade_database(db_url)
    finally:
        engine.dispose()
