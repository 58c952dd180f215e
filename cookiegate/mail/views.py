"""The demo's outbox: with MAIL_BACKEND "outbox" nothing is sent, and /demo/outbox shows the
kept messages so that a person can read them and follow their links. Registered only with that
backend, and answering only requests from this machine (loopback): it shows personal data."""
from __future__ import annotations

import ipaddress
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from flask import Blueprint, Flask, Response, abort, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.mail.models import OutboxMail

bp = Blueprint("mail", __name__, url_prefix="/demo/outbox")
URL_RE = re.compile(r"https?://[^\s<>\"]+")
PAGE_SIZE = 50


def register_outbox(app: Flask) -> None:
    """Add the outbox page to an app whose MAIL_BACKEND is "outbox" (before its first request)."""
    if "mail" not in app.blueprints:
        app.register_blueprint(bp)


@bp.before_request
def local_only():
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        local = False
    if not local:
        abort(404)


@bp.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/")
def outbox():
    mails = db.session.execute(select(OutboxMail).order_by(OutboxMail.id.desc()).limit(PAGE_SIZE)).scalars().all()
    return render_template("mail/outbox.html", mails=[(mail, _parsed(mail)) for mail in mails])


@bp.get("/<int:mail_id>")
def message(mail_id: int):
    mail = db.session.get(OutboxMail, mail_id) or abort(404)
    parsed = _parsed(mail)
    body = parsed.get_body(("plain",)) if parsed is not None else None
    text = body.get_content() if body is not None else ""
    return render_template("mail/outbox_message.html", mail=mail, parsed=parsed, text=linkify(text))


@bp.get("/<int:mail_id>.eml")
def raw(mail_id: int):
    mail = db.session.get(OutboxMail, mail_id) or abort(404)
    return Response(mail.message, mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="mail-{mail.id}.eml"'})


def _parsed(mail: OutboxMail) -> EmailMessage | None:
    return message_from_bytes(mail.message, policy=default) if mail.message else None  # type: ignore[return-value]


def linkify(text: str) -> Markup:
    """Plain text with its URLs as links (everything else escaped)."""
    parts, last = [], 0
    for match in URL_RE.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
