"""Delivery: a bounded in-memory queue, sent in batches by count, bytes and interval from
background threads, up to ``max_in_flight`` requests at a time (one thread and one keep-alive
connection each), every batch with its own retries. Batches leave the queue in order but may be
answered out of order: a run's events are idempotent and order-free by the contract.

Nothing here raises into the caller: failures become drop reports and counters. The TypeScript
SDK's transport.ts follows the same rules; the shared delivery vectors check both.
"""

from __future__ import annotations

import collections
import gzip as gzip_module
import http.client
import json
import logging
import os
import platform
import select
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Set

from ._encode import safe_json
from ._exit_flush import exit_flush
from ._options import Options
from ._retry import backoff_ms, is_retryable, parse_retry_after
from ._version import SDK_VERSION

logger = logging.getLogger("sluice_sdk")

#: Why the client gave up on an event (the TypeScript SDK uses the same strings).
DROP_REASONS = ("queue_overflow", "too_large", "rejected", "client_error", "retries_exhausted", "shutdown")

_BODY_OPEN = b'{"events":['
_BODY_CLOSE = b"]}"
BODY_FRAME_BYTES = len(_BODY_OPEN) + len(_BODY_CLOSE)

_USER_AGENT = "sluice-sdk-python/%s python/%s" % (SDK_VERSION, platform.python_version())


@dataclass(frozen=True)
class DropReport:
    """What ``on_drop`` receives: events given up on together, and why."""

    reason: str
    #: ``{"id", "type"}`` and, when the server named one, ``"code"`` and ``"message"``.
    events: List[Dict[str, str]]
    message: str
    #: The HTTP status that decided it, if any.
    status: Optional[int] = None


class _Queued:
    __slots__ = ("seq", "id", "type", "json", "size")

    def __init__(self, seq: int, event_id: str, event_type: str, data: bytes) -> None:
        self.seq = seq
        self.id = event_id
        self.type = event_type
        self.json = data
        self.size = len(data)


@dataclass
class _Answer:
    status: int
    retry_after: Optional[str] = None
    text: bytes = b""
    error: str = ""


@dataclass
class _Counters:
    sent: int = 0
    requests: int = 0
    retries: int = 0
    dropped: Dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_REASONS})


