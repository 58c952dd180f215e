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
}

# Settings whose environment value is JSON (lists, numbers, booleans, dicts).
_JSON_KEYS = {"LANGUAGES", "SQLALCHEMY_ENGINE_OPTIONS", "PROXY_HOPS", "LEDGER_SEQUENCE_INTERVAL",
              "SESSION_COOKIE_SECURE", "SITE_CACHE_SECONDS",
              "API_MAX_BODY_BYTES"}


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
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
