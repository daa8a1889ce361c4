"""REPORT.md and the files beside it, from synthetic results (no benchmark runs here)."""

import csv
import json
import re

from benchlib.config import load_profiles
from benchlib.report import write_report

from support import ROOT
from builders import fake_evaluation

TASKS = [f"HumanEval/{i}" for i in range(40)]


def outcomes(passing: set[int], wrong=(), raised=(), base_only=()):
    result = {}
    for i, task in enumerate(TASKS):
        if i in passing:
            result[task] = (True, True, "")
        elif i in base_only:
            result[task] = (True, False, "wrong output")
        elif i in raised:
            result[task] = (False, False, "raised IndexError")
        else:
            result[task] = (False, False, "wrong output")
    return result


def make(tmp_path, profiles: str):
    conf = tmp_path / "models.conf"
    conf.write_text(profiles)
    return load_profiles(conf)


def report(tmp_path, profiles):
    write_report(profiles, tmp_path / "results", ROOT / "reference-scores.json")
    return (tmp_path / "results" / "REPORT.md").read_text()


def test_two_profiles_a_failed_one_and_another_dataset(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n[bench-b]\nserver = none\nsamples = s.jsonl\n"
                              "[bench-c]\nserver = none\nsamples = s.jsonl\n[bench-broken]\nserver = none\nsamples = s.jsonl\n")
    results = tmp_path / "results"
    fake_evaluation(results, "bench-a", outcomes(set(range(30)), raised={30, 31}), tokens_per_second=50)
    fake_evaluation(results, "bench-b", outcomes(set(range(10)), base_only={10, 11}), tokens_per_second=120,
                    finish={"HumanEval/39": "length"})
    fake_evaluation(results, "bench-c", outcomes(set(range(5))), dataset="mbpp", md5="m")
    broken = results / "bench-broken" / "humaneval"
    broken.mkdir(parents=True)
    (broken / "status.json").write_text(json.dumps({"stage": "generation", "reason": "server gone"}))
    text = report(tmp_path, profiles)

    assert text.index("## Verdicts") < text.index("## Scores") < text.index("## Why answers fail")
    assert "**bench-a**: HumanEval+ 75.0% (95% interval 59.8–85.8)" in text
    assert ("bench-a vs bench-b: 20 problems differ (20 vs 0), p < 0.001 (unchanged after Holm over 1 pairs)"
            not in text)  # one pair: no Holm wording
    assert ("bench-a vs bench-b: 20 problems differ (20 vs 0), bench-a 50.0 points higher (95% interval +35.2 to "
            "+64.8), p < 0.001: **bench-a is better**") in text
    assert "On the base tests (HumanEval) alone (secondary):" in text
    assert "- **bench-a and bench-b differ by more than 3 points** (bench-a at least 37.4 higher" in text
    assert "Paired comparison (MBPP+): only one local profile besides the self-test, so no pairs to compare." in text
    assert "failed: generation: server gone" in text
    assert "2 (IndexError 2)" in text  # the exception column names the type
    assert "![HumanEval+ pass@1 of the local profiles" in text and "(charts/neighbours-humaneval.svg)" in text
    assert (results / "charts" / "neighbours-humaneval.svg").read_text().lstrip().startswith("<?xml")
    assert (results / "charts" / "speed-humaneval.svg").exists()
    assert not (results / "charts" / "speed-mbpp.svg").exists()  # no speed known for bench-c

    problems = (results / "PROBLEMS.md").read_text()
    assert "## HumanEval+ (20 of 40 problems differ)" in problems
    assert problems.index("| HumanEval/10 ") < problems.index("| HumanEval/0 ")  # disagreements first
    rows = list(csv.DictReader(open(results / "problems.csv")))
    assert len(rows) == 40 * 2 + 40
    cut = next(r for r in rows if r["profile"] == "bench-b" and r["task_id"] == "HumanEval/39")
    assert cut["category"] == "cut at token cap"
    summary = json.loads((results / "summary.json").read_text())
    a = next(p for p in summary["profiles"] if p["profile"] == "bench-a")["datasets"]["humaneval"]
    assert a["pass_at_1"]["plus"] == 75.0 and a["interval95"]["plus"] == [59.8, 85.8] or \
        abs(a["interval95"]["plus"][0] - 59.8) < 0.1
    assert summary["comparisons"]["humaneval"]["plus"][0]["only_a"] == 20


