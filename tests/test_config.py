import pytest

from benchlib.config import Profile, generation_settings, load_profiles
from benchlib.errors import ConfigError

from support import ROOT


def write(tmp_path, text):
    path = tmp_path / "models.conf"
    path.write_text(text)
    return path


def error_of(tmp_path, text) -> str:
    with pytest.raises(ConfigError) as info:
        load_profiles(write(tmp_path, text))
    return str(info.value)


def test_shipped_models_conf_has_the_original_six_profiles_and_the_self_tests():
    profiles = load_profiles(ROOT / "models.conf")
    for name in ("bench-glm-flash-q4", "bench-glm-flash", "bench-gpt-oss-120b", "bench-qwen3-coder-q5",
                 "bench-qwen3-coder", "bench-qwen3-coder-q6k"):
        assert profiles[name].server == "compose"
        assert profiles[name].model.endswith(".gguf")
        assert profiles[name].max_tokens == 768  # the leaderboard's row, for every one
        budget = profiles[name].reasoning_budget
        # the reasoning models' slots hold their budget, the others' the leaderboard's answers
        assert profiles[name].ctx_size == (16384 if not budget else 4 * (budget + 2048))
    assert profiles["bench-gpt-oss-120b"].extras == {"chat_template_kwargs": {"reasoning_effort": "high"}}
    assert profiles["bench-reference"].server == "reference"
    assert profiles["bench-qwen3-coder"].quant_label == "UD-Q6_K_XL"


def test_defaults_apply_and_other_sections_are_production(tmp_path):
    profiles = load_profiles(write(tmp_path, "[DEFAULT]\nparallel = 8\n[prod-x]\nwhatever = 1\n"
                                             "[bench-a]\nserver = reference\n"))
    assert list(profiles) == ["bench-a"]
    assert profiles["bench-a"].parallel == 8
    assert profiles["bench-a"].health_timeout == 600


def test_unknown_key_names_file_line_profile_and_suggestion(tmp_path):
    message = error_of(tmp_path, "[bench-x]\nserver = reference\nctx_szie = 4\n")
    assert message == "models.conf:3 [bench-x]: unknown key 'ctx_szie' (did you mean 'ctx_size'?)"


def test_unknown_key_in_default(tmp_path):
    assert "models.conf:2 [DEFAULT]: unknown key 'paralel' (did you mean 'parallel'?)" in error_of(
        tmp_path, "[DEFAULT]\nparalel = 2\n[bench-x]\nserver = reference\n")


def test_bad_integer(tmp_path):
    assert error_of(tmp_path, "[bench-x]\nserver = reference\nmax_tokens = lots\n") == \
        "models.conf:3 [bench-x]: 'max_tokens' must be a whole number, not 'lots'"


def test_bad_boolean(tmp_path):
    assert "'reproducible' must be yes or no" in error_of(tmp_path, "[bench-x]\nserver = reference\nreproducible = maybe\n")


def test_zero_parallel(tmp_path):
    assert "'parallel' must be at least 1" in error_of(tmp_path, "[bench-x]\nserver = reference\nparallel = 0\n")


def test_unknown_server_suggests(tmp_path):
    message = error_of(tmp_path, "[bench-x]\nserver = compse\n")
    assert "models.conf:2 [bench-x]: unknown server 'compse' (did you mean 'compose'?)" in message


def test_invalid_profile_name_rejected(tmp_path):
    message = error_of(tmp_path, "[bench-a=b]\nserver = reference\n")
    assert "models.conf:1 [bench-a=b]: invalid profile name 'bench-a=b'" in message
    assert "no '='" in message


def test_missing_required_key(tmp_path):
    message = error_of(tmp_path, "[bench-x]\nserver = compose\n")
    assert "models.conf:1 [bench-x]: server = compose needs 'model'" in message
    assert "TIP: add 'model = ...' to [bench-x]" in message


def test_external_needs_http_url(tmp_path):
    assert "base_url must start with http" in error_of(tmp_path, "[bench-x]\nserver = external\nbase_url = localhost:8080\n")


def test_bad_quotes_in_extra_args(tmp_path):
    assert "cannot split extra_args" in error_of(tmp_path, "[bench-x]\nserver = reference\nextra_args = --x 'a\n")


def test_syntax_error_and_missing_file(tmp_path):
    assert "models.conf" in error_of(tmp_path, "key without section\n")
    with pytest.raises(ConfigError, match="file not found"):
        load_profiles(tmp_path / "nope.conf")


def test_duplicate_section(tmp_path):
    assert "already exists" in error_of(tmp_path, "[bench-x]\nserver = reference\n[bench-x]\nserver = reference\n")


