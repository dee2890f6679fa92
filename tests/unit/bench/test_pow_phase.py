"""bench/pow.py: the pre-encoded purchases of the pow phase carry their solution."""

from bench.client import encode_request
from bench.pow import with_header


def test_with_header_adds_the_header_and_keeps_the_body():
    request = encode_request("POST", "/p", host="h", token="t", body=b"{}")
    added = with_header(request, "X-PoW-Solution", "abc:12")
    head, body = added.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /p HTTP/1.1"
    assert b"X-PoW-Solution: abc:12" in lines
    assert b"Content-Length: 2" in lines
    assert body == b"{}"
