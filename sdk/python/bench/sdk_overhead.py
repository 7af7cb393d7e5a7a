"""The Python SDK's cost: what recording one event costs the caller, and how many events per
second one process can push to a local Sluice. Prints figures; never part of ``npm test``.

    python3 sdk/python/bench/sdk_overhead.py                  # about a minute
    python3 sdk/python/bench/sdk_overhead.py --events 50000 --seconds 3
    python3 sdk/python/bench/sdk_overhead.py --url URL --admin-token TOKEN   # a running Sluice
    python3 sdk/python/bench/sdk_overhead.py --no-server      # overhead only

1. Overhead: µs per event for ``sluice.log(...)`` and for one ``with step(...)`` (a
   ``step_complete``), nothing being sent meanwhile; against a baseline measured in the same run:
   building the same event dict by hand (uuid4, ISO timestamp), then also ``json.dumps`` of it.
   The median of ``--rounds`` rounds.
2. Throughput: runs of five steps (20 candidates each; seven events a run), then log events,
   recorded as fast as the queue drains (the producer pauses while more than half of
   ``max_queue_size`` waits), default options, to a Sluice started like the pytest fixture does,
   with its rate limit off. Events/s = events the server accepted / time until the last flush.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[1] / "tests"))

import sluice_sdk  # noqa: E402
from sluice_sdk import DEFAULTS  # noqa: E402
from _local_sluice import Sluice, local_sluice  # noqa: E402


def iso_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def per_event_us(fn: Callable[[int], None], n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(times)


def quiet_client(n: int) -> sluice_sdk.Client:
    """A client that sends nothing while measured: large thresholds, room for every event."""
    return sluice_sdk.Client(
        "http://127.0.0.1:9",
        "k",
        flush_at=10**9,
        flush_interval_ms=10**9,
        max_queue_size=n + 10,
        max_queue_bytes=2**40,
        flush_on_exit=False,
    )


def overhead(n: int, rounds: int) -> None:
    attributes = {"order_id": 42, "region": "eu"}

    def hand_log(count: int, dump: bool = False) -> None:
        sink: List[object] = []
        for _ in range(count):
            e = {
                "id": str(uuid.uuid4()),
                "type": "log",
                "timestamp": iso_now(),
                "data": {"level": "error", "message": "payment timeout", "service": "checkout", "attributes": dict(attributes)},
            }
            sink.append(json.dumps(e, separators=(",", ":")) if dump else e)

    def sdk_log(count: int) -> None:
        c = quiet_client(count)
        for _ in range(count):
            c.log("error", "payment timeout", service="checkout", attributes=attributes)
        c.shutdown(0)

    def hand_step(count: int, dump: bool = False) -> None:
        sink: List[object] = []
        run_id = str(uuid.uuid4())
        for _ in range(count):
            started = iso_now()
            e = {
                "id": str(uuid.uuid4()),
                "type": "step_complete",
                "timestamp": iso_now(),
                "data": {
                    "step_id": str(uuid.uuid4()),
                    "run_id": run_id,
                    "name": "dedupe",
                    "type": "filter",
                    "inputs": {"query": "shoes"},
                    "outputs": {"kept": 2},
                    "cost": 0.002,
                    "started_at": started,
                    "completed_at": iso_now(),
                },
            }
            sink.append(json.dumps(e, separators=(",", ":")) if dump else e)

    def sdk_step(count: int) -> None:
        c = quiet_client(count + 2)
        with c.start_run(name="bench"):
            for _ in range(count):
                with c.step(name="dedupe", step_type="filter") as s:
                    s.set_inputs({"query": "shoes"})
                    s.set_outputs({"kept": 2})
                    s.add_cost(0.002)
        c.shutdown(0)

    print("## Overhead per event (median of %d rounds of %d events; nothing sent meanwhile)" % (rounds, n))
    print()
    print("| event | SDK µs | by hand µs | ratio | by hand + json.dumps µs | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, sdk, hand in (("log", sdk_log, hand_log), ("step_complete (with step)", sdk_step, hand_step)):
        sdk(1000)  # warm up
        s = per_event_us(sdk, n, rounds)
        h = per_event_us(hand, n, rounds)
        hj = per_event_us(lambda k, hand=hand: hand(k, True), n, rounds)
        print("| %s | %.2f | %.2f | %.2fx | %.2f | %.2fx |" % (label, s, h, s / h, hj, s / hj))
    print()


def push(server: Sluice, seconds: float, kind: str, max_in_flight: int) -> Dict[str, float]:
    project = server.create_project()
    c = sluice_sdk.Client(server.url, project["ingest_key"], flush_on_exit=False, max_in_flight=max_in_flight)
    half = c.options.max_queue_size // 2
    candidates = list(range(20))
    t0 = time.perf_counter()
    end = t0 + seconds
    recorded = 0
    while time.perf_counter() < end:
        if kind == "runs":
            with c.start_run(name="bench", tags={"env": "bench"}):
                for i in range(5):
                    with c.step(name="step-%d" % i, step_type="filter") as s:
                        s.set_inputs({"query": "shoes", "page": i})
                        s.process_candidates(candidates, lambda x: True if x % 4 else "dropped")
                        s.set_outputs({"kept": 15})
            recorded += 7
        else:
            for _ in range(100):
                c.log("info", "checkout completed", service="checkout", attributes={"order_id": recorded})
            recorded += 100
        while c.stats()["queued"] > half:
            time.sleep(0.001)
    done = c.flush(60)
    elapsed = time.perf_counter() - t0
    stats = c.stats()
    c.shutdown(5)
    dropped = sum(stats["dropped"].values())
    return {
        "recorded": recorded,
        "sent": stats["sent"],
        "dropped": dropped,
        "requests": stats["requests"],
        "retries": stats["retries"],
        "seconds": elapsed,
        "flushed": done,
    }


def throughput(server: Sluice, seconds: float) -> None:
    print("## Events/s one process pushes to a local Sluice (default options: flush_at 100, max_batch_events 1000, gzip)")
    print()
    print("max_in_flight 1 (one request at a time) is the baseline, measured in the same run, alternating.")
    print()
    print("| workload | max_in_flight | events/s accepted | events | requests | events/request | retries | dropped |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, label in (("runs", "runs of 5 steps (7 events/run)"), ("logs", "log events")):
        for in_flight in (1, DEFAULTS["max_in_flight"]):
            r = push(server, seconds, kind, in_flight)
            per_request = r["sent"] / max(1, r["requests"] - r["retries"])
            print(
                "| %s | %d | %.0f | %d | %d | %.0f | %d | %d |"
                % (label, in_flight, r["sent"] / r["seconds"], r["sent"], r["requests"], per_request, r["retries"], r["dropped"])
            )
    print()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--url")
    p.add_argument("--admin-token")
    p.add_argument("--no-server", action="store_true")
    a = p.parse_args()
    print("# sluice_sdk %s on Python %s" % (sluice_sdk.SDK_VERSION, sys.version.split()[0]))
    print()
    overhead(a.events, a.rounds)
    if a.no_server:
        return
    if a.url and a.admin_token:
        throughput(Sluice(a.url, a.admin_token), a.seconds)
        return
    print("(starting a local Sluice: scripts/services-up.sh, then server.ts, rate limit off)", file=sys.stderr)
    with local_sluice({"SLUICE_RATE_LIMIT_EVENTS_PER_SECOND": "0", "LOG_LEVEL": "info"}) as server:
        throughput(server, a.seconds)


if __name__ == "__main__":
    main()
