"""results/REPORT.md: local profiles beside the published leaderboard, sorted by HumanEval+."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tabulate import tabulate

from .config import Profile
from .datasets import DATASETS
from .layout import profile_paths
from .references import SCORE_KEYS, load_references
from .storage import atomic_write_text

__all__ = ["write_report", "collect_local", "LocalRow", "REPORT_VERSION"]

REPORT_VERSION = 1


@dataclass
class LocalRow:
    profile: str
    description: str = ""
    quant: str = ""
    scores: dict[str, float | None] = field(default_factory=dict)
    state: str = "not run"  # done | failed | not run | partial
    reason: str = ""
    date: str = ""
    comparable: bool = True
    details: dict[str, dict] = field(default_factory=dict)  # per dataset: token limit hits, timings


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def collect_local(profiles: dict[str, Profile], results: Path) -> list[LocalRow]:
    """One row per profile in models.conf, and per results folder whose profile was removed."""
    names = list(profiles) + sorted(p.name for p in results.glob("*/") if p.is_dir() and p.name not in profiles
                                    and any(p.glob("*/eval_results.json")))
    rows = []
    for name in names:
        profile = profiles.get(name)
        row = LocalRow(profile=name, description=profile.description if profile else "(no longer in models.conf)",
                       quant=profile.quant_label if profile else "", comparable=profile.comparable if profile else True)
        for key in DATASETS:
            paths = profile_paths(results, name, key)
            evaluated = _load(paths.eval_results)
            status = _load(paths.status)
            manifest = _load(paths.manifest)
            generation = manifest.get("generation", {})
            if evaluated:
                row.scores[key] = evaluated["pass_at_1"]["base"]
                row.scores[key + "+"] = evaluated["pass_at_1"]["plus"]
                row.state = "done"
                row.date = evaluated.get("date", "")[:10]
                if generation.get("profile", {}).get("max_tokens") not in (None, 768):
                    row.comparable = False
            if status:
                row.state, row.reason = "failed", f"{status.get('stage')}: {status.get('reason')}"
            elif not evaluated and (paths.samples_journal.exists() or paths.samples.exists()):
                row.state, row.reason = "partial", "samples generated, not yet evaluated" if paths.samples.exists() \
                    else "generation interrupted (rerun to resume)"
            if evaluated or generation:
                row.details[key] = {
                    "pass@1": evaluated.get("pass_at_1"),
                    "hit_token_limit": generation.get("hit_token_limit"),
                    "empty_answers": generation.get("empty_answers"),
                    "gen_seconds": generation.get("seconds"),
                    "tokens_per_second": generation.get("tokens_per_second"),
                    "eval_seconds": evaluated.get("eval_seconds"),
                    "sandbox": evaluated.get("sandbox", {}).get("backend"),
                    "max_tokens": generation.get("profile", {}).get("max_tokens"),
                }
        rows.append(row)
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _sort_key(scores: dict) -> tuple:
    return (-(scores.get("humaneval+") if scores.get("humaneval+") is not None else -1),
            -(scores.get("mbpp+") if scores.get("mbpp+") is not None else -1))


def render_report(rows: list[LocalRow], meta: dict, published: list) -> str:
    table = []
    for row in rows:
        if row.state not in ("done", "failed") or not row.scores:
            continue
        mark = "" if row.comparable else " †"
        name = f"**{row.profile}** (local{', ' + row.quant if row.quant else ''}, {row.date}){mark}"
        table.append((row.scores, [name, "local", *[_fmt(row.scores.get(k)) for k in SCORE_KEYS]]))
    for model in published:
        size = f"{model.size:g}B" if model.size else "?"
        table.append((model.scores, [model.name, f"published, {size}", *[_fmt(model.scores.get(k)) for k in SCORE_KEYS]]))
    table.sort(key=lambda item: _sort_key(item[0]))
    ranked = [[i, *cells] for i, (_, cells) in enumerate(table, start=1)]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# EvalPlus benchmark report",
        "",
        f"Generated {now} by benchlib. pass@1 in %, greedy decoding, evalplus prompts; HumanEval+/MBPP+ add "
        "EvalPlus's extra tests to the base ones. Local profiles are **bold**.",
        "",
        "## Scores",
        "",
        tabulate(ranked, headers=["#", "Model", "Source", "HumanEval", "HumanEval+", "MBPP", "MBPP+"],
                 tablefmt="github", disable_numparse=True),
        "",
    ]
    if any(not r.comparable for r in rows if r.scores):
        lines += ["† generated with a token cap other than the leaderboard's 768: not leaderboard-comparable.", ""]
    lines += ["## Local profiles", ""]
    detail_rows = []
    for row in rows:
        datasets = row.details or {"": {}}
        for key, info in datasets.items():
            detail_rows.append([
                row.profile, key or "-", row.state + (f": {row.reason}" if row.reason else ""),
                row.quant or "-", _fmt((info.get("pass@1") or {}).get("base")),
                _fmt((info.get("pass@1") or {}).get("plus")),
                "-" if info.get("hit_token_limit") is None else str(info["hit_token_limit"]),
                "-" if info.get("empty_answers") is None else str(info["empty_answers"]),
                "-" if info.get("gen_seconds") is None else f"{info['gen_seconds']:.0f} s",
                "-" if info.get("tokens_per_second") is None else f"{info['tokens_per_second']:.0f}",
                "-" if info.get("eval_seconds") is None else f"{info['eval_seconds']:.0f} s",
                info.get("sandbox") or "-",
            ])
    lines += [
        tabulate(detail_rows, headers=["Profile", "Dataset", "State", "Quant", "base", "plus", "Hit token limit",
                                       "Empty answers", "Generation", "tok/s", "Evaluation", "Sandbox"],
                 tablefmt="github", disable_numparse=True),
        "",
        "Hit token limit: answers cut at max_tokens (finish_reason = length); reasoning models need a higher cap.",
        "",
    ]
    if meta:
        lines += [f"Published scores: {meta.get('source', '?')}, retrieved {meta.get('retrieved', '?')}.", ""]
    return "\n".join(lines)


def write_report(profiles: dict[str, Profile], results: Path, references: Path, target: Path) -> None:
    meta, published = load_references(references)
    atomic_write_text(target, render_report(collect_local(profiles, results), meta, published))
