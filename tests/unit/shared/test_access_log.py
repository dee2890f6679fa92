"""The access log writes the same JSON lines as every other log line, only cheaper."""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.runtime import access_log
from shared.runtime.access_log import AccessLog
from shared.runtime.logs import JsonFormatter

FIELDS: dict[str, Any] = {
    "method": "POST",
    "route": "/api/v1/sales/{sale_id}/purchases",
    "status": 202,
    "request_id": 'a"quoted\\id',  # visible ASCII may need escaping
    "client": "2001:db8::1",
}


def test_a_line_has_the_shape_the_json_formatter_gives(capsys):
    log = AccessLog("gateway")
    log.record(seconds=0.0012345, **FIELDS)
    log.flush()
    text = capsys.readouterr().out
    assert text.endswith("\n") and text.count("\n") == 1
    line = json.loads(text)

    record = logging.makeLogRecord(
        {"name": "access", "levelno": logging.INFO, "levelname": "INFO", "msg": "request"}
    )
    for key, value in {**FIELDS, "duration_ms": 1.234}.items():
        setattr(record, key, value)
    expected = json.loads(JsonFormatter("gateway").format(record))
    assert list(line) == list(expected)  # the same keys in the same order
    assert {k: v for k, v in line.items() if k != "ts"} == {
        k: v for k, v in expected.items() if k != "ts"
    }
    assert line["ts"].endswith("Z") and len(line["ts"]) == len(expected["ts"])


def test_lines_wait_for_a_flush_unless_too_many(capsys, monkeypatch):
    monkeypatch.setattr(access_log, "_MAX_PENDING", 3)
    log = AccessLog("auth_service")
    log.record(seconds=0.001, **FIELDS)
    log.record(seconds=0.001, **FIELDS)
    assert capsys.readouterr().out == ""
    log.record(seconds=0.001, **FIELDS)
    assert capsys.readouterr().out.count("\n") == 3
    log.flush()  # nothing left
    assert capsys.readouterr().out == ""
