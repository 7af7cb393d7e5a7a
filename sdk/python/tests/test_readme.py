"""The README starts with a ten-line program that must run exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _support import FakeIngest

SDK = Path(__file__).resolve().parents[1]


def test_the_readmes_first_example_runs_as_written_and_sends_its_events(fake_ingest: FakeIngest, tmp_path: Path) -> None:
    readme = (SDK / "README.md").read_text("utf-8")
    match = re.match(r"^```python\n(.*?)\n```", readme, re.S)
    assert match, "the README starts with a ```python block"
    example = match.group(1)
    assert len(example.split("\n")) <= 10
    (tmp_path / "example.py").write_text(example)
    env = dict(os.environ, PYTHONPATH=str(SDK), SLUICE_ENDPOINT=fake_ingest.url, SLUICE_INGEST_KEY="readme-key")
    done = subprocess.run([sys.executable, str(tmp_path / "example.py")], cwd=str(tmp_path), env=env, capture_output=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    events = [e for r in fake_ingest.requests for e in r.events]
    assert [e["type"] for e in events] == ["run_start", "step_complete", "run_complete", "log"]
    step = events[1]["data"]
    assert (step["name"], step["input_count"], step["output_count"], step["rejection_reasons"]) == ("dedupe", 3, 2, {"duplicate": 1})
    assert step["outputs"] == {"kept": 2}
    assert events[3]["data"] == {"level": "info", "message": "kept 2 of 3", "service": "recs"}
    assert fake_ingest.requests[0].headers["authorization"] == "Bearer readme-key"
