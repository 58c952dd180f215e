"""The OpenAPI document and its readable page (no third-party assets)."""
from __future__ import annotations

import json

from flask import jsonify, render_template, request

from cookiegate.api.keys import SCOPES
from cookiegate.api.openapi import build_document, openapi_document, resolve_texts
from cookiegate.api.views import bp

METHODS = ("get", "post", "put", "patch", "delete")


def _server_url() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix


@bp.get("/openapi.json")
def openapi_json():
    response = jsonify(openapi_document(_server_url()))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/docs")
def docs():
    document = resolve_texts(build_document(_server_url()))
    operations = [{"method": method.upper(), "path": path, **operation,
                   "body_schema": _pretty(operation.get("requestBody", {}).get("content", {})
                                          .get("application/json", {}).get("schema"))}
                  for path, item in document["paths"].items()
                  for method, operation in item.items() if method in METHODS]
    return render_template("api/docs.html", document=document, operations=operations,
                           scopes={name: str(text) for name, text in SCOPES.items()},
                           schemas={name: _pretty(schema) for name, schema in document["components"]["schemas"].items()},
                           error_responses=document["components"]["responses"])


def _pretty(schema: object) -> str | None:
    return json.dumps(schema, indent=2, ensure_ascii=False) if schema is not None else None
