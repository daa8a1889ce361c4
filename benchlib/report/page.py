"""results/report.html: the report you can browse down to each answer, one self-contained file (no
network: it opens from file:// and can be copied off the GPU box).

Rendered from the same rows and Analysis as REPORT.md (nothing here computes a statistic): the verdicts
are REPORT.md's own sentences (`markdown.run_verdicts`, prose blocks rendered as HTML), the charts its SVG files, the problem matrix the
analysis's outcomes. What only the page shows is read from the run folders (`collect.read_answers`):
each answer, its failure as eval_results.json recorded it, its raw text, reasoning and token counts.

The page's data: one JSON object in <script id="page-data">, read by page.js. Its short keys keep a page of
20 profiles x 542 problems small; each is named here, and nowhere else is the format decided.

    categories  [{name, short, passed, kind, why?}]: the outcome categories (outcomes.CATEGORIES) in order;
                kind: its colour (pass | fail | time | other, CSS class cat-<kind>); why: what it means
    classes     highlight.CLASSES: the kinds of code marks, in order
    texts       every text once (answers, prompts, reasoning), referred to by index ("text id")
    marks       {text id: [gap, length, class index, ...]}: a code text's highlighting (highlight.marks)
    profiles    {profile: {description, quant}} from models.conf
    runs        [run]: every evaluated run folder but the pooled one, in the report's order

    run      {key (the run folder, results.run_key: what links name), label, subset, prompts (found),
              columns: [{name, selfTest, answers (per problem), samples (the file evaluated), detail
              (failures recorded what they showed: fingerprints.DETAIL_SINCE)}], problems: [problem]}
    problem  {id (task id), cells: [cell | null per column], answers: [entry | null per column],
              d: 1 where the profiles' outcomes differ, prompt: text id}
    cell     [category index, base passed (0/1), plus passed (0/1), plus pass rate (sampled answers only)]
    entry    {a: [answer] (the first ANSWERS_SHOWN), more: {category: count} of the others}
    answer   {s: the program judged (text id), cat, b, p (as in a cell), exc: the exception type, r: the raw
              response (text id, where it differs), t / tt: reasoning's head and tail (text ids), tn: its
              characters, fr: finish_reason, ct / pt: completion and prompt tokens, lat: latency (s), stop:
              why benchlib ended it, f: failure}
    failure  {phase, kind (verdicts.KINDS), sentence, exception, message, input (index), reason, recorded,
              onInput, raised, showsOutputs (verdicts.Failure's properties), in / expected / actual:
              excerpts {text, size, at_least}}

The view's state lives in the address (page.js, "the view's state in the URL"): #problems?<view> or
#problem=<run key>/<task>?<view>, so a view can be reloaded and shared, and a problem's link names its
run by key, stable across reports.

Safety: every model-written text travels as JSON data (with `<`, `>`, `&` escaped) and the page's script
puts it into text nodes, never into markup; the Content-Security-Policy allows only the page's own
script and style (by hash), and no network at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from .. import __version__
from ..evaluation.verdicts import failure_of
from ..results import utc_now
from .analysis import CATEGORIES, COMBINED, PASSED, SHORT, Analysis, Outcome, RunAnalysis, classify
from .outcomes import KIND, WHY
from .collect import Answer, LocalRow, RunRecord, read_answers
from .highlight import CLASSES, MarkCache
from .markdown import label, provenance_blocks, run_verdicts
from .prose import blocks_html, heading

__all__ = ["render_page", "PromptSource", "ANSWERS_SHOWN", "REASONING_HEAD", "REASONING_TAIL"]

ANSWERS_SHOWN = 20  # sampled answers carried per problem and profile (the others: counted, and where they are)
REASONING_HEAD = 6000  # characters of an answer's reasoning shown from its start ...
REASONING_TAIL = 2000  # ... and from its end (the full length is stated)

# (dataset key, the evaluated file's md5) -> {task: prompt}, or None where no local file has that content
PromptSource = Callable[[str, str], "dict[str, str] | None"]


class _Texts:
    """Every text the page carries, once (quants often write identical answers); `marks` highlights the code."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.code: set[int] = set()

    def marks(self, highlight: MarkCache) -> dict[str, list[int]]:
        ids = sorted(self.code)
        return {str(i): found for i, found in zip(ids, highlight.fill([self.items[i] for i in ids])) if found}

    def add(self, text: str | None, code: bool = False) -> int | None:
        if text is None:
            return None
        if code:
            text = text.replace("\r\n", "\n").replace("\r", "\n")  # as the highlighter and the diff see it
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        if code:
            self.code.add(found)
        return found


