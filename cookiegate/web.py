"""Assembling the Flask app: configuration, extensions, blueprints, headers, error pages."""
from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from cookiegate import config as cfg
from cookiegate import hotpath, ratelimit  # noqa: F401  (ratelimit registers cookiegate-memory://)
from cookiegate.errors import CookiegateError
from cookiegate.extensions import babel, csrf, db, limiter, login_manager, migrate
from cookiegate.i18n import compile_catalogues, remember_language, select_locale
from cookiegate.ledger.keys import load_keys
from cookiegate.sessions import SiteSessionInterface

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")


def build_app(overrides: dict[str, Any] | None) -> Flask:
    instance = os.environ.get("COOKIEGATE_INSTANCE_PATH", str(cfg.PROJECT_ROOT / "instance"))
    app = Flask("cookiegate", instance_path=instance, instance_relative_config=True,
                template_folder=str(cfg.PROJECT_ROOT / "templates"),
                static_folder=str(cfg.PROJECT_ROOT / "static"))
    app.config.from_mapping(cfg.DEFAULTS)
    app.config.update(cfg.from_environment(dict(os.environ)))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(overrides or {})
    _finish_config(app)
    _init_extensions(app)
    _register(app)
    if app.config["LEDGER_SEQUENCE_INTERVAL"] and not app.config.get("TESTING"):
        _start_sequencer_on_first_request(app)
    return app


def _finish_config(app: Flask) -> None:
    instance = Path(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'cookiegate.db'}"
    url = cfg.normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**cfg.engine_options(url), **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = cfg.ensure_secret(instance / "secret_key")
    app.extensions["cookiegate.ledger_keys"] = load_keys(
        pem=app.config["LEDGER_KEY_PEM"],
        path=Path(app.config["LEDGER_KEY_FILE"] or instance / "ledger-ed25519.pem"))
    # "Keep me logged in" makes the (per-site) session cookie last this long; see accounts.views.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=float(app.config["ACCOUNT_REMEMBER_DAYS"]))
    if app.config["PROXY_HOPS"]:
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _init_extensions(app: Flask) -> None:
    from cookiegate import connection_check, sqlite_setup  # noqa: F401  (pool listeners, SQLite pragmas)

    db.init_app(app)
    hotpath.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    if app.config["RATELIMIT_STORAGE_URI"] == "memory://":  # the same counters, minus a thread per few hits
        app.config["RATELIMIT_STORAGE_URI"] = "cookiegate-memory://"
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.session_interface = SiteSessionInterface()
    compile_catalogues(Path(app.config["BABEL_TRANSLATION_DIRECTORIES"]))
    from cookiegate import models  # noqa: F401  (every table registered for Alembic)


def _register(app: Flask) -> None:
    from cookiegate.banner.views import bp as banner_bp
    from cookiegate.banner import embed_views  # noqa: F401  (adds the embed routes to the banner blueprint)
    from cookiegate.banner.filters import bp as filters_bp
    from cookiegate.ledger.views import bp as ledger_bp
    from cookiegate.api.views import bp as api_bp
    # routes on api_bp:
    from cookiegate.api import consent_views, doc_views, newsletter_views, proof_views, webhook_views  # noqa: F401

    app.register_blueprint(banner_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(filters_bp)
    from cookiegate.newsletter.views import bp as newsletter_bp
    from cookiegate.newsletter import link_views  # noqa: F401  (unsubscribe link and preference centre)
    app.register_blueprint(newsletter_bp)
    from cookiegate.accounts.views import bp as accounts_bp
    from cookiegate.accounts import account_views  # noqa: F401  (the account page's routes)
    app.register_blueprint(accounts_bp)
    if app.config["MAIL_BACKEND"] == "outbox":
        from cookiegate.mail.views import register_outbox
        register_outbox(app)
    app.after_request(remember_language)
    app.after_request(_security_headers)
    app.register_error_handler(CookiegateError, _service_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)

    @app.context_processor
    def plain_context():
        return {"lang": str(get_locale()), "site": None, "show_banner": False}

    @app.get("/")
    def index():
        from cookiegate.sites.models import Site
        sites = db.session.execute(db.select(Site).order_by(Site.name)).scalars().all()
        return render_template("index.html", sites=sites)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "interest-cohort=(), browsing-topics=()")
    return response


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.path.startswith("/api/")


def _service_error(error: CookiegateError):
    if _wants_json():
        return error.to_dict(), error.status, error.headers
    return render_template("errors/error.html", title=gettext("Something is not right"),
                           message=error.message, fields=error.fields), error.status, error.headers


def _csrf_error(error: CSRFError):
    return render_template("errors/error.html", title=gettext("This form has expired"),
                           message=gettext("The page was open too long or cookies are blocked. "
                                           "Go back, reload the page and try again."),
                           fields={}), 400


_JSON_HTTP_ERRORS = {
    400: ("bad_request", _l("The request could not be handled: check its syntax and parameters.")),
    404: ("not_found", _l("There is nothing at this address.")),
    405: ("method_not_allowed", _l("This address does not accept this method.")),
    413: ("payload_too_large", _l("The body is too large.")),
    415: ("unsupported_media_type", _l("Send a JSON body with Content-Type: application/json.")),
    429: ("rate_limited", _l("Too many requests in a short time. Wait a minute and try again.")),
    500: ("internal_error", _l("Something went wrong on our side; nothing was recorded. Try again.")),
}


def _http_error(error: HTTPException):
    titles = {
        400: (gettext("Bad request"), gettext("The request could not be handled.")),
        404: (gettext("Page not found"), gettext("There is no page at this address.")),
        405: (gettext("Method not allowed"), gettext("This address does not accept this kind of request.")),
        429: (gettext("Too many requests"), gettext("Too many requests in a short time. Wait a minute and try again.")),
    }
    title, message = titles.get(error.code, (gettext("Something went wrong"),
                                             gettext("The request could not be handled.")))
    if _wants_json():
        code, message = _JSON_HTTP_ERRORS.get(error.code, (None, message))
        return {"error": code or (error.name or "error").lower().replace(" ", "_"), "message": str(message),
                "fields": {}}, error.code, _kept_headers(error)
    return render_template("errors/error.html", title=title, message=message, fields={}), error.code, _kept_headers(error)


def _kept_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The exception's own headers (Allow on a 405, Retry-After on a 429), not its content type."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def _start_sequencer_on_first_request(app: Flask) -> None:
    """Only processes that serve requests sequence: CLI commands (db upgrade, ledger verify)
    build the app too and must not start a background writer."""
    started = threading.Lock()

    @app.before_request
    def start_sequencer() -> None:
        if "cookiegate.sequencer_stop" not in app.extensions and started.acquire(blocking=False):
            _start_sequencer(app)


def _start_sequencer(app: Flask) -> None:
    """Sequence and sign pending events every few seconds, in each serving process."""
    from cookiegate.ledger.log import sequence_all

    interval = float(app.config["LEDGER_SEQUENCE_INTERVAL"])
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            with app.app_context():
                try:
                    sequence_all(origin_base=app.config["LEDGER_ORIGIN"], until_empty=False)
                except Exception:  # keep sequencing after a passing database fault
                    app.logger.exception("ledger sequencing failed")
                finally:
                    db.session.remove()

    thread = threading.Thread(target=run, name="ledger-sequencer", daemon=True)
    thread.start()
    app.extensions["cookiegate.sequencer_stop"] = stop
