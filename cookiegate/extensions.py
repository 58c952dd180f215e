"""The Flask extensions, created unbound and initialised in create_app."""
from __future__ import annotations

import flask_limiter
from flask import request
from flask_babel import Babel
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


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, for the pages that use its decorators. Before every request it walks its
    limits (about 40 µs), even for a request whose view counts its calls itself through
    cookiegate.ratelimit and has no Flask-Limiter limit: blueprints and endpoints marked with
    `counts_itself` skip that walk."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.self_counting: set[str] = set()

    def counts_itself(self, name: str) -> None:
        """Mark a blueprint (by name) or an endpoint whose views count their calls themselves."""
        self.self_counting.add(name)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and (request.blueprint in self.self_counting or request.endpoint in self.self_counting):
            return None
        return super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


limiter = Limiter(key_func=client_address, default_limits=[])