def _failure(answer: Answer, outcome: Outcome, detail: bool) -> dict | None:
    """The failure that decided the outcome (the base tests', else the plus tests'), as the page shows it."""
    if outcome.plus:
        return None
    phase = "base" if not outcome.base else "plus"
    failure = failure_of(answer.verdict, phase)
    if failure is None:
        return None
    shown = {"phase": phase, "kind": failure.kind, "sentence": failure.sentence, "exception": failure.exception,
             "message": failure.message, "input": failure.input, "reason": failure.reason, "recorded": detail,
             "onInput": failure.on_input, "raised": failure.raised, "showsOutputs": failure.shows_outputs,
             **{name: cut.to_json() for name, cut in (("in", failure.shown_input), ("expected", failure.expected),
                                                       ("actual", failure.actual)) if cut is not None}}
    if "in" not in shown and not detail:  # an older file: evalplus's field holds the input, shortened
        failing = answer.failing_input(phase)
        if failing is not None:
            shown["in"] = {"text": failing, "size": len(failing)}
    return {k: v for k, v in shown.items() if v is not None and v != ""}


def _answer(answer: Answer, outcome: Outcome, texts: _Texts, detail: bool) -> dict:
    sample = answer.sample
    solution = answer.solution
    data: dict = {"s": texts.add(solution, code=True), "cat": CATEGORIES.index(outcome.category),
                  "b": int(outcome.base), "p": int(outcome.plus)}
    if outcome.exception:
        data["exc"] = outcome.exception
    raw = answer.raw
    if raw is not None and raw.strip() != solution.strip():
        data["r"] = texts.add(raw)
    reasoning = answer.reasoning
    if reasoning:
        if len(reasoning) > REASONING_HEAD + REASONING_TAIL:
            data["t"], data["tt"] = texts.add(reasoning[:REASONING_HEAD]), texts.add(reasoning[-REASONING_TAIL:])
        else:
            data["t"] = texts.add(reasoning)
        data["tn"] = len(reasoning)
    for key, name in (("finish_reason", "fr"), ("completion_tokens", "ct"), ("prompt_tokens", "pt"),
                      ("latency", "lat"), ("stopped", "stop")):
        if isinstance(sample.get(key), (str, int, float)) and not isinstance(sample.get(key), bool):
            data[name] = sample[key]
    failure = _failure(answer, outcome, detail)
    if failure:
        data["f"] = failure
    return data


@dataclass
class _Column:
    """One profile's column of a run's problem matrix."""

    name: str
    outcomes: dict[str, Outcome]
    rates: dict[str, tuple[float, float]]
    answers: int
    self_test: bool
    run: RunRecord
    detail: bool = False  # its evaluation recorded what failures showed (fingerprints.DETAIL_SINCE)


def _columns(run: RunAnalysis, rows: list[LocalRow]) -> list[_Column]:
    records = {(row.profile, record.key): record for row in rows for record in row.runs}
    columns = []
    for result in [*run.matrix, *(check.result for check in run.self_tests)]:
        record = records.get((result.profile, run.key))
        if record is None:
            continue
        columns.append(_Column(result.profile, result.outcomes, result.rates, result.answers, result.self_test, record,
                               detail=record.details_recorded))
    return columns


