"""Runs and steps. The current run and step are context variables, so each thread and each
asyncio task sees its own; a run's events are recorded by the client that started it."""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar, Token
from typing import Any, Callable, Dict, Iterable, List, Optional, TypeVar

from ._encode import as_record, error_text, iso_time, log_attributes, truncate_text

logger = logging.getLogger("sluice_sdk")

T = TypeVar("T")

#: Rejection reasons longer than this are cut (Sluice takes map keys up to 200 UTF-16 units).
MAX_REASON_CHARS = 100
#: Distinct reasons kept per step (Sluice takes up to 200); further ones are counted as ``other``.
MAX_REASONS = 200

_current_run: ContextVar[Optional["Run"]] = ContextVar("sluice_current_run", default=None)
_current_step: ContextVar[Optional["Step"]] = ContextVar("sluice_current_step", default=None)


class Recorder:
    """What runs and steps need from a client: a clock, ids, and somewhere to send events."""

    def _now(self) -> float:
        raise NotImplementedError

    def _new_id(self) -> str:
        raise NotImplementedError

    def _emit(self, event_type: str, timestamp: float, data: Dict[str, Any]) -> None:
        raise NotImplementedError


def _leave(var: ContextVar, token: Optional[Token], previous: Any) -> None:
    if token is None:
        return
    try:
        var.reset(token)
    except ValueError:
        # Left in another context than it was entered in (a generator resumed elsewhere):
        # put back what was there, which is what reset() would have done.
        var.set(previous)


class Run:
    """One run of a pipeline. ``run_start`` is sent on entering, ``run_complete`` on leaving:
    ``completed``, or ``failed`` with the exception's message (the exception propagates).

    Use it as ``with client.start_run(name="recs") as run:`` (or ``async with``).
    """

    def __init__(self, recorder: Recorder, name: str, tags: Optional[Dict[str, Any]] = None, run_id: Optional[str] = None) -> None:
        self._recorder = recorder
        self.name = str(name)
        self._tags = tags
        #: The run's id (a UUID): the one given, else made on entering.
        self.id: Optional[str] = run_id
        self._state = "new"
        self._token: Optional[Token] = None
        self._previous: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> "Run":
        with self._lock:
            if self._state != "new":
                raise RuntimeError("sluice: a run can be entered only once")
            self._state = "running"
        r = self._recorder
        if self.id is None:
            self.id = r._new_id()
        tags = {str(k): _tag_value(v) for k, v in (self._tags or {}).items() if v is not None}
        started = r._now()
        r._emit("run_start", started, {"run_id": self.id, "name": self.name, "tags": tags, "started_at": iso_time(started)})
        self._previous = _current_run.get()
        self._token = _current_run.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        _leave(_current_run, self._token, self._previous)
        self._token = None
        self._finish(exc if exc_type is not None else None, exc_type is not None)
        return False

    async def __aenter__(self) -> "Run":
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def step(self, name: str, step_type: str = "logic") -> "Step":
        """A step of this run, usable where the run is not the current one (another thread)."""
        return Step(self._recorder, name, step_type, run=self)

    def log(self, level: str, message: str, service: Optional[str] = None, attributes: Optional[Dict[str, Any]] = None) -> None:
        """A log line attached to this run."""
        emit_log(self._recorder, level, message, service, attributes, self.id)

    @property
    def running(self) -> bool:
        return self._state == "running"

    def _finish(self, error: Optional[BaseException], failed: bool) -> None:
        with self._lock:
            if self._state != "running":
                return
            self._state = "finished"
        r = self._recorder
        completed = r._now()
        data: Dict[str, Any] = {"run_id": self.id, "status": "failed" if failed else "completed", "completed_at": iso_time(completed)}
        if failed:
            data["error"] = error_text(error) if error is not None else "Error"
        r._emit("run_complete", completed, data)


