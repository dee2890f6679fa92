"""Who the client is, behind proxies: `FORWARDED_ALLOW_IPS` and the right-most untrusted hop.

Every proxy appends the address it received a request from to `X-Forwarded-For` (or adds a
`for=` element to `Forwarded`), and a client can put anything it likes in front of those.
So the client's address is found by walking the chain from the right, past the proxies we
trust, to the first hop we do not: that entry was written by a trusted proxy and names who
connected to it. A request whose peer is not trusted carries nothing we can believe, so its
address is the peer's own (the convention of uvicorn's and gunicorn's `forwarded_allow_ips`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed (none by default)."""

    networks: tuple[Network, ...] = ()
    trust_all: bool = False

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """From a comma-separated list of addresses and CIDRs, or `*` (every peer is a proxy).

        ValueError names the entry that is neither.
        """
        networks: list[Network] = []
        trust_all = False
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                trust_all = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return cls(tuple(networks), trust_all)

    def __str__(self) -> str:
        entries = [str(n) for n in self.networks] + (["*"] if self.trust_all else [])
        return ",".join(entries)

    def trusts(self, address: Address) -> bool:
        if self.trust_all:
            return True
        # An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def client_address(
        self, peer: str | None, forwarded_for: Iterable[str], forwarded: Iterable[str] = ()
    ) -> str:
        """The client's address, normalised; the peer's unless the peer is a trusted proxy.

        ``forwarded_for`` and ``forwarded`` are the values of every `X-Forwarded-For` and
        `Forwarded` header, in order; `Forwarded` (RFC 7239) wins when both are present.
        """
        peer_address = parse_address(peer)
        if peer_address is None:
            return UNKNOWN
        if not self.trusts(peer_address):
            return str(peer_address)
        hops = _forwarded_hops(forwarded) or _list_hops(forwarded_for)
        client = peer_address
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                # Not an address (`unknown`, an obfuscated name, garbage): nothing beyond it can
                # be believed, and it names nobody; the last hop we could read stands.
                break
            client = address
            if not self.trusts(address):
                break
        return str(client)


@functools.lru_cache(maxsize=4096)
def parse_address(text: str | None) -> Address | None:
    """An IP address from a header hop or a peer: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `"::1"`.

    Cached: the same peers and hops come back with every request of a connection, and
    parsing one costs more than the rest of the access-log line.
    """
    if not text:
        return None
    value = text.strip().strip('"')
    if value.startswith("["):  # [v6] or [v6]:port
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # v4:port (a bare v6 address has several colons)
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value.partition("%")[0])  # no zone ids in keys
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _list_hops(values: Iterable[str]) -> list[str]:
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


def _forwarded_hops(values: Iterable[str]) -> list[str]:
    """The `for=` of every element of `Forwarded` headers, in order (an element without one is
    a hop we cannot read, kept so that the walk stops there)."""
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                name, _, content = pair.strip().partition("=")
                if name.lower() == "for":
                    found = content
            hops.append(found)
    return [] if all(not hop for hop in hops) else hops


def _parse_setting(value: object) -> object:
    return TrustedProxies.parse(value) if isinstance(value, str) else value


# The type of a FORWARDED_ALLOW_IPS setting: read as the comma-separated text, not JSON.
ProxiesSetting = Annotated[TrustedProxies, NoDecode, BeforeValidator(_parse_setting)]
