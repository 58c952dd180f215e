"""Consent state as a query: the batch check (which reads decisions from the canonical leaf text
inside the database) agrees with the state read from the parsed leaf, for every kind of leaf;
subject links are written only when an account or address is known; cursors are tamper-proof;
and a 100,000-subject check runs through."""
from __future__ import annotations

import itertools
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.models import ConsentEvent, SubjectLink
from cookiegate.ledger.record import Context, Interaction, build_event, category_decisions, record_consent
from cookiegate.ledger.state import (MAX_CHECK_SUBJECTS, check_subjects, decode_cursor, encode_cursor,
                                     subject_state)
from cookiegate.ledger.subjects import Subject, many_subjects, resolve_consent_id
from cookiegate.sites.services import current_notice, notice_document, publish_notice
from cookiegate.timeutil import utcnow
from tests.factories import make_site, record
from tests.ledger.helpers import empty_ledger, tampering

# Context paths that hold, as text, what the database looks for in a leaf.
TRICKY_PATHS = ['/"analytics":{"basis":"consent","granted":true}', '/a?"expires":"9999-01-01T00:00:00.000000Z"',
                '/\\"marketing\\":{\\"basis\\":\\"consent\\",\\"granted\\":true}', "/ünïcode/\u2028"]


def decide(site, consent_id, choices, *, path="/", action="save_selection", days_ago=0, account=None):
    return record_consent(
        site=site, notice=current_notice(site), consent_id=consent_id, choices=choices, language="nl",
        interaction=Interaction(channel="api", action=action), context=Context(path=path),
        account_id=account, now=utcnow() - timedelta(days=days_ago) if days_ago else None)


@pytest.fixture
def varied_site(app_ctx):
    """A site (consent lasts a day) whose subjects hold every kind of latest decision: each choice
    combination, tricky paths, withdrawals, expired decisions, decisions made while analytics was
    exempt, and accounts linked to several consent ids."""
    site = make_site(consent_lifetime_days=1)
    subjects = []
    for i, values in enumerate(itertools.product([True, False], repeat=3)):
        consent_id = str(uuid.uuid4())
        choices = dict(zip(("analytics", "tracking", "marketing"), values))
        decide(site, consent_id, choices, path=TRICKY_PATHS[i % len(TRICKY_PATHS)], days_ago=2 * (i % 3 == 0),
               account=f"acct-{i % 3}")
        if i % 4 == 1:
            decide(site, consent_id, {}, action="withdraw")
        subjects.append(Subject("consent", consent_id))
    site.analytics_exempt = True
    publish_notice(site=site)
    exempt_time = str(uuid.uuid4())
    decide(site, exempt_time, {"tracking": True}, account="acct-0")
    site.analytics_exempt = False
    publish_notice(site=site)
    subjects += [Subject("consent", exempt_time), Subject("consent", str(uuid.uuid4())),
                 Subject("email", current_keys().email_hmac("nobody@example.com"))]
    subjects += [Subject("account", f"acct-{i}") for i in range(4)]
    return site, subjects


def test_the_batch_check_agrees_with_the_parsed_state(varied_site):
    site, subjects = varied_site
    notice = current_notice(site)
    for category in [c["key"] for c in notice_document(notice)["categories"]]:
        results = check_subjects(site_id=site.id, notice=notice, category=category, subjects=subjects)
        expected = []
        for subject in subjects:
            one = subject_state(site_id=site.id, notice=notice, subject=subject).categories[category]
            expected.append((one.granted, one.event_id, one.expires))
        assert [tuple(r) for r in results] == expected, category
    granted = [r.granted for r in check_subjects(site_id=site.id, notice=notice, category="analytics",
                                                 subjects=subjects)]
    assert True in granted and granted.count(False) > len(granted) // 3  # both outcomes are exercised


def test_an_account_id_is_never_read_as_a_consent_id(site):
    consent_id = str(uuid.uuid4())
    decide(site, consent_id, {"analytics": True})
    results = check_subjects(site_id=site.id, notice=current_notice(site), category="analytics",
                             subjects=[Subject("account", consent_id), Subject("consent", consent_id)])
    assert [r.granted for r in results] == [False, True]
    assert results[0].event_id is None


