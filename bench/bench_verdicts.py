"""What a quant decision costs, and how often the report's verdicts are wrong, on the realistic rate model.

    python bench/bench_verdicts.py [--runs 400]

1. Answers per problem a decision needs (HumanEval+, 164 problems, two quants of equal true rates, by
   their seed coupling): to detect 3 points two-sided (unpaired, as the report computed before; paired by
   seed), and to show "within 3 points" one-sided (paired). Each n is then run: the share of simulated
   runs that reach the verdict (power) at that n.
2. False verdicts for a pair with no difference, greedy, HumanEval+ and MBPP+: any "X is better" among
   the six comparisons the report used to judge (each dataset and both together, base and plus tests),
   against the one primary comparison it judges now.
3. `--example DIR`: README's worked example. Two sampled quants (10 answers, seed coupling 50%, the
   second 1 point lower) on a pilot of 40 problems and on all 164, written as benchlib writes results,
   then `write_report` on them: the verdict, the verdict at the margin, and the pilot's projection.
There is no evalplus counterpart: evalplus compares nothing.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import ratemodel  # noqa: E402
from benchlib.report import statistics as stats  # noqa: E402
from tabulate import tabulate  # noqa: E402

ALPHA, MARGIN = stats.ALPHA, 0.03


def needs(p, q, coupling, rng):
    a, b = ratemodel.answers(p, q, 40, coupling, rng)
    a, b = [list(r) for r in a], [list(r) for r in b]
    two = stats.z(1 - ALPHA / 2) + stats.z(0.8)
    one = stats.z(1 - ALPHA) + stats.z(0.8)
    return (stats.answers_needed(stats.components(a, b, False), 164, MARGIN, two),
            stats.answers_needed(stats.components(a, b, True), 164, MARGIN, two),
            stats.answers_needed(stats.components(a, b, True), 164, MARGIN, one))


def within_share(p, coupling, n, runs, rng):
    hits = 0
    for i in range(runs):
        x, y = ratemodel.answers(p, p, n, coupling, rng)
        low, _ = stats.bootstrap_interval(x.mean(1) - y.mean(1), 1 - 2 * ALPHA, 999, seed=i)
        hits += low > -MARGIN
    return hits / runs


def detect_share(p, coupling, n, runs, rng):
    q = ratemodel.shifted(p, -MARGIN)
    hits = 0
    for i in range(runs):
        x, y = ratemodel.answers(p, q, n, coupling, rng)
        hits += stats.sign_flip_p(x.mean(1) - y.mean(1), 999, seed=i) < ALPHA
    return hits / runs


def false_verdicts(runs, rng):
    he, mbpp = ratemodel.rates(rng, 164), ratemodel.rates(rng, 378)
    old = new = 0
    for _ in range(runs):
        found = []
        for p in (he, mbpp):
            base = np.clip(p + 0.1, 0, 1)  # the base tests: passed more often, coupled with the plus tests
            u, v = rng.random(len(p)), rng.random(len(p))
            v = np.where(rng.random(len(p)) < 0.6, u, v)
            found.append([(u < base, v < base), (u < p, v < p)])
        p_values = []
        for phase in (0, 1):
            parts = [found[0][phase], found[1][phase]]
            for x, y in [*parts, (np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]]))]:
                p_values.append(stats.mcnemar_p(int(np.sum(x & ~y)), int(np.sum(~x & y))))
        old += min(p_values) < ALPHA
        new += p_values[5] < ALPHA  # the plus tests over both datasets: the primary comparison
    return old / runs, new / runs


def example(folder: Path) -> None:
    from benchlib.config import load_profiles
    from benchlib.report import write_report
    from support import ROOT
    from builders import fake_evaluation

    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models.conf").write_text("".join(
        f"[bench-{name}]\nserver = none\nsamples = s.jsonl\nn_samples = 10\ntemperature = 0.8\n{extra}"
        for name, extra in (("q8", ""), ("q5", "reference_profile = bench-q8\n"))))
    sampling = {"temperature": 0.8, "top_p": 0.95, "seed": "per problem and answer (Sampling.seed_of)"}
    p = ratemodel.rates(rng)
    q = ratemodel.shifted(p, -0.01)
    tasks = [f"HumanEval/{i}" for i in range(164)]
    pilot = sorted(rng.choice(164, 40, replace=False))
    x, y = ratemodel.answers(p, q, 10, 0.5, rng)
    for subset, chosen in ((40, pilot), (0, range(164))):
        for name, draws in (("bench-q8", x), ("bench-q5", y)):
            fake_evaluation(folder / "results", name, {tasks[i]: [(True, bool(o), "wrong output") for o in draws[i]]
                                                       for i in chosen}, subset=subset, sampling=sampling,
                            tokens_per_second=35.0,  # (an answer's text: the same for the same draw and outcome)
                            answers={tasks[i]: [f"{j} {o}" for j, o in enumerate(draws[i])] for i in chosen})
    write_report(load_profiles(folder / "models.conf"), folder / "results", ROOT / "reference-scores.json")
    text = (folder / "results" / "REPORT.md").read_text()
    print(text[text.index("### HumanEval+"):text.index("## Scores")])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--example", type=Path, help="write README's worked example here and print it")
    args = parser.parse_args()
    if args.example:
        return example(args.example)
    rng = np.random.default_rng(2026)
    p = ratemodel.rates(rng)
    rows = []
    for coupling in (0.0, 0.5, 0.8):
        unpaired, paired, one_sided = needs(p, ratemodel.shifted(p, -MARGIN), coupling, rng)
        rows.append([f"{coupling:.0%}", unpaired, paired, f"{detect_share(p, coupling, paired, args.runs, rng):.0%}",
                     one_sided, f"{within_share(p, coupling, one_sided, args.runs, rng):.0%}"])
    print("Answers per problem for a 3-point decision on HumanEval+ (realistic rate model; power simulated at that n)")
    print(tabulate(rows, headers=["seed coupling", "detect 3, unpaired (old)", "detect 3, paired", "power",
                                  "within 3, one-sided, paired", "'within' at equal rates"], tablefmt="github"))
    old, new = false_verdicts(args.runs * 5, rng)
    print(f"\nA pair with no difference (greedy, HumanEval+ and MBPP+): any 'X is better' among 6 comparisons "
          f"{old:.1%}; the one primary comparison {new:.1%}")


if __name__ == "__main__":
    main()
