"""Fixtures: a fake ingest server per test, and a real Sluice for the end-to-end tests.

The real Sluice: ``SLUICE_E2E_URL`` and ``SLUICE_E2E_ADMIN_TOKEN`` when both are set; otherwise
the local services are brought up (``scripts/services-up.sh``) and ``server.ts`` is started on a
free port with its own topics, consumer group and embedded ClickHouse, and killed at the end.
``SLUICE_SKIP_E2E=1`` skips those tests.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import sluice_sdk
from _local_sluice import Sluice, local_sluice
from _support import FakeIngest


@pytest.fixture
def fake_ingest() -> Iterator[FakeIngest]:
    server = FakeIngest()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_configured_client() -> Iterator[None]:
    """Each test starts and ends without a module-level client."""
    yield
    client = sluice_sdk.get_client()
    if client is not None:
        client.shutdown(0.5)
        sluice_sdk._client = None


@pytest.fixture(scope="session")
def sluice_server() -> Iterator[Sluice]:
    if os.environ.get("SLUICE_SKIP_E2E") == "1":
        pytest.skip("SLUICE_SKIP_E2E=1")
    url = os.environ.get("SLUICE_E2E_URL")
    token = os.environ.get("SLUICE_E2E_ADMIN_TOKEN")
    if url and token:
        yield Sluice(url, token)
        return
    with local_sluice() as server:
        yield server
