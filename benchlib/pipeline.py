"""The stages doit runs: generate, evaluate, report. Each is idempotent and cheap when its output is valid,
turns expected failures into one clear message (and a status.json the report shows), and never
leaves a model server running."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from .config import Profile, generation_settings, load_profiles
from .errors import BenchError, ConfigError
from .layout import ProfilePaths, profile_paths, report_path
from .storage import atomic_write_json, read_json

__all__ = ["RunSettings", "generate", "evaluate", "report", "GEN_VERSION", "generation_header"]

GEN_VERSION = 1  # bump when samples.jsonl's meaning or format changes


@dataclass(frozen=True)
class RunSettings:
    """Everything a stage needs besides the profile name (picklable, for `doit -n`)."""

    config: str = "models.conf"
    results: str = "results"
    project: str = "."
    dataset: str = "humaneval"
    data_dir: str | None = None
    sandbox: str = "auto"  # auto | docker | local
    sandbox_image: str = "ganler/evalplus:latest"
    workers: int = 2

    def profile(self, name: str) -> Profile:
        profiles = load_profiles(Path(self.config))
        if name not in profiles:
            raise ConfigError(f"{self.config}: no profile [{name}]", "see `doit list`")
        return profiles[name]

    def paths(self, name: str) -> ProfilePaths:
        return profile_paths(Path(self.results), name, self.dataset)


def generation_header(profile: Profile, dataset_id: str) -> dict:
    from .codegen import PROMPT_VERSION

    return {"gen_version": GEN_VERSION, "prompt": PROMPT_VERSION, **generation_settings(profile, dataset_id)}


@contextlib.contextmanager
def _log_to(path: Path, profile: str) -> Iterator[Callable[[str], None]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        def log(message: str) -> None:
            stamp = datetime.now().strftime("%H:%M:%S")
            handle.write(f"{stamp} {message}\n")
            handle.flush()
            if not message.startswith(("HumanEval/", "Mbpp/")):  # per-task lines only in the log file
                print(f"[{profile}] {message}", file=sys.stderr, flush=True)

        yield log


def _update_manifest(paths: ProfilePaths, section: str, data: dict) -> None:
    manifest = _read(paths.manifest)
    manifest[section] = data
    atomic_write_json(paths.manifest, manifest)


def _read(path: Path) -> dict:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return {}


def _set_status(paths: ProfilePaths, stage: str, error: BaseException | None) -> None:
    if error is None:
        paths.status.unlink(missing_ok=True)
        return
    atomic_write_json(paths.status, {
        "state": "failed", "stage": stage, "reason": str(error).splitlines()[0],
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    })


def _failed(settings: RunSettings, paths: ProfilePaths, stage: str, error: BenchError):
    from doit.exceptions import TaskFailed

    _set_status(paths, stage, error)
    with contextlib.suppress(Exception):
        report(settings)
    return TaskFailed(str(error))


def model_fingerprint(path: Path) -> dict:
    """Size and sha256 of the first and last MiB: identifies a 60 GB file in milliseconds."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return {"file": path.name, "size": size, "sha256_head_tail": digest.hexdigest()}


def _server_props(base_url: str) -> dict:
    import requests

    with contextlib.suppress(Exception):
        response = requests.get(base_url.rstrip("/") + "/props", timeout=5)
        if response.ok:
            props = response.json()
            keep = ("build_info", "model_path", "total_slots", "chat_template", "default_generation_settings")
            return {k: props[k] for k in keep if k in props}
    return {}


