"""report.html: the browsable report. Built from a results folder evaluated for real (a few problems), with
model-written text that tries to break out of the page; checked as data, then in a real browser (the
system's Chromium driven by Playwright): it opens from a file, filters, sorts, opens a problem, shows the
failing input, expected and actual output and the diff, runs none of the models' text, logs no error."""

import base64
import hashlib
import html
import json
import re
import shutil

import pytest

from benchlib.evaluation.sandbox import LocalSandbox
from benchlib.config import load_profiles
from benchlib.report import write_report
from benchlib.report.highlight import CLASSES, MarkCache, marks
from benchlib.report.prose import (BLANK, Code, Emphasis, Link, Strong, blocks_html, blocks_markdown, heading, item,
                                   paragraph)
from benchlib.results import run_folder

from support import chromium_binary
from builders import evaluation, fake_evaluation, few_tasks
from browser import page_data

TASKS = ["HumanEval/0", "HumanEval/2", "HumanEval/10", "HumanEval/16", "HumanEval/53"]
HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">&amp;\u2028'
ANSWERS = {
    "bench-q6": {"HumanEval/0": "    return True\n",  # wrong output on its second input
                 "HumanEval/10": ("    if not string:\n        return ''\n    beginning_of_suffix = 0\n    while not is_pal",
                                  "length")},  # cut at the token cap
    "bench-q5": {"HumanEval/2": f"    raise ValueError({HOSTILE!r})\n",  # the message is the model's text
                 "HumanEval/53": f"    note = {HOSTILE!r}\n    return x + y\n",  # passes, with the text in its code
                 "HumanEval/10": None},  # prose: no code at all
}


def _write(dataset, path, bodies, answers=1):
    with open(path, "w") as handle:
        for task in dataset.task_ids:
            problem = dataset.problems[task]
            given = bodies.get(task, problem["canonical_solution"])
            body, finish = (given, "stop") if isinstance(given, str) or given is None else given
            for index in range(answers):
                code = problem["prompt"] + (body if index % 2 == 0 else problem["canonical_solution"]) \
                    if body is not None else ""
                handle.write(json.dumps({"task_id": task, "solution": code, "finish_reason": finish,
                                         "raw_solution": f"Sure!\n```python\n{code}\n```\n{HOSTILE}",
                                         "reasoning": f"thinking about {task} {HOSTILE} \ud800", "completion_tokens": 99,
                                         "prompt_tokens": 120, "latency": 1.25}) + "\n")
    return path


@pytest.fixture(scope="module")
def folder(humaneval, tmp_path_factory, cache_dir):
    """A results folder: two greedy profiles and a sampled one evaluated for real, one evaluated by an older
    benchlib (no detail recorded), and a models.conf whose description is HTML."""
    root = tmp_path_factory.mktemp("page")
    few = few_tasks(humaneval, TASKS, root)
    results = root / "results"
    conf = ""
    for name, bodies, answers in [("bench-q6", ANSWERS["bench-q6"], 1), ("bench-q5", ANSWERS["bench-q5"], 1),
                                  ("bench-sampled", ANSWERS["bench-q6"], 3)]:
        samples = _write(few, root / f"{name}.jsonl", bodies, answers)
        conf += f"[{name}]\nserver = none\nsamples = {samples}\ndescription = <b>{name}</b>\n\n"
        paths = run_folder(results, name, "humaneval")
        paths.root.mkdir(parents=True)
        evaluation(samples, few, paths, LocalSandbox, cache=cache_dir)
    old = fake_evaluation(results, "bench-old", {t: (True, True, "") for t in TASKS} |
                          {"HumanEval/0": (False, False, "wrong output")}, md5=few.md5, legacy=True)
    record = json.loads((old / "eval_results.json").read_text())
    record["dataset"]["name"] = "humaneval"
    record["eval"]["HumanEval/0"][0]["base_fail_tests"] = ["([1.0, 2.0], 0.5)"]
    (old / "eval_results.json").write_text(json.dumps(record))
    (root / "models.conf").write_text(conf)
    prompts = {t: few.problems[t]["prompt"] for t in few.task_ids}
    write_report(load_profiles(root / "models.conf"), results, root / "refs.json",
                 prompts=lambda key, md5: prompts if md5 == few.md5 else None, cache=root / "cache")
    return results


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def problem(data, task):
    run = data["runs"][0]
    found = next(p for p in run["problems"] if p["id"] == task)
    return {column["name"]: entry for column, entry in zip(run["columns"], found["answers"])}, found


