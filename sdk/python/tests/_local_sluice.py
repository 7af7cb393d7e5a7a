"""A real Sluice for the end-to-end tests and the benchmark: an HTTP client for it, and a way to
start one (the local services, then ``node server.ts`` on a free port with its own
topics, consumer group and embedded ClickHouse).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

from _support import REPO_ROOT


class Sluice:
    """An HTTP client for a running Sluice, with the admin token."""

    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token

    def request(self, method: str, path: str, key: str, body: Any = None) -> Tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def get(self, path: str, key: str) -> Tuple[int, Any]:
        return self.request("GET", path, key)

    def create_project(self) -> Dict[str, Any]:
        status, body = self.request("POST", "/api/projects", self.admin_token, {"name": "pytest-" + uuid.uuid4().hex[:8]})
        assert status == 201, (status, body)
        return body

    def wait_until_processed(self, timeout: float = 60.0) -> None:
        """Until every consumer group has processed everything acknowledged (lag 0 everywhere)."""
        end = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < end:
            status, last = self.get("/api/ops/lag", self.admin_token)
            if status == 200 and last and all(row["lag"] == 0 for row in last):
                return
            time.sleep(0.2)
        raise AssertionError("not processed within %.0f s: %r" % (timeout, last))


class _ServerProcess:
    """``node server.ts`` from the repo root, its output kept for failure reports."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["node", "server.ts"],
            cwd=str(REPO_ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: List[str] = []
        self._port: Optional[int] = None
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            del self.lines[:-400]
            if self._port is None and '"msg":"sluice started"' in line:
                try:
                    self._port = int(json.loads(line)["port"])
                except (ValueError, KeyError):
                    continue
                self._started.set()
        self._started.set()

    def wait_for_port(self, timeout: float) -> int:
        self._started.wait(timeout)
        if self._port is None:
            self.stop()
            raise RuntimeError("sluice did not start within %.0f s:\n%s" % (timeout, "".join(self.lines[-60:])))
        return self._port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


_SERVICES = (("kafka", "KAFKA_BROKERS"), ("postgres", "DATABASE_URL"), ("redis", "REDIS_URL"))


def _services_env() -> Dict[str, str]:
    """The services given in the environment as they are; scripts/services-up.sh for the others."""
    env = {var: os.environ[var].strip() for _, var in _SERVICES if os.environ.get(var, "").strip()}
    missing = [name for name, var in _SERVICES if var not in env]
    if not missing:
        return env
    out = subprocess.run(
        ["bash", "scripts/services-up.sh", *missing],
        cwd=str(REPO_ROOT),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError("scripts/services-up.sh failed (%d):\n%s" % (out.returncode, out.stderr.decode()[-4000:]))
    for line in out.stdout.decode().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("KAFKA_BROKERS", "DATABASE_URL", "REDIS_URL"):
            env[key] = value
    return env


@contextmanager
def local_sluice(extra_env: Optional[Dict[str, str]] = None) -> Iterator[Sluice]:
    """Starts a Sluice of its own (stopped on leaving)."""
    token = "pytest-admin-" + secrets.token_hex(12)
    unique = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="sluice-pytest-chdb-") as chdb:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG", "TZ", "NODE_OPTIONS")}
        env.update(_services_env())
        env.update(
            {
                "PORT": "0",
                "HOST": "127.0.0.1",
                "SLUICE_ADMIN_TOKEN": token,
                "SLUICE_CHDB_PATH": chdb,
                "SLUICE_TOPIC_EVENTS": "pytest.events." + unique,
                "SLUICE_TOPIC_DEAD_LETTER": "pytest.events.%s.dlq" % unique,
                "SLUICE_RUNS_FUNNEL_GROUP": "pytest-runs-funnel-" + unique,
                "CLICKHOUSE_DATABASE": "sluice_pytest",
                "LOG_LEVEL": "info",
            }
        )
        env.update(extra_env or {})
        server = _ServerProcess(env)
        try:
            port = server.wait_for_port(120)
            yield Sluice("http://127.0.0.1:%d" % port, token)
        finally:
            server.stop()
