"""Delivery against a local HTTP server the test controls. Intervals and backoffs are short."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, List

import pytest

import sluice_sdk
from _support import REPO_ROOT, FakeIngest

FAST = dict(flush_at=1_000_000, flush_interval_ms=1_000_000, retry_base_ms=1, retry_max_ms=5, flush_on_exit=False)


@pytest.fixture
def make_client(fake_ingest: FakeIngest):
    clients: List[sluice_sdk.Client] = []

    def make(**options: Any) -> sluice_sdk.Client:
        client = sluice_sdk.Client(options.pop("endpoint", fake_ingest.url), "ingest-key", **dict(FAST, **options))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.shutdown(0.2)


def logs(client: sluice_sdk.Client, n: int, message: str = "m") -> None:
    for i in range(n):
        client.log("info", "%s %d" % (message, i))


class TestBatching:
    def test_sends_once_flush_at_events_are_queued_and_not_before(self, fake_ingest, make_client) -> None:
        c = make_client(flush_at=5)
        logs(c, 4)
        time.sleep(0.05)
        assert fake_ingest.requests == []
        logs(c, 1)
        fake_ingest.wait_for_requests(1)
        assert len(fake_ingest.requests[0].events) == 5
        logs(c, 3)
        time.sleep(0.05)
        assert len(fake_ingest.requests) == 1
        assert c.flush(5)
        assert [len(r.events) for r in fake_ingest.requests] == [5, 3]

    def test_sends_once_max_batch_bytes_are_queued_each_request_within_it(self, fake_ingest, make_client) -> None:
        c = make_client(max_batch_bytes=2000)
        for _ in range(20):
            c.log("info", "x" * 300)
        fake_ingest.wait_for_requests(2)
        assert c.flush(5)
        assert sum(len(r.events) for r in fake_ingest.requests) == 20
        assert all(r.json_bytes <= 2000 for r in fake_ingest.requests)
        assert len(fake_ingest.requests) >= 4

    def test_sends_what_is_queued_after_flush_interval(self, fake_ingest, make_client) -> None:
        c = make_client(flush_interval_ms=60)
        t0 = time.monotonic()
        logs(c, 3)
        fake_ingest.wait_for_requests(1, 2)
        waited = fake_ingest.requests[0].at - t0
        assert 0.05 <= waited < 1.0
        assert len(fake_ingest.requests[0].events) == 3

    def test_gzips_and_authenticates_with_the_ingest_key(self, fake_ingest, make_client) -> None:
        c = make_client()
        logs(c, 2)
        assert c.flush(5)
        r = fake_ingest.requests[0]
        assert (r.method, r.path) == ("POST", "/ingest")
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"] == "application/json"
        assert r.headers["authorization"] == "Bearer ingest-key"
        assert r.headers["user-agent"].startswith("sluice-sdk-python/%s python/3." % sluice_sdk.SDK_VERSION)

    def test_plain_json_without_gzip_and_trailing_slashes(self, fake_ingest, make_client) -> None:
        c = make_client(endpoint=fake_ingest.url + "//", gzip=False)
        logs(c, 1)
        assert c.flush(5)
        assert fake_ingest.requests[0].path == "/ingest"
        assert "content-encoding" not in fake_ingest.requests[0].headers
        assert len(fake_ingest.requests[0].events) == 1

    def test_flush_while_other_threads_keep_recording(self, fake_ingest, make_client) -> None:
        def slow(req, i):
            time.sleep(0.005)
            return {"status": 200}

        fake_ingest.responder = slow
        c = make_client(flush_at=10)
        logs(c, 25)
        stop = threading.Event()

        def produce() -> None:
            while not stop.is_set():
                logs(c, 5, "more")
                time.sleep(0.001)

        producers = [threading.Thread(target=produce) for _ in range(3)]
        for p in producers:
            p.start()
        try:
            assert c.flush(10)
        finally:
            stop.set()
            for p in producers:
                p.join()
        sent = [e["data"]["message"] for r in fake_ingest.requests for e in r.events]
        assert all("m %d" % i in sent for i in range(25))


class TestRetries:
    def test_retries_a_503_after_its_retry_after_with_the_same_ids(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 503, "headers": {"Retry-After": "0.3"}} if i == 0 else {"status": 200}
        c = make_client(retry_max_ms=5000)
        logs(c, 3)
        assert c.flush(5)
        assert len(fake_ingest.requests) == 2
        assert fake_ingest.requests[1].at - fake_ingest.requests[0].at >= 0.28
        assert fake_ingest.ids()[1] == fake_ingest.ids()[0]
        stats = c.stats()
        assert (stats["sent"], stats["retries"], stats["requests"]) == (3, 1, 2)

    def test_caps_a_retry_after_at_retry_max_ms(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 429, "headers": {"Retry-After": "3600"}} if i == 0 else {"status": 200}
        c = make_client(retry_max_ms=50)
        logs(c, 1)
        t0 = time.monotonic()
        assert c.flush(5)
        assert time.monotonic() - t0 < 1
        assert c.stats()["sent"] == 1

    def test_retries_an_unreachable_server_then_gives_up_and_reports(self, make_client) -> None:
        reports: list = []
        c = make_client(endpoint="http://127.0.0.1:9", max_retries=2, on_drop=reports.append)
        logs(c, 2)
        assert c.flush(5)
        assert [r.reason for r in reports] == ["retries_exhausted"]
        assert [e["type"] for e in reports[0].events] == ["log", "log"]
        assert reports[0].message.startswith("gave up after 3 attempts")
        stats = c.stats()
        assert (stats["requests"], stats["retries"], stats["sent"]) == (3, 2, 0)

    def test_retries_a_request_that_timed_out(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 200, "hang": True} if i == 0 else {"status": 200}
        c = make_client(request_timeout_ms=100)
        logs(c, 1)
        assert c.flush(5)
        assert len(fake_ingest.requests) == 2
        assert (c.stats()["sent"], c.stats()["retries"]) == (1, 1)


class TestServerAnswers:
    def test_a_207_drops_and_reports_only_the_events_it_names(self, fake_ingest, make_client) -> None:
        def partial(req, i):
            error = {"index": 1, "id": req.events[1]["id"], "code": "SLUICE_ERR_INVALID_EVENT", "message": "data.level: bad"}
            return {"status": 207, "body": {"status": "partial", "processed": 2, "errors": [error]}}

        fake_ingest.responder = partial
        reports: list = []
        c = make_client(on_drop=reports.append)
        c.log("info", "a")
        c.log("nonsense", "b")
        c.log("info", "c")
        assert c.flush(5)
        assert reports == [
            sluice_sdk.DropReport(
                reason="rejected",
                events=[{"id": fake_ingest.ids()[0][1], "type": "log", "code": "SLUICE_ERR_INVALID_EVENT", "message": "data.level: bad"}],
                message="Sluice refused 1 of 3 events",
                status=207,
            )
        ]
        assert (c.stats()["sent"], c.stats()["requests"]) == (2, 1)

    def test_a_413_splits_the_batch_until_each_part_fits(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 413} if len(req.events) > 2 else {"status": 200}
        c = make_client()
        logs(c, 7)
        assert c.flush(5)
        assert [len(r.events) for r in fake_ingest.requests] == [7, 4, 2, 2, 3, 2, 1]
        assert (c.stats()["sent"], c.stats()["retries"]) == (7, 0)

    def test_an_exception_from_on_drop_goes_nowhere(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 401}

        def bad(report):
            raise RuntimeError("user bug")

        c = make_client(on_drop=bad)
        logs(c, 1)
        assert c.flush(5)
        assert c.stats()["dropped"]["client_error"] == 1

    def test_on_drop_may_record_events_itself(self, fake_ingest, make_client) -> None:
        """Reports are handed out outside the client's lock: recording from on_drop cannot deadlock."""
        holder: list = []
        c = make_client(max_queue_size=2, on_drop=lambda r: holder[0].log("warn", "dropped %d" % len(r.events)))
        holder.append(c)
        logs(c, 3)
        assert c.stats()["dropped"]["queue_overflow"] >= 1


    def test_flush_from_on_drop_returns_instead_of_waiting_for_itself(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 401}
        answers: list = []
        holder: list = []
        c = make_client(on_drop=lambda r: answers.append(holder[0].flush(5)))
        holder.append(c)
        logs(c, 1)
        t0 = time.monotonic()
        assert c.flush(5)
        assert answers == [False]
        assert time.monotonic() - t0 < 2

    def test_sends_from_the_calling_thread_when_no_thread_can_be_started(self, fake_ingest, make_client, monkeypatch) -> None:
        """As at interpreter exit on Python 3.12+, where starting a thread raises."""
        from sluice_sdk import _transport

        def refuse(target):
            raise RuntimeError("can't create new thread at interpreter shutdown")

        monkeypatch.setattr(_transport, "_start_thread", refuse)
        c = make_client()
        logs(c, 3)
        assert c.shutdown(5) is True
        assert [len(r.events) for r in fake_ingest.requests] == [3]


