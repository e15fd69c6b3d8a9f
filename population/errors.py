"""Errors of the population layer: one base class, structured fields, stable reason codes."""
from __future__ import annotations

from typing import Any


class PopulationError(Exception):
    """Base of every population error. ``reason`` is a stable machine code; ``fields`` give context.

    Messages name the personal ID or card number involved (identifiers, not secrets) and never dump
    a whole record.
    """

    reason: str = "POPULATION_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": str(self), **{k: str(v) for k, v in self.fields.items()}}


class NotFound(PopulationError):
    reason = "NOT_FOUND"


class InvalidRecord(PopulationError):
    """A field value breaks a rule (format, cross-field consistency, mandatory field)."""

    reason = "INVALID_RECORD"


class ConcurrentUpdate(PopulationError):
    """The record changed since it was read (optimistic lock): re-read and retry."""

    reason = "CONCURRENT_UPDATE"


class ProcedureError(PopulationError):
    """A DC02 / birth / merge procedure step is not allowed (four eyes, wrong state, ...)."""

    reason = "PROCEDURE_ERROR"


class CardRegistryError(PopulationError):
    """A card registry transition is not allowed (wrong state, second valid card, ...)."""

    reason = "CARD_REGISTRY_ERROR"


class ImportFailure(PopulationError):
    """The import as a whole cannot proceed (unreadable file, unknown format, header missing)."""

    reason = "IMPORT_FAILURE"
