"""The Alembic migrations, on SQLite and on PostgreSQL.

- `cookiegate db upgrade` / `downgrade base` run as an operator runs them (the console script
  in a subprocess, configured only through COOKIEGATE_* variables) on an empty database;
- the migrated schema equals the models (a model change without a migration fails here);
- the append-only guard on the ledger tables is installed, and refuses changes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config

import cookiegate.models  # noqa: F401  (every table on db.metadata)
from cookiegate.config import normalise_database_url
from cookiegate.extensions import db
from cookiegate.ledger.models import APPEND_ONLY_TABLES
from cookiegate.web import MIGRATIONS_DIR
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database, pg_url, require_postgres

# The tables whose rows are never updated or deleted (DESIGN.md, "Never edited").
TIMEOUT = 120


def cookiegate_command() -> str:
    """The `cookiegate` console script of the Python running the tests."""
    found = shutil.which("cookiegate", path=str(Path(sys.executable).parent)) or shutil.which("cookiegate")
    if not found:
        pytest.fail("the cookiegate command is not installed: run `pip install -e .` (bash scripts/test does)")
    return found


def run_cookiegate(args: list[str], *, database_url: str, instance: Path, **settings: str) -> subprocess.CompletedProcess:
    """The console script as an operator runs it; `settings` are more COOKIEGATE_* variables."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("COOKIEGATE_", "FLASK_"))}
    env.update(COOKIEGATE_DATABASE_URL=database_url, COOKIEGATE_INSTANCE_PATH=str(instance),
               **{f"COOKIEGATE_{name}": value for name, value in settings.items()})
    return subprocess.run([cookiegate_command(), *args], env=env, cwd=instance, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")


def head_revision() -> str:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def new_empty_database(backend: str, directory: Path):
    """(url, cleanup) for an empty database of the backend."""
    if backend == "sqlite":
        return f"sqlite:///{directory / 'migrations.db'}", lambda: None
    require_postgres()
    name = create_pg_database()
    return pg_url(name), lambda: drop_pg_database(name)


def make_engine(url: str) -> sa.Engine:
    return sa.create_engine(normalise_database_url(url), poolclass=sa.pool.NullPool)


def app_tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def trigger_names(engine: sa.Engine) -> set[tuple[str, str]]:
    """(table, trigger) pairs of the user-defined triggers in the database."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(sa.text(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal"))
        else:
            rows = connection.execute(sa.text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
        return {(table, name) for table, name in rows}


def expected_triggers(dialect: str) -> set[tuple[str, str]]:
    suffixes = ("append_only", "no_truncate") if dialect == "postgresql" else ("no_update", "no_delete")
    return {(table, f"{table}_{suffix}") for table in APPEND_ONLY_TABLES for suffix in suffixes}


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    url, cleanup = new_empty_database(request.param, tmp_path)
    yield url
    cleanup()


@pytest.fixture(scope="module", params=BACKENDS)
def migrated_engine(request, tmp_path_factory):
    """A database migrated to head by `cookiegate db upgrade`, shared by this module's checks."""
    instance = tmp_path_factory.mktemp(f"migrated-{request.param}")
    url, cleanup = new_empty_database(request.param, instance)
    assert_ok(run_cookiegate(["db", "upgrade"], database_url=url, instance=instance))
    engine = make_engine(url)
    yield engine
    engine.dispose()
    cleanup()


def test_cli_upgrade_downgrade_upgrade(empty_database, tmp_path):
    engine = make_engine(empty_database)
    try:
        assert app_tables(engine) == set()

        assert_ok(run_cookiegate(["db", "upgrade"], database_url=empty_database, instance=tmp_path))
        assert current_revision(engine) == head_revision()
        assert app_tables(engine) >= set(db.metadata.tables)
        assert (tmp_path / "ledger-ed25519.pem").exists() and (tmp_path / "secret_key").exists()

        assert_ok(run_cookiegate(["db", "downgrade", "base"], database_url=empty_database, instance=tmp_path))
        assert current_revision(engine) is None
        assert app_tables(engine) == set()
        assert trigger_names(engine) == set()

        assert_ok(run_cookiegate(["db", "upgrade"], database_url=empty_database, instance=tmp_path))
        assert current_revision(engine) == head_revision()
        assert app_tables(engine) >= set(db.metadata.tables)
    finally:
        engine.dispose()


def schema_differences(engine: sa.Engine, metadata: sa.MetaData) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, metadata)


def test_models_match_the_migrations(migrated_engine):
    """A model change without its migration shows up here: write one with `cookiegate db migrate`."""
    differences = schema_differences(migrated_engine, db.metadata)
    assert differences == [], "the models differ from the migrated schema:\n" + "\n".join(map(str, differences))


def test_drift_check_notices_an_unmigrated_model_change(migrated_engine):
    """The check above is not vacuous: a column added to the models only is reported."""
    changed = sa.MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["site"].append_column(sa.Column("unmigrated", sa.Integer, nullable=True))

    differences = schema_differences(migrated_engine, changed)
    assert [(diff[0], diff[2], diff[3].name) for diff in differences] == [("add_column", "site", "unmigrated")]


def test_append_only_triggers_are_installed(migrated_engine):
    dialect = migrated_engine.dialect.name
    assert expected_triggers(dialect) <= trigger_names(migrated_engine)


def test_append_only_triggers_refuse_changes(migrated_engine):
    site, notice = db.metadata.tables["site"], db.metadata.tables["notice"]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    slug = f"migrations-{migrated_engine.dialect.name}"
    with migrated_engine.begin() as connection:
        site_id = connection.execute(site.insert().values(
            slug=slug, name="Migrations", default_language="en", languages=["en"],
            consent_lifetime_days=365, analytics_exempt=False, allowed_origins=[],
            policy_version="1", controller={}, texts={}, created_at=now).returning(site.c.id)).scalar_one()
        connection.execute(notice.insert().values(
            site_id=site_id, version=1, sha256=slug.ljust(64, "0"), content="{}", published_at=now))

    for statement in (notice.update().where(notice.c.site_id == site_id).values(content="edited"),
                      notice.delete().where(notice.c.site_id == site_id)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with migrated_engine.begin() as connection:
                connection.execute(statement)
    if migrated_engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with migrated_engine.begin() as connection:
                connection.execute(sa.text("TRUNCATE notice"))

    with migrated_engine.connect() as connection:
        assert connection.execute(sa.select(notice.c.content).where(notice.c.site_id == site_id)).scalar_one() == "{}"
