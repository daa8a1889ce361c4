"""What makes a stage's output stale, in one place.

Each stage has one fingerprint, used three ways: doit's `config_changed` value for the task, the header
of the stage's resumable journal (a journal written under another fingerprint is set aside, never mixed
in), and the check a stage makes before it skips work whose output already exists.

- samples (`gen:`): the dataset file, the settings of models.conf that change answers
  (`config.GENERATION_KEYS`), the prompt version and GEN_VERSION. Not: GPU layers, slots, timeouts, or
  benchlib's code (a refactor must not burn GPU hours).
- eval_results.json (`eval:`): `evaluation_header` (EVAL_VERSION and the dataset file) is doit's value, the
  evaluation journal's header (with the file's md5, known once the stage has read it) and the header
  eval_results.json records. Inside the stage, the samples' sha256 decides whether anything is to do.

When verdicts carry over (`verdicts_hold`, the one rule; the stage and doit's up-to-date check ask it):
a verdict is kept, per sample (keyed by the sha256 of its task and code), when the results or journal it
comes from have this header and dataset md5, and were made in isolation this run accepts
(`isolation_accepted`: sandboxed, or unsandboxed where this run chose BENCH_SANDBOX=unsafe or runs the
self-test). Which sandboxed backend made them (docker or bubblewrap) does not matter: both run the same
runner under the same limits. So a rerun after a few answers changed checks only those; a new EVAL_VERSION,
dataset file, or unsandboxed verdicts in a sandboxed run recheck everything.
Bump a version constant on purpose when the meaning or format of that output changes.
"""

from __future__ import annotations

from .config import Profile, generation_settings
from .generation.prompt import PROMPT_STYLES

__all__ = ["GEN_VERSION", "EVAL_VERSION", "DETAIL_SINCE", "generation_header", "evaluation_header", "evaluation_journal_header",
           "verdicts_hold", "isolation_accepted"]

GEN_VERSION = 1  # bump when samples.jsonl's meaning or format changes
EVAL_VERSION = 3  # bump when eval_results.json's meaning or format changes
DETAIL_SINCE = 3  # the first EVAL_VERSION whose failures record their input, outputs and message (report.html)


def generation_header(profile: Profile, dataset_id: str) -> dict:
    return {"gen_version": GEN_VERSION, "prompt": PROMPT_STYLES[profile.prompt_style].version,
            **generation_settings(profile, dataset_id)}


def evaluation_header(dataset_id: str) -> dict:
    return {"eval_version": EVAL_VERSION, "dataset": dataset_id}


def evaluation_journal_header(header: dict, dataset_md5: str) -> dict:
    """The evaluation journal's header: the stage's header and the dataset file's content."""
    return {**header, "dataset_md5": dataset_md5}


def isolation_accepted(sandbox: dict, accept_unsandboxed: bool) -> bool:
    """Whether verdicts made in `sandbox` (eval_results.json's `sandbox` section) stand for this run."""
    return bool(sandbox.get("sandboxed", True)) or accept_unsandboxed


def verdicts_hold(results: dict, header: dict, dataset_md5: str, accept_unsandboxed: bool) -> bool:
    """Whether the verdicts of an eval_results.json still stand (see the module's docstring). Files
    written before the header was recorded are judged by their version and the dataset's md5."""
    recorded = results.get("header")
    if not isinstance(recorded, dict):
        recorded = {**header, "eval_version": results.get("eval_version")}
    dataset = results.get("dataset") if isinstance(results.get("dataset"), dict) else {}
    sandbox = results.get("sandbox") if isinstance(results.get("sandbox"), dict) else {}
    return (recorded == header and dataset.get("md5") == dataset_md5
            and isolation_accepted(sandbox, accept_unsandboxed))
