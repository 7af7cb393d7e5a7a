"""Test support: a fake ``/ingest`` server the tests control, and the shared vector player.

The vectors' format is in sdk/testdata/README.md; the TypeScript tests play the same files.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[3]
TESTDATA = REPO_ROOT / "sdk" / "testdata"


def read_vectors(folder: str) -> List[Any]:
    return [(p.name, json.loads(p.read_text("utf-8"))) for p in sorted((TESTDATA / folder).glob("*.json"))]


def read_defaults() -> Dict[str, Any]:
    return json.loads((TESTDATA / "defaults.json").read_text("utf-8"))


def sequential_ids() -> Callable[[], str]:
    counter = [0]

    def next_id() -> str:
        counter[0] += 1
        return "00000000-0000-4000-8000-%012d" % counter[0]

    return next_id


def id_number(event_id: str) -> int:
    return int(event_id[-12:])


class FixedClock:
    """A clock that stands still until advanced (epoch milliseconds)."""

    def __init__(self, start_iso: str) -> None:
        m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$", start_iso)
        assert m, start_iso
        y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
        import calendar

        self.ms = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1000 + ms

    def now(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


class ScriptError(Exception):
    pass


# -- the fake server ------------------------------------------------------------------------


class Recorded:
    def __init__(self, at: float, method: str, path: str, headers: Dict[str, str], raw: bytes, body: bytes) -> None:
        self.at = at
        self.method = method
        self.path = path
        self.headers = headers
        self.bytes = len(raw)
        self.json_bytes = len(body)
        try:
            self.events = json.loads(body.decode("utf-8"))["events"]
        except (ValueError, KeyError, TypeError):
            self.events = []


Responder = Callable[[Recorded, int], Dict[str, Any]]


def default_body(status: int, events: int) -> Any:
    if 200 <= status < 300:
        return {"status": "ok", "processed": events}
    return {"statusCode": status, "error": "HTTP %d" % status, "code": "SLUICE_ERR_TEST", "message": "scripted %d" % status}


class FakeIngest:
    """``status: 0`` closes the connection without an answer; ``hang: True`` never answers."""

    def __init__(self, responder: Optional[Responder] = None) -> None:
        self.requests: List[Recorded] = []
        self.responder: Responder = responder or (lambda req, i: {"status": 200})
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                rec = Recorded(time.monotonic(), "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body)
                with fake._lock:
                    fake.requests.append(rec)
                    index = len(fake.requests) - 1
                    fake._lock.notify_all()
                answer = fake.responder(rec, index)
                if answer.get("hang"):
                    fake._stopping.wait()
                    self.close_connection = True
                    return
                status = answer["status"]
                if status == 0:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                payload = json.dumps(answer.get("body", default_body(status, len(rec.events)))).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (answer.get("headers") or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def ids(self) -> List[List[str]]:
        return [[e["id"] for e in r.events] for r in self.requests]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("expected %d requests within %.1f s, got %d" % (n, timeout, len(self.requests)))
                self._lock.wait(remaining)

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


# -- the vector player ----------------------------------------------------------------------


def play(ops: List[Dict[str, Any]], sluice: Any, clock: FixedClock, step: Any = None) -> None:
    """Plays a tracing script through the module-level API of ``sluice`` (sluice_sdk)."""
    for op in ops:
        kind = op["op"]
        if kind == "advance":
            clock.advance(op["ms"])
        elif kind == "run":

            def run_body(op: Dict[str, Any] = op) -> None:
                with sluice.start_run(name=op["name"], tags=op.get("tags"), run_id=op.get("run_id")):
                    play(op.get("body", []), sluice, clock)

            _outcome(op, run_body)
        elif kind == "step":

            def step_body(op: Dict[str, Any] = op) -> None:
                made = sluice.step(name=op["name"], step_type=op["type"]) if "type" in op else sluice.step(name=op["name"])
                with made as s:
                    play(op.get("body", []), sluice, clock, s)

            _outcome(op, step_body)
        elif kind == "input":
            step.set_inputs(op["value"])
        elif kind == "output":
            step.set_outputs(op["value"])
        elif kind == "metadata":
            step.set_metadata(op["value"])
        elif kind == "reasoning":
            step.set_reasoning(op["value"])
        elif kind == "cost":
            step.add_cost(op["value"])
        elif kind == "process_candidates":
            kept = sluice.process_candidates(op["candidates"], lambda c: c["verdict"])
            assert [c["id"] for c in kept] == op["kept"]
        elif kind == "throw":
            raise ScriptError(op["message"])
        elif kind == "log":
            sluice.log(op["level"], op["message"], service=op.get("service"), attributes=op.get("attributes"))
        else:
            raise AssertionError("unknown op %r" % kind)


def _outcome(op: Dict[str, Any], body: Callable[[], None]) -> None:
    if "raises" not in op:
        body()
        return
    try:
        body()
    except ScriptError as err:
        assert str(err) == op["raises"]
        if not op.get("catch"):
            raise
        return
    raise AssertionError("expected %s %r to raise %r" % (op["op"], op.get("name"), op["raises"]))
