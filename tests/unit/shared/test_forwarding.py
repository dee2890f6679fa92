"""The client behind proxies: X-Forwarded-For and Forwarded believed from trusted peers only."""

from __future__ import annotations

import pytest

from shared.runtime.forwarding import TrustedProxies

NONE = TrustedProxies()
LB = TrustedProxies.parse("10.0.0.0/8")
TWO_HOPS = TrustedProxies.parse("10.0.0.0/8, 192.168.1.1")


@pytest.mark.parametrize(
    ("proxies", "peer", "xff", "expected"),
    [
        # No proxy trusted (the default): whatever the headers say, the peer is the client.
        (NONE, "203.0.113.9", ["6.6.6.6"], "203.0.113.9"),
        (NONE, "10.0.0.2", ["198.51.100.7"], "10.0.0.2"),
        # A trusted peer: the right-most entry it did not itself trust.
        (LB, "10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        (LB, "10.0.0.2", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # a spoofed left part
        (LB, "10.0.0.2", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # several headers
        (TWO_HOPS, "10.0.0.2", ["6.6.6.6, 198.51.100.7, 192.168.1.1"], "198.51.100.7"),
        # Only proxies in the chain: the left-most is as far as we can see.
        (LB, "10.0.0.2", ["10.1.1.1, 10.2.2.2"], "10.1.1.1"),
        # An untrusted peer's headers are ignored, even if they name a trusted proxy.
        (LB, "198.51.100.7", ["10.0.0.5"], "198.51.100.7"),
        # A trusted peer that forwarded nothing: the peer itself.
        (LB, "10.0.0.2", [], "10.0.0.2"),
        # A hop that is not an address stops the walk at the last readable one.
        (LB, "10.0.0.2", ["6.6.6.6, garbage"], "10.0.0.2"),
        (LB, "10.0.0.2", ["6.6.6.6, unknown, 10.3.3.3"], "10.3.3.3"),
        # Ports and brackets as some proxies write them; addresses normalised.
        (LB, "10.0.0.2", ["198.51.100.7:5000"], "198.51.100.7"),
        (LB, "10.0.0.2", ["[2001:DB8::0:1]:443"], "2001:db8::1"),
        (LB, "10.0.0.2", ["2001:db8::1"], "2001:db8::1"),
        # IPv4 peers on a dual-stack socket.
        (LB, "::ffff:10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        (NONE, "::ffff:198.51.100.7", [], "198.51.100.7"),
        # `*`: every peer is a proxy (a platform load balancer with unknown addresses).
        (TrustedProxies.parse("*"), "203.0.113.1", ["6.6.6.6, 198.51.100.7"], "6.6.6.6"),
        # No peer at all (a unix socket): nothing to key on.
        (LB, None, ["198.51.100.7"], "unknown"),
    ],
)
def test_client_is_the_rightmost_untrusted_hop(proxies, peer, xff, expected):
    assert proxies.client_address(peer, xff) == expected


def test_forwarded_header_wins_over_x_forwarded_for():
    forwarded = ['for=6.6.6.6;proto=https, for="[2001:db8::7]:8443";by=10.0.0.2']
    assert LB.client_address("10.0.0.2", ["198.51.100.7"], forwarded) == "2001:db8::7"
    # A Forwarded header without any `for` does not hide X-Forwarded-For.
    assert LB.client_address("10.0.0.2", ["198.51.100.7"], ["proto=https"]) == "198.51.100.7"


@pytest.mark.parametrize(
    ("text", "trusted", "untrusted"),
    [
        ("", [], ["127.0.0.1"]),
        ("127.0.0.1, ::1", ["127.0.0.1", "::1"], ["127.0.0.2", "::2"]),
        ("172.16.0.0/12,", ["172.31.255.254"], ["172.32.0.1"]),
        ("10.1.2.3/8", ["10.200.0.1"], ["11.0.0.1"]),  # host bits allowed, as in uvicorn
    ],
)
def test_parse(text, trusted, untrusted):
    proxies = TrustedProxies.parse(text)
    for address in trusted:
        assert proxies.client_address(address, ["198.51.100.7"]) == "198.51.100.7", address
    for address in untrusted:
        assert proxies.client_address(address, ["198.51.100.7"]) == address, address


@pytest.mark.parametrize("text", ["localhost", "10.0.0.0/33", "1.2.3.4.5", "10.0.0.1 10.0.0.2"])
def test_parse_refuses_what_is_not_an_address(text):
    with pytest.raises(ValueError, match="is not an IP address or CIDR"):
        TrustedProxies.parse(text)


def test_settings_read_the_list(monkeypatch):
    from gateway.settings import GatewaySettings

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 127.0.0.1")
    assert GatewaySettings().forwarded_allow_ips == TrustedProxies.parse("10.0.0.0/8,127.0.0.1")
    monkeypatch.delenv("FORWARDED_ALLOW_IPS")
    assert GatewaySettings().forwarded_allow_ips == NONE  # trust no proxy unless told
