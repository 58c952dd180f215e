"""Recording decisions: the proof fields, event types, minimised personal data."""
from __future__ import annotations

import uuid

import pytest

from cookiegate.canonical import loads
from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.models import ConsentEvent, EventPersonal
from cookiegate.sites.services import current_notice
from tests.factories import record


def leaf_of(event_pk: int) -> dict:
    return loads(db.session.get(ConsentEvent, event_pk).leaf)


def test_event_holds_every_proof_field(site):
    event = record(site, choices={"analytics": True, "tracking": False, "marketing": True},
                   gpc=True, consent_mode={"analytics_storage": "granted"})
    leaf = leaf_of(event.pk)
    notice = current_notice(site)
    assert leaf["v"] == 1 and leaf["site"] == site.slug and leaf["type"] == "given"
    assert leaf["decisions"] == {
        "necessary": {"granted": True, "basis": "exempt"},
        "analytics": {"granted": True, "basis": "consent"},
        "tracking": {"granted": False, "basis": "consent"},
        "marketing": {"granted": True, "basis": "consent"}}
    assert leaf["notice"] == {"sha256": notice.sha256, "version": 1, "language": "nl"}
    assert leaf["interaction"] == {"channel": "banner", "layer": 2, "action": "save_selection"}
    assert leaf["context"] == {"origin": "https://shop.example", "path": "/"}
    assert leaf["signals"] == {"gpc": True, "consent_mode": {"analytics_storage": "granted"}}
    assert leaf["time"] < leaf["expires"]
    assert "203.0.113" not in db.session.get(ConsentEvent, event.pk).leaf  # personal data is not in the leaf


def test_personal_fields_are_minimised(site):
    event = record(site, ip="2001:db8:1234:5678::1", user_agent="Mozilla/5.0 (X11; Linux x86_64) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36")
    personal = db.session.get(EventPersonal, event.pk).data
    assert personal["ip_prefix"] == "2001:db8:1234::"
    assert personal["ua_family"] == "Chrome 120"
    event = record(site, ip="198.51.100.200")
    assert db.session.get(EventPersonal, event.pk).data["ip_prefix"] == "198.51.100.0"


def test_event_types_follow_the_subject_history(site):
    subject = str(uuid.uuid4())
    none = {"analytics": False, "tracking": False, "marketing": False}
    some = {"analytics": True, "tracking": False, "marketing": False}
    more = {"analytics": True, "tracking": True, "marketing": False}
    assert record(site, consent_id=subject, choices=none, action="reject_all").kind == "refused"
    assert record(site, consent_id=subject, choices=some).kind == "updated"
    assert record(site, consent_id=subject, choices=more).kind == "updated"
    assert record(site, consent_id=subject, choices=none, action="withdraw").kind == "withdrawn"
    assert record(site, choices=some).kind == "given"


def test_unknown_category_is_refused_and_nothing_is_written(site):
    before = db.session.query(ConsentEvent).filter_by(site_id=site.id).count()
    with pytest.raises(ValidationError) as raised:
        record(site, choices={"analytics": True, "astrology": True})
    assert "astrology" in raised.value.fields
    assert db.session.query(ConsentEvent).filter_by(site_id=site.id).count() == before


def test_language_must_be_offered_by_the_site(site):
    with pytest.raises(ValidationError):
        record(site, language="de")


def test_server_event_ids_are_time_ordered_uuid7(site):
    import time as clock

    from cookiegate.ledger.record import uuid7

    first = uuid7()
    clock.sleep(0.002)
    later = uuid7()
    assert uuid.UUID(first).version == uuid.UUID(later).version == 7
    assert uuid.UUID(first).variant == uuid.RFC_4122
    assert first < later  # a later millisecond sorts after
    assert uuid.UUID(record(site).event_id).version == 7


@pytest.mark.parametrize("channel, action, layer, field", [
    ("carrier-pigeon", "accept_all", 1, "channel"), ("banner", "shrug", 1, "action"), ("banner", "accept_all", 3, "layer")])
def test_unknown_interaction_is_refused_and_nothing_is_written(site, channel, action, layer, field):
    from cookiegate.ledger.record import Context, Interaction, record_consent

    before = db.session.query(ConsentEvent).filter_by(site_id=site.id).count()
    with pytest.raises(ValidationError) as raised:
        record_consent(site=site, notice=current_notice(site), consent_id=str(uuid.uuid4()), choices={},
                       language="nl", interaction=Interaction(channel, action, layer), context=Context())
    assert set(raised.value.fields) == {field}
    assert db.session.query(ConsentEvent).filter_by(site_id=site.id).count() == before


def _counts() -> tuple[int, int]:
    return (db.session.query(ConsentEvent).count(), db.session.query(EventPersonal).count())


def test_a_taken_event_id_writes_nothing_on_either_path(site):
    """Outside a session transaction an event is written on the request's own driver connection;
    inside one it joins the caller's. Either way a failed insert leaves no half-written record
    and the connection stays usable."""
    from sqlalchemy.exc import IntegrityError

    first = record(site, event_id=str(uuid.uuid4()))
    db.session.commit()
    before = _counts()
    db.session.commit()
    assert not db.session().in_transaction()
    with pytest.raises(IntegrityError):
        record(site, event_id=first.event_id)
    db.session.rollback()
    assert _counts() == before
    db.session.query(ConsentEvent).count()  # now in a session transaction: the session's path
    with pytest.raises(IntegrityError):
        record(site, event_id=first.event_id)
    db.session.rollback()
    assert _counts() == before
    db.session.commit()
    assert record(site).kind == "given"  # both paths still work afterwards
    db.session.query(ConsentEvent).count()
    assert record(site).kind == "given"
    assert _counts() == (before[0] + 2, before[1] + 2)


def test_an_event_recorded_in_the_callers_transaction_commits_with_its_changes(site):
    from cookiegate.sites.models import Site

    db.session.get(Site, site.id).name = "Renamed in the same transaction"
    event = record(site)
    db.session.rollback()  # nothing left to roll back: record_consent committed both
    assert db.session.get(Site, site.id).name == "Renamed in the same transaction"
    assert db.session.get(ConsentEvent, event.pk) is not None
