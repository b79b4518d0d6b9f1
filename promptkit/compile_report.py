"""``DIR/report.html`` and ``DIR/report.md`` for a compile run: what compilation changed, and whether it helped.

Sections: the val scores before and after with their 95% intervals and the paired test; every
predictor's instructions before -> after as a diff; the demos each predictor was given; the prompt
one val row was sent before and after (as the runner captured it, i.e. rendered through the template);
every predictor's whole prompt before -> after, as ``promptkit diff`` shows it, with that command.
Every string passes through the one redaction policy.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.evaluation.report import REPORT_HTML, REPORT_MD
from promptkit.evaluation.results import RESULTS_FILE, SUMMARY_FILE, atomic_write_text, iter_latest, read_json
from promptkit.redaction import redact

_DEMO_CHARS = 400


def write_compile_report(out_dir: str | Path, before: Any, after: Any) -> dict[str, Path]:
    """Write the report of ``out_dir`` (a compile run) comparing the programs ``before`` and ``after``."""
    out_dir = Path(out_dir)
    record = read_json(out_dir / "compile.json", "compile.json")
    facts = _facts(out_dir, record)
    predictors = _predictors(before, after)
    prompts = _one_prompt(out_dir)
    written = {"html": out_dir / REPORT_HTML, "md": out_dir / REPORT_MD}
    full = _prompt_diff(out_dir, record, before, after)
    atomic_write_text(
        written["html"],
        redact(_html(record, facts, predictors, prompts).replace("</body>", _prompt_diff_html(full) + "</body>")),
    )
    atomic_write_text(written["md"], redact(_markdown(record, facts, predictors, prompts) + _prompt_diff_md(full)))
    return written


def _prompt_diff(out_dir: Path, record: Mapping[str, Any], before: Any, after: Any) -> dict[str, str] | None:
    """``promptkit diff`` of the program before and after compiling, and the commands to rerun or export it."""
    from promptkit.errors import PromptkitError
    from promptkit.programs.diff import diff_prompts, format_diff

    try:
        text = format_diff(diff_prompts(before, after))
    except PromptkitError:
        return None  # a program whose prompts cannot be exported: the sections above still say what changed
    compiled = out_dir / "program.json"
    return {
        "text": text,
        "diff": f"promptkit diff {record.get('program_ref') or record.get('program')} {compiled}",
        "export": f"promptkit export {compiled} --out {out_dir / 'templates'}",
    }


def _prompt_diff_md(full: dict[str, str] | None) -> str:
    if full is None:
        return ""
    return (
        f"\n## Every prompt, before → after\n\n`{full['diff']}` (review or edit them as templates: "
        f"`{full['export']}`)\n\n```diff\n{full['text']}```\n"
    )


def _prompt_diff_html(full: dict[str, str] | None) -> str:
    if full is None:
        return ""
    e = html.escape
    rows = "".join(f'<span class="{_diff_class(line)}">{e(line)}</span>\n' for line in full["text"].splitlines())
    return (
        f"<h2>Every prompt, before → after</h2><p><code>{e(full['diff'])}</code> (review or edit them as "
        f"templates: <code>{e(full['export'])}</code>)</p><details><summary>the diff</summary><pre>{rows}</pre>"
        "</details>"
    )


def _facts(out_dir: Path, record: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, before, after, n) with intervals, for every metric both evaluations computed."""
    rows = []
    summaries = [read_json(out_dir / side / SUMMARY_FILE, "summary.json") for side in ("before", "after")]
    for name in record.get("metrics", []):
        cells = []
        for summary in summaries:
            entry = summary["metrics"].get(name) or {}
            ci = entry.get("ci95")
            mean = entry.get("mean")
            cells.append("-" if mean is None else f"{mean:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        n = (summaries[1]["metrics"].get(name) or {}).get("n")
        rows.append((name, cells[0], cells[1], str(n)))
    return rows


def _predictors(before: Any, after: Any) -> list[dict[str, Any]]:
    old = dict(before.named_predictors())
    found = []
    for name, predictor in after.named_predictors():
        was = old.get(name)
        old_text = was.signature.instructions if was is not None else ""
        new_text = predictor.signature.instructions
        diff = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), "before", "after", lineterm=""))
        demos = [{k: _short(v) for k, v in dict(demo).items() if k != "augmented"} for demo in predictor.demos]
        found.append({"name": name, "instructions": new_text, "diff": diff, "demos": demos})
    return found


def _one_prompt(out_dir: Path) -> dict[str, Any] | None:
    """The first val row whose prompt both runs captured: its inputs and the messages before / after."""
    before = {row["row_id"]: row for row in iter_latest(out_dir / "before" / RESULTS_FILE) if row.get("prompt")}
    for row in sorted(iter_latest(out_dir / "after" / RESULTS_FILE), key=lambda r: r.get("index", 0)):
        if row.get("prompt") and row["row_id"] in before:
            return {"inputs": row.get("inputs"), "before": before[row["row_id"]]["prompt"], "after": row["prompt"]}
    return None


