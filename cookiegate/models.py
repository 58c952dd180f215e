"""Imports every model so that metadata (and Alembic) sees all tables."""
from cookiegate.ledger.models import (Checkpoint, ConsentEvent, EventPersonal, LogEntry,  # noqa: F401
                                      MerkleNode, PendingEvent)
from cookiegate.sites.models import Category, CookieDeclaration, Notice, Site  # noqa: F401
