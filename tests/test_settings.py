"""The run's settings: every variable read in one place, with clear errors."""

import pytest

from benchlib.errors import ConfigError
from benchlib.settings import VARIABLES, load_settings


def test_defaults_without_any_variable(tmp_path):
    settings = load_settings(tmp_path, environ={})
    assert settings.config == str(tmp_path.resolve() / "models.conf")
    assert settings.results == str(tmp_path.resolve() / "results")
    assert settings.dataset == "humaneval" and settings.sandbox == "auto" and settings.workers >= 1
    assert settings.memory_limit == 4 * 1024**3 and settings.cache.endswith("benchlib")
    assert settings.data_dir is None and settings.dataset_overrides == {}


def test_variables_and_doit_options(tmp_path):
    environ = {"BENCH_DATASET": "mbpp", "BENCH_EVAL_WORKERS": "3", "EVALPLUS_MAX_MEMORY_BYTES": "1000",
               "BENCH_CACHE": "/c", "BENCH_COMPOSE": "docker compose -p x", "MBPP_OVERRIDE_PATH": "/m.jsonl",
               "BENCH_SERVER_LOCK": "/l", "LLAMA_SERVER": "/bin/ls", "BENCH_REFERENCE_DELAY": "0.5"}
    options = {"sandbox": "local", "datadir": "/d"}
    settings = load_settings(tmp_path, lambda name, default=None: options.get(name, default), environ)
    assert (settings.dataset, settings.sandbox, settings.data_dir, settings.workers) == ("mbpp", "local", "/d", 3)
    assert settings.memory_limit == 1000 and settings.cache == "/c" and settings.compose == ("docker", "compose", "-p", "x")
    assert settings.dataset_overrides == {"mbpp": "/m.jsonl"} and settings.dataset_source["override"] == "/m.jsonl"
    assert settings.server_lock == "/l" and settings.llama_server == "/bin/ls" and settings.reference_delay == 0.5


@pytest.mark.parametrize("environ, message", [
    ({"BENCH_SANDBOX": "dockr"}, "unknown sandbox 'dockr'"),
    ({"BENCH_EVAL_WORKERS": "many"}, "BENCH_EVAL_WORKERS='many' is not a number"),
    ({"BENCH_EVAL_WORKERS": "0"}, "BENCH_EVAL_WORKERS='0' must be positive"),
])
def test_bad_values_are_one_clear_line(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, environ=environ)


def test_no_module_reads_the_environment_but_settings():
    """Every variable benchlib reads is in VARIABLES, and only settings.py reads os.environ for a value."""
    import re

    from support import ROOT

    readers = {}
    for path in (ROOT / "benchlib").rglob("*.py"):
        for match in re.finditer(r"environ(?:\.get\(\s*\"([A-Z_]+)\"|\[\"([A-Z_]+)\"\](?!\s*=))", path.read_text()):
            readers.setdefault(match.group(1) or match.group(2), set()).add(path.name)
    documented = {v.name for v in VARIABLES} | {"XDG_CACHE_HOME", "TMPDIR", "PATH", "PYTHONPATH"}
    assert set(readers) <= documented
    assert {name for files in readers.values() for name in files} <= {"settings.py", "reference.py", "sandbox.py"}


def test_the_margin_of_the_verdicts(tmp_path):
    assert load_settings(tmp_path, environ={}).margin == 3.0
    assert load_settings(tmp_path, environ={"BENCH_MARGIN": "2.5"}).margin == 2.5
    assert load_settings(tmp_path, lambda name, default=None: "1" if name == "margin" else default,
                         environ={"BENCH_MARGIN": "2.5"}).margin == 1.0  # `doit margin=1` wins
    with pytest.raises(ConfigError, match="BENCH_MARGIN='80' is out of range") as error:
        load_settings(tmp_path, environ={"BENCH_MARGIN": "80"})
    assert "points between 0 and 50" in error.value.tip


def test_a_new_margin_rewrites_the_report(tmp_path):
    """The margin changes what REPORT.md says, not any result: the report task's up-to-date value holds it."""
    from dataclasses import replace

    from benchlib.pipeline import report_fingerprint

    settings = load_settings(tmp_path, environ={})
    assert report_fingerprint(settings) != report_fingerprint(replace(settings, margin=2.0))
    assert report_fingerprint(settings) == report_fingerprint(replace(settings))