def test_the_page_carries_what_a_failure_showed(folder):
    data = page_data(folder / "report.html")
    assert [c["name"] for c in data["runs"][0]["columns"]] == ["bench-q6", "bench-q5", "bench-sampled", "bench-old"]
    answers, found = problem(data, "HumanEval/0")
    failure = answers["bench-q6"]["a"][0]["f"]
    recorded = json.loads((folder / "bench-q6" / "humaneval" / "eval_results.json").read_text())
    shown = recorded["eval"]["HumanEval/0"][0]["base_failure"]
    assert (failure["phase"], failure["kind"], failure["input"], failure["recorded"]) == ("base", "wrong_output", 1, True)
    assert failure["in"] == shown["shown_input"] and failure["expected"] == {"text": "False", "size": 5}
    assert failure["actual"] == {"text": "True", "size": 4}
    assert data["texts"][found["prompt"]].startswith("from typing import List")
    q5 = problem(data, "HumanEval/2")[0]["bench-q5"]["a"][0]["f"]
    assert (q5["kind"], q5["exception"], q5["message"]) == ("raised", "ValueError", HOSTILE)
    cut = problem(data, "HumanEval/10")[0]["bench-q6"]["a"][0]
    assert data["categories"][cut["cat"]]["name"] == "cut at token cap" and cut["fr"] == "length"
    # an older evaluation: the input evalplus's field held, and no claim that outputs were recorded
    old = problem(data, "HumanEval/0")[0]["bench-old"]["a"][0]["f"]
    assert old["recorded"] is False and old["in"]["text"] == "([1.0, 2.0], 0.5)" and "expected" not in old


def test_sampled_answers_are_all_reachable(folder):
    data = page_data(folder / "report.html")
    sampled = problem(data, "HumanEval/0")[0]["bench-sampled"]
    assert [a["p"] for a in sampled["a"]] == [0, 1, 0] and "more" not in sampled
    assert data["runs"][0]["columns"][2]["answers"] == 3


def test_each_text_is_carried_once_and_highlighted_as_data(folder):
    data = page_data(folder / "report.html")
    answers = problem(data, "HumanEval/16")[0]
    assert answers["bench-q6"]["a"][0]["s"] == answers["bench-q5"]["a"][0]["s"]  # identical answers: one text
    assert len(data["texts"]) == len(set(data["texts"]))
    text_id = answers["bench-q6"]["a"][0]["s"]
    found = data["marks"][str(text_id)]
    assert sum(found[0::3]) + sum(found[1::3]) <= len(data["texts"][text_id])
    assert {CLASSES[k] for k in found[2::3]} >= {"keyword", "definition"}


def test_model_text_cannot_break_out_of_the_page(folder):
    page = (folder / "report.html").read_text()
    assert len(re.findall(r"<script", page, re.I)) == 2  # the data and the page's own script, nothing else
    assert "window.pwned" in page and "<script>window.pwned" not in page and "<img src=x" not in page
    assert "<b>bench-q6</b>" not in page and "&lt;b&gt;bench-q6&lt;/b&gt;" in page  # models.conf's text, escaped
    data = page_data(folder / "report.html")
    assert any(HOSTILE in text for text in data["texts"])  # and yet carried intact
    # the Content-Security-Policy allows exactly the page's own script and style, and no network
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy and policy.startswith("default-src 'none'")


def test_the_verdicts_are_report_mds_own_sentences(folder):
    """Worded once (markdown.run_verdicts, as prose blocks), rendered twice: never parsed back from Markdown."""
    report = (folder / "REPORT.md").read_text()
    page = (folder / "report.html").read_text()
    line = next(line for line in report.splitlines() if re.match(r"- bench-q[56] vs bench-q[56]:", line))
    assert html.escape(line[2:].replace("**", ""), quote=False).split(":")[0] in page
    assert "[report.html](report.html)" in report
    blocks = [heading("A <b>"), item(Strong("x"), " ", Code("y"), " ", Link("P", "P.md")), BLANK,
              paragraph("text & more ", Emphasis("secondary"))]
    assert blocks_html(blocks) == ('<h3>A &lt;b&gt;</h3>\n<ul><li><strong>x</strong> <code>y</code> <a href="P.md">P</a>'
                                   "</li></ul>\n<p>text &amp; more <em>secondary</em></p>")
    assert blocks_markdown(blocks) == ["### A <b>", "- **x** `y` [P](P.md)", "", "text & more *secondary*"]


