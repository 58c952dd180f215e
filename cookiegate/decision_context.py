"""Where a decision made on one of our own pages came from: the Context the ledger records
(record_consent minimises its address and user agent)."""
from __future__ import annotations

from flask import request

from cookiegate.ledger.record import Context


def request_origin() -> str:
    """scheme://host[:port] of this request, in ASCII as a browser serialises an origin
    (RFC 6454), the form the embedded banner's decisions record from their Origin header.
    request.host_url would turn an IDN host into Unicode, rebuilding the URL to do so."""
    return f"{request.scheme}://{request.host}"


def decision_context(path: str) -> Context:
    """The context of a decision posted to this request: its origin, the page's `path`, the
    client's address and user agent."""
    return Context(origin=request_origin(), path=path, ip=request.remote_addr,
                   user_agent=request.headers.get("User-Agent", ""))
