"""The exceptions services raise; views map them to form errors or the JSON error shape."""
from __future__ import annotations


class CookiegateError(Exception):
    """Base of every service error: a machine code, a readable message, per-field messages."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None):
        # Messages may be lazy translations: they render in the reader's language when shown.
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}  # e.g. Retry-After on a 429

    def describe(self) -> str:
        """One line for a terminal: the message and what is wrong with each field."""
        fields = "; ".join(f"{name}: {text}" for name, text in self.fields.items())
        return f"{self.message}{f' ({fields})' if fields else ''}"

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": str(self.message),
                "fields": {name: str(text) for name, text in self.fields.items()}}


class BadRequest(CookiegateError):
    """A request no page or client of ours sends as it is (unknown parameters, a form without
    its button)."""

    code = "bad_request"
    status = 400


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
