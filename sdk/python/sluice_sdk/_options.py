"""Client options: the defaults and their checks.

Every default is in ``sdk/testdata/defaults.json`` too; a test keeps the two equal, and the
TypeScript SDK has the same options in camelCase.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

MiB = 1024 * 1024

#: Every default, by option name.
DEFAULTS = {
    "flush_at": 100,
    "flush_interval_ms": 1000,
    "max_batch_events": 1000,
    "max_batch_bytes": 1 * MiB,
    "max_event_bytes": 1 * MiB,
    "max_queue_size": 10_000,
    "max_queue_bytes": 32 * MiB,
    "max_in_flight": 4,
    "request_timeout_ms": 10_000,
    "max_retries": 5,
    "retry_base_ms": 500,
    "retry_max_ms": 30_000,
    "shutdown_timeout_ms": 5000,
    "gzip": True,
    "flush_on_exit": True,
    "debug": False,
}

# These count events (max_in_flight requests), so they must be at least 1.
_AT_LEAST_ONE = {"flush_at", "max_batch_events", "max_queue_size", "max_in_flight"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _uuid4() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Options:
    """Resolved client options (see ``Client`` for what each means)."""

    endpoint: str
    api_key: str
    ingest_url: str
    flush_at: int = DEFAULTS["flush_at"]
    flush_interval_ms: float = DEFAULTS["flush_interval_ms"]
    max_batch_events: int = DEFAULTS["max_batch_events"]
    max_batch_bytes: int = DEFAULTS["max_batch_bytes"]
    max_event_bytes: int = DEFAULTS["max_event_bytes"]
    max_queue_size: int = DEFAULTS["max_queue_size"]
    max_queue_bytes: int = DEFAULTS["max_queue_bytes"]
    max_in_flight: int = DEFAULTS["max_in_flight"]
    request_timeout_ms: float = DEFAULTS["request_timeout_ms"]
    max_retries: int = DEFAULTS["max_retries"]
    retry_base_ms: float = DEFAULTS["retry_base_ms"]
    retry_max_ms: float = DEFAULTS["retry_max_ms"]
    shutdown_timeout_ms: float = DEFAULTS["shutdown_timeout_ms"]
    gzip: bool = DEFAULTS["gzip"]
    flush_on_exit: bool = DEFAULTS["flush_on_exit"]
    debug: bool = DEFAULTS["debug"]
    on_drop: Optional[Callable[[Any], None]] = None
    clock: Callable[[], float] = field(default=_now_ms)
    generate_id: Callable[[], str] = field(default=_uuid4)


def resolve_options(endpoint: Any, api_key: Any, **options: Any) -> Options:
    """Fills in the defaults and checks the options; a mistake raises here, at construction."""
    if not isinstance(endpoint, str) or not endpoint.lower().startswith(("http://", "https://")):
        raise ValueError("sluice: endpoint must be an http(s) URL, not %r" % (endpoint,))
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("sluice: api_key is required")
    known = {f.name for f in fields(Options)} - {"endpoint", "api_key", "ingest_url"}
    unknown = set(options) - known
    if unknown:
        raise TypeError("sluice: unknown option(s): %s" % ", ".join(sorted(unknown)))
    resolved = {}
    for name, value in options.items():
        if value is None and name in ("on_drop", "clock", "generate_id"):
            continue
        if name in DEFAULTS:
            if isinstance(DEFAULTS[name], bool):
                if not isinstance(value, bool):
                    raise TypeError("sluice: %s must be a bool" % name)
            else:
                minimum = 1 if name in _AT_LEAST_ONE else 0
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= minimum) or value == float("inf"):
                    raise ValueError("sluice: %s must be a number >= %d, not %r" % (name, minimum, value))
        elif not callable(value):
            raise TypeError("sluice: %s must be callable" % name)
        resolved[name] = value
    return Options(endpoint=endpoint, api_key=api_key, ingest_url=endpoint.rstrip("/") + "/ingest", **resolved)
