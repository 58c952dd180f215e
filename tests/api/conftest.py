"""API test fixtures: a site with keys, and a client that talks real HTTP to the live server and
checks every response against the published OpenAPI document."""
from __future__ import annotations

from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from cookiegate.api.keys import SCOPES, create_api_key
from tests.factories import make_site

ALL_SCOPES = sorted(SCOPES)


@pytest.fixture(scope="session")
def openapi_doc(live_server) -> dict[str, Any]:
    """The document exactly as the server publishes it."""
    response = requests.get(live_server.url + "/api/v1/openapi.json", timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="session")
def openapi_spec(openapi_doc) -> OpenAPI:
    return OpenAPI.from_dict(openapi_doc)


class Api:
    """Real HTTP to /api/v1 with a bearer token; each response is validated against the
    OpenAPI document (status, headers, body schema) unless validate=False."""

    def __init__(self, base_url: str, token: str | None, spec: OpenAPI):
        self.base_url, self.token, self.spec = base_url, token, spec
        self.session = requests.Session()

    def with_token(self, token: str | None) -> "Api":
        return Api(self.base_url, token, self.spec)

    def call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
             headers: dict | None = None, data: bytes | None = None, validate: bool = True,
             token: str | None | bool = True) -> requests.Response:
        sent = dict(headers or {})
        bearer = self.token if token is True else token
        if bearer:
            sent.setdefault("Authorization", f"Bearer {bearer}")
        response = self.session.request(method, self.base_url + "/api/v1" + path, json=json, params=params,
                                        headers=sent, data=data, timeout=60)
        if validate:
            self.validate(response)
        return response

    def validate(self, response: requests.Response) -> None:
        self.spec.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api_site(app_ctx):
    """A fresh site of its own for each test."""
    return make_site()


def make_token(site, scopes: list[str] | None = None, label: str = "test") -> str:
    return create_api_key(site=site, scopes=scopes or ALL_SCOPES, label=label).token


@pytest.fixture
def api(live_server, openapi_spec, api_site) -> Api:
    """A client for api_site holding a key with every scope."""
    return Api(live_server.url, make_token(api_site), openapi_spec)
