"""The SDK against a real Sluice (the ``sluice_server`` fixture): what the SDK records is what
``/analyze`` answers. The clock is the SDK's injectable one, moved by the test, so every duration
is known exactly; ids are the SDK's own."""

from __future__ import annotations

import calendar
import uuid
from typing import Any, Callable, Dict, List

import pytest

import sluice_sdk as sluice
from sluice_sdk._encode import iso_time

pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self) -> None:
        self.ms = calendar.timegm((2026, 11, 22, 9, 30, 0, 0, 0, 0)) * 1000

    def now(self) -> int:
        return self.ms


def count_reasons(items: List[Any], decide: Callable[[Any], Any]) -> Dict[str, int]:
    """Counts rejections the way a reader would, independently of the SDK."""
    reasons: Dict[str, int] = {}
    for item in items:
        verdict = decide(item)
        if verdict is not True:
            reasons[verdict] = reasons.get(verdict, 0) + 1
    return reasons


@pytest.fixture
def project(sluice_server) -> Dict[str, Any]:
    return sluice_server.create_project()


def test_a_run_of_five_steps_analyze_equals_what_the_sdk_recorded(sluice_server, project) -> None:
    clock = Clock()
    client = sluice.configure(endpoint=sluice_server.url, api_key=project["ingest_key"], clock=clock.now, flush_on_exit=False)
    candidates = [{"id": i, "score": (i * 37) % 100, "category": i % 6, "duplicate": i % 10 == 3} for i in range(120)]
    expected: List[Dict[str, Any]] = []
    name = "recs-e2e-" + uuid.uuid4().hex[:8]

    def stage(meta: Dict[str, Any], items: List[Any], decider: Callable[[], Callable[[Any], Any]], outputs: Callable[[List[Any]], Dict[str, Any]]) -> List[Any]:
        # decider is a factory: a decide may keep state, and the expected counts replay it afresh.
        with sluice.step(name=meta["name"], step_type=meta["type"]) as s:
            s.set_inputs({"count": len(items)})
            clock.ms += meta["ms"]
            kept = sluice.process_candidates(items, decider())
            out = outputs(kept)
            s.set_outputs(out)
            if "cost" in meta:
                s.add_cost(meta["cost"])
        expected.append(
            {
                "step_id": s.id,
                "name": meta["name"],
                "type": meta["type"],
                "input_count": len(items),
                "output_count": len(kept),
                "rejection_reasons": count_reasons(items, decider()),
                "duration_ms": meta["ms"],
                "cost": meta.get("cost"),
                "outputs": out,
            }
        )
        return kept

    def diversity() -> Callable[[Any], Any]:
        per_category: Dict[int, int] = {}

        def decide(c: Dict[str, Any]) -> Any:
            n = per_category.get(c["category"], 0)
            per_category[c["category"]] = n + 1
            return True if n < 4 else "category_full"

        return decide

    started_at = clock.ms
    with sluice.start_run(name=name, tags={"env": "test", "sdk": "python"}) as run:
        clock.ms += 3
        retrieved = stage({"name": "retrieve", "type": "retrieval", "ms": 40, "cost": 0.001}, candidates, lambda: lambda c: True, lambda k: {"retrieved": len(k)})
        unique = stage({"name": "dedupe", "type": "filter", "ms": 5}, retrieved, lambda: lambda c: "duplicate" if c["duplicate"] else True, lambda k: {"unique": len(k)})
        scored = stage({"name": "score", "type": "llm", "ms": 230, "cost": 0.0245}, unique, lambda: lambda c: True if c["score"] >= 30 else "low_score", lambda k: {"scored": len(k)})
        diverse = stage({"name": "diversify", "type": "filter", "ms": 2}, scored, diversity, lambda k: {"diverse": len(k)})
        cutoff = sorted((c["score"] for c in diverse), reverse=True)[9]
        top = stage(
            {"name": "rank", "type": "logic", "ms": 1},
            diverse,
            lambda: lambda c: True if c["score"] >= cutoff else "below_top_10",
            lambda k: {"top": [c["id"] for c in k]},
        )
        clock.ms += 4
    completed_at = clock.ms
    assert len(top) >= 10

    assert client.flush(30)
    stats = client.stats()
    assert (stats["sent"], stats["queued"], stats["dropped"]["rejected"], stats["dropped"]["client_error"]) == (7, 0, 0, 0)
    sluice_server.wait_until_processed()

    status, body = sluice_server.get("/analyze/" + run.id, project["query_key"])
    assert status == 200, body
    total_cost = 0.001 + 0.0245
    assert body["run"] == {
        "id": run.id,
        "name": name,
        "status": "COMPLETED",
        "total_cost": pytest.approx(total_cost, abs=1e-12),
        "tags": {"env": "test", "sdk": "python"},
        "started_at": iso_time(started_at),
        "completed_at": iso_time(completed_at),
        "error": None,
        "created_at": body["run"]["created_at"],
        "step_count": 5,
    }
    assert body["funnel"] == [
        {
            "step_id": s["step_id"],
            "name": s["name"],
            "type": s["type"],
            "input_count": s["input_count"],
            "output_count": s["output_count"],
            "dropped": s["input_count"] - s["output_count"],
            "drop_rate": pytest.approx((s["input_count"] - s["output_count"]) / s["input_count"], abs=1e-12),
            "rejection_reasons": s["rejection_reasons"],
            "duration_ms": s["duration_ms"],
            "cost": None if s["cost"] is None else pytest.approx(s["cost"], abs=1e-12),
        }
        for s in expected
    ]
    assert body["summary"] == {
        "initial_count": 120,
        "final_count": len(top),
        "overall_drop_rate": pytest.approx(1 - len(top) / 120, abs=1e-12),
        "total_cost": pytest.approx(total_cost, abs=1e-12),
        "total_duration_ms": completed_at - started_at,
    }
    assert body["final_outputs"] == {"top": [c["id"] for c in top]}

    status, steps = sluice_server.get("/runs/%s/steps" % run.id, project["query_key"])
    assert [(s["name"], s["inputs"], s["outputs"]) for s in steps] == [(s["name"], {"count": s["input_count"]}, s["outputs"]) for s in expected]


def test_an_exception_inside_a_step_makes_a_failed_run_with_the_error(sluice_server, project) -> None:
    client = sluice.configure(endpoint=sluice_server.url, api_key=project["ingest_key"], flush_on_exit=False)
    with pytest.raises(RuntimeError, match="ranker exploded"):
        with sluice.start_run(name="failing-e2e-" + uuid.uuid4().hex[:8]) as run:
            with sluice.step(name="fetch", step_type="retrieval"):
                sluice.process_candidates([1, 2, 3], lambda c: True)
            with sluice.step(name="rank", step_type="llm") as failing:
                raise RuntimeError("ranker exploded: quota exceeded")
    assert client.flush(30)
    sluice_server.wait_until_processed()

    status, body = sluice_server.get("/runs/" + run.id, project["query_key"])
    assert status == 200
    assert (body["status"], body["error"], body["step_count"]) == ("FAILED", "ranker exploded: quota exceeded", 2)
    status, analysis = sluice_server.get("/analyze/" + run.id, project["query_key"])
    assert analysis["run"]["status"] == "FAILED"
    status, steps = sluice_server.get("/runs/%s/steps" % run.id, project["query_key"])
    assert [(s["name"], s["error"]) for s in steps] == [("fetch", None), ("rank", "ranker exploded: quota exceeded")]
    assert steps[1]["id"] == failing.id
