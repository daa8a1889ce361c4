"""Every answer must fit its server slot, checked before the model loads, with the fix computed."""

import json
import os
import stat

import pytest

from benchlib.config import Profile
from benchlib.errors import ConfigError
from benchlib.generation.prompt import PROMPT_STYLES
from benchlib.generation.slots import SlotNeed, check_slots, count_with_tokenizer, longest_prompt, prompt_bound

from projects import doit, doit_env


def test_the_fix_is_computed_for_the_slots_and_for_the_unified_cache():
    need = SlotNeed("bench-gpt-oss-120b", max_tokens=8192, prompt=420, exact=True, ctx_size=16384, parallel=4,
                    unified=False)
    assert not need.fits
    assert need.problem() == ("bench-gpt-oss-120b: max_tokens 8192 + prompt 420 > 16384 / 4 slots; "
                              "set ctx_size = 34816 or parallel = 1")
    unified = SlotNeed("bench-x", max_tokens=4096, prompt=500, exact=True, ctx_size=16384, parallel=4, unified=True)
    assert unified.problem() == ("bench-x: max_tokens 4096 + prompt 500 > the unified KV cache of 16384 tokens cannot "
                                 "hold 4 answers at once; set ctx_size = 18432 or parallel = 3")
    tiny = SlotNeed("bench-y", max_tokens=8192, prompt=100, exact=True, ctx_size=4096, parallel=2, unified=False)
    assert tiny.fix() == "ctx_size = 16896"  # no parallel fits the context at all


def test_an_overflow_counted_by_the_tokenizer_or_certain_stops_before_the_model_loads(humaneval):
    long = Profile(name="bench-r", model="m.gguf", max_tokens=8192)  # 16384 / 4 slots: certain without a count
    with pytest.raises(ConfigError, match=r"^bench-r: max_tokens 8192 \+ prompt <= \d+ \(upper bound before the "
                                          r"model loads\) > 16384 / 4 slots; set ctx_size = \d+ or parallel = 1\nTIP: "):
        check_slots(long, humaneval)
    with pytest.raises(ConfigError, match=r"prompt 600 > 4096 / 2 slots"):
        check_slots(Profile(name="bench-s", model="m.gguf", ctx_size=4096, parallel=2, max_tokens=1500), humaneval, 600)
    # by the byte bound alone it might not fit: not refused (the caller warns; the server's count decides)
    maybe = check_slots(Profile(name="bench-s", model="m.gguf", ctx_size=4096, parallel=2), humaneval)
    assert not maybe.fits and not maybe.exact
    assert check_slots(Profile(name="bench-s", model="m.gguf", ctx_size=4096, parallel=2), humaneval, 524).fits
    assert check_slots(Profile(name="bench-q", model="m.gguf"), humaneval).fits  # the shipped sizes: 768 fits


def test_the_byte_bound_is_above_any_tokenizer_count(humaneval):
    task, bound = longest_prompt(humaneval, PROMPT_STYLES["chat"])
    assert bound == max(prompt_bound(PROMPT_STYLES["chat"], p["prompt"]) for p in humaneval.problems.values())
    text = humaneval.problems[task]["prompt"]
    assert bound > len(text.encode()) and prompt_bound(PROMPT_STYLES["completion"], text) < bound


def test_counting_with_the_models_tokenizer(tmp_path, humaneval):
    """llama-tokenize's output format, read; a tokenizer that fails gives None (the byte bound is used)."""
    fake = tmp_path / "llama-tokenize"
    fake.write_text("#!/bin/sh\necho ' 1 -> x'\necho 'Total number of tokens: 7'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    chat = count_with_tokenizer(str(fake), "m.gguf", humaneval, PROMPT_STYLES["chat"])
    assert chat == 7 * 2 + 32 * 3  # two messages counted, the template's allowance around them
    assert count_with_tokenizer(str(fake), "m.gguf", humaneval, PROMPT_STYLES["completion"]) == 7
    fake.write_bytes(b"#!/bin/sh\nprintf ' 226 -> \\342\\200\\n'\necho 'Total number of tokens: 9'\n")  # half a UTF-8 character
    assert count_with_tokenizer(str(fake), "m.gguf", humaneval, PROMPT_STYLES["completion"]) == 9
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert count_with_tokenizer(str(fake), "m.gguf", humaneval, PROMPT_STYLES["chat"]) is None


def test_through_doit_the_check_fires_before_any_server_starts(project):
    (project / "models.conf").write_text("[bench-big]\nserver = native\nmodel = /nowhere/model.gguf\n"
                                         f"llama_server = {os.path.realpath('/bin/true')}\nctx_size = 4096\n"
                                         "parallel = 2\nmax_tokens = 8192\n")
    done = doit(project, "gen:bench-big", env=doit_env(project), check=False)
    assert done.returncode != 0
    line = "bench-big: max_tokens 8192 + prompt <= "
    assert line in done.stdout + done.stderr and "> 4096 / 2 slots; set ctx_size = " in done.stdout + done.stderr
    root = project / "results" / "bench-big" / "humaneval"
    assert json.loads((root / "status.json").read_text())["reason"].startswith(line)
    assert not (root / "server.log").exists()  # no server was started
