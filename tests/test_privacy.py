"""Minimisation of what is stored about a visitor."""
from __future__ import annotations

import pytest

from cookiegate.privacy import truncate_ip, user_agent_family


@pytest.mark.parametrize("address, kept", [
    ("203.0.113.77", "203.0.113.0"), (" 198.51.100.255 ", "198.51.100.0"), ("127.0.0.1", "127.0.0.0"),
    ("2001:db8:1234:5678::1", "2001:db8:1234::"), ("2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::"),
    ("::ffff:198.51.100.7", "198.51.100.0"), ("fe80::1%eth0", "fe80::"), ("::1", "::"),
    ("", None), (None, None), ("garbage", None), ("1.2.3", None), ("300.1.1.1", None), ("1.2.3.4.5", None)])
def test_addresses_are_cut_to_their_network(address, kept):
    assert truncate_ip(address) == kept


def test_user_agent_is_reduced_to_browser_and_major_version():
    chrome = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.6099.71 Safari/537.36")
    assert user_agent_family(chrome) == "Chrome 120"
    assert user_agent_family("") is None
    assert user_agent_family("curl/8.5.0") == "curl 8"


def test_user_agents_are_parsed_by_the_compiled_resolver():
    """Every new user agent is parsed on the recording path: without ua-parser-rs, ua-parser
    falls back to hundreds of Python regular expressions, some 1.5 ms per new browser string."""
    import ua_parser
    from ua_parser.regex import Resolver

    resolver = ua_parser.parser.resolver
    assert isinstance(getattr(resolver, "parser", resolver), Resolver)  # behind ua-parser's own cache
    assert user_agent_family("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0") == "Firefox 132"
