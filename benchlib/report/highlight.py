"""Python code highlighted for the browsable report, as data rather than markup: Pygments lexes, and each
text gets a flat list of marks `[gap, length, class, gap, length, class, ...]` (`gap`: characters since
the previous mark's end; `class`: an index into CLASSES). The page builds its text nodes from the plain
text and the marks, so model-written code is never parsed as HTML, and the page carries the text once
(the diff of two answers reads the same text).

Lexing costs about a millisecond per answer; a report of 20 profiles over both datasets holds ~10,000
answers, so marks are cached by the text's hash (`MarkCache`, a file in benchlib's cache folder), a
report after a few new answers lexes only those, and many new ones are lexed on every core (`MarkCache.fill`).
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..storage import atomic_write_text

__all__ = ["CLASSES", "marks", "MarkCache"]

HIGHLIGHT_VERSION = 1  # bump when the marks' meaning changes (the cache keys include it)

# the token kinds the page colours (the page's CSS names them c0, c1, ...); everything else stays plain
CLASSES = ("keyword", "string", "number", "comment", "builtin", "definition", "decorator", "operator-word")


def _kind(token) -> int | None:
    from pygments import token as t

    if token in t.Keyword.Constant or token in t.Name.Builtin or token in t.Name.Builtin.Pseudo:
        return CLASSES.index("builtin")
    if token in t.Operator.Word:
        return CLASSES.index("operator-word")
    if token in t.Keyword:
        return CLASSES.index("keyword")
    if token in t.String:
        return CLASSES.index("string")
    if token in t.Number:
        return CLASSES.index("number")
    if token in t.Comment:
        return CLASSES.index("comment")
    if token in t.Name.Function or token in t.Name.Class:
        return CLASSES.index("definition")
    if token in t.Name.Decorator:
        return CLASSES.index("decorator")
    return None


def marks(text: str) -> list[int]:
    """The highlighting marks of Python `text` (see the module's docstring)."""
    from pygments.lexers import PythonLexer

    out: list[int] = []
    position = last_end = 0
    kinds: dict = {}
    lexer = PythonLexer(stripnl=False, ensurenl=False)
    for token, value in lexer.get_tokens(text):
        kind = kinds[token] if token in kinds else kinds.setdefault(token, _kind(token))
        if kind is not None and value:
            if out and out[-1] == kind and position == last_end:  # adjacent tokens of one kind: one mark
                out[-2] += len(value)
            else:
                out += [position - last_end, len(value), kind]
            last_end = position + len(value)
        position += len(value)
    # Pygments drops a byte-order mark and turns \r\n into \n: marks that would not fit the text are none
    return out if position == len(text) else []


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class MarkCache:
    """Marks by the text's hash, kept between reports in one JSON file; `save` keeps only the entries this
    report used (the file never grows past one report's texts)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[str, list[int]] = {}
        self.used: dict[str, list[int]] = {}
        self.lexed = 0
        if path is not None:
            try:
                data = json.loads(Path(path).read_text())
                if data.get("version") == HIGHLIGHT_VERSION and isinstance(data.get("marks"), dict):
                    self.known = data["marks"]
            except (OSError, ValueError, AttributeError):
                pass

    PARALLEL_FROM = 400  # texts to lex before it pays to start worker processes

    def fill(self, texts: list[str]) -> list[list[int]]:
        """The marks of every text: cached ones looked up, the others lexed (on every core when many)."""
        keys = [_key(text) for text in texts]
        missing = {key: text for key, text in zip(keys, texts) if key not in self.used and key not in self.known}
        if len(missing) >= self.PARALLEL_FROM and (os.cpu_count() or 1) > 1:
            try:
                with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
                    self.known.update(zip(missing, pool.map(marks, missing.values(), chunksize=64)))
                    self.lexed += len(missing)
            except (OSError, RuntimeError):  # no processes to be had here: lexed one by one below
                pass
        return [self._get(key, text) for key, text in zip(keys, texts)]

    def _get(self, key: str, text: str) -> list[int]:
        found = self.used.get(key)
        if found is None:
            found = self.known.get(key)
            if found is None:
                found = marks(text)
                self.lexed += 1
            self.used[key] = found
        return found

    def save(self) -> None:
        if self.path is None or (not self.lexed and self.used.keys() == self.known.keys()):
            return
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(self.path), json.dumps({"version": HIGHLIGHT_VERSION, "marks": self.used},
                                                          separators=(",", ":")))
        except OSError:
            pass  # a cache: the next report lexes again
