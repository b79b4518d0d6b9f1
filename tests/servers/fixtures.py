"""pytest fixtures for the test servers: ``openai_server``, ``ollama_server``, ``refused_url``.

Register them for a test module by importing their definitions (the fixture names are set explicitly,
so the imported names do not clash with the test arguments)::

    from tests.servers.fixtures import ollama_server_fixture, openai_server_fixture  # noqa: F401

or for the whole suite with ``pytest_plugins = ["tests.servers.fixtures"]`` in the root conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .base import free_port
from .ollama_protocol import OllamaServer
from .openai_compat import OpenAICompatServer

# Importing LiteLLM must never reach the network for its price list (it retries for seconds offline).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(name="openai_server")
def openai_server_fixture() -> Iterator[OpenAICompatServer]:
    """An OpenAI-compatible server on 127.0.0.1 (``server.url + "/v1"`` is the api_base)."""
    with OpenAICompatServer() as server:
        yield server


@pytest.fixture(name="ollama_server")
def ollama_server_fixture() -> Iterator[OllamaServer]:
    """An Ollama-protocol server on 127.0.0.1 with ``qwen2.5:0.5b`` pulled."""
    with OllamaServer(models=("qwen2.5:0.5b",)) as server:
        yield server


@pytest.fixture(name="refused_url")
def refused_url_fixture() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"
