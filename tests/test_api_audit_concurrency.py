"""Concurrent appends to the audit chain (threads, each its own connection) keep it dense and intact."""

from __future__ import annotations

import threading

from population.db import make_engine, session_scope
from station_api import audit


def test_concurrent_appends_keep_the_chain(migrated_db_url):
    engine = make_engine(migrated_db_url, **({} if migrated_db_url.startswith("sqlite") else {"pool_size": 8}))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with session_scope(engine) as s:
                    audit.append(s, actor=f"thread-{n}", action="test.append", outcome="done", details={"i": i})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with session_scope(engine) as s:
        result = audit.verify_audit_log(s)
    assert result.entries == 60 and result.head_seq == 60
    engine.dispose()