def _run_data(run: RunAnalysis, rows: list[LocalRow], texts: _Texts, prompts: PromptSource) -> dict:
    columns = _columns(run, rows)
    answers = [read_answers(column.run) for column in columns]
    files = dict.fromkeys(c.run.dataset_file for c in columns)
    found = next((p for p in (prompts(key, md5) for key, md5 in files if key and md5) if p), None)  # the first found
    tasks = list(dict.fromkeys([*run.tasks, *(t for c in columns for t in c.outcomes)]))
    disagree = set(run.disagreements)
    problems = []
    for task in tasks:
        cells, shown = [], []
        for column, their_answers in zip(columns, answers):
            outcome = column.outcomes.get(task)
            if outcome is None:
                cells.append(None)
                shown.append(None)
                continue
            cell = [CATEGORIES.index(outcome.category), int(outcome.base), int(outcome.plus)]
            if task in column.rates:
                cell.append(round(column.rates[task][1], 4))
            cells.append(cell)
            listed = their_answers.get(task, [])
            kept = [_answer(a, outcome if i == 0 else classify(a.verdict, a.sample), texts, column.detail)
                    for i, a in enumerate(listed[:ANSWERS_SHOWN])]
            entry: dict = {"a": kept}
            if len(listed) > ANSWERS_SHOWN:
                rest = [classify(a.verdict, a.sample).category for a in listed[ANSWERS_SHOWN:]]
                entry["more"] = {c: rest.count(c) for c in dict.fromkeys(rest)}
            shown.append(entry)
        problem: dict = {"id": task, "cells": cells, "answers": shown}
        if task in disagree:
            problem["d"] = 1
        if found and task in found:
            problem["prompt"] = texts.add(found[task], code=True)
        problems.append(problem)
    return {
        "key": run.key, "label": label(run.key), "subset": run.subset,
        "columns": [{"name": c.name, "selfTest": c.self_test, "answers": c.answers,
                     "samples": c.run.samples_file, "detail": c.detail} for c in columns],
        "problems": problems, "prompts": found is not None,
    }


def _chart(path: Path, alt: str) -> dict | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return {"src": "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii"), "alt": alt}


def _json_for_script(data: object) -> str:
    """JSON inside <script type="application/json">: nothing in it can end the element or start markup (and a
    lone surrogate a model's text may hold becomes "?", so the page is valid UTF-8)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace").decode("utf-8")
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_page(rows: list[LocalRow], analysis: Analysis, charts: list[tuple[Path, str]], prompts: PromptSource,
                highlight: MarkCache) -> str:
    """report.html's text."""
    from jinja2 import Environment, select_autoescape

    texts = _Texts()
    runs = [_run_data(run, rows, texts, prompts) for run in analysis.runs if run.key != COMBINED]
    verdicts = [{"label": label(run.key), "html": blocks_html(run_verdicts(run))} for run in analysis.runs]
    made = provenance_blocks(analysis)
    if made:
        verdicts.append({"label": "What made the answers", "html": blocks_html([heading("What made the answers"), *made])})
    data = {
        "categories": [{"name": c, "short": SHORT[c], "passed": c == PASSED, "kind": KIND.get(c, "other"),
                        **({"why": WHY[c]} if c in WHY else {})} for c in CATEGORIES],
        "classes": list(CLASSES),
        "runs": runs,
        "marks": texts.marks(highlight),
        "texts": texts.items,
        "profiles": {row.profile: {"description": row.description, "quant": row.quant} for row in rows},
    }
    script, style = _asset("page.js"), _asset("page.css")
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = environment.from_string(_asset("page.html"))
    return template.render(
        generated=utc_now(), version=__version__, verdicts=verdicts,
        charts=[c for c in (_chart(path, alt) for path, alt in charts) if c],
        rows=rows, data=_json_for_script(data), script=script, style=style,
        csp=f"default-src 'none'; img-src data:; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}")
