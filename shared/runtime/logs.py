"""JSON logs to stdout, one object per line, with the request id of the work that logs."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from shared.runtime import request_ids

# LogRecord attributes that are plumbing, not context worth printing.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # gmtime and strftime cost more than the rest of a line; one per second is enough.
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__
        for key in sorted(fields.keys() - _RESERVED):  # what the caller passed in `extra`
            if not key.startswith("_"):
                entry[key] = fields[key]
        if "request_id" not in entry:
            request_id = request_ids.current()
            if request_id is not None:
                entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours and the libraries') through one JSON handler on stdout."""
    # The lines print none of these, and finding the caller's file and line walks the stack
    # on every record (the access log writes one per request): the logging HOWTO's
    # "Optimization" switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The AMQP libraries log every reconnect attempt at INFO with large reprs.
    for noisy in ("aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
