"""Alembic environment of the Cancuoc schema: target metadata = ``population.models.Base.metadata``.

Run programmatically by :func:`population.db.upgrade_database` (a connection is passed in
``config.attributes["connection"]``), or from the command line::

    .venv/bin/alembic -c population/alembic.ini revision --autogenerate -m "station tables"

(the URL then comes from ``CANCUOC_DATABASE_URL`` / the workspace, see ``population.db``).
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from population.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER goes through batch mode
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from population.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
