"""Operational endpoints: liveness, readiness (database reachable, trust store loaded), Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from station_api.api.deps import StateDep
from station_api.api.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: database reachable, trust store loaded",
    responses={503: {"model": Readiness, "description": "not ready"}},
)
def ready(state: StateDep, response: Response) -> Readiness:
    checks: dict[str, str] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # any driver error means "not reachable"; never echo it (it may hold the URL)
        checks["database"] = "unreachable"
    for name, probe in state.readiness_probes().items():
        checks[name] = probe()
    is_ready = all(value == "ok" for value in checks.values())
    if not is_ready:
        response.status_code = 503
    return Readiness(ready=is_ready, checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
