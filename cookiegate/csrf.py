"""Flask-WTF's CSRF protection with the token check on a serializer built once per secret key.

Flask-WTF's validate_csrf builds a URLSafeTimedSerializer at every call. The check here is the
same one, step by step: a token, a session token, the signature with salt "wtf-csrf-token",
WTF_CSRF_TIME_LIMIT, and the session token match. Tokens are still issued by Flask-WTF's
generate_csrf (the templates' csrf_token()), and those signed here would read there too.
"""
from __future__ import annotations

import hmac
import logging
from functools import lru_cache

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, same_origin
from itsdangerous import BadData, SignatureExpired
from wtforms import ValidationError

from cookiegate.signing import TimedSerializer

logger = logging.getLogger("flask_wtf.csrf")  # where Flask-WTF logs why a token was refused
SALT = "wtf-csrf-token"  # Flask-WTF's


@lru_cache(maxsize=8)
def _serializer(secret_key: str | bytes) -> TimedSerializer:
    return TimedSerializer(secret_key, salt=SALT)


def validate_csrf(data: str | None) -> None:
    """flask_wtf.csrf.validate_csrf with the app's settings: raise ValidationError (with
    Flask-WTF's reason) unless `data` is a token signed for this session's CSRF token."""
    config = current_app.config
    secret_key = config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key)
    field_name = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if secret_key is None:
        raise RuntimeError("A secret key is required to use CSRF.")
    if field_name is None:
        raise RuntimeError("A field name is required to use CSRF.")
    if not data:
        raise ValidationError("The CSRF token is missing.")
    if field_name not in session:
        raise ValidationError("The CSRF session token is missing.")
    try:
        token = _serializer(secret_key).loads(data, max_age=config.get("WTF_CSRF_TIME_LIMIT", 3600))
    except SignatureExpired as error:
        raise ValidationError("The CSRF token has expired.") from error
    except BadData as error:
        raise ValidationError("The CSRF token is invalid.") from error
    if not hmac.compare_digest(session[field_name], token):
        raise ValidationError("The CSRF tokens do not match.")


class CookiegateCSRF(CSRFProtect):
    """CSRFProtect whose before-request check uses validate_csrf above; exemptions, methods and
    the strict referrer check on HTTPS are Flask-WTF's (1.3) own."""

    def protect(self, apply_exemptions: bool = False) -> None:
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        try:
            validate_csrf(self._get_csrf_token())
        except ValidationError as error:
            logger.info(error.args[0])
            self._error_response(error.args[0])
        if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            if not same_origin(request.referrer, f"https://{request.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True  # mark this request as CSRF valid (the forms then skip their check)
