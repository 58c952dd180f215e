"""A bounded schemathesis run against the published OpenAPI document: generated requests (valid
and invalid) to every operation over real HTTP; no 5xx and no response outside the document."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

from tests.api.conftest import make_token
from tests.factories import make_site, record

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="session")
def fuzz_target(app, live_server):
    """A site with a few events and a key with every scope, shared by the whole run."""
    with app.app_context():
        site = make_site()
        for _ in range(3):
            record(site)
        token = make_token(site)
    return live_server.url, token


@pytest.fixture(scope="session")
def api_schema(live_server):
    document = requests.get(live_server.url + "/api/v1/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_document(case, fuzz_target):
    base, token = fuzz_target
    case.call_and_validate(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS)
