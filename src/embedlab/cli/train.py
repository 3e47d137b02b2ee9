"""`embedlab train METHOD CORPUS --out DIR`: train a model on a streamed corpus and save it.

One command per method. The corpus is a text file (a text a line), a .jsonl/.csv/.parquet file
with --field, or a folder of such files; it is read as a stream and never held in memory.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from embedlab._io import check_output_folder
from embedlab.cli.checks import Force, check_output_file, field_options
from embedlab.cli.report import message_console
from embedlab.embedders.methods import method_class
from embedlab.text.readers import check_input_file

app = typer.Typer(
    help="Train word and document vectors (word2vec, fastText, Doc2Vec, GloVe) on a corpus.",
    no_args_is_help=True,
)

# Options several methods share, declared once.
Corpus = Annotated[
    Path,
    typer.Argument(
        help="A .txt file (a text a line), .jsonl/.csv/.parquet (see --field), or a folder of them."
    ),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Folder to save the trained model to.")]
Field = Annotated[str | None, typer.Option(help="Text field of .jsonl/.csv/.parquet input.")]
Dim = Annotated[int, typer.Option(min=1, help="Vector dimensions.")]
MinCount = Annotated[int, typer.Option(min=1, help="Ignore words seen fewer times than this.")]
MaxVocab = Annotated[
    int | None, typer.Option(min=1, help="Keep at most this many words (most frequent).")
]
Workers = Annotated[
    int, typer.Option(min=1, help="Worker threads (1 gives bit-for-bit repeatable runs).")
]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Lowercase = Annotated[bool, typer.Option(help="Lowercase words (as embedding will).")]
Progress = Annotated[bool, typer.Option(help="Show progress bars.")]
Export = Annotated[
    Path | None,
    typer.Option(help="Also write the word vectors as a .vec/.txt/.bin file (word2vec format)."),
]
EXPORT_SUFFIXES = (".vec", ".txt", ".bin", ".gz")  # word2vec text/binary, GloVe; gzipped
Architecture = Annotated[str, typer.Option(help="cbow or skipgram.")]
Negative = Annotated[int, typer.Option(min=0, help="Negative samples per word (0: none).")]
Hs = Annotated[bool, typer.Option("--hs/--no-hs", help="Hierarchical softmax.")]
Sample = Annotated[float, typer.Option(min=0, help="Down-sampling threshold for frequent words.")]
Alpha = Annotated[float, typer.Option(min=0, help="Initial learning rate.")]
Window = Annotated[int, typer.Option(min=1, help="Context words on each side.")]
Epochs = Annotated[int, typer.Option(min=1, help="Passes over the corpus.")]


def _train(
    method: str,
    corpus: Path,
    out: Path,
    field: str | None,
    export: Path | None,
    progress: bool,
    force: bool = False,
    **params: Any,
) -> None:
    if not corpus.is_dir():
        check_input_file(corpus)
    check_output_folder(out, force=force)
    check_output_file(export, EXPORT_SUFFIXES, "--export")
    # the class itself, not load(): "glove" alone names the packaged pretrained vectors
    model = method_class(method)(**params)
    with field_options({field: "--field"}):
        model.fit(corpus, field=field, progress=progress)  # type: ignore[call-arg, arg-type]
    model.save(out, force=force)
    info = getattr(model, "training", {})
    console = message_console()
    console.print(
        f"trained {method} on {info.get('tokens', 0):,} tokens ({info.get('texts', 0):,} texts): "
        f"{info.get('vocabulary', 0):,} words x {model.dim} dims in {info.get('seconds', 0):.1f} s "
        f"({info.get('words_per_second', 0):,} words/s); saved to {out}",
        highlight=False,
        markup=False,
    )
    if export is not None:
        model.vectors.save(export)  # type: ignore[attr-defined]  # a word model
        console.print(f"word vectors written to {export}", highlight=False, markup=False)
    words = model.vectors.most_frequent(200)  # type: ignore[attr-defined]
    sample = next((w for w, _ in words[20:] if w.isalpha() and len(w) > 3), None)
    if sample is not None:
        console.print(f"try: embedlab neighbors {out} {sample}", highlight=False, markup=False)


def _leading_options(corpus: Corpus, out: Out, field: Field = None, dim: Dim = 100) -> None:
    """The options every training command starts with."""


def _trailing_options(
    workers: Workers = 2,
    seed: Seed = 1,
    lowercase: Lowercase = True,
    export: Export = None,
    force: Force = False,
    progress: Progress = True,
) -> None:
    """The options every training command ends with."""


def _training_command(method: str) -> Callable[[Callable[..., None]], Callable[..., Any]]:
    """Register ``embedlab train METHOD``: the decorated function states only the method's own
    options (its docstring is the help); the shared ones go around them, so each shared flag,
    default and help text is written once and every command lists them in the same places."""

    def register(own: Callable[..., None]) -> Callable[..., Any]:
        def command(**options: Any) -> None:
            _train(method, **options)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                *inspect.signature(_leading_options, eval_str=True).parameters.values(),
                *inspect.signature(own, eval_str=True).parameters.values(),
                *inspect.signature(_trailing_options, eval_str=True).parameters.values(),
            ]
        )
        command.__name__ = command.__qualname__ = own.__name__
        command.__doc__ = own.__doc__
        return app.command(method)(command)

    return register


@_training_command("word2vec")
def word2vec_command(
    architecture: Architecture = "cbow",
    window: Window = 5,
    min_count: MinCount = 5,
    max_vocab: MaxVocab = None,
    negative: Negative = 5,
    hs: Hs = False,
    sample: Sample = 1e-3,
    epochs: Epochs = 5,
    alpha: Alpha = 0.025,
) -> None:
    """word2vec, CBOW or skip-gram, with negative sampling or hierarchical softmax (gensim)."""


@_training_command("fasttext")
def fasttext_command(
    architecture: Architecture = "cbow",
    window: Window = 5,
    min_count: MinCount = 5,
    max_vocab: MaxVocab = None,
    min_n: Annotated[int, typer.Option(min=1, help="Shortest character n-gram.")] = 3,
    max_n: Annotated[int, typer.Option(min=1, help="Longest character n-gram.")] = 6,
    bucket: Annotated[int, typer.Option(min=1, help="Rows of the n-gram hash table.")] = 500_000,
    negative: Negative = 5,
    hs: Hs = False,
    sample: Sample = 1e-3,
    epochs: Epochs = 5,
    alpha: Alpha = 0.025,
) -> None:
    """fastText: word2vec plus character n-grams, so unseen and misspelt words get vectors."""


@_training_command("doc2vec")
def doc2vec_command(
    mode: Annotated[str, typer.Option(help="pv-dm or pv-dbow.")] = "pv-dm",
    window: Window = 5,
    min_count: MinCount = 5,
    max_vocab: MaxVocab = None,
    negative: Negative = 5,
    hs: Hs = False,
    sample: Sample = 1e-3,
    epochs: Epochs = 10,
    infer_epochs: Annotated[
        int | None, typer.Option(min=1, help="Inference epochs for new texts (default: epochs).")
    ] = None,
    dbow_words: Annotated[
        bool, typer.Option(help="PV-DBOW: also train word vectors (skip-gram).")
    ] = False,
    alpha: Alpha = 0.025,
) -> None:
    """Doc2Vec paragraph vectors (PV-DM or PV-DBOW); each text of the corpus is a document."""


@_training_command("glove")
def glove_command(
    window: Window = 10,
    min_count: MinCount = 5,
    max_vocab: MaxVocab = None,
    x_max: Annotated[
        float, typer.Option(min=0, help="Count where the weight f(X) reaches 1.")
    ] = 10.0,
    alpha: Annotated[float, typer.Option(min=0, help="Exponent of the weight f(X).")] = 0.75,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the co-occurrences.")] = 15,
    learning_rate: Annotated[float, typer.Option(min=0, help="AdaGrad learning rate.")] = 0.05,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Co-occurrence entries per vectorised step.")
    ] = 16_384,
) -> None:
    """GloVe, trained here: co-occurrence counts, then weighted least squares with AdaGrad."""