def test_links_are_written_only_for_known_accounts_and_addresses(site):
    def links() -> int:
        return db.session.execute(select(func.count()).select_from(SubjectLink)
                                  .where(SubjectLink.site_id == site.id)).scalar_one()

    anonymous = str(uuid.uuid4())
    record(site, consent_id=anonymous)
    assert links() == 0
    digest = current_keys().email_hmac("Eve@Example.com")
    record(site, consent_id=anonymous, account_id=1234, email_hmac=digest)
    record(site, consent_id=anonymous, account_id=1234, email_hmac=digest)
    assert links() == 2
    later = str(uuid.uuid4())
    record(site, consent_id=later, account_id="1234")
    assert resolve_consent_id(site_id=site.id, identifiers={"account_id": "1234"}) == (later, False)
    assert resolve_consent_id(site_id=site.id, identifiers={"email": digest}) == (anonymous, False)
    minted, new = resolve_consent_id(site_id=site.id, identifiers={"account_id": "nobody"})
    assert new is True and uuid.UUID(minted).version == 4
    with pytest.raises(ValidationError) as caught:
        record(site, account_id="x" * 65)
    assert set(caught.value.fields) == {"account_id"}


def test_cursors_only_work_where_they_were_given(site):
    cursor = encode_cursor(listing="history", site_id=site.id, scope="abc", after=41)
    assert decode_cursor(cursor, listing="history", site_id=site.id, scope="abc") == 41
    for listing, site_id, scope, token in (("feed", site.id, "abc", cursor), ("history", site.id + 1, "abc", cursor),
                                           ("history", site.id, "abd", cursor), ("history", site.id, "abc", cursor[:-2]),
                                           ("history", site.id, "abc", None), ("history", site.id, "abc", "")):
        with pytest.raises(ValidationError):
            decode_cursor(token, listing=listing, site_id=site_id, scope=scope)


def test_more_subjects_than_the_limit_are_refused(site):
    notice = current_notice(site)
    with pytest.raises(ValidationError):
        check_subjects(site_id=site.id, notice=notice, category="analytics",
                       subjects=[Subject("consent", str(uuid.uuid4()))] * (MAX_CHECK_SUBJECTS + 1))


@pytest.fixture
def emptied_afterwards(site):
    """The test's site, emptied of ledger rows afterwards: 100,000 pending events must not be left
    for other tests' sequencing runs in this database."""
    yield site
    db.session.rollback()
    with tampering() as sql:
        empty_ledger(sql, site.id)
        sql("DELETE FROM subject_link WHERE site_id = :site", site=site.id)


def test_a_check_of_100000_subjects_runs_through(emptied_afterwards, backend):
    site = emptied_afterwards
    notice = current_notice(site)
    content, now = notice_document(notice), utcnow()
    variants = [category_decisions(site, content, {"analytics": granted}) for granted in (True, False)]
    consent_ids = [str(uuid.uuid4()) for _ in range(MAX_CHECK_SUBJECTS)]
    rows = [build_event(site=site, notice=notice, consent_id=consent_id, decisions=variants[i % 2], kind="given",
                        language="nl", interaction=Interaction(channel="api", action="save_selection"),
                        context=Context(), gpc=False, consent_mode=None, actor="api_key", source="bench",
                        event_id=None, personal={}, now=now).row for i, consent_id in enumerate(consent_ids)]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(ConsentEvent), rows[start:start + 5000])
    db.session.commit()
    raw = [{"consent_id": consent_id} for consent_id in consent_ids]
    started = time.perf_counter()
    subjects = many_subjects(raw)
    parsed = time.perf_counter()
    results = check_subjects(site_id=site.id, notice=notice, category="analytics", subjects=subjects)
    done = time.perf_counter()
    print(f"\n{backend}: 100,000 subjects checked in {done - started:.3f} s "
          f"(parsing {parsed - started:.3f} s, check {done - parsed:.3f} s)")
    assert [r.granted for r in results[:4]] == [True, False, True, False]
    assert sum(r.granted for r in results) == MAX_CHECK_SUBJECTS // 2
    assert results[1].event_id == rows[1]["event_id"]
