"""The setup contract: the README starts with the run and the test command, both work, and CI
runs exactly the test command.

    run:   pip install -e . && cookiegate demo
    test:  bash scripts/test        (what .ci/run executes)
"""
from __future__ import annotations

import ast
import configparser
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


ROOT = Path(__file__).resolve().parent.parent
RUN_COMMAND = "pip install -e . && cookiegate demo"
TEST_COMMAND = "bash scripts/test"
DEMO_SITES = ("petite-vie", "les-fleurs")
INSTALL_AND_START_SECONDS = 300


def readme_commands() -> list[str]:
    """The command lines of the README's first fenced code block, trailing comments removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no fenced code block"
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in block.group(1).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def script_lines(path: Path) -> list[str]:
    """The lines of a shell script that do something (no shebang, comments or blank lines)."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the settings that would point a child at another install,
    database or instance folder."""
    dropped = ("COOKIEGATE_", "FLASK_", "PYTEST_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if not name.startswith(dropped)}
    env.update(extra)
    return env


def test_readme_starts_with_the_run_and_the_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# "), "README.md starts with its title line"
    assert readme_commands()[:2] == [RUN_COMMAND, TEST_COMMAND]


def test_ci_runs_exactly_the_readme_test_command():
    path = ROOT / ".ci" / "run"
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    lines = script_lines(path)
    assert "set -euo pipefail" in lines
    assert lines[-1] == f"exec {readme_commands()[1]}"


def test_ci_run_executes_the_test_command_from_the_repository_root(tmp_path):
    """Run .ci/run from elsewhere with a stand-in `bash` that records where and with what it ran."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "record"
    fake_bash = fake_bin / "bash"
    fake_bash.write_text(f'#!/bin/sh\nprintf "%s\\n" "$PWD" "$*" > "{record}"\n')
    fake_bash.chmod(0o755)
    real_bash = shutil.which("bash")
    result = subprocess.run([real_bash, str(ROOT / ".ci" / "run")], cwd=tmp_path, stdin=subprocess.DEVNULL,
                            env=clean_env(PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}", CI="true"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    cwd, args = record.read_text().splitlines()
    assert Path(cwd).resolve() == ROOT
    assert f"bash {args}" == TEST_COMMAND


def test_test_script_installs_chromium_only_through_apt():
    code = "\n".join(script_lines(ROOT / "scripts" / "test"))
    assert "set -euo pipefail" in code
    assert "[ ! -x /usr/bin/chromium ]" in code and "apt-get install -y" in code
    assert "playwright install" not in code


def test_test_script_fails_when_no_test_is_collected(tmp_path):
    """pytest's exit 5 (nothing collected) is a failure of scripts/test, not a pass."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test"), str(ROOT / "tests" / "test_setup.py"),
         "-n", "0", "-p", "no:cacheprovider", "-k", "no_test_has_this_name"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, env=clean_env(COOKIEGATE_TEST_NO_INSTALL="1"),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "scripts/test: FAILED (no tests were collected)" in result.stdout


def two_free_ports() -> int:
    """A port p with p + 1 free too: the demo serves its shop pages on the next port."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports")


def imported_modules(directory: Path) -> set[str]:
    """Top-level modules the Python files under `directory` import (import statements and __import__("...") calls)."""
    found: set[str] = set()
    for path in directory.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                  in ("__import__", "import_module", "importorskip") and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value.split(".")[0])
    return found


def declared_distributions() -> set[str]:
    """install_requires and the test extra of setup.cfg, with what they require in turn."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    pending = [Requirement(line).name for option in ("options", "options.extras_require")
               for line in config[option]["install_requires" if option == "options" else "test"].splitlines()
               if line.strip()]
    seen: set[str] = set()
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            pending.extend(Requirement(line).name for line in metadata.requires(name) or [])
        except metadata.PackageNotFoundError:
            pass
    return seen


def test_test_extras_provide_every_module_the_tests_import():
    """A fresh CI machine gets only `pip install -e '.[test]'`: whatever the tests import must
    come from install_requires or the test extra of setup.cfg."""
    local = {"tests", "cookiegate", "__future__"} | set(sys.stdlib_module_names)
    providers = metadata.packages_distributions()
    declared = declared_distributions()
    missing = {module: providers.get(module, ["(not installed)"])
               for module in sorted(imported_modules(ROOT / "tests") - local)
               if not declared & {canonicalize_name(dist) for dist in providers.get(module, [])}}
    assert not missing, f"imported by tests but not declared in setup.cfg (test extra): {missing}"


def test_install_requires_names_every_package_the_code_imports():
    """What cookiegate's own code imports is named in install_requires itself, not only reached
    through another package (which may drop it in any release), so its version bounds are ours."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    direct = {canonicalize_name(Requirement(line).name)
              for line in config["options"]["install_requires"].splitlines() if line.strip()}
    local = {"cookiegate", "__future__"} | set(sys.stdlib_module_names)
    providers = metadata.packages_distributions()
    missing = {module: providers.get(module, ["(not installed)"])
               for module in sorted(imported_modules(ROOT / "cookiegate") - local)
               if not direct & {canonicalize_name(dist) for dist in providers.get(module, [])}}
    assert not missing, f"imported by cookiegate but not named in install_requires: {missing}"


def get_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@pytest.mark.slow
def test_run_command_serves_the_demo_from_a_fresh_venv(tmp_path):
    """The README's run command, verbatim, in a brand-new venv (everything from PyPI), with only
    SQLite: both demo shops' privacy centres answer, and their shop pages on the next port."""
    venv, instance, log_path = tmp_path / "venv", tmp_path / "instance", tmp_path / "demo.log"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    port = two_free_ports()
    env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv),
                    COOKIEGATE_INSTANCE_PATH=str(instance), PIP_DISABLE_PIP_VERSION_CHECK="1")
    with log_path.open("w") as log:
        process = subprocess.Popen(["bash", "-c", f"{readme_commands()[0]} --port {port}"], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + INSTALL_AND_START_SECONDS
        pending = [f"/s/{slug}/" for slug in DEMO_SITES]
        statuses: dict[str, int | None] = {}
        while pending and time.monotonic() < deadline and process.poll() is None:
            statuses = {path: get_status(port, path) for path in pending}
            pending = [path for path, status in statuses.items() if status != 200]
            if pending:
                time.sleep(1)
        log_text = log_path.read_text(errors="replace")[-4000:]
        assert process.poll() is None, f"the run command exited {process.returncode}:\n{log_text}"
        assert not pending, f"not 200 within {INSTALL_AND_START_SECONDS}s: {statuses}\n{log_text}"
        assert (instance / "cookiegate.db").exists(), "the demo keeps its SQLite database in the instance folder"
        for slug in DEMO_SITES:  # the shops' own pages, on the next port (another origin), embed the banner
            assert get_status(port + 1, f"/{slug}/") == 200, log_text
            assert get_status(port, f"/s/{slug}/banner.js") == 200, log_text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        shutil.rmtree(venv, ignore_errors=True)
