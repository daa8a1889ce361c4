"""report.html's size and speed: six profiles on HumanEval+ and MBPP+, then twenty.

    python bench/bench_page.py [--folder DIR] [--profiles 6] [--scale 20]

Six model-like profiles (tests/builders.model_like_samples: canonical solutions, some broken the way
models break code; one sampled with 5 answers per problem, one with reasoning text) are evaluated for real
on HumanEval+ and on the MBPP+ pre-release file (the evaluation is cached in --folder). Then: `doit
report`'s time (the highlighting cache cold, then warm), the page's size, and the time Chromium takes to
open it from file:// until the problem matrix is drawn. Then the same with --scale profiles (the six
copied, each answer made unique, so nothing is shared between them). There is no evalplus counterpart
to compare with: evalplus writes no browsable report.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import DATASETS, MBPP_PRERELEASE, ROOT, chromium_binary  # noqa: E402
from projects import doit, doit_env, make_project  # noqa: E402
from builders import broken_tasks, evaluation, model_like_samples  # noqa: E402
from tabulate import tabulate  # noqa: E402

PROFILES = [("q8", {}), ("q6", {}), ("q5", {}), ("q4", {}), ("thinking", {"reasoning": True}), ("sampled", {"answers": 5})]


def build(folder: Path, count: int) -> Path:
    """A project whose results hold `count` evaluated model-like profiles on both datasets."""
    from benchlib.datasets import load_dataset
    from benchlib.evaluation.sandbox import LocalSandbox
    from benchlib.results import run_folder

    project = make_project(folder / "project", "")
    conf = ""
    for key, dataset in (("humaneval", load_dataset("humaneval", str(DATASETS))),
                         ("mbpp", load_dataset("mbpp", override=str(MBPP_PRERELEASE)))):
        broken = broken_tasks(dataset, 0.12, seed=1)
        for index, (name, options) in enumerate(PROFILES[:count]):
            if index:
                broken = broken_tasks(dataset, 0, seed=index, keep=broken, changes=2 + index)
            samples = folder / f"{name}-{key}.jsonl"
            paths = run_folder(project / "results", f"bench-{name}", key)
            if not paths.eval_results.exists():
                model_like_samples(dataset, samples, broken, seed=index, **options)
                paths.root.mkdir(parents=True, exist_ok=True)
                started = time.monotonic()
                evaluation(samples, dataset, paths, LocalSandbox, cache=folder / "cache")
                print(f"evaluated bench-{name} on {key} in {time.monotonic() - started:.0f} s", flush=True)
            if key == "humaneval":
                conf += f"[bench-{name}]\nserver = none\nsamples = {samples}\ndescription = model-like {name}\n\n"
    (project / "models.conf").write_text(conf)
    return project


def scale(project: Path, count: int) -> None:
    """Copies of the evaluated profiles until there are `count`, every answer made unique (a comment)."""
    results = project / "results"
    originals = [p for p in sorted(results.iterdir()) if p.is_dir() and p.name.startswith("bench-")]
    conf = (project / "models.conf").read_text()
    for number in range(count - len(originals)):
        source = originals[number % len(originals)]
        name = f"bench-copy{number:02d}"
        for run in (p for p in source.iterdir() if p.is_dir()):
            target = results / name / run.name
            target.mkdir(parents=True, exist_ok=True)
            evaluated = json.loads((run / "eval_results.json").read_text())
            samples = [json.loads(line) for line in Path(evaluated["samples"]).read_text().splitlines()]
            mark = f"\n# {name}\n"
            for record in samples:
                record["solution"] += mark
            for records in evaluated["eval"].values():
                for record in records:
                    record["solution"] += mark
            (target / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples))
            evaluated["samples"] = str(target / "samples.jsonl")
            (target / "eval_results.json").write_text(json.dumps(evaluated))
        conf += f"[{name}]\nserver = none\nsamples = {results / name / 'humaneval' / 'samples.jsonl'}\n\n"
    (project / "models.conf").write_text(conf)


def open_time(page: Path) -> str:
    """Seconds from navigation until the matrix is drawn, in the system's Chromium (median of 3)."""
    chromium = chromium_binary()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "n/a (no playwright)"
    if not chromium:
        return "n/a (no chromium)"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(3):
            tab = browser.new_page(viewport={"width": 1366, "height": 768})
            started = time.monotonic()
            tab.goto(page.as_uri())
            tab.wait_for_selector("body[data-ready='1']")
            times.append(time.monotonic() - started)
            tab.close()
        browser.close()
    return f"{sorted(times)[1]:.2f}"


def measure(project: Path, label: str, rows: list) -> None:
    env = doit_env(project, BENCH_DATA_DIR=str(DATASETS), MBPP_OVERRIDE_PATH=str(MBPP_PRERELEASE),
                   BENCH_CACHE=str(project / "cache"))
    shutil.rmtree(project / "cache", ignore_errors=True)
    timings = []
    for _ in range(2):  # the highlighting cache cold, then warm
        started = time.monotonic()
        doit(project, "--always-execute", "report", env=env)
        timings.append(time.monotonic() - started)
    page = project / "results" / "report.html"
    rows.append([label, f"{timings[0]:.1f}", f"{timings[1]:.1f}", f"{page.stat().st_size / 1e6:.1f}", open_time(page)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench-page"))
    parser.add_argument("--profiles", type=int, default=6)
    parser.add_argument("--scale", type=int, default=20)
    args = parser.parse_args()
    if not MBPP_PRERELEASE.exists():
        sys.exit(f"needs {MBPP_PRERELEASE.name} (../shared/datasets)")
    args.folder.mkdir(parents=True, exist_ok=True)
    project = build(args.folder, args.profiles)
    rows: list = []
    measure(project, f"{args.profiles} profiles x HumanEval+ and MBPP+", rows)
    scaled = args.folder / "scaled"
    shutil.rmtree(scaled, ignore_errors=True)
    shutil.copytree(project, scaled, symlinks=True)
    scale(scaled, args.scale)
    measure(scaled, f"{args.scale} profiles x HumanEval+ and MBPP+", rows)
    print(tabulate(rows, headers=["results", "doit report, cold (s)", "doit report, warm (s)", "report.html (MB)",
                                  "Chromium: open to matrix (s)"], tablefmt="github"))
    print(f"(ROOT {ROOT}; the cold run lexes every answer for highlighting, the warm one reuses the cache)")


if __name__ == "__main__":
    main()
