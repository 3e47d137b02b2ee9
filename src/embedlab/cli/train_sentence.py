"""`embedlab train dan|bilstm|static CORPUS --teacher minilm --out DIR`: students of a teacher.

The corpus goes through the teacher once into a resumable cache of vectors (``--cache``, by
default in the embedlab cache, shared by every student of the same teacher and corpus), then the
student learns those vectors within ``--minutes``; the output folder holds the last checkpoint
while it trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from embedlab._io import check_output_folder
from embedlab.cli.checks import Force, field_options
from embedlab.cli.report import message_console
from embedlab.cli.train import Field, Seed
from embedlab.text.readers import check_input_file
from embedlab.training.static_student import train_static
from embedlab.training.student_loop import StudentSettings
from embedlab.training.students import StudentResult, train_student
from embedlab.training.teacher_cache import Corpus, TeacherVectors, teacher_vectors

CorpusArg = Annotated[
    str,
    typer.Argument(
        help="A .txt file (a text a line), .jsonl/.csv/.parquet (see --field), a folder of them, "
        "a prepared corpus name (wordnet, gcide, wiki, lee: `embedlab data corpus NAME`), or "
        "'stsb' (the STS Benchmark's training sentences)."
    ),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained student.")]
Teacher = Annotated[
    str, typer.Option(help="The sentence model to learn from: minilm, mpnet or a folder.")
]
Split = Annotated[
    str, typer.Option(help="'line': each line is a text; 'sentence': lines are split in sentences.")
]
Limit = Annotated[int | None, typer.Option(min=1, help="Use at most this many texts.")]
Cache = Annotated[
    Path | None,
    typer.Option(help="Folder for the teacher's vectors (default: in the embedlab cache)."),
]
Minutes = Annotated[float, typer.Option(help="Stop training after this long (0: set up only).")]
Epochs = Annotated[float, typer.Option(help="Most passes over the texts.")]
BatchSize = Annotated[int, typer.Option(help="Texts per step.")]
Lr = Annotated[float, typer.Option(help="Learning rate (Adam).")]
Loss = Annotated[str, typer.Option(help="cosine, mse or cosine+mse to the teacher's vectors.")]
Threads = Annotated[
    int | None, typer.Option(min=1, help="torch threads (default: $EMBEDLAB_THREADS or 1).")
]
Checkpoint = Annotated[
    float, typer.Option(min=0.1, help="Save the model to --out every this many minutes.")
]
Resume = Annotated[bool, typer.Option(help="Continue from the model already at --out.")]
Progress = Annotated[bool, typer.Option(help="Show progress bars.")]
TokenizerOpt = Annotated[
    str, typer.Option(help="'teacher' (share its tokenizer) or 'own' (train WordPiece here).")
]
VocabSize = Annotated[int, typer.Option(min=100, help="Vocabulary of an own tokenizer.")]
Init = Annotated[
    str,
    typer.Option(
        help="Token embeddings to start from: 'auto' (static-minilm for MiniLM), 'none', or a "
        "static model folder (`embedlab distill`)."
    ),
]
Dim = Annotated[int, typer.Option(min=1, help="Token embedding size.")]
MaxTokens = Annotated[int, typer.Option(min=1, help="Subwords kept of each text.")]


def _settings(**values: Any) -> StudentSettings:
    settings = StudentSettings(
        minutes=values["minutes"],
        epochs=values["epochs"],
        batch_size=values["batch_size"],
        lr=values["lr"],
        loss=values["loss"],
        word_dropout=values.get("word_dropout", 0.0),
        seed=values["seed"],
        threads=values["threads"],
        checkpoint_minutes=values["checkpoint_minutes"],
    )
    settings.check()
    return settings


def _cache(
    corpus: str,
    teacher: str,
    field: str | None,
    split: str,
    limit: int | None,
    cache: Path | None,
    out: Path,
    force: bool,
    progress: bool,
) -> TeacherVectors:
    """Check what can be checked cheaply, then fill (or reuse) the teacher-vector cache."""
    source = Corpus(corpus, field=field, split=split, limit=limit)
    source.check()
    where = source.resolved()
    if isinstance(where, Path) and not where.is_dir():
        check_input_file(where)
    check_output_folder(out, force=force)
    with field_options({field: "--field"}):
        return teacher_vectors(teacher, source, cache, progress=progress)


def _train_student(method: str, options: dict[str, Any], args: dict[str, Any]) -> None:
    """The body of `train dan` and `train bilstm`: the teacher cache, then the student.
    ``args`` are the command's own arguments; ``options`` the method's beyond dim, hidden and
    max_tokens."""
    out = args["out"]
    settings = _settings(**args)
    vectors = _cache(
        args["corpus"], args["teacher"], args["field"], args["split"], args["limit"],
        args["cache"], out, args["force"], args["progress"],
    )  # fmt: skip
    common = {"dim": args["dim"], "hidden": args["hidden"], "max_tokens": args["max_tokens"]}
    result = train_student(
        method,
        vectors,
        out,
        settings,
        options={**common, **options},
        tokenizer=args["tokenizer"],
        vocab_size=args["vocab_size"],
        init=args["init"],
        resume=args["resume"],
        force=args["force"],
        progress=args["progress"],
    )
    _report(result, out)


def _report(result: StudentResult, out: Path) -> None:
    message_console().print(
        result.summary() + f'\ntry: embedlab similarity "a cat sat" "a kitten sat" -m {out}',
        highlight=False,
        markup=False,
    )


def train_dan_command(
    corpus: CorpusArg,
    out: Out,
    teacher: Teacher = "minilm",
    field: Field = None,
    split: Split = "line",
    limit: Limit = None,
    cache: Cache = None,
    dim: Dim = 256,
    hidden: Annotated[int, typer.Option(min=1, help="Width of the feed-forward layers.")] = 512,
    layers: Annotated[int, typer.Option(min=0, help="Feed-forward layers.")] = 2,
    bigram_buckets: Annotated[
        int, typer.Option(min=0, help="Hashed bigram rows (0: tokens only).")
    ] = 32768,
    word_dropout: Annotated[
        float, typer.Option(help="Share of tokens left out of each training bag.")
    ] = 0.1,
    tokenizer: TokenizerOpt = "teacher",
    vocab_size: VocabSize = 30000,
    init: Init = "auto",
    max_tokens: MaxTokens = 128,
    minutes: Minutes = 10.0,
    epochs: Epochs = 10.0,
    batch_size: BatchSize = 128,
    lr: Lr = 2e-3,
    loss: Loss = "cosine",
    seed: Seed = 0,
    threads: Threads = None,
    checkpoint_minutes: Checkpoint = 5.0,
    resume: Resume = False,
    force: Force = False,
    progress: Progress = True,
) -> None:
    """A deep averaging network (USE-style): token + bigram embeddings averaged, then an MLP."""
    options = {"layers": layers, "bigram_buckets": bigram_buckets}
    _train_student("dan", options, locals())


def train_bilstm_command(
    corpus: CorpusArg,
    out: Out,
    teacher: Teacher = "minilm",
    field: Field = None,
    split: Split = "line",
    limit: Limit = None,
    cache: Cache = None,
    dim: Dim = 256,
    hidden: Annotated[int, typer.Option(min=1, help="LSTM units in each direction.")] = 512,
    tokenizer: TokenizerOpt = "teacher",
    vocab_size: VocabSize = 30000,
    init: Init = "auto",
    max_tokens: MaxTokens = 128,
    minutes: Minutes = 10.0,
    epochs: Epochs = 10.0,
    batch_size: BatchSize = 64,
    lr: Lr = 2e-3,
    loss: Loss = "cosine",
    seed: Seed = 0,
    threads: Threads = None,
    checkpoint_minutes: Checkpoint = 5.0,
    resume: Resume = False,
    force: Force = False,
    progress: Progress = True,
) -> None:
    """A bidirectional LSTM with max pooling over time (InferSent-style), then a projection."""
    _train_student("bilstm", {}, locals())


def train_static_command(
    corpus: CorpusArg,
    out: Out,
    teacher: Teacher = "minilm",
    field: Field = None,
    split: Split = "line",
    limit: Limit = None,
    cache: Cache = None,
    init: Annotated[
        str,
        typer.Option(
            help="The static model to start from: 'auto' (distil the teacher; static-minilm "
            "for MiniLM) or a static model folder."
        ),
    ] = "auto",
    minutes: Minutes = 10.0,
    epochs: Epochs = 10.0,
    batch_size: BatchSize = 128,
    lr: Lr = 5e-3,
    loss: Loss = "cosine",
    seed: Seed = 0,
    threads: Threads = None,
    checkpoint_minutes: Checkpoint = 5.0,
    resume: Resume = False,
    force: Force = False,
    progress: Progress = True,
) -> None:
    """A static model (model2vec distillation), then its vectors trained on the teacher's
    sentence vectors (tokenlearn-style); saved in model2vec's format under embedlab.json."""
    settings = _settings(**locals())
    vectors = _cache(corpus, teacher, field, split, limit, cache, out, force, progress)
    result = train_static(
        vectors, out, settings, init=init, resume=resume, force=force, progress=progress
    )
    _report(result, out)
