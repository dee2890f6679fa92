"""The bench's light stream client: what it reads from a sale stream, and its figures."""

from __future__ import annotations

import asyncio
import math
import socket
import time

from bench import stream_load
from bench.stream_load import SaleStream, Viewers, sources, summarise

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _event(version: int, remaining: int) -> bytes:
    data = f'{{"sale_id":"s","remaining":{remaining},"state":"open"}}'
    return _chunk(f"id: {version}\nevent: sale\ndata: {data}\n\n".encode())


async def test_a_stream_keeps_the_latest_remaining_however_the_bytes_are_split() -> None:
    wire = HEAD + _event(1, 10) + _chunk(b": keep-alive\n\n") + _event(2, 7) + _event(3, 0)
    for size in (1, 3, 7, 64, len(wire)):
        head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        stream = SaleStream(head)
        for at in range(0, len(wire), size):
            stream.data_received(wire[at : at + size])
        assert head.result() == 200
        assert stream.events == 3  # the heartbeat is not an event
        assert stream.remaining == 0
        assert stream.arrived_at == stream.read_at > 0  # no kernel time given: the read's


async def test_the_time_of_a_value_is_when_it_first_arrived() -> None:
    head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stream = SaleStream(head)
    stream.data_received(HEAD + _event(1, 0), arrived=100.0)
    assert stream.arrived_at == 100.0  # the kernel's time, not the (later) read's
    assert stream.read_at > 100.0
    stream.data_received(_event(2, 0), arrived=101.0)  # a newer version, the same remaining
    assert stream.arrived_at == 100.0
    assert stream.events == 2


async def test_a_socket_read_carries_the_kernels_receive_time() -> None:
    server, client = _tcp_pair()
    try:
        head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        stream = SaleStream(head)
        client.setsockopt(socket.SOL_SOCKET, stream_load.SO_TIMESTAMPNS, 1)
        client.setblocking(False)
        stream.sock = client
        poller = stream_load.Poller()
        poller.watch(stream)
        # Linux turns receive stamping on for the system a moment after the first socket asks
        # (deferred work); until then a read is stamped when it is read. So the first values
        # may carry the read time; within a few, one must carry its arrival.
        server.sendall(HEAD)
        for remaining in range(5, 0, -1):
            server.sendall(_event(6 - remaining, remaining))
            sent = time.time()
            await asyncio.sleep(0.2)  # a worker reads in batches, late
            poller.read_ready()
            await asyncio.wait_for(head, 5)
            assert stream.remaining == remaining
            if abs(stream.arrived_at - sent) < 0.05:
                break
        assert abs(stream.arrived_at - sent) < 0.05  # when it arrived, not when it was read
        assert stream.read_at - stream.arrived_at >= 0.15
        server.close()  # the server went away: recorded, and the socket closed
        for _ in range(100):
            poller.read_ready()
            if stream.sock is None:
                break
            await asyncio.sleep(0.01)
        assert stream.ended == "closed by the server"
        assert poller._streams == {}  # forgotten
    finally:
        for s in (server, client):
            s.close()


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


async def test_an_error_status_is_reported_and_a_lost_connection_is_recorded() -> None:
    head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stream = SaleStream(head)
    stream.data_received(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert head.result() == 404
    waiting: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    lost = SaleStream(waiting)
    lost.connection_lost(ConnectionResetError("reset"))
    assert isinstance(waiting.exception(), ConnectionError)
    assert lost.ended is not None


def test_streams_are_shared_among_workers_under_the_open_files_limit() -> None:
    viewers = Viewers("127.0.0.1", 1, "s", 50_000, redis_url="redis://x", channel="c")
    shares = viewers.shares()
    assert sum(shares) == 50_000
    assert len(shares) >= 4
    assert max(shares) <= stream_load.PER_WORKER < 19_000
    assert Viewers("127.0.0.1", 1, "s", 10, redis_url="", channel="").shares() == [10]


def test_each_worker_connects_from_a_loopback_address_of_its_own() -> None:
    found = sources(600)
    assert len(set(found)) == 600
    assert all(a.startswith("127.") and a != "127.0.0.1" for a in found)


def _report(seen: list[float], *, opened: int, failed: int = 0) -> dict[str, object]:
    return {
        "opened": opened,
        "holding": opened - failed,
        "failed": failed,
        "errors": {"ended: closed by the server": failed} if failed else {},
        "events": 3 * opened,
        "with_final": len(seen),
        "seen_final_at": seen,
        "read_final_at": [t + 0.5 for t in seen],
        "cpu_seconds": 1.0,
        "max_rss_mb": 50.0,
    }


def test_lag_is_counted_from_the_last_change_and_a_stream_without_the_final_value_is_slowest() -> (
    None
):
    opened = [_report([], opened=100), _report([], opened=100)]
    reports = [_report([10.1] * 100, opened=100), _report([10.3] * 99, opened=100, failed=1)]
    seen = summarise(200, opened, reports, {"last_change": 10.0, "messages": 5}, 0)
    assert seen["opened"] == 200
    assert seen["failed"] == 1
    assert seen["with_final_value"] == 199
    assert math.isclose(seen["fanout_p50_s"], 0.1, abs_tol=1e-9)
    assert math.isclose(seen["fanout_read_p50_s"], 0.6, abs_tol=1e-9)  # reported beside it
    assert seen["fanout_max_s"] == math.inf
    everyone = summarise(
        200, opened, [_report([10.1] * 100, opened=100)] * 2, {"last_change": 10.0}, 0
    )
    assert everyone["failed"] == 0
    assert math.isclose(everyone["fanout_p99_s"], 0.1, abs_tol=1e-9)


def test_streams_that_never_opened_are_failed() -> None:
    opened = [_report([], opened=90)]
    seen = summarise(100, opened, [_report([1.0] * 90, opened=90)], {"last_change": 1.0}, 0)
    assert seen["failed"] == 10
