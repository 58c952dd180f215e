"""Configuration: defaults -> COOKIEGATE_* environment -> instance/config.py -> test dict."""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, object] = {
    "SQLALCHEMY_DATABASE_URI": None,  # filled in with instance/cookiegate.db
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "SECRET_KEY": None,  # created under instance/ at first start
    "LANGUAGES": ["nl", "en"],
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
    "WTF_CSRF_TIME_LIMIT": None,  # tie the token to the session, not to a clock
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "cg_session",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "CONSENT_RATE_LIMIT": "60 per minute",
    "PROXY_HOPS": 0,  # number of trusted reverse proxies in front of the app
    # Ledger: the Ed25519 key signing checkpoints; a PEM path or the PEM itself.
    "LEDGER_KEY_FILE": None,
    "LEDGER_KEY_PEM": None,
    # Seconds between background sequencing runs in each app process; 0 disables the thread.
    "LEDGER_SEQUENCE_INTERVAL": 1.0,
    "LEDGER_ORIGIN": "cookiegate",
    # How long a process may serve a site and its current notice from memory (see sites/cache.py).
    "SITE_CACHE_SECONDS": 2.0,
    # /api/v1: the largest body accepted (a batch check of 100,000 subjects fits) and the
    # per-key rate limit.
    "API_MAX_BODY_BYTES": 16 * 1024 * 1024,
    "API_RATE_LIMIT": "6000 per minute",
    # Webhooks (cookiegate/webhooks): a delivery succeeds on any 2xx within the timeout; else it
    # is retried after RETRY * 2**(attempts - 1) seconds, at most RETRY_MAX, until delivered.
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "WEBHOOK_RETRY_SECONDS": 30.0,
    "WEBHOOK_RETRY_MAX_SECONDS": 6 * 3600.0,
    # Plain http sends consent events readable on the way: https only unless this is on.
    "WEBHOOK_ALLOW_HTTP": False,
    # Webhook URLs resolving to loopback, private, link-local or reserved addresses are refused
    # (at registration and at every delivery) unless this is on: no requests into the internal net.
    "WEBHOOK_ALLOW_PRIVATE_URLS": False,
    # Delivered webhook payloads (copies of consent events) are deleted after this many days.
    "WEBHOOK_KEEP_DELIVERED_DAYS": 30.0,
    # Links in mails (confirmation, unsubscribe, manage) start with this, e.g.
    # "https://consent.example"; unset, the address of the request that caused the mail.
    "PUBLIC_URL": None,
    # Outgoing mail (cookiegate/mail): "smtp" sends through MAIL_SERVER; "outbox" only keeps
    # each message for the demo's outbox page (/demo/outbox, loopback only) and sends nothing.
    "MAIL_BACKEND": "smtp",
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,  # STARTTLS after connecting
    "MAIL_USE_SSL": False,  # TLS from the first byte (port 465)
    "MAIL_FROM": "cookiegate@localhost",
    "MAIL_TIMEOUT_SECONDS": 10.0,
    # A failed send is retried by `cookiegate worker` after RETRY * 2**(attempts - 1) seconds,
    # at most RETRY_MAX, and given up after MAX_ATTEMPTS (the address is then cleared).
    "MAIL_RETRY_SECONDS": 60.0,
    "MAIL_RETRY_MAX_SECONDS": 6 * 3600.0,
    "MAIL_MAX_ATTEMPTS": 20,
    # Days the bytes of a sent message are kept; then only its sha256 stays, as proof.
    "MAIL_KEEP_DAYS": 30,
    # Newsletter forms (subscribe, lost link): per client address, and per e-mail address so
    # nobody can flood one mailbox; one-click and unsubscribe posts per client address.
    "NEWSLETTER_RATE_LIMIT": "10 per minute",
    "NEWSLETTER_ADDRESS_RATE_LIMIT": "5 per hour",
    "UNSUBSCRIBE_RATE_LIMIT": "600 per minute",
    # Days a double opt-in confirmation link works.
    "NEWSLETTER_CONFIRM_DAYS": 14,
    # Customer accounts (cookiegate/accounts): how long the mailed links work, the login,
    # register and reset limits per client address (Flask-Limiter: RATELIMIT_STORAGE_URI, e.g.
    # redis://host:6379 from COOKIEGATE_RATELIMIT_STORAGE_URI, shares them between app nodes),
    # and how long "keep me logged in" lasts.
    "ACCOUNT_CONFIRM_HOURS": 7 * 24,
    "ACCOUNT_RESET_MINUTES": 60,
    "ACCOUNT_EMAIL_CHANGE_HOURS": 24,
    "ACCOUNT_LOGIN_RATE_LIMIT": "10 per minute",
    "ACCOUNT_REGISTER_RATE_LIMIT": "10 per minute",
    "ACCOUNT_RESET_RATE_LIMIT": "10 per minute",
    # Register and reset mails per address, whoever asks: nobody can flood a mailbox with them.
    "ACCOUNT_ADDRESS_RATE_LIMIT": "5 per hour",
    "ACCOUNT_REMEMBER_DAYS": 30,
}

