"use strict";
// report.html's behaviour, in sections: helpers; code; the matrix (filters, sorting); the view's state in
// the URL; one problem (its answers, failures and diff); routing. The data it reads is documented in
// page.py's docstring. Every text written by a model or the dataset is put into text nodes (textContent,
// append(string)), never parsed as HTML.
(function () {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const CAT = D.categories;
  const state = { run: 0, category: "", search: "", disagree: false, sort: "disagree", column: -1,
                  hidden: new Set(), visible: [], picks: {} };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function number(n) { return Number(n).toLocaleString("en-US"); }

  function catClass(index) { return "cat-" + CAT[index].kind; }
  function outcomeText(cell, first) {
    if (cell[2]) return "pass";
    const short = CAT[cell[0]].short;
    if (cell[1]) return "base only (" + short + ")";
    return short + (first && first.exc ? ": " + first.exc : "");
  }
  function badge(cell, first, column) {
    const span = el("span", "badge " + catClass(cell[0]));
    if (cell.length > 3 && column && column.answers > 1) {
      span.textContent = Math.round(100 * cell[3]) + "% pass";
      span.title = "mean plus-test pass rate over " + column.answers + " answers; first answer: " + outcomeText(cell, first);
      span.className = "badge " + (cell[3] >= 0.5 ? "cat-pass" : cell[3] > 0 ? "cat-time" : "cat-fail");
    } else {
      span.textContent = outcomeText(cell, first);
      span.title = CAT[cell[0]].name;
    }
    return span;
  }
  function firstAnswer(problem, c) {
    const entry = problem.answers[c];
    return entry && entry.a.length ? entry.a[0] : null;
  }

  // ---- code, highlighted from the marks (see highlight.py) ----
  function fillCode(pre, id) {
    const text = D.texts[id];
    const marks = D.marks[String(id)];
    if (!marks) { pre.textContent = text; return pre; }
    let at = 0;
    for (let i = 0; i + 2 < marks.length; i += 3) {
      if (marks[i]) pre.append(text.slice(at, at + marks[i]));
      at += marks[i];
      pre.append(el("span", "c" + marks[i + 2], text.slice(at, at + marks[i + 1])));
      at += marks[i + 1];
    }
    if (at < text.length) pre.append(text.slice(at));
    return pre;
  }
  function codeBlock(id) { return fillCode(el("pre", "code"), id); }

  // ---- the matrix ----
  function run() { return D.runs[state.run]; }
  function shownColumns() {
    return run().columns.map((c, i) => i).filter(i => !state.hidden.has(run().columns[i].name));
  }
  function failures(problem, columns) {
    return columns.filter(c => problem.cells[c] && !problem.cells[c][2]).length;
  }
  function matches(problem, columns) {
    if (state.search && problem.id.toLowerCase().indexOf(state.search) < 0) return false;
    if (state.disagree && !problem.d) return false;
    if (state.category !== "") {
      const wanted = Number(state.category);
      if (!columns.some(c => problem.cells[c] && problem.cells[c][0] === wanted)) return false;
    }
    return true;
  }
  function columnKey(problem, c) {
    const cell = problem.cells[c];
    if (!cell) return 3;
    return cell[2] ? 2 : cell[1] ? 1 : 0;
  }
  function order(columns) {
    const problems = run().problems;
    const indexes = problems.map((p, i) => i).filter(i => matches(problems[i], columns));
    const key = i => {
      const p = problems[i];
      if (state.column >= 0) return [columnKey(p, state.column), i];
      if (state.sort === "disagree") return [p.d ? 0 : 1, i];
      if (state.sort === "failures") return [-failures(p, columns), i];
      return [i];
    };
    return indexes.map(i => [key(i), i]).sort((x, y) => {
      for (let k = 0; k < x[0].length; k++) if (x[0][k] !== y[0][k]) return x[0][k] - y[0][k];
      return 0;
    }).map(pair => pair[1]);
  }

  function renderColumns() {
    const box = $("columns");
    box.replaceChildren(el("span", "note", "Profiles:"));
    run().columns.forEach(column => {
      const label = el("label");
      const box2 = el("input");
      box2.type = "checkbox";
      box2.checked = !state.hidden.has(column.name);
      box2.addEventListener("change", () => {
        if (box2.checked) state.hidden.delete(column.name); else state.hidden.add(column.name);
        state.column = -1;
        renderMatrix();
        remember();
      });
      label.append(box2, " " + column.name + (column.selfTest ? " (self-test)" : ""));
      box.append(label);
    });
  }

  function renderMatrix() {
    const columns = shownColumns();
    const table = $("matrix");
    const head = el("thead");
    const headRow = el("tr");
    const taskHead = el("th", "", "Problem");
    taskHead.addEventListener("click", () => { state.column = -1; renderMatrix(); remember(); });
    headRow.append(taskHead, el("th", "", "Differ"));
    columns.forEach(c => {
      const column = run().columns[c];
      const th = el("th", state.column === c ? "sorted" : "", column.name + (column.selfTest ? " (self-test)" : ""));
      const about = D.profiles[column.name];
      th.title = (about && about.description ? about.description + (about.quant ? " (" + about.quant + ")" : "") + "\n" : "") +
        "click: sort by this profile's outcome (failures first)";
      th.addEventListener("click", () => { state.column = c; renderMatrix(); remember(); });
      headRow.append(th);
    });
    head.append(headRow);
    const body = el("tbody");
    state.visible = order(columns);
    const problems = run().problems;
    for (const index of state.visible) {
      const problem = problems[index];
      const tr = el("tr");
      tr.dataset.task = problem.id;
      const link = el("a", "", problem.id);
      link.href = problemHash(state.run, problem.id);
      const td = el("td", "task");
      td.append(link);
      tr.append(td, el("td", problem.d ? "dis" : "", problem.d ? "differ" : ""));
      columns.forEach(c => {
        const cellTd = el("td");
        const cell = problem.cells[c];
        if (cell) cellTd.append(badge(cell, firstAnswer(problem, c), run().columns[c]));
        else cellTd.append(el("span", "missing", "not run"));
        tr.append(cellTd);
      });
      tr.addEventListener("click", event => {
        if (event.target.tagName !== "A") location.hash = problemHash(state.run, problem.id);
      });
      body.append(tr);
    }
    table.replaceChildren(head, body);
    const differ = problems.filter(p => p.d).length;
    $("count").textContent = "Showing " + number(state.visible.length) + " of " + number(problems.length) +
      " problems (" + number(differ) + " where the profiles disagree) of " + run().label + ".";
  }

  function setUpFilters() {
    const runSelect = $("run");
    D.runs.forEach((r, i) => {
      const option = el("option", "", r.label + " (" + r.problems.length + " problems)");
      option.value = String(i);
      runSelect.append(option);
    });
    runSelect.addEventListener("change", () => {
      state.run = Number(runSelect.value); state.column = -1; renderColumns(); renderMatrix(); remember();
    });
    const catSelect = $("category");
    CAT.forEach((c, i) => {
      const option = el("option", "", c.name);
      option.value = String(i);
      catSelect.append(option);
    });
    catSelect.addEventListener("change", () => { state.category = catSelect.value; renderMatrix(); remember(); });
    $("search").addEventListener("input", event => {
      state.search = event.target.value.trim().toLowerCase(); renderMatrix(); remember();
    });
    $("disagree").addEventListener("change", event => { state.disagree = event.target.checked; renderMatrix(); remember(); });
    $("sort").addEventListener("change", event => {
      state.sort = event.target.value; state.column = -1; renderMatrix(); remember();
    });
  }

  // ---- the view's state in the URL: #problems?<view> or #problem=<run key>/<task>?<view> ----
  // <view>: run (its key), outcome (a category's name), q (search), differ=1, sort, by (the profile sorted
  // by), hide (profiles hidden, comma-separated). Reloading or sharing the address shows the same view.
  function viewQuery() {
    const q = new URLSearchParams();
    q.set("run", run().key);
    if (state.category !== "") q.set("outcome", CAT[Number(state.category)].name);
    if (state.search) q.set("q", state.search);
    if (state.disagree) q.set("differ", "1");
    if (state.sort !== "disagree") q.set("sort", state.sort);
    if (state.column >= 0) q.set("by", run().columns[state.column].name);
    if (state.hidden.size) q.set("hide", Array.from(state.hidden).join(","));
    return q.toString();
  }
  function runIndexOf(key) {
    const found = D.runs.findIndex(r => r.key === key);
    return found >= 0 ? found : /^\d+$/.test(key) && D.runs[Number(key)] ? Number(key) : -1;  // (older links: an index)
  }
  function applyQuery(text) {
    const q = new URLSearchParams(text || "");
    const index = q.has("run") ? runIndexOf(q.get("run")) : state.run;
    state.run = index >= 0 ? index : 0;
    const category = CAT.findIndex(c => c.name === q.get("outcome"));
    state.category = category >= 0 ? String(category) : "";
    state.search = (q.get("q") || "").toLowerCase();
    state.disagree = q.get("differ") === "1";
    state.sort = ["disagree", "order", "failures"].indexOf(q.get("sort")) >= 0 ? q.get("sort") : "disagree";
    state.hidden = new Set((q.get("hide") || "").split(",").filter(Boolean));
    state.column = run() ? run().columns.findIndex(c => c.name === q.get("by")) : -1;
    $("run").value = String(state.run);
    $("category").value = state.category;
    $("search").value = state.search;
    $("disagree").checked = state.disagree;
    $("sort").value = state.sort;
  }
  function remember() {  // the overview's state, without a new history entry per keystroke
    if (!$("overview").hidden) history.replaceState(null, "", "#problems?" + viewQuery());
  }

  // ---- one problem ----
  function problemHash(runIndex, task) {
    return "#problem=" + encodeURIComponent(D.runs[runIndex].key) + "/" + encodeURIComponent(task) + "?" + viewQuery();
  }

  function excerptBlock(title, shown) {
    const box = el("div");
    box.append(el("h4", "", title));
    box.append(el("pre", "wrap", shown.text));
    if (shown.at_least || shown.size > shown.text.length) {
      box.append(el("div", "size", "showing the first " + number(shown.text.length) + " of " +
        (shown.at_least ? "more than " : "") + number(shown.size) + " characters"));
    }
    return box;
  }

  function failureBlock(answer, column) {
    const box = el("div", "failure");
    const category = CAT[answer.cat].name, explained = CAT[answer.cat].why;
    if (answer.p) {
      box.append(el("h4", "", "Passed"), el("p", "why", "Base and plus tests pass."));
      return box;
    }
    box.append(el("h4", "", "Why it failed: " + category));
    if (explained) box.append(el("p", "why", explained));
    const f = answer.f;
    if (!f) {
      box.append(el("p", "missing", "The evaluation recorded no failure detail for this answer."));
      return box;
    }
    let why = (f.phase === "base" ? "Base tests: " : "Plus tests (base tests passed): ") + f.sentence;
    if (f.input !== undefined && f.onInput) why += " on input #" + f.input;
    box.append(el("p", "why", why + "."));
    if (f.raised && f.exception) {
      box.append(el("h4", "", "Exception"));
      box.append(el("pre", "wrap", f.exception + (f.message ? ": " + f.message : "")));
    }
    if (f.in) box.append(excerptBlock("Input (the arguments)", f.in));
    if (f.expected) box.append(excerptBlock("Expected output", f.expected));
    if (f.actual) box.append(excerptBlock("Actual output", f.actual));
    if (f.reason) box.append(el("p", "why", "The check's process ended: " + f.reason + "."));
    if (!f.recorded && f.showsOutputs) {
      box.append(el("p", "missing", "The expected and actual output" + (f.raised && f.onInput ? " and the exception's message" : "") +
        " were not recorded: this answer was evaluated by an older benchlib. `doit eval:" + column.name +
        "` rechecks it and records them."));
    }
    return box;
  }

  function metaLine(answer) {
    const parts = [];
    if (answer.ct !== undefined) parts.push(number(answer.ct) + " tokens");
    if (answer.pt !== undefined) parts.push(number(answer.pt) + " prompt tokens");
    if (answer.fr !== undefined) parts.push("finish reason: " + answer.fr);
    if (answer.stop !== undefined) parts.push("stopped by benchlib: " + answer.stop);
    if (answer.lat !== undefined) parts.push(Number(answer.lat).toFixed(1) + " s");
    return el("p", "meta", parts.length ? parts.join(" · ") : "no generation record (samples given as a file)");
  }

  function answerBody(answer, column, sameAs) {
    const body = el("div");
    const grid = el("div", "grid");
    const code = el("div", "answer");
    if (!D.texts[answer.s].trim()) {
      code.append(el("h4", "", "Answer (the program evaluated)"),
                  el("p", "missing", "Empty: no code could be taken from the model's response" +
                     (answer.r !== undefined ? " (below)." : ".")));
    } else if (sameAs) {  // quants often write the same program: said once, the code one click away
      const folded = el("details");
      folded.append(el("summary", "", "Answer: identical to " + sameAs + "'s, character for character"), codeBlock(answer.s));
      code.append(folded);
    } else {
      code.append(el("h4", "", "Answer (the program evaluated)"), codeBlock(answer.s));
    }
    grid.append(code, failureBlock(answer, column));
    body.append(grid, metaLine(answer));
    if (answer.r !== undefined) {
      const raw = el("details");
      raw.append(el("summary", "", "The model's whole response (" + number(D.texts[answer.r].length) + " characters)"));
      raw.append(el("pre", "wrap", D.texts[answer.r]));
      body.append(raw);
    }
    if (answer.t !== undefined) {
      const thinking = el("details", "reasoning");
      thinking.append(el("summary", "", "Reasoning (" + number(answer.tn) + " characters)"));
      const pre = el("pre", "wrap", D.texts[answer.t]);
      if (answer.tt !== undefined) {
        pre.append("\n\n[… " + number(answer.tn - D.texts[answer.t].length - D.texts[answer.tt].length) +
          " characters not shown …]\n\n" + D.texts[answer.tt]);
      }
      thinking.append(pre);
      body.append(thinking);
    }
    return body;
  }

  function picked(pi, c) {
    const key = state.run + "/" + pi + "/" + c;
    return state.picks[key] || 0;
  }

  function sameAnswer(problem, pi, c) {
    // the first profile before column c whose shown answer is the same text
    const entry = problem.answers[c];
    const mine = entry.a[picked(pi, c)].s;
    for (let k = 0; k < c; k++) {
      const other = problem.answers[k];
      if (other && other.a.length && !state.hidden.has(run().columns[k].name) && other.a[picked(pi, k)].s === mine)
        return run().columns[k].name;
    }
    return "";
  }

  function profileCard(problem, pi, c) {
    const column = run().columns[c];
    const card = el("section", "card");
    card.id = "card-" + c;
    const title = el("h3");
    title.append(el("span", "", column.name + (column.selfTest ? " (self-test: the canonical solution)" : "")));
    const cell = problem.cells[c];
    const entry = problem.answers[c];
    if (!cell || !entry || !entry.a.length) {
      card.append(title, el("p", "missing", "No answer in this run."));
      return card;
    }
    title.append(badge(cell, entry.a[0], column));
    card.append(title);
    const holder = el("div");
    const show = i => {
      state.picks[state.run + "/" + pi + "/" + c] = i;
      holder.replaceChildren(answerBody(entry.a[i], column, sameAnswer(problem, pi, c)));
      picker.querySelectorAll("button").forEach((b, j) => b.classList.toggle("on", j === i));
      renderDiff(problem, pi);
    };
    const picker = el("div", "answer-pick");
    if (entry.a.length > 1) {
      picker.append(el("span", "note", "Answers:"));
      entry.a.forEach((a, i) => {
        const button = el("button", "badge " + catClass(a.cat), String(i + 1));
        button.title = "answer " + (i + 1) + ": " + CAT[a.cat].name;
        button.addEventListener("click", () => show(i));
        picker.append(button);
      });
      if (entry.more) {
        const counts = Object.keys(entry.more).map(k => entry.more[k] + " " + k).join(", ");
        picker.append(el("span", "note", " and " + Object.values(entry.more).reduce((x, y) => x + y, 0) +
          " more (" + counts + ") in " + column.samples));
      }
      card.append(picker);
    }
    card.append(holder);
    holder.append(answerBody(entry.a[picked(pi, c)], column, sameAnswer(problem, pi, c)));
    picker.querySelectorAll("button").forEach((b, j) => b.classList.toggle("on", j === picked(pi, c)));
    return card;
  }

  // ---- the diff of two answers: a longest-common-subsequence diff of their lines ----
  const CONTEXT = 3;  // unchanged lines shown around a change; longer unchanged runs fold into one row
  function diffLines(a, b) {
    let start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    let endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    const n = endA - start, m = endB - start;
    if (n * m > 4000000) return null;
    const lcs = new Array(n + 1);
    for (let i = 0; i <= n; i++) lcs[i] = new Uint32Array(m + 1);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i][j] = a[start + i] === b[start + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    const out = [];
    for (let k = 0; k < start; k++) out.push([" ", k, k, a[k]]);
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) { out.push([" ", start + i, start + j, a[start + i]]); i++; j++; }
      else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(["-", start + i, null, a[start + i]]); i++; }
      else { out.push(["+", null, start + j, b[start + j]]); j++; }
    }
    for (let k = 0; k < a.length - endA; k++) out.push([" ", endA + k, endB + k, a[endA + k]]);
    return out;
  }

  function defaultPair(problem) {
    const have = problem.cells.map((cell, c) => c).filter(c => problem.cells[c] && problem.answers[c] && problem.answers[c].a.length &&
                                                     !state.hidden.has(run().columns[c].name));
    for (const x of have) for (const y of have) if (x < y && problem.cells[x][2] !== problem.cells[y][2]) return [x, y];
    for (const x of have) for (const y of have) if (x < y && problem.answers[x].a[0].s !== problem.answers[y].a[0].s) return [x, y];
    return have.length > 1 ? [have[0], have[1]] : null;
  }

  function renderDiff(problem, pi) {
    const box = $("diff");
    if (!box) return;
    const a = Number($("diff-a").value), b = Number($("diff-b").value);
    const answerA = problem.answers[a].a[picked(pi, a)], answerB = problem.answers[b].a[picked(pi, b)];
    const out = el("div", "diff-wrap");
    if (answerA.s === answerB.s) {
      out.append(el("p", "note", "The two answers are identical, character for character."));
      box.replaceChildren(out);
      return;
    }
    const lines = diffLines(D.texts[answerA.s].split("\n"), D.texts[answerB.s].split("\n"));
    if (!lines) {
      out.append(el("p", "note", "The answers are too long to diff here; both are shown below."));
      box.replaceChildren(out);
      return;
    }
    const table = el("table", "diff mono");
    let added = 0, removed = 0;
    const row = (sign, left, right, text) => {
      const tr = el("tr", sign === "+" ? "add" : sign === "-" ? "del" : "");
      tr.append(el("td", "n", left === null ? "" : left + 1), el("td", "n", right === null ? "" : right + 1),
                el("td", "s", sign), el("td", "", text));
      table.append(tr);
    };
    const changed = lines.map(line => line[0] !== " ");
    const near = i => { for (let k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) if (changed[k]) return true; return false; };
    for (let i = 0; i < lines.length; i++) {
      const [sign, left, right, text] = lines[i];
      if (sign === "+") added++;
      if (sign === "-") removed++;
      if (sign !== " " || near(i)) { row(sign, left, right, text); continue; }
      let j = i;
      while (j + 1 < lines.length && !near(j + 1)) j++;
      if (j === i) { row(sign, left, right, text); continue; }
      const tr = el("tr", "fold");
      const cell = el("td", "", "… " + (j - i + 1) + " unchanged lines …");
      cell.colSpan = 4;
      tr.append(cell);
      table.append(tr);
      i = j;
    }
    out.append(el("p", "note", "− " + removed + " line" + (removed === 1 ? "" : "s") + " only in " + run().columns[a].name +
      ", + " + added + " only in " + run().columns[b].name + "."), table);
    box.replaceChildren(out);
  }

  function diffSection(problem, pi) {
    const pair = defaultPair(problem);
    if (!pair) return null;
    const section = el("section");
    section.append(el("h3", "", "Compare two answers"));
    const pick = el("div", "diff-pick");
    const select = (id, chosen) => {
      const s = el("select");
      s.id = id;
      problem.cells.forEach((cell, c) => {
        if (!cell || !problem.answers[c] || !problem.answers[c].a.length) return;
        const option = el("option", "", run().columns[c].name);
        option.value = String(c);
        option.selected = c === chosen;
        s.append(option);
      });
      s.addEventListener("change", () => renderDiff(problem, pi));
      return s;
    };
    pick.append(select("diff-a", pair[0]), el("span", "", "against"), select("diff-b", pair[1]));
    const box = el("div");
    box.id = "diff";
    section.append(pick, box);
    return section;
  }

  function renderProblem(runIndex, task) {
    state.run = runIndex;
    const r = run();
    const pi = r.problems.findIndex(p => p.id === task);
    const view = $("problem");
    if (pi < 0) { view.replaceChildren(el("p", "missing", "No problem " + task + " in " + r.label + ".")); return; }
    const problem = r.problems[pi];
    const nav = el("div", "problem-nav");
    const back = el("button", "", "← all problems");
    back.addEventListener("click", () => { location.hash = "#problems?" + viewQuery(); });
    nav.append(back);
    const at = state.visible.indexOf(pi);
    const step = delta => {
      const next = state.visible[at + delta];
      if (next !== undefined) location.hash = problemHash(runIndex, r.problems[next].id);
    };
    if (at >= 0) {
      const prev = el("button", "", "‹ previous"), next = el("button", "", "next ›");
      prev.disabled = at === 0;
      next.disabled = at === state.visible.length - 1;
      prev.addEventListener("click", () => step(-1));
      next.addEventListener("click", () => step(1));
      nav.append(prev, next, el("span", "note", (at + 1) + " of " + state.visible.length + " problems shown in the matrix (← → keys)"));
    }
    view.onkey = delta => { if (at >= 0) step(delta); };
    const title = el("h2", "", problem.id + " — " + r.label);
    const chips = el("div", "chips");
    r.columns.forEach((column, c) => {
      if (!problem.cells[c] || state.hidden.has(column.name)) return;
      const chip = el("a", "");
      chip.href = "#card-" + c;
      chip.addEventListener("click", event => { event.preventDefault(); $("card-" + c).scrollIntoView(); });
      chip.append(column.name + " ", badge(problem.cells[c], firstAnswer(problem, c), column));
      chips.append(chip);
    });
    const prompt = el("details");
    prompt.open = true;
    prompt.append(el("summary", "", "Prompt"));
    if (problem.prompt !== undefined) prompt.append(codeBlock(problem.prompt));
    else prompt.append(el("p", "missing", "Not shown: the dataset file these answers were evaluated on is not on this machine."));
    view.replaceChildren(nav, title, chips, prompt);
    const diff = diffSection(problem, pi);
    r.columns.forEach((column, c) => {
      if (!state.hidden.has(column.name)) view.append(profileCard(problem, pi, c));
    });
    if (diff) {
      view.insertBefore(diff, view.children[4] || null);
      renderDiff(problem, pi);
    }
  }

  // ---- routing ----
  function route() {
    const [where, query] = location.hash.split("?", 2);
    const match = /^#problem=([^/]+)\/(.+)$/.exec(where);
    const overview = $("overview"), view = $("problem");
    if (query !== undefined && D.runs.length) { applyQuery(query); renderColumns(); renderMatrix(); }
    const runIndex = match ? runIndexOf(decodeURIComponent(match[1])) : -1;
    if (match && runIndex >= 0) {
      if (runIndex !== state.run) { state.run = runIndex; $("run").value = String(runIndex); renderColumns(); renderMatrix(); }
      renderProblem(runIndex, decodeURIComponent(match[2]));
      overview.hidden = true;
      view.hidden = false;
      window.scrollTo(0, 0);
    } else {
      view.hidden = true;
      overview.hidden = false;
      const target = where.length > 1 ? document.getElementById(where.slice(1)) : null;
      if (target) target.scrollIntoView();
    }
  }

  document.addEventListener("keydown", event => {
    const view = $("problem");
    if (view.hidden || event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
    if (event.key === "ArrowRight" && view.onkey) view.onkey(1);
    if (event.key === "ArrowLeft" && view.onkey) view.onkey(-1);
    if (event.key === "Escape") location.hash = "#problems?" + viewQuery();
  });

  setUpFilters();
  if (D.runs.length) {
    renderColumns();
    renderMatrix();
  } else {
    $("count").textContent = "No evaluated run yet.";
  }
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "1";
})();
