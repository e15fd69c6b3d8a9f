"""station_api: the FastAPI service of enrollment stations, agency counters and PKI operators.

Public API (what other areas and operators use)::

    from station_api.main import create_app          # create_app(settings=None, *, engine=None,
                                                     #   trust_store_factory=None, receipt_signer_factory=None,
                                                     #   pki_factory=None) -> FastAPI
    from station_api.settings import ApiSettings     # pydantic-settings, CANCUOC_API_* (+ CANCUOC_HOME, ...)
    from station_api.receipts import verify_receipt  # verify_receipt(receipt, certificate) -> payload (raises)
    from station_api.audit import verify_audit_log   # verify_audit_log(session) -> AuditVerification (raises)

    cancuoc serve [--host H] [--port P] [--workers N] [--no-migrate] [--init-admin USERNAME]
    cancuoc audit verify [--json]

Layout (FastAPI bigger applications): ``main.py`` (factory, problem-details handlers, body limit,
metrics), ``api/deps.py`` (Annotated dependencies: session, caller, one alias per permission),
``api/routes/*.py`` (one ``APIRouter`` per resource under ``/api/v1``; ``/health``, ``/ready``,
``/metrics`` at the root), ``api/schemas.py`` (pydantic models with limits and examples),
``services/*.py`` (the domain operations the thin handlers call), ``roles.py`` (roles → permissions, as
data), ``security.py`` (scrypt passwords, HMAC bearer tokens, forwarded client certificates),
``audit.py`` (hash-chained audit log), ``receipts.py`` (signed verification receipts), ``pki_access.py``
(trust store, receipt key, PKI workspace), ``ratelimit.py``, ``metrics.py``, ``cli.py``.

Tables: ``population/models/station.py`` (migration ``station_api_0001``).
"""
