"""The flush at interpreter exit: one ``atexit`` hook for every client that asked for it."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any

logger = logging.getLogger("sluice_sdk")


class _ExitFlush:
    """Transports to flush when the interpreter exits; one atexit hook serves them all."""

    def __init__(self) -> None:
        self._transports: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._lock = threading.Lock()
        atexit.register(self._run)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def add(self, t: Any) -> None:
        with self._lock:
            self._transports.add(t)

    def discard(self, t: Any) -> None:
        with self._lock:
            self._transports.discard(t)

    def _run(self) -> None:
        with self._lock:
            transports = list(self._transports)
        for t in transports:
            try:
                t.flush_at_exit()
            except Exception as err:
                logger.debug("flush at exit failed: %r", err)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


exit_flush = _ExitFlush()
