"""The routers of /api/v1, one module per resource."""

from __future__ import annotations

from fastapi import APIRouter

from station_api.api.routes import (
    applications,
    audit,
    auth,
    cards,
    citizens,
    health,
    jobs,
    operators,
    pki,
    receipts,
    verifications,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    operators.router,
    citizens.router,
    cards.router,
    applications.router,
    jobs.router,
    verifications.router,
    receipts.router,
    pki.router,
    audit.router,
]

__all__ = ["ROUTERS", "health"]
