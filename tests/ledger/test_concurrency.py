"""Eight writers record 2,000 events while a ninth thread keeps sequencing the same site: every
event ends up in the log exactly once, at seqs 0..1999, and the log verifies."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import latest_checkpoint, sequence_pending
from cookiegate.ledger.models import ConsentEvent, LogEntry, PendingEvent
from cookiegate.ledger.record import Context, Interaction, record_consent
from cookiegate.ledger.verify import verify_log
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice
from tests.ledger.helpers import origin_of, sequence_in_batches

WRITERS, TOTAL = 8, 2000
SUBJECTS_PER_WRITER = 25


def write(app, site_id: int, start: threading.Barrier) -> int:
    """Record TOTAL // WRITERS events over a few subjects, in this thread's own app context."""
    with app.app_context():
        try:
            site = db.session.get(Site, site_id)
            notice = current_notice(site)
            subjects = [str(uuid.uuid4()) for _ in range(SUBJECTS_PER_WRITER)]
            start.wait()
            for i in range(TOTAL // WRITERS):
                record_consent(site=site, notice=notice, consent_id=subjects[i % SUBJECTS_PER_WRITER],
                               choices={"analytics": i % 2 == 0, "tracking": False, "marketing": i % 3 == 0},
                               language="nl", interaction=Interaction(channel="banner", action="save_selection"),
                               context=Context(origin="https://shop.example", path="/", ip="198.51.100.7",
                                               user_agent="Mozilla/5.0 Firefox/128.0"))
            return TOTAL // WRITERS
        finally:
            db.session.remove()


def keep_sequencing(app, site_id: int, start: threading.Barrier, writers_done: threading.Event) -> int:
    """Sequence small batches until the writers stop; returns how many batches appended events."""
    with app.app_context():
        try:
            origin = origin_of(db.session.get(Site, site_id))
            db.session.commit()
            start.wait()
            batches = 0
            while not writers_done.is_set():
                if sequence_pending(site_id=site_id, origin=origin, batch_size=150):
                    batches += 1
                else:
                    time.sleep(0.005)
            return batches
        finally:
            db.session.remove()


def test_concurrent_writers_and_sequencer(app_ctx, site):
    app, site_id = app_ctx, site.id
    db.session.commit()
    start, writers_done = threading.Barrier(WRITERS + 1), threading.Event()
    with ThreadPoolExecutor(WRITERS + 1) as pool:
        sequencer = pool.submit(keep_sequencing, app, site_id, start, writers_done)
        writers = [pool.submit(write, app, site_id, start) for _ in range(WRITERS)]
        try:
            assert sum(w.result(timeout=120) for w in writers) == TOTAL
        finally:
            writers_done.set()
        batches_while_writing = sequencer.result(timeout=60)
    sequence_in_batches(site, 500)

    assert batches_while_writing >= 2, "the sequencer never ran alongside the writers"
    events = set(db.session.execute(select(ConsentEvent.id).where(ConsentEvent.site_id == site_id)).scalars())
    entries = db.session.execute(select(LogEntry.seq, LogEntry.event_pk)
                                 .where(LogEntry.site_id == site_id).order_by(LogEntry.seq)).all()
    assert len(events) == TOTAL
    assert [seq for seq, _ in entries] == list(range(TOTAL))
    assert sorted(pk for _, pk in entries) == sorted(events)  # each event exactly once
    assert db.session.execute(select(func.count()).select_from(PendingEvent)
                              .where(PendingEvent.site_id == site_id)).scalar_one() == 0
    assert latest_checkpoint(site_id).tree_size == TOTAL
    report = verify_log(site=site, keys=current_keys())
    assert report.ok, report.problems
    assert (report.entries, report.pending) == (TOTAL, 0)
