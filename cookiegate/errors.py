"""The exceptions services raise; views map them to form errors or the JSON error shape."""
from __future__ import annotations


class CookiegateError(Exception):
    """Base of every service error: a machine code, a readable message, per-field messages."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "fields": self.fields}


class ValidationError(CookiegateError):
    code = "invalid"
    status = 422


class NotFound(CookiegateError):
    code = "not_found"
    status = 404


class Conflict(CookiegateError):
    code = "conflict"
    status = 409


class LedgerIntegrityError(CookiegateError):
    """The log does not verify: names the first bad entry."""

    code = "ledger_integrity"
    status = 500
