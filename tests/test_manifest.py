"""manifest.json: one typed record, one writer, readers that never guard a field."""

import json

from benchlib.manifest import GenerationRecord, LongRun, read_generation, write_generation
from benchlib.results import run_folder


def test_a_record_round_trips_with_the_fields_in_the_files_order(tmp_path):
    folder = run_folder(tmp_path, "bench-x", "humaneval")
    folder.root.mkdir(parents=True)
    record = GenerationRecord(header={"max_tokens": 768}, profile={"max_tokens": 768, "temperature": 0.8,
                                                                  "prompt_style": "completion"},
                              server={"host": "gpu2"}, seconds=12.5, tokens_per_second=40.0,
                              reasoning_budget=LongRun(8192, "humaneval-budget8192", auto=True))
    write_generation(folder, record)
    written = json.loads(folder.manifest.read_text())
    assert list(written) == ["generation"]  # evaluation facts live in eval_results.json only
    assert list(written["generation"])[:3] == ["header", "dataset", "server"]
    assert written["generation"]["reasoning_budget"] == {"max_tokens": 8192, "folder": "humaneval-budget8192", "auto": True}
    again = read_generation(folder)
    assert again == record and again.made
    assert (again.max_tokens, again.temperature, again.prompt_style, again.host) == (768, 0.8, "completion", "gpu2")


def test_missing_damaged_and_older_manifests_read_as_defaults(tmp_path):
    folder = run_folder(tmp_path, "bench-x", "humaneval")
    assert read_generation(folder) == GenerationRecord() and not read_generation(folder).made
    folder.root.mkdir(parents=True)
    folder.manifest.write_text("{torn")
    assert read_generation(folder) == GenerationRecord()
    # an older file: an evaluation copy (never read), a null reasoning section, a mistyped field
    folder.manifest.write_text(json.dumps({"generation": {"seconds": 3, "reasoning": None, "server": "x",
                                                          "reasoning_budget": {"folder": "f"}},
                                           "evaluation": {"pass_at_1": {"plus": 1.0}}}))
    record = read_generation(folder)
    assert record.seconds == 3 and record.reasoning == {} and record.server == {} and record.reasoning_budget is None
    assert record.made and record.temperature == 0.0 and record.max_tokens is None
