"""``chained_tasks``: the registry entry that runs a promptkit.chains Chain as a technique."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptkit.errors import ConfigError, InputError
from promptkit.lm import FakeCall
from promptkit.techniques import build, chained

pytestmark = pytest.mark.usefixtures("memory_only_cache")


RECOMMENDATIONS = {
    "service reliability": "add capacity",
    "pricing concerns": "explain the bill",
    "customer support quality": "shorter hold times",
}


def analyst(call: FakeCall) -> str:
    prompt = call.last_user_message
    if prompt.startswith("Extract the main issues"):
        return "calls dropped twice; charged twice on the bill"
    if prompt.startswith("Classify the extracted issues"):
        categories = {"calls dropped twice": "service reliability", "charged twice on the bill": "pricing concerns"}
        return json.dumps(categories)
    return json.dumps(RECOMMENDATIONS)


def test_runs_the_bundled_telecom_chain_as_a_technique(fake_lm: Any) -> None:
    lm = fake_lm(fn=analyst)
    program = build("chained_tasks", "feedback -> report", chain="telecom_feedback")
    prediction = program(feedback="My calls dropped twice.\nI was charged twice.")
    assert len(lm.calls) == 3
    report = json.loads(prediction.report)
    assert report["recommend"] == RECOMMENDATIONS
    assert report["classify"]["calls dropped twice"] == "service reliability"
    assert prediction.chain_result.steps["extract"].output == ["calls dropped twice", "charged twice on the bill"]
    assert "My calls dropped twice." in lm.calls[0].last_user_message


def test_needs_a_chain_that_fits_the_signature() -> None:
    with pytest.raises(InputError, match="needs option chain"):
        build("chained_tasks", "feedback -> report")
    with pytest.raises(InputError, match="does not fit chain 'telecom_feedback'"):
        build("chained_tasks", "question -> answer", chain="telecom_feedback")
    with pytest.raises(InputError, match="must be a promptkit Chain"):
        build("chained_tasks", "feedback -> report", chain=42)


def test_missing_chains_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_chains(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("promptkit.chains"):
            raise ImportError("No module named 'promptkit.chains'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_chains)
    with pytest.raises(ConfigError, match=r"provided by promptkit\.chains"):
        chained._chains_module()