def _short(value: Any, limit: int = _DEMO_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " …"


def _messages_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return str(messages)
    return "\n\n".join(f"--- {m.get('role')} ---\n{m.get('content')}" for m in messages if isinstance(m, dict))


def _verdict(record: Mapping[str, Any]) -> str:
    comparison = record.get("comparison") or {}
    if comparison.get("p_value") is None:
        return "no paired rows to compare"
    direction = "better" if (comparison.get("diff") or 0) > 0 else "worse"
    signif = "significant" if comparison.get("significant") else "not significant"
    ci = comparison.get("ci95")
    ci_text = f", 95% CI [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    return (
        f"after - before = {comparison['diff']:+.3f}{ci_text} on {comparison['n_paired']} paired rows; "
        f"{comparison['test']} p = {comparison['p_value']:.4f} ({signif}; compiled is {direction}); "
        f"{comparison['improved']} rows improved, {comparison['regressed']} regressed"
    )


def _header(record: Mapping[str, Any]) -> list[str]:
    lm = record.get("lm") or {}
    cost = lm.get("cost")
    return [
        f"program {record.get('program')} · optimizer {record.get('optimizer')} · options {record.get('options')}",
        f"model {record.get('model')} · train {record.get('train_size')} · val {record.get('val_size')} · "
        f"seed {record.get('seed')}",
        f"compile: {record.get('compile_seconds')} s · {lm.get('calls')} LM calls · "
        f"{(lm.get('tokens') or {}).get('total')} tokens · cost {'unknown' if cost is None else f'${cost:.4f}'}",
        *(
            [
                f"candidates: {lm['candidate_evaluations']} evaluations by the optimizer, best "
                f"{lm['best_candidate_score']:.1f}%"
            ]
            if lm.get("best_candidate_score") is not None
            else []
        ),
        *([f"note: {record['caveat']}"] if record.get("caveat") else []),
    ]


def _markdown(
    record: Mapping[str, Any],
    facts: list[tuple[str, str, str, str]],
    predictors: list[dict[str, Any]],
    prompt: dict[str, Any] | None,
) -> str:
    lines = [
        f"# Compile report: {record.get('optimizer')}",
        "",
        *(f"- {line}" for line in _header(record)),
        "",
        "## Val scores (mean, 95% bootstrap interval)",
        "",
        "| metric | before | after | n |",
        "|---|---|---|---|",
    ]
    lines += [f"| {m} | {b} | {a} | {n} |" for m, b, a, n in facts]
    lines += ["", f"Paired test: {_verdict(record)}", ""]
    for predictor in predictors:
        lines += [f"## Predictor `{predictor['name']}`", "", "### Instructions before → after", ""]
        lines += ["```diff", *predictor["diff"], "```"] if predictor["diff"] else ["(unchanged)"]
        lines += ["", f"### Demos ({len(predictor['demos'])})", ""]
        for number, demo in enumerate(predictor["demos"], 1):
            lines.append(f"{number}. " + " · ".join(f"**{k}**: {v}".replace("\n", " ") for k, v in demo.items()))
        lines.append("")
    if prompt is not None:
        lines += ["## One val row's prompt", "", f"inputs: `{prompt['inputs']}`", ""]
        for side in ("before", "after"):
            lines += [f"### {side}", "", "```text", _messages_text(prompt[side]), "```", ""]
    return "\n".join(lines) + "\n"


def _html(
    record: Mapping[str, Any],
    facts: list[tuple[str, str, str, str]],
    predictors: list[dict[str, Any]],
    prompt: dict[str, Any] | None,
) -> str:
    e = html.escape
    parts = [
        f"<h1>Compile report: {e(str(record.get('optimizer')))}</h1>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in _header(record)) + "</ul>",
        "<h2>Val scores (mean, 95% bootstrap interval)</h2>",
        "<table><tr><th>metric</th><th>before</th><th>after</th><th>n</th></tr>"
        + "".join(f"<tr><td>{e(m)}</td><td>{e(b)}</td><td>{e(a)}</td><td>{e(n)}</td></tr>" for m, b, a, n in facts)
        + "</table>",
        f"<p>Paired test: {e(_verdict(record))}</p>",
    ]
    for predictor in predictors:
        parts.append(f"<h2>Predictor <code>{e(predictor['name'])}</code></h2><h3>Instructions before → after</h3>")
        if predictor["diff"]:
            rows = "".join(f'<span class="{_diff_class(line)}">{e(line)}</span>\n' for line in predictor["diff"])
            parts.append(f"<pre>{rows}</pre>")
        else:
            parts.append("<p>(unchanged)</p>")
        parts.append(f"<h3>Demos ({len(predictor['demos'])})</h3><ol>")
        parts += [
            "<li>" + "<br>".join(f"<b>{e(k)}</b>: {e(v)}" for k, v in demo.items()) + "</li>"
            for demo in predictor["demos"]
        ]
        parts.append("</ol>")
    if prompt is not None:
        parts.append(f"<h2>One val row's prompt</h2><p>inputs: <code>{e(str(prompt['inputs']))}</code></p>")
        parts += [f"<h3>{side}</h3><pre>{e(_messages_text(prompt[side]))}</pre>" for side in ("before", "after")]
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:auto}pre{background:#f6f6f6;padding:.5em;"
        "white-space:pre-wrap}.add{color:#060}.del{color:#a00}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>compile report</title><style>{style}</style>"
        f"</head><body>{''.join(parts)}</body></html>\n"
    )


def _diff_class(line: str) -> str:
    if line.startswith("+") and not line.startswith("+++"):
        return "add"
    if line.startswith("-") and not line.startswith("---"):
        return "del"
    return ""


__all__ = ["write_compile_report"]