class TestQueue:
    def test_drops_the_oldest_past_max_queue_size_and_counts_them(self, fake_ingest, make_client) -> None:
        c = make_client(max_queue_size=10)
        logs(c, 25)
        stats = c.stats()
        assert (stats["queued"], stats["dropped"]["queue_overflow"]) == (10, 15)
        assert c.flush(5)
        assert [e["data"]["message"] for e in fake_ingest.requests[0].events] == ["m %d" % i for i in range(15, 25)]

    def test_keeps_recording_while_a_batch_waits_to_be_retried(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 503, "headers": {"Retry-After": "0.05"}}
        # One request: the others would take events off the queue while the first waits.
        c = make_client(max_queue_size=5, flush_at=1, max_retries=100, retry_max_ms=50, max_in_flight=1)
        logs(c, 1)
        fake_ingest.wait_for_requests(1)
        logs(c, 20)
        stats = c.stats()
        assert (stats["queued"], stats["in_flight"], stats["dropped"]["queue_overflow"]) == (5, 1, 15)
        fake_ingest.responder = lambda req, i: {"status": 200}
        assert c.flush(5)
        stats = c.stats()
        assert (stats["sent"], stats["queued"], stats["in_flight"]) == (6, 0, 0)


class TestShutdown:
    def test_flushes_what_is_queued_then_drops_what_comes_after(self, fake_ingest, make_client) -> None:
        reports: list = []
        c = make_client(on_drop=reports.append)
        logs(c, 3)
        assert c.shutdown() is True
        assert sum(len(r.events) for r in fake_ingest.requests) == 3
        c.log("info", "late")
        assert c.flush(1)
        assert len(fake_ingest.requests) == 1
        assert [(r.reason, r.message) for r in reports] == [("shutdown", "recorded after shutdown()")]
        assert c.shutdown() is True

    def test_does_not_hang_on_a_server_that_never_answers(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 200, "hang": True}
        c = make_client(request_timeout_ms=60_000)
        logs(c, 4)
        t0 = time.monotonic()
        assert c.shutdown(0.3) is False
        took = time.monotonic() - t0
        assert 0.29 <= took < 1.5
        stats = c.stats()
        assert (stats["sent"], stats["queued"], stats["in_flight"], stats["dropped"]["shutdown"]) == (0, 0, 0, 4)

    def test_does_not_wait_out_a_long_retry_after(self, fake_ingest, make_client) -> None:
        fake_ingest.responder = lambda req, i: {"status": 503, "headers": {"Retry-After": "30"}}
        c = make_client(retry_max_ms=60_000)
        logs(c, 2)
        t0 = time.monotonic()
        assert c.shutdown(0.2) is False
        assert time.monotonic() - t0 < 1.5
        assert c.stats()["dropped"]["shutdown"] == 2

    @staticmethod
    def _forgetful_program(url: str, shutdown_timeout_ms: int) -> subprocess.CompletedProcess:
        """A program that records a run and a log and ends without shutdown()."""
        script = textwrap.dedent(
            """
            import sys
            sys.path.insert(0, %r)
            import sluice_sdk as sluice
            sluice.configure(endpoint=sys.argv[1], api_key="k", shutdown_timeout_ms=%d)
            with sluice.start_run(name="exit"):
                with sluice.step(name="s"):
                    pass
            sluice.log("info", "bye")
            """
            % (str(REPO_ROOT / "sdk" / "python"), shutdown_timeout_ms)
        )
        return subprocess.run([sys.executable, "-c", script, url], capture_output=True, timeout=30)

    def test_flushes_at_interpreter_exit_when_the_program_forgot_to(self, fake_ingest) -> None:
        done = self._forgetful_program(fake_ingest.url, 2000)
        assert (done.returncode, done.stderr) == (0, b"")
        assert [e["type"] for r in fake_ingest.requests for e in r.events] == ["run_start", "step_complete", "run_complete", "log"]

    def test_exits_within_shutdown_timeout_when_the_server_never_answers(self, fake_ingest) -> None:
        fake_ingest.responder = lambda req, i: {"status": 200, "hang": True}
        t0 = time.monotonic()
        done = self._forgetful_program(fake_ingest.url, 300)
        assert (done.returncode, done.stderr) == (0, b"")
        assert len(fake_ingest.requests) == 1
        assert time.monotonic() - t0 < 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_sends_its_own_events_not_its_parents(fake_ingest, make_client) -> None:
    c = make_client()
    logs(c, 2, "parent")
    pid = os.fork()
    if pid == 0:  # the child: its own queue and sender thread
        code = 1
        try:
            c.log("info", "child")
            code = 0 if c.flush(5) and c.stats()["sent"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert c.flush(5)
    messages = sorted(e["data"]["message"] for r in fake_ingest.requests for e in r.events)
    assert messages == ["child", "parent 0", "parent 1"]


class TestDebug:
    def test_logs_what_the_client_does_on_the_sluice_sdk_logger(self, fake_ingest, make_client, caplog) -> None:
        fake_ingest.responder = lambda req, i: {"status": 500} if i == 0 else {"status": 200}
        with caplog.at_level(logging.DEBUG, logger="sluice_sdk"):
            c = make_client()
            logs(c, 1)
            assert c.flush(5)
        messages = [r.getMessage() for r in caplog.records if r.name == "sluice_sdk"]
        assert any(m.startswith("HTTP 500; retry 1 of 5") for m in messages)
        assert any(m.startswith("sent 1 events") for m in messages)

    def test_debug_true_writes_to_stderr(self, fake_ingest) -> None:
        script = textwrap.dedent(
            """
            import sys
            sys.path.insert(0, %r)
            import sluice_sdk
            c = sluice_sdk.Client(sys.argv[1], "k", debug=True)
            c.log("info", "hello")
            c.shutdown(2)
            """
            % str(REPO_ROOT / "sdk" / "python")
        )
        done = subprocess.run([sys.executable, "-c", script, fake_ingest.url], capture_output=True, timeout=30)
        assert done.returncode == 0
        assert b"[sluice] sent 1 events" in done.stderr
