"""How every run of the CLI ends: a result, or one line on stderr saying what is wrong.

User errors (:class:`~embedlab.errors.EmbedlabError`), usage errors (a bad option value, a
missing argument) and file-system errors all become ``error: ...`` on one line with exit status
2, never a traceback. Messages are printed as plain text: square brackets in them (``[t for t in
texts]``) are kept, not read as rich markup. Ctrl-C ends a command with exit status 130 and one
``interrupted: ...`` line saying what was kept and how to go on.
"""

from __future__ import annotations

import errno
import itertools
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer._click import exceptions as click  # typer vendors its own click: catch its errors

from embedlab.errors import EmbedlabError

USAGE_EXIT = 2
INTERRUPTED_EXIT = 130

# What Ctrl-C keeps, by the longest matching command path, for commands that do not raise
# :class:`Interrupted` themselves; None: the command prints its own line (embed).
_UNSAVED = "nothing was saved ({} is written only when {} ends); run the same command again"
# Ctrl-C is how a server is meant to stop: say so, not "run it again"
_STOPPED_SERVER = "the server stopped; what its collections and jobs stored stays on disk"
_KEPT_ON_INTERRUPT: dict[str, str | None] = {
    "embed": None,
    "train": _UNSAVED.format("the model folder", "training"),
    "graph train": _UNSAVED.format("the model folder", "training"),
    "classify train": _UNSAVED.format("the classifier folder", "training"),
    "trends": _UNSAVED.format("the report folder", "the run"),
    "debias": _UNSAVED.format("the model folder", "the run"),
    "index": "the documents indexed so far stay in the collection; run the same command again "
    "to index the rest (unchanged documents are skipped)",
    "collection add": "nothing was stored; run the same command again",
    "collection export": _UNSAVED.format("the export file", "the export"),
    "collection import": "the collection keeps the rows imported so far; import again with "
    "--upsert to finish",
    "serve": _STOPPED_SERVER,
    "ui": _STOPPED_SERVER,
}
_DEFAULT_KEPT = "the command stopped before it finished; run it again"


class Interrupted(BaseException):
    """Raised by a command on Ctrl-C to say what it kept and how to go on (``note``).

    A BaseException like KeyboardInterrupt (``except Exception`` does not swallow it), but not
    one: typer turns a KeyboardInterrupt into a silent exit 130, this reaches :func:`run_app`.
    """

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


def message_console() -> Console:
    """stderr for the CLI's own status lines: one line each, however narrow the terminal."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr, on one line, with no markup read from ``message``."""
    line = " ".join(str(message).split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text.assemble(("error:", "bold red"), " ", line)
    )


def print_interrupted(note: str) -> None:
    """``interrupted: NOTE`` on stderr, on one line."""
    line = " ".join(str(note).split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text.assemble(("interrupted:", "bold yellow"), " ", line)
    )


def _interrupt_note(argv: Sequence[str]) -> str | None:
    """What a command that did not say it kept on Ctrl-C, from its command path."""
    words = list(itertools.takewhile(lambda w: not w.startswith("-"), argv[:2]))
    for n in range(len(words), 0, -1):
        path = " ".join(words[:n])
        if path in _KEPT_ON_INTERRUPT:
            return _KEPT_ON_INTERRUPT[path]
    return _DEFAULT_KEPT


class _CtrlC:
    """Notes whether SIGINT arrived while a command ran (typer hides it behind exit 130)."""

    def __init__(self) -> None:
        self.seen = False
        self.previous: Any = None

    def __enter__(self) -> _CtrlC:
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        if self.previous is signal.SIG_IGN:  # started with Ctrl-C ignored: keep it so
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.previous = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = True
        # Worker threads of the work being stopped (gensim's job producer, say) may fail as it
        # unwinds; that is the interruption, not a new error: keep their tracebacks off stderr.
        threading.excepthook = _quiet_after_interrupt
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as before

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _quiet_after_interrupt(args: threading.ExceptHookArgs) -> None:
    """Ignore a background thread's exception once Ctrl-C has stopped the command."""


def _os_error_line(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}; check the path and its permissions"


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run ``app`` on ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with _CtrlC() as ctrl_c:
            result = app(args=args, prog_name="embedlab", standalone_mode=False)
        if result == INTERRUPTED_EXIT and ctrl_c.seen:
            note = _interrupt_note(args)
            if note is not None:
                print_interrupted(note)
    except EmbedlabError as exc:
        print_error(str(exc))
        return exc.exit_code
    except click.NoArgsIsHelpError as exc:
        exc.show()
        return exc.exit_code
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "embedlab"
        print_error(f"{exc.format_message().rstrip('.')}; see `{command} --help`")
        return USAGE_EXIT
    except click.ClickException as exc:
        print_error(exc.format_message())
        return exc.exit_code
    except typer.Abort:
        print_error("aborted")
        return 1
    except Interrupted as exc:
        print_interrupted(exc.note)
        return INTERRUPTED_EXIT
    except KeyboardInterrupt:  # outside a command (typer turns one inside into exit 130)
        note = _interrupt_note(args)
        if note is not None:
            print_interrupted(note)
        return INTERRUPTED_EXIT
    except OSError as exc:  # a path the user named: unreadable, unwritable, full disk
        if exc.errno == errno.EPIPE:  # `embedlab ... | head`: the reader left; stop quietly
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (flushed at exit, never read)
            return 1
        print_error(_os_error_line(exc))
        return USAGE_EXIT
    return result if isinstance(result, int) else 0


def main_exit(app: typer.Typer) -> None:
    """Run ``app`` on the command line and exit with its status."""
    sys.exit(run_app(app))
