"""Which databases the suite runs on: PostgreSQL is skipped when absent, except under CI=true."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = '''
def test_uses_the_database(app_ctx):
    pass
'''


def run_probe(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    """Run a one-test file on both backends with PostgreSQL pointed at a closed port."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    env["COOKIEGATE_TEST_PG"] = "postgresql://postgres@127.0.0.1:9/postgres"  # nothing listens on 9
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if ci:
        env["CI"] = "true"
    # The project's fixtures as a plugin: the probe itself stays out of the repository.
    return subprocess.run([sys.executable, "-m", "pytest", str(probe), "-q", "-p", "tests.conftest",
                           "-p", "no:cacheprovider", "-p", "no:xdist", "-rs", f"--rootdir={tmp_path}",
                           f"--basetemp={tmp_path / 'run'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_missing_postgres_is_skipped_locally(tmp_path):
    result = run_probe(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "PostgreSQL does not answer" in result.stdout


def test_missing_postgres_fails_under_ci(tmp_path):
    result = run_probe(tmp_path, ci=True)
    assert result.returncode != 0
    assert "under CI=true it is required" in result.stdout