class Transport:
    """Queues events and sends them from a background thread. Safe to call from any thread."""

    def __init__(self, options: Options) -> None:
        self._o = options
        self._url = urllib.parse.urlsplit(options.ingest_url)
        self._init_sync()
        self._queue: Deque[_Queued] = collections.deque()
        self._queued_bytes = 0
        self._last_seq = 0
        # Events up to this seq are due now: a flush, the interval or shutdown asked for them.
        self._due_through = 0
        # When the interval runs out for what is queued (time.monotonic()), or None.
        self._deadline: Optional[float] = None
        # Batches being sent, in the order they were taken (so the first holds the oldest event).
        self._in_flight: List[List[_Queued]] = []
        self._closed = False
        self._aborted = threading.Event()
        self._threads: List[threading.Thread] = []
        # Sender threads waiting for work (the others are sending).
        self._idle = 0
        # Each sender thread's connection, and all of them (to unblock them at shutdown).
        self._local = threading.local()
        self._conns: Set[http.client.HTTPConnection] = set()
        self._counters = _Counters()
        if options.flush_on_exit:
            exit_flush.add(self)

    def _init_sync(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())

    # -- recording ---------------------------------------------------------------------------

    def enqueue(self, event: Dict[str, Any]) -> None:
        """Queues one event. Never raises."""
        try:
            self._check_fork()
            data = safe_json(event).encode("utf-8")
            reports: List[DropReport] = []
            with self._cond:
                if self._closed:
                    self._drop(reports, "shutdown", [_ref(event)], "recorded after shutdown()")
                elif len(data) > self._o.max_event_bytes:
                    message = "event is %d bytes; max_event_bytes is %d" % (len(data), self._o.max_event_bytes)
                    self._drop(reports, "too_large", [_ref(event)], message)
                else:
                    self._last_seq += 1
                    item = _Queued(self._last_seq, event["id"], event["type"], data)
                    self._queue.append(item)
                    self._queued_bytes += item.size
                    if len(self._queue) > self._o.max_queue_size or self._queued_bytes > self._o.max_queue_bytes:
                        self._overflow(reports)
                    # Only when a send should start and a sender can take it: waking senders on
                    # each event (they would find nothing to take, or be busy) costs the
                    # recording thread the GIL.
                    if self._due() and (self._idle > 0 or len(self._threads) < self._o.max_in_flight):
                        self._wake()
                    elif self._deadline is None:
                        self._deadline = time.monotonic() + self._o.flush_interval_ms / 1000
                        self._wake()
            self._report(reports)
        except Exception as err:  # never into the caller's code
            logger.debug("internal error while queueing: %r", err)

    # -- flush and shutdown ------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Blocks until every event recorded before the call is sent or given up on, or until
        ``timeout`` seconds have passed. True if everything was settled."""
        self._check_fork()
        if threading.current_thread() in self._threads:
            # Called from on_drop, on the sender thread: it cannot wait for itself.
            logger.debug("flush() from the sender thread (on_drop?) does not wait")
            return False
        with self._cond:
            target = self._last_seq
            if self._settled_through() >= target:
                return True
            self._due_through = max(self._due_through, target)
            worker = self._wake()
        if not worker:
            return self._flush_inline(target, timeout)
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._settled_through() < target:
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Flushes, then stops: later events are dropped (``shutdown``). Waits at most ``timeout``
        seconds (default: the ``shutdown_timeout_ms`` option); then the request in flight is
        abandoned and what is left is dropped (``shutdown``). True if everything was settled in
        time. Calling it again is harmless."""
        seconds = self._o.shutdown_timeout_ms / 1000 if timeout is None else timeout
        self._check_fork()
        with self._cond:
            self._closed = True
            self._deadline = None
        exit_flush.discard(self)
        done = self.flush(seconds)
        reports: List[DropReport] = []
        if not done:
            logger.debug("shutdown: events undelivered after %.3f s", seconds)
            self._aborted.set()
            self._abort_connection()
            with self._cond:
                left = list(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
                self._drop(reports, "shutdown", left, "shutdown timed out after %.3f s" % seconds)
                self._cond.notify_all()
            self._report(reports)
        else:
            with self._cond:
                self._cond.notify_all()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                # The workers end at once now (nothing queued, or aborted); do not wait on a stuck one.
                thread.join(0.5)
        if done:
            self._close_connection()
        return done

    def flush_at_exit(self) -> None:
        with self._cond:
            pending = bool(self._queue or self._in_flight)
        if pending:
            self.shutdown()

    def stats(self) -> Dict[str, Any]:
        self._check_fork()
        with self._cond:
            c = self._counters
            return {
                "queued": len(self._queue),
                "queued_bytes": self._queued_bytes,
                "in_flight": sum(len(batch) for batch in self._in_flight),
                "sent": c.sent,
                "requests": c.requests,
                "retries": c.retries,
                "dropped": dict(c.dropped),
            }

    # -- the worker --------------------------------------------------------------------------

    def _wake(self) -> bool:
        """Starts the workers if needed and wakes them (and flush waiters). Holds the lock.
        False when no thread can be started (at interpreter exit): the caller sends itself."""
        # A sender that ends takes itself off the list (see _work): the list is the live ones.
        alive = self._threads
        if len(alive) < self._o.max_in_flight and not (self._closed and not self._queue):
            try:
                while len(alive) < self._o.max_in_flight:
                    alive.append(_start_thread(self._work))
            except RuntimeError:  # "can't create new thread at interpreter shutdown" (3.12+)
                if not alive:
                    return False
        self._threads = alive
        self._cond.notify_all()
        return True

    def _due(self) -> bool:
        """Whether a send should start now. The first request goes at ``flush_at``; one beside it
        only for a full batch (or when a flush asked): under load, small batches in parallel would
        cost the client and Sluice more per event than the waiting they save. Holds the lock."""
        if not self._queue or self._aborted.is_set():
            return False
        full = len(self._queue) >= self._o.max_batch_events or self._queued_bytes >= self._o.max_batch_bytes
        if self._in_flight:
            return self._queue[0].seq <= self._due_through or full
        return self._queue[0].seq <= self._due_through or len(self._queue) >= self._o.flush_at or full

    def _work(self) -> None:
        try:
            self._work_loop()
        finally:
            self._close_connection()
            with self._cond:
                me = threading.current_thread()
                self._threads = [t for t in self._threads if t is not me]

    def _work_loop(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._aborted.is_set() or (self._closed and not self._queue):
                        return
                    timeout = None
                    if self._queue and self._deadline is not None:
                        timeout = self._deadline - time.monotonic()
                        if timeout <= 0:
                            self._deadline = None
                            self._due_through = max(self._due_through, self._last_seq)
                            continue
                    self._idle += 1
                    try:
                        self._cond.wait(timeout)
                    finally:
                        self._idle -= 1
                batch = self._take()
                self._in_flight.append(batch)
            self._send_batch(batch)

    def _flush_inline(self, target: int, timeout: Optional[float]) -> bool:
        """Sends from the calling thread: for when no thread can be started (interpreter exit)."""
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            with self._cond:
                if self._settled_through() >= target:
                    return True
                if end is not None and time.monotonic() >= end:
                    return False
                if self._in_flight or not self._queue:
                    return self._settled_through() >= target
                batch = self._take()
                self._in_flight.append(batch)
            self._send_batch(batch)

    def _send_batch(self, batch: List[_Queued]) -> None:
        reports: List[DropReport] = []
        try:
            self._deliver(batch, reports)
        except Exception as err:  # not expected: _deliver turns failures into drops
            with self._cond:
                self._drop(reports, "client_error", batch, "internal error: %r" % (err,))
        with self._cond:
            self._in_flight = [b for b in self._in_flight if b is not batch]
            if not self._queue:
                self._deadline = None
            elif self._deadline is None:
                self._deadline = time.monotonic() + self._o.flush_interval_ms / 1000
            self._cond.notify_all()
        self._report(reports)

    def _take(self) -> List[_Queued]:
        """The oldest events that fit one request (at least one). Holds the lock."""
        batch: List[_Queued] = []
        body = BODY_FRAME_BYTES
        while self._queue and len(batch) < self._o.max_batch_events:
            added = self._queue[0].size + (1 if batch else 0)
            if batch and body + added > self._o.max_batch_bytes:
                break
            item = self._queue.popleft()
            self._queued_bytes -= item.size
            batch.append(item)
            body += added
        return batch

    # -- one batch ---------------------------------------------------------------------------

    def _deliver(self, events: List[_Queued], reports: List[DropReport]) -> None:
        """Sends one batch until it is accepted, refused or given up on."""
        raw = _BODY_OPEN + b",".join(e.json for e in events) + _BODY_CLOSE
        body = gzip_module.compress(raw, compresslevel=6, mtime=0) if self._o.gzip else raw
        attempt = 0
        while True:
            if self._aborted.is_set():
                return self._locked_drop(reports, "shutdown", events, "shutdown timed out")
            answer = self._post(body)
            if self._aborted.is_set() and answer.status == 0:
                return self._locked_drop(reports, "shutdown", events, "shutdown timed out")
            status = answer.status
            if 200 <= status < 300 and status != 207:
                with self._cond:
                    self._counters.sent += len(events)
                logger.debug("sent %d events (%d bytes)", len(events), len(body))
                return None
            if status == 207:
                named = _named_errors(events, _parse_json(answer.text))
                with self._cond:
                    self._counters.sent += len(events) - len(named)
                    self._drop(reports, "rejected", named, "Sluice refused %d of %d events" % (len(named), len(events)), 207)
                return None
            if status == 413:
                if len(events) == 1:
                    return self._locked_drop(reports, "too_large", events, "413: %s" % _snippet(answer.text), 413)
                # Halves, one after the other; each may split again. Not a retry: nothing failed yet.
                half = (len(events) + 1) // 2
                logger.debug("413 for %d events: splitting", len(events))
                self._deliver(events[:half], reports)
                self._deliver(events[half:], reports)
                return None
            if is_retryable(status):
                why = answer.error if status == 0 else "HTTP %d" % status
                if attempt >= self._o.max_retries:
                    message = "gave up after %d attempts: %s" % (attempt + 1, why)
                    return self._locked_drop(reports, "retries_exhausted", events, message, status or None)
                asked = parse_retry_after(answer.retry_after)
                wait = backoff_ms(attempt, self._o.retry_base_ms, self._o.retry_max_ms) if asked is None else asked
                wait = min(wait, self._o.retry_max_ms)
                with self._cond:
                    self._counters.retries += 1
                attempt += 1
                logger.debug("%s; retry %d of %d in %d ms", why, attempt, self._o.max_retries, wait)
                self._aborted.wait(wait / 1000)
                continue
            return self._refused(events, answer, reports)

    def _refused(self, events: List[_Queued], answer: _Answer, reports: List[DropReport]) -> None:
        """A final 4xx: a 400 that lists errors refused its events one by one; anything else the batch."""
        body = _parse_json(answer.text)
        detail = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else _snippet(answer.text)
        summary = "HTTP %d: %s" % (answer.status, detail)
        if answer.status == 400 and isinstance(body, dict) and isinstance(body.get("errors"), list):
            named = {e["id"]: e for e in _named_errors(events, body)}
            everything = [named.get(e.id, {"id": e.id, "type": e.type}) for e in events]
            return self._locked_drop(reports, "rejected", everything, summary, 400)
        return self._locked_drop(reports, "client_error", events, summary, answer.status)

    def _post(self, body: bytes) -> _Answer:
        with self._cond:
            self._counters.requests += 1
        headers = {
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self._o.api_key,
            "User-Agent": _USER_AGENT,
        }
        if self._o.gzip:
            headers["Content-Encoding"] = "gzip"
        try:
            conn = self._connection()
            conn.request("POST", self._path(), body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            if response.will_close:
                self._close_connection()
            return _Answer(response.status, response.getheader("Retry-After"), text)
        except (OSError, http.client.HTTPException, ValueError) as err:
            self._close_connection()
            return _Answer(0, error="%s: %s" % (type(err).__name__, err))

    def _path(self) -> str:
        return (self._url.path or "/ingest") + ("?" + self._url.query if self._url.query else "")

    def _connection(self) -> http.client.HTTPConnection:
        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _dropped_by_peer(conn.sock):
            # The server closed the idle keep-alive connection: open a new one rather than
            # sending into a dead socket and spending a retry on it.
            self._close_connection()
            conn = None
        if conn is None:
            timeout = self._o.request_timeout_ms / 1000
            host = self._url.hostname or "localhost"
            if self._url.scheme == "https":
                conn = http.client.HTTPSConnection(host, self._url.port, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(host, self._url.port, timeout=timeout)
            self._local.conn = conn
            with self._cond:
                self._conns.add(conn)
        return conn

    def _close_connection(self) -> None:
        """Closes this thread's connection."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._cond:
                self._conns.discard(conn)
            try:
                conn.close()
            except Exception:
                pass

    def _abort_connection(self) -> None:
        """Unblocks workers stuck reading from a server that does not answer."""
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # -- drops and waiting -------------------------------------------------------------------

    def _drop(self, reports: List[DropReport], reason: str, events: List[Any], message: str, status: Optional[int] = None) -> None:
        """Counts dropped events and prepares their report. Holds the lock; reports go out later."""
        if not events:
            return
        self._counters.dropped[reason] += len(events)
        n = self._counters.dropped[reason]
        # Overflow can drop an event per call: say so on the first and then every thousandth.
        if reason != "queue_overflow" or n == 1 or n % 1000 == 0:
            logger.debug("dropped %d events (%s): %s", len(events), reason, message)
        if self._o.on_drop is not None:
            reports.append(DropReport(reason, [_ref(e) for e in events], message, status))

    def _locked_drop(self, reports: List[DropReport], reason: str, events: List[Any], message: str, status: Optional[int] = None) -> None:
        with self._cond:
            self._drop(reports, reason, events, message, status)

    def _report(self, reports: List[DropReport]) -> None:
        """Hands drop reports to ``on_drop``, outside the lock (it may record events itself)."""
        for report in reports:
            try:
                self._o.on_drop(report)  # type: ignore[misc]
            except Exception as err:
                logger.debug("on_drop raised: %r", err)

    def _overflow(self, reports: List[DropReport]) -> None:
        o = self._o
        while self._queue and (len(self._queue) > o.max_queue_size or self._queued_bytes > o.max_queue_bytes):
            item = self._queue.popleft()
            self._queued_bytes -= item.size
            message = "queue full (max_queue_size %d, max_queue_bytes %d)" % (o.max_queue_size, o.max_queue_bytes)
            self._drop(reports, "queue_overflow", [item], message)
        self._cond.notify_all()

    def _settled_through(self) -> int:
        """Every event up to this seq is sent or given up on. Holds the lock."""
        if self._in_flight:
            return self._in_flight[0][0].seq - 1
        if self._queue:
            return self._queue[0].seq - 1
        return self._last_seq

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()

    def _after_fork(self) -> None:
        """In a forked child: the parent's queue, thread and connection are the parent's business."""
        self._init_sync()
        self._queue.clear()
        self._queued_bytes = 0
        self._in_flight = []
        self._threads = []
        self._idle = 0
        self._local = threading.local()
        self._conns = set()
        self._deadline = None
        self._aborted = threading.Event()


def _start_thread(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, name="sluice-sdk-sender", daemon=True)
    thread.start()
    return thread


def _ref(item: Any) -> Dict[str, str]:
    if isinstance(item, _Queued):
        return {"id": item.id, "type": item.type}
    if isinstance(item, dict) and "code" not in item and "message" not in item:
        return {"id": str(item.get("id")), "type": str(item.get("type"))}
    return dict(item)


def _parse_json(text: bytes) -> Any:
    try:
        return json.loads(text.decode("utf-8", "replace"))
    except ValueError:
        return None


def _snippet(text: bytes) -> str:
    return text[:200].decode("utf-8", "replace")


def _named_errors(events: List[_Queued], body: Any) -> List[Dict[str, str]]:
    """The events a 207/400 body's ``errors`` names (by index in the request, else by id), in request order."""
    errors = body.get("errors") if isinstance(body, dict) else None
    by_index: Dict[int, Dict[str, str]] = {}
    for e in errors if isinstance(errors, list) else []:
        if not isinstance(e, dict):
            continue
        index = e.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not (0 <= index < len(events)) or (
            isinstance(e.get("id"), str) and events[index].id != e.get("id")
        ):
            index = next((i for i, ev in enumerate(events) if ev.id == e.get("id")), -1)
        if index < 0 or index in by_index:
            continue
        ref = {"id": events[index].id, "type": events[index].type}
        if isinstance(e.get("code"), str):
            ref["code"] = e["code"]
        if isinstance(e.get("message"), str):
            ref["message"] = e["message"]
        by_index[index] = ref
    return [by_index[i] for i in sorted(by_index)]


def _dropped_by_peer(sock: socket.socket) -> bool:
    """True when an idle connection has been closed by the server (readable at EOF)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
