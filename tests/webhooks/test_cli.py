"""`cookiegate webhook add|list|remove` and `cookiegate worker`: in-process through click, and
as real processes (two `worker --once` at the same time; a looping worker stopped by a signal)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from flask.cli import ScriptInfo

from cookiegate.cli import main
from cookiegate.webhooks.services import list_webhooks, register_webhook
from tests.factories import record
from tests.webhooks.helpers import deliveries_of
from tests.webhooks.receiver import signature_valid


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_webhook_add_list_remove(hook_app, site, receiver):
    added = invoke(hook_app, "webhook", "add", "--site", site.slug, "--url", receiver.url)
    assert added.exit_code == 0, added.output
    lines = dict(line.split(":", 1) for line in added.stdout.splitlines())
    webhook_id, secret = lines["id"].strip(), lines["secret"].strip()
    assert lines["events"].split() == ["consent.changed", "consent.withdrawn"] and secret.startswith("whsec_")
    only = invoke(hook_app, "webhook", "add", "--site", site.slug, "--url", receiver.url + "/w",
                  "--event", "consent.withdrawn")
    assert only.exit_code == 0 and "events:  consent.withdrawn\n" in only.stdout

    listed = invoke(hook_app, "webhook", "list", "--site", site.slug)
    assert listed.exit_code == 0 and webhook_id in listed.stdout and receiver.url in listed.stdout
    assert "0 pending" in listed.stdout and secret not in listed.stdout and "whsec_" not in listed.stdout

    removed = invoke(hook_app, "webhook", "remove", "--site", site.slug, webhook_id)
    assert removed.exit_code == 0 and f"removed {webhook_id}" in removed.output
    assert [listed.webhook.url for listed in list_webhooks(site=site)] == [receiver.url + "/w"]
    again = invoke(hook_app, "webhook", "remove", "--site", site.slug, webhook_id)
    assert again.exit_code != 0 and "no webhook" in again.output


@pytest.mark.parametrize("args, message", [
    (["--url", "ftp://example.com/"], "https://"),
    (["--url", "http://127.0.0.1:9/", "--event", "consent.created"], "consent.created"),
])
def test_webhook_add_refuses_bad_input(hook_app, site, args, message):
    result = invoke(hook_app, "webhook", "add", "--site", site.slug, *args)
    assert result.exit_code != 0 and message in result.output
    assert list_webhooks(site=site) == []


def test_webhook_commands_name_an_unknown_site(hook_app):
    result = invoke(hook_app, "webhook", "list", "--site", "no-such-site")
    assert result.exit_code != 0 and "No such site" in result.output


def test_worker_once_delivers(hook_app, site, receiver):
    registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    event = record(site)
    result = invoke(hook_app, "worker", "--once")
    assert result.exit_code == 0, result.output
    # Other tests' events may be sequenced by the same pass: only this webhook's figures are fixed.
    assert re.search(r"sequenced [1-9]\d*, queued 1, delivered 1, failed 0", result.output), result.output
    [received] = receiver.received
    assert received.json["event"]["event_id"] == event.event_id and signature_valid(registered.secret, received)


def cookiegate_command() -> str:
    found = shutil.which("cookiegate", path=str(Path(sys.executable).parent)) or shutil.which("cookiegate")
    if not found:
        pytest.fail("the cookiegate command is not installed: run `pip install -e .`")
    return found


@pytest.fixture
def worker_env(app, database_url, tmp_path) -> dict[str, str]:
    """The environment of a worker process on the test database, with the test app's ledger key."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("COOKIEGATE_", "FLASK_"))}
    env.update(COOKIEGATE_DATABASE_URL=database_url, COOKIEGATE_INSTANCE_PATH=str(tmp_path),
               COOKIEGATE_LEDGER_KEY_FILE=app.config["LEDGER_KEY_FILE"], COOKIEGATE_LEDGER_SEQUENCE_INTERVAL="0",
               COOKIEGATE_WEBHOOK_ALLOW_PRIVATE_URLS="true", COOKIEGATE_WEBHOOK_ALLOW_HTTP="true")
    return env


def test_two_worker_processes_deliver_each_event_once(hook_app, site, receiver, worker_env, tmp_path):
    registered = register_webhook(site=site, url=receiver.url, events=["consent.changed", "consent.withdrawn"])
    events = {record(site).event_id for _ in range(30)}
    workers = [subprocess.Popen([cookiegate_command(), "worker", "--once"], env=worker_env, cwd=tmp_path,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs

    counts = Counter(receiver.keys())
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert {r.json["event"]["event_id"] for r in receiver.received} == events
    assert all(d.delivered_at is not None and d.attempts == 1 for d in deliveries_of(registered.webhook.id))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_looping_worker_delivers_and_stops_cleanly_on_a_signal(hook_app, site, receiver, worker_env,
                                                                 tmp_path, stop_signal):
    register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    worker = subprocess.Popen([cookiegate_command(), "worker", "--interval", "0.1"], env=worker_env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        record(site)
        deadline = time.monotonic() + 60
        while not receiver.received and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert len(receiver.received) == 1
        record(site)  # the running worker picks up later events too
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 2
        worker.send_signal(stop_signal)
        _out, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
