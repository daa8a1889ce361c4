"""The report's charts (matplotlib, SVG files in results/charts/):

- neighbours-<dataset>.svg: the local profiles (with their 95% intervals) among the published models
  nearest to them, plus tests;
- speed-<dataset>.svg: score against generation speed (tokens/s) of each local profile;
- curve-<long run>.svg: a reasoning model's score at each thinking budget (one line per profile, 95%
  intervals), its long run as the last point, the leaderboard's row as a dashed line.
"""

from __future__ import annotations

from pathlib import Path

from .analysis import Analysis, Curve, ProfileResults, published_interval
from ..datasets import DATASETS
from .leaderboard import PublishedScore

__all__ = ["draw_charts", "NEIGHBOURS"]

NEIGHBOURS = 14  # published models shown around the local profiles
LOCAL = "#d1495b"
PUBLISHED = "#7a7a7a"
LABELS = {key: spec.plus_label for key, spec in DATASETS.items() if spec.leaderboard}  # the plus tests are charted


def _nearest(results: list[ProfileResults], published: list[PublishedScore], key: str) -> list[PublishedScore]:
    """The published models nearest to each local profile, in turn (so every one has neighbours)."""
    scored = [m for m in published if m.scores.get(key) is not None]
    budget = max(6, NEIGHBOURS - len(results))
    queues = [sorted(scored, key=lambda m, s=r.score("plus"): abs(m.scores[key] - s)) for r in results]
    chosen: list[PublishedScore] = []
    while len(chosen) < min(budget, len(scored)):
        for queue in queues:
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < budget:
                chosen.append(queue.pop(0))
    return chosen


