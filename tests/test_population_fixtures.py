"""The shared workspace and database fixtures do what they promise."""
import os

import sqlalchemy as sa

from cancuoc.settings import get_settings


def test_workspace_is_private_home(workspace):
    assert os.environ["CANCUOC_HOME"] == str(workspace)
    settings = get_settings()
    assert settings.home == workspace
    assert settings.effective_database_url.startswith("sqlite:///")
    assert str(workspace) in settings.effective_database_url


def test_db_url_is_empty_and_usable(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            assert sa.inspect(conn).get_table_names() == []
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT x FROM t")).scalar_one() == 1
    finally:
        engine.dispose()
