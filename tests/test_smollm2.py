"""A real model end to end: SmolLM2-135M-Instruct (from PyPI) on CPU in a real llama-server, through doit.

Its score must equal evalplus's own on the same samples, a second generation must give byte-identical
samples, and no server may be left running.
"""

import configparser
import json

import pytest

from benchlib.codegen import generate_samples
from benchlib.client import ChatClient
from benchlib.config import load_profiles
from benchlib.datasets import load_dataset
from benchlib.layout import profile_paths
from benchlib.pipeline import generation_header
from benchlib.server import model_server

from conftest import DATASETS, ROOT, doit_env
from test_evaluation import evalplus_statuses
from test_pipeline import doit, our_processes

pytestmark = [pytest.mark.llama, pytest.mark.slow]
PROFILE = "bench-smollm2-135m"


def test_smollm2_through_doit_matches_evalplus_and_is_reproducible(project, llama_server, tmp_path, monkeypatch):
    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(ROOT / "models.conf")
    section = dict(shipped.items(PROFILE))
    section["llama_server"] = llama_server
    (project / "models.conf").write_text(f"[{PROFILE}]\n" + "".join(f"{k} = {v}\n" for k, v in section.items()))
    doit(project, f"eval:{PROFILE}", env=doit_env(project))
    root = project / "results" / PROFILE / "humaneval"
    ours = json.loads((root / "eval_results.json").read_text())
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    print(f"SmolLM2: pass@1 {ours['pass_at_1']}, generation {manifest['seconds']} s, "
          f"{manifest['tokens_per_second']} tokens/s, {manifest['hit_token_limit']} hit the token limit")

    theirs = evalplus_statuses(root / "samples.jsonl", tmp_path)
    mine = {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in ours["eval"].items()}
    theirs.pop("HumanEval/32"), mine.pop("HumanEval/32")  # evalplus 0.3.1 cannot pass it (see README)
    assert {t for t in theirs if theirs[t] != mine[t]} == set()
    if ours["eval"]["HumanEval/32"][0]["plus_status"] != "pass":
        plus = round(100 * sum(s == ("pass", "pass") for s in theirs.values()) / 164, 1)
        assert ours["pass_at_1"]["plus"] == plus

    # a second generation of 20 problems, on a freshly started server: byte-identical samples
    monkeypatch.setenv("BENCH_SERVER_LOCK", str(project / "server.lock"))
    profile = load_profiles(project / "models.conf")[PROFILE]
    dataset = load_dataset("humaneval", str(DATASETS))
    first20 = dataset.task_ids[:20]
    dataset.problems = {t: dataset.problems[t] for t in first20}
    paths = profile_paths(tmp_path / "again", PROFILE, "humaneval")
    with model_server(profile, "humaneval", str(DATASETS), paths.root, project, lambda m: None) as server:
        client = ChatClient(server.base_url, profile.request_timeout, alive=server.alive)
        generate_samples(dataset, paths, client, profile.request_model, profile.max_tokens, profile.parallel,
                         generation_header(profile, "again"), server.extra_body, lambda m: None)
    again = paths.samples.read_text().splitlines()
    assert again == (root / "samples.jsonl").read_text().splitlines()[:20]
    assert not our_processes(project)
