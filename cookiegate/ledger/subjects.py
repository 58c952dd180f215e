"""Subjects as other services name them: a consent id, the shop's account id, or an e-mail
address (never stored: looked up by its keyed hash). Checking them, resolving them to consent
ids, and recording a decision a shop's server sends for one (e.g. a checkout checkbox)."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from cookiegate.errors import Conflict, NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.models import ConsentEvent, SubjectLink
from cookiegate.ledger.record import Context, Interaction, LatestEvent, record_consent
from cookiegate.sites.models import Notice, Site
from cookiegate.sites.services import notice_by_hash, notice_document, site_and_notice
from cookiegate.timeutil import iso

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
ORIGIN_RE = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]{1,250}")
# Control characters and lone surrogates: nothing a person types, and text no database stores.
UNUSABLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_ACCOUNT_ID, MAX_EMAIL, MAX_PATH = 64, 254, 2000
MAX_REPORTED = 20  # bad entries named in one error: enough to fix, not a megabyte of errors
API_ACTIONS = ("accept_all", "reject_all", "save_selection", "withdraw")
IMPLIED = {"accept_all": True, "reject_all": False, "withdraw": False}
# The identifier fields of a subject object and the link kind each is looked up by.
KINDS = {"consent_id": "consent", "account_id": "account", "email": "email"}


class Subject(NamedTuple):
    """One identifier: kind "consent" (key: the consent id), "account" (key: the shop's account
    id) or "email" (key: the address's keyed hash, hex)."""

    kind: str
    key: str


_SUBJECT_ERRORS = {"consent_id": _l("must be a UUID"),
                   "account_id": _l("1 to %(count)d characters, no control characters", count=MAX_ACCOUNT_ID),
                   "email": _l("an e-mail address")}


def subject_identifiers(value: Any, *, field: str = "subject",
                        email_hmac: Callable[[str], str] | None = None) -> dict[str, str]:
    """Check a subject object {"consent_id"?, "account_id"?, "email"?} and return its
    identifiers normalised (consent id lower-case, e-mail address replaced by its keyed hash).
    Raises ValidationError naming each bad field."""
    if type(value) is not dict or not value:
        raise ValidationError(_l("The subject is missing or not an object."),
                              fields={field: _l("an object with consent_id, account_id or email")})
    found: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for name, item in value.items():
        if name == "consent_id" and type(item) is str and UUID_RE.fullmatch(item):
            found[name] = item.lower()
        elif (name == "account_id" and type(item) is str and 0 < len(item) <= MAX_ACCOUNT_ID
              and not UNUSABLE_RE.search(item)):
            found[name] = item
        elif (name == "email" and type(item) is str and len(item) <= MAX_EMAIL
              and EMAIL_RE.fullmatch(item.strip()) and not UNUSABLE_RE.search(item.strip())):
            found[name] = (email_hmac or current_keys().email_hmac)(item)
        else:
            fields[f"{field}.{name}"] = _SUBJECT_ERRORS.get(name, _l("unknown field"))
    if fields:
        raise ValidationError(_l("The subject is malformed."), fields=fields)
    return found


def one_subject(value: Any, *, field: str = "subject",
                email_hmac: Callable[[str], str] | None = None) -> Subject:
    """A subject object with exactly one identifier, as a Subject."""
    identifiers = subject_identifiers(value, field=field, email_hmac=email_hmac)
    if len(identifiers) != 1:
        raise ValidationError(_l("Name the subject by one identifier."),
                              fields={field: _l("exactly one of consent_id, account_id or email")})
    ((name, key),) = identifiers.items()
    return Subject(KINDS[name], key)


def many_subjects(values: Any, *, field: str = "subjects") -> list[Subject]:
    """A list of subject objects, each with exactly one identifier, as Subjects in order.
    ValidationError names the first MAX_REPORTED bad entries."""
    if type(values) is not list:
        raise ValidationError(_l("Give the subjects as a list."), fields={field: _l("a list of subject objects")})
    fast = _all_consent_ids(values)
    if fast is not None:
        return fast
    email_hmac = current_keys().email_hmac
    subjects: list[Subject] = []
    fields: dict[str, Any] = {}
    match = UUID_RE.fullmatch
    for index, value in enumerate(values):
        if type(value) is dict and len(value) == 1:  # the common case, checked inline: 100,000 of them
            item = value.get("consent_id")
            if type(item) is str and match(item):
                subjects.append(Subject("consent", item.lower()))
                continue
        try:
            subjects.append(one_subject(value, field=f"{field}.{index}", email_hmac=email_hmac))
        except ValidationError as error:
            fields.update(error.fields)
            if len(fields) >= MAX_REPORTED:
                break
    if fields:
        raise ValidationError(_l("Some subjects are malformed."), fields=fields)
    return subjects


def _all_consent_ids(values: list[Any]) -> list[Subject] | None:
    """The common batch, every entry {"consent_id": <UUID>}, checked in bulk (map, no per-entry
    branching); None when any entry is otherwise, for the loop that names each bad one."""
    ids = [value.get("consent_id") if type(value) is dict and len(value) == 1 else None for value in values]
    if not all(type(item) is str for item in ids) or not all(map(UUID_RE.fullmatch, ids)):
        return None
    return [Subject("consent", key.lower()) for key in ids]


def linked_consent_id(*, site_id: int, kind: str, key: str) -> str | None:
    """The consent id most recently linked to an account or e-mail hash on a site."""
    return db.session.execute(
        select(SubjectLink.consent_id).where(SubjectLink.site_id == site_id, SubjectLink.kind == kind,
                                             SubjectLink.key == key)
        .order_by(SubjectLink.created_at.desc(), SubjectLink.consent_id.desc()).limit(1)).scalar()


def resolve_consent_id(*, site_id: int, identifiers: dict[str, str]) -> tuple[str, bool]:
    """The consent id to record a decision under: the one given; else the one most recently
    linked to the account, else to the e-mail address; else a new one. The second value is
    True when the consent id is new."""
    if "consent_id" in identifiers:
        return identifiers["consent_id"], False
    for name in ("account_id", "email"):
        if name in identifiers and (linked := linked_consent_id(site_id=site_id, kind=KINDS[name],
                                                                key=identifiers[name])):
            return linked, False
    return str(uuid.uuid4()), True


@dataclass(frozen=True)
class ApiDecision:
    """A recorded decision as the API answers it (the attributes a receipt is issued from, too)."""

    event_id: str
    kind: str
    consent_id: str
    time: str
    leaf: str  # the canonical JSON hashed into the log
    leaf_hash: bytes
    duplicate: bool

    @classmethod
    def of(cls, event: ConsentEvent, *, duplicate: bool) -> ApiDecision:
        return cls(event_id=event.event_id, kind=event.kind, consent_id=event.consent_id,
                   time=iso(event.created_at), leaf=event.leaf, leaf_hash=event.leaf_hash, duplicate=duplicate)


def record_api_decision(*, site: Site, key_id: str, subject: Any, language: Any, action: Any,
                        choices: Any = None, notice: Any = None, event_id: Any = None,
                        context: Any = None, latest: LatestEvent | None = None) -> ApiDecision:
    """Record a decision a shop's server sends (channel "api", actor "api_key", source
    "api_key:<key id>"), linking the consent id to the account and e-mail address given.
    Resending an event id for the same subject answers the recorded event (duplicate=True)
    whatever else differs; an event id used for anything else is a Conflict. `latest`: the
    subject's latest event when the caller has read it already (see record_consent)."""
    checked = check_api_decision(site=site, subject=subject, language=language, action=action,
                                 choices=choices, notice=notice, event_id=event_id, context=context)
    identifiers = checked["identifiers"]
    if checked["event_id"] and (existing := _event(checked["event_id"])) is not None:
        return _resent(existing, site.id, identifiers)
    consent_id, new = resolve_consent_id(site_id=site.id, identifiers=identifiers)
    try:
        recorded = record_consent(
            site=site, notice=checked["notice"], consent_id=consent_id, choices=checked["choices"],
            language=language, interaction=Interaction(channel="api", action=action),
            context=checked["context"], actor="api_key", source=f"api_key:{key_id}",
            account_id=identifiers.get("account_id"), email_hmac=identifiers.get("email"),
            event_id=checked["event_id"], new_subject=new, latest=latest)
    except IntegrityError:  # the same event id arriving twice at once: the twin won
        db.session.rollback()
        if (existing := _event(checked["event_id"])) is None:
            raise
        return _resent(existing, site.id, identifiers)
    return ApiDecision(event_id=recorded.event_id, kind=recorded.kind, consent_id=consent_id,
                       time=recorded.leaf["time"], leaf=recorded.leaf_text, leaf_hash=recorded.leaf_hash,
                       duplicate=False)


def check_api_decision(*, site: Site, subject: Any, language: Any, action: Any, choices: Any,
                       notice: Any, event_id: Any, context: Any) -> dict[str, Any]:
    """Every field of a decision sent over the API, checked at once (ValidationError names each
    bad one; a well-formed hash of no notice of the site is NotFound); returns the identifiers,
    notice, choices per optional category, event id and context."""
    fields: dict[str, Any] = {}
    checked: dict[str, Any] = {"event_id": None, "choices": {}, "context": Context()}
    try:
        checked["identifiers"] = subject_identifiers(subject)
    except ValidationError as error:
        fields.update(error.fields)
    if language not in site.languages:
        fields["language"] = _l("one of %(languages)s", languages=", ".join(site.languages))
    if action not in API_ACTIONS:
        fields["action"] = _l("one of %(values)s", values=", ".join(API_ACTIONS))
    checked["notice"] = _notice(site, notice, fields)
    if checked["notice"] is not None and action in API_ACTIONS:
        checked["choices"] = _choices(checked["notice"], choices, action, fields)
    if event_id is not None:
        if type(event_id) is str and UUID_RE.fullmatch(event_id):
            checked["event_id"] = event_id.lower()
        else:
            fields["event_id"] = _l("must be a UUID")
    checked["context"] = _context(context, fields)
    if fields:
        raise ValidationError(_l("The decision is incomplete or malformed."), fields=fields)
    if checked["notice"] is None:  # well-formed, but the site has no such notice
        raise NotFound(_l("The site has no notice with this hash."), fields={"notice": _l("unknown notice")})
    return checked


def _notice(site: Site, sha256: Any, fields: dict[str, Any]) -> Notice | None:
    current = site_and_notice(site.slug)[1]  # the per-process copy the banner uses too
    if sha256 is None or sha256 == current.sha256:
        return current
    if type(sha256) is not str or not SHA256_RE.fullmatch(sha256):
        fields["notice"] = _l("the sha256 of a notice of this site")
        return None
    try:
        return notice_by_hash(site, sha256)
    except NotFound:
        return None


def _choices(notice: Notice, choices: Any, action: str, fields: dict[str, Any]) -> dict[str, bool]:
    """Per optional category of the notice: accept_all grants all, reject_all and withdraw none
    (choices, if sent, must agree), save_selection what is sent (a category left out: not granted)."""
    optional = [c["key"] for c in notice_document(notice)["categories"] if not c["exempt"]]
    choices = {} if choices is None else choices
    if type(choices) is not dict or not set(choices) <= set(optional) or not all(
            type(value) is bool for value in choices.values()):
        fields["choices"] = _l("true or false for some of %(categories)s", categories=", ".join(optional))
        return {}
    implied = IMPLIED.get(action)
    if implied is not None and any(value is not implied for value in choices.values()):
        fields["choices"] = _l("contradicts the action %(action)s", action=action)
        return {}
    return {key: choices.get(key, False) if implied is None else implied for key in optional}


def _context(context: Any, fields: dict[str, Any]) -> Context:
    if context is None:
        return Context()
    if type(context) is not dict or not set(context) <= {"origin", "path"}:
        fields["context"] = _l("an object with origin and path, both optional")
        return Context()
    origin, path = context.get("origin"), context.get("path")
    if origin is not None and not (type(origin) is str and ORIGIN_RE.fullmatch(origin)):
        fields["context.origin"] = _l("an origin such as https://shop.example")
    if path is not None and not (type(path) is str and path.startswith("/") and len(path) <= MAX_PATH
                                 and not UNUSABLE_RE.search(path)):
        fields["context.path"] = _l("a path starting with /, at most %(count)d characters", count=MAX_PATH)
    return Context(origin=origin, path=path)


def _event(event_id: str) -> ConsentEvent | None:
    return db.session.execute(select(ConsentEvent).where(ConsentEvent.event_id == event_id)).scalar()


def _resent(event: ConsentEvent, site_id: int, identifiers: dict[str, str]) -> ApiDecision:
    """The recorded event again if it is this subject's on this site, else a Conflict."""
    if event.site_id == site_id and _names(event, identifiers):
        return ApiDecision.of(event, duplicate=True)
    raise Conflict(_l("This event id is taken by another decision."), fields={"event_id": _l("already used")})


def _names(event: ConsentEvent, identifiers: dict[str, str]) -> bool:
    """Whether the identifiers name the event's subject: its consent id, or links to it."""
    if "consent_id" in identifiers:
        return identifiers["consent_id"] == event.consent_id
    wanted = [(KINDS[name], key) for name, key in identifiers.items()]
    found = db.session.execute(select(SubjectLink.kind, SubjectLink.key).where(
        SubjectLink.site_id == event.site_id, SubjectLink.consent_id == event.consent_id,
        or_(*[(SubjectLink.kind == kind) & (SubjectLink.key == key) for kind, key in wanted]))).all()
    return len(found) == len(wanted)
