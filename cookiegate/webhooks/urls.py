"""Where webhooks may point, and the HTTP session that delivers to them.

A webhook URL is https (http only when WEBHOOK_ALLOW_HTTP is on) with a host name, and by
default every address the host resolves to must be public: no loopback, private, link-local,
shared, multicast or reserved address (WEBHOOK_ALLOW_PRIVATE_URLS lifts that, for tests and
closed networks). It is checked at registration and again at every connection: the delivering
session resolves the name itself, checks each address and connects only to an address it has
just checked, so a name re-pointed at an internal address later (DNS rebinding) gets nowhere.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable
from urllib.parse import urlsplit

import requests
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

MAX_URL_LENGTH = 2000


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_allowed(address: str) -> bool:
    """True for a public unicast address. IPv6 forms of an IPv4 address (mapped, 6to4, NAT64)
    are judged by the IPv4 address inside."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name (or literal) stands for; socket.gaierror if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def url_problem(url: object, *, allow_http: bool, allow_private: bool,
                check_addresses: bool = True) -> LazyString | None:
    """What is wrong with a webhook URL, or None. check_addresses=False skips the DNS lookup
    (the delivering session checks the addresses as it connects)."""
    if not isinstance(url, str) or not url:
        return _l("required: an https URL")
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return _l("at most %(count)d characters, without spaces", count=MAX_URL_LENGTH)
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return _l("not a valid URL")
    if parts.scheme.lower() not in (("http", "https") if allow_http else ("https",)):
        return _l("must start with https://") if not allow_http else _l("must start with https:// or http://")
    if not parts.hostname:
        return _l("must name a host")
    if parts.username is not None or parts.password is not None:
        return _l("must not hold credentials: check the signature instead")
    if parts.fragment:
        return _l("must not have a #fragment")
    if not check_addresses:
        return None
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError, ValueError):
        return _l("the host name does not resolve")
    if not allow_private and not all(address_allowed(address) for address in addresses):
        return _l("points to a loopback, private, link-local or reserved address")
    return None


class _CheckedConnection(HTTPConnection):
    """Connects only to addresses of the host that pass `address_ok` (TLS still verifies the
    host name: only the address connected to is pinned)."""

    address_ok: Callable[[str], bool] = staticmethod(address_allowed)

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = resolve(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        refused = [address for address in addresses if not self.address_ok(address)]
        if refused:
            raise NewConnectionError(self, f"refused: {name} resolves to a non-public address {refused[0]}")
        error: Exception | None = None
        for address in addresses:
            self._dns_host = address
            try:
                return super()._new_conn()
            except (NewConnectionError, ConnectTimeoutError) as exc:  # try the host's next address
                error = exc
            finally:
                self._dns_host = name
        raise error or NewConnectionError(self, f"no address for {name}")


class _CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class _CheckedPoolMixin:
    address_ok: Callable[[str], bool] = staticmethod(address_allowed)

    def _new_conn(self):
        connection = super()._new_conn()
        connection.address_ok = self.address_ok
        return connection


class _CheckedPool(_CheckedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _CheckedConnection


class _CheckedHTTPSPool(_CheckedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def __init__(self, address_ok: Callable[[str], bool]):
        self.address_ok = address_ok  # set first: HTTPAdapter.__init__ builds the pool manager
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        check = {"address_ok": staticmethod(self.address_ok)}
        self.poolmanager.pool_classes_by_scheme = {"http": type("CheckedPool", (_CheckedPool,), check),
                                                   "https": type("CheckedHTTPSPool", (_CheckedHTTPSPool,), check)}


def delivery_session(*, allow_private: bool,
                     address_ok: Callable[[str], bool] = address_allowed) -> requests.Session:
    """A session for deliveries: no proxies or .netrc from the environment (a proxy would
    connect on our behalf, unchecked) and, unless allow_private, connections only to addresses
    that pass address_ok (by default: public ones)."""
    session = requests.Session()
    session.trust_env = False
    if not allow_private:
        session.mount("http://", _CheckedAdapter(address_ok))
        session.mount("https://", _CheckedAdapter(address_ok))
    return session
