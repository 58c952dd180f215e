"""Scheduled sequencing makes one pass; the CLI drains everything."""
from __future__ import annotations

import time

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


def test_verify_reads_one_snapshot_while_batches_are_sequenced(app, site):
    """A live log: every verify sees each sequenced batch whole, never entries without their
    checkpoint (that would read as tampering)."""
    import threading

    from cookiegate.ledger.keys import current_keys
    from cookiegate.ledger.log import sequence_pending
    from cookiegate.ledger.verify import verify_log
    from cookiegate.sites.services import site_by_slug

    stop = threading.Event()
    slug = site.slug  # plain data for the thread: ORM objects belong to one thread's session

    def write_and_sequence() -> None:
        with app.app_context():
            writer_site = site_by_slug(slug)
            while not stop.is_set():
                for _ in range(3):
                    record(writer_site)
                sequence_pending(site_id=writer_site.id, origin="cookiegate/" + slug, batch_size=2)
            db.session.remove()

    writer = threading.Thread(target=write_and_sequence)
    writer.start()
    reports = []
    deadline = time.monotonic() + 30
    try:
        while (not reports or reports[-1].entries < 30) and time.monotonic() < deadline:
            reports.append(verify_log(site=site, keys=current_keys()))
    finally:
        stop.set()
        writer.join(30)
    assert [r.problems for r in reports if not r.ok] == []
    assert reports[-1].entries >= 30 and len({r.entries for r in reports}) > 3  # verified while it grew
