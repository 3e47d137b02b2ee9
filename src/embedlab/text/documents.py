"""Plain text out of documents: .txt, .md, .html, .pdf (pypdf) and .jsonl (a text field per line)."""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from embedlab.errors import DataFormatError

DOCUMENT_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")


class _TextOfHTML(HTMLParser):
    """Visible text of an HTML page; block elements become paragraph breaks."""

    BLOCKS = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "article",
        "pre",
    }
    HIDDEN = {"script", "style", "head", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _tidy(text: str) -> str:
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


class _Quiet(logging.Handler):
    """Keeps what pypdf logs while a PDF is read, instead of printing it: a damaged file gets
    one clear error line (or none, when pypdf could recover), not a screen of warnings."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _pypdf_quiet() -> Iterator[_Quiet]:
    logger = logging.getLogger("pypdf")
    quiet = _Quiet()
    propagate = logger.propagate
    logger.addHandler(quiet)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield quiet
    finally:
        logger.removeHandler(quiet)
        logger.propagate = propagate


def _pdf_text(path: Path) -> str:
    """The text of every page; a file pypdf cannot read raises DataFormatError naming it."""
    from pypdf import PdfReader

    with _pypdf_quiet() as quiet:
        try:
            return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
        except Exception as exc:  # pypdf raises many types (KeyError, ...) on a damaged file
            why = str(exc).strip() or (quiet.messages[0] if quiet.messages else type(exc).__name__)
            raise DataFormatError(
                f"{path} is not a readable PDF ({why})", "check or remove the file"
            ) from None


def extract_text(path: Path, *, field: str = "text") -> str:
    """The readable text of one document; unreadable files raise DataFormatError naming them."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf_text(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(
            f"{path} is not UTF-8 text", "convert it to UTF-8 or remove it"
        ) from None
    if suffix in (".html", ".htm"):
        parser = _TextOfHTML()
        parser.feed(raw)
        return _tidy("".join(parser.parts))
    if suffix == ".jsonl":
        texts = []
        for line_no, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    texts.append(str(json.loads(line)[field]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DataFormatError(
                        f"line {line_no} of {path} has no {field!r} field", "check the file"
                    ) from None
        return "\n\n".join(texts)
    return raw
