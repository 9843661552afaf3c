"""The client's address: the TCP peer, or what trusted proxies forwarded.

Behind Caddy or an ingress the peer is the proxy, so every caller would share one address (and one login
bucket). `X-Forwarded-For` is believed only when the peer is in TRUSTED_PROXIES, and then read from the right:
each hop appends the address it saw, so the first address from the right that is not a trusted proxy is the
client (anything left of it was written by the client and may be forged).
"""

from __future__ import annotations

import ipaddress

from litestar import Request

from service.settings import Settings, proxy_networks


def client_address(request: Request, settings: Settings) -> str:
    peer = request.client.host if request.client else "unknown"
    networks = proxy_networks(settings.trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getall("x-forwarded-for", []) for hop in value.split(",")]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop if _address(hop) is not None else peer  # garbage from the proxy: key on the proxy
    return peer


def subscriber(address: str) -> str:
    """What one subscriber holds, for a rate limit's key: an IPv4 address, or the /64 network of an IPv6 one (one
    home or phone is given a whole /64 and may use any address in it)."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(text: str, networks: tuple) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)
