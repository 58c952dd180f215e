"""An account's own event log (AccountEvent): what happened, when, from where (minimised)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from cookiegate.accounts.models import Account, AccountEvent
from cookiegate.extensions import db
from cookiegate.ledger.record import Context
from cookiegate.privacy import truncate_ip, user_agent_family


def note(account: Account, kind: str, *, context: Context | None, now: datetime, **details: Any) -> None:
    """Add one event to the account's log, in the caller's transaction."""
    context = context or Context()
    db.session.add(AccountEvent(account_id=account.id, kind=kind, created_at=now, details=details,
                                ip_prefix=truncate_ip(context.ip), ua_family=user_agent_family(context.user_agent)))
