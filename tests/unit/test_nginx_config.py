"""deploy/nginx/default.conf.template: real nginx accepts it, and it says what the stack needs.

Rendered as the official image renders it (envsubst) and checked with `nginx -t` by Debian's
nginx 1.22, with the values docker-compose.yml gives and with those the tests use. The event
stream settings are read from the rendered file: their effect (no buffering, a stream open for
an hour) is not something a quick test can observe. tests/e2e/test_load_balancer.py runs it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.runtime.service import MAX_BODY_BYTES
from tests.support.nginx import TEMPLATE, VARIABLES, check_config, render
from tests.unit.test_compose import LOAD_BALANCER, environment, parse_duration

ROOT = Path(__file__).resolve().parents[2]
TEST_VALUES = {
    "LB_LISTEN": "127.0.0.1:18080",
    "LB_UPSTREAM": "127.0.0.1:18081",
    "LB_RESOLVER": "127.0.0.1",
}


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None  # what is inside its braces, if it has any

    def find(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def value(self, name: str) -> list[str]:
        """The arguments of the one ``name`` directive in this block."""
        (found,) = self.find(name)
        return found.args

    def location(self, *args: str) -> Directive:
        (found,) = [d for d in self.find("location") if d.args == list(args)]
        return found


_TOKEN = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|#[^\n]*|([^\s{};'"#]+)""")


def parse(text: str) -> Directive:
    """nginx configuration as a tree of directives (enough for this file: no includes)."""
    top: list[Directive] = []
    stack, words = [top], list[str]()
    for match in _TOKEN.finditer(text):
        quoted, double, punct, word = match.groups()
        if punct == "{":
            block: list[Directive] = []
            stack[-1].append(Directive(words[0], words[1:], block))
            stack.append(block)
            words = []
        elif punct == ";":
            stack[-1].append(Directive(words[0], words[1:]))
            words = []
        elif punct == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        elif quoted is not None or double is not None or word is not None:
            words.append(next(x for x in (quoted, double, word) if x is not None))
    assert len(stack) == 1 and not words, "unbalanced braces"
    return Directive("main", [], top)


def server() -> Directive:
    (found,) = parse(render(TEST_VALUES)).find("server")
    return found


def _seconds(text: str) -> float:
    return parse_duration(text if text[-1].isalpha() else text + "s")


def test_the_template_reads_exactly_the_load_balancer_variables():
    # envsubst in the image replaces every variable the container defines (all upper-case):
    # anything else upper-case after a dollar would be replaced too, or left as garbage.
    named = set(re.findall(r"\$\{?([A-Za-z_]\w*)", TEMPLATE.read_text()))
    assert {n for n in named if not n.islower()} == set(VARIABLES)
    assert set(environment(LOAD_BALANCER)) == set(VARIABLES)
    assert "${" not in render(TEST_VALUES)


@pytest.mark.parametrize("source", ["compose", "tests"])
def test_nginx_accepts_the_rendered_template(source):
    values = environment(LOAD_BALANCER) if source == "compose" else TEST_VALUES
    result = check_config(values)
    assert result.returncode == 0, f"nginx -t refused it:\n{result.stderr}"
    assert "test is successful" in result.stderr


def test_event_streams_go_unbuffered_and_stay_open():
    spec = json.loads((ROOT / "gateway" / "openapi.json").read_text())
    streams = [p for p in spec["paths"] if p.endswith("/events")]
    assert sorted(streams) == [
        "/api/v1/sales/{sale_id}/events",
        "/api/v1/tickets/{ticket_id}/events",
    ]
    (events,) = [loc for loc in server().find("location") if loc.args[0] == "~"]
    pattern = re.compile(events.args[1])
    for path in streams:
        assert pattern.search(re.sub(r"\{\w+\}", "0b7e6a40-3f7c-4a55-9a0e-3c2f8d1e9b21", path))
    for other in ("/api/v1/sales", "/api/v1/sales/x/purchases", "/api/v1/tickets/x"):
        assert not pattern.search(other), other
    assert events.value("proxy_buffering") == ["off"]
    assert _seconds(events.value("proxy_read_timeout")[0]) >= 600
    assert events.value("proxy_pass") == server().location("/").value("proxy_pass")


def test_upstream_requests_are_http_11_and_name_the_client_and_request():
    block = server()
    assert block.value("proxy_http_version") == ["1.1"], "the gateway streams in chunks"
    headers = {d.args[0]: d.args[1] for d in block.find("proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Request-ID"] == "$lb_request_id"
    # Locations that set headers of their own would drop all of these.
    assert not any(loc.find("proxy_set_header") for loc in block.find("location"))


def test_the_body_limit_is_the_services_limit():
    (limit,) = server().value("client_max_body_size")
    assert limit == f"{MAX_BODY_BYTES // 1024}k"


def test_the_gateway_is_found_by_dns_at_request_time():
    block = server()
    resolver = block.value("resolver")
    assert resolver[0] == TEST_VALUES["LB_RESOLVER"]
    assert "valid=5s" in resolver
    assert block.value("set") == ["$lb_gateway", TEST_VALUES["LB_UPSTREAM"]]
    for location in block.find("location"):
        if location.args[0] != "@lb_error":
            assert location.value("proxy_pass") == ["http://$lb_gateway"], location.args
