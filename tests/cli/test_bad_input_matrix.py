"""Every CLI command against every bad input it takes: exit 2, one line, nothing touched.

The matrix is commands x inputs. Each row runs the real entry point in this process (one-line
errors included) inside a tree of real files, and checks: exit status 2, exactly one line on
stderr starting ``error:``, no traceback, and the tree byte for byte as it was (nothing left
behind: no ``.partial``, no temporary folder, no half-made collection; nothing replaced).
``test_every_command_is_in_the_matrix`` fails when a command is added without rows here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer

import embedlab
from cli_helpers import invoke_cli
from embedlab.apps.classify import TextClassifier
from embedlab.cli.main import app
from embedlab.store import create_collection

TEXTS = [
    "The cat sat on the mat.",
    "A dog barked at the mailman.",
    "Stocks fell sharply on Monday.",
    "The central bank raised interest rates.",
    "Kittens like to play with yarn.",
    "Investors worry about inflation.",
    "Puppies chew on shoes.",
    "Bond yields rose again.",
]
LABELS = ["pets", "pets", "money", "money", "pets", "money", "pets", "money"]

# -- the bad inputs --------------------------------------------------------------------------
# Files a text-reading command may be handed; each must fail with one clear line.
BAD_DATA = {
    "missing": "missing.txt",
    "folder": "folder.txt",
    "empty-txt": "empty.txt",
    "empty-csv": "empty.csv",
    "empty-jsonl": "empty.jsonl",
    "empty-parquet": "empty.parquet",
    "binary": "binary.txt",
    "binary-csv": "binary.csv",
    "latin1-txt": "latin1.txt",
    "latin1-csv": "latin1.csv",
    "corrupt-parquet": "corrupt.parquet",
    "corrupt-csv": "corrupt.csv",
    "corrupt-jsonl": "corrupt.jsonl",
    "wrong-field-csv": "wrongfield.csv",
    "wrong-field-jsonl": "wrongfield.jsonl",
    "wrong-field-parquet": "wrongfield.parquet",
    "unknown-extension": "data.xyz",
    "empty-line": "gap.txt",
}
# Files a labelled-data command (text + label columns) may be handed: the above, plus plain text
# (which has no columns).
BAD_LABELLED = {k: v for k, v in BAD_DATA.items() if k not in ("empty-txt", "latin1-txt")}
BAD_LABELLED["plain-text"] = "good.txt"
# Models that are not there or not models.
BAD_MODELS = {
    "unknown-name": "nosuchmodel",
    "missing-folder": "./missing-model",
    "not-a-model": "notmodel",
}
# Output folders that must not be replaced, and output files that must not be folders.
BAD_OUT_FOLDERS = {"out-is-file": "afile", "out-is-foreign-folder": "notmodel"}


def _tree(root: Path) -> None:
    """The real files the matrix reads and must leave untouched."""
    (root / "good.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    with (root / "good.csv").open("w", encoding="utf-8") as handle:
        handle.write(
            "text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in zip(TEXTS, LABELS, strict=True))
        )
    (root / "faq.csv").write_text(
        "question,answer\n" + "".join(f'"{t}",answer {i}\n' for i, t in enumerate(TEXTS)),
        encoding="utf-8",
    )
    (root / "edges.txt").write_text("a b\nb c\nc d\nd a\n", encoding="utf-8")
    for name in ("empty.txt", "empty.csv", "empty.jsonl", "empty.parquet", "empty.toml"):
        (root / name).write_bytes(b"")
    noise = bytes(range(256)) * 8
    for name in ("binary.txt", "binary.csv", "binary.vec", "binary.toml"):
        (root / name).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + noise)
    (root / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    (root / "latin1.csv").write_bytes("text,label\ncaf\xe9,a\n".encode("latin-1"))
    (root / "corrupt.parquet").write_bytes(b"PAR1" + noise + b"PAR1")
    (root / "corrupt.csv").write_text('text,label\n"an open quote,a\nsecond,b\n', encoding="utf-8")
    (root / "corrupt.jsonl").write_text('{"text": "fine"}\n{"text": broken\n', encoding="utf-8")
    (root / "wrongfield.csv").write_text("body,tag\nhello,a\nworld,b\n", encoding="utf-8")
    (root / "wrongfield.jsonl").write_text('{"body": "hello"}\n', encoding="utf-8")
    pq.write_table(pa.table({"body": ["hello", "world"]}), root / "wrongfield.parquet")
    (root / "data.xyz").write_text("hello\n", encoding="utf-8")
    (root / "dated.csv").write_text(
        "date,text\n" + "".join(f"2024-0{1 + i % 6}-01,{t}\n" for i, t in enumerate(TEXTS)),
        encoding="utf-8",
    )
    (root / "gap.txt").write_text("hello there\n\nworld\n", encoding="utf-8")
    (root / "folder.txt").mkdir()
    (root / "folder.txt" / "inside.txt").write_text("hello\n", encoding="utf-8")
    (root / "notmodel").mkdir()
    (root / "notmodel" / "keep.txt").write_text("mine\n", encoding="utf-8")
    (root / "afile").write_text("not a model\n", encoding="utf-8")
    (root / "outdir.npy").mkdir()
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text("# Cats\n\nCats sit on mats.\n", encoding="utf-8")
    (root / "nodocs").mkdir()
    (root / "nodocs" / "image.bin").write_bytes(noise)
    embedlab.load("tfidf").fit(TEXTS).save(root / "model")
    classifier = TextClassifier("tfidf")
    classifier.fit(TEXTS, LABELS, folds=2)
    classifier.save(root / "classifier")
    create_collection(root / "col", model=root / "model").close()
    (root / "notes").mkdir()
    (root / "notes" / "compare.md").write_text("the user's own notes\n")


def _rows() -> list[tuple[str, str, list[str]]]:
    """(command, input case, argv) for every command and every bad input it takes."""
    rows: list[tuple[str, str, list[str]]] = []

    def add(command: str, case: str, *argv: str) -> None:
        rows.append((command, case, [*command.split(), *argv]))

    # Commands that read a file of texts, by where the file goes in their arguments.
    readers = {
        "embed": lambda f: [f, "-o", "out.npy", "-m", "tfidf", "--no-progress"],
        "cluster": lambda f: [f, "-m", "tfidf", "--k", "2"],
        "dedupe": lambda f: [f, "-m", "tfidf"],
        "recommend": lambda f: [f, "-m", "tfidf", "--like", "0"],
        "map": lambda f: [f, "-m", "tfidf", "-o", "map.html"],
        "classify predict": lambda f: ["classifier", f],
        "train word2vec": lambda f: [f, "-o", "new-model", "--min-count", "1", "--no-progress"],
        "train fasttext": lambda f: [f, "-o", "new-model", "--min-count", "1", "--no-progress"],
        "train doc2vec": lambda f: [f, "-o", "new-model", "--min-count", "1", "--no-progress"],
        "train glove": lambda f: [f, "-o", "new-model", "--min-count", "1", "--no-progress"],
        "train gpt": lambda f: [f, "-o", "new-model", "--no-progress"],
        "train dan": lambda f: [f, "-o", "new-model", "--no-progress"],
        "train bilstm": lambda f: [f, "-o", "new-model", "--no-progress"],
        "train static": lambda f: [f, "-o", "new-model", "--no-progress"],
        "collection add": lambda f: ["col", f, "--no-progress"],
        "finetune": lambda f: ["minilm", f, "-o", "new-model", "--no-progress"],
    }
    for command, argv in readers.items():
        for case, name in BAD_DATA.items():
            if case == "folder" and command.startswith("train ") and command != "train gpt":
                continue  # a folder of corpora is a valid corpus for these
            if case == "empty-line" and command not in ("embed", "collection add"):
                continue  # the others skip empty lines of a text file
            add(command, case, *argv(name))
    labelled = {
        "classify train": lambda f: [f, "-o", "new-classifier", "-m", "tfidf", "--folds", "2"],
        "faq": lambda f: [f, "a question", "-m", "tfidf"],
        "eval": lambda f: ["classification", "tfidf", "--data", f],
        "trends": lambda f: [f, "-m", "tfidf"],
    }
    for command, argv in labelled.items():
        for case, name in BAD_LABELLED.items():
            add(command, case, *argv(name))
    for case, name in BAD_DATA.items():
        if case not in (
            "wrong-field-csv",
            "wrong-field-jsonl",
            "wrong-field-parquet",
            "corrupt-jsonl",
            "empty-line",
        ):
            add("graph train", case, name, "-o", "new-model", "--no-progress")

    # Commands that load a model by name or folder.
    models = {
        "similarity": lambda m: ["one text", "another", "-m", m],
        "tokenize": lambda m: ["a text", "-m", m],
        "tour": lambda m: ["-m", m],
        "context": lambda m: ["bank", "the river bank", "the bank account", "-m", m],
        "neighbors": lambda m: [m, "cat"],
        "analogy": lambda m: [m, "man", "king", "woman"],
        "graph neighbors": lambda m: [m, "a"],
        "eval": lambda m: ["sts", m, "--limit", "5"],
        "embed": lambda m: ["good.txt", "-o", "out.npy", "-m", m, "--no-progress"],
        "cluster": lambda m: ["good.txt", "-m", m],
        "dedupe": lambda m: ["good.txt", "-m", m],
        "faq": lambda m: ["faq.csv", "a question", "-m", m],
        "recommend": lambda m: ["good.txt", "--like", "0", "-m", m],
        "map": lambda m: ["good.txt", "-m", m, "-o", "map.html"],
        "classify train": lambda m: ["good.csv", "-o", "new-classifier", "-m", m],
        "classify predict": lambda m: [m, "good.txt"],
        "index": lambda m: ["docs", "-c", "newcol", "-m", m],
        "collection create": lambda m: ["newcol", "-m", m],
        "compare": lambda m: ["--models", f"tfidf,{m}", "--out", "compare-out"],
        "explain": lambda m: ["one text", "another", "-m", m],
        "debias": lambda m: [m, "-o", "new-model", "--no-measure"],
        "finetune": lambda m: [m, "good.csv", "-o", "new-model", "--no-progress"],
        "train dan": lambda m: ["good.txt", "-o", "new-model", "--teacher", m, "--no-progress"],
        "train bilstm": lambda m: ["good.txt", "-o", "new-model", "--teacher", m, "--no-progress"],
        "train static": lambda m: ["good.txt", "-o", "new-model", "--teacher", m, "--no-progress"],
        "distill": lambda m: [m, "-o", "new-model"],
    }
    for command, argv in models.items():
        for case, name in BAD_MODELS.items():
            add(command, f"model-{case}", *argv(name))
    add("neighbors", "model-corrupt-word-file", "binary.vec", "cat")
    add("neighbors", "model-without-words", "model", "cat")
    for command in ("train dan", "train bilstm", "train static"):  # teachers of no sentences
        add(command, "teacher-not-sentence-model", "good.txt", "-o", "m", "--teacher", "model")
        add(command, "teacher-unfitted-tfidf", "good.txt", "-o", "m", "--teacher", "tfidf")
    add("distill", "teacher-not-sentence-model", "model", "-o", "m")
    add("finetune", "model-not-a-transformer", "model", "good.csv", "-o", "new-model")

    # Folder outputs: an existing file, or a folder embedlab did not write, is never replaced.
    writers = {
        "train word2vec": lambda o: ["good.txt", "-o", o, "--min-count", "1", "--no-progress"],
        "train fasttext": lambda o: ["good.txt", "-o", o, "--min-count", "1", "--no-progress"],
        "train doc2vec": lambda o: ["good.txt", "-o", o, "--min-count", "1", "--no-progress"],
        "train glove": lambda o: ["good.txt", "-o", o, "--min-count", "1", "--no-progress"],
        "train gpt": lambda o: ["good.txt", "-o", o, "--no-progress"],
        "train dan": lambda o: ["good.txt", "-o", o, "--no-progress"],
        "train bilstm": lambda o: ["good.txt", "-o", o, "--no-progress"],
        "train static": lambda o: ["good.txt", "-o", o, "--no-progress"],
        "distill": lambda o: ["minilm", "-o", o],
        "graph train": lambda o: ["edges.txt", "-o", o, "--no-progress"],
        "classify train": lambda o: ["good.csv", "-o", o, "-m", "tfidf", "--folds", "2"],
        "embed": lambda o: ["good.txt", "-o", "out.npy", "-m", "tfidf", "--save-model", o],
        "debias": lambda o: ["glove-50d", "-o", o, "--no-measure"],
        "trends": lambda o: ["dated.csv", "-m", "tfidf", "--out", o],
        "finetune": lambda o: ["minilm", "good.csv", "-o", o, "--no-progress"],
    }
    for command, argv in writers.items():
        for case, name in BAD_OUT_FOLDERS.items():
            add(command, case, *argv(name))
    add("train word2vec", "export-is-folder", "good.txt", "-o", "m2", "--export", "outdir.npy")
    # File outputs: a folder there, or an extension the command cannot write.
    add("embed", "out-is-folder", "good.txt", "-o", "outdir.npy", "-m", "tfidf")
    add("embed", "out-extension", "good.txt", "-o", "afile", "-m", "tfidf")
    for command, argv in {
        "cluster": ["good.txt", "-m", "tfidf", "--k", "2"],
        "dedupe": ["good.txt", "-m", "tfidf"],
        "classify predict": ["classifier", "good.txt"],
        "map": ["good.txt", "-m", "tfidf"],
    }.items():
        out = "-o" if command == "map" else "--out"
        add(command, "out-is-folder", *argv, out, "outdir.npy")
        add(command, "out-extension", *argv, out, "/etc/passwd")
    add("compare", "out-is-file", "--models", "tfidf", "--out", "afile")
    add("compare", "out-holds-users-files", "--models", "tfidf", "--out", "notes")
    add("collection export", "out-is-folder", "newcol", "outdir.npy")

    # Numbers: zero, negative, out of range.
    numbers = {
        "embed": (["good.txt", "-o", "out.npy"], ["--batch-size 0", "--chunk-rows -1"]),
        "cluster": (["good.txt"], ["--k 0", "--min-cluster-size 1"]),
        "classify train": (["good.csv", "-o", "c"], ["--folds 1"]),
        "dedupe": (["good.txt"], ["--threshold 2", "--threshold -1.5"]),
        "faq": (["faq.csv", "q"], ["--threshold 5", "--threshold -2"]),
        "recommend": (["good.txt", "--like", "0"], ["--k 0", "-k -3"]),
        "index": (["docs", "-c", "newcol"], ["--max-tokens 0", "--overlap -1"]),
        "ask": (["newcol", "q"], ["--k 0"]),
        "tokenize": (["a text"], ["--dims 0"]),
        "tour": ([], ["--k 0"]),
        "eval": (["sts", "tfidf"], ["--limit 0"]),
        "compare": (["--models", "tfidf"], ["--limit 0"]),
        "train word2vec": (["good.txt", "-o", "m"], ["--dim 0", "--epochs 0", "--window 0"]),
        "train fasttext": (["good.txt", "-o", "m"], ["--min-n 0", "--bucket 0"]),
        "train doc2vec": (["good.txt", "-o", "m"], ["--epochs -1", "--negative -1"]),
        "train glove": (["good.txt", "-o", "m"], ["--learning-rate -1", "--x-max -1"]),
        "train gpt": (["good.txt", "-o", "m"], ["--steps 0", "--vocab-size 10"]),
        "train dan": (["good.txt", "-o", "m"], ["--minutes -1", "--epochs 0", "--lr 0"]),
        "train bilstm": (["good.txt", "-o", "m"], ["--batch-size 1", "--loss nosuch"]),
        "train static": (["good.txt", "-o", "m"], ["--split nosuch", "--limit 0"]),
        "distill": (["minilm", "-o", "m"], ["--pca-dims 1"]),
        "graph train": (["edges.txt", "-o", "m"], ["--dim 0", "--walk-length 1"]),
        "graph neighbors": (["model", "a"], ["--topn 0"]),
        "neighbors": (["model", "cat"], ["--topn 0"]),
        "analogy": (["model", "a", "b", "c"], ["--topn -1"]),
        "models prune": ([], ["--unused-days -1"]),
        "collection search": (["newcol", "q"], ["--k 0"]),
        "explain": (["a", "b", "-m", "tfidf"], ["--top 0"]),
        "trends": (["dated.csv", "-m", "tfidf"], ["--k 1", "--alpha 2", "--period fortnight"]),
        "debias": (["glove-50d", "-o", "m", "--no-measure"], ["--k 0", "--sts-limit 1"]),
        "finetune": (
            ["minilm", "good.csv", "-o", "m", "--no-progress"],
            ["--epochs 0", "--batch-size 1", "--eval-split 1.5", "--dims 0", "--score-range 5,0"],
        ),
    }
    for command, (argv, options) in numbers.items():
        for option in options:
            add(command, f"number {option}", *argv, *option.split())

    # Names and places that do not exist.
    add("ask", "missing-collection", "missing-collection", "a question")
    add("ask", "empty-collection", "col", "a question")
    add("ask", "empty-question", "missing-collection", " ")
    add("index", "docs-missing", "missing-docs", "-c", "newcol", "-m", "tfidf")
    add("index", "docs-is-file", "good.txt", "-c", "newcol", "-m", "tfidf")
    add("index", "docs-without-documents", "nodocs", "-c", "newcol", "-m", "tfidf")
    add("classify predict", "classifier-missing", "missing-classifier", "good.txt")
    add("classify predict", "classifier-not-one", "notmodel", "good.txt")
    add("compare", "unknown-task", "--models", "tfidf", "--tasks", "nosuchtask")
    add("eval", "unknown-task", "nosuchtask", "tfidf")
    add("data corpus", "unknown-corpus", "nosuchcorpus")
    add("data corpus", "deb-missing", "gcide", "--deb", "missing.deb")
    add("data corpus", "debs-folder-missing", "sentences-1m", "--deb", "missing-debs")
    add("models prepare", "unknown-model", "nosuchmodel")
    add("graph train", "unknown-method", "edges.txt", "-o", "m", "--method", "nosuch")
    add("context", "word-not-in-texts", "zebra", "the river bank", "the bank account")
    for command in ("info", "search", "delete", "export"):
        extra = {"search": ["q"], "delete": ["some-id"], "export": ["out.parquet"]}
        add(
            f"collection {command}",
            "missing-collection",
            "missing-collection",
            *extra.get(command, []),
        )
    add("collection list", "missing-folder", "missing-folder")
    add("collection add", "create-then-bad-file", "newcol", "binary.txt", "--create", "model")
    add("collection import", "missing-file", "newcol", "missing.parquet")
    add("collection import", "corrupt-parquet", "newcol", "corrupt.parquet")
    add("collection import", "binary", "newcol", "binary.txt")
    add("collection create", "exists-as-file", "afile", "-m", "tfidf")
    add("collection create", "exists-as-foreign-folder", "notmodel", "-m", "tfidf")
    add("collection search", "bad-filter", "newcol", "q", "--where", "{not json")
    add("collection repair", "missing-collection", "missing-collection")
    # The server: its input validation only (a valid configuration would start serving).
    add("serve", "config-missing", "--config", "missing.toml")
    add("serve", "config-empty-folder", "--config", "folder.txt")
    add("serve", "config-binary", "--config", "binary.toml")
    add("serve", "api-keys-file-missing", "--api-keys-file", "missing-keys.txt", "--port", "1")
    # The web page's own server: its input checks only (a valid target would start serving).
    add("ui", "missing-collection", "missing-collection", "--no-open")
    add("ui", "missing-folder", "./missing-folder", "--no-open")
    add("ui", "file", "afile", "--no-open")
    add("ui", "folder-without-collections", "notmodel", "--no-open")
    add("ui", "unknown-model", "col", "--model", "nosuchmodel", "--no-open")
    add("ui", "bad-port", "col", "--port", "70000", "--no-open")
    # Usage errors: an unknown command or option is one line too.
    add("embed", "unknown-option", "good.txt", "-o", "out.npy", "--no-such-option")
    add("embed", "missing-argument")
    # `embed --ray`: every input is checked before the cluster is joined (port 1: nothing there).
    ray = ["--no-progress", "--ray", "127.0.0.1:1"]
    for case, name in BAD_DATA.items():
        if case not in ("folder", "empty-line"):  # a folder is an input; empty texts: in actors
            add("embed", f"ray-{case}", name, "-o", "shards", "-m", "model", *ray)
    for case, name in BAD_MODELS.items():
        add("embed", f"ray-model-{case}", "good.txt", "-o", "shards", "-m", name, *ray)
    for case, out in {"out-is-file": "afile", "out-is-foreign-folder": "notmodel"}.items():
        add("embed", f"ray-{case}", "good.txt", "-o", out, "-m", "model", *ray)
    add("embed", "ray-out-is-npy", "good.txt", "-o", "out.npy", "-m", "model", *ray)
    add("embed", "ray-unfitted-model", "good.txt", "-o", "shards", "-m", "tfidf", *ray)
    add("embed", "ray-bad-address", "good.txt", "-o", "shards", "-m", "model", *ray)
    add("embed", "ray-local-collection", "good.txt", "-o", "shards", "-m", "model",
        "--collection", "col", *ray)  # fmt: skip
    add("embed", "ray-fields-of-txt", "good.txt", "-o", "shards", "-m", "model",
        "--fields", "label", *ray)  # fmt: skip
    return rows


ROWS = _rows()
# Rows that fail today in code another area owns: strict, so a fix makes them fail until moved.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _commands(group: Any, prefix: str = "") -> list[str]:
    """``embed``, ``train word2vec``, ...: every command path of the typer app."""
    names = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if getattr(command, "commands", None):
            names += _commands(command, f"{path} ")
            if command.invoke_without_command and command.callback is not None:
                names.append(path)
        else:
            names.append(path)
    return names


@functools.cache
def _click_app() -> Any:
    return typer.main.get_command(app)


def test_every_command_is_in_the_matrix():
    commands = set(_commands(_click_app()))
    covered = {command for command, _, _ in ROWS}
    missing = commands - covered - {"models", "models cache", "info"}  # they read no input
    assert not missing, f"commands with no bad-input rows: {sorted(missing)}"
    print(f"matrix: {len(ROWS)} rows over {len(covered)} of {len(commands)} commands")


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` (hidden ones too) with its content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            state[rel] = "dir"
        else:
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    _tree(root)
    return root


@pytest.mark.parametrize(
    ("command", "case", "argv"),
    [
        pytest.param(
            command,
            case,
            argv,
            id=f"{command}:{case}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[command, case])]
            if (command, case) in KNOWN_GAPS
            else [],
        )
        for command, case, argv in ROWS
    ],
)
def test_bad_input(tree, monkeypatch, tmp_path, command, case, argv):
    monkeypatch.chdir(tree)
    home = tmp_path / "home"
    before = _snapshot(tree)
    after: dict[str, str] = {}
    try:
        result = invoke_cli(*argv, env={"EMBEDLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    finally:  # a failing row must not spoil the rows after it
        after = _snapshot(tree)
        for rel in sorted(set(after) - set(before), reverse=True):
            path = tree / rel
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert after == before, "the command changed or left files behind"
    # Options the hint tells the user to pass here (not those of another command it quotes).
    own_part = lines[0].split("embedlab ")[0] if "No such option" not in lines[0] else ""
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", own_part)) - {"--help"}
    assert named <= _options(command), f"the hint names options {command} lacks: {lines[0]}"


@functools.cache
def _options(command: str) -> set[str]:
    """Every --option the command at path ``command`` takes."""
    node: Any = _click_app()
    for part in command.split():
        node = node.commands[part]
    return {opt for param in node.params for opt in (*param.opts, *param.secondary_opts)}


def test_matrix_size_is_reported():
    """The matrix holds hundreds of rows: commands x inputs (the count goes into reports)."""
    per_command = {}
    for command, _, _ in ROWS:
        per_command[command] = per_command.get(command, 0) + 1
    assert len(ROWS) >= 300, len(ROWS)
    print(json.dumps({"rows": len(ROWS), "commands": len(per_command)}))
