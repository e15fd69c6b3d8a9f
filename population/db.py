"""Engines, sessions and schema upgrades (Alembic, programmatic) for PostgreSQL and SQLite."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, select
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def default_database_url() -> str:
    """``CANCUOC_DATABASE_URL``, else the SQLite file in the workspace (``cancuoc.settings``)."""
    from cancuoc.settings import get_settings

    settings = get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    return settings.effective_database_url


def _normalize_url(url: str) -> str:
    # Plain postgresql:// would pick psycopg2, which is not installed; psycopg 3 is the driver here.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class _NoRowEcho(logging.Filter):
    """Drops SQLAlchemy's DEBUG records (result rows: personal IDs, password hashes); statements pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_NO_ROW_ECHO = _NoRowEcho()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An Engine for ``url`` (default: :func:`default_database_url`).

    SQLite: foreign keys on, WAL journal, a busy timeout, and every transaction opened with
    ``BEGIN IMMEDIATE``. Decision: SQLite is the single-writer embedded default, so taking the write
    lock at BEGIN serializes writers cleanly instead of failing a read-then-write transaction with
    SQLITE_BUSY half-way; concurrency comes from PostgreSQL.
    """
    url = _normalize_url(url or default_database_url())
    parsed = make_url(url)
    # Decision: statement parameters are personal IDs (whose last 6 digits are the CAN) and password
    # hashes: never in SQL logs or DB error messages. Result rows are logged by SQLAlchemy at DEBUG, so the
    # engine logger is held at INFO or above (statements only) unless someone set its level on purpose.
    kwargs.setdefault("hide_parameters", True)
    engine_logger = logging.getLogger("sqlalchemy.engine")
    if engine_logger.level == logging.NOTSET:
        engine_logger.setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
    row_logger = logging.getLogger("sqlalchemy.engine.Engine")
    if _NO_ROW_ECHO not in row_logger.filters:  # holds even if someone lowers the level later
        row_logger.addFilter(_NO_ROW_ECHO)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def read_only_engine(engine: Engine) -> Engine:
    """The same pool without transaction bracketing, for single-statement lookups on PostgreSQL.

    A lookup by personal ID is one ``SELECT``: wrapping it in BEGIN … ROLLBACK costs two extra round
    trips. Never write through this engine. SQLite keeps its engine (its BEGIN IMMEDIATE serializes).
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def is_postgresql(bind: Engine | Session | Any) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def alembic_config(url: str | None = None) -> Any:
    """An Alembic ``Config`` pointing at the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", _normalize_url(url).replace("%", "%%"))
    return config


def upgrade_database(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """``alembic upgrade head`` from Python, then fill the reference tables (provinces)."""
    from alembic import command

    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        sync_reference_data(engine)
    finally:
        if not isinstance(url_or_engine, Engine):
            engine.dispose()


def sync_reference_data(engine: Engine) -> None:
    """Upsert the province reference table from ``icao9303.vn`` (the one home of the codes)."""
    from population.ids import province_names
    from population.models import Province

    names = province_names()
    with session_scope(engine) as session:
        existing = {p.code: p for p in session.scalars(select(Province))}
        for code, name in names.items():
            row = existing.get(code)
            if row is None:
                session.add(Province(code=code, name=name))
            elif row.name != name:
                row.name = name


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception (nothing half-written)."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if type(value) is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    if type(value) is int:
        return str(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray)):
        return "\\\\x" + bytes(value).hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL ``COPY table (columns) FROM STDIN`` (text format) on the session's connection, i.e. in
    the session's transaction. Values are escaped here (faster than per-value adaptation). ``table`` and
    ``columns`` must be trusted identifiers (model names), never input."""
    raw = session.connection().connection.driver_connection
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buf: list[str] = []
        for row in rows:
            buf.append("\t".join(map(_copy_value, row)))
            n += 1
            if len(buf) >= 2000:
                copy.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            copy.write("\n".join(buf) + "\n")
    return n