def _neighbours_chart(figure, results: list[ProfileResults], published: list[PublishedScore], dataset: str, path: Path):
    key = DATASETS[dataset].leaderboard + "+"
    n = max(r.n for r in results)
    rows = [(r.profile, r.score("plus"), r.interval("plus"), True) for r in results]
    rows += [(m.name, m.scores[key], published_interval(m.scores[key], n), False)
             for m in _nearest(results, published, key)]
    rows.sort(key=lambda row: row[1])
    height = 1.4 + 0.32 * len(rows)
    fig = figure(figsize=(8.5, height))
    ax = fig.subplots()
    for y, (name, score, (low, high), local) in enumerate(rows):
        color = LOCAL if local else PUBLISHED
        ax.errorbar(score, y, xerr=[[max(0.0, score - low)], [max(0.0, high - score)]], fmt="o" if local else "s", color=color,
                    ecolor=color, elinewidth=2.2 if local else 1.0, capsize=3, markersize=7 if local else 4,
                    alpha=1.0 if local else 0.6)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row[0] for row in rows], fontsize=9)
    for label, row in zip(ax.get_yticklabels(), rows):
        if row[3]:
            label.set_color(LOCAL)
            label.set_fontweight("bold")
    ax.set_xlabel(f"{LABELS[dataset]} pass@1 (%), with 95% intervals")
    ax.set_title(f"Local profiles (red) among the nearest published models, {LABELS[dataset]}", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.tight_layout()
    fig.savefig(path)  # the format follows the suffix


def _spread(values: list[float], gap: float, low: float, high: float) -> list[float]:
    """Label positions near `values`, at least `gap` apart, within [low, high] (order kept)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [0.0] * len(values)
    last = low - gap
    for i in order:
        placed[i] = max(values[i], last + gap)
        last = placed[i]
    overflow = last - high
    if overflow > 0:  # shift the whole stack down, never below `low`
        for i in order:
            placed[i] = max(low, placed[i] - overflow)
        last = low - gap
        for i in order:
            placed[i] = max(placed[i], last + gap)
            last = placed[i]
    return placed


def _speed_chart(figure, results: list[ProfileResults], dataset: str, path: Path) -> bool:
    points = [r for r in results if r.tokens_per_second]
    if not points:
        return False
    fig = figure(figsize=(8.5, 5.0))
    ax = fig.subplots()
    speeds = [r.tokens_per_second for r in points]
    scores = [r.score("plus") for r in points]
    for r, speed, score in zip(points, speeds, scores):
        low, high = r.interval("plus")
        ax.errorbar(speed, score, yerr=[[max(0.0, score - low)], [max(0.0, high - score)]], fmt="o", color=LOCAL, ecolor=LOCAL,
                    capsize=3, markersize=7)
    # names in a column right of the points, each joined to its point: they never overlap
    column = max(speeds) * 1.12
    for r, speed, score, y in zip(points, speeds, scores, _spread(scores, 5.5, 2.0, 98.0)):
        ax.annotate(r.profile, xy=(speed, score), xytext=(column, y), fontsize=9, va="center",
                    arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.7})
    ax.set_xlim(0, max(speeds) * 1.75)
    ax.set_ylim(0, 100)
    ax.set_xlabel("generation speed (completion tokens per second, whole run)")
    ax.set_ylabel(f"{LABELS[dataset]} pass@1 (%)")
    ax.set_title(f"Score against speed, {LABELS[dataset]} (bars: 95% intervals)", fontsize=11)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)  # the format follows the suffix
    return True


COLOURS = ("#d1495b", "#00798c", "#edae49", "#30638e", "#66a182", "#8d96a3", "#2e4057")


def _curve_chart(figure, curves: list[Curve], path: Path) -> None:
    fig = figure(figsize=(8.5, 5.0))
    ax = fig.subplots()
    for i, curve in enumerate(curves):
        colour = COLOURS[i % len(COLOURS)]
        xs = [p.think for p in curve.points]
        ys = [p.plus for p in curve.points]
        errors = [[max(0.0, p.plus - p.low) for p in curve.points], [max(0.0, p.high - p.plus) for p in curve.points]]
        ax.errorbar(xs, ys, yerr=errors, fmt="-o", color=colour, ecolor=colour, capsize=3, markersize=5,
                    label=curve.profile)
        if curve.leaderboard is not None:
            ax.axhline(curve.leaderboard, color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
    ax.set_xscale("log", base=2)
    ticks = sorted({p.think for c in curves for p in c.points})
    ax.set_xticks(ticks, [f"{t:,}" + (" (none)" if any(p.long and p.think == t for c in curves for p in c.points)
                                      else "") for t in ticks])
    ax.set_ylim(0, 100)
    ax.set_xlabel("thinking budget (tokens; the last point: the long run, no budget)")
    ax.set_ylabel("pass@1, plus tests (%)")
    ax.set_title("Score at each thinking budget (bars: 95% intervals; dashed: the leaderboard's row)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def draw_charts(analysis: Analysis, published: list[PublishedScore], folder: Path) -> list[tuple[str, str]]:
    """Draw the charts of the evaluated local profiles; [(path, alt text)]. Stale charts are removed."""
    # full datasets with published scores, models only (not the self-test), in the report's profile order
    # (sampled rows are a measurement of their own: never placed among the published greedy scores)
    by_dataset = {run.key: greedy for run in analysis.runs if run.key in LABELS
                  if (greedy := [r for r in run.matrix if not r.sampled])}
    folder = Path(folder)
    wanted: list[tuple[str, str]] = []
    if by_dataset or analysis.curves:
        import matplotlib
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend, faster import

        matplotlib.rcParams["svg.hashsalt"] = "benchlib"  # the same results draw the same file
        folder.mkdir(parents=True, exist_ok=True)
        for dataset, results in by_dataset.items():
            label = LABELS[dataset]
            path = folder / f"neighbours-{dataset}.svg"
            _neighbours_chart(Figure, results, published, dataset, path)
            wanted.append((str(path), f"{label} pass@1 of the local profiles with 95% intervals, among the nearest "
                                      "published models"))
            path = folder / f"speed-{dataset}.svg"
            if _speed_chart(Figure, results, dataset, path):
                wanted.append((str(path), f"{label} pass@1 against generation speed (tokens/s) per local profile"))
        from .markdown import label as run_label

        for run in dict.fromkeys(c.run for c in analysis.curves):
            path = folder / f"curve-{run}.svg"
            _curve_chart(Figure, [c for c in analysis.curves if c.run == run], path)
            wanted.append((str(path), f"{run_label(run)}: pass@1 at each thinking budget per reasoning model"))
    if folder.is_dir():
        keep = {Path(p).name for p, _ in wanted}
        for old in folder.glob("*.svg"):
            if old.name not in keep:
                old.unlink()
    return wanted
