"""For code written against the X-Ray SDK: the same calls, recorded into Sluice.

    import xray_sdk as xray
    xray.configure(endpoint="http://localhost:8000", api_key="...")
    with xray.start_run(name="recs"):
        with xray.step(name="dedupe", step_type="filter"):
            kept = xray.process_candidates(candidates, decide)

Everything here is ``sluice_sdk``'s, re-exported.
"""

from sluice_sdk import (
    configure,
    current_run,
    current_step,
    flush,
    log,
    process_candidates,
    shutdown,
    start_run,
    step,
    traced_step,
)

__all__ = [
    "configure",
    "current_run",
    "current_step",
    "flush",
    "log",
    "process_candidates",
    "shutdown",
    "start_run",
    "step",
    "traced_step",
]
