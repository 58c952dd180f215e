"""Recording consent decisions: the hot path. One INSERT per table, no lock, one commit."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection

from cookiegate.canonical import canonical_json, loads_stored
from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.hotpath import as_sqlalchemy_error, backend, fetch_one, write_rows
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.merkle import leaf_hash
from cookiegate.privacy import truncate_ip, user_agent_family
from cookiegate.sites.models import Notice, Site
from cookiegate.sites.services import notice_document
from cookiegate.timeutil import iso, utcnow

LEAF_SCHEMA = 1
CHANNELS = ("banner", "preferences", "account", "api", "email_link")
ACTIONS = ("accept_all", "reject_all", "save_selection", "withdraw", "unsubscribe", "one_click",
           "subscribe", "confirm", "expire")


@dataclass(frozen=True)
class Interaction:
    channel: str
    action: str
    layer: int | None = None


# Built on every recorded decision: a NamedTuple costs a fifth of a frozen dataclass.
class RecordedEvent(NamedTuple):
    pk: int
    event_id: str
    kind: str
    leaf: dict[str, Any]
    leaf_hash: bytes
    leaf_text: str = ""  # the canonical JSON stored (and hashed): what a receipt carries


@dataclass(frozen=True)
class Context:
    """What we keep of where and from what a decision came; ip and user_agent are minimised."""

    origin: str | None = None
    path: str | None = None
    ip: str | None = None
    user_agent: str | None = None


def category_decisions(site: Site, notice_content: dict[str, Any],
                       choices: dict[str, bool]) -> dict[str, dict[str, Any]]:
    """Per category of the notice: granted and the basis (exempt for necessary, consent else)."""
    decisions: dict[str, dict[str, Any]] = {}
    for category in notice_content["categories"]:
        key = category["key"]
        if category["exempt"]:
            decisions[key] = {"granted": True, "basis": "exempt"}
        else:
            decisions[key] = {"granted": bool(choices.get(key, False)), "basis": "consent"}
    unknown = set(choices) - set(decisions)
    if unknown:
        raise ValidationError(_l("Unknown consent category."), fields={k: _l("unknown category") for k in unknown})
    return decisions


def classify_event(previous: dict[str, Any] | None, decisions: dict[str, dict[str, Any]],
                   action: str, notice_sha256: str) -> str:
    """given / refused / updated / withdrawn / renewed, from the subject's previous leaf."""
    granted_now = any(d["granted"] for d in decisions.values() if d["basis"] == "consent")
    if previous is None:
        return "given" if granted_now else "refused"
    granted_before = any(d["granted"] for d in previous["decisions"].values() if d["basis"] == "consent")
    if action == "withdraw" or (granted_before and not granted_now):
        return "withdrawn"
    if not granted_now:
        return "refused"
    if previous["decisions"] == decisions and previous["notice"]["sha256"] != notice_sha256:
        return "renewed"
    return "updated"


# The hot path talks to the driver itself, on the session's connection or the request's own
# (hotpath): SQLAlchemy's execution layer (compiling, result set-up) costs as much per call as
# the INSERT does.
# A consent id's latest event on a site, by the (site_id, consent_id, id) index: the row a
# LatestEvent holds (event_id, consent_id, leaf). (PostgreSQL's form, SQLite's.)
_LATEST = "SELECT event_id, consent_id, leaf FROM consent_event WHERE site_id = {} AND consent_id = {} ORDER BY id DESC LIMIT 1"
LATEST_EVENT_SQL = (_LATEST.format("%(site_id)s", "%(consent_id)s"), _LATEST.format(":site_id", ":consent_id"))
# PostgreSQL: an event and its personal fields in one round trip (a data-modifying CTE).
_PG_INSERT_BOTH = """
    WITH event AS (
        INSERT INTO consent_event (site_id, event_id, consent_id, kind, created_at, notice_sha256,
                                   leaf, leaf_hash, seal)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id)
    INSERT INTO event_personal (event_pk, salt, data)
    SELECT id, %s, CAST(%s AS JSON) FROM event
    RETURNING event_pk"""
