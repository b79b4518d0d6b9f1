"""A non-editable install ships templates/ and pipelines/ and can load and render every bundled template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
import promptkit
from promptkit.prompts import TemplateEnv, bundled_pipelines_dir, bundled_templates_dir
assert "/site/" in promptkit.__file__, promptkit.__file__
env = TemplateEnv()
infos = env.list_templates()
problems = [(info.name, info.error) for info in infos if info.error]
rendered = 0
for info in infos:
    template = env.get(info.name)
    values = {name: spec.default for name, spec in template.inputs.items() if not spec.required}
    if all(not spec.required for spec in template.inputs.values()):
        template.render_messages(values)
        rendered += 1
structured = env.get("structured.j2").render_text(
    persona="a tester", objective="check the wheel", instructions=["Render."], task="Go.")
print(json.dumps({"count": len(infos), "problems": problems, "rendered_without_inputs": rendered,
                  "structured": structured, "templates_dir": str(bundled_templates_dir()),
                  "pipelines": sorted(p.name for p in bundled_pipelines_dir().iterdir())}))
"""


def test_wheel_ships_and_renders_bundled_templates(tmp_path: Path) -> None:
    import json

    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheel_dir)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(wheel_dir.glob("promptkit-*.whl"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert report["count"] >= 40  # structured, qa, dspy/chat and the technique templates
    assert report["templates_dir"].startswith(str(site))
    assert "<OBJECTIVE_AND_PERSONA>" in report["structured"] and "<TASK>" in report["structured"]
    assert {"quickstart", "telecom_feedback.yaml"} <= set(report["pipelines"])