def test_a_page_that_cannot_be_written_never_costs_report_md(folder, tmp_path, monkeypatch):
    import benchlib.report.page as page

    results = tmp_path / "results"
    shutil.copytree(folder, results)
    monkeypatch.setattr(page, "render_page", lambda *args: 1 / 0)
    write_report({}, results, tmp_path / "refs.json")
    assert not (results / "report.html").exists()  # never a stale page beside a newer REPORT.md
    assert "report.html" not in (results / "REPORT.md").read_text() and "bench-q6" in (results / "REPORT.md").read_text()


def test_highlighting_is_cached_between_reports(tmp_path):
    cache = MarkCache(tmp_path / "h.json")
    code = "def f(x):\n    return x + 1  # one\n"
    assert cache.fill([code]) == [marks(code)] and cache.lexed == 1
    cache.fill([code])
    assert cache.lexed == 1
    cache.save()
    again = MarkCache(tmp_path / "h.json")
    assert again.fill([code]) == [marks(code)] and again.lexed == 0
    again.save()
    assert marks("x = 1\r\ny = 2") == []  # Pygments would shift the marks: none rather than wrong ones


def test_many_new_texts_are_highlighted_on_every_core(tmp_path, monkeypatch):
    monkeypatch.setattr(MarkCache, "PARALLEL_FROM", 3)
    texts = [f"def f{i}(x):\n    return x * {i}  # n\n" for i in range(10)]
    cache = MarkCache(tmp_path / "h.json")
    assert cache.fill(texts + texts[:2]) == [marks(t) for t in texts + texts[:2]] and cache.lexed == 10


