"""Fixtures shared by several test files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.servers.llamacpp import LlamaCppServer


@pytest.fixture
def fake(fake_lm: Any) -> Any:
    """``fake(answers, **kw)``: a FakeLM active for the test, with promptkit's TemplateAdapter."""

    def make(answers: Any = None, **kw: Any) -> Any:
        from promptkit.adapter import TemplateAdapter

        return fake_lm(answers, adapter=TemplateAdapter(), **kw)

    return make


@pytest.fixture
def memory_only_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh in-memory DSPy cache for the test: replies cached on disk by earlier runs must never
    answer it (they would hide the LM calls the test counts)."""
    import dspy
    from dspy.clients.cache import Cache

    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=True, disk_cache_dir=None))


@pytest.fixture(scope="module")
def llamacpp_server() -> Iterator[LlamaCppServer]:
    """llama.cpp's OpenAI-compatible server with the embedded GGUF on 127.0.0.1, one per test module."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    from tests.servers.llamacpp import LlamaCppServer

    with LlamaCppServer() as running:
        yield running


@pytest.fixture(autouse=True)
def adapter_context_restored() -> Iterator[None]:
    """Tests that call ``TemplateAdapter._choose_mode`` directly set the reply mode and budgets in the
    context, as a call does; put them back so no later test formats with them."""
    from promptkit.adapter.mode import CURRENT_BUDGETS, CURRENT_MODE

    mode, budgets = CURRENT_MODE.set(CURRENT_MODE.get()), CURRENT_BUDGETS.set(CURRENT_BUDGETS.get())
    yield
    CURRENT_MODE.reset(mode)
    CURRENT_BUDGETS.reset(budgets)
