"""What makes a stage's output stale, in one place.

Each stage has one fingerprint, used three ways: doit's `config_changed` value for the task, the header
of the stage's resumable journal (a journal written under another fingerprint is set aside, never mixed
in), and the check a stage makes before it skips work whose output already exists.

- samples (`gen:`): the dataset file, the settings of models.conf that change answers
  (`config.GENERATION_KEYS`), the prompt version and GEN_VERSION. Not: GPU layers, slots, timeouts, or
  benchlib's code (a refactor must not burn GPU hours).
- eval_results.json (`eval:`): the dataset file, the sandbox that will run the samples, EVAL_VERSION; and
  inside the stage, the samples' sha256.
Bump a version constant on purpose when the meaning or format of that output changes.
"""

from __future__ import annotations

from .config import Profile, generation_settings
from .prompt import PROMPT_VERSION

__all__ = ["GEN_VERSION", "EVAL_VERSION", "generation_header", "evaluation_header"]

GEN_VERSION = 1  # bump when samples.jsonl's meaning or format changes
EVAL_VERSION = 2  # bump when eval_results.json's meaning or format changes


def generation_header(profile: Profile, dataset_id: str) -> dict:
    return {"gen_version": GEN_VERSION, "prompt": PROMPT_VERSION, **generation_settings(profile, dataset_id)}


def evaluation_header(dataset_id: str, sandbox: str) -> dict:
    return {"eval_version": EVAL_VERSION, "dataset": dataset_id, "sandbox": sandbox}
