"""The report's sentences as data: text with its few marks (strong, emphasis, code, links) in blocks
(headings, list items, paragraphs), rendered as Markdown for REPORT.md and as HTML for report.html. The
analysis decides what is said (`markdown.run_verdicts` words it once); neither file is parsed back from
the other.

    Text("q5 vs q8: ", Strong("q5 is within 3 points of q8"), " (one-sided 95%: ...)")
    Text(...).markdown()  -> 'q5 vs q8: **q5 is within 3 points of q8** (one-sided 95%: ...)'
    Text(...).html()      -> 'q5 vs q8: <strong>q5 is within 3 points of q8</strong> (one-sided 95%: ...)'
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass

__all__ = ["Text", "Strong", "Emphasis", "Code", "Link", "Block", "heading", "item", "paragraph", "BLANK",
           "blocks_markdown", "blocks_html"]


@dataclass(frozen=True)
class _Wrapped:
    """A text between a Markdown delimiter, or in an HTML element: each kind names its own two."""

    text: str
    DELIMITER = ""
    TAG = ""

    def markdown(self) -> str:
        return f"{self.DELIMITER}{self.text}{self.DELIMITER}"

    def html(self) -> str:
        return f"<{self.TAG}>{_html.escape(self.text)}</{self.TAG}>"


class Strong(_Wrapped):
    DELIMITER, TAG = "**", "strong"


class Emphasis(_Wrapped):
    DELIMITER, TAG = "*", "em"


class Code(_Wrapped):
    DELIMITER, TAG = "`", "code"


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the results folder (REPORT.md and report.html sit side by side)

    def markdown(self) -> str:
        return f"[{self.text}]({self.href})"

    def html(self) -> str:
        return f'<a href="{_html.escape(self.href)}">{_html.escape(self.text)}</a>'


Mark = Strong | Emphasis | Code | Link


class Text(tuple):
    """A sentence: plain strings and marks, in order. `+` joins texts and strings."""

    def __new__(cls, *parts: "str | Mark | Text") -> "Text":
        flat: list = []
        for part in parts:
            if isinstance(part, Text):
                flat.extend(part)
            elif part != "":
                flat.append(part)
        return super().__new__(cls, flat)

    def __add__(self, other: "str | Mark | Text") -> "Text":  # type: ignore[override]
        return Text(self, other)

    def __radd__(self, other: "str | Mark | Text") -> "Text":
        return Text(other, self)

    def join(self, items: "list[str | Mark | Text]") -> "Text":
        """`items` with this text between them (as str.join)."""
        out: list = []
        for i, part in enumerate(items):
            out += [self, part] if i else [part]
        return Text(*out)

    def markdown(self) -> str:
        return "".join(p if isinstance(p, str) else p.markdown() for p in self)

    def html(self) -> str:
        return "".join(_html.escape(p) if isinstance(p, str) else p.html() for p in self)

    @property
    def plain(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self)


@dataclass(frozen=True)
class Block:
    kind: str  # "heading" | "item" | "paragraph" | "blank"
    text: Text = Text()

    def markdown(self) -> str:
        prefix = {"heading": "### ", "item": "- ", "paragraph": "", "blank": ""}[self.kind]
        return prefix + self.text.markdown()


def heading(*parts) -> Block:
    return Block("heading", Text(*parts))


def item(*parts) -> Block:
    return Block("item", Text(*parts))


def paragraph(*parts) -> Block:
    return Block("paragraph", Text(*parts))


BLANK = Block("blank")


def blocks_markdown(blocks: list[Block]) -> list[str]:
    """REPORT.md's lines."""
    return [block.markdown() for block in blocks]


def blocks_html(blocks: list[Block]) -> str:
    """report.html's: headings, lists (consecutive items), paragraphs."""
    parts: list[str] = []
    items: list[str] = []

    def close() -> None:
        if items:
            parts.append("<ul>" + "".join(f"<li>{text}</li>" for text in items) + "</ul>")
            items.clear()

    for block in blocks:
        if block.kind == "item":
            items.append(block.text.html())
            continue
        close()
        if block.kind == "heading":
            parts.append(f"<h3>{block.text.html()}</h3>")
        elif block.kind == "paragraph":
            parts.append(f"<p>{block.text.html()}</p>")
    close()
    return "\n".join(parts)
