"""The shared vectors of sdk/testdata: the TypeScript SDK's tests play the same files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sluice_sdk
from _support import FakeIngest, FixedClock, ScriptError, id_number, play, read_defaults, read_vectors, sequential_ids

# Only flush() sends; retries are quick.
# One request at a time, so requests arrive (and are answered) in the order the vectors list.
QUIET = dict(flush_at=1_000_000, flush_interval_ms=1_000_000, retry_base_ms=1, retry_max_ms=5, flush_on_exit=False, max_in_flight=1)


def test_defaults_are_the_ones_testdata_lists() -> None:
    assert sluice_sdk.DEFAULTS == read_defaults()


def test_sdk_version_is_pyprojects() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == sluice_sdk.SDK_VERSION


@pytest.mark.parametrize("name,vector", read_vectors("tracing"), ids=[n for n, _ in read_vectors("tracing")])
def test_tracing_vector(name: str, vector: dict, fake_ingest: FakeIngest) -> None:
    clock = FixedClock(vector["clock_start"])
    client = sluice_sdk.configure(endpoint=fake_ingest.url, api_key="k", clock=clock.now, generate_id=sequential_ids(), **QUIET)
    try:
        play(vector["script"], sluice_sdk, clock)
    except ScriptError:
        # A top-level op may end by raising (it then says so in `raises`, checked in play).
        assert any("raises" in op and not op.get("catch") for op in vector["script"])
    assert client.shutdown(2) is True
    assert [e for r in fake_ingest.requests for e in r.events] == vector["events"]


@pytest.mark.parametrize("name,vector", read_vectors("delivery"), ids=[n for n, _ in read_vectors("delivery")])
def test_delivery_vector(name: str, vector: dict, fake_ingest: FakeIngest) -> None:
    responses = vector["responses"]
    fake_ingest.responder = lambda req, i: responses[i] if i < len(responses) else {"status": 200}
    dropped: dict = {}
    options = dict(QUIET, **vector["options"])
    client = sluice_sdk.Client(
        fake_ingest.url,
        "k",
        clock=FixedClock("2026-11-22T10:00:00.000Z").now,
        generate_id=sequential_ids(),
        on_drop=lambda r: dropped.setdefault(r.reason, []).extend(id_number(e["id"]) for e in r.events),
        **options,
    )
    for n in range(1, vector["events"] + 1):
        client.log("info", "event %d" % n)
    assert client.flush(10) is True
    expect = vector["expect"]
    assert [[id_number(i) for i in ids] for ids in fake_ingest.ids()] == expect["requests"]
    for reason in sluice_sdk.DROP_REASONS:
        assert (reason, dropped.get(reason, [])) == (reason, expect["dropped"].get(reason, []))
    stats = client.stats()
    assert stats["sent"] == expect["sent"]
    assert stats["dropped"] == {r: len(expect["dropped"].get(r, [])) for r in sluice_sdk.DROP_REASONS}
    assert client.shutdown(1) is True
