"""The Sluice client: records runs, steps and logs, and sends them in the background."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any, Callable, Dict, Optional

from ._encode import iso_time
from ._options import Options, resolve_options
from ._tracing import Recorder, Run, Step, current_run, emit_log
from ._transport import DropReport, Transport

logger = logging.getLogger("sluice_sdk")


class Client(Recorder):
    """Records runs, steps and logs and sends them to ``<endpoint>/ingest`` from background
    threads, in batches. Safe to share between threads and asyncio tasks.

    Only ``endpoint`` and ``api_key`` are required; every other option has a default:

    ==========================  =========  ====================================================
    option                      default    meaning
    ==========================  =========  ====================================================
    ``flush_at``                100        a send starts once this many events are queued
    ``flush_interval_ms``       1000       queued events wait at most this long
    ``max_batch_events``        1000       most events in one request (Sluice takes 10,000)
    ``max_batch_bytes``         1 MiB      most bytes of uncompressed JSON in one request
    ``max_event_bytes``         1 MiB      a larger event is dropped (``too_large``)
    ``max_queue_size``          10,000     past it the oldest event is dropped (``queue_overflow``)
    ``max_queue_bytes``         32 MiB     the same, in bytes of event JSON
    ``max_in_flight``           4          requests under way at once (a thread each)
    ``request_timeout_ms``      10,000     one attempt is abandoned (and retried) after this
    ``max_retries``             5          retries after network errors, 408, 429, 5xx
    ``retry_base_ms``           500        backoff n is random in [0, min(max, base * 2**n))
    ``retry_max_ms``            30,000     cap of a backoff and of a ``Retry-After``
    ``shutdown_timeout_ms``     5000       how long ``shutdown()`` and the exit flush may take
    ``gzip``                    True       compress request bodies
    ``flush_on_exit``           True       flush when the interpreter exits (``atexit``)
    ``debug``                   False      log what the client does to stderr
    ``on_drop``                 None       called with a ``DropReport`` for events given up on
    ``clock``                   wall time  epoch milliseconds, for timestamps
    ``generate_id``             uuid4      makes event, run and step ids
    ==========================  =========  ====================================================

    A wrong option raises ``ValueError`` or ``TypeError`` here; nothing else the client does raises.
    """

    def __init__(self, endpoint: str, api_key: str, **options: Any) -> None:
        self.options: Options = resolve_options(endpoint, api_key, **options)
        if self.options.debug:
            enable_debug_logging()
        self._transport = Transport(self.options)

    # Recorder
    def _now(self) -> float:
        return self.options.clock()

    def _new_id(self) -> str:
        return self.options.generate_id()

    def _emit(self, event_type: str, timestamp: float, data: Dict[str, Any]) -> None:
        try:
            event = {"id": self.options.generate_id(), "type": event_type, "timestamp": iso_time(timestamp), "data": data}
        except Exception as err:
            logger.debug("%s not recorded: %r", event_type, err)
            return
        self._transport.enqueue(event)

    def start_run(self, name: str, tags: Optional[Dict[str, str]] = None, run_id: Optional[str] = None) -> Run:
        """A run, to use as ``with client.start_run(name="recs", tags={"env": "prod"}) as run:``."""
        return Run(self, name, tags, run_id)

    def step(self, name: str, step_type: str = "logic") -> Step:
        """A step of the current run: ``with client.step(name="dedupe", step_type="filter") as s:``."""
        return Step(self, name, step_type)

    def log(
        self,
        level: str,
        message: str,
        service: Optional[str] = None,
        attributes: Optional[Dict[str, Any]] = None,
        run_id: Optional[str] = None,
    ) -> None:
        """A log line (``debug``, ``info``, ``warn``/``warning``, ``error``, ``fatal``/``critical``);
        inside a run it carries that run's id unless ``run_id`` is given."""
        if run_id is None:
            run = current_run()
            run_id = run.id if run is not None else None
        emit_log(self, level, message, service, attributes, run_id)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Blocks until everything recorded so far is sent or given up on (at most ``timeout``
        seconds). True if it all was. In asyncio code: ``await asyncio.to_thread(client.flush)``."""
        return self._transport.flush(timeout)

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Flushes and stops, waiting at most ``timeout`` seconds (default ``shutdown_timeout_ms``).
        True if everything was delivered or given up on in time."""
        return self._transport.shutdown(timeout)

    def stats(self) -> Dict[str, Any]:
        """Counters: ``queued``, ``queued_bytes``, ``in_flight``, ``sent``, ``requests``,
        ``retries`` and ``dropped`` (by reason)."""
        return self._transport.stats()


class _Disabled(Recorder):
    """Stands in for a client before ``configure()``: runs and steps work, nothing is sent."""

    def _now(self) -> float:
        return time.time_ns() // 1_000_000

    def _new_id(self) -> str:
        return str(uuid.uuid4())

    def _emit(self, event_type: str, timestamp: float, data: Dict[str, Any]) -> None:
        pass


DISABLED = _Disabled()

_debug_handler: Optional[logging.Handler] = None


def enable_debug_logging() -> None:
    """Sends the ``sluice_sdk`` logger's debug output to stderr (what ``debug=True`` does)."""
    global _debug_handler
    if _debug_handler is None:
        _debug_handler = logging.StreamHandler(sys.stderr)
        _debug_handler.setFormatter(logging.Formatter("[sluice] %(message)s"))
        logger.addHandler(_debug_handler)
    logger.setLevel(logging.DEBUG)


__all__ = ["Client", "DropReport", "enable_debug_logging"]

OnDrop = Callable[[DropReport], None]
