"""The retry rules (the TypeScript SDK's retry.test.ts checks the same values)."""

from __future__ import annotations

from sluice_sdk._retry import backoff_ms, is_retryable, parse_retry_after


def test_retries_network_errors_408_429_and_5xx_only() -> None:
    statuses = [0, 200, 207, 400, 401, 403, 404, 408, 413, 415, 429, 500, 502, 503, 504]
    assert [s for s in statuses if is_retryable(s)] == [0, 408, 429, 500, 502, 503, 504]


def test_backoff_is_full_jitter_under_an_exponential_ceiling_capped_at_max() -> None:
    assert [backoff_ms(a, 500, 30_000, lambda: 0.999999) for a in (0, 1, 2, 3, 10)] == [499, 999, 1999, 3999, 29_999]
    assert backoff_ms(4, 500, 30_000, lambda: 0.0) == 0
    assert backoff_ms(5000, 500, 30_000, lambda: 0.5) == 15_000


def test_retry_after_reads_delta_seconds_decimals_and_http_dates() -> None:
    now = 1_795_341_600_000  # 2026-11-22T10:00:00Z
    assert parse_retry_after("5", now) == 5000
    assert parse_retry_after(" 0.25 ", now) == 250
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:07 GMT", now) == 7000
    assert parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now) == 0


def test_retry_after_is_none_when_absent_or_unreadable() -> None:
    assert [parse_retry_after(v) for v in (None, "", "soon", "-1")] == [None, None, None, None]