def test_generation_settings_ignore_what_does_not_change_samples():
    a = Profile(name="bench-a", model="m.gguf")
    assert generation_settings(a, "d") == generation_settings(Profile(name="bench-a", model="m.gguf", gpu_layers=3,
                                                                      health_timeout=5, parallel=9), "d")
    assert generation_settings(a, "d") != generation_settings(Profile(name="bench-a", model="m.gguf", max_tokens=4096), "d")
    assert generation_settings(a, "d") != generation_settings(a, "other-dataset")


def test_a_host_is_for_docker_and_external_profiles(tmp_path):
    assert error_of(tmp_path, "[bench-n]\nserver = native\nmodel = m.gguf\nhost = gpu2\n") == (
        "models.conf:4 [bench-n]: 'host' applies to server = compose or external; server = native runs on this "
        "machine\nTIP: remove 'host' from [bench-n]")
    assert "is not a Docker host URL (unix://, tcp://, ssh://" in error_of(
        tmp_path, "[bench-c]\nmodel = m.gguf\nhost = http://gpu2:2375\n")
    assert "an external profile's host is a name for the box" in error_of(
        tmp_path, "[bench-e]\nserver = external\nbase_url = http://gpu2:8000\nhost = ssh://me@gpu2\n")
    assert "invalid host 'gpu 2'" in error_of(tmp_path, "[bench-c]\nmodel = m.gguf\nhost = gpu 2\n")


def test_a_default_host_applies_where_it_can(tmp_path):
    profiles = load_profiles(write(tmp_path, "[DEFAULT]\nhost = ssh://me@gpu2\n\n[bench-c]\nmodel = m.gguf\n\n"
                                             "[bench-r]\nserver = reference\n"))
    assert profiles["bench-c"].host == "ssh://me@gpu2" and profiles["bench-r"].host == ""


def test_unknown_prompt_style_suggests(tmp_path):
    message = error_of(tmp_path, "[bench-x]\nserver = reference\nprompt_style = completon\n")
    assert ("models.conf:3 [bench-x]: unknown prompt_style 'completon' (did you mean 'completion'?); "
            "choose one of chat, completion") in message


def test_a_key_added_later_changes_no_fingerprint_at_its_default():
    """Keys added after the first release are in the fingerprint only when set: existing samples stay current."""
    from benchlib.fingerprints import generation_header

    chat = Profile(name="bench-a", model="m.gguf")
    header = generation_header(chat, "HumanEvalPlus-v0.1.10")
    assert header == {"gen_version": 1, "prompt": "evalplus-0.3.1-openai-chat", "dataset": "HumanEvalPlus-v0.1.10",
                      "server": "compose", "model": "m.gguf", "model_name": "bench-a", "max_tokens": 768,
                      "ctx_size": 16384, "extra_args": "", "reproducible": True, "samples": ""}  # as before the key
    base = generation_header(Profile(name="bench-a", model="m.gguf", prompt_style="completion"), "HumanEvalPlus-v0.1.10")
    assert base["prompt_style"] == "completion" and base["prompt"] == "evalplus-0.3.1-base-completion"


@pytest.mark.parametrize("value, message", [
    ('{"chat_template_kwargs": {"reasoning_effort": "high"', "request_extras is not valid JSON (Expecting"),
    ('["high"]', "request_extras must be a JSON object, not list"),
])
def test_request_extras_must_be_a_json_object(tmp_path, value, message):
    text = error_of(tmp_path, f"[bench-x]\nserver = reference\nrequest_extras = {value}\n")
    assert text.startswith("models.conf:3 [bench-x]: " + message)


def test_request_extras_are_part_of_what_makes_samples_stale(tmp_path):
    profiles = load_profiles(write(tmp_path, "[bench-a]\nserver = reference\n"
                                             'request_extras = {"chat_template_kwargs": {"reasoning_effort": "high"}}\n'
                                             "[bench-b]\nserver = reference\n"
                                             'request_extras = {"chat_template_kwargs":\n'
                                             '    {"reasoning_effort": "high"}}\n'))
    a, b = profiles["bench-a"], profiles["bench-b"]
    assert a.extras == {"chat_template_kwargs": {"reasoning_effort": "high"}}
    assert generation_settings(a, "d")["request_extras"] == generation_settings(b, "d")["request_extras"]
    low = Profile(name="bench-a", server="reference", request_extras='{"chat_template_kwargs": {"reasoning_effort": "low"}}')
    assert generation_settings(a, "d") != generation_settings(low, "d")
    assert "request_extras" not in generation_settings(Profile(name="bench-a", server="reference"), "d")
