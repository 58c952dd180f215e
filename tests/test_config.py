"""Secrets created at first start: one complete value, private, even when workers race."""
from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

from cookiegate.config import ensure_secret, read_or_create_secret
from cookiegate.ledger.keys import load_keys


def test_racing_first_starts_all_read_the_one_secret_that_won(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(lambda n: read_or_create_secret(path, lambda: f"secret-{n}" * 100), range(32)))
    assert len(set(seen)) == 1 and seen[0] == path.read_text()  # complete, never a torn write
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no drafts left behind


def test_existing_secret_is_kept(tmp_path):
    first = ensure_secret(tmp_path / "secret_key")
    assert len(first) == 64 and ensure_secret(tmp_path / "secret_key") == first


def test_workers_starting_together_share_one_ledger_key(tmp_path):
    path = tmp_path / "ledger-ed25519.pem"
    with ThreadPoolExecutor(8) as pool:
        key_ids = set(pool.map(lambda _: load_keys(pem=None, path=path).key_id, range(16)))
    assert len(key_ids) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
