"""Real sentences out of documentation and dictionary sources, for the ``sentences-1m`` corpus.

Why: students taught by a transformer need a large, varied set of real sentences, and no data hub
is reachable here. What package managers carry is mostly documentation in reStructuredText, POD,
man pages and Debian changelogs; these readers keep only its prose (no code blocks, tables,
headings or directives), and :func:`real_sentences` keeps only what reads as a sentence.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from embedlab.text.chunking import sentences

MIN_WORDS = 4
_SPACES = re.compile(r"\s+")
_ROLE = re.compile(r":[\w:+.-]+:`~?!?([^`<]*?)(?:\s*<[^`>]*>)?`")  # :func:`name <target>` -> name
_LITERAL = re.compile(r"`{1,2}([^`]+?)`{1,2}_{0,2}")
_EMPHASIS = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")
_POD_CODE = re.compile(r"[A-Z]<<+\s*(.*?)\s*>+>|[A-Z]<([^<>]*)>")
_CODEY = re.compile(r"[{}()\[\]<>=;$@#\\/|_~^]")
_STARTS = re.compile(r"^[\"'(\u201c]?[A-Z]")


def clean(text: str) -> str:
    """One line, inline markup removed (reST roles and literals, emphasis)."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def looks_real(text: str, *, strict: bool = True) -> bool:
    """A sentence, not a fragment, code or a table row: enough words, mostly letters.

    ``strict`` (documentation sources) also wants a capital first and an end mark last.
    """
    words = text.split()
    if len(words) < MIN_WORDS:
        return False
    letters = sum(c.isalpha() for c in text)
    if letters < 0.6 * len(text.replace(" ", "")):
        return False
    if strict:
        if not _STARTS.match(text) or text[-1] not in ".!?\"')\u201d":
            return False
        if len(_CODEY.findall(text)) > max(2, len(words) // 6):
            return False
    return True


def real_sentences(paragraphs: Iterable[str], *, strict: bool = True) -> Iterator[str]:
    """Each paragraph split into sentences; only those that :func:`looks_real` are kept."""
    for paragraph in paragraphs:
        for text, _, _ in sentences(clean(paragraph)):
            text = " ".join(text.split())
            if looks_real(text, strict=strict):
                yield text


def read_text(path: Path) -> str:
    """A text file, gzip-compressed or not, decoded leniently."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return ""
    return raw.decode("utf-8", errors="replace")


_RST_SKIP = re.compile(r"^([=\-~^\"'`#*+]{3,}\s*$|[+|]|>>>|\.\.\.\s|[$%#] )")
_RST_BULLET = re.compile(r"^(?:[-*+\u2022]|\d+[.)]|#\.|\(?[a-z][.)])\s+")
_RST_DIRECTIVE = re.compile(r"^\.\.\s+(?:\|[^|]*\|\s+)?([\w:.-]+)::")
_RST_FIELD = re.compile(r"^:[^:]+:\s*")
# directives whose bodies are code, tables, maths or lists of files, not prose
_RST_CODE = {
    "code-block",
    "code",
    "sourcecode",
    "literalinclude",
    "highlight",
    "productionlist",
    "doctest",
    "testcode",
    "testoutput",
    "testsetup",
    "testcleanup",
    "parsed-literal",
    "math",
    "csv-table",
    "list-table",
    "flat-table",
    "table",
    "toctree",
    "raw",
    "kernel-doc",
    "only",
    "graphviz",
    "image",
    "figure",
    "include",
    "automodule",
    "autoclass",
    "autofunction",
    "kernel-feat",
    "kernel-abi",
    "kernel-include",
    "c:namespace",
    "tabularcolumns",
    "csv",
}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_paragraphs(text: str) -> Iterator[str]:
    """The prose paragraphs of a reStructuredText (or plain-text) document.

    Paragraphs are runs of lines at one indentation, inside directives such as notes or function
    descriptions too; literal blocks (after ``::``), code and table directives, comments,
    headings, tables, doctests and field names are skipped; bullets become paragraphs.
    """
    block: list[str] = []
    skip_deeper: int | None = None  # inside a literal block: lines indented more than this
    block_indent = 0
    for raw in text.splitlines() + [""]:
        line = raw.rstrip()
        indent = _indent(line)
        if skip_deeper is not None:
            if not line or indent > skip_deeper:
                continue
            skip_deeper = None
        stripped = line.strip()
        directive = _RST_DIRECTIVE.match(stripped)
        starts = (
            not stripped
            or indent != block_indent
            or bool(directive)
            or stripped.startswith("..")
            or bool(_RST_BULLET.match(stripped))
            or bool(_RST_SKIP.match(stripped))
            or bool(_RST_FIELD.match(stripped))
        )
        if block and starts:
            joined = " ".join(block)
            heading = len(block) == 1 and bool(re.match(r"^[=\-~^\"'`#*+]{3,}$", stripped))
            if not heading:
                if joined.endswith("::"):
                    joined = joined[:-1]
                    skip_deeper = block_indent
                yield joined
            block = []
            if skip_deeper is not None:
                continue
        if not stripped or _RST_SKIP.match(stripped):
            continue
        if directive or stripped.startswith(".."):
            name = directive.group(1) if directive else ""
            if not directive or name in _RST_CODE:
                skip_deeper = indent  # a comment, or a directive whose body is not prose
            continue
        if _RST_FIELD.match(stripped):
            stripped = _RST_FIELD.sub("", stripped)
            if not stripped:
                continue
        block_indent = indent
        block.append(_RST_BULLET.sub("", stripped))


def pod_paragraphs(text: str) -> Iterator[str]:
    """The prose paragraphs of a Perl POD document, formatting codes removed."""
    for block in re.split(r"\n\s*\n", text):
        if not block or block[0].isspace() or block.startswith("="):
            continue
        yield _POD_CODE.sub(lambda m: m.group(1) or m.group(2) or "", " ".join(block.split()))


_CHANGE_ITEM = re.compile(r"^\s{2,4}[*+-]\s+(.*)$")


def changelog_entries(text: str) -> Iterator[str]:
    """The change items of a Debian changelog (``  * ...`` and their continuation lines)."""
    item: list[str] = []
    for line in text.splitlines():
        start = _CHANGE_ITEM.match(line)
        if start or not line.startswith("    ") or not line.strip():
            if item:
                yield " ".join(item)
            item = [start.group(1).strip()] if start else []
        elif item:
            item.append(line.strip())
    if item:
        yield " ".join(item)


_MAN_REQUEST = re.compile(r"^[.']\s*(\w+)")
_MAN_ESCAPES = re.compile(r"\\f[BIRPC]|\\f\(..|\\\(..|\\[&|^e-]|\\s[-+]?\d")
_MAN_BREAK = {"PP", "P", "LP", "SH", "SS", "TP", "IP", "HP", "RS", "RE", "EX", "nf", "TS", "br"}
_MAN_CODE_START, _MAN_CODE_END = {"EX", "nf", "TS"}, {"EE", "fi", "TE"}


def man_paragraphs(text: str) -> Iterator[str]:
    """The prose paragraphs of a man page (roff): requests and examples dropped, fonts removed."""
    block: list[str] = []
    code = False
    for line in text.splitlines():
        request = _MAN_REQUEST.match(line)
        if request:
            name = request.group(1)
            if name in _MAN_CODE_START:
                code = True
            elif name in _MAN_CODE_END:
                code = False
            if name in _MAN_BREAK or name in _MAN_CODE_END:
                if block:
                    yield " ".join(block)
                block = []
            elif name in ("B", "I", "BR", "IR", "RB", "RI", "BI", "IB") and not code:
                block.append(line.split(None, 1)[1].replace('"', "") if " " in line else "")
            continue
        if code or not line.strip():
            if block:
                yield " ".join(block)
            block = []
            continue
        block.append(_MAN_ESCAPES.sub("", line).replace("\\-", "-").replace("\\", ""))
    if block:
        yield " ".join(block)


_WORDNET_EXAMPLE = re.compile(r'"([^"]+)"')


def wordnet_sentences(line: str) -> Iterator[str]:
    """A ``lemmas: gloss`` line of the wordnet corpus as separate texts: the definition given its
    first lemma (``bank: sloping land ...``) and each quoted example sentence."""
    head, _, gloss = line.partition(": ")
    lemma = head.split(",")[0].strip()
    definition = gloss.split('"')[0].strip(" ;")
    if definition:
        yield f"{lemma}: {definition}"
    for example in _WORDNET_EXAMPLE.findall(gloss):
        yield example.strip()


class _ProseParser(HTMLParser):
    """Collects the text of paragraph-like elements, skipping code, scripts and navigation."""

    BLOCKS = frozenset({"p", "li", "dd", "td", "blockquote"})
    SKIP = frozenset({"pre", "script", "style", "nav", "header", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] = []
        self._depth = 0  # open paragraph-like elements
        self._skip = 0  # open elements whose text is dropped

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        if text:
            self.paragraphs.append(text)
        self._parts = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCKS or (tag == "div" and ("class", "para") in attrs):
            self._flush()
            self._depth += 1
        elif tag in ("br", "div", "ul", "ol", "dl", "table", "h1", "h2", "h3", "h4"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS or (tag == "div" and self._depth):
            self._flush()
            self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._depth and not self._skip:
            self._parts.append(data)


def html_paragraphs(text: str) -> list[str]:
    """The prose paragraphs of an HTML page (inline code kept as text, code blocks dropped)."""
    parser = _ProseParser()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.paragraphs