_SQLITE_INSERT_EVENT = ("INSERT INTO consent_event (site_id, event_id, consent_id, kind, created_at, notice_sha256, "
                        "leaf, leaf_hash, seal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
# The trigger's insert into ledger_pending leaves last_insert_rowid() at the event's id.
_SQLITE_INSERT_PERSONAL = "INSERT INTO event_personal (event_pk, salt, data) VALUES (last_insert_rowid(), ?, ?)"
_INSERT_LINK = {dialect: 'INSERT INTO subject_link (site_id, kind, "key", consent_id, created_at) '
                         f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING"
                for dialect, p in (("postgresql", "%s"), ("sqlite", "?"))}
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def _driver_execute(connection: Connection, sql: str, params: tuple) -> Any:
    """Run one statement on the session connection's driver connection; driver errors come
    out as SQLAlchemy's (callers catch sqlalchemy.exc.IntegrityError for a taken event id)."""
    driver = connection.connection.dbapi_connection
    try:
        return driver.execute(sql, params)
    except connection.dialect.loaded_dbapi.Error as error:
        lost = connection.dialect.is_disconnect(error, driver, None)
        if lost:
            connection.invalidate(error)
        raise as_sqlalchemy_error(error, sql, params, lost) from error


def _sqlite_time(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds") if moment.year >= 1000 else moment.strftime(_SQLITE_TIME)


def insert_event_rows(event: dict[str, Any], salt: bytes, personal: dict[str, Any], *,
                      personal_text: str | None = None) -> int:
    """Insert the event and its personal fields in the session's transaction; returns the
    event's key. The database marks the event pending for the sequencer itself (trigger
    consent_event_pending, migration 0002). personal_text is the personal fields already
    serialised (build_event makes it)."""
    data = personal_text if personal_text is not None else json.dumps(personal)
    return _run_in_session(lambda dialect: event_steps(dialect, event, salt, data))


def _run_in_session(steps_for: Callable[[str], list[tuple[str, tuple]]]) -> int:
    """Run the steps for the session's backend in its transaction; the first row's first column."""
    connection = db.session.connection()
    steps = steps_for(connection.dialect.name)
    first = _driver_execute(connection, *steps[0]).fetchone()[0]
    for sql, params in steps[1:]:
        _driver_execute(connection, sql, params)
    return first


def event_steps(dialect: str, event: dict[str, Any], salt: bytes, personal_text: str,
                links: list[tuple[str, str]] = ()) -> list[tuple[str, tuple]]:
    """The statements that write an event, its personal fields and its subject links
    ((kind, key) pairs), in the backend's fastest form; the first answers the event's key."""
    if dialect == "postgresql":  # an event and its personal fields in one round trip
        steps = [(_PG_INSERT_BOTH, (
            event["site_id"], event["event_id"], event["consent_id"], event["kind"], event["created_at"],
            event["notice_sha256"], event["leaf"], event["leaf_hash"], event["seal"], salt, personal_text))]
        created_at = event["created_at"]
    else:
        created_at = _sqlite_time(event["created_at"])
        steps = [(_SQLITE_INSERT_EVENT, (
            event["site_id"], event["event_id"], event["consent_id"], event["kind"], created_at,
            event["notice_sha256"], event["leaf"], event["leaf_hash"], event["seal"])),
                 (_SQLITE_INSERT_PERSONAL, (salt, personal_text))]
    steps.extend((_INSERT_LINK[dialect], (event["site_id"], kind, key, event["consent_id"], created_at))
                 for kind, key in links)
    return steps


def uuid7(random_bytes: bytes | None = None) -> str:
    """A time-ordered UUID (RFC 9562 version 7): new event ids land at the end of the event-id
    index instead of at random pages, which keeps each commit's written pages few. Its 74
    random bits come from random_bytes (10 bytes from os.urandom) when the caller has them."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(random_bytes or os.urandom(10), "big")
    value = ((millis & (1 << 48) - 1) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
             | 0b10 << 62 | rand & (1 << 62) - 1)
    digits = f"{value:032x}"  # str(uuid.UUID(int=value)), without building the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class LatestEvent(NamedTuple):
    """A consent id's latest event on a site as read already (the API reads it in one statement
    with its key): the row (event_id, consent_id, leaf), or None when it has no event."""

    site_id: int
    consent_id: str
    row: tuple | None

    def of(self, site_id: int, consent_id: str) -> bool:
        return self.site_id == site_id and self.consent_id == consent_id


def session_transaction_open() -> bool:
    """Whether this app context's session holds an open transaction, without making a session
    just to ask (an API call records without ever opening one)."""
    return db.session.registry.has() and db.session().in_transaction()


def previous_leaf(site_id: int, consent_id: str, latest: LatestEvent | None = None,
                  in_session: bool | None = None) -> dict[str, Any] | None:
    """The subject's latest decision on this site, as its leaf document: from `latest` when the
    caller has read it already, else looked up (seen from the session's transaction when one is
    open; `in_session` is session_transaction_open() when the caller has asked already)."""
    if latest is not None and latest.of(site_id, consent_id):
        row = latest.row
    elif not (session_transaction_open() if in_session is None else in_session):
        row = fetch_one(LATEST_EVENT_SQL, {"site_id": site_id, "consent_id": consent_id})
    else:
        connection = db.session.connection()
        row = _driver_execute(connection, LATEST_EVENT_SQL[connection.dialect.name != "postgresql"],
                              {"site_id": site_id, "consent_id": consent_id}).fetchone()
    return loads_stored(row[2]) if row else None


def record_consent(*, site: Site, notice: Notice, consent_id: str, choices: dict[str, bool],
                   language: str, interaction: Interaction, context: Context, gpc: bool = False,
                   consent_mode: dict[str, str] | None = None, actor: str = "visitor",
                   source: str = "browser", account_id: int | str | None = None,
                   email_hmac: str | None = None, event_id: str | None = None,
                   new_subject: bool = False, latest: LatestEvent | None = None,
                   now: datetime | None = None) -> RecordedEvent:
    """Record one decision as a sealed, hashed event and commit. Sequencing into the site's
    Merkle log happens later, in batches (see `log.sequence_pending`). A caller that may send
    the same decision twice passes its own event_id (a UUID): the second insert then fails on
    the unique event id instead of recording the decision twice. `new_subject=True` says the
    caller has just minted consent_id, so there is no history to look up; `latest` hands over the
    subject's latest event when the caller has read it already. `now` is the decision's time for
    imports of earlier decisions; by default the current time."""
    site_id = site.id
    if notice.site_id != site_id:
        raise ValidationError(_l("The notice belongs to another site."))
    if language not in site.languages:
        raise ValidationError(_l("Unsupported language."), fields={"language": _l("not offered by this site")})
    check_interaction(interaction)
    if account_id is not None and not 0 < len(str(account_id)) <= 64:  # the subject_link key's size
        raise ValidationError(_l("Unusable account id."), fields={"account_id": _l("1 to 64 characters")})
    decisions = category_decisions(site, notice_document(notice), choices)
    # Asked once: looking the subject up and building the event leave the session as it was.
    in_session = session_transaction_open()
    previous = None if new_subject else previous_leaf(site_id, consent_id, latest, in_session)
    built = build_event(
        site=site, notice=notice, consent_id=consent_id, decisions=decisions,
        kind=classify_event(previous, decisions, interaction.action, notice.sha256),
        language=language, interaction=interaction, context=context, gpc=gpc,
        consent_mode=consent_mode, actor=actor, source=source, event_id=event_id,
        personal={"ip_prefix": truncate_ip(context.ip), "ua_family": user_agent_family(context.user_agent),
                  "account_id": account_id, "email_hmac": email_hmac},
        now=now or utcnow())
    links = subject_keys(account_id, email_hmac)

    def steps_for(dialect: str) -> list[tuple[str, tuple]]:
        return event_steps(dialect, built.row, built.salt, built.personal_text, links)

    if in_session:  # the caller's changes commit with the event
        event_pk = _run_in_session(steps_for)
        db.session.commit()
    else:  # a transaction of its own on the request's driver connection, without the session
        event_pk = write_rows(steps_for(backend()))[0]
    return RecordedEvent(pk=event_pk, event_id=built.leaf["event_id"], kind=built.row["kind"],
                         leaf=built.leaf, leaf_hash=built.row["leaf_hash"], leaf_text=built.row["leaf"])


def link_subject(*, site_id: int, consent_id: str, account_id: int | str | None,
                 email_hmac: str | None, now: datetime) -> None:
    """Note that the consent id belongs to this account and/or e-mail address (by keyed hash),
    in the caller's transaction, so the API can answer by account or address. A link that
    exists already is kept as it is (its time is when it was first made)."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    created_at = now if dialect == "postgresql" else _sqlite_time(now)
    for kind, key in subject_keys(account_id, email_hmac):
        _driver_execute(connection, _INSERT_LINK[dialect], (site_id, kind, key, consent_id, created_at))


def subject_keys(account_id: int | str | None, email_hmac: str | None) -> list[tuple[str, str]]:
    """The (kind, key) pairs of subject_link rows for an account id and/or e-mail HMAC given."""
    return [(kind, str(key)) for kind, key in (("account", account_id), ("email", email_hmac))
            if key is not None and key != ""]


class BuiltEvent(NamedTuple):
    """An event ready to insert: its consent_event row, its personal row's salt and data, and
    the leaf document the row's `leaf` column holds in canonical form."""

    row: dict[str, Any]
    salt: bytes
    personal: dict[str, Any]
    leaf: dict[str, Any]
    personal_text: str | None = None  # the personal fields as stored: their canonical JSON


def build_event(*, site: Site, notice: Notice, consent_id: str, decisions: dict[str, dict[str, Any]],
                kind: str, language: str, interaction: Interaction, context: Context, gpc: bool,
                consent_mode: dict[str, str] | None, actor: str, source: str, event_id: str | None,
                personal: dict[str, Any], now: datetime,
                newsletter: dict[str, Any] | None = None) -> BuiltEvent:
    """The leaf of a decision (every proof field, personal fields only as a salted commitment),
    hashed and sealed. Pure: no database access; record_consent and bulk imports insert it.
    Newsletter opt-ins and opt-outs add their proof as the leaf's "newsletter" object (its
    layout: cookiegate/newsletter/proof.py); cookie decisions have none."""
    noise = os.urandom(26)  # one system call: the personal salt and the event id's random bits
    salt = noise[:16]
    personal_bytes = canonical_json(personal)  # committed to (personal_commitment) and stored
    event_id = event_id or uuid7(noise[16:])
    notice_sha256 = notice.sha256
    leaf_doc = {
        "v": LEAF_SCHEMA,
        "event_id": event_id,
        "site": site.slug,
        "type": kind,
        "subject": {"consent_id": consent_id},
        "decisions": decisions,
        "time": iso(now),
        "expires": iso(now + timedelta(days=site.consent_lifetime_days)),
        "notice": {"sha256": notice_sha256, "version": notice.version, "language": language},
        "interaction": {"channel": interaction.channel, "layer": interaction.layer,
                        "action": interaction.action},
        "context": {"origin": context.origin, "path": context.path},
        "signals": {"gpc": gpc, "consent_mode": consent_mode},
        "actor": {"type": actor, "source": source},
        "personal": {"commitment": commitment_of(salt, personal_bytes)},
    }
    if newsletter is not None:
        leaf_doc["newsletter"] = newsletter
    leaf = canonical_json(leaf_doc)
    digest = leaf_hash(leaf)
    row = {"site_id": site.id, "event_id": event_id, "consent_id": consent_id, "kind": kind,
           "created_at": now, "notice_sha256": notice_sha256, "leaf": leaf.decode(), "leaf_hash": digest,
           "seal": current_keys().seal(digest)}
    return BuiltEvent(row=row, salt=salt, personal=personal, leaf=leaf_doc, personal_text=personal_bytes.decode())


def check_interaction(interaction: Interaction) -> None:
    """A proof only ever names a known channel, action and layer."""
    fields = {}
    if interaction.channel not in CHANNELS:
        fields["channel"] = _l("one of %(values)s", values=", ".join(CHANNELS))
    if interaction.action not in ACTIONS:
        fields["action"] = _l("one of %(values)s", values=", ".join(ACTIONS))
    if interaction.layer not in (None, 1, 2):
        fields["layer"] = _l("1, 2 or none")
    if fields:
        raise ValidationError(_l("Unknown interaction."), fields=fields)


def personal_commitment(salt: bytes, personal: dict[str, Any]) -> str:
    """sha256(salt || JCS(personal)): binds the leaf to the personal fields without showing them."""
    return commitment_of(salt, canonical_json(personal))


def commitment_of(salt: bytes, serialized: bytes) -> str:
    """personal_commitment for personal fields already in canonical form (build_event has them)."""
    return hashlib.sha256(salt + serialized).hexdigest()