def test_one_profile_says_so_and_many_profiles_stay_readable(tmp_path):
    profiles = make(tmp_path, "".join(f"[bench-p{i}]\nserver = none\nsamples = s.jsonl\n" for i in range(6)))
    results = tmp_path / "results"
    fake_evaluation(results, "bench-p0", outcomes(set(range(20))))
    text = report(tmp_path, profiles)
    assert "only one local profile besides the self-test, so no pairs to compare" in text
    for i in range(1, 6):
        fake_evaluation(results, f"bench-p{i}", outcomes(set(range(20 + i))))
    text = report(tmp_path, profiles)
    assert "6 profiles: each against the best (bench-p5); every pair is in [COMPARISONS.md](COMPARISONS.md)." in text
    verdicts = [line for line in text.splitlines() if re.search(r" differs? \(", line)]
    assert sum("vs bench-p5" in v or "bench-p5 vs" in v for v in verdicts) == 5  # the best against each of the others
    # and for the same pairs: the verdict at the margin (equivalence: no reference_profile) and what it would take
    assert text.count("- bench-p5 vs ") == 15
    assert "Holm over 15 primary comparisons, intervals at 99.67%" in text and "Holm over 15" in text
    assert (results / "COMPARISONS.md").read_text().count("p ") >= 30