class Step:
    """One step of a run; everything set on it is sent in one ``step_complete`` on leaving, with
    the exception's message if one propagates (it is not swallowed).

    Use it as ``with sluice.step(name="dedupe", step_type="filter") as s:`` inside a run. Outside
    any run it records nothing (and logs that at debug level).
    """

    def __init__(self, recorder: Recorder, name: str, step_type: Optional[str] = "logic", run: Optional[Run] = None) -> None:
        self._recorder = recorder
        self.name = str(name)
        self.type = "logic" if step_type is None else str(step_type)
        self._run = run
        #: The step's id and its run's id, set on entering (None outside a run).
        self.id: Optional[str] = None
        self.run_id: Optional[str] = None
        self._started = 0.0
        self._inputs: Optional[Dict[str, Any]] = None
        self._outputs: Optional[Dict[str, Any]] = None
        self._metadata: Optional[Dict[str, Any]] = None
        self._reasoning: Optional[str] = None
        self._cost: Optional[float] = None
        self._counts: Optional[List[Any]] = None  # [input, output, {reason: n}]
        self._state = "new"
        self._lock = threading.Lock()
        self._token: Optional[Token] = None
        self._previous: Any = None

    def __enter__(self) -> "Step":
        with self._lock:
            if self._state != "new":
                raise RuntimeError("sluice: a step can be entered only once")
            self._state = "idle"
        run = self._run if self._run is not None else _current_run.get()
        if run is None or not run.running:
            logger.debug("step %r is outside a run: not recorded", self.name)
        else:
            self._recorder = run._recorder
            self.id = self._recorder._new_id()
            self.run_id = run.id
            self._started = self._recorder._now()
            self._state = "running"
        self._previous = _current_step.get()
        self._token = _current_step.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        _leave(_current_step, self._token, self._previous)
        self._token = None
        self._finish(exc if exc_type is not None else None, exc_type is not None)
        return False

    async def __aenter__(self) -> "Step":
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def set_inputs(self, values: Dict[str, Any]) -> "Step":
        """Adds these keys to the step's ``inputs`` (later calls add to earlier ones)."""
        with self._lock:
            self._inputs = {**(self._inputs or {}), **as_record(values)}
        return self

    def set_outputs(self, values: Dict[str, Any]) -> "Step":
        """Adds these keys to the step's ``outputs``."""
        with self._lock:
            self._outputs = {**(self._outputs or {}), **as_record(values)}
        return self

    def set_metadata(self, values: Dict[str, Any]) -> "Step":
        """Adds these keys to the step's ``metadata``."""
        with self._lock:
            self._metadata = {**(self._metadata or {}), **as_record(values)}
        return self

    def set_reasoning(self, text: str) -> "Step":
        """Why the step decided what it did (free text)."""
        self._reasoning = truncate_text(str(text))
        return self

    def add_cost(self, amount: float) -> "Step":
        """Adds to the step's cost (e.g. USD). Not a finite number: ignored."""
        if isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount == amount and abs(amount) != float("inf"):
            with self._lock:
                self._cost = (self._cost or 0) + amount
        else:
            logger.debug("step %r: cost %r ignored (not a finite number)", self.name, amount)
        return self

    def process_candidates(self, candidates: Iterable[T], decide: Callable[[T], Any]) -> List[T]:
        """Keeps the candidates for which ``decide`` returns ``True`` and counts the others by the
        reason it returns (anything but ``True`` or a non-empty string counts as ``rejected``).
        Adds to the step's ``input_count``, ``output_count`` and ``rejection_reasons``; returns
        the kept candidates in order. An exception from ``decide`` propagates and records nothing."""
        kept, seen, rejected = _decide_all(candidates, decide)
        with self._lock:
            if self._counts is None:
                self._counts = [0, 0, {}]
            self._counts[0] += seen
            self._counts[1] += len(kept)
            for reason, n in rejected.items():
                _add_reason(self._counts[2], reason, n)
        return kept

    def _finish(self, error: Optional[BaseException], failed: bool) -> None:
        with self._lock:
            if self._state != "running":
                self._state = "finished"
                return
            self._state = "finished"
            r = self._recorder
            completed = r._now()
            data: Dict[str, Any] = {"step_id": self.id, "run_id": self.run_id, "name": self.name, "type": self.type}
            if self._inputs is not None:
                data["inputs"] = self._inputs
            if self._outputs is not None:
                data["outputs"] = self._outputs
            if self._metadata is not None:
                data["metadata"] = self._metadata
            if self._reasoning is not None:
                data["reasoning"] = self._reasoning
            if self._cost is not None:
                data["cost"] = self._cost
            data["started_at"] = iso_time(self._started)
            data["completed_at"] = iso_time(completed)
            if failed:
                data["error"] = error_text(error) if error is not None else "Error"
            if self._counts is not None:
                data["input_count"], data["output_count"], data["rejection_reasons"] = self._counts
        r._emit("step_complete", completed, data)


def _decide_all(candidates: Iterable[T], decide: Callable[[T], Any]) -> "tuple[List[T], int, Dict[str, int]]":
    kept: List[T] = []
    rejected: Dict[str, int] = {}
    seen = 0
    for item in candidates:
        verdict = decide(item)
        seen += 1
        if verdict is True:
            kept.append(item)
        else:
            reason = verdict if isinstance(verdict, str) and verdict else "rejected"
            rejected[reason] = rejected.get(reason, 0) + 1
    return kept, seen, rejected


def _add_reason(reasons: Dict[str, int], reason: str, n: int) -> None:
    key = reason[:MAX_REASON_CHARS]
    if key not in reasons and len(reasons) >= MAX_REASONS - 1 and key != "other":
        key = "other"
    reasons[key] = reasons.get(key, 0) + n


def process_candidates(candidates: Iterable[T], decide: Callable[[T], Any]) -> List[T]:
    """``Step.process_candidates`` on the current step; outside a step it only filters."""
    step = _current_step.get()
    if step is not None:
        return step.process_candidates(candidates, decide)
    logger.debug("process_candidates outside a step: not recorded")
    return _decide_all(candidates, decide)[0]


def current_run() -> Optional[Run]:
    """The run this code runs in (this thread's or asyncio task's), if any."""
    run = _current_run.get()
    return run if run is not None and run.running else None


def current_step() -> Optional[Step]:
    """The innermost step this code runs in, if any."""
    return _current_step.get()


def emit_log(
    recorder: Recorder,
    level: str,
    message: str,
    service: Optional[str] = None,
    attributes: Optional[Dict[str, Any]] = None,
    run_id: Optional[str] = None,
) -> None:
    """Sends one ``log`` event. Never raises."""
    try:
        at = recorder._now()
        data: Dict[str, Any] = {"level": str(level), "message": truncate_text(str(message))}
        if service is not None:
            data["service"] = str(service)
        if attributes is not None:
            data["attributes"] = log_attributes(attributes)
        if run_id:
            data["run_id"] = str(run_id)
        recorder._emit("log", at, data)
    except Exception as err:
        logger.debug("log not recorded: %r", err)


def _tag_value(value: Any) -> str:
    # As JavaScript's String() writes them, so both SDKs tag alike.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
