"""Forwarded headers are believed only from the proxies in front.

With BEHIND_PROXY on, X-Forwarded-Proto decides whether a request counts as HTTPS and
X-Forwarded-For gives the client's address for the login lockout. Any client that
reaches the web process directly (a port left open, another container on the network)
could write them itself, and choose its address; so they are dropped from every request
whose connection does not come from PROXY_ADDRESSES.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@lru_cache(maxsize=4)
def _networks(addresses: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(address.strip(), strict=False) for address in addresses if address.strip())


def from_proxy(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in network for network in _networks(tuple(settings.PROXY_ADDRESSES)))


class ForwardedHeadersFromProxiesOnly:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.BEHIND_PROXY and not from_proxy(request.META.get("REMOTE_ADDR", "")):
            for name in [name for name in request.META if name.startswith("HTTP_X_FORWARDED_")]:
                del request.META[name]
        return self.get_response(request)