def test_nothing_evaluated_yet(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n")
    text = report(tmp_path, profiles)
    assert "No local profile has been evaluated yet" in text and re.search(r"\| bench-a +\| - +\| not run", text)
    assert not (tmp_path / "results" / "charts").exists() or not list((tmp_path / "results" / "charts").iterdir())


def test_unsandboxed_results_are_marked(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n")
    fake_evaluation(tmp_path / "results", "bench-a", outcomes(set(range(20))), sandboxed=False)
    text = report(tmp_path, profiles)
    assert "(UNSANDBOXED)" in text and ", UNSANDBOXED)" in text


def test_the_self_test_is_reported_but_never_compared(tmp_path):
    profiles = make(tmp_path, "[bench-reference]\nserver = reference\n[bench-a]\nserver = none\nsamples = s.jsonl\n")
    results = tmp_path / "results"
    fake_evaluation(results, "bench-reference", outcomes(set(range(40))))
    fake_evaluation(results, "bench-a", outcomes(set(range(30))))
    text = report(tmp_path, profiles)
    assert "**bench-reference** (self-test: the dataset's canonical solutions" in text
    assert "bench-reference vs" not in text and "vs bench-reference" not in text
    assert "bench-reference" not in (results / "PROBLEMS.md").read_text()
    chart = (results / "charts" / "neighbours-humaneval.svg").read_text()
    assert "bench-a" in chart and "bench-reference" not in chart


def test_a_perfect_and_a_zero_score_draw_fine(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n[bench-b]\nserver = none\nsamples = s.jsonl\n")
    results = tmp_path / "results"
    fake_evaluation(results, "bench-a", outcomes(set(range(40))), tokens_per_second=10)
    fake_evaluation(results, "bench-b", outcomes(set()), tokens_per_second=20)
    text = report(tmp_path, profiles)
    assert "HumanEval+ 100.0% (95% interval 91.2–100.0)" in text and "HumanEval+ 0.0% (95% interval 0.0–8.8)" in text
    assert (results / "charts" / "neighbours-humaneval.svg").exists() and (results / "charts" / "speed-humaneval.svg").exists()


def test_a_cap_change_shows_what_was_reused(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n")
    root = fake_evaluation(tmp_path / "results", "bench-a", outcomes(set(range(20))))
    (root / "manifest.json").write_text(json.dumps({"generation": {"reuse": {
        "old_max_tokens": 768, "reused": 120, "regenerated": 44, "spot_checked": 5, "spot_check": "passed"}}}))
    assert "done (reused 120, regenerated 44, spot-checked 5)" in report(tmp_path, profiles)


def test_the_self_test_verdict_names_what_differs_from_the_dataset_files_known_failures():
    from benchlib.report.analysis import Outcome, ProfileResults, check_self_test
    from benchlib.report.markdown import self_test_verdict

    def check(md5, failing):
        outcomes = {f"Mbpp/{i}": Outcome(base=(f"Mbpp/{i}", "base") not in failing,
                                         plus=not any(t == f"Mbpp/{i}" for t, _ in failing), category="passed")
                    for i in (2, 71, 255, 630)}
        return self_test_verdict(check_self_test(ProfileResults("bench-reference", "mbpp", md5, outcomes,
                                                                self_test=True))).markdown()

    prerelease = "4378c708d1d35b4189d9b70d99861045"
    known = {("Mbpp/71", "base"), ("Mbpp/71", "plus"), ("Mbpp/630", "base"), ("Mbpp/630", "plus"), ("Mbpp/255", "plus")}
    assert check(prerelease, known).startswith("as expected for MbppPlus-prerelease-2023-11, whose known failures "
                                               "are Mbpp/71: the file's entry point")
    assert "Mbpp/255 (plus): a canonical output of over a gigabyte" in check(prerelease, known)
    assert check(prerelease, known | {("Mbpp/2", "plus")}).startswith("**unexpected failures: Mbpp/2 (plus)**")
    assert check(prerelease, known - {("Mbpp/255", "plus")}) == \
        "known failures of MbppPlus-prerelease-2023-11 now pass: Mbpp/255 (plus) (worth a look)"
    assert check("unknown", set()) == "every canonical solution passes"
    assert check("unknown", {("Mbpp/2", "plus")}).startswith("no expectation is recorded for this dataset file; "
                                                             "failing: Mbpp/2")


def test_two_sampled_and_two_greedy_profiles_with_a_reference(tmp_path):
    """What a user choosing a quant reads: pass@k for the sampled rows (never ranked), a paired permutation
    verdict with the difference and its interval, what it would take, and agreement with the reference."""
    import random

    rng = random.Random(3)
    profiles = make(tmp_path, "".join(f"[bench-{n}]\nserver = none\nsamples = s.jsonl\n" for n in ("q8", "q4")) +
                    "[bench-s8]\nserver = none\nsamples = s.jsonl\nn_samples = 10\ntemperature = 0.8\n"
                    "[bench-s4]\nserver = none\nsamples = s.jsonl\nn_samples = 10\ntemperature = 0.8\n"
                    "reference_profile = bench-s8\n"
                    "[bench-q4b]\nserver = none\nsamples = s.jsonl\nreference_profile = bench-q8\n")
    results = tmp_path / "results"
    true = [rng.random() for _ in TASKS]
    for name, shift in (("bench-s8", 0.0), ("bench-s4", 0.25)):
        fake_evaluation(results, name, {t: [(True, rng.random() < p - shift, "wrong output") for _ in range(10)]
                                        for t, p in zip(TASKS, true)}, tokens_per_second=40)
    fake_evaluation(results, "bench-q8", outcomes(set(range(30))), answers={t: f"answer {t}" for t in TASKS})
    fake_evaluation(results, "bench-q4b", outcomes(set(range(2, 32))),
                    answers={t: f"answer {t}" if i % 4 else "changed" for i, t in enumerate(TASKS)})
    text = report(tmp_path, profiles)
    assert "**bench-s8** (sampled, 10 answers per problem)" in text and "HumanEval+ pass@1" in text
    assert "pass@10" in text and "a sampled measurement, never ranked" in text
    chart = (tmp_path / "results" / "charts" / "neighbours-humaneval.svg").read_text()
    assert "bench-q8" in chart and "bench-s8" not in chart  # nor placed among the published in the charts
    scores = text[text.index("## Scores"):]
    assert "bench-s8" not in scores.split("## Agreement")[0] and "**bench-q8** (local" in scores
    verdict = next(line for line in text.splitlines() if line.startswith("- bench-s8 vs bench-s4:"))
    assert re.search(r"bench-s8 \d+\.\d points higher \(97\.5% interval \+\d+\.\d to \+\d+\.\d\), p [<=] [\d.]+"
                     r"(, p [<=] [\d.]+ after Holm over 2)?( \(unchanged after Holm over 2\))?, paired permutation over 40 "
                     r"problems: \*\*bench-s8 is better\*\*", verdict), verdict
    # the two pairs with a reference_profile get the non-inferiority verdict, at 5% over 2 verdicts
    assert "Within 3 points? (non-inferiority to the `reference_profile`; each one-sided test at 2.5% (5% over 2 verdicts)):" in text
    assert "- **bench-s4 is more than 3 points worse than bench-s8** (one-sided 97.5%: at least" in text
    assert re.search(r"- bench-q4b vs bench-q8: inconclusive at 3 points \(one-sided 97\.5%: between \d+\.\d points "
                     r"worse and \d+\.\d points better\); the margin: about \d+ answers per problem", text), text
    # the greedy pair's figure is an estimate, stated as one; the sampled pair's not paired by seed (no settings)
    assert re.search(r"- bench-q8 vs bench-q4b: nothing is detectable at this discordance: 4 of 40 problems differ, so no "
                     r"gap above 10\.0 points can show.*; 3 points: about \d+ answers per problem "
                     r"for each \(n_samples, temperature > 0\) — an estimate", text), text
    assert "not paired by seed: bench-s8's answers carry no sampling settings (not generated by benchlib)" in text
    agreement = next(line for line in text.splitlines() if line.startswith("| bench-q4b "))
    cells = [c.strip() for c in agreement.strip("|").split("|")]
    assert cells[:4] == ["bench-q4b", "bench-q8", "HumanEval+", "30 of 40"]  # every 4th answer changed
    assert sum(map(int, cells[5:9])) == int(cells[4]) == 10
    summary = json.loads((results / "summary.json").read_text())
    sampled = next(p for p in summary["profiles"] if p["profile"] == "bench-s8")["datasets"]["humaneval"]
    assert sampled["answers_per_problem"] == 10 and "pass@10" in sampled["pass_at_k"]["plus"]
    pair = next(c for c in summary["comparisons"]["humaneval"]["plus"] if {c["a"], c["b"]} == {"bench-s8", "bench-s4"})
    assert pair["method"] == "paired permutation" and pair["interval"][0] > 0 and pair["detectable"] > 0
    assert pair["level"] == 0.025 and pair["primary"] and pair["margin"]["outcome"] == "outside"


SAMPLING = {"temperature": 0.8, "top_p": 0.95, "seed": "per problem and answer (Sampling.seed_of)", "answers_per_problem": 10}


def test_a_subset_pilot_projects_to_the_full_set_and_pairs_by_seed(tmp_path):
    """Two sampled quants on subset=40 with the same sampling settings: their answers are paired by seed (the
    coupling is shown), and what 3 points would take is given for the full 164 problems, with a range."""
    import random

    rng = random.Random(5)
    profiles = make(tmp_path, "[bench-q8]\nserver = none\nsamples = s.jsonl\nn_samples = 10\ntemperature = 0.8\n"
                              "[bench-q5]\nserver = none\nsamples = s.jsonl\nn_samples = 10\ntemperature = 0.8\n"
                              "reference_profile = bench-q8\n")
    results = tmp_path / "results"
    true = [rng.choice([0.0, 1.0, rng.random()]) for _ in TASKS]
    shared = {t: [rng.random() for _ in range(10)] for t in TASKS}  # common random numbers: the shared seed
    for name, shift in (("bench-q8", 0.0), ("bench-q5", 0.02)):
        draws = {t: [u if rng.random() < 0.5 else rng.random() for u in shared[t]] for t in TASKS}
        fake_evaluation(results, name, {t: [(True, u < p - shift, "wrong output") for u in draws[t]]
                                        for t, p in zip(TASKS, true)},
                        answers={t: [f"answer {t} {u}" for u in draws[t]] for t in TASKS},
                        subset=40, sampling=SAMPLING, tokens_per_second=40)
    text = report(tmp_path, profiles)
    assert "### HumanEval+ subset of 40 (40 problems)" in text
    line = next(line for line in text.splitlines()
                if re.match(r"- bench-q\d vs bench-q\d: (detects|nothing)", line))
    assert "on the full 164 problems (projected from this subset)" in line and "80% range" in line, line
    assert re.search(r"paired by seed: \d+ of 400 answer pairs identical, the same outcome in \d+% \(\d+% if "
                     r"independent\), which cuts the answers needed \d+\.\dx", line), line
    assert "GPU hours" in line  # at the measured speed, for the full set


def test_answers_cannot_help_when_every_answer_agrees(tmp_path):
    """A server that ignores seed and temperature: 5 identical answers per problem, 15 vs 15 problems differ.
    The old report said 'about 1 answer per problem'; no number of answers can get there."""
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n[bench-b]\nserver = none\nsamples = s.jsonl\n")
    results = tmp_path / "results"
    tasks = [f"HumanEval/{i}" for i in range(164)]
    for name, wins in (("bench-a", range(15)), ("bench-b", range(15, 30))):
        fake_evaluation(results, name, {t: [(True, i in wins or i >= 30, "wrong output")] * 5 for i, t in enumerate(tasks)},
                        sampling=SAMPLING)
    text = report(tmp_path, profiles)
    line = next(line for line in text.splitlines() if line.startswith("- bench-a vs bench-b: detects"))
    assert "3 points: not with more answers" in line and "about 1 answer" not in line, line


def test_one_primary_verdict_per_pair_over_both_datasets(tmp_path):
    """HumanEval+ alone favours a (8 vs 0, p = 0.008), MBPP+ alone b (0 vs 6): together, 8 vs 6, no
    difference. Only the comparison over both datasets is the pair's verdict; the others are secondary."""
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n[bench-b]\nserver = none\nsamples = s.jsonl\n")
    results = tmp_path / "results"
    fake_evaluation(results, "bench-a", outcomes(set(range(20))))
    fake_evaluation(results, "bench-b", outcomes(set(range(12))))
    mbpp = [f"Mbpp/{i}" for i in range(2, 42)]
    fake_evaluation(results, "bench-a", {t: (i < 10, i < 10, "wrong output") for i, t in enumerate(mbpp)}, dataset="mbpp", md5="m")
    fake_evaluation(results, "bench-b", {t: (i < 16, i < 16, "wrong output") for i, t in enumerate(mbpp)}, dataset="mbpp", md5="m")
    text = report(tmp_path, profiles)
    lines = [line for line in text.splitlines() if line.startswith("- bench-a vs bench-b")]
    humaneval = next(line for line in lines if "(8 vs 0)" in line)
    assert humaneval.startswith("- bench-a vs bench-b (secondary): ") and "**" not in humaneval
    assert "bench-a higher on this run alone (not a verdict)" in humaneval
    together = next(line for line in lines if "(8 vs 6)" in line)
    assert together.startswith("- bench-a vs bench-b: 14 problems differ") and together.endswith("no evidence of a difference")
    assert "*secondary* comparisons are shown, never a verdict" in text


def test_how_much_longer_a_quant_thinks_than_its_reference(tmp_path):
    """Per reasoning model: reasoning tokens (median, 90th percentile, counted in the long run where there is
    one), the share that ran out of tokens, and against the reference profile the ratio on the problems
    both answered with its bootstrap interval: a quant that thinks 30% longer on every problem shows 1.30x."""
    from benchlib.manifest import GenerationRecord, LongRun, write_generation
    from benchlib.results import run_folder

    results = tmp_path / "results"
    lengths = {t: 400 + 37 * i for i, t in enumerate(TASKS)}
    for name, factor in (("bench-q8", 1.0), ("bench-q4", 1.3)):
        per_answer = {t: round(n * (factor + (0.2 * (-1) ** i if factor != 1 else 0))) for i, (t, n) in enumerate(lengths.items())}
        reasoning = {"detected": True, "answers": len(TASKS), "source": "counted by the server's tokenizer",
                     "reasoning_tokens": {"median": 1100, "p90": 1800, "max": 1900}, "hit_budget": 4,
                     "per_answer": per_answer, "looped": 0, "cut_while_thinking": 0}
        fake_evaluation(results, name, outcomes(set(range(30))))
        long = run_folder(results, name, "humaneval", budget=8192)
        long.root.mkdir(parents=True)
        (long.eval_results).write_text((run_folder(results, name, "humaneval").eval_results).read_text())
        write_generation(long, GenerationRecord(header={"max_tokens": 8192}, reasoning=reasoning))
        write_generation(run_folder(results, name, "humaneval"),
                         GenerationRecord(header={"max_tokens": 768}, reasoning={"detected": True, "answers": 40},
                                          reasoning_budget=LongRun(8192, "humaneval-budget8192", auto=True)))
    text = report(tmp_path, make(tmp_path, "[bench-q8]\nserver = none\nsamples = x\n\n"
                                           "[bench-q4]\nserver = none\nsamples = y\nreference_profile = bench-q8\n"))
    q4 = next(line for line in text.splitlines() if line.startswith("| bench-q4 ") and "ran out" not in line
              and "x bench-q8" in line)
    assert "| HumanEval+ at 8192 tokens " in q4 and "| 1,100 " in q4 and "| 1,800 " in q4 and "| 10% " in q4
    ratio = re.search(r"(\d\.\d\d)x bench-q8 \((\d\.\d\d)–(\d\.\d\d), 40 problems\)", q4)
    assert ratio and 1.25 <= float(ratio.group(1)) <= 1.35 and float(ratio.group(2)) < 1.3 < float(ratio.group(3)) < 1.5
    summary = json.loads((results / "summary.json").read_text())
    q8 = next(t for t in summary["thinking"] if t["profile"] == "bench-q8")
    assert q8["reference"] is None and q8["median"] == 1100 and q8["tokens_from"] == "humaneval-budget8192"


def made_by(results, profile, replicas, canary=None, agreement=None):
    """The manifest's record of the servers that made a profile's answers (as codegen writes it)."""
    from benchlib.manifest import GenerationRecord, write_generation
    from benchlib.results import run_folder

    write_generation(run_folder(results, profile, "humaneval"), GenerationRecord(
        seconds=10, replicas=replicas, canary=canary or {}, agreement=agreement or {}))


def server(label="", build="b5190-abc", gpus=("NVIDIA H100 80GB HBM3",), answers=40, **extra):
    return {"replica": label, "backend": "compose", "build": build, "gpus": list(gpus) if gpus is not None else None,
            "model": {"file": "q5.gguf", "size": 5, "sha256": "ab" * 32}, "chat_template_sha256": "cd" * 32,
            "image": {"name": "ghcr.io/ggml-org/llama.cpp:server-cuda", "id": "sha256:" + "ef" * 32},
            "answers": answers, **extra}


def test_what_made_the_answers_and_pairs_made_by_different_servers(tmp_path):
    """Per profile: build, GPU, model, template, image, replicas; the verdicts flag a pair made by different
    builds or GPUs, a profile whose canary changed and one whose replicas disagree; REPORT.md, report.html
    and summary.json say the same."""
    profiles = make(tmp_path, "".join(f"[bench-{n}]\nserver = none\nsamples = s.jsonl\n" for n in "abcd"))
    results = tmp_path / "results"
    for name, passing in (("a", 30), ("b", 28), ("c", 27), ("d", 25)):
        fake_evaluation(results, f"bench-{name}", outcomes(set(range(passing))))
    made_by(results, "bench-a", [server()])
    made_by(results, "bench-b", [server(build="b5230-def")])  # another build
    made_by(results, "bench-c", [server("gpu1", answers=25), server("gpu2", gpus=("NVIDIA RTX 4090",), answers=15,
                                                                    lost="the model server stopped")],
            agreement={"checked": 3, "identical": 2, "replicas": ["gpu1", "gpu2"],
                       "differing": [{"task": "HumanEval/7", "made_by": "gpu2", "asked_on": "gpu1"}]})
    made_by(results, "bench-d", [server()], canary={
        "date": "2026-12-07 10:00 UTC", "changes": ["build b5100 -> b5190-abc"], "asked": 20, "identical": 13,
        "differing": ["HumanEval/3", "HumanEval/9"], "verdict": "changed", "action": "kept"})
    text = report(tmp_path, profiles)

    made = text[text.index("## What made the answers"):]
    assert ("- **bench-a** (HumanEval+): build b5190-abc; GPU NVIDIA H100 80GB HBM3; model q5.gguf (abababab"
            "ab); chat template cdcdcdcdcd; image ghcr.io/ggml-org/llama.cpp:server-cuda (efefefefefef).") in made
    assert ("- **bench-c** (HumanEval+): build b5190-abc; GPU NVIDIA H100 80GB HBM3, NVIDIA RTX 4090; model q5.gguf "
            "(abababab" in made)
    assert ("2 replicas: gpu1 (25 answers), gpu2 (15 answers, lost: the model server stopped); answers depend on the "
            "replica (1 of 3 asked again differ).") in made
    assert ("canary 2026-12-07 10:00 UTC: build b5100 -> b5190-abc, 13 of 20 answers identical (differ: HumanEval/3, "
            "HumanEval/9; kept).") in made
    verdicts = text[:text.index("## Scores")]
    assert "Made by different servers: **bench-a** and **bench-b**: different builds (b5190-abc / b5230-def)" in verdicts
    assert "**bench-a** and **bench-c**: different GPUs (NVIDIA H100 80GB HBM3 / NVIDIA H100 80GB HBM3, NVIDIA RTX " \
           "4090)" in verdicts
    assert "**bench-a** and **bench-d**" not in verdicts  # the same build and GPU
    assert ("- **bench-d**: its server changed since its samples (build b5100 -> b5190-abc), and 2 of 20 canary answers "
            "differ (HumanEval/3, HumanEval/9): these scores are the server's before the change") in verdicts
    assert "- **bench-c**: answers depend on the replica (1 of 3 asked again on another replica differ: HumanEval/7)" \
        in verdicts
    page = (results / "report.html").read_text()
    assert "What made the answers" in page and "different builds (b5190-abc / b5230-def)" in page
    summary = json.loads((results / "summary.json").read_text())
    assert {p["profile"] for p in summary["provenance"]} == {"bench-a", "bench-b", "bench-c", "bench-d"}
    assert {(m["a"], m["b"], m["what"]) for m in summary["made_by_different_servers"]} >= {
        ("bench-a", "bench-b", "builds"), ("bench-a", "bench-c", "GPUs")}


def test_no_provenance_no_section(tmp_path):
    profiles = make(tmp_path, "[bench-a]\nserver = none\nsamples = s.jsonl\n")
    fake_evaluation(tmp_path / "results", "bench-a", outcomes(set(range(30))), tokens_per_second=50)
    text = report(tmp_path, profiles)
    assert "What made the answers" not in text and "Made by different servers" not in text
