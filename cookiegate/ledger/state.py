"""Consent state as a query over the ledger (events are the truth, state is their projection):
a subject's latest decision per category, a batch "may I?" for many subjects, a subject's
history and the site's event feed, with opaque signed cursors for paging."""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Connection, Row, bindparam, func, select

from cookiegate.canonical import loads_stored
from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.hotpath import fetch_all_apart, fetch_one
from cookiegate.ledger.models import ConsentEvent, SubjectLink
from cookiegate.ledger.record import LATEST_EVENT_SQL, LatestEvent
from cookiegate.ledger.subjects import Subject
from cookiegate.sites.models import Notice
from cookiegate.sites.services import notice_document
from cookiegate.sqlite_setup import bulk_reads
from cookiegate.timeutil import iso, utcnow

MAX_CHECK_SUBJECTS = 100_000
CHUNK = 20_000  # consent ids or link keys per statement of a batch check
# On PostgreSQL a big check's look-ups run this many statements at once, each on a pooled
# connection of its own: the probes wait on the server, the decoding on Python, so two overlap
# well. Each statement sees what is committed when it starts (as on one connection, statement by
# statement). Not on SQLite: its driver lets go of the GIL and takes it back for every row, so
# two threads mostly wait on each other (100,000 ids: 0.68 s in two threads, 0.52 s in one).
PARALLEL = 2
EVENT_KINDS = ("given", "refused", "updated", "withdrawn", "renewed", "expired", "subscribed", "unsubscribed")

_EVENTS, _LINKS = ConsentEvent.__table__, SubjectLink.__table__
EVENT_COLUMNS = (_EVENTS.c.id, _EVENTS.c.event_id, _EVENTS.c.kind, _EVENTS.c.created_at, _EVENTS.c.consent_id,
                 _EVENTS.c.notice_sha256, _EVENTS.c.leaf, _EVENTS.c.leaf_hash)
_SITE, _KIND, _KEY = bindparam("site_id"), bindparam("kind"), bindparam("key")
_LINKED = select(_LINKS.c.consent_id).where(_LINKS.c.site_id == _SITE, _LINKS.c.kind == _KIND, _LINKS.c.key == _KEY)
# The state look-up is a hot read: the latest event of one consent id through the driver
# (record.LATEST_EVENT_SQL); for an account or address, built once: the latest over its linked ids.
_LATEST_PER_LINK = (select(func.max(_EVENTS.c.id).label("id"))
                    .where(_EVENTS.c.site_id == _SITE, _EVENTS.c.consent_id.in_(_LINKED))
                    .group_by(_EVENTS.c.consent_id).subquery())
_LATEST_OF_LINKED = (select(_EVENTS.c.event_id, _EVENTS.c.consent_id, _EVENTS.c.leaf)
                     .where(_EVENTS.c.id == select(func.max(_LATEST_PER_LINK.c.id)).scalar_subquery()))


@dataclass(frozen=True)
class CategoryState:
    granted: bool
    basis: str  # "consent", "exempt" or "none"
    event_id: str | None = None
    expires: str | None = None
    expired: bool = False


@dataclass(frozen=True)
class SubjectState:
    found: bool
    consent_id: str | None
    categories: dict[str, CategoryState]
    notice: dict[str, Any] | None  # the notice the latest decision was made on: sha256, version
    updated_at: str | None


def latest_decision(*, site_id: int, subject: Subject) -> Row | tuple | None:
    """The subject's latest event (event_id, consent_id, leaf) across its consent ids."""
    if subject.kind == "consent":
        return fetch_one(LATEST_EVENT_SQL, {"site_id": site_id, "consent_id": subject.key})
    return db.session.connection().execute(
        _LATEST_OF_LINKED, {"site_id": site_id, "kind": subject.kind, "key": subject.key}).first()