# ---- in a real browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs Playwright, the browser driver (pip install -e '.[test]')")
    if not chromium_binary():
        pytest.skip("needs the system's Chromium for report.html's browser tests (apt install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_binary(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, folder):
    opened = browser.new_page(viewport={"width": 1366, "height": 768})
    problems = []
    opened.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    opened.on("request", lambda request: problems.append(f"request: {request.url}")
              if not request.url.startswith(("file:", "data:")) else None)
    opened.goto((folder / "report.html").as_uri())
    opened.wait_for_selector("body[data-ready='1']")
    yield opened
    assert problems == [] and opened.evaluate("window.pwned") is None
    opened.close()


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#matrix tbody tr", "rows => rows.map(r => r.dataset.task)")


def test_the_matrix_filters_and_sorts(page, folder):
    data = page_data(folder / "report.html")
    assert page.inner_text("#count").startswith(f"Showing {len(TASKS)} of {len(TASKS)} problems")
    differ = [p["id"] for p in data["runs"][0]["problems"] if p.get("d")]
    assert rows(page)[:len(differ)] == differ  # disagreements first
    page.check("#disagree")
    assert rows(page) == differ
    page.uncheck("#disagree")
    wrong = str(next(i for i, c in enumerate(data["categories"]) if c["name"] == "wrong output"))
    page.select_option("#category", wrong)
    assert rows(page) == ["HumanEval/0"]
    page.select_option("#category", "")
    page.fill("#search", "eval/5")
    assert rows(page) == ["HumanEval/53"]
    page.fill("#search", "")
    page.click("#matrix thead th:has-text('bench-q5')")  # its failures first
    assert rows(page)[0] == "HumanEval/2"
    page.uncheck("#columns input >> nth=3")  # hide bench-old
    assert "bench-old" not in page.inner_text("#matrix thead")


def test_opening_a_problem_shows_why_it_failed_and_the_diff(page):
    page.click("#matrix tbody tr[data-task='HumanEval/0']")
    page.wait_for_selector("#problem:not([hidden])")
    card = page.inner_text("#card-0")
    assert "Why it failed: wrong output" in card and "Base tests: wrong output on input #1" in card
    assert "Expected output\nFalse" in card and "Actual output\nTrue" in card and "Input (the arguments)" in card
    assert "from typing import List" in page.inner_text("#problem details")  # the prompt
    diff = page.inner_text("#diff")
    assert "only in bench-q6" in diff and "return True" in diff
    assert page.locator("#diff tr.del").count() >= 1 and page.locator("#diff tr.add").count() >= 1
    assert "were not recorded" in page.inner_text("#card-3")  # bench-old, evaluated before the detail existed
    page.keyboard.press("Escape")
    page.wait_for_selector("#overview:not([hidden])")


def test_the_view_lives_in_the_url_and_survives_a_reload(page, folder):
    """Filters, sort, hidden profiles and the open problem are in the address (a run's key, not its index):
    reloading or sharing it shows the same view; older links by index still open."""
    page.select_option("#category", label="wrong output")
    page.check("#disagree")
    page.select_option("#sort", "failures")
    page.uncheck("#columns label:has-text('bench-old') input")
    shown = rows(page)
    assert "run=humaneval" in page.url and "outcome=wrong+output" in page.url and "hide=bench-old" in page.url
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert rows(page) == shown and page.input_value("#sort") == "failures" and page.is_checked("#disagree")
    assert not page.is_checked("#columns label:has-text('bench-old') input")
    page.click(f"#matrix tbody tr[data-task='{shown[0]}'] a")
    page.wait_for_selector("#problem:not([hidden])")
    assert "#problem=humaneval/" in page.url and "outcome=wrong+output" in page.url
    page.reload()
    page.wait_for_selector("#problem:not([hidden]) h2")
    assert page.inner_text("#problem h2").startswith(shown[0])
    assert "bench-old" not in page.inner_text("#problem .chips")  # still hidden
    page.keyboard.press("Escape")
    page.wait_for_selector("#overview:not([hidden])")
    assert rows(page) == shown  # back to the same filtered view
    page.goto(page.url.split("#")[0] + "#problem=0/" + "HumanEval%2F16")
    page.wait_for_selector("#card-1")


def test_model_text_shows_as_text(page):
    page.goto(page.url.split("#")[0] + "#problem=humaneval/" + "HumanEval%2F2")
    page.wait_for_selector("#card-1")
    card = page.locator("#card-1")
    assert "ValueError: </script><script>window.pwned = 1</script>" in card.inner_text()
    card.locator("summary:has-text('Reasoning')").click()
    assert "thinking about HumanEval/2 </script>" in card.inner_text()
    assert page.locator("#problem img").count() == 0 and page.locator("#problem script").count() == 0


def test_an_answer_without_code_says_so(page):
    page.goto(page.url.split("#")[0] + "#problem=humaneval/" + "HumanEval%2F10")
    page.wait_for_selector("#card-1")
    card = page.inner_text("#card-1")
    assert "no code" in card and "Empty: no code could be taken from the model's response (below)." in card


def test_sampled_answers_can_be_picked(page):
    page.goto(page.url.split("#")[0] + "#problem=humaneval/" + "HumanEval%2F0")
    page.wait_for_selector("#card-2 .answer-pick button")
    assert page.locator("#card-2 .answer-pick button").count() == 3
    assert "Why it failed" in page.inner_text("#card-2")
    page.click("#card-2 .answer-pick button >> nth=1")
    assert "Base and plus tests pass" in page.inner_text("#card-2")


def test_an_identical_answer_is_said_once(page):
    page.goto(page.url.split("#")[0] + "#problem=humaneval/" + "HumanEval%2F16")
    page.wait_for_selector("#card-1")
    assert "Answer: identical to bench-q6's, character for character" in page.inner_text("#card-1")
    assert "Answer: identical" not in page.inner_text("#card-0")
    assert "only in bench-old" in page.inner_text("#diff")  # the diff's default: two answers that differ


@pytest.mark.parametrize("profiles", [0, 1])
def test_no_profile_or_one_profile_opens_cleanly(browser, tmp_path, profiles):
    results = tmp_path / "results"
    results.mkdir()
    if profiles:
        fake_evaluation(results, "bench-only", {"HumanEval/0": (True, True, ""), "HumanEval/1": (False, False, "wrong output")})
    write_report({}, results, tmp_path / "refs.json")
    data = page_data(results / "report.html")
    assert [len(run["columns"]) for run in data["runs"]] == ([1] if profiles else [])
    opened = browser.new_page()
    errors = []
    opened.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto((results / "report.html").as_uri() + ("#problem=0/HumanEval%2F1" if profiles else ""))
    opened.wait_for_selector("body[data-ready='1']")
    if profiles:
        assert "Why it failed: wrong output" in opened.inner_text("#problem") and opened.locator("#diff").count() == 0
    else:
        assert opened.inner_text("#count") == "No evaluated run yet."
    assert errors == []
    opened.close()
