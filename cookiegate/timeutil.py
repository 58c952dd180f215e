"""UTC time helpers: every stored time is naive UTC, every shown time is ISO 8601 with Z."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current UTC time, naive, at microsecond precision (what both backends store)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    """Render a naive UTC time as RFC 3339 with microseconds and a Z."""
    if moment.tzinfo is None and moment.year >= 1000:  # then isoformat gives the same, much faster
        return moment.isoformat(timespec="microseconds") + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
