"""Scheduled sequencing makes one pass; the CLI drains everything."""
from __future__ import annotations

from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.ledger.log import sequence_all
from cookiegate.ledger.models import PendingEvent
from tests.factories import record


def pending_of(site) -> int:
    return db.session.execute(select(func.count()).select_from(PendingEvent)
                              .where(PendingEvent.site_id == site.id)).scalar_one()


def test_a_scheduled_run_takes_one_batch_per_site_and_returns(app, site):
    sequence_all(origin_base=app.config["LEDGER_ORIGIN"])  # other tests' sites: out of the way
    for _ in range(5):
        record(site)
    assert sequence_all(origin_base="cookiegate", batch_size=2, until_empty=False) == 2
    assert pending_of(site) == 3
    assert sequence_all(origin_base="cookiegate", batch_size=2) == 3
    assert pending_of(site) == 0
