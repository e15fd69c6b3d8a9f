"""All tables of the project: importing this package registers every model module on ``Base.metadata``.

Each area may add its own module here (e.g. ``station.py``, ``issuance.py``); it is picked up
automatically, so Alembic's autogenerate and the schema test see it without edits to this file.
"""
from __future__ import annotations

import importlib
import pkgutil

from population.models.base import Base, TimestampMixin, utcnow
from population.models.cards import CARD_STATUSES, VALID_STATUSES, Card, CardEvent
from population.models.citizens import (
    Citizen,
    CitizenChange,
    FamilyLink,
    Household,
    PersonalIdAllocation,
    Province,
    Residence,
    UpdateRequest,
)
from population.models.intake import ImportJob, ImportReject, ImportStaging

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CARD_STATUSES",
    "VALID_STATUSES",
    "Base",
    "Card",
    "CardEvent",
    "Citizen",
    "CitizenChange",
    "FamilyLink",
    "Household",
    "ImportJob",
    "ImportReject",
    "ImportStaging",
    "PersonalIdAllocation",
    "Province",
    "Residence",
    "TimestampMixin",
    "UpdateRequest",
    "utcnow",
]
