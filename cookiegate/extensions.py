"""The Flask extensions, created unbound and initialised in create_app."""
from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from cookiegate.csrf import CookiegateCSRF

# Named constraints keep Alembic migrations stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after commit: services commit once and callers keep using what they
# passed in; a fresh session per request (Flask-SQLAlchemy) keeps reads from going stale.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CookiegateCSRF()
login_manager = LoginManager()
babel = Babel()


def client_address() -> str:
    """The rate-limit key: the client's address as ProxyFix resolved it."""
    return get_remote_address() or request.remote_addr or "unknown"


class CookiegateLimiter(Limiter):
    """Flask-Limiter whose before-request hook leaves out the endpoints in `self_counted`: they
    count their own requests (cookiegate.ratelimit.hit), and the hook would find no limit for
    them yet still resolve limits and exemption scopes at every request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.self_counted: set[str] = set()

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and request.endpoint in self.self_counted:
            return
        super()._check_request_limit(callable_name, in_middleware)


limiter = CookiegateLimiter(key_func=client_address, default_limits=[])
