"""Webhook test fixtures: permissive URL settings for local receivers, a receiver, cleanup."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.webhooks.helpers import TEST_SETTINGS, configured, disable_all_webhooks
from tests.webhooks.receiver import Receiver


@pytest.fixture
def hook_app(app_ctx):
    """The test's app context, with webhook settings fit for a receiver on 127.0.0.1."""
    with configured(app_ctx, **TEST_SETTINGS):
        yield app_ctx
    disable_all_webhooks(app_ctx)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()
