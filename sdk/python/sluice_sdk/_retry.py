"""When to retry a request, and how long to wait first (the TypeScript SDK's retry.ts)."""

from __future__ import annotations

import email.utils
import random
import re
import time
from typing import Any, Optional

_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def is_retryable(status: int) -> bool:
    """Network errors (status 0 here), 408, 429 and 5xx are worth another try."""
    return status == 0 or status == 408 or status == 429 or status >= 500


def backoff_ms(attempt: int, base_ms: float, max_ms: float, rand: Any = random.random) -> int:
    """Full jitter: random in [0, min(max_ms, base_ms * 2**attempt)), attempt counting from 0."""
    ceiling = min(max_ms, base_ms * 2 ** min(attempt, 52))
    return int(rand() * ceiling)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[int]:
    """``Retry-After`` in milliseconds: delta-seconds (decimals accepted) or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if _DECIMAL.match(text):
        return int(round(float(text) * 1000))
    if not re.search(r"[a-zA-Z]", text):
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now / 1000
    return max(0, int(round((when.timestamp() - current) * 1000)))
