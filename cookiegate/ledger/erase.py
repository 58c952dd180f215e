"""Erasure: personal fields go, hashed leaves stay (they hold only a salted commitment)."""
from __future__ import annotations

from sqlalchemy import delete, select

from cookiegate.extensions import db
from cookiegate.ledger.models import ConsentEvent, EventPersonal, SubjectLink
from cookiegate.sites.models import Site


def erase_subject(*, site: Site, consent_id: str) -> int:
    """Delete the personal fields (IP prefix, user agent, account link, e-mail HMAC) and their
    salts for every event of one subject, and the links from accounts and e-mail addresses to
    its consent id. Returns how many events were touched. Commits."""
    erased = erase_subject_rows(site=site, consent_id=consent_id)
    db.session.commit()
    return erased


def erase_subject_rows(*, site: Site, consent_id: str) -> int:
    """erase_subject in the caller's transaction (no commit), for erasures of a whole person."""
    event_pks = select(ConsentEvent.id).where(ConsentEvent.site_id == site.id,
                                              ConsentEvent.consent_id == consent_id)
    result = db.session.execute(delete(EventPersonal).where(EventPersonal.event_pk.in_(event_pks)))
    db.session.execute(delete(SubjectLink).where(SubjectLink.site_id == site.id,
                                                 SubjectLink.consent_id == consent_id))
    return result.rowcount or 0
