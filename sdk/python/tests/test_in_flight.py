"""Requests in flight at once, against a real Sluice (the ``sluice_server`` fixture). Between the
client and Sluice sits a pass-through proxy that holds each request until ``hold`` of them are
open at the same time (or a second passed), so "two at once" is seen, not inferred from timing."""

from __future__ import annotations

import http.client
import http.server
import threading
import urllib.parse
from typing import Any, Dict, Iterator

import pytest

import sluice_sdk

pytestmark = pytest.mark.e2e


class Gate:
    def __init__(self, target: str, hold: int) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.hold = hold
        self.open = 0
        self.max_open = 0
        self.cond = threading.Condition()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with gate.cond:
                    gate.open += 1
                    gate.max_open = max(gate.max_open, gate.open)
                    gate.cond.notify_all()
                    gate.cond.wait_for(lambda: gate.open >= gate.hold, timeout=1.0)
                try:
                    status, text = gate.forward(self.path, body, self.headers)
                finally:
                    with gate.cond:
                        gate.open -= 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path: str, body: bytes, headers: Any) -> "tuple[int, bytes]":
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=10)
        try:
            passed = {k: headers[k] for k in ("Authorization", "Content-Type", "Content-Encoding") if headers.get(k)}
            conn.request("POST", path, body=body, headers=passed)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def project(sluice_server) -> Dict[str, Any]:
    return sluice_server.create_project()


@pytest.fixture
def gate(sluice_server) -> Iterator[Gate]:
    g = Gate(sluice_server.url, hold=2)
    yield g
    g.close()


def test_max_in_flight_2_two_batches_open_at_once_and_sluice_accepts_every_event(gate, project) -> None:
    client = sluice_sdk.Client(gate.url, project["ingest_key"], max_in_flight=2, max_batch_events=50, flush_at=50, flush_on_exit=False)
    try:
        for i in range(400):
            client.log("info", "in flight %d" % i)
        assert client.flush(30)
        assert gate.max_open == 2
        stats = client.stats()
        assert (stats["sent"], stats["requests"], stats["retries"], stats["queued"], stats["in_flight"]) == (400, 8, 0, 0, 0)
    finally:
        client.shutdown()


def test_max_in_flight_1_never_more_than_one_request_open(gate, project) -> None:
    client = sluice_sdk.Client(gate.url, project["ingest_key"], max_in_flight=1, max_batch_events=50, flush_at=50, flush_on_exit=False)
    try:
        for i in range(150):
            client.log("info", "one at a time %d" % i)
        assert client.flush(30)
        assert gate.max_open == 1
        assert (client.stats()["sent"], client.stats()["requests"]) == (150, 3)
    finally:
        client.shutdown()
