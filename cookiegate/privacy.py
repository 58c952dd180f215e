"""Minimising what we store about a visitor: truncated addresses, user-agent families."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from ua_parser import parse as parse_user_agent


def truncate_ip(address: str | None) -> str | None:
    """Keep the network, drop the host: IPv4 to /24, IPv6 to /48 (as analytics tools do)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


@lru_cache(maxsize=4096)
def user_agent_family(user_agent: str | None) -> str | None:
    """'Chrome 120', 'Firefox 131', 'Other': the browser and major version, nothing finer."""
    if not user_agent:
        return None
    parsed = parse_user_agent(user_agent[:512]).user_agent
    if parsed is None:
        return "Other"
    return f"{parsed.family} {parsed.major}" if parsed.major else parsed.family