def subject_state(*, site_id: int, notice: Notice, subject: Subject, now: datetime | None = None,
                  latest: LatestEvent | None = None) -> SubjectState:
    """Per category of the site's current notice: granted or not, and on what basis. Exempt
    categories are always granted; the others as the subject's latest decision says, unless
    that decision has expired (then not granted, expired=True). An unknown subject is found=False.
    `latest`: the subject's latest event when the caller has read it already."""
    if subject.kind == "consent" and latest is not None and latest.of(site_id, subject.key):
        row = latest.row
    else:
        row = latest_decision(site_id=site_id, subject=subject)
    leaf = loads_stored(row[2]) if row is not None else None
    moment = iso(now or utcnow())
    categories = {}
    for category in notice_document(notice)["categories"]:
        decision = leaf["decisions"].get(category["key"]) if leaf else None
        if category["exempt"]:
            categories[category["key"]] = CategoryState(granted=True, basis="exempt")
        elif decision is None or decision["basis"] != "consent":
            categories[category["key"]] = CategoryState(granted=False, basis="none")
        else:
            expired = leaf["expires"] <= moment  # fixed-width ISO strings compare as times
            categories[category["key"]] = CategoryState(
                granted=decision["granted"] and not expired, basis="consent", event_id=leaf["event_id"],
                expires=leaf["expires"], expired=expired)
    if leaf is None:
        return SubjectState(found=False, consent_id=None, categories=categories, notice=None, updated_at=None)
    return SubjectState(found=True, consent_id=row[1], categories=categories, updated_at=leaf["time"],
                        notice={"sha256": leaf["notice"]["sha256"], "version": leaf["notice"]["version"]})


_PK, _KEY_OF = itemgetter(1), itemgetter(1)


class CheckResult(NamedTuple):
    granted: bool
    event_id: str | None
    expires: str | None


def check_subjects(*, site_id: int, notice: Notice, category: Any, subjects: list[Subject],
                   now: datetime | None = None) -> list[CheckResult]:
    """For each subject, in order: may the site use `category` for them, by their latest
    decision (as subject_state rules). Set-based: a few statements for up to 100,000 subjects."""
    exempt = {c["key"]: c["exempt"] for c in notice_document(notice)["categories"]}
    if type(category) is not str or category not in exempt:
        raise ValidationError(_l("Unknown consent category."),
                              fields={"category": _l("one of %(keys)s", keys=", ".join(exempt))})
    if len(subjects) > MAX_CHECK_SUBJECTS:
        raise ValidationError(_l("Too many subjects."),
                              fields={"subjects": _l("at most %(count)d", count=MAX_CHECK_SUBJECTS)})
    if exempt[category]:
        return [CheckResult(True, None, None)] * len(subjects)
    keys: dict[str, set[str]] = {"consent": set(), "account": set(), "email": set()}
    for kind, key in subjects:  # one pass over 100,000
        keys[kind].add(key)
    with bulk_reads(db.session.connection()) as connection:
        links = _links(connection, site_id, keys)
        consent_ids = keys["consent"].union(*links.values())
        rows = _latest_decisions(connection, site_id, sorted(consent_ids), category)
    moment, unknown = iso(now or utcnow()), CheckResult(False, None, None)
    # One answer per consent id, then one dictionary look-up per subject: 100,000 of them.
    answers = {row[0]: unknown if row[3] is None else CheckResult(row[3] == 1 and row[4] > moment, row[2], row[4])
               for row in rows}
    if not keys["account"] and not keys["email"]:  # an account id may look like a consent id
        return list(map(answers.get, map(_KEY_OF, subjects), repeat(unknown)))
    latest = {row[0]: row for row in rows}
    results = []
    for kind, key in subjects:
        if kind == "consent":
            results.append(answers.get(key, unknown))
            continue
        # the highest event pk over the linked consent ids is the latest decision
        row = max((latest[i] for i in links.get((kind, key), ()) if i in latest), key=_PK, default=None)
        results.append(unknown if row is None else answers[row[0]])
    return results


