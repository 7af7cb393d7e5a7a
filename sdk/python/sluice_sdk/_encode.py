"""Turning what users hand the SDK into what Sluice accepts, without ever raising.

The TypeScript SDK's encode.ts does the same, value for value: the shared test vectors check it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import time
from typing import Any, Dict

#: Sluice accepts text fields up to 64 KiB; this many characters (code points) always fit.
MAX_TEXT_CHARS = 32_768


def iso_time(ms: float) -> str:
    """Epoch milliseconds → ``2026-11-22T10:00:00.000Z``."""
    whole = math.floor(ms)
    seconds, millis = divmod(whole, 1000)
    t = time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, millis)


def truncate_text(text: str) -> str:
    """The first MAX_TEXT_CHARS code points of ``text``."""
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS]


def error_text(error: BaseException) -> str:
    """What a run or step records for an exception: its message, else its class name."""
    try:
        text = str(error)
    except Exception:
        text = ""
    return truncate_text(text or type(error).__name__)


def as_record(value: Any) -> Dict[str, Any]:
    """A dict for ``inputs``, ``outputs``, ``metadata``: dicts as they are, anything else as ``{"value": ...}``."""
    return value if isinstance(value, dict) else {"value": value}


def _default(value: Any) -> Any:
    """JSON for what ``json`` cannot write by itself."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    for name in ("to_dict", "model_dump", "dict"):
        method = getattr(value, name, None)
        if callable(method):
            try:
                return method()
            except Exception:
                break
    try:
        return str(value)
    except Exception:
        return "[Unserializable]"


def safe_json(value: Any) -> str:
    """Compact JSON that never raises: cycles become ``"[Circular]"``, NaN and infinities ``null``
    (as JavaScript writes them), other objects their ISO form, list or ``str()``."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_sanitize(value, set()), separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)


def _sanitize(value: Any, ancestors: set) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if id(value) in ancestors:
        return "[Circular]"
    if isinstance(value, dict):
        ancestors.add(id(value))
        try:
            return {_key(k): _sanitize(v, ancestors) for k, v in value.items()}
        finally:
            ancestors.discard(id(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        ancestors.add(id(value))
        try:
            return [_sanitize(v, ancestors) for v in value]
        finally:
            ancestors.discard(id(value))
    try:
        converted = _default(value)
    except Exception:
        return "[Unserializable]"
    if isinstance(converted, str):
        return converted
    ancestors.add(id(value))
    try:
        return _sanitize(converted, ancestors)
    finally:
        ancestors.discard(id(value))


def _key(key: Any) -> Any:
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def log_attributes(attributes: Dict[Any, Any]) -> Dict[str, Any]:
    """Log attributes must be strings, finite numbers or booleans: None is left out, anything
    else becomes its JSON text."""
    # Usually every value is fine as it is: then the dict itself is what gets serialized (it is
    # serialized before the call that recorded it returns, so no copy is needed).
    if all(
        isinstance(k, str) and (isinstance(v, (str, int)) or (isinstance(v, float) and math.isfinite(v)))
        for k, v in attributes.items()
    ):
        return attributes
    out: Dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value)):
            out[str(key)] = value
        elif isinstance(value, float):
            # JavaScript writes these as Infinity, -Infinity, NaN.
            out[str(key)] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        elif value is not None:
            out[str(key)] = safe_json(value)
    return out