# Settings whose environment value is JSON (lists, numbers, booleans, dicts).
_JSON_KEYS = {"LANGUAGES", "SQLALCHEMY_ENGINE_OPTIONS", "PROXY_HOPS", "LEDGER_SEQUENCE_INTERVAL",
              "SESSION_COOKIE_SECURE", "SITE_CACHE_SECONDS",
              "API_MAX_BODY_BYTES", "WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_RETRY_SECONDS",
              "WEBHOOK_RETRY_MAX_SECONDS", "WEBHOOK_ALLOW_HTTP", "WEBHOOK_ALLOW_PRIVATE_URLS",
              "WEBHOOK_KEEP_DELIVERED_DAYS",
              "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_TIMEOUT_SECONDS", "MAIL_RETRY_SECONDS",
              "MAIL_RETRY_MAX_SECONDS", "MAIL_MAX_ATTEMPTS", "MAIL_KEEP_DAYS", "NEWSLETTER_CONFIRM_DAYS",
              "ACCOUNT_CONFIRM_HOURS", "ACCOUNT_RESET_MINUTES", "ACCOUNT_EMAIL_CHANGE_HOURS", "ACCOUNT_REMEMBER_DAYS"}


def from_environment(environ: dict[str, str]) -> dict[str, object]:
    """Read COOKIEGATE_<KEY> variables; COOKIEGATE_DATABASE_URL names the database."""
    found: dict[str, object] = {}
    for name, value in environ.items():
        if not name.startswith("COOKIEGATE_"):
            continue
        key = name.removeprefix("COOKIEGATE_")
        if key == "DATABASE_URL":
            key = "SQLALCHEMY_DATABASE_URI"
        found[key] = json.loads(value) if key in _JSON_KEYS else value
    return found


def normalise_database_url(url: str) -> str:
    """Let operators write postgres:// or postgresql:// and still get psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret stored at path; at first start it is created (mode 0600) from make(). The file
    appears complete or not at all (written aside, then hard-linked into place), so workers
    starting together all read the one value that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
            os.link(draft, path)
        except FileExistsError:  # another worker's secret got there first
            pass
        finally:
            os.unlink(draft)
    return path.read_text()


def ensure_secret(path: Path, nbytes: int = 32) -> str:
    """Return the secret stored at path, creating it on first start."""
    return read_or_create_secret(path, lambda: secrets.token_hex(nbytes)).strip()


def engine_options(url: str) -> dict[str, object]:
    """Backend-specific engine settings that every deployment wants."""
    if url.startswith("sqlite"):
        # Concurrent writers wait for the lock instead of failing at once.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # Idle connections are pinged before use (connection_check.py), not every checkout; LIFO
    # keeps the few connections in use warm and lets the others idle out.
    return {"pool_size": 10, "max_overflow": 20, "pool_use_lifo": True}