def generate(name: str, settings: RunSettings):
    """doit action: make results/<profile>/<dataset>/samples.jsonl (resuming a journal if one exists)."""
    from .client import ChatClient
    from .codegen import generate_samples, probe_token_cap, request_body
    from .datasets import dataset_id, get_spec, load_dataset
    from .server import model_server

    paths = settings.paths(name)
    try:
        profile = settings.profile(name)
        header = generation_header(profile, dataset_id(get_spec(settings.dataset), settings.data_dir))
        if paths.samples.exists() and _read(paths.manifest).get("generation", {}).get("header") == header:
            return None  # already complete for these settings
        dataset = load_dataset(settings.dataset, settings.data_dir)
        with _log_to(paths.codegen_log, name) as log:
            log(f"generating {len(dataset.problems)} {dataset.spec.label}+ samples ({dataset.version}), "
                f"{profile.parallel} in flight, max_tokens {profile.max_tokens}")
            started = time.monotonic()
            with model_server(profile, settings.dataset, settings.data_dir, paths.root, Path(settings.project),
                              log) as server:
                startup = time.monotonic() - started
                info = dict(server.info)
                info["props"] = _server_props(server.base_url)
                if info.get("model_path"):
                    info["model"] = model_fingerprint(Path(info["model_path"]))
                client = ChatClient(server.base_url, profile.request_timeout, alive=server.alive)
                extra = dict(server.extra_body)
                cap = {"field": "max_tokens", "honoured": None}
                if profile.server != "reference":
                    cap = probe_token_cap(client, profile.request_model, dataset.problems[dataset.task_ids[0]]["prompt"],
                                          extra)
                    if cap["field"] != "max_tokens":
                        extra[cap["field"]] = profile.max_tokens
                        log(f"this server ignores max_tokens: sending {cap['field']} too")
                    elif cap["honoured"] is False:
                        log("WARNING: this server ignores the token cap; answers may exceed max_tokens")
                summary = generate_samples(dataset, paths, client, profile.request_model, profile.max_tokens,
                                           profile.parallel, header, extra, log, label=name)
            log(f"generation done: {summary.samples} samples ({summary.generated_now} new) in {summary.seconds} s, "
                f"{summary.hit_token_limit} hit the token limit, {summary.empty_answers} empty answers")
            sampling = request_body(profile.request_model, "", profile.max_tokens, extra)
            sampling.pop("messages")
            _update_manifest(paths, "generation", {
                "header": header, "dataset": dataset.describe(), "server": info, "sampling": sampling,
                "token_cap": cap,
                "profile": asdict(profile), "server_start_seconds": round(startup, 1),
                "seconds": summary.seconds, "completion_tokens": summary.completion_tokens,
                "tokens_per_second": round(summary.completion_tokens / summary.seconds, 1) if summary.seconds else None,
                "hit_token_limit": summary.hit_token_limit, "empty_answers": summary.empty_answers,
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            })
        _set_status(paths, "generation", None)
    except BenchError as error:
        return _failed(settings, paths, "generation", error)
    return None


def samples_path(profile: Profile, paths: ProfilePaths, project: str) -> Path:
    if profile.server == "none":
        path = Path(profile.samples).expanduser()
        return path if path.is_absolute() else Path(project) / path
    return paths.samples


def evaluate(name: str, settings: RunSettings):
    """doit action: score the samples in the sandbox into eval_results.json, then refresh REPORT.md."""
    from .datasets import load_dataset
    from .evaluation import evaluate_samples
    from .progress import Progress
    from .sandbox import make_sandbox

    paths = settings.paths(name)
    try:
        profile = settings.profile(name)
        dataset = load_dataset(settings.dataset, settings.data_dir)
        with _log_to(paths.evaluation_log, name) as log:
            hide = [settings.results, settings.data_dir, str(dataset.path.parent)]
            factory = lambda: make_sandbox(settings.sandbox, settings.sandbox_image, settings.workers, log,  # noqa: E731
                                           hide)
            bar = Progress(f"{name} eval", len(dataset.problems))
            results = evaluate_samples(samples_path(profile, paths, settings.project), dataset, paths, factory,
                                       settings.sandbox, settings.workers, log,
                                       progress=lambda done, total: bar.update(done))
            bar.close()
            scores = results["pass_at_1"]
            log(f"pass@1: {dataset.spec.label} {scores['base']}, {dataset.spec.label}+ {scores['plus']} "
                f"(sandbox: {results['sandbox']['backend']}, {results['eval_seconds']} s)")
            _update_manifest(paths, "evaluation", {
                "sandbox": results["sandbox"], "seconds": results["eval_seconds"],
                "evalplus_version": results["evalplus_version"], "dataset": results["dataset"],
                "pass_at_1": scores, "date": results["date"],
            })
        _set_status(paths, "evaluation", None)
    except BenchError as error:
        return _failed(settings, paths, "evaluation", error)
    report(settings)
    return None


def report(settings: RunSettings):
    """doit action: rebuild results/REPORT.md from whatever results exist."""
    from .report import write_report

    try:
        profiles = load_profiles(Path(settings.config))
    except BenchError as error:
        from doit.exceptions import TaskFailed

        return TaskFailed(str(error))
    write_report(profiles, Path(settings.results), Path(settings.project) / "reference-scores.json",
                 report_path(Path(settings.results)))
    return None


def report_inputs(settings: RunSettings) -> str:
    """A fingerprint of everything REPORT.md is made from (for doit's up-to-date check)."""
    from .report import REPORT_VERSION

    results = Path(settings.results)
    parts = [f"v{REPORT_VERSION}"]
    for path in [Path(settings.config), Path(settings.project) / "reference-scores.json",
                 *sorted(results.glob("*/*/eval_results.json")), *sorted(results.glob("*/*/status.json")),
                 *sorted(results.glob("*/*/manifest.json"))]:
        with contextlib.suppress(OSError):
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
