"""sluice_sdk: record decision-pipeline runs, steps, candidate funnels and logs into Sluice.

    import sluice_sdk as sluice
    sluice.configure(endpoint="http://localhost:8000", api_key="...")
    with sluice.start_run(name="recs", tags={"env": "prod"}):
        with sluice.step(name="dedupe", step_type="filter") as s:
            kept = sluice.process_candidates(candidates, lambda c: True if c["ok"] else "duplicate")
            s.set_outputs({"kept": len(kept)})
    sluice.shutdown()

The module-level functions use the client made by ``configure()``; before it, runs and steps
work but record nothing. ``Client`` makes independent clients.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from typing import Any, Callable, Dict, Optional, TypeVar, Union

from ._options import DEFAULTS
from ._tracing import MAX_REASON_CHARS, MAX_REASONS, Recorder, Run, Step, current_run, current_step, process_candidates
from ._transport import DROP_REASONS, DropReport
from ._version import SDK_VERSION
from .client import DISABLED, Client, enable_debug_logging

__all__ = [
    "Client",
    "DEFAULTS",
    "DROP_REASONS",
    "DropReport",
    "MAX_REASONS",
    "MAX_REASON_CHARS",
    "Run",
    "SDK_VERSION",
    "Step",
    "configure",
    "current_run",
    "current_step",
    "enable_debug_logging",
    "flush",
    "get_client",
    "log",
    "process_candidates",
    "shutdown",
    "start_run",
    "stats",
    "step",
    "traced_run",
    "traced_step",
]

logger = logging.getLogger("sluice_sdk")
logger.addHandler(logging.NullHandler())

F = TypeVar("F", bound=Callable[..., Any])

_client: Optional[Client] = None
_client_lock = threading.Lock()
_warned = False


def configure(endpoint: str, api_key: str, **options: Any) -> Client:
    """Makes the client the module-level functions use (see ``Client`` for the options and their
    defaults). A client configured before is shut down first."""
    global _client
    client = Client(endpoint, api_key, **options)
    with _client_lock:
        previous, _client = _client, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Optional[Client]:
    """The client ``configure()`` made, if any."""
    return _client


def _recorder() -> Recorder:
    global _warned
    client = _client
    if client is not None:
        return client
    if not _warned:
        _warned = True
        logger.warning("sluice_sdk.configure() was not called: runs, steps and logs are not recorded")
    return DISABLED


def start_run(name: str, tags: Optional[Dict[str, str]] = None, run_id: Optional[str] = None) -> Run:
    """A run: ``with sluice.start_run(name="recs", tags={"env": "prod"}) as run:`` (or ``async with``).
    Sends ``run_start`` on entering and ``run_complete`` on leaving (``failed`` with the message
    of an exception, which propagates)."""
    return Run(_recorder(), name, tags, run_id)


def step(name: str, step_type: str = "logic") -> Step:
    """A step of the current run: ``with sluice.step(name="dedupe", step_type="filter") as s:``.
    Sends one ``step_complete`` on leaving, with the exception's message if one propagates."""
    return Step(_recorder(), name, step_type)


def log(
    level: str,
    message: str,
    service: Optional[str] = None,
    attributes: Optional[Dict[str, Any]] = None,
    run_id: Optional[str] = None,
) -> None:
    """A log line; inside a run it carries that run's id."""
    client = _recorder()
    if isinstance(client, Client):
        client.log(level, message, service=service, attributes=attributes, run_id=run_id)


def flush(timeout: Optional[float] = None) -> bool:
    """Sends everything recorded so far; see ``Client.flush``."""
    client = _client
    return True if client is None else client.flush(timeout)


def shutdown(timeout: Optional[float] = None) -> bool:
    """Flushes and stops the configured client; see ``Client.shutdown``."""
    client = _client
    return True if client is None else client.shutdown(timeout)


def stats() -> Dict[str, Any]:
    """The configured client's counters (empty before ``configure()``)."""
    client = _client
    return {} if client is None else client.stats()


def traced_step(name: Union[str, Callable[..., Any], None] = None, step_type: str = "logic") -> Any:
    """Runs each call of the decorated function (sync or async) as a step of the current run,
    named after the function unless ``name`` is given. Inside, ``sluice.current_step()`` is the
    step. ``@traced_step`` and ``@traced_step(name=..., step_type=...)`` both work."""
    if callable(name):
        return traced_step()(name)

    def decorate(fn: F) -> F:
        step_name = name or fn.__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with step(step_name, step_type):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with step(step_name, step_type):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def traced_run(name: Union[str, Callable[..., Any], None] = None, tags: Optional[Dict[str, str]] = None) -> Any:
    """Runs each call of the decorated function (sync or async) as one run, named after the
    function unless ``name`` is given."""
    if callable(name):
        return traced_run()(name)

    def decorate(fn: F) -> F:
        run_name = name or fn.__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with start_run(run_name, tags):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with start_run(run_name, tags):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
