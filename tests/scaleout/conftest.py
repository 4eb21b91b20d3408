"""Fixtures shared by the scale-out tests."""

from __future__ import annotations

import pytest

from scaleout_helpers import RedisServer


@pytest.fixture
def redis_server():
    """A real `redis-server` on a free port, stopped after the test."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
