"""What runs and steps record, beyond the shared vectors: threads, asyncio, decorators, edge values."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import datetime
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest

import sluice_sdk as sluice
import xray_sdk
from sluice_sdk._encode import MAX_TEXT_CHARS, safe_json
from _support import FakeIngest

FAST = dict(flush_at=1_000_000, flush_interval_ms=1_000_000, flush_on_exit=False)


@pytest.fixture
def client(fake_ingest: FakeIngest) -> sluice.Client:
    return sluice.configure(endpoint=fake_ingest.url, api_key="k", **FAST)


def sent(fake_ingest: FakeIngest) -> List[Dict[str, Any]]:
    client = sluice.get_client()
    assert client is not None and client.shutdown(2)
    return [e for r in fake_ingest.requests for e in r.events]


def of_type(events: List[Dict[str, Any]], kind: str) -> List[Dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


class TestRunsAndSteps:
    def test_the_exception_propagates_unchanged_and_is_recorded(self, client, fake_ingest) -> None:
        boom = KeyError("sku-42")
        with pytest.raises(KeyError) as caught:
            with sluice.start_run(name="r"):
                with sluice.step(name="s"):
                    raise boom
        assert caught.value is boom
        events = sent(fake_ingest)
        assert [(e["type"], e["data"].get("error")) for e in events] == [
            ("run_start", None),
            ("step_complete", "'sku-42'"),
            ("run_complete", "'sku-42'"),
        ]
        assert events[2]["data"]["status"] == "failed"

    def test_base_exceptions_fail_the_run_too(self, client, fake_ingest) -> None:
        with pytest.raises(SystemExit):
            with sluice.start_run(name="r"):
                raise SystemExit()
        assert [(d["status"], d["error"]) for d in of_type(sent(fake_ingest), "run_complete")] == [("failed", "SystemExit")]

    def test_a_step_outside_a_run_runs_and_records_nothing(self, client, fake_ingest) -> None:
        with sluice.step(name="alone") as s:
            s.set_outputs({"x": 1})
            kept = sluice.process_candidates([1, 2], lambda c: c == 1 or "no")
        assert kept == [1]
        assert s.id is None
        assert sluice.process_candidates([1, 2, 3], lambda c: c > 1 or "small") == [2, 3]
        assert sent(fake_ingest) == []

    def test_without_configure_nothing_is_sent_and_nothing_raises(self, fake_ingest, caplog) -> None:
        with caplog.at_level(logging.WARNING, logger="sluice_sdk"):
            with sluice.start_run(name="r") as run:
                with sluice.step(name="s"):
                    assert sluice.process_candidates([1], lambda c: True) == [1]
                sluice.log("info", "m")
        assert run.id is not None
        assert (sluice.flush(), sluice.shutdown(), sluice.stats()) == (True, True, {})
        assert fake_ingest.requests == []

    def test_async_with_and_concurrent_tasks_keep_their_own_run_and_step(self, client, fake_ingest) -> None:
        async def one(name: str, delay: float) -> str:
            async with sluice.start_run(name=name) as run:
                await asyncio.sleep(delay)
                async with sluice.step(name=name + "-step") as s:
                    await asyncio.sleep(delay)
                    assert sluice.current_run() is run
                    assert sluice.current_step() is s
                    sluice.log("info", "from " + name)
                return run.id

        async def main() -> List[str]:
            return await asyncio.gather(one("a", 0.02), one("b", 0.005))

        a, b = asyncio.run(main())
        assert sluice.current_run() is None
        logs = sorted((d["message"], d["run_id"]) for d in of_type(sent(fake_ingest), "log"))
        assert logs == [("from a", a), ("from b", b)]

    def test_threads_keep_their_own_run(self, client, fake_ingest) -> None:
        barrier = threading.Barrier(8)
        seen: Dict[str, str] = {}

        def work(i: int) -> None:
            with sluice.start_run(name="t%d" % i) as run:
                barrier.wait()
                with sluice.step(name="s", step_type="filter"):
                    sluice.process_candidates(range(i + 1), lambda c: c % 2 == 0 or "odd")
                    sluice.log("info", "thread %d" % i)
                seen[run.id] = "t%d" % i

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        events = sent(fake_ingest)
        names = {d["run_id"]: d["name"] for d in of_type(events, "run_start")}
        assert names == seen
        for d in of_type(events, "step_complete"):
            i = int(names[d["run_id"]][1:])
            assert (d["input_count"], d["output_count"]) == (i + 1, i // 2 + 1)
        for d in of_type(events, "log"):
            assert names[d["run_id"]] == "t" + d["message"].split()[1]

    def test_a_run_handle_or_a_copied_context_carries_the_run_to_worker_threads(self, client, fake_ingest) -> None:
        with sluice.start_run(name="pool") as run:
            with ThreadPoolExecutor(2) as pool:
                # Threads do not inherit context variables: either pass the run ...
                def explicit(i: int) -> None:
                    assert sluice.current_run() is None
                    with run.step(name="explicit-%d" % i):
                        pass

                list(pool.map(explicit, range(2)))
                # ... or run the function in a copy of the caller's context.
                ctx = contextvars.copy_context()
                pool.submit(ctx.run, lambda: sluice.step(name="copied").__enter__().__exit__(None, None, None)).result()
        steps = of_type(sent(fake_ingest), "step_complete")
        assert sorted(d["name"] for d in steps) == ["copied", "explicit-0", "explicit-1"]
        assert {d["run_id"] for d in steps} == {run.id}


class TestDecorators:
    def test_traced_step_sync_and_async_named_after_the_function(self, client, fake_ingest) -> None:
        @sluice.traced_step
        def rank(items: List[int]) -> List[int]:
            sluice.current_step().set_inputs({"n": len(items)})
            return sorted(items)

        @sluice.traced_step(name="fetch", step_type="retrieval")
        async def fetch_items() -> List[int]:
            await asyncio.sleep(0)
            return [3, 1, 2]

        @sluice.traced_run(name="decorated", tags={"env": "test"})
        def pipeline() -> List[int]:
            return rank(asyncio.run(fetch_items()))

        assert pipeline() == [1, 2, 3]
        assert rank.__name__ == "rank"
        events = sent(fake_ingest)
        assert [(d["name"], d["tags"]) for d in of_type(events, "run_start")] == [("decorated", {"env": "test"})]
        steps = of_type(events, "step_complete")
        assert [(d["name"], d["type"], d.get("inputs")) for d in steps] == [("fetch", "retrieval", None), ("rank", "logic", {"n": 3})]

    def test_traced_step_records_the_exception_and_reraises(self, client, fake_ingest) -> None:
        @sluice.traced_step(step_type="llm")
        def call_model() -> None:
            raise TimeoutError("model timed out")

        @sluice.traced_run
        async def pipeline() -> None:
            call_model()

        with pytest.raises(TimeoutError):
            asyncio.run(pipeline())
        events = sent(fake_ingest)
        assert [(d["name"], d["error"]) for d in of_type(events, "step_complete")] == [("call_model", "model timed out")]
        assert [(d["status"], d["error"]) for d in of_type(events, "run_complete")] == [("failed", "model timed out")]
        assert of_type(events, "run_start")[0]["name"] == "pipeline"

    def test_xray_sdk_reexports_the_same_calls(self) -> None:
        for name in ("start_run", "step", "process_candidates", "configure", "log", "traced_step", "shutdown", "flush"):
            assert getattr(xray_sdk, name) is getattr(sluice, name)


class TestWhatAStepRecords:
    def test_process_candidates_counts_over_calls_and_a_raising_decide_records_nothing(self, client, fake_ingest) -> None:
        with sluice.start_run(name="r"):
            with sluice.step(name="s", step_type="filter") as s:
                assert s.process_candidates({1, 2, 3, 4}, lambda n: n % 2 == 0 or "odd") == [2, 4]

                def decide(n: int) -> bool:
                    if n == 6:
                        raise ValueError("decide failed")
                    return True

                with pytest.raises(ValueError):
                    s.process_candidates([5, 6], decide)
                assert s.process_candidates(iter([7]), lambda n: "") == []
                assert s.process_candidates([8], lambda n: 1) == []
        data = of_type(sent(fake_ingest), "step_complete")[0]
        assert (data["input_count"], data["output_count"], data["rejection_reasons"]) == (6, 2, {"odd": 2, "rejected": 2})

    def test_at_most_max_reasons_and_long_ones_cut(self, client, fake_ingest) -> None:
        with sluice.start_run(name="r"):
            with sluice.step(name="many"):
                sluice.process_candidates(range(300), lambda i: "reason-%d" % i)
            with sluice.step(name="long"):
                sluice.process_candidates([0], lambda i: "x" * 500)
        many, long = (d["rejection_reasons"] for d in of_type(sent(fake_ingest), "step_complete"))
        assert len(many) == sluice.MAX_REASONS
        assert many["other"] == 300 - (sluice.MAX_REASONS - 1)
        assert long == {"x" * 100: 1}

    def test_unserializable_values_are_recorded_instead_of_raising(self, client, fake_ingest) -> None:
        loop: Dict[str, Any] = {"name": "loop"}
        loop["self"] = loop
        with sluice.start_run(name="r"):
            with sluice.step(name="s") as s:
                s.set_inputs({"loop": loop, "when": datetime.date(2026, 11, 22), "tags": ("a",), "obj": object, "nan": math.nan})
                s.set_outputs([1, 2])  # type: ignore[arg-type]
                s.add_cost(math.nan)
                s.add_cost(True)  # type: ignore[arg-type]
        data = of_type(sent(fake_ingest), "step_complete")[0]
        assert data["inputs"] == {
            "loop": {"name": "loop", "self": "[Circular]"},
            "when": "2026-11-22",
            "tags": ["a"],
            "obj": "<class 'object'>",
            "nan": None,
        }
        assert data["outputs"] == {"value": [1, 2]}
        assert "cost" not in data

    def test_error_texts_are_cut_to_max_text_chars(self, client, fake_ingest) -> None:
        with pytest.raises(RuntimeError):
            with sluice.start_run(name="r"):
                raise RuntimeError("é" * (MAX_TEXT_CHARS + 10))
        assert of_type(sent(fake_ingest), "run_complete")[0]["error"] == "é" * MAX_TEXT_CHARS

    def test_log_attributes_as_the_typescript_sdk_writes_them(self, client, fake_ingest) -> None:
        sluice.log("warning", "m", attributes={"s": "x", "n": 1.5, "b": True, "o": {"a": 1}, "arr": [1], "inf": math.inf, "u": None})
        data = sent(fake_ingest)[0]["data"]
        assert data == {"level": "warning", "message": "m", "attributes": {"s": "x", "n": 1.5, "b": True, "o": '{"a":1}', "arr": "[1]", "inf": "Infinity"}}

    def test_safe_json_never_raises(self) -> None:
        class Weird:
            def __str__(self) -> str:
                raise RuntimeError("no")

        assert safe_json({"w": Weird(), (1, 2): "tuple key", "f": math.inf}) == '{"w":"[Unserializable]","(1, 2)":"tuple key","f":null}'


class TestOptions:
    def test_a_wrong_option_raises_at_construction(self) -> None:
        with pytest.raises(ValueError):
            sluice.Client("", "k")
        with pytest.raises(ValueError, match="http"):
            sluice.Client("localhost:8000", "k")
        with pytest.raises(ValueError, match="api_key"):
            sluice.Client("http://x", "")
        with pytest.raises(ValueError):
            sluice.Client("http://x", "k", flush_at=0)
        with pytest.raises(ValueError):
            sluice.Client("http://x", "k", retry_base_ms=-1)
        with pytest.raises(TypeError):
            sluice.Client("http://x", "k", gzip="yes")
        with pytest.raises(TypeError, match="flushAt"):
            sluice.Client("http://x", "k", flushAt=10)

    def test_configure_replaces_and_shuts_down_the_previous_client(self, fake_ingest) -> None:
        first = sluice.configure(endpoint=fake_ingest.url, api_key="k", **FAST)
        first.log("info", "one")
        second = sluice.configure(endpoint=fake_ingest.url, api_key="k", **FAST)
        assert sluice.get_client() is second
        assert first.stats()["sent"] == 1
        first.log("info", "after")
        assert first.stats()["dropped"]["shutdown"] == 1


def test_the_sdk_is_python_3_9_syntax() -> None:
    root = Path(sluice.__file__).resolve().parents[1]
    for path in sorted(root.glob("sluice_sdk/*.py")) + sorted(root.glob("xray_sdk/*.py")):
        ast.parse(path.read_text("utf-8"), filename=str(path), feature_version=(3, 9))