def _links(connection: Connection, site_id: int, keys: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(kind, key) -> linked consent ids, for the account and e-mail keys in `keys` (by kind)."""
    links: dict[tuple[str, str], list[str]] = {}
    for kind in ("account", "email"):
        wanted = sorted(keys[kind])
        for start in range(0, len(wanted), CHUNK):
            rows = _fetch(connection, _LINKS_SQL, {"site_id": site_id, "kind": kind, "keys": _bound(wanted[start:start + CHUNK])})
            for key, consent_id in rows:
                links.setdefault((kind, key), []).append(consent_id)
    return links


def _latest_decisions(connection: Connection, site_id: int, consent_ids: list[str], category: str) -> list[tuple]:
    """(consent id, event pk, event id, granted, expires) of the latest event of each consent id
    that has one; granted is 1 or 0 when the category was decided by consent, else None.

    The database reads the decision from the leaf text itself, without a JSON parser: leaves are
    canonical JSON (RFC 8785: sorted keys, no spaces), so a category's decision is exactly
    `"<key>":{"basis":"consent","granted":true}` and no string value can hold that sequence
    (quotes inside strings are escaped). Parsing 100,000 leaves as JSON costs several times the
    lookups themselves; tests/ledger/test_state.py pins this reading to the parsed leaf."""
    parts = -(-len(consent_ids) // CHUNK)
    if parts > 1:  # a whole number of rounds: every connection gets as much work
        parts = -(-parts // PARALLEL) * PARALLEL
    size = -(-len(consent_ids) // max(parts, 1))
    params = [{"site_id": site_id, "ids": _bound(consent_ids[start:start + size]),
               "decision": f'"{category}":{{"basis":"', "yes": 'consent","granted":true',
               "no": 'consent","granted":false'} for start in range(0, len(consent_ids), size or 1)]
    if len(params) <= 1 or connection.dialect.name != "postgresql":
        chunks = [_fetch(connection, _LATEST_SQL, chunk) for chunk in params]
    else:
        engine = connection.engine
        with ThreadPoolExecutor(PARALLEL) as pool:
            chunks = list(pool.map(lambda chunk: fetch_all_apart(engine, _LATEST_SQL, chunk), params))
    return chunks[0] if len(chunks) == 1 else [row for rows in chunks for row in rows]


def _bound(values: list[str]) -> str:
    """A list as one bound value, a JSON array text: both databases unpack it in one step
    (psycopg would adapt a Python list element by element, slowly)."""
    return json.dumps(values)


def _fetch(connection: Connection, statements: tuple[str, str], params: dict[str, Any]) -> list[tuple]:
    """Driver-level SQL (PostgreSQL's form, SQLite's form) on the connection, as plain tuples: up
    to 100,000 rows, where building SQLAlchemy rows would cost as much as the query."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statements[0] if connection.dialect.name == "postgresql" else statements[1], params)
        return cursor.fetchall()
    finally:
        cursor.close()


_LINKS_SQL = (
    "SELECT l.key, l.consent_id FROM json_array_elements_text(CAST(%(keys)s AS json)) AS w(key) "
    "JOIN subject_link AS l ON l.site_id = %(site_id)s AND l.kind = %(kind)s AND l.key = w.key",
    "SELECT key, consent_id FROM subject_link WHERE site_id = :site_id AND kind = :kind "
    "AND key IN (SELECT value FROM json_each(:keys))")
# One index probe per consent id (ix_consent_event_subject, newest first): the cost follows the
# request's size, not the site's. PostgreSQL cuts the leaf with split_part (byte search; strpos
# and substr count characters, at several times the cost); SQLite has only instr and substr, and
# `expires` is iso() output, always 27 characters.
_LATEST_SQL = (
    """SELECT w.consent_id, l.id, l.event_id, l.granted, l.expires
       FROM json_array_elements_text(CAST(%(ids)s AS json)) AS w(consent_id)
       CROSS JOIN LATERAL (
           SELECT id, event_id,
                  CASE split_part(split_part(leaf, %(decision)s, 2), '}', 1)
                       WHEN %(yes)s THEN 1 WHEN %(no)s THEN 0 END AS granted,
                  split_part(split_part(leaf, '"expires":"', 2), '"', 1) AS expires
           FROM consent_event WHERE site_id = %(site_id)s AND consent_id = w.consent_id
           ORDER BY id DESC LIMIT 1) AS l""",
    """SELECT w.value, e.id, e.event_id,
              CASE WHEN instr(e.leaf, :decision || :yes || '}') > 0 THEN 1
                   WHEN instr(e.leaf, :decision || :no || '}') > 0 THEN 0 END,
              substr(e.leaf, instr(e.leaf, '"expires":"') + 11, 27)
       FROM json_each(:ids) AS w
       JOIN consent_event AS e ON e.id = (SELECT id FROM consent_event WHERE site_id = :site_id
                                          AND consent_id = w.value ORDER BY id DESC LIMIT 1)""")


def subject_history(*, site_id: int, subject: Subject, after: int | None, limit: int) -> tuple[list[Row], int | None]:
    """The subject's events across its consent ids, oldest first, `limit` after event pk
    `after`; with the pk to continue after, or None at the end."""
    query = select(*EVENT_COLUMNS).where(_EVENTS.c.site_id == site_id)
    if subject.kind == "consent":
        query = query.where(_EVENTS.c.consent_id == subject.key)
    else:
        query = query.where(_EVENTS.c.consent_id.in_(
            select(_LINKS.c.consent_id).where(_LINKS.c.site_id == site_id, _LINKS.c.kind == subject.kind,
                                              _LINKS.c.key == subject.key)))
    return _page(query, after, limit)


@dataclass(frozen=True)
class FeedQuery:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    kinds: tuple[str, ...] = ()  # empty: every kind
    after: int | None = None
    limit: int = 100


def site_feed(*, site_id: int, query: FeedQuery) -> tuple[list[Row], int | None]:
    """The site's events in recording order (keyset by event pk), filtered by time and kind;
    with the pk to continue after, or None at the end."""
    statement = select(*EVENT_COLUMNS).where(_EVENTS.c.site_id == site_id)
    if query.since is not None:
        statement = statement.where(_EVENTS.c.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(_EVENTS.c.created_at < query.until)
    if query.kinds:
        statement = statement.where(_EVENTS.c.kind.in_(query.kinds))
    return _page(statement, query.after, query.limit)


def _page(query: Any, after: int | None, limit: int) -> tuple[list[Row], int | None]:
    if after is not None:
        query = query.where(_EVENTS.c.id > after)
    rows = db.session.execute(query.order_by(_EVENTS.c.id).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="cookiegate.api.cursor")


def subject_scope(subject: Subject) -> str:
    """A short fingerprint binding a history cursor to its subject."""
    return hashlib.sha256(f"{subject.kind}:{subject.key}".encode()).hexdigest()[:16]


def encode_cursor(*, listing: str, site_id: int, after: int, scope: str = "") -> str:
    """An opaque, signed continuation token: which listing, site and scope, and the last pk."""
    return _serializer().dumps([listing, site_id, scope, after])


def decode_cursor(token: Any, *, listing: str, site_id: int, scope: str = "") -> int:
    """The pk a cursor continues after; ValidationError for a garbled, forged or foreign one."""
    try:
        value = _serializer().loads(token) if type(token) is str and len(token) <= 200 else None
    except BadData:
        value = None
    if (not isinstance(value, list) or len(value) != 4 or value[:3] != [listing, site_id, scope]
            or type(value[3]) is not int):
        raise ValidationError(_l("The cursor is not one this listing gave out."),
                              fields={"cursor": _l("use next_cursor from the previous page, unchanged")})
    return value[3]
