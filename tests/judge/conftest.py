from __future__ import annotations

from typing import Any, Iterator

import pytest

from judge_servers import LlamaServer, Script, ScriptedServer, smollm2_gguf


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaServer]:
    """llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct, for the whole session."""
    server = LlamaServer(smollm2_gguf())
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted() -> Iterator[Any]:
    """Factory of scripted servers, all stopped at the end of the test."""
    started: list[ScriptedServer] = []

    def make(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


