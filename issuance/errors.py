"""Errors of the issuance layer: one base class with a stable reason code and structured fields."""
from __future__ import annotations

from typing import Any


class IssuanceError(Exception):
    """Base of every issuance error. ``reason`` is a stable machine code; messages carry no secrets
    (no MRZ, CAN, keys): personal IDs appear masked, card numbers in clear."""

    reason: str = "ISSUANCE_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": str(self), **{k: str(v) for k, v in self.fields.items()}}


class ApplicationError(IssuanceError):
    """An application step is not allowed (wrong state, four eyes, eligibility)."""

    reason = "APPLICATION_ERROR"


class CompositionError(IssuanceError):
    """The citizen record cannot be turned into card files (missing or invalid data)."""

    reason = "COMPOSITION_ERROR"


class PersonalizationFailed(IssuanceError):
    """Personalization or read-back failed: the card is spoiled, the application is back in the queue."""

    reason = "PERSONALIZATION_FAILED"
